"""cbreservoir.utils.files: atomic writes, the sha256 scheme, the config reader, directory locks."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from cbreservoir.utils.files import (
    LOCK_NAME,
    DirectoryInUseError,
    atomic_write_bytes,
    atomic_write_text,
    atomic_writer,
    canonical_json,
    content_sha256,
    directory_lock,
    read_config,
)

_HOLD_LOCK = (
    "import sys, time\n"
    "from cbreservoir.utils.files import directory_lock\n"
    "with directory_lock(sys.argv[1]):\n"
    "    print('locked', flush=True)\n"
    "    time.sleep(60)\n"
)


def _start_holder(directory: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(directory)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_atomic_write_follows_the_umask(tmp_path, mask):
    previous = os.umask(mask)
    try:
        path = atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    assert path.read_text() == "x"


def test_concurrent_writers_of_one_file_never_collide(tmp_path):
    target, errors = tmp_path / "shared.bin", []

    def write(value: int) -> None:
        try:
            for _ in range(20):
                atomic_write_bytes(target, bytes([value]) * 1000)
        except Exception as error:  # collected: a thread's exception would otherwise be lost
            errors.append(error)

    threads = [threading.Thread(target=write, args=(value,)) for value in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    content = target.read_bytes()
    assert len(content) == 1000 and len(set(content)) == 1
    assert [path.name for path in tmp_path.iterdir()] == ["shared.bin"]  # no temporary left behind


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = atomic_write_text(tmp_path / "a.txt", "old")
    with pytest.raises(RuntimeError, match="boom"), atomic_writer(target) as stream:
        stream.write(b"half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.txt"]


def test_content_sha256_of_json_is_the_sha256_of_canonical_json():
    value = {"b": [1, 2.5, None, True], "a": {"z": "s", "y": np.int64(3)}}
    expected = hashlib.sha256(canonical_json(value).encode()).hexdigest()
    assert content_sha256(value) == expected
    assert content_sha256({"a": {"y": 3, "z": "s"}, "b": [1, 2.5, None, True]}) == expected


@pytest.mark.parametrize(
    "other",
    [
        torch.tensor([1.0, 2.0, 4.0]),  # a changed value
        torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64),  # a changed dtype
        torch.tensor([[1.0, 2.0, 3.0]]),  # a changed shape
        torch.tensor([1.0, 2.0]),  # a shorter tensor
    ],
)
def test_content_sha256_sees_tensor_bytes_dtype_and_shape(other):
    reference = content_sha256({"w": torch.tensor([1.0, 2.0, 3.0])})
    assert content_sha256({"w": torch.tensor([1.0, 2.0, 3.0])}) == reference
    assert content_sha256({"w": other}) != reference


def test_content_sha256_sees_numpy_array_bytes():
    reference = content_sha256([np.zeros(4)])
    assert content_sha256([np.zeros(4)]) == reference
    assert content_sha256([np.ones(4)]) != reference
    assert content_sha256([np.zeros(4, dtype=np.float32)]) != reference


def test_read_config_reads_yaml_and_json(tmp_path):
    (tmp_path / "a.yaml").write_text("tasks: [dms]\nseeds: 2\n")
    (tmp_path / "b.json").write_text('{"tasks": ["dms"], "seeds": 2}')
    expected = {"tasks": ["dms"], "seeds": 2}
    assert read_config(tmp_path / "a.yaml") == read_config(tmp_path / "b.json") == expected


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("binary.yaml", bytes(range(256)), "UTF-8"),
        ("binary.json", b"\xff\xfe\x00\x01", "UTF-8"),
        ("list.yaml", b"- 1\n- 2\n", "mapping"),
        ("deep.json", b"[" * 100_000, "does not parse"),
        ("deep.yaml", b"[" * 100_000, "does not parse"),
        ("bad.json", b"{", "does not parse"),
        ("run.toml", b"a = 1", "must end in"),
        ("tag.yaml", b"!!python/object/apply:os.system ['true']", "does not parse"),
    ],
)
def test_read_config_refuses_bad_files_with_value_error(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        read_config(path)


def test_read_config_of_a_missing_file_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read config file"):
        read_config(tmp_path / "missing.yaml")


def test_directory_lock_names_the_holders_pid(tmp_path):
    holder = _start_holder(tmp_path)
    try:
        message = f"in use by PID {holder.pid}"
        with pytest.raises(DirectoryInUseError, match=message), directory_lock(tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_lock_of_a_killed_process_is_taken_over(tmp_path):
    holder = _start_holder(tmp_path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (tmp_path / f"{LOCK_NAME}.pid").read_text().strip() == str(holder.pid)  # it left its traces
    with directory_lock(tmp_path):
        assert (tmp_path / f"{LOCK_NAME}.pid").read_text().strip() == str(os.getpid())
    assert not (tmp_path / f"{LOCK_NAME}.pid").exists()


def test_directory_lock_is_exclusive_within_one_process(tmp_path):
    refused = pytest.raises(DirectoryInUseError, match=f"PID {os.getpid()}")
    with directory_lock(tmp_path), refused, directory_lock(tmp_path):
        pass
    start = time.perf_counter()
    with directory_lock(tmp_path):  # released: free again at once
        pass
    assert time.perf_counter() - start < 1.0

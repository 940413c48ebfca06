"""Issue 19, part 4: faults with more than one process, and malformed result files in a sweep."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from cbreservoir.experiments.sweep import (
    BadResultWarning,
    cell_id,
    read_record,
    read_result,
    result_path,
    run_sweep,
    write_result,
)
from cbreservoir.utils.files import DirectoryInUseError, canonical_json, content_sha256

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _record(cell: dict, result: dict) -> str:
    """A record with a valid checksum (a forger, or a bug, can write one)."""
    checksum = content_sha256({"cell": cell, "result": result})
    return json.dumps({"cell_id": cell_id(cell), "cell": cell, "result": result, "checksum": checksum})


def _double(cell: dict) -> dict:
    return {"task": cell["task"], "value": 2 * cell["x"]}


def _nested(path: Path, cell: dict) -> None:
    path.write_text("[" * 100_000)


def _directory(path: Path, cell: dict) -> None:
    path.mkdir()
    (path / "inside.json").write_text("{}")


def _other_task(path: Path, cell: dict) -> None:
    path.write_text(_record(cell, {"task": "parity", "value": 2 * cell["x"]}))


def _bad_checksum(path: Path, cell: dict) -> None:
    record = json.loads(_record(cell, {"task": cell["task"], "value": 2 * cell["x"]}))
    record["result"]["value"] = -1
    path.write_text(json.dumps(record))


def _not_utf8(path: Path, cell: dict) -> None:
    path.write_bytes(b"\xff\xfe\x00garbage")


def _symlink_loop(path: Path, cell: dict) -> None:
    path.symlink_to(path)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_nested, "unreadable JSON (RecursionError)"),
        (_directory, "not a regular file"),
        (_other_task, "its result disagrees with its cell on ['task']"),
        (_bad_checksum, "its content does not match its checksum"),
        (_not_utf8, "unreadable JSON (UnicodeDecodeError)"),
        (_symlink_loop, "not a regular file"),
    ],
)
def test_a_malformed_result_is_reported_moved_aside_and_rerun(tmp_path, damage, reason):
    cells = [{"task": "dms", "x": x} for x in range(3)]
    run_sweep(cells, _double, output_dir=tmp_path, backend="sequential", progress=False)
    path = result_path(tmp_path, cells[1])
    path.unlink()
    damage(path, cells[1])
    assert read_result(tmp_path, cells[1]) is None
    with pytest.warns(BadResultWarning) as caught:
        results = run_sweep(cells, _double, output_dir=tmp_path, backend="sequential", progress=False)
    assert results == [_double(cell) for cell in cells]
    [warning] = caught
    assert reason in str(warning.message) and f"moved to {path.name}.bad-1" in str(warning.message)
    assert os.path.lexists(path.with_name(f"{path.name}.bad-1"))
    assert read_result(tmp_path, cells[1]) == _double(cells[1])


def test_bad_results_set_aside_twice_get_distinct_names(tmp_path):
    cell = {"task": "dms", "x": 1}
    for number in (1, 2):
        result_path(tmp_path, cell).write_text("[" * 10)
        with pytest.warns(BadResultWarning, match=f"bad-{number}"):
            run_sweep([cell], _double, output_dir=tmp_path, backend="sequential", progress=False)
    assert sorted(path.name for path in tmp_path.glob("*.bad-*")) == [
        f"{cell_id(cell)}.json.bad-1",
        f"{cell_id(cell)}.json.bad-2",
    ]


def _disagreeing(cell: dict) -> dict:
    return {"task": "parity"}


def test_a_run_function_disagreeing_with_its_cell_is_an_error(tmp_path):
    message = r"disagrees with it on \['task'\]: task: cell 'dms' vs result 'parity'"
    with pytest.raises(ValueError, match=message):
        run_sweep([{"task": "dms"}], _disagreeing, output_dir=tmp_path, backend="sequential", progress=False)


_SLOW_SWEEP = textwrap.dedent(
    """
    import sys, time
    from cbreservoir.experiments.sweep import run_sweep

    def slow(cell):
        print("running", flush=True)
        time.sleep(60)
        return {}

    run_sweep([{"x": 1}], slow, output_dir=sys.argv[1], backend="sequential", progress=False)
    """
)


def test_a_second_sweep_on_one_directory_names_the_first_ones_pid(tmp_path):
    first = subprocess.Popen(
        [sys.executable, "-c", _SLOW_SWEEP, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=ENV
    )
    try:
        assert first.stdout.readline().strip() == "running"
        with pytest.raises(DirectoryInUseError, match=f"in use by PID {first.pid}"):
            run_sweep([{"x": 2}], _double, output_dir=tmp_path, backend="sequential", progress=False)
    finally:
        first.kill()
        first.wait()
        first.stdout.close()
    # the killed holder's lock is taken over
    assert run_sweep(
        [{"task": "dms", "x": 2}], _double, output_dir=tmp_path, backend="sequential", progress=False
    )


_SLOW_CURRICULUM = textwrap.dedent(
    """
    import sys
    from cbreservoir.models import build_model
    from cbreservoir.training import CurriculumTrainer, GradientTrainer

    trainer = GradientTrainer(build_model("rnn", input_dim=1, units=4, seed=0), seed=0)
    curriculum = CurriculumTrainer(trainer, "parity", steps_per_epoch=2, test_batches=1, batch_size=4,
                                   checkpoint_dir=sys.argv[1], progress=False)
    curriculum.run(1)
    print("saved", flush=True)
    curriculum.run(10**9)
    """
)


def test_two_processes_on_one_checkpoint_directory(tmp_path):
    first = subprocess.Popen(
        [sys.executable, "-c", _SLOW_CURRICULUM, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=ENV
    )
    try:
        assert first.stdout.readline().strip() == "saved"
        second = subprocess.run(
            [sys.executable, "-c", _SLOW_CURRICULUM, str(tmp_path)], capture_output=True, text=True, env=ENV,
            timeout=120,
        )
    finally:
        first.kill()
        first.wait()
        first.stdout.close()
    assert second.returncode != 0
    assert f"DirectoryInUseError: directory {tmp_path} is in use by PID {first.pid}" in second.stderr
    assert "FileNotFoundError" not in second.stderr


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def test_kill_9_of_reproduce_leaves_no_worker_running(tmp_path):
    out = tmp_path / "out"
    argv = [
        sys.executable, "-m", "cbreservoir.cli", "reproduce", "--task", "dms", "--profile", "quick",
        "--conditions", "rnn", "--seeds", "2", "--n-jobs", "2", "--backend", "loky", "--quiet",
        "--output-dir", str(out), "--set", "n_epochs=100000", "--set", "steps_per_epoch=2",
        "--set", "test_batches=1", "--set", "batch_size=4",
    ]  # fmt: skip
    main = subprocess.Popen(argv, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    process = psutil.Process(main.pid)
    try:
        # both workers are computing: each has checkpointed an epoch of its cell
        _wait_for(lambda: len(list(out.glob("checkpoints/*/last.pt"))) == 2, 240, "two running cells")
        children = process.children(recursive=True)
        assert len(children) >= 2
    finally:
        os.kill(main.pid, signal.SIGKILL)
        main.wait()

    def all_gone() -> bool:
        alive = [child for child in children if child.is_running()]
        return all(child.status() == psutil.STATUS_ZOMBIE for child in alive)

    try:
        _wait_for(all_gone, 10, f"the workers {[child.pid for child in children]} to stop")
    finally:
        for child in children:  # never leave them behind, even when the test fails
            if child.is_running():
                child.kill()


def test_cell_ids_are_those_of_earlier_versions_and_their_records_still_read(tmp_path):
    """Result files written before the one file format stay valid (their cells do not rerun)."""
    cell = {"task": "dms", "seed": np.int64(3), "sizes": np.arange(3), "profile": {"lr": 0.1}}
    result = {"levels": np.array([2, 3]), "acc": np.float32(0.5)}
    assert cell_id(cell) == hashlib.sha256(canonical_json(cell).encode()).hexdigest()[:16]
    content = {"cell": json.loads(canonical_json(cell)), "result": json.loads(canonical_json(result))}
    checksum = hashlib.sha256(canonical_json(content).encode()).hexdigest()
    old = {"cell_id": cell_id(cell), **content, "checksum": checksum}
    result_path(tmp_path, cell).write_text(json.dumps(old, indent=1, sort_keys=True))
    assert read_result(tmp_path, cell) == {"levels": [2, 3], "acc": 0.5}
    assert read_record(result_path(tmp_path, cell)) == {key: old[key] for key in ("cell_id", *content)}


def test_a_record_is_a_text_document_of_the_one_format_signed_by_its_digest(tmp_path):
    """The digest of docs/save-load.md: the metadata fields but sha256, sorted, the header canonical."""
    cell = {"task": "dms", "seed": 1}
    stored = json.loads(write_result(tmp_path, cell, result={"acc": 0.5}).read_text())
    assert stored["format"] == "cbreservoir" and stored["format_version"] == "5"
    assert stored["object_type"] == "run_record"
    assert stored["payload"] == {"cell_id": cell_id(cell), "cell": cell, "result": {"acc": 0.5}}
    header = {key: stored[key] for key in ("object_type", "class", "payload")}
    metadata = {
        "format": stored["format"],
        "format_version": stored["format_version"],
        "package_version": stored["package_version"],
        "__header__": canonical_json({**header, "arrays": {}}),
    }
    digest = hashlib.sha256("".join(f"{key}\0{metadata[key]}\0" for key in sorted(metadata)).encode())
    assert stored["sha256"] == digest.hexdigest()


def test_a_record_of_another_object_type_or_version_is_bad(tmp_path):
    cell = {"task": "dms", "seed": 1}
    path = write_result(tmp_path, cell, result={"acc": 0.5})
    stored = json.loads(path.read_text())
    for field, value, reason in [
        ("object_type", "checkpoint", "its content does not match its sha256 digest"),
        ("format_version", "6", "unsupported cbreservoir file format version '6'"),
        ("payload", [], "its content does not match"),
    ]:
        path.write_text(json.dumps({**stored, field: value}))
        with pytest.raises(ValueError, match=reason):
            read_record(path)
        assert read_result(tmp_path, cell) is None


def test_result_files_follow_the_umask(tmp_path):
    previous = os.umask(0o002)
    try:
        path = write_result(tmp_path, {"task": "dms"}, result={"value": 1})
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o664

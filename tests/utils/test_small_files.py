"""Issue 26, item 6: files read from an output directory are checked to be small regular files first."""

from __future__ import annotations

import os
import signal
import time

import pytest

from cbreservoir.experiments.reproduce.pipeline import SETTINGS_FILE, _check_output_settings
from cbreservoir.utils.files import read_config, read_small_file


@pytest.fixture()
def no_hang():
    """Fail instead of hanging (a FIFO read blocks until a writer comes)."""

    def stop(signum, frame):
        raise AssertionError("the read blocked")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_a_symlink_to_dev_zero_and_a_fifo_are_refused_without_reading(tmp_path, no_hang):
    """Before: settings.json -> /dev/zero read 2.6 GB and a MemoryError escaped; a FIFO hung."""
    zero, fifo = tmp_path / "zero.json", tmp_path / "fifo.json"
    zero.symlink_to("/dev/zero")
    os.mkfifo(fifo)
    begin = time.perf_counter()
    for path in (zero, fifo):
        with pytest.raises(ValueError, match="is not a regular file"):
            read_small_file(path)
        with pytest.raises(ValueError, match="is not a regular file"):
            read_config(path)
    assert time.perf_counter() - begin < 2.0


def test_a_large_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 1001)
    with pytest.raises(ValueError, match="1,001 bytes, more than the 1,000 read"):
        read_small_file(path, max_bytes=1000)
    assert read_small_file(path, max_bytes=1001) == b" " * 1001
    with pytest.raises(FileNotFoundError):
        read_small_file(tmp_path / "missing.json")


@pytest.mark.parametrize("kind", ["zero", "fifo"])
def test_a_reproduction_directory_with_a_hostile_settings_record_is_refused(tmp_path, no_hang, kind):
    path = tmp_path / SETTINGS_FILE
    if kind == "zero":
        path.symlink_to("/dev/zero")
    else:
        os.mkfifo(path)
    with pytest.raises(ValueError, match="is unreadable or not a mapping"):
        _check_output_settings(tmp_path, {"profile": {"n_epochs": 1}})

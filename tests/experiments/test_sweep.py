"""Tests of cbreservoir.experiments.sweep: stable ids, atomic results, resume (also after SIGKILL), dask."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cbreservoir.experiments.sweep import (
    BadResultWarning,
    cell_id,
    read_result,
    result_path,
    run_sweep,
    write_result,
)
from cbreservoir.utils.files import LOCK_NAME

TESTS_DIR = Path(__file__).parent


def seeded_draw(cell: dict) -> dict:
    """A deterministic run function: a few numbers drawn from the cell's seed."""
    rng = np.random.default_rng(cell["seed"])
    return {"draws": rng.normal(size=3).tolist(), "x": cell["x"]}


def logged_slow_draw(cell: dict) -> dict:
    """Like ``seeded_draw`` but slow, and it records each call as a file in ``cell['log']``."""
    Path(cell["log"], f"{cell_id(cell)}-{os.getpid()}-{time.monotonic_ns()}").touch()
    time.sleep(cell["sleep"])
    return seeded_draw(cell)


def not_a_dict(cell: dict) -> list:
    return [cell["x"]]


def cells_for(n: int, **extra) -> list[dict]:
    return [{"x": index, "seed": 100 + index, **extra} for index in range(n)]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=5))
def test_cell_id_ignores_key_order(cell):
    reordered = dict(reversed(list(cell.items())))
    assert cell_id(cell) == cell_id(reordered)
    assert len(cell_id(cell)) == 16


def test_cell_id_distinguishes_cells_and_accepts_numpy_scalars():
    assert cell_id({"seed": 1}) != cell_id({"seed": 2})
    assert cell_id({"seed": np.int64(3), "lr": np.float32(0.5)}) == cell_id({"seed": 3, "lr": 0.5})


def test_cell_must_be_dict_with_string_keys():
    with pytest.raises(TypeError, match="dict"):
        cell_id([1, 2])
    with pytest.raises(TypeError, match="string keys"):
        cell_id({1: "a"})


def test_write_then_read_round_trips(tmp_path):
    cell = {"condition": "cbrnn", "seed": 4}
    path = write_result(tmp_path, cell, result={"curve": [2, 3, np.int64(4)], "acc": np.float64(0.5)})
    assert path == result_path(tmp_path, cell)
    assert read_result(tmp_path, cell) == {"curve": [2, 3, 4], "acc": 0.5}
    assert not list(tmp_path.glob(".*.tmp")), "temporary file left behind"


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # truncated (half-written)
        lambda text: "",  # empty
        lambda text: text.replace('"acc": 0.5', '"acc": 0.75'),  # edited value: checksum mismatch
        lambda text: json.dumps({"result": {"acc": 0.5}}),  # valid JSON, wrong layout
        lambda text: "\x00\xff garbage",
    ],
)
def test_damaged_result_file_is_rejected_and_rerun(tmp_path, damage):
    cell = {"x": 1, "seed": 7}
    path = write_result(tmp_path, cell, result={"acc": 0.5})
    path.write_text(damage(path.read_text()))
    assert read_result(tmp_path, cell) is None
    with pytest.warns(BadResultWarning, match="moved to"):
        [result] = run_sweep([cell], seeded_draw, output_dir=tmp_path, backend="sequential", progress=False)
    assert result == seeded_draw(cell)
    assert read_result(tmp_path, cell) == result


def test_file_of_another_cell_is_rejected(tmp_path):
    first, second = {"seed": 1}, {"seed": 2}
    write_result(tmp_path, first, result={"acc": 1.0})
    result_path(tmp_path, first).rename(result_path(tmp_path, second))
    assert read_result(tmp_path, second) is None


def test_results_come_back_in_cell_order_and_are_seeded(tmp_path):
    cells = cells_for(5)
    results = run_sweep(
        cells, seeded_draw, output_dir=tmp_path / "a", backend="threading", n_jobs=2, progress=False
    )
    assert [r["x"] for r in results] == [0, 1, 2, 3, 4]
    again = run_sweep(cells, seeded_draw, output_dir=tmp_path / "b", backend="sequential", progress=False)
    assert results == again
    assert results[0]["draws"] != results[1]["draws"]


def test_rerun_skips_finished_cells(tmp_path):
    log = tmp_path / "log"
    log.mkdir()
    cells = cells_for(4, log=str(log), sleep=0.0)
    first = run_sweep(
        cells[:2], logged_slow_draw, output_dir=tmp_path / "out", backend="sequential", progress=False
    )
    everything = run_sweep(
        cells, logged_slow_draw, output_dir=tmp_path / "out", backend="sequential", progress=False
    )
    assert everything[:2] == first
    assert len(list(log.iterdir())) == 4  # two runs, then only the two new ones


def test_loky_matches_sequential(tmp_path):
    cells = cells_for(4)
    loky = run_sweep(
        cells, seeded_draw, output_dir=tmp_path / "loky", backend="loky", n_jobs=2, progress=False
    )
    assert loky == [json.loads(json.dumps(seeded_draw(cell))) for cell in cells]


def test_kill_9_loses_only_runs_in_progress(tmp_path):
    log, out = tmp_path / "log", tmp_path / "out"
    log.mkdir()
    cells = cells_for(8, log=str(log), sleep=0.3)
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(TESTS_DIR)!r})
        from test_sweep import logged_slow_draw
        from cbreservoir.experiments.sweep import run_sweep
        run_sweep(
            {cells!r}, logged_slow_draw, output_dir={str(out)!r}, backend="loky", n_jobs=2, progress=False
        )
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(list(out.glob("*.json"))) < 3:
            assert process.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "the sweep made no progress"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the whole session: the sweep and its loky workers
        process.wait()
    finished_before = {cell_id(cell) for cell in cells if read_result(out, cell) is not None}
    assert 3 <= len(finished_before) < len(cells)
    calls_before = len(list(log.iterdir()))

    results = run_sweep(cells, logged_slow_draw, output_dir=out, backend="sequential", progress=False)

    assert results == [json.loads(json.dumps(seeded_draw(cell))) for cell in cells]
    assert len(list(log.iterdir())) - calls_before == len(cells) - len(finished_before)
    calls_per_cell = [path.name.split("-")[0] for path in log.iterdir()]
    assert all(calls_per_cell.count(identifier) == 1 for identifier in finished_before)


def test_dask_local_cluster_matches_loky(tmp_path):
    distributed = pytest.importorskip("distributed")
    cells = cells_for(3)
    loky = run_sweep(
        cells, seeded_draw, output_dir=tmp_path / "loky", backend="loky", n_jobs=2, progress=False
    )
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        where = cluster.scheduler_address
        dask = run_sweep(
            cells, seeded_draw, output_dir=tmp_path / "d", backend="dask", scheduler=where, progress=False
        )
    assert dask == loky
    assert sorted(p.name for p in (tmp_path / "d").glob("*.json")) == sorted(
        p.name for p in (tmp_path / "loky").glob("*.json")
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"backend": "multiprocessing"}, ValueError, "backend must be one of"),
        ({"backend": "loky", "scheduler": "tcp://127.0.0.1:1"}, ValueError, "scheduler applies to backend"),
    ],
)
def test_bad_arguments_are_named(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        run_sweep(cells_for(1), seeded_draw, output_dir=tmp_path, progress=False, **kwargs)


def test_dask_without_scheduler_or_client_is_explained(tmp_path):
    pytest.importorskip("distributed")
    with pytest.raises(ValueError, match="scheduler='tcp://HOST:PORT'"):
        run_sweep(cells_for(1), seeded_draw, output_dir=tmp_path, backend="dask", progress=False)


def test_duplicate_cells_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="distinct"):
        run_sweep([{"seed": 1}, {"seed": 1}], seeded_draw, output_dir=tmp_path, progress=False)


def test_run_function_must_return_a_dict(tmp_path):
    with pytest.raises(TypeError, match="return a dict"):
        run_sweep(cells_for(1), not_a_dict, output_dir=tmp_path, backend="sequential", progress=False)
    assert [path.name for path in tmp_path.glob("*")] == [LOCK_NAME]  # no result, no temporary file


# ------------------------------------------------------------------------------------------ grouped cells


def parity_key(cell: dict) -> int | None:
    """Group even and odd x apart; x = 0 runs alone."""
    return None if cell["x"] == 0 else cell["x"] % 2


def logged_group_draw(cells: list[dict]) -> list[dict]:
    """Group run function: ``seeded_draw`` per cell, and one log file per call naming its cells."""
    Path(cells[0]["log"], "-".join(str(cell["x"]) for cell in cells)).touch()
    return [seeded_draw(cell) for cell in cells]


def wrong_count(cells: list[dict]) -> list[dict]:
    return [{"x": 0}]


def test_group_cells_keeps_keys_apart_and_caps_the_size():
    from cbreservoir.experiments.sweep import group_cells

    groups = group_cells(cells_for(8), group_by=parity_key, group_size=2)
    assert [[cell["x"] for cell in group] for group in groups] == [[0], [1, 3], [2, 4], [5, 7], [6]]
    with pytest.raises(ValueError, match="group_size must be a positive int; got 0"):
        group_cells(cells_for(2), group_by=parity_key, group_size=0)


@pytest.mark.parametrize("backend", ["sequential", "loky"])
def test_grouped_sweep_gives_the_results_of_single_runs_and_regroups_what_is_left(tmp_path, backend):
    log = tmp_path / "log"
    log.mkdir()
    cells = cells_for(7, log=str(log))
    single = run_sweep(
        cells, seeded_draw, output_dir=tmp_path / "single", backend="sequential", progress=False
    )
    common = {"backend": backend, "n_jobs": 2, "progress": False, "group_by": parity_key, "group_size": 3}
    first = run_sweep(cells[:4], logged_group_draw, output_dir=tmp_path / "grouped", **common)
    assert first == single[:4]
    assert sorted(path.name for path in log.iterdir()) == ["0", "1-3", "2"]
    again = run_sweep(cells, logged_group_draw, output_dir=tmp_path / "grouped", **common)
    assert again == single
    assert sorted(path.name for path in log.iterdir()) == ["0", "1-3", "2", "4-6", "5"]


def test_grouped_sweep_rejects_a_wrong_number_of_results(tmp_path):
    # cells 1 and 3 form a group of two
    with pytest.raises(TypeError, match="expected the group run function to return a list of 2 results"):
        run_sweep(
            cells_for(4),
            wrong_count,
            output_dir=tmp_path,
            backend="sequential",
            progress=False,
            group_by=parity_key,
        )


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from([None, "a", "b", "c"]), max_size=25), st.integers(1, 5))
def test_group_cells_partitions_cells_into_full_groups_of_one_key(keys, group_size):
    from cbreservoir.experiments.sweep import group_cells

    cells = [{"x": index, "key": key} for index, key in enumerate(keys)]
    groups = group_cells(cells, group_by=lambda cell: cell["key"], group_size=group_size)
    assert sorted(cell["x"] for group in groups for cell in group) == list(range(len(cells)))
    for group in groups:
        assert 1 <= len(group) <= group_size
        assert [cell["x"] for cell in group] == sorted(cell["x"] for cell in group)
        assert len({cell["key"] for cell in group}) == 1
        assert group[0]["key"] is not None or len(group) == 1
    for key in ("a", "b", "c"):
        sizes = [len(group) for group in groups if group[0]["key"] == key]
        assert all(size == group_size for size in sizes[:-1])  # only the last group of a key is short

"""End-to-end tests of cbreservoir.reproduce on tiny settings: outputs, seeding, resume, config sweeps."""

from __future__ import annotations

import json

import pytest

from cbreservoir.models import count_parameters
from cbreservoir.reproduce import get_profile, reproduce, run_config_sweep
from cbreservoir.reproduce.conditions import build_condition_model
from cbreservoir.reproduce.run import build_curriculum, make_cell, run_cell
from cbreservoir.sweep import cell_id

TINY = {"n_epochs": 2, "steps_per_epoch": 2, "test_batches": 1, "batch_size": 8}


def tiny_profile():
    return get_profile("quick").replace(**TINY)


def without_timing(run: dict) -> dict:
    """A run record without its wall-clock fields (everything else must be seed-determined)."""
    history = {**run["history"], "records": [{**r, "seconds": None} for r in run["history"]["records"]]}
    return {**run, "seconds": None, "history": history}


@pytest.fixture(scope="module")
def first_reproduction(tmp_path_factory):
    output = tmp_path_factory.mktemp("repro")
    report = reproduce(
        "dms",
        tiny_profile(),
        seeds=[0, 1],
        conditions=["cbrnn", "rnn"],
        output_dir=output,
        backend="sequential",
        progress=False,
    )
    return output, report


def test_reproduction_writes_runs_summary_and_figures(first_reproduction):
    output, report = first_reproduction
    assert report["n_runs"] == 4
    assert len(list((output / "runs").glob("*.json"))) == 4
    assert (output / "curves_dms.png").read_bytes()[:4] == b"\x89PNG"
    assert "| CB-RNN | 41,922 | 2 |" in (output / "summary.md").read_text()
    summary = json.loads((output / "summary.json").read_text())["summaries"][0]
    assert [row["condition"] for row in summary["rows"]] == ["cbrnn", "rnn"]
    assert not (output / "checkpoints").exists() or not any((output / "checkpoints").iterdir())


def test_run_record_holds_curve_metrics_config_and_versions(first_reproduction):
    output, _ = first_reproduction
    record = json.loads(next((output / "runs").glob("*.json")).read_text())["result"]
    assert len(record["levels"]) == TINY["n_epochs"]
    assert len(record["history"]["records"]) == TINY["n_epochs"]
    assert {"accuracy", "loss", "seconds"} <= set(record["history"]["records"][0])
    assert record["profile"]["n_epochs"] == TINY["n_epochs"]
    assert record["model_config"]["kind"] in ("cbrnn", "rnn")
    assert {"torch", "numpy", "python", "cbreservoir"} <= set(record["versions"])


def test_same_seed_same_numbers_other_seed_other_numbers(first_reproduction, tmp_path):
    cell = make_cell("dms", "cbrnn", 0, tiny_profile())
    first, again = run_cell(cell), run_cell(cell)
    other = run_cell(make_cell("dms", "cbrnn", 1, tiny_profile()))
    assert without_timing(first) == without_timing(again)
    assert first["history"]["records"][0]["loss"] != other["history"]["records"][0]["loss"]


def test_rerun_resumes_without_training_again(first_reproduction):
    output, report = first_reproduction
    stamps = {path: path.stat().st_mtime_ns for path in (output / "runs").glob("*.json")}
    again = reproduce(
        "dms",
        tiny_profile(),
        seeds=[0, 1],
        conditions=["cbrnn", "rnn"],
        output_dir=output,
        backend="sequential",
        progress=False,
    )
    assert {path: path.stat().st_mtime_ns for path in stamps} == stamps
    assert again["summaries"] == report["summaries"]


def test_interrupted_run_resumes_from_its_checkpoint_with_the_same_numbers(tmp_path):
    cell = make_cell("parity", "full_reservoir", 3, tiny_profile())
    earlier = build_curriculum(cell, tmp_path / cell_id(cell)).run(1)  # an attempt stopped after epoch 1
    resumed = run_cell(cell, checkpoint_root=str(tmp_path))
    assert resumed["history"]["records"][0] == earlier.to_dict()["records"][0]  # epoch 1 not run again
    assert without_timing(resumed) == without_timing(run_cell(cell))
    assert not (tmp_path / cell_id(cell)).exists()


@pytest.mark.parametrize("task", ["multitask", "switching"])
def test_two_head_tasks_run(task):
    run = run_cell(make_cell(task, "full_reservoir", 0, tiny_profile()))
    assert len(run["levels"]) == TINY["n_epochs"] and list(run["model_config"]["n_classes"]) == [2, 2]


@pytest.mark.parametrize("condition", ["gru", "gru_cb", "lstm", "lstm_cb"])
def test_extra_rows_run_and_are_parameter_matched(condition):
    run = run_cell(make_cell("dms", condition, 0, tiny_profile().replace(n_epochs=1)))
    partner = count_parameters(build_condition_model(condition.removesuffix("_cb") + "_cb", "dms", seed=0))
    assert len(run["levels"]) == 1
    assert abs(run["n_parameters"] - partner) <= 0.02 * partner


def test_config_sweep_from_a_json_file(tmp_path):
    config = {"tasks": "parity", "conditions": ["interleaved"], "seeds": 1, "overrides": TINY}
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(config))
    report = run_config_sweep(path, progress=False, output_dir=str(tmp_path / "out"), backend="sequential")
    assert report["n_runs"] == 1 and report["summaries"][0]["rows"][0]["label"] == "interleaved (k = 5)"
    assert (tmp_path / "out" / "summary.md").exists()

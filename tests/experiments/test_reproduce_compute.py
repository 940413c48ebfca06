"""Reproduction with the adaptive condition: its record says when the core learned; the summary's compute."""

from __future__ import annotations

import pytest

from cbreservoir.experiments.reproduce import get_profile
from cbreservoir.experiments.reproduce.compute import run_compute
from cbreservoir.experiments.reproduce.run import make_cell, run_cell, run_ensemble
from cbreservoir.experiments.reproduce.summary import markdown_table, summarize_task
from cbreservoir.models import build_model
from cbreservoir.models.compute import multiply_adds
from cbreservoir.training.schedules import Adaptive


@pytest.fixture(scope="module")
def records():
    profile = get_profile("quick").replace(n_epochs=3, steps_per_epoch=2, test_batches=1, batch_size=8)
    cells = [make_cell("dms", condition, seed=0, profile=profile) for condition in ("adaptive", "cbrnn")]
    return cells, run_ensemble(cells)


def test_the_adaptive_condition_runs_in_an_ensemble_as_alone_and_records_its_decisions(records):
    cells, ensemble = records
    solo = run_cell(cells[0])
    assert solo["levels"] == ensemble[0]["levels"] and solo["core_plastic"] == ensemble[0]["core_plastic"]
    assert len(solo["core_plastic"]) == 3 and solo["core_plastic"][0]  # phase 0 at N = 2 trains the core
    assert ensemble[1]["core_plastic"] == [True] * 3  # end to end


def test_epoch_compute_is_the_updates_and_tests_of_each_level(records):
    _, (adaptive, cbrnn) = records
    computed = run_compute(cbrnn)
    model = build_model(**cbrnn["model_config"])
    everything = dict.fromkeys(["core.input", "core.recurrent", "cerebellum", "readout"], True)
    level = cbrnn["levels"][
        0
    ]  # lengths 4 .. 9 at N = 2: their mean 6.5 is the mean of the shortest and longest
    update = sum(multiply_adds(model, 8, m, everything).total for m in range(level + 2, 4 * level + 2)) / (
        3 * level
    )
    test = sum(multiply_adds(model, 8, m).total for m in range(level + 2, 4 * level + 2)) / (3 * level)
    assert computed["epoch_multiply_adds"][0] == pytest.approx(2 * update + test, rel=1e-12)
    assert computed["learning_parameters"]["first_level"] == computed["learning_parameters"]["afterwards"]
    reservoir = run_compute(adaptive)["learning_parameters"]
    assert reservoir["afterwards"] == sum(
        p.numel() for p in (*model.cerebellum.parameters(), *model.readouts.parameters())
    )


def test_the_summary_reports_flops_to_half_max_what_learns_and_how_often_the_core_learned(records):
    _, runs = records
    summary = summarize_task("dms", runs, n_epochs=3)
    for row in summary["rows"]:
        assert row["flops_to_half_max"]["mean"] > 0
        assert 0 <= row["core_learning_epochs"]["mean"] <= 1
    assert "FLOPs to half of global max N" in markdown_table([summary])
    hand_made = [{k: v for k, v in run.items() if k != "model_config"} for run in runs]
    assert summarize_task("dms", hand_made, n_epochs=3)["rows"][0]["flops_to_half_max"] is None


def test_adaptive_defaults_are_the_documented_ones():
    assert (Adaptive().patience, Adaptive().plateau, Adaptive().min_improvement) == (10, 5, 0.01)


def test_the_adaptive_row_is_compared_with_rnn_only_the_full_reservoir_and_the_cbrnn():
    def run(condition, seed, levels):
        return {"condition": condition, "n_granule": 256, "seed": seed, "levels": levels, "n_parameters": 1,
                "units": 64, "seconds": 1.0}  # fmt: skip

    conditions = ("adaptive", "full_reservoir", "rnn", "cbrnn")
    runs = [run(c, s, [2, 3, 4 + s, 5 + s]) for c in conditions for s in (0, 1)]
    summary = summarize_task("dms", runs, n_epochs=4)
    pairs = [(c["condition"], c["reference"]) for c in summary["comparisons"]]
    assert pairs == [("cbrnn", "rnn"), ("full_reservoir", "rnn"), ("adaptive", "rnn"),
                     ("adaptive", "full_reservoir"), ("adaptive", "cbrnn")]  # fmt: skip
    assert "adaptive_faster_than_rnn" in summary["ordering"]
    table = markdown_table([summary])
    assert "adaptive / full reservoir" in table and "adaptive / CB-RNN" in table


def test_a_continual_record_counts_both_tasks_tests_and_the_warm_up():
    profile = get_profile("quick").replace(n_epochs=2, steps_per_epoch=2, test_batches=1, batch_size=8)
    record = run_cell(make_cell("continual", "adaptive", seed=0, profile=profile))
    computed = run_compute(record)
    model = build_model(**{**record["model_config"], "n_classes": tuple(record["model_config"]["n_classes"])})
    level = record["levels"][0]
    lengths = (level + 2, 4 * level + 1)
    learns = dict.fromkeys(["core.input", "core.recurrent", "readout"], True)  # the warm-up: phase 0
    update = sum(multiply_adds(model, 8, m, learns, head=0).total for m in lengths) / 2  # DMS's head trains
    test = sum(multiply_adds(model, 8, m).total for m in lengths) / 2
    assert computed["epoch_multiply_adds"][0] == 2 * update + 2 * test  # 1 test batch of each task
    assert record["core_plastic"][0] and record["core_plastic"] == computed["core_learned"]

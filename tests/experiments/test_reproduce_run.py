"""End-to-end tests of cbreservoir.experiments.reproduce on tiny settings.

Outputs, seeding, resume, config sweeps.
"""

from __future__ import annotations

import json

import pytest

from cbreservoir.experiments.reproduce import get_profile, reproduce, run_config_sweep
from cbreservoir.experiments.reproduce.conditions import build_condition_model, build_condition_schedule
from cbreservoir.experiments.reproduce.run import build_curriculum, make_cell, run_cell
from cbreservoir.experiments.sweep import cell_id, read_record
from cbreservoir.models import count_parameters, match_units
from cbreservoir.training import frozen_parameters

TINY = {"n_epochs": 2, "steps_per_epoch": 2, "test_batches": 1, "batch_size": 8}


def tiny_profile():
    return get_profile("quick").replace(**TINY)


def without_timing(run: dict) -> dict:
    """A run record without its wall-clock fields (everything else must be seed-determined)."""
    history = {**run["history"], "records": [{**r, "seconds": None} for r in run["history"]["records"]]}
    return {**run, "seconds": None, "history": history}


def small_reproduction(output, **options) -> dict:
    """DMS, seeds 0 and 1, tiny profile, run in this process; CB-RNN and RNN-only unless ``conditions``."""
    settings = {"seeds": [0, 1], "conditions": ["cbrnn", "rnn"], "backend": "sequential", "progress": False}
    return reproduce("dms", profile=tiny_profile(), output_dir=output, **{**settings, **options})


@pytest.fixture(scope="module")
def first_reproduction(tmp_path_factory):
    output = tmp_path_factory.mktemp("repro")
    return output, small_reproduction(output)


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
    record = read_record(next((output / "runs").glob("*.json")))["result"]
    assert len(record["levels"]) == TINY["n_epochs"]
    assert len(record["history"]["records"]) == TINY["n_epochs"]
    assert {"accuracy", "loss", "seconds"} <= set(record["history"]["records"][0])
    assert record["profile"]["n_epochs"] == TINY["n_epochs"]
    assert record["model_config"]["kind"] in ("cbrnn", "rnn")
    assert {"torch", "numpy", "python", "cbreservoir"} <= set(record["versions"])


def test_same_seed_same_numbers_other_seed_other_numbers(first_reproduction, tmp_path):
    cell = make_cell("dms", "cbrnn", seed=0, profile=tiny_profile())
    first, again = run_cell(cell), run_cell(cell)
    other = run_cell(make_cell("dms", "cbrnn", seed=1, profile=tiny_profile()))
    assert without_timing(first) == without_timing(again)
    assert first["history"]["records"][0]["loss"] != other["history"]["records"][0]["loss"]


def test_rerun_resumes_without_training_again(first_reproduction):
    output, report = first_reproduction
    stamps = {path: path.stat().st_mtime_ns for path in (output / "runs").glob("*.json")}
    again = small_reproduction(output)
    assert {path: path.stat().st_mtime_ns for path in stamps} == stamps
    assert again["summaries"] == report["summaries"]


def test_interrupted_run_resumes_from_its_checkpoint_with_the_same_numbers(tmp_path):
    cell = make_cell("parity", "full_reservoir", seed=3, profile=tiny_profile())
    earlier = build_curriculum(cell, tmp_path / cell_id(cell)).run(1)  # an attempt stopped after epoch 1
    resumed = run_cell(cell, checkpoint_root=str(tmp_path))
    assert resumed["history"]["records"][0] == earlier.to_dict()["records"][0]  # epoch 1 not run again
    assert without_timing(resumed) == without_timing(run_cell(cell))
    assert not (tmp_path / cell_id(cell)).exists()


@pytest.mark.parametrize("task", ["multitask", "switching"])
def test_two_head_tasks_run(task):
    run = run_cell(make_cell(task, "full_reservoir", seed=0, profile=tiny_profile()))
    assert len(run["levels"]) == TINY["n_epochs"] and list(run["model_config"]["n_classes"]) == [2, 2]


@pytest.mark.parametrize(
    ("task", "frozen_after_phase0"),
    [
        (
            "dms",
            [
                "core.input_layer.weight",
                "core.input_layer.bias",
                "core.recurrent_layer.weight",
                "core.recurrent_layer.bias",
            ],
        ),
        (
            "mod3",
            [
                "core.input_layer.weight",
                "core.input_layer.bias",
                "core.recurrent_layer.weight",
                "core.recurrent_layer.bias",
            ],
        ),
        ("multitask", ["core.recurrent_layer.weight", "core.recurrent_layer.bias"]),
        ("switching", ["core.recurrent_layer.weight", "core.recurrent_layer.bias"]),
    ],
)
def test_frozen_core_regime_follows_the_task_family_and_the_record_states_it(task, frozen_after_phase0):
    # the authors freeze the whole core on single tasks, only W_h and b_h on multitask and switching
    schedule = build_condition_schedule("full_reservoir", task)
    model = build_condition_model("full_reservoir", task, seed=0)
    assert frozen_parameters(model, schedule, 3) == frozen_after_phase0
    profile = tiny_profile().replace(n_epochs=1, start_level=3)
    run = run_cell(make_cell(task, "full_reservoir", seed=0, profile=profile))
    assert run["frozen"] == [{"levels": [3, max(run["levels"])], "frozen": frozen_after_phase0}]
    assert run_cell(make_cell(task, "cbrnn", seed=0, profile=profile))["frozen"][0]["frozen"] == []


def test_granule_sweep_uses_the_authors_matched_pairs_and_the_auxiliary_control_is_matched():
    units = {g: build_condition_model("rnn", "dms", n_granule=g).units for g in (64, 128, 256, 512)}
    assert units == {64: 128, 128: 160, 256: 202, 512: 272}
    assert build_condition_model("rnn", "mod3").units == match_units(
        count_parameters(build_condition_model("cbrnn", "mod3")), 1, 3
    )
    aux, cbrnn = build_condition_model("rnn_aux", "dms"), build_condition_model("cbrnn", "dms")
    assert type(aux).__name__ == "RecurrentAuxRNN"
    assert abs(count_parameters(aux) - count_parameters(cbrnn)) <= 0.01 * count_parameters(cbrnn)


@pytest.mark.parametrize("condition", ["gru", "gru_cb", "lstm", "lstm_cb"])
def test_extra_rows_run_and_are_parameter_matched(condition):
    run = run_cell(make_cell("dms", condition, seed=0, profile=tiny_profile().replace(n_epochs=1)))
    partner = count_parameters(build_condition_model(condition.removesuffix("_cb") + "_cb", "dms", seed=0))
    assert len(run["levels"]) == 1
    assert abs(run["n_parameters"] - partner) <= 0.02 * partner


def test_config_sweep_from_a_json_file(tmp_path):
    config = {"tasks": "parity", "conditions": ["interleaved"], "seeds": 1, "overrides": TINY, "ensemble": 2}
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(config))
    report = run_config_sweep(path, progress=False, output_dir=str(tmp_path / "out"), backend="sequential")
    assert report["n_runs"] == 1 and report["summaries"][0]["rows"][0]["label"] == "interleaved (k = 5)"
    assert (tmp_path / "out" / "summary.md").exists()
    record = read_record(next((tmp_path / "out" / "runs").glob("*.json")))["result"]
    assert record["ensemble_size"] == 1  # one seed: an ensemble of one


# ------------------------------------------------------------------------------------------ ensembles


def assert_same_run(got: dict, want: dict) -> None:
    """Same levels and accuracies; losses to float rounding (batched products round differently)."""
    assert got["levels"] == want["levels"]
    assert [r["accuracy"] for r in got["history"]["records"]] == [
        r["accuracy"] for r in want["history"]["records"]
    ]
    assert [r["loss"] for r in got["history"]["records"]] == pytest.approx(
        [r["loss"] for r in want["history"]["records"]], rel=1e-5
    )
    assert {k: got[k] for k in ("n_parameters", "units", "model_config")} == {
        k: want[k] for k in ("n_parameters", "units", "model_config")
    }


def test_ensemble_key_groups_one_architecture_of_one_task():
    from cbreservoir.experiments.reproduce.run import ensemble_key

    profile = tiny_profile()
    keys = {
        (task, condition, granule): ensemble_key(
            make_cell(task, condition, seed=0, profile=profile, n_granule=granule)
        )
        for task in ("dms", "parity")
        for condition in ("cbrnn", "full_reservoir", "interleaved", "rnn", "feedforward")
        for granule in (128, 256)
    }
    assert keys["dms", "cbrnn", 256] == keys["dms", "full_reservoir", 256] == keys["dms", "interleaved", 256]
    assert (
        ensemble_key(make_cell("dms", "cbrnn", seed=5, profile=profile)) == keys["dms", "cbrnn", 256]
    )  # seeds share
    assert len({keys["dms", "cbrnn", 256], keys["dms", "rnn", 256], keys["parity", "cbrnn", 256]}) == 3
    assert keys["dms", "cbrnn", 128] != keys["dms", "cbrnn", 256]
    assert keys["dms", "feedforward", 256] is None
    assert (
        ensemble_key(make_cell("dms", "cbrnn", seed=0, profile=profile.replace(n_epochs=3)))
        != keys["dms", "cbrnn", 256]
    )


def test_ensemble_runs_equal_solo_runs_and_resume_solo_checkpoints(tmp_path):
    from cbreservoir.experiments.reproduce.run import run_ensemble

    cells = [
        make_cell("dms", condition, seed=seed, profile=tiny_profile())
        for condition in ("cbrnn", "interleaved")
        for seed in (0, 1)
    ]
    interrupted = cells[1]
    earlier = build_curriculum(interrupted, tmp_path / cell_id(interrupted)).run(
        1
    )  # solo, stopped at epoch 1
    runs = run_ensemble(cells, checkpoint_root=str(tmp_path))
    for cell, run in zip(cells, runs, strict=True):
        assert (run["condition"], run["seed"], run["ensemble_size"]) == (cell["condition"], cell["seed"], 4)
        assert run["seconds"] == pytest.approx(run["ensemble_seconds"] / 4)
        assert_same_run(run, run_cell(cell))
    # the interrupted run did not train its first epoch again: its record is the solo attempt's
    assert runs[1]["history"]["records"][0] == earlier.to_dict()["records"][0]
    assert not any(tmp_path.iterdir())  # checkpoints removed once the runs completed


def test_run_ensemble_rejects_cells_of_different_architectures():
    from cbreservoir.experiments.reproduce.run import run_ensemble

    cells = [
        make_cell("dms", "cbrnn", seed=0, profile=tiny_profile()),
        make_cell("dms", "rnn", seed=0, profile=tiny_profile()),
    ]
    with pytest.raises(
        ValueError, match=r"of one task, architecture and profile, got conditions \['cbrnn', 'rnn'\]"
    ):
        run_ensemble(cells)


def test_reproduction_with_ensembles_gives_the_solo_reproduction(first_reproduction, tmp_path):
    output, report = first_reproduction
    grouped = small_reproduction(tmp_path, ensemble=2)
    solo_runs = {
        path.name: read_record(path)["result"] for path in (output / "runs").glob("*.json")
    }
    for path in (tmp_path / "runs").glob("*.json"):
        run = read_record(path)["result"]
        assert run["ensemble_size"] == 2
        assert_same_run(run, solo_runs[path.name])
    assert [row["max_level"] for row in grouped["summaries"][0]["rows"]] == [
        row["max_level"] for row in report["summaries"][0]["rows"]
    ]
    with pytest.raises(ValueError, match=r"ensemble must be an int in \[1, 2147483647\]; got 0"):
        reproduce("dms", profile=tiny_profile(), seeds=[0], output_dir=tmp_path, progress=False, ensemble=0)


def test_feedforward_runs_stay_alone_in_a_reproduction_with_ensembles(tmp_path):
    report = small_reproduction(tmp_path, conditions=["feedforward", "rnn"], ensemble=2)
    runs = [read_record(path)["result"] for path in (tmp_path / "runs").glob("*.json")]
    assert report["n_runs"] == 4
    assert sorted((run["condition"], run.get("ensemble_size", 1)) for run in runs) == [
        ("feedforward", 1),
        ("feedforward", 1),
        ("rnn", 2),
        ("rnn", 2),
    ]

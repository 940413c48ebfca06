"""Tests of cbreservoir.experiments.reproduce: profiles, conditions, cells, summaries, figures, errors."""

from __future__ import annotations

import json

import pytest

from cbreservoir.experiments.reproduce import (
    MAIN_CONDITIONS,
    PROFILES,
    Profile,
    build_cells,
    get_profile,
    run_config_sweep,
)
from cbreservoir.experiments.reproduce.conditions import build_condition_model, check_conditions, check_tasks
from cbreservoir.experiments.reproduce.figures import plot_learning_curves, plot_scaling
from cbreservoir.experiments.reproduce.summary import markdown_table, summarize_task
from cbreservoir.experiments.sweep import cell_id
from cbreservoir.models import count_parameters


def test_paper_profile_is_the_study_protocol():
    paper = PROFILES["paper"]
    assert (paper.n_epochs, paper.n_seeds, paper.batch_size, paper.steps_per_epoch, paper.test_batches) == (
        1000,
        8,
        64,
        100,
        50,
    )
    assert (paper.threshold, paper.learning_rate, paper.momentum, paper.clip_norm, paper.start_level) == (
        0.98,
        0.01,
        0.1,
        7.5,
        2,
    )
    assert paper.switching_window == 650
    assert paper.granule_sizes == (64, 128, 256, 512)


def test_quick_profile_keeps_model_optimiser_and_curriculum():
    paper, quick = PROFILES["paper"], PROFILES["quick"]
    same = ("batch_size", "threshold", "momentum", "clip_norm", "start_level")
    assert all(getattr(quick, name) == getattr(paper, name) for name in (*same, "granule_sizes"))
    assert quick.n_seeds >= 3


def test_profile_round_trips_through_settings_and_rejects_bad_values():
    quick = get_profile("quick")
    assert Profile(**json.loads(json.dumps(quick.settings()))) == quick
    with pytest.raises(ValueError, match="allowed"):
        quick.replace(epochs=3)
    with pytest.raises(ValueError, match=r"Profile.n_epochs must be an int in \[1, "):
        quick.replace(n_epochs=0)
    with pytest.raises(ValueError, match="profile must be one of"):
        get_profile("fast")


def test_cells_are_distinct_and_scaling_shares_the_main_g256_cells():
    profile = get_profile("quick")
    main = build_cells(["dms"], MAIN_CONDITIONS, seeds=[0, 1], profile=profile)
    assert len(main) == 8
    with_scaling = build_cells(
        ["dms"], MAIN_CONDITIONS, seeds=[0, 1], profile=profile, granule_sizes=(64, 256)
    )
    assert len(with_scaling) == 8 + 2 * 2  # G = 64 adds cbrnn + rnn per seed; G = 256 coincides
    assert len({cell_id(cell) for cell in with_scaling}) == len(with_scaling)
    assert all(cell["profile"] == profile.settings() for cell in with_scaling)


def test_rnn_only_is_matched_to_the_cbrnn_as_in_the_study():
    cbrnn = build_condition_model("cbrnn", "dms", seed=0)
    rnn = build_condition_model("rnn", "dms", seed=0)
    assert count_parameters(cbrnn) == 41922
    assert (rnn.units, count_parameters(rnn)) == (202, 41816)


def test_scaling_partner_is_matched_to_its_granule_size():
    small_cbrnn = build_condition_model("cbrnn", "parity", n_granule=64, seed=0)
    small_rnn = build_condition_model("rnn", "parity", n_granule=64, seed=0)
    assert small_rnn.units < 202
    assert abs(count_parameters(small_rnn) - count_parameters(small_cbrnn)) < 2 * small_rnn.units + 4


def test_two_head_tasks_get_two_heads_and_switching_a_pulse_channel():
    assert len(build_condition_model("cbrnn", "multitask", seed=0).readouts) == 2
    switching = build_condition_model("full_reservoir", "switching", seed=0)
    assert (switching.input_dim, len(switching.readouts)) == (2, 2)


def test_unknown_task_and_condition_are_named():
    with pytest.raises(ValueError, match="task must be among"):
        check_tasks(["dms", "xor"])
    with pytest.raises(ValueError, match="conditions must be among"):
        check_conditions("transformer")


def fake_run(condition: str, levels: list[int], seed: int = 0, n_granule: int = 256) -> dict:
    return {
        "task": "dms",
        "condition": condition,
        "seed": seed,
        "n_granule": n_granule,
        "levels": levels,
        "seconds": 1.0,
        "n_parameters": 41922 if condition != "rnn" else 41816,
        "units": 64 if condition != "rnn" else 202,
    }


def test_summary_uses_the_global_max_and_censors_runs_that_never_reach_half():
    runs = [
        fake_run("cbrnn", [2, 3, 4, 5, 6, 8], seed=0),  # global max 8 -> half 4 at epoch 3
        fake_run("cbrnn", [2, 2, 3, 4, 4, 5], seed=1),  # half at epoch 4
        fake_run("rnn", [2, 2, 2, 3, 3, 3], seed=0),  # never: censored at 6 epochs
        fake_run("rnn", [2, 2, 2, 2, 4, 4], seed=1),  # epoch 5
    ]
    summary = summarize_task("dms", runs, n_epochs=6)
    assert (summary["global_max"], summary["half_max"], summary["study_global_max"]) == (8, 4.0, 38)
    cbrnn, rnn = summary["rows"]
    assert cbrnn["epochs_to_half_max"]["mean"] == pytest.approx(3.5)
    assert (rnn["epochs_to_half_max"]["mean"], rnn["censored"]) == (pytest.approx(5.5), 1)
    assert cbrnn["max_level"]["mean"] == pytest.approx(6.5)
    assert cbrnn["study"] == {"max_level": 34.8, "epochs_to_half_max": 215}
    assert rnn["label"] == "RNN-only (H = 202)"
    assert summary["ordering"] == {"cbrnn_faster_than_rnn": True}
    table = markdown_table([summary])
    row = "| dms (global max 8; study 38) | CB-RNN | 41,922 | 2 | 6.5 ± 1.5 | 3.5 ± 0.5 | 20 ± 3 | 4.0 ± 0.7 "
    row += "| 34.8 | 215 |"
    assert row in table
    (comparison,) = summary["comparisons"]
    assert (comparison["condition"], comparison["reference"]) == ("cbrnn", "rnn")
    assert comparison["epochs_to_half_max"]["ratio"] == pytest.approx(3.5 / 5.5)  # censored run: 6
    assert comparison["auc"]["ratio"] == pytest.approx(19.75 / ((12.5 + 13.0) / 2))
    assert "| dms | CB-RNN / RNN-only | 0.64 [" in table
    assert "1 censored" in table


def test_summary_reports_epochs_to_each_level_over_the_runs_that_reached_it():
    runs = [fake_run("cbrnn", [2, 3, 3, 5], seed=0), fake_run("cbrnn", [2, 2, 3, 4], seed=1)]
    row = summarize_task("dms", runs, n_epochs=4)["rows"][0]
    assert row["epochs_to_level"] == {
        "3": {"mean": 2.5, "reached": 2},
        "4": {"mean": 4.0, "reached": 2},
        "5": {"mean": 4.0, "reached": 1},
    }
    table = markdown_table([summarize_task("dms", runs, n_epochs=4)])
    assert "| CB-RNN | 2.5 (2/2) | 4.0 (2/2) | 4.0 (1/2) |" in table


def switching_run(condition: str, levels: list[int], heads: list[int], accuracies: list[list[float]]) -> dict:
    records = [
        {"active_head": head, "head_accuracies": pair} for head, pair in zip(heads, accuracies, strict=True)
    ]
    return {**fake_run(condition, levels), "task": "switching", "history": {"records": records}}


def test_switching_summary_reports_mean_active_level_over_the_window():
    runs = [switching_run("cbrnn", [2, 4, 6, 8], [0, 0, 1, 1], [[0.6, 0.5]] * 4)]
    summary = summarize_task("switching", runs, n_epochs=4, switching_window=2)
    assert summary["rows"][0]["active_mean_level"]["mean"] == pytest.approx(3.0)
    assert summary["rows"][0]["study"] == {"active_mean_level": 12.5}
    assert summary["rows"][0]["inactive_task_accuracy"] is None  # no switch in the first 2 epochs
    assert "mean active N over the first 2 epochs" in markdown_table([summary])


def test_switching_summary_reports_the_inactive_tasks_accuracy_after_the_first_switch():
    heads = [0, 0, 1, 1, 0]
    cbrnn = [[0.9, 0.5], [0.99, 0.5], [0.8, 0.99], [0.7, 0.99], [0.9, 0.6]]
    rnn = [[0.9, 0.5], [0.99, 0.5], [0.6, 0.99], [0.5, 0.99], [0.9, 0.5]]
    runs = [
        switching_run("cbrnn", [2, 3, 5, 6, 10], heads, cbrnn),
        switching_run("rnn", [2, 3, 5, 6, 10], heads, rnn),
    ]
    row = summarize_task("switching", runs, n_epochs=5, switching_window=5)["rows"]
    assert row[0]["inactive_task_accuracy"]["mean"] == pytest.approx((0.8 + 0.7 + 0.6) / 3)
    assert row[1]["inactive_task_accuracy"]["mean"] == pytest.approx((0.6 + 0.5 + 0.5) / 3)
    table = markdown_table([summarize_task("switching", runs, n_epochs=5, switching_window=5)])
    assert "inactive-task accuracy" in table and "| 0.700 |" in table


def test_figures_are_written(tmp_path):
    runs = [fake_run("cbrnn", [2, 3, 4], seed=s) for s in range(2)] + [fake_run("rnn", [2, 2, 3])]
    runs += [fake_run("cbrnn", [2, 2, 4], n_granule=64), fake_run("rnn", [2, 2, 2], n_granule=64)]
    summary = summarize_task("dms", runs, n_epochs=3)
    curves = plot_learning_curves("dms", runs, path=tmp_path / "curves.png", half_max=summary["half_max"])
    scaling = plot_scaling("dms", summary["rows"], path=tmp_path / "scaling.png")
    for path in (curves, scaling):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"tasks": ["dms"], "epochs": 3}, r"unknown config key\(s\) \['epochs'\]; allowed keys"),
        ({"profile": "quick"}, "'tasks' is required"),
        ({"tasks": ["dms"], "profile": "slow"}, "profile must be one of"),
        ({"tasks": ["dms"], "overrides": {"n_epoch": 3}}, r"unknown profile setting\(s\) \['n_epoch'\]"),
        ({"tasks": ["dms"], "overrides": [3]}, "overrides must be a dict"),
        ({"tasks": ["xor"]}, "task must be among"),
        ({"tasks": ["dms"], "conditions": ["cnn"]}, "conditions must be among"),
        ({"tasks": ["dms"], "seeds": 0}, r"seeds must be an int in \[1, "),
    ],
)
def test_config_errors_name_the_key_and_allowed_values(tmp_path, config, match):
    with pytest.raises((ValueError, TypeError), match=match):
        run_config_sweep({"output_dir": str(tmp_path), **config}, progress=False)


def test_environments_count_the_runs_of_each_software_version_set():
    from cbreservoir.experiments.reproduce.pipeline import _environment_note, environments

    old, new = {"numpy": "2.3.5", "torch": "2.13.0"}, {"numpy": "2.4.6", "torch": "2.13.0"}
    runs = [{"versions": old}, {"versions": new}, {"versions": old}, {}]
    assert environments(runs) == [{**old, "runs": 2}, {**new, "runs": 1}, {"runs": 1}]
    note = _environment_note(environments(runs))
    assert "* 2 runs: numpy 2.3.5, torch 2.13.0" in note and "same versions" in note


def test_cbrnn_is_compared_with_the_recurrent_auxiliary_module_without_the_study_ratio():
    levels = {"cbrnn": ([2, 3, 4, 5], [2, 3, 3, 5]), "rnn_aux": ([2, 2, 3, 4], [2, 2, 2, 3])}
    runs = [
        fake_run(condition, run_levels, seed=seed)
        for condition, pair in levels.items()
        for seed, run_levels in enumerate(pair)
    ]
    summary = summarize_task("dms", runs, n_epochs=4)
    (comparison,) = summary["comparisons"]
    assert (comparison["condition"], comparison["reference"]) == ("cbrnn", "rnn_aux")
    table = markdown_table([summary]).splitlines()
    line = next(line for line in table if "| CB-RNN / RNN + recurrent auxiliary" in line)
    assert line.startswith("| dms | CB-RNN / RNN + recurrent auxiliary module |") and line.endswith("|  |")


def test_each_granule_size_of_a_sweep_compares_the_cbrnn_with_its_matched_rnn_only():
    runs = [fake_run("cbrnn", [2, 3, 4, 5], seed=seed) for seed in (0, 1)]
    runs += [fake_run("rnn", [2, 2, 3, 4], seed=seed) for seed in (0, 1)]
    runs += [fake_run("cbrnn", [2, 2, 4, 4], seed=seed, n_granule=64) for seed in (0, 1)]
    runs += [fake_run("rnn", [2, 2, 2, 4], seed=seed, n_granule=64) for seed in (0, 1)]
    summary = summarize_task("dms", runs, n_epochs=4)  # global max 5: half-max 2.5 -> N >= 3
    main, sweep = summary["comparisons"]
    assert (main["n_granule"], sweep["n_granule"]) == (256, 64)
    assert (sweep["condition"], sweep["reference"]) == ("cbrnn", "rnn")
    assert sweep["epochs_to_half_max"]["ratio"] == pytest.approx(3 / 4)  # epochs 3 vs 4
    table = markdown_table([summary]).splitlines()
    main_line = next(line for line in table if line.startswith("| dms | CB-RNN / RNN-only |"))
    sweep_line = next(line for line in table if "G = 64 / RNN-only (H = 202) |" in line)
    assert main_line.endswith(f"| {215 / 456:.2f} |") and sweep_line.endswith("|  |")  # study ratio: G = 256

"""The analysis report on a tiny profile: files, summary contents, resume, reproductions, two-head tasks."""

import dataclasses
import json

import pytest
import torch

from cbreservoir.experiments.analysis_report import AnalysisSettings, run_analysis
from cbreservoir.experiments.analysis_report.train import initial_model, reproduction_run
from cbreservoir.experiments.reproduce.run import build_curriculum, make_cell
from tests.experiments.analysis_sizes import TINY_PROFILE, TINY_SETTINGS, tiny_reproduction

POPULATIONS = {"core", "granule", "purkinje", "nuclei"}
FIGURES = ("learning_curves", "ablation", "readout_recovery", "dimensionality", "timescales", "sparseness")


def reject_constant(name):
    raise ValueError(f"summary.json holds {name}")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("analysis")
    summary = run_analysis(output_dir, profile=TINY_PROFILE, settings=TINY_SETTINGS, progress=False)
    return output_dir, summary


def test_report_writes_figures_and_a_strict_json_summary(report):
    output_dir, summary = report
    assert summary["figures"] == {name: f"{name}.png" for name in FIGURES}
    for name in FIGURES:
        assert (output_dir / f"{name}.png").stat().st_size > 1000
    stored = json.loads((output_dir / "summary.json").read_text(), parse_constant=reject_constant)
    assert stored == summary


def test_the_default_settings_are_the_studys():
    study = AnalysisSettings()
    assert (study.drive_trials, study.drive_steps, study.drive_warmup) == (8, 20_000, 500)
    assert (study.population_max_lag, study.unit_max_lag, study.fit_units) == (199, 30, True)
    assert (study.dimensionality_batches, study.batch_size, study.level_step) == (10, 64, 1)
    assert (study.recovery_steps, study.recovery_optimizer, study.recovery_learning_rate) == (
        100,
        "sgd",
        0.01,
    )


def test_summary_holds_every_analysis_per_condition_and_level(report):
    _, summary = report
    assert list(summary["models"]) == ["cbrnn", "full_reservoir"]
    for model in summary["models"].values():
        assert model["levels"] == [2, 3]  # threshold 0.01: every epoch passes
        assert model["analysis_level"] == 3 and model["analysed_model"] == "weights that passed N = 3"
        rows = model["checkpoints"]
        assert [row["level"] for row in rows] == [2, 3]
        for row in rows:  # timescale and dimensionality against N, core and cerebellum separately
            assert 0 <= row["ablated"] <= 1 and 0 <= row["full"] <= 1 and len(row["full_heads"]) == 1
            assert set(row["dimensionality"]) == set(row["timescales"]) == POPULATIONS
            assert row["dimensionality"]["granule"]["units"] == 256
            for entry in row["timescales"].values():
                assert entry.get("silent") or len(entry["population_autocorrelation"]) == 11
        recovery = model["readout_recovery"]
        assert recovery["zero_shot_gap"] == pytest.approx(recovery["intact"] - recovery["zero_shot"])
        assert recovery["optimizer"]["optimizer"] == "sgd" and recovery["n_steps"] == 2
        assert (
            set(model["dimensionality"])
            == set(model["timescales"])
            == POPULATIONS | {"core (cerebellum off)"}
        )
        assert model["dimensionality"]["core"] == rows[-1]["dimensionality"]["core"]
        core_timescale = model["timescales"]["core"]["population_timescale"]
        assert core_timescale is None or 0 <= core_timescale <= TINY_SETTINGS.population_max_lag
        for state in ("trained", "initial"):  # sparseness beside the same network at initialisation
            sparseness = model["granule_sparseness"][state]
            assert 0 <= sparseness["coding_level"] <= 1
            assert sum(sparseness["population_histogram"]["counts"]) <= 2 * 8 * 13


def test_the_initial_network_is_the_one_the_curriculum_starts_from():
    cell = make_cell("dms", "full_reservoir", seed=3, profile=TINY_PROFILE)
    start = build_curriculum(cell).trainer.model.state_dict()
    for name, value in initial_model("full_reservoir", "dms", seed=3).state_dict().items():
        torch.testing.assert_close(value, start[name], rtol=0, atol=0)


def test_level_step_measures_every_kth_level_and_the_highest():
    from cbreservoir.experiments.analysis_report.measure import measured_levels

    assert measured_levels([2, 3, 4, 5, 6, 7], 1) == [2, 3, 4, 5, 6, 7]
    assert measured_levels([2, 3, 4, 5, 6, 7], 2) == [2, 4, 6, 7]
    assert measured_levels([2, 3, 4, 5, 6], 2) == [2, 4, 6]
    assert measured_levels([], 3) == []


def test_a_second_run_resumes_from_the_checkpoints(report):
    output_dir, summary = report
    again = run_analysis(output_dir, profile=TINY_PROFILE, settings=TINY_SETTINGS, progress=False)
    for condition, model in summary["models"].items():
        assert again["models"][condition] == model


def test_report_rejects_unsupported_tasks(tmp_path):
    with pytest.raises(ValueError, match="task must be one of"):
        run_analysis(tmp_path, task="xor")


@pytest.mark.parametrize("task", ["multitask", "switching", "mod3"])
def test_two_head_and_three_class_tasks_are_analysed(task, tmp_path):
    settings = dataclasses.replace(TINY_SETTINGS, drive_steps=20, population_max_lag=5, unit_max_lag=4)
    summary = run_analysis(
        tmp_path, task=task, conditions=["cbrnn"], profile=TINY_PROFILE.replace(n_epochs=1),
        settings=settings,
        progress=False,
    )  # fmt: skip
    model = summary["models"]["cbrnn"]
    heads = 1 if task == "mod3" else 2
    assert len(model["checkpoints"][0]["full_heads"]) == heads
    assert all(len(values) == heads for values in model["readout_recovery"]["heads"].values())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"test_batches": 0}, "test_batches must be a positive int"),
        ({"recovery_steps": -1}, r"recovery_steps must be an int in \[0, inf\]; got -1"),
        ({"drive_steps": 20, "drive_warmup": 5, "population_max_lag": 15}, "< drive_steps - drive_warmup"),
        ({"recovery_optimizer": "rmsprop"}, r"recovery_optimizer must be one of \('sgd', 'adam'\)"),
        ({"unit_max_lag": 3}, "unit_max_lag"),
    ],
)
def test_analysis_settings_are_checked(changes, message):
    with pytest.raises(ValueError, match=message):
        AnalysisSettings(**changes)


def test_analysis_settings_refuse_wrong_types():
    with pytest.raises(TypeError, match=r"drive_warmup must be an int in \[0, inf\]; got 2.5"):
        AnalysisSettings(drive_warmup=2.5)
    with pytest.raises(TypeError, match="fit_units must be a bool"):
        AnalysisSettings(fit_units="yes")


@pytest.fixture(scope="module")
def reproduction(tmp_path_factory):
    """A tiny reproduction of CB-RNN and full reservoir on DMS that kept its checkpoints."""
    return tiny_reproduction(tmp_path_factory.mktemp("reproduction"), seeds=1, keep_checkpoints=True)


def test_a_reproduction_keeps_the_weights_that_passed_each_level(reproduction):
    kept = sorted(path.name for path in (reproduction / "checkpoints").glob("*/*.pt"))
    assert kept == ["last.pt", "last.pt", "level_002.pt", "level_002.pt", "level_003.pt", "level_003.pt"]


def without_source(models):
    return {
        condition: {
            key: value
            for key, value in model.items()
            if key not in ("checkpoints_source", "levels_match_record")
        }
        for condition, model in models.items()
    }


def test_analysing_a_reproduction_equals_analysing_the_same_runs_trained_here(report, reproduction, tmp_path):
    _, trained = report
    analysed = run_analysis(tmp_path, reproduction_dir=reproduction, settings=TINY_SETTINGS, progress=False)
    assert analysed["profile"] == TINY_PROFILE.settings()
    assert analysed["reproduction_dir"] == str(reproduction)
    assert without_source(analysed["models"]) == trained["models"]
    for model in analysed["models"].values():
        assert model["checkpoints_source"] == "kept" and model["levels_match_record"] is True


@pytest.fixture(scope="module")
def plain_reproduction(tmp_path_factory):
    """The same tiny reproduction without --keep-checkpoints: it keeps no network."""
    return tiny_reproduction(tmp_path_factory.mktemp("plain-reproduction"), seeds=1, keep_checkpoints=False)


def test_analysing_a_plain_reproduction_retrains_its_runs_into_their_checkpoint_directories(
    report, plain_reproduction, tmp_path
):
    assert not list(plain_reproduction.glob("checkpoints/*/*.pt"))
    _, trained = report
    analysed = run_analysis(
        tmp_path,
        reproduction_dir=plain_reproduction,
        conditions=["full_reservoir"],
        settings=TINY_SETTINGS,
        progress=False,
    )
    model = analysed["models"]["full_reservoir"]
    assert model["checkpoints_source"] == "retrained" and model["levels_match_record"] is True
    assert without_source(analysed["models"]) == {"full_reservoir": trained["models"]["full_reservoir"]}
    kept = sorted(path.name for path in plain_reproduction.glob("checkpoints/*/*.pt"))
    assert kept == ["last.pt", "level_002.pt", "level_003.pt"]  # where the run would have kept them
    again = reproduction_run(plain_reproduction, "dms", "full_reservoir", seed=0, profile=TINY_PROFILE)
    assert again["checkpoints"] == "kept"  # a second analysis reads them


def test_a_network_that_does_not_follow_its_record_is_named_in_a_warning(reproduction, tmp_path, monkeypatch):
    from cbreservoir.experiments.analysis_report import _report as report

    def other_levels(*args, **kwargs):
        return {**reproduction_run(*args, **kwargs), "levels": [2, 2]}

    monkeypatch.setattr(report, "reproduction_run", other_levels)
    with pytest.warns(RuntimeWarning, match=r"dms/cbrnn/seed 0 .* did not follow its run record"):
        analysed = run_analysis(
            tmp_path,
            reproduction_dir=reproduction,
            conditions=["cbrnn"],
            settings=TINY_SETTINGS,
            progress=False,
        )
    assert analysed["models"]["cbrnn"]["levels_match_record"] is False


def test_analysing_a_reproduction_is_checked_before_any_work(reproduction, tmp_path):
    with pytest.raises(ValueError, match="profile must match the reproduction's"):
        run_analysis(tmp_path, reproduction_dir=reproduction, profile="quick", progress=False)
    with pytest.raises(ValueError, match="expected checkpoint_dir or reproduction_dir, got both"):
        run_analysis(tmp_path, reproduction_dir=reproduction, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"finished run dms/rnn/seed 0 .* got none: run it with 'cbreservoir "
                       r"reproduce --task dms --conditions cbrnn full_reservoir rnn --seeds 1 --profile "
                       r"quick --set n_epochs=2 --set steps_per_epoch=2 --set test_batches=1 --set "
                       r"threshold=0.01 --output-dir"):  # fmt: skip
        run_analysis(tmp_path, reproduction_dir=reproduction, conditions=["rnn"], progress=False)
    with pytest.raises(ValueError, match="expected a reproduction output directory"):
        run_analysis(tmp_path / "out", reproduction_dir=tmp_path, progress=False)
    assert not (tmp_path / "out").exists()

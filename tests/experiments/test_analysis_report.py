"""The analysis report on a tiny profile: files, summary contents, resume."""

import json

import pytest

from cbreservoir.experiments.analysis_report import AnalysisSettings, run_analysis
from cbreservoir.experiments.reproduce.profiles import get_profile

TINY_PROFILE = get_profile("quick").replace(n_epochs=2, steps_per_epoch=2, test_batches=1, threshold=0.01)
TINY_SETTINGS = AnalysisSettings(
    test_batches=1,
    recovery_steps=2,
    activity_trials=2,
    activity_length=20,
    warmup=2,
    max_lag=6,
    fit_units=False,
)
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


def test_summary_holds_every_analysis_per_condition(report):
    _, summary = report
    assert list(summary["models"]) == ["cbrnn", "full_reservoir"]
    for model in summary["models"].values():
        assert model["levels"] == [2, 3]  # threshold 0.01: every epoch passes
        assert model["analysis_level"] == 3 and model["analysed_model"] == "weights that passed N = 3"
        assert [row["level"] for row in model["checkpoints"]] == [2, 3]
        assert all(0 <= row["ablated"] <= 1 and 0 <= row["full"] <= 1 for row in model["checkpoints"])
        recovery = model["readout_recovery"]
        assert recovery["zero_shot_gap"] == pytest.approx(recovery["intact"] - recovery["zero_shot"])
        assert set(model["dimensionality"]) == {
            "core",
            "granule",
            "purkinje",
            "nuclei",
            "core (cerebellum off)",
        }
        core_timescale = model["timescales"]["core"]["lag_below_1_over_e_interpolated"]
        assert core_timescale is None or 0 < core_timescale <= TINY_SETTINGS.max_lag
        sparseness = model["granule_sparseness"]
        assert 0 <= sparseness["coding_level"] <= 1
        assert sum(sparseness["population_histogram"]["counts"]) <= 2 * 18


def test_a_second_run_resumes_from_the_checkpoints(report):
    output_dir, summary = report
    again = run_analysis(output_dir, profile=TINY_PROFILE, settings=TINY_SETTINGS, progress=False)
    for condition, model in summary["models"].items():
        assert again["models"][condition] == model


def test_report_rejects_unsupported_tasks(tmp_path):
    with pytest.raises(ValueError, match="task must be one of"):
        run_analysis(tmp_path, task="multitask")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"test_batches": 0}, "test_batches must be a positive int"),
        ({"recovery_steps": -1}, r"recovery_steps must be an int in \[0, inf\]; got -1"),
        ({"activity_length": 20, "warmup": 5, "max_lag": 15}, "max_lag < activity_length - warmup"),
    ],
)
def test_analysis_settings_are_checked(changes, message):
    with pytest.raises(ValueError, match=message):
        AnalysisSettings(**changes)


@pytest.fixture(scope="module")
def reproduction(tmp_path_factory):
    """A tiny reproduction of CB-RNN and full reservoir on DMS that kept its checkpoints."""
    from cbreservoir.experiments.reproduce import reproduce

    output_dir = tmp_path_factory.mktemp("reproduction")
    reproduce(
        "dms",
        profile=TINY_PROFILE,
        seeds=1,
        conditions=["cbrnn", "full_reservoir"],
        output_dir=output_dir,
        backend="sequential",
        keep_checkpoints=True,
        progress=False,
    )
    return output_dir


def test_a_reproduction_keeps_the_weights_that_passed_each_level(reproduction):
    kept = sorted(path.name for path in (reproduction / "checkpoints").glob("*/*.pt"))
    assert kept == ["last.pt", "last.pt", "level_002.pt", "level_002.pt", "level_003.pt", "level_003.pt"]


def test_analysing_a_reproduction_equals_analysing_the_same_runs_trained_here(report, reproduction, tmp_path):
    _, trained = report
    analysed = run_analysis(tmp_path, reproduction_dir=reproduction, settings=TINY_SETTINGS, progress=False)
    assert analysed["profile"] == TINY_PROFILE.settings()
    assert analysed["reproduction_dir"] == str(reproduction)
    assert analysed["models"] == trained["models"]


def test_analysing_a_reproduction_is_checked_before_any_work(reproduction, tmp_path):
    with pytest.raises(ValueError, match="profile must match the reproduction's"):
        run_analysis(tmp_path, reproduction_dir=reproduction, profile="quick", progress=False)
    with pytest.raises(ValueError, match="expected checkpoint_dir or reproduction_dir, got both"):
        run_analysis(tmp_path, reproduction_dir=reproduction, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"finished run dms/rnn/seed 0 .* with its checkpoints"):
        run_analysis(tmp_path, reproduction_dir=reproduction, conditions=["rnn"], progress=False)
    with pytest.raises(ValueError, match="expected a reproduction output directory"):
        run_analysis(tmp_path / "out", reproduction_dir=tmp_path, progress=False)
    assert not (tmp_path / "out").exists()

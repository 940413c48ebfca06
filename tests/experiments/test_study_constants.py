"""The study's constants live in one record (``numerics.study.STUDY``), and the profiles, analyses and
benchmarks that default to them read them from there, with the values of PAPER.md."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from cbreservoir.analysis import ablation, activity, noise
from cbreservoir.experiments import noise as noise_report
from cbreservoir.experiments.analysis_report import AnalysisSettings
from cbreservoir.experiments.bench import SIZES
from cbreservoir.experiments.bench._training import bench_ensemble_update
from cbreservoir.experiments.reproduce.profiles import PROFILES, Profile
from cbreservoir.experiments.reproduce.run import make_cell
from cbreservoir.numerics.study import STUDY

#: PAPER.md's values, written out once more here as the pin.
PAPER = {
    "units": 64,
    "n_granule": 256,
    "n_purkinje": 64,
    "tau": 1.5,
    "learning_rate": 0.01,
    "momentum": 0.1,
    "nesterov": True,
    "clip_norm": 7.5,
    "batch_size": 64,
    "steps_per_epoch": 100,
    "test_batches": 50,
    "threshold": 0.98,
    "start_level": 2,
    "n_epochs": 1000,
    "n_networks": 8,
    "granule_sizes": (64, 128, 256, 512),
    "switching_window": 650,
    "recovery_steps": 100,
    "dimensionality_batches": 10,
}


def test_the_record_holds_the_papers_values():
    assert dataclasses.asdict(STUDY) == PAPER


def _default(function, name: str):
    return inspect.signature(function).parameters[name].default


def test_profiles_default_to_the_record():
    paper = PROFILES["paper"]
    for field in ("batch_size", "steps_per_epoch", "test_batches", "threshold", "learning_rate", "momentum",
                  "clip_norm", "start_level", "switching_window", "granule_sizes"):  # fmt: skip
        assert getattr(paper, field) == getattr(STUDY, field)
    assert (paper.n_epochs, paper.n_seeds) == (STUDY.n_epochs, STUDY.n_networks)
    assert Profile(name="x", n_epochs=1, n_seeds=1).granule_sizes == STUDY.granule_sizes
    assert make_cell("dms", "cbrnn", seed=0, profile=paper)["n_granule"] == STUDY.n_granule


@pytest.mark.parametrize(
    "function",
    [
        ablation.ablation_accuracy,
        ablation.readout_recovery,
        noise.noise_accuracy,
        noise_report.run_noise,
        bench_ensemble_update,
    ],
    ids=lambda function: function.__name__,
)
def test_analyses_and_benchmarks_take_the_studys_batch_size(function):
    assert _default(function, "batch_size") == STUDY.batch_size


def test_analysis_sizes_are_the_studys():
    settings = AnalysisSettings()
    assert settings.recovery_learning_rate == STUDY.learning_rate
    assert settings.recovery_steps == ablation.RECOVERY_STEPS == STUDY.recovery_steps
    assert settings.batch_size == activity.TASK_BATCH_SIZE == STUDY.batch_size
    assert settings.dimensionality_batches == activity.TASK_BATCHES == STUDY.dimensionality_batches
    assert SIZES["full"]["ensemble"]["batch_size"] == STUDY.batch_size

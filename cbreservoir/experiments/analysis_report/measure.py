"""Measurements of the analysis report as the study defines them, and their sizes (:class:`AnalysisSettings`).

Per level checkpoint (:func:`measure_level`): accuracy at N with the cerebellum on and off, the
dimensionality of each population on task batches of N, and its timescales under random bits. On the
analysed network (:func:`analyse_model`): readout recovery, the core with the cerebellum switched off, and
the granule layer's sparseness beside that of the same network at initialisation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from cbreservoir.analysis.ablation import (
    RECOVERY_STEPS,
    ablate_cerebellum,
    ablation_accuracy,
    readout_recovery,
)
from cbreservoir.analysis.activity import (
    DRIVE_STEPS,
    DRIVE_TRIALS,
    DRIVE_WARMUP,
    TASK_BATCH_SIZE,
    TASK_BATCHES,
    dimensionality_by_population,
    random_input_activity,
    task_activity,
    timescales_by_population,
)
from cbreservoir.analysis.sparseness import activity_ratio, coding_level, treves_rolls_sparseness
from cbreservoir.analysis.timescales import POPULATION_MAX_LAG, UNIT_MAX_LAG
from cbreservoir.numerics.study import STUDY
from cbreservoir.utils.checks import check_int, check_positive_int, check_real

__all__ = [
    "SPARSENESS_BINS",
    "AnalysisSettings",
    "analyse_checkpoints",
    "analyse_model",
    "granule_sparseness",
    "measure_level",
]

#: Bins of the granule sparseness histogram over [0, 1].
SPARSENESS_BINS = 40

#: Optimisers of the readout retraining: the study's SGD, or Adam as a second opinion.
RECOVERY_OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True, kw_only=True)
class AnalysisSettings:
    """Sizes of the analyses, by default the study's (training itself follows the reproduction profile).

    Attributes
    ----------
    test_batches : int
        Test batches per accuracy (ablation, readout recovery).
    batch_size : int
        Trials per batch: test, readout training and dimensionality batches (the study: 64).
    recovery_steps : int
        Readout-only training steps with the cerebellum off (the study: 100).
    recovery_optimizer : {"sgd", "adam"}
        ``"sgd"``: the study's (momentum 0.1 Nesterov, gradient norm clipped at 7.5).
    recovery_learning_rate : float
        The study: 0.01.
    dimensionality_batches : int
        Task batches at the level N of a checkpoint for its dimensionality (the study: 10).
    drive_trials, drive_steps, drive_warmup : int
        Random-bit drive for timescales: parallel trials, steps, initial steps dropped (the study: 8,
        20,000, 500).
    population_max_lag, unit_max_lag : int
        Lags of the population autocorrelation and of the per-unit fits (the study: 199 and 30).
    fit_units : bool
        Fit every unit's autocorrelation (``False`` leaves τ_net out: smoke tests only).
    level_step : int
        Measure every ``level_step``-th level checkpoint (always the highest); the study: 1, every level.
    """

    test_batches: int = 20
    batch_size: int = TASK_BATCH_SIZE
    recovery_steps: int = RECOVERY_STEPS
    recovery_optimizer: str = "sgd"
    recovery_learning_rate: float = STUDY.learning_rate
    dimensionality_batches: int = TASK_BATCHES
    drive_trials: int = DRIVE_TRIALS
    drive_steps: int = DRIVE_STEPS
    drive_warmup: int = DRIVE_WARMUP
    population_max_lag: int = POPULATION_MAX_LAG
    unit_max_lag: int = UNIT_MAX_LAG
    fit_units: bool = True
    level_step: int = 1

    def __post_init__(self) -> None:
        for name in (
            "test_batches",
            "batch_size",
            "dimensionality_batches",
            "drive_trials",
            "drive_steps",
            "population_max_lag",
            "level_step",
        ):
            check_positive_int(getattr(self, name), f"AnalysisSettings.{name}")
        check_int(self.recovery_steps, "AnalysisSettings.recovery_steps", minimum=0)
        check_int(self.drive_warmup, "AnalysisSettings.drive_warmup", minimum=0)
        check_int(self.unit_max_lag, "AnalysisSettings.unit_max_lag", minimum=4)
        check_real(
            self.recovery_learning_rate, "AnalysisSettings.recovery_learning_rate", minimum=0.0, strict=True
        )
        if self.recovery_optimizer not in RECOVERY_OPTIMIZERS:
            raise ValueError(
                f"AnalysisSettings.recovery_optimizer must be one of {RECOVERY_OPTIMIZERS}, "
                f"got {self.recovery_optimizer!r}"
            )
        if not isinstance(self.fit_units, bool):
            raise TypeError(f"AnalysisSettings.fit_units must be a bool, got {self.fit_units!r}")
        steps = self.drive_steps - self.drive_warmup
        if (
            not 0 <= self.drive_warmup < self.drive_steps
            or max(self.population_max_lag, self.unit_max_lag) >= steps
        ):
            raise ValueError(
                "AnalysisSettings needs 0 <= drive_warmup < drive_steps and population_max_lag, unit_max_lag "
                f"< drive_steps - drive_warmup, got drive_warmup={self.drive_warmup}, "
                f"drive_steps={self.drive_steps}, population_max_lag={self.population_max_lag}, "
                f"unit_max_lag={self.unit_max_lag}"
            )


def _drive(model: nn.Module, settings: AnalysisSettings, seed: int) -> dict[str, np.ndarray]:
    return random_input_activity(
        model,
        n_trials=settings.drive_trials,
        n_steps=settings.drive_steps,
        warmup=settings.drive_warmup,
        seed=seed,
    )


def _task_activity(
    model: nn.Module, task: str, level: int, settings: AnalysisSettings, seed: int
) -> dict[str, np.ndarray]:
    return task_activity(
        model,
        task,
        level,
        n_batches=settings.dimensionality_batches,
        batch_size=settings.batch_size,
        seed=seed,
    )


def _timescales(activity: dict[str, np.ndarray], settings: AnalysisSettings) -> dict[str, dict[str, Any]]:
    return timescales_by_population(
        activity,
        population_max_lag=settings.population_max_lag,
        unit_max_lag=settings.unit_max_lag,
        fit_units=settings.fit_units,
        keep_autocorrelation=True,
    )


def _finite_mean(values: np.ndarray) -> float:
    """The mean of the finite entries (non-silent samples or units), NaN when there are none."""
    return float(np.nanmean(values)) if np.isfinite(values).any() else math.nan


def granule_sparseness(granule: np.ndarray) -> dict[str, float]:
    """Normalised Treves–Rolls sparseness S (population and lifetime) and coding level of granule activity.

    Parameters
    ----------
    granule : ndarray (samples, G) or (trials, time, G)

    Returns
    -------
    dict
        ``population_sparseness_mean`` / ``lifetime_sparseness_mean``: the study's S (1 one-hot, 0
        uniform; :func:`~cbreservoir.analysis.treves_rolls_sparseness`), means over non-silent samples /
        units; ``population_activity_ratio_mean`` / ``lifetime_activity_ratio_mean``: the same for the
        activity ratio a (:func:`~cbreservoir.analysis.activity_ratio`); ``silent_sample_fraction``,
        ``silent_unit_fraction``, ``coding_level``, and ``population_histogram`` (of S: ``bin_edges``
        over [0, 1], ``counts`` of non-silent samples).
    """
    samples = granule.reshape(-1, granule.shape[-1])
    population = treves_rolls_sparseness(samples, kind="population")
    lifetime = treves_rolls_sparseness(samples, kind="lifetime")
    counts, edges = np.histogram(population[np.isfinite(population)], bins=SPARSENESS_BINS, range=(0.0, 1.0))
    return {
        "population_sparseness_mean": _finite_mean(population),
        "lifetime_sparseness_mean": _finite_mean(lifetime),
        "population_activity_ratio_mean": _finite_mean(activity_ratio(samples, kind="population")),
        "lifetime_activity_ratio_mean": _finite_mean(activity_ratio(samples, kind="lifetime")),
        "silent_sample_fraction": float(np.mean(~np.isfinite(population))),
        "silent_unit_fraction": float(np.mean(~np.isfinite(lifetime))),
        "coding_level": coding_level(samples),
        "population_histogram": {"bin_edges": edges.tolist(), "counts": counts.tolist()},
    }


def measure_level(
    model: nn.Module, task: str, level: int, *, settings: AnalysisSettings, seed: int
) -> dict[str, Any]:
    """Accuracy at ``level`` with the cerebellum on and off, dimensionality on its task batches, timescales.

    Returns
    -------
    dict
        :func:`~cbreservoir.analysis.ablation_accuracy`'s row (``level``, ``full``, ``ablated``,
        ``full_heads``, ``ablated_heads``), ``dimensionality`` and ``timescales`` (population -> the
        entries of :func:`~cbreservoir.analysis.dimensionality_by_population` and
        :func:`~cbreservoir.analysis.timescales_by_population`, with the population autocorrelation).
    """
    (accuracy,) = ablation_accuracy(
        model,
        task,
        levels=[level],
        n_batches=settings.test_batches,
        batch_size=settings.batch_size,
        seed=seed,
    )
    return {
        **accuracy,
        "dimensionality": dimensionality_by_population(_task_activity(model, task, level, settings, seed)),
        "timescales": _timescales(_drive(model, settings, seed), settings),
    }


def measured_levels(levels: Sequence[int], step: int) -> list[int]:
    """Every ``step``-th of the sorted ``levels`` from the first, and always the highest."""
    chosen = list(levels[::step])
    if levels and chosen[-1] != levels[-1]:
        chosen.append(levels[-1])
    return chosen


def analyse_checkpoints(
    checkpoints: Sequence[tuple[int, nn.Module]], task: str, *, settings: AnalysisSettings, seed: int
) -> list[dict[str, Any]]:
    """:func:`measure_level` of the checkpoints (level, model) at the levels of :func:`measured_levels`."""
    models = dict(checkpoints)
    return [
        measure_level(models[level], task, level, settings=settings, seed=seed)
        for level in measured_levels(sorted(models), settings.level_step)
    ]


def analyse_model(
    model: nn.Module,
    initial: nn.Module,
    task: str,
    *,
    level: int,
    settings: AnalysisSettings,
    seed: int,
    progress: bool,
) -> dict[str, Any]:
    """Readout recovery at ``level``, the core with the cerebellum off, granule sparseness (trained, initial).

    Parameters
    ----------
    model : RecurrentNetwork
        The analysed network (the weights that passed ``level``).
    initial : RecurrentNetwork
        The same network at initialisation (its sparseness is the baseline of the trained one's).

    Returns
    -------
    dict
        ``readout_recovery`` (:meth:`~cbreservoir.analysis.RecoveryResult.to_dict`),
        ``core_without_cerebellum`` (``dimensionality`` and ``timescales`` of the core with the cerebellum
        off) and ``granule_sparseness`` (``{"trained": ..., "initial": ...}`` of :func:`granule_sparseness`
        on the dimensionality batches at ``level``; None without a granule layer).
    """
    recovery = readout_recovery(
        model,
        task,
        level=level,
        n_steps=settings.recovery_steps,
        batch_size=settings.batch_size,
        n_batches=settings.test_batches,
        eval_every=max(1, settings.recovery_steps // 10),
        seed=seed,
        progress=progress,
        optimizer=settings.recovery_optimizer,
        learning_rate=settings.recovery_learning_rate,
    )
    trained = _task_activity(model, task, level, settings, seed)
    with ablate_cerebellum(model):
        core_off = {
            "dimensionality": dimensionality_by_population(
                {"core": _task_activity(model, task, level, settings, seed)["core"]}
            )["core"],
            "timescales": _timescales({"core": _drive(model, settings, seed)["core"]}, settings)["core"],
        }
    sparseness = None
    if "granule" in trained:
        sparseness = {
            "trained": granule_sparseness(trained["granule"]),
            "initial": granule_sparseness(_task_activity(initial, task, level, settings, seed)["granule"]),
        }
    return {
        "readout_recovery": recovery.to_dict(),
        "core_without_cerebellum": core_off,
        "granule_sparseness": sparseness,
    }

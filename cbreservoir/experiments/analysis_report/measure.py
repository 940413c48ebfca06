"""Measurements of the analysis report: accuracy with the cerebellum on and off, dimensionality, readout
recovery, timescales and granule sparseness of one model."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from cbreservoir.analysis.ablation import ablate_cerebellum, ablation_accuracy, readout_recovery
from cbreservoir.analysis.activity import (
    dimensionality_by_population,
    random_input_activity,
    timescales_by_population,
)
from cbreservoir.analysis.sparseness import activity_ratio, coding_level, treves_rolls_sparseness
from cbreservoir.utils.validation import check_int, check_positive_int

__all__ = [
    "SPARSENESS_BINS",
    "AnalysisSettings",
    "analyse_checkpoints",
    "analyse_model",
    "granule_sparseness",
]

#: Bins of the granule sparseness histogram over [0, 1].
SPARSENESS_BINS = 40


@dataclass(frozen=True, kw_only=True)
class AnalysisSettings:
    """Sizes of the analyses (training itself follows the reproduction profile).

    Attributes
    ----------
    test_batches : int
        Test batches of 64 trials per accuracy (ablation, readout recovery).
    recovery_steps : int
        Readout-only training steps with the cerebellum off.
    recovery_optimizer : str
        Optimiser of the readout retraining (``"adam"`` or ``"sgd"``).
    recovery_learning_rate : float
    activity_trials, activity_length, warmup : int
        Random-input trials, their length and the initial steps dropped, for dimensionality,
        timescales and sparseness.
    max_lag : int
        Largest autocorrelation lag (steps).
    fit_units : bool
        Fit every unit's autocorrelation (single vs double exponential), a few seconds per model.
    """

    test_batches: int = 20
    recovery_steps: int = 300
    recovery_optimizer: str = "adam"
    recovery_learning_rate: float = 3e-3
    activity_trials: int = 32
    activity_length: int = 220
    warmup: int = 20
    max_lag: int = 15
    fit_units: bool = True

    def __post_init__(self) -> None:
        for name in ("test_batches", "activity_trials", "activity_length", "max_lag"):
            check_positive_int(getattr(self, name), f"AnalysisSettings.{name}")
        check_int(self.recovery_steps, "AnalysisSettings.recovery_steps", minimum=0)
        steps = self.activity_length - self.warmup
        if not 0 <= self.warmup < self.activity_length or not self.max_lag < steps:
            raise ValueError(
                "AnalysisSettings needs 0 <= warmup < activity_length and "
                f"max_lag < activity_length - warmup, got warmup={self.warmup}, "
                f"activity_length={self.activity_length}, max_lag={self.max_lag}"
            )


def _random_activity(model: nn.Module, settings: AnalysisSettings, seed: int) -> dict[str, np.ndarray]:
    return random_input_activity(
        model,
        n_trials=settings.activity_trials,
        length=settings.activity_length,
        warmup=settings.warmup,
        seed=seed,
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


def analyse_checkpoints(
    checkpoints: Sequence[tuple[int, nn.Module]], task: str, *, settings: AnalysisSettings, seed: int
) -> list[dict[str, Any]]:
    """Per checkpoint: accuracy with the cerebellum on and off at its level, dimensionality per population."""
    rows = []
    for level, model in checkpoints:
        (accuracy,) = ablation_accuracy(
            model, task, levels=[level], n_batches=settings.test_batches, seed=seed
        )
        dimensionality = dimensionality_by_population(_random_activity(model, settings, seed))
        rows.append({**accuracy, "dimensionality": dimensionality})
    return rows


def analyse_model(
    model: nn.Module, task: str, *, level: int, settings: AnalysisSettings, seed: int, progress: bool
) -> dict[str, Any]:
    """Readout recovery at ``level``, dimensionality, timescales and granule sparseness of ``model``."""
    recovery = readout_recovery(
        model,
        task,
        level=level,
        n_steps=settings.recovery_steps,
        n_batches=settings.test_batches,
        eval_every=max(1, settings.recovery_steps // 10),
        seed=seed,
        progress=progress,
        optimizer=settings.recovery_optimizer,
        learning_rate=settings.recovery_learning_rate,
    )
    activity = _random_activity(model, settings, seed)
    with ablate_cerebellum(model):
        activity["core (cerebellum off)"] = _random_activity(model, settings, seed)["core"]
    return {
        "analysis_level": level,
        "readout_recovery": recovery.to_dict(),
        "dimensionality": dimensionality_by_population(activity),
        "timescales": timescales_by_population(
            activity, max_lag=settings.max_lag, fit_units=settings.fit_units
        ),
        "granule_sparseness": granule_sparseness(activity["granule"]) if "granule" in activity else None,
    }

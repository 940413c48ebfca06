"""Population activity of the torch models, and the study's dimensionality and timescales per population.

Populations are the keys of a model's ``forward(..., return_activity=True)`` dict: ``"core"`` (the
cortical state h_t) and, with the cerebellum on, ``"granule"``, ``"purkinje"`` and ``"nuclei"`` (the
cerebellar output c_t).

* Dimensionality (:func:`task_activity`, :func:`dimensionality_by_population`): the network runs
  ``n_batches`` batches of its task at level N; time steps and trials are flattened into samples.
* Timescales (:func:`random_input_activity`, :func:`timescales_by_population`): the network is driven
  with i.i.d. fair bits (the study: 8 trials of 20,000 steps, the first 500 dropped).

Examples
--------
>>> from cbreservoir.models import CBRNN
>>> from cbreservoir.analysis import random_input_activity, dimensionality_by_population
>>> model = CBRNN(1, units=16, n_granule=32, n_purkinje=8, seed=0)
>>> activity = random_input_activity(model, n_trials=8, n_steps=60, warmup=10, seed=0)
>>> sorted(activity), activity["granule"].shape
(['core', 'granule', 'nuclei', 'purkinje'], (8, 50, 32))
>>> sorted(dimensionality_by_population(activity)["core"])
['d90', 'd95', 'd95_per_unit', 'participation_ratio', 'units']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from cbreservoir.analysis.dimensionality import pca_spectrum, spectrum_dimensions
from cbreservoir.analysis.timescales import (
    POPULATION_MAX_LAG,
    UNIT_MAX_LAG,
    fit_unit_timescales,
    population_autocorrelation,
    timescale_from_autocorrelation,
)
from cbreservoir.numerics.study import STUDY
from cbreservoir.tasks import make_task_batch
from cbreservoir.utils.checks import check_int, check_positive_int

#: The study's random-input drive for timescales: trials, steps (the first ``warmup`` dropped).
DRIVE_TRIALS, DRIVE_STEPS, DRIVE_WARMUP = 8, 20_000, 500
#: The study's task data for dimensionality: batches of trials at the network's level.
TASK_BATCHES, TASK_BATCH_SIZE = STUDY.dimensionality_batches, STUDY.batch_size


def seeded_generator(model: nn.Module, seed: int) -> torch.Generator:
    """A ``torch.Generator`` on the model's device seeded with ``seed`` (for its initial states)."""
    device = next(model.parameters()).device
    return torch.Generator(device=device).manual_seed(int(seed))


@torch.no_grad()
def collect_activity(
    model: nn.Module, x: np.ndarray | torch.Tensor, *, seed: int = 0, flatten: bool = True
) -> dict[str, np.ndarray]:
    """Run ``model`` on ``x`` and return the activity of each population in the model's float dtype.

    Parameters
    ----------
    model : RecurrentNetwork
        A :mod:`cbreservoir.models` model (``forward(..., return_activity=True)``).
    x : array or tensor (B, T, d)
    seed : int
        Seeds the initial states h_0.
    flatten : bool
        ``True``: each population (B · T, units), samples = trials × steps (for dimensionality and
        sparseness); ``False``: (B, T, units) (for timescales).

    Returns
    -------
    dict
        Population name -> activity.
    """
    _, activity = model(x, return_activity=True, generator=seeded_generator(model, seed))
    arrays = {name: values.detach().cpu().numpy() for name, values in activity.items()}
    if flatten:
        return {name: values.reshape(-1, values.shape[-1]) for name, values in arrays.items()}
    return arrays


def random_input_activity(
    model: nn.Module,
    *,
    n_trials: int = DRIVE_TRIALS,
    n_steps: int = DRIVE_STEPS,
    warmup: int = DRIVE_WARMUP,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Activity (trials, time, units) per population under i.i.d. fair bits on every input channel.

    Parameters
    ----------
    model : RecurrentNetwork
        Its ``input_dim`` sets the number of input channels.
    n_trials, n_steps : int
        Parallel trials of ``n_steps`` steps (the study: 8 of 20,000).
    warmup : int
        Initial steps dropped from the returned activity (the study: 500).
    seed : int
        Seeds the bits and the initial states.

    Returns
    -------
    dict
        Population name -> (n_trials, n_steps − warmup, units).
    """
    check_positive_int(n_trials, "n_trials")
    check_positive_int(n_steps, "n_steps")
    check_int(warmup, f"warmup (fewer than n_steps={n_steps})", minimum=0, maximum=n_steps - 1)
    bits = np.random.default_rng(seed).integers(0, 2, size=(n_trials, n_steps, model.input_dim))
    activity = collect_activity(model, bits.astype(np.float32), seed=seed, flatten=False)
    return {name: values[:, warmup:] for name, values in activity.items()}


def task_activity(
    model: nn.Module,
    task: str,
    level: int,
    *,
    n_batches: int = TASK_BATCHES,
    batch_size: int = TASK_BATCH_SIZE,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Activity per population on ``n_batches`` batches of ``task`` at ``level``, as (samples, units).

    Each batch's (trials, time) are flattened into samples and the batches concatenated (batches have
    their own sequence lengths). The batches are those of :func:`cbreservoir.tasks.make_task_batch` from
    ``numpy.random.default_rng([seed, level])``.

    Parameters
    ----------
    model : RecurrentNetwork
    task : str
        ``"dms"``, ``"parity"``, ``"mod3"``, ``"multitask"`` or ``"switching"``.
    level : int
        Task level N.
    n_batches, batch_size : int
        The study: 10 batches of 64 trials.
    seed : int
        Seeds the data and the initial states.

    Returns
    -------
    dict
        Population name -> (samples, units).
    """
    check_positive_int(n_batches, "n_batches")
    rng = np.random.default_rng([seed, level])
    batches = [
        collect_activity(model, make_task_batch(task, level, batch_size=batch_size, seed=rng)[0], seed=seed)
        for _ in range(n_batches)
    ]
    return {name: np.concatenate([batch[name] for batch in batches]) for name in batches[0]}


def _flattened(activity: np.ndarray) -> np.ndarray:
    return activity.reshape(-1, activity.shape[-1])


def dimensionality_by_population(activity: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """The study's dimensionality of each population (:func:`~cbreservoir.analysis.spectrum_dimensions`).

    Parameters
    ----------
    activity : dict
        Population -> (samples, units) or (trials, time, units) (flattened to samples).

    Returns
    -------
    dict
        Population -> ``{"d90", "d95", "d95_per_unit", "participation_ratio", "units"}``.
    """
    return {
        name: spectrum_dimensions(pca_spectrum(_flattened(values)), units=values.shape[-1])
        for name, values in activity.items()
    }


def timescales_by_population(
    activity: dict[str, np.ndarray],
    *,
    population_max_lag: int = POPULATION_MAX_LAG,
    unit_max_lag: int = UNIT_MAX_LAG,
    fit_units: bool = True,
    keep_autocorrelation: bool = False,
) -> dict[str, dict[str, Any]]:
    """The study's timescales of each population's (trials, time, units) activity.

    Parameters
    ----------
    activity : dict
        Population -> (trials, time, units), e.g. from :func:`random_input_activity`.
    population_max_lag : int
        Lags of the summed population's autocorrelation (the study: 0–199).
    unit_max_lag : int
        Lags of the per-unit exponential fits (the study: 0–30).
    fit_units : bool
        Fit every unit (``False`` leaves the unit entries out, e.g. for smoke tests).
    keep_autocorrelation : bool
        Also return the population autocorrelation (``population_max_lag + 1`` values).

    Returns
    -------
    dict
        Population -> ``{"population_timescale": τ_pop (int, None when the autocorrelation stays above 1/e
        up to population_max_lag), "median_unit_timescale", "mean_unit_timescale" (τ_net over the fitted
        units), "fraction_double", "fitted_units", "units"}`` (+ ``"population_autocorrelation"``).
        A population whose summed activity has no variance maps to ``{"silent": True, "units": n}``.
    """
    summary: dict[str, dict[str, Any]] = {}
    for name, values in activity.items():
        units = int(values.shape[-1])
        check_int(population_max_lag, "population_max_lag", minimum=1, maximum=values.shape[-2] - 1)
        try:
            acf = population_autocorrelation(values, population_max_lag)
        except ValueError:
            summary[name] = {"silent": True, "units": units}
            continue
        entry: dict[str, Any] = {"population_timescale": timescale_from_autocorrelation(acf), "units": units}
        if keep_autocorrelation:
            entry["population_autocorrelation"] = acf.tolist()
        if fit_units:
            fits = fit_unit_timescales(values, unit_max_lag)
            entry.update(
                median_unit_timescale=fits.median_timescale,
                mean_unit_timescale=fits.mean_timescale,
                fraction_double=fits.fraction_double,
                fitted_units=fits.n_fitted,
            )
        summary[name] = entry
    return summary

"""Population activity of the torch models, and its dimensionality and timescales per population.

Populations are the keys of a model's ``forward(..., return_activity=True)`` dict: ``"core"`` (the
cortical state h_t) and, with the cerebellum on, ``"granule"``, ``"purkinje"`` and ``"nuclei"`` (c_t).

Examples
--------
>>> from cbreservoir.models import CBRNN
>>> from cbreservoir.analysis import random_input_activity, dimensionality_by_population
>>> model = CBRNN(1, units=16, n_granule=32, n_purkinje=8, seed=0)
>>> activity = random_input_activity(model, n_trials=8, length=50, seed=0)
>>> sorted(activity), activity["granule"].shape
(['core', 'granule', 'nuclei', 'purkinje'], (8, 50, 32))
>>> sorted(dimensionality_by_population(activity)["core"])
['d90', 'd95', 'participation_ratio']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from cbreservoir.analysis.dimensionality import participation_ratio, pca_dimensions
from cbreservoir.analysis.timescales import (
    fit_exponential_decay,
    fit_unit_timescales,
    population_autocorrelation,
    timescale_from_autocorrelation,
)


def seeded_generator(model: nn.Module, seed: int) -> torch.Generator:
    """A ``torch.Generator`` on the model's device seeded with ``seed`` (for its initial states)."""
    device = next(model.parameters()).device
    return torch.Generator(device=device).manual_seed(int(seed))


@torch.no_grad()
def collect_activity(
    model: nn.Module, x: np.ndarray | torch.Tensor, *, seed: int = 0, flatten: bool = True
) -> dict[str, np.ndarray]:
    """Run ``model`` on ``x`` and return the activity of each population as float64 arrays.

    Parameters
    ----------
    model : RecurrentClassifier
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
    arrays = {name: values.detach().cpu().double().numpy() for name, values in activity.items()}
    if flatten:
        return {name: values.reshape(-1, values.shape[-1]) for name, values in arrays.items()}
    return arrays


def random_input_activity(
    model: nn.Module, *, n_trials: int = 32, length: int = 200, warmup: int = 0, seed: int = 0
) -> dict[str, np.ndarray]:
    """Activity (trials, time, units) per population under fair random bits on every input channel.

    Parameters
    ----------
    model : RecurrentClassifier
        Its ``input_dim`` sets the number of input channels.
    n_trials, length : int
        Trials of ``length`` steps.
    warmup : int
        Initial steps dropped from the returned activity (transient from h_0).
    seed : int
        Seeds the bits and the initial states.

    Returns
    -------
    dict
        Population name -> (n_trials, length − warmup, units).
    """
    if not 0 <= warmup < length:
        raise ValueError(f"warmup must be in [0, length={length}), got {warmup}")
    bits = np.random.default_rng(seed).integers(0, 2, size=(n_trials, length, model.input_dim))
    activity = collect_activity(model, bits.astype(np.float32), seed=seed, flatten=False)
    return {name: values[:, warmup:] for name, values in activity.items()}


def _flattened(activity: np.ndarray) -> np.ndarray:
    return activity.reshape(-1, activity.shape[-1])


def dimensionality_by_population(
    activity: dict[str, np.ndarray], fractions: tuple[float, float] = (0.9, 0.95)
) -> dict[str, dict[str, float]]:
    """PCA d90, d95 and participation ratio of each population.

    Parameters
    ----------
    activity : dict
        Population -> (samples, units) or (trials, time, units) (flattened to samples).
    fractions : (float, float)
        Variance fractions reported as ``"d90"`` and ``"d95"``.

    Returns
    -------
    dict
        Population -> ``{"d90": int, "d95": int, "participation_ratio": float}``.
    """
    summary = {}
    for name, values in activity.items():
        samples = _flattened(values)
        dims = pca_dimensions(samples, fractions)
        summary[name] = {
            "d90": dims[fractions[0]],
            "d95": dims[fractions[1]],
            "participation_ratio": participation_ratio(samples),
        }
    return summary


def timescales_by_population(
    activity: dict[str, np.ndarray], *, max_lag: int = 30, fit_units: bool = True, first_lag: int = 0
) -> dict[str, dict[str, Any]]:
    """Autocorrelation timescales of each population's (trials, time, units) activity.

    Parameters
    ----------
    activity : dict
        Population -> (trials, time, units), e.g. from :func:`random_input_activity`.
    max_lag : int
        Largest lag of the autocorrelations (steps).
    fit_units : bool
        Also fit every unit (single vs double exponential by AIC); slower for large populations.
    first_lag : int
        First lag of the exponential fits. Model activity carries no measurement noise, so lag 0
        is included by default (it pins the amplitude, which matters for sub-step timescales);
        use 1 for noisy recordings.

    Returns
    -------
    dict
        Population -> ``{"autocorrelation": list (max_lag + 1), "lag_below_1_over_e": float,
        "lag_below_1_over_e_interpolated": float, "network_fit": {model, timescale, taus, amplitudes},
        "median_unit_timescale": float, "fraction_double": float}`` (unit entries only with
        ``fit_units``). Silent populations map to ``{"silent": True}``.
    """
    summary: dict[str, dict[str, Any]] = {}
    for name, values in activity.items():
        try:
            acf = population_autocorrelation(values, max_lag)
        except ValueError:
            summary[name] = {"silent": True}
            continue
        fit = fit_exponential_decay(acf, first_lag)  # network_timescale, without a second acf
        entry: dict[str, Any] = {
            "autocorrelation": acf.tolist(),
            "lag_below_1_over_e": timescale_from_autocorrelation(acf),
            "lag_below_1_over_e_interpolated": timescale_from_autocorrelation(acf, interpolate=True),
            "network_fit": {
                "model": fit.model,
                "timescale": fit.timescale,
                "taus": list(fit.taus),
                "amplitudes": list(fit.amplitudes),
            },
        }
        if fit_units:
            units = fit_unit_timescales(values, max_lag, first_lag=first_lag)
            entry["median_unit_timescale"] = units.median_timescale
            entry["fraction_double"] = units.fraction_double
            entry["fitted_units"] = int(np.isfinite(units.timescales).sum())
        summary[name] = entry
    return summary

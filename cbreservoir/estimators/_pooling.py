"""Sequence-to-vector features: a series' granule code pooled over time.

For a granule code ``g`` of one series, ``(T, G)``, each pooling gives ``G`` numbers:

* ``"last"`` — the final step, ``g[T-1]`` (the study's read-out);
* ``"mean"`` — each granule cell's mean rate over the trial, ``mean_t g[t]``;
* ``"active"`` — the proportion of steps in which each cell is active, ``mean_t [g[t] > 0]`` (what
  MiniRocket pools from its convolutions, its "proportion of positive values").

With ``windows=w > 1`` the poolings are also taken over each of ``w`` consecutive windows of (nearly)
equal length, so the features keep *when* in the series a cell fired; :func:`sampled_steps` picks the
evenly spaced steps at which a long series is read.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["POOLINGS", "check_pooling", "pool_codes", "sampled_steps", "window_bounds"]

#: The poolings :func:`pool_codes` knows, in the order their blocks appear in the features.
POOLINGS = ("last", "mean", "active")


def check_pooling(pooling: object, owner: str) -> tuple[str, ...]:
    """Validate a pooling parameter: a non-empty tuple or list of distinct names from :data:`POOLINGS`.

    Returns
    -------
    tuple of str
        The names, in the order given.
    """
    if isinstance(pooling, str) or not isinstance(pooling, (tuple, list)):
        raise TypeError(
            f"{owner}: pooling must be a tuple of names from {POOLINGS}, e.g. ('mean', 'last'); "
            f"got {pooling!r}"
        )
    unknown = [name for name in pooling if name not in POOLINGS]
    if not pooling or unknown or len(set(pooling)) != len(pooling):
        raise ValueError(
            f"{owner}: pooling must hold distinct names from {POOLINGS} (at least one); "
            f"got {tuple(pooling)!r}"
        )
    return tuple(pooling)


def window_bounds(n_steps: int, windows: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of ``windows`` consecutive windows over ``n_steps`` steps, each non-empty
    (windows of a series shorter than ``windows`` repeat its steps)."""
    starts = (np.arange(windows) * n_steps) // windows
    starts = np.minimum(starts, n_steps - 1)
    stops = np.maximum(((np.arange(windows) + 1) * n_steps) // windows, starts + 1)
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def sampled_steps(n_steps: int, max_steps: int | None) -> np.ndarray:
    """Indices of at most ``max_steps`` evenly spaced steps of a series, the last step always among
    them (all ``n_steps`` steps when ``max_steps`` is None or not smaller)."""
    if max_steps is None or n_steps <= max_steps:
        return np.arange(n_steps)
    return np.round(np.linspace(n_steps - 1, 0, max_steps)[::-1]).astype(int)


def pool_codes(codes: Sequence[np.ndarray], pooling: tuple[str, ...], windows: int = 1) -> np.ndarray:
    """Pool each series' code over time (and over ``windows`` windows when ``windows > 1``).

    Parameters
    ----------
    codes : sequence of ndarray (T_i, G)
        One code per series (lengths may differ).
    pooling : tuple of str
        Names from :data:`POOLINGS`; their ``G``-column blocks are concatenated in this order.
    windows : int, default 1
        With ``w > 1``, the blocks of the whole series are followed by those of each window
        (:func:`window_bounds`), window after window.

    Returns
    -------
    ndarray (S, len(pooling) * G * (1 + w)) for w > 1, else (S, len(pooling) * G)
    """
    reducers = {
        "last": lambda g: g[-1],
        "mean": lambda g: g.mean(axis=0),
        "active": lambda g: (g > 0).mean(axis=0),
    }

    def features(g: np.ndarray) -> np.ndarray:
        parts = [g] + ([g[a:b] for a, b in window_bounds(len(g), windows)] if windows > 1 else [])
        return np.concatenate([reducers[name](part) for part in parts for name in pooling])

    return np.stack([features(g) for g in codes])

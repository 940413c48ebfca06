"""Sequence-to-vector features: a series' granule code pooled over time.

For a granule code ``g`` of one series, ``(T, G)``, each pooling gives ``G`` numbers:

* ``"last"`` — the final step, ``g[T-1]`` (the study's read-out);
* ``"mean"`` — each granule cell's mean rate over the trial, ``mean_t g[t]``;
* ``"active"`` — the proportion of steps in which each cell is active, ``mean_t [g[t] > 0]`` (what
  MiniRocket pools from its convolutions, its "proportion of positive values").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["POOLINGS", "check_pooling", "pool_codes"]

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


def pool_codes(codes: Sequence[np.ndarray], pooling: tuple[str, ...]) -> np.ndarray:
    """Pool each series' code over time.

    Parameters
    ----------
    codes : sequence of ndarray (T_i, G)
        One code per series (lengths may differ).
    pooling : tuple of str
        Names from :data:`POOLINGS`; their ``G``-column blocks are concatenated in this order.

    Returns
    -------
    ndarray (S, len(pooling) * G)
    """
    reducers = {
        "last": lambda g: g[-1],
        "mean": lambda g: g.mean(axis=0),
        "active": lambda g: (g > 0).mean(axis=0),
    }
    return np.stack([np.concatenate([reducers[name](g) for name in pooling]) for g in codes])

"""Nonlinear memory: recall the product of two past ±1 inputs, y(t) = u(t − d1) · u(t − d2).

The product of two ±1 bits is their XNOR, an *even* function of the input history. A tanh reservoir
without bias is an odd function of its input (h(−u) = −h(u)), so no linear readout of its states
can produce the target: the task separates a plain reservoir from one with a nonlinear expansion
(the cerebellar granule layer) in front of the readout.

Examples
--------
>>> from cbreservoir.tasks import nonlinear_memory_task
>>> u, y = nonlinear_memory_task(n_series=2, length=6, delays=(1, 3), seed=0)
>>> u.shape, y.shape
((2, 6, 1), (2, 6, 1))
>>> bool((y[:, 3:, 0] == u[:, 2:-1, 0] * u[:, :-3, 0]).all()), bool((y[:, :3] == 0).all())
(True, True)
"""

from __future__ import annotations

import numpy as np

from cbreservoir.utils.checks import check_positive_int

__all__ = ["nonlinear_memory_task"]


def nonlinear_memory_task(
    n_series: int,
    length: int,
    *,
    delays: tuple[int, int] = (1, 3),
    seed: int | np.random.Generator | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of the nonlinear memory task.

    Parameters
    ----------
    n_series : int
        Number of series S.
    length : int
        Steps per series T (> max(delays)).
    delays : (int, int), default (1, 3)
        d1, d2 >= 0.
    seed : int or numpy Generator, default 0

    Returns
    -------
    u : ndarray (S, T, 1), float64
        I.i.d. fair ±1 inputs.
    y : ndarray (S, T, 1), float64
        ``y[:, t] = u[:, t − d1] · u[:, t − d2]`` for ``t >= max(delays)``, 0 before (use a warmup
        of at least ``max(delays)`` steps when fitting).

    Raises
    ------
    ValueError
        Non-positive sizes, negative delays, or series not longer than the largest delay.
    """
    check_positive_int(n_series, "n_series")
    check_positive_int(length, "length")
    if len(delays) != 2 or any(int(d) != d or d < 0 for d in delays):
        raise ValueError(f"delays must be two non-negative ints; got {delays!r}")
    first, second = (int(d) for d in delays)
    horizon = max(first, second)
    if length <= horizon:
        raise ValueError(f"length must exceed the largest delay ({horizon}); got {length}")
    u = np.random.default_rng(seed).choice([-1.0, 1.0], size=(n_series, length, 1))
    y = np.zeros_like(u)
    y[:, horizon:] = u[:, horizon - first : length - first] * u[:, horizon - second : length - second]
    return u, y

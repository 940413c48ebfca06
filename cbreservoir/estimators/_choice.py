"""How a series is read, chosen inside ``fit`` for targets per series (``auto=True``).

A reading is which steps feed the pooling (``max_steps``: evenly sampled, or every step), over how many
windows (``windows``) and with which poolings (``pooling``, :mod:`._pooling`). The candidates
(:func:`reading_candidates`) differ only in how the same granule code is pooled, so the reservoir runs
once and the cerebellum once per distinct ``max_steps``: the features of the largest reading (every
pooling, the most windows) are pooled once, every column is standardised, and each candidate's rows are a
choice of column blocks. The Gram matrix of a choice is the sum of its blocks' Gram matrices, so every
candidate and every ridge penalty is scored by the exact leave-one-out error of the ridge readout
(:func:`._alpha.gram_loo_errors`, as scikit-learn's ``RidgeClassifierCV`` scores its penalties) without
building its rows; the best reading (ties: the earlier, smaller candidate) and penalty are the fit's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.preprocessing import StandardScaler

from cbreservoir.estimators._pooling import POOLINGS
from cbreservoir.numerics.ridge_loo import gram_loo_errors

__all__ = ["Choice", "Reading", "choose_reading", "reading_candidates", "reading_columns"]


@dataclass(frozen=True)
class Reading:
    """One way to read a series: ``max_steps`` (None: every step), ``windows`` and ``pooling``."""

    max_steps: int | None
    windows: int
    pooling: tuple[str, ...]

    def __str__(self) -> str:
        steps = "every step" if self.max_steps is None else f"{self.max_steps} sampled steps"
        return f"{steps}, windows={self.windows}, pooling={self.pooling}"


@dataclass(frozen=True)
class Choice:
    """The chosen reading and penalty, and the leave-one-out error of every candidate at its best penalty."""

    reading: Reading
    alpha: float
    errors: dict[str, float]


def reading_candidates(
    max_steps: int | None, windows: int, pooling: tuple[str, ...], longest: int
) -> list[Reading]:
    """The readings ``fit`` chooses among, smallest first: the given ``max_steps`` and, when a series is
    longer, every step; one window and ``windows``; ``pooling`` and ``pooling`` with ``"last"``."""
    steps = [max_steps] + ([None] if max_steps is not None and longest > max_steps else [])
    poolings = [pooling]
    if "last" not in pooling:
        poolings.append(tuple(name for name in POOLINGS if name in pooling or name == "last"))
    return [Reading(s, w, p) for s in steps for w in sorted({1, windows}) for p in poolings]


def _blocks(widths: Sequence[int], most_windows: int, reading: Reading) -> list[tuple[int, int]]:
    """``(first column, width)`` of each block of ``reading``'s features among the largest reading's, in the
    order :func:`._pooling.pool_codes` gives the reading's own features (see :func:`reading_columns`)."""
    n_parts = 1 if most_windows == 1 else 1 + most_windows
    parts = range(1) if reading.windows == 1 else range(n_parts)
    blocks, offset = [], 0
    for width in widths:
        for part in parts:
            for name in reading.pooling:
                blocks.append((offset + (part * len(POOLINGS) + POOLINGS.index(name)) * width, width))
        offset += n_parts * len(POOLINGS) * width
    return blocks


def reading_columns(widths: Sequence[int], most_windows: int, reading: Reading) -> np.ndarray:
    """Columns of ``reading``'s features among the features of the largest reading.

    The largest reading pools every block of ``widths`` columns (granule code, states, ...) with all
    :data:`POOLINGS` over the whole series and ``most_windows`` windows (:func:`._pooling.pool_codes`);
    the columns come back in the order ``pool_codes`` gives the reading's own features.
    """
    blocks = _blocks(widths, most_windows, reading)
    return np.concatenate([np.arange(start, start + width) for start, width in blocks])


def choose_reading(
    features: dict[int | None, np.ndarray],
    widths: Sequence[int],
    most_windows: int,
    candidates: Sequence[Reading],
    targets: np.ndarray,
    alphas: Sequence[float],
) -> Choice:
    """The candidate and penalty with the smallest exact leave-one-out error of the ridge readout.

    Parameters
    ----------
    features : dict max_steps -> ndarray (n, p)
        The largest reading's features for each ``max_steps`` of the candidates (:func:`reading_columns`).
    widths : sequence of int
        Columns of each pooled block (e.g. ``n_granule``).
    most_windows : int
        The windows of the largest reading.
    candidates : sequence of Reading
        Smallest first (ties go to the earlier).
    targets : ndarray (n, k)
        One-hot classes or values.
    alphas : sequence of float > 0

    Returns
    -------
    Choice
    """
    standardised = {steps: StandardScaler().fit_transform(rows) for steps, rows in features.items()}
    grams: dict[tuple[int | None, int], np.ndarray] = {}  # (max_steps, first column) -> the block's Gram

    def gram(steps: int | None, start: int, width: int) -> np.ndarray:
        if (steps, start) not in grams:
            block = standardised[steps][:, start : start + width]
            grams[steps, start] = block @ block.T
        return grams[steps, start]

    order = np.argsort(alphas)[::-1]  # largest penalty first: argmin breaks ties towards it
    best: tuple[float, Reading, float] = (np.inf, candidates[0], float(alphas[0]))
    errors = {}
    for reading in candidates:
        blocks = _blocks(widths, most_windows, reading)
        total = sum(gram(reading.max_steps, start, width) for start, width in blocks)
        loo = gram_loo_errors(total, targets, alphas)
        index = order[np.argmin(loo[order])]
        errors[str(reading)] = float(loo[index])
        if loo[index] < best[0]:
            best = (float(loo[index]), reading, float(alphas[index]))
    return Choice(best[1], best[2], errors)

"""Learning-efficiency metrics of curriculum runs, as the study defines them.

The study: Voce, Giannakakis & Clopath 2026, arXiv:2605.10356.

A run's curve N(e) is the list of curriculum levels, one per epoch: ``levels[e - 1]`` is the level
at which epoch e (1-based) trained and was tested — the ``levels`` of a
:class:`~cbreservoir.training.curriculum.CurriculumHistory`. Every function taking ``levels`` also
accepts such a history (anything with a ``levels`` attribute).

* :func:`max_level` — max N of a run; :func:`global_max_level` — max over all runs of all groups.
* :func:`epochs_to_level` — the 1-based number of the first epoch at level >= L (``None`` if the run
  never gets there, or ``censor`` when given); :func:`epochs_to_half_max` is the first epoch with
  N >= ½ · global max N (for integer levels, N >= ⌈global max / 2⌉).
* :func:`auc` — trapezoid area under N(e) with unit epoch spacing: Σ N − (N_first + N_last) / 2.
* :func:`mean_level` — mean N over the epochs.
* :func:`summarize` — mean, SD (ddof = 1), SEM = SD / √n over runs; ``None`` values (runs that never
  reached a level) are left out and counted in ``n_missing``.
* :func:`compare_groups` — ratio of two groups' means with a bootstrap confidence interval
  (:func:`scipy.stats.bootstrap`, resampling each group independently), Welch's t-test and an exact
  permutation test of the difference (:func:`scipy.stats.ttest_ind`, :func:`scipy.stats.permutation_test`).
* switching: :func:`active_mean_level` and :func:`active_auc` — the same on the active-task level
  over the first ``n_epochs`` epochs (the study reports the first 650); :func:`inactive_task_accuracy`
  — forgetting: the inactive task's test accuracy after the first switch.

Examples
--------
>>> from cbreservoir.analysis.metrics import auc, epochs_to_half_max, global_max_level, summarize
>>> runs = [[2, 2, 3, 4, 4, 5], [2, 3, 3, 3, 3, 3]]
>>> global_max_level(runs)
5
>>> [epochs_to_half_max(run, global_max_level(runs)) for run in runs]   # first epoch with N >= 2.5
[3, 2]
>>> auc([2, 2, 3, 4, 4, 5])
16.5
>>> summarize([3, 2])["mean"]
2.5
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from scipy import stats
from scipy.integrate import trapezoid

from cbreservoir.utils.checks import check_real

__all__ = [
    "max_level",
    "global_max_level",
    "epochs_to_level",
    "epochs_to_half_max",
    "auc",
    "mean_level",
    "summarize",
    "active_mean_level",
    "active_auc",
    "inactive_task_accuracy",
    "continual_metrics",
    "compare_groups",
]


def _as_levels(levels: Sequence[int] | Any) -> np.ndarray:
    """A run's curve as a 1-D float array; accepts a sequence or an object with ``.levels``."""
    values = getattr(levels, "levels", levels)
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"levels must be a non-empty 1-D sequence (one level per epoch), got shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError("levels must be finite numbers, got NaN or inf")
    return array


def _window(levels: Sequence[int] | Any, n_epochs: int | None) -> np.ndarray:
    curve = _as_levels(levels)
    if n_epochs is None:
        return curve
    if n_epochs < 1 or n_epochs > curve.size:
        raise ValueError(f"n_epochs must be in [1, {curve.size}] (the run's length), got {n_epochs}")
    return curve[:n_epochs]


def _as_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def max_level(levels: Sequence[int] | Any) -> int | float:
    """Highest level of a run (max N)."""
    return _as_number(_as_levels(levels).max())


def global_max_level(curves: Iterable[Sequence[int] | Any]) -> int | float:
    """Highest level over all runs (of all compared groups).

    Parameters
    ----------
    curves : iterable of level sequences (or histories)
    """
    maxima = [max_level(curve) for curve in curves]
    if not maxima:
        raise ValueError("curves must hold at least one run, got none")
    return max(maxima)


def epochs_to_level(levels: Sequence[int] | Any, level: float, *, censor: int | None = None) -> int | None:
    """Number of the first epoch (1-based) whose level is >= ``level``.

    Parameters
    ----------
    levels : sequence of int (or a history)
        N(e), one entry per epoch.
    level : float
        Target level L.
    censor : int, optional
        Returned when the run never reaches L (e.g. the epoch budget, for a censored mean).

    Returns
    -------
    int or None
        e such that ``levels[e - 1] >= level`` and no earlier epoch does; ``censor`` (default ``None``)
        if no epoch reaches ``level``. A run starting at or above L gives 1.
    """
    reached = np.flatnonzero(_as_levels(levels) >= level)
    return int(reached[0]) + 1 if reached.size else censor


def epochs_to_half_max(
    levels: Sequence[int] | Any, global_max: float, *, censor: int | None = None
) -> int | None:
    """First epoch (1-based) with N >= ½ · ``global_max`` — the study's learning-speed number.

    See :func:`epochs_to_level` for ``censor`` and the return value.
    """
    return epochs_to_level(levels, global_max / 2.0, censor=censor)


def auc(levels: Sequence[int] | Any) -> float:
    """Area under N(e) by the trapezoid rule with one-epoch spacing (0 for a single epoch)."""
    return float(trapezoid(_as_levels(levels)))


def mean_level(levels: Sequence[int] | Any) -> float:
    """Mean level over the run's epochs."""
    return float(_as_levels(levels).mean())


def summarize(values: Iterable[float | None]) -> dict[str, float | int]:
    """Mean, standard deviation, standard error over runs.

    Parameters
    ----------
    values : iterable of float or None
        One number per run; ``None`` marks a run without a value (e.g. never reached a level).

    Returns
    -------
    dict
        ``mean``, ``sd`` (ddof = 1; NaN for one value), ``sem`` = sd / √n (NaN for one value),
        ``n`` (values used), ``n_missing`` (``None`` entries left out).
    """
    values = list(values)
    present = np.asarray([value for value in values if value is not None], dtype=np.float64)
    if present.size == 0:
        raise ValueError(f"summarize needs at least one non-None value, got {values!r}")
    sd = float(present.std(ddof=1)) if present.size > 1 else math.nan
    return {
        "mean": float(present.mean()),
        "sd": sd,
        "sem": sd / math.sqrt(present.size),
        "n": int(present.size),
        "n_missing": len(values) - int(present.size),
    }


def active_mean_level(levels: Sequence[int] | Any, n_epochs: int | None = None) -> float:
    """Mean active-task level of a switching run over its first ``n_epochs`` epochs (all if None)."""
    return mean_level(_window(levels, n_epochs))


def active_auc(levels: Sequence[int] | Any, n_epochs: int | None = None) -> float:
    """Trapezoid area under the active-task level of a switching run over its first ``n_epochs`` epochs."""
    return auc(_window(levels, n_epochs))


def inactive_task_accuracy(records: Sequence[dict], n_epochs: int | None = None) -> float | None:
    """Mean test accuracy of the inactive task's head after the first switch (forgetting in task switching).

    Every epoch tests both heads on the same sequences at the current level; from the first epoch
    whose active head differs from the first epoch's, the head that is not being trained is the task
    learned before (0.5 is chance for the binary tasks).

    Parameters
    ----------
    records : sequence of dict
        The epoch records of a switching run (``history["records"]`` of a run record), each with
        ``active_head`` (0 or 1) and ``head_accuracies`` (one accuracy per head).
    n_epochs : int, optional
        Only the first ``n_epochs`` epochs (all if None).

    Returns
    -------
    float or None
        None if the run never switched within the window.

    Examples
    --------
    >>> records = [{"active_head": 0, "head_accuracies": [0.99, 0.5]},
    ...            {"active_head": 1, "head_accuracies": [0.8, 0.7]},
    ...            {"active_head": 1, "head_accuracies": [0.6, 0.99]}]
    >>> round(inactive_task_accuracy(records), 6)
    0.7
    """
    window = list(records)[:n_epochs]
    if not window:
        raise ValueError("expected the records of at least one epoch, got none")
    first = window[0]["active_head"]
    switched = next((i for i, record in enumerate(window) if record["active_head"] != first), None)
    if switched is None:
        return None
    return float(np.mean([r["head_accuracies"][1 - r["active_head"]] for r in window[switched:]]))


def continual_metrics(records: Sequence[dict], phase_epochs: int) -> dict[str, Any]:
    """Epochs to criterion per phase, accuracies after each phase's budget and the savings ratio.

    For a run of the continual plan (:class:`~cbreservoir.training.ContinualTrainer`): phase p holds epochs
    ``p * phase_epochs + 1 .. (p + 1) * phase_epochs``; its epochs to criterion E_p is the 1-based epoch
    within the phase of its first ``solved`` epoch (active-task test accuracy at the threshold), None if
    none. The savings ratio compares the first phase with the repeated one (the same task again, the last
    phase): ``(E_first − E_repeated) / E_first``; a repeated phase that never reaches the criterion counts as
    ``phase_epochs + 1`` (``savings_censored``); None when the first phase never reached it.

    Parameters
    ----------
    records : sequence of dict
        The epoch records (``history["records"]`` of a run record): ``solved``, ``active_head``,
        ``head_accuracies``.
    phase_epochs : int

    Returns
    -------
    dict
        ``epochs_to_criterion`` (one per phase), ``final_accuracy`` (the active head's test accuracy at each
        phase's last epoch: the fixed-budget accuracy), ``final_inactive_accuracy`` (the other head's, on its
        own cue: forgetting), ``savings``, ``savings_censored``.

    Examples
    --------
    >>> def record(solved, head):
    ...     return {"solved": solved, "active_head": head, "head_accuracies": [0.99 if solved else 0.6, 0.5]}
    >>> plan = [record(s, h) for s, h in [(0, 0), (1, 0), (0, 1), (0, 1), (1, 0), (1, 0)]]
    >>> metrics = continual_metrics(plan, phase_epochs=2)
    >>> metrics["epochs_to_criterion"], metrics["savings"]
    ([2, None, 1], 0.5)
    """
    phases = [list(records)[start : start + phase_epochs] for start in range(0, len(records), phase_epochs)]
    if not phases or len(phases[-1]) != phase_epochs:
        raise ValueError(
            f"expected whole phases of {phase_epochs} epochs, got {len(records)} epoch records"
        )
    reached = [next((i + 1 for i, record in enumerate(phase) if record["solved"]), None) for phase in phases]
    first, repeated = reached[0], reached[-1]
    censored = repeated is None
    savings = None
    if first is not None and len(phases) > 1:
        savings = (first - (phase_epochs + 1 if censored else repeated)) / first
    return {
        "epochs_to_criterion": reached,
        "final_accuracy": [float(p[-1]["head_accuracies"][p[-1]["active_head"]]) for p in phases],
        "final_inactive_accuracy": [
            float(p[-1]["head_accuracies"][1 - p[-1]["active_head"]]) for p in phases
        ],
        "savings": savings,
        "savings_censored": censored and savings is not None,
    }


def _ratio_of_means(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(a, axis=axis) / np.mean(b, axis=axis)


def _difference_of_means(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def compare_groups(
    values: Iterable[float],
    reference: Iterable[float],
    *,
    confidence_level: float = 0.95,
    n_resamples: int = 9999,
    seed: int = 0,
) -> dict[str, float | int | str]:
    """Compare one group of runs with a reference group: ratio of means, its CI, and two tests.

    Parameters
    ----------
    values, reference : iterable of float
        One number per run of each group (e.g. epochs to half of the global max N), at least 2 each.
    confidence_level : float
        Of the bootstrap interval of the ratio, in (0, 1).
    n_resamples : int
        Bootstrap resamples (and the permutation test's, which is exact when the groups have no more
        distinct splits than this).
    seed : int
        Seeds both resampling procedures, so the same numbers give the same interval and p-value.

    Returns
    -------
    dict
        ``ratio`` (mean(values) / mean(reference)), ``ci_low`` / ``ci_high`` (percentile bootstrap
        over runs, each group resampled independently: :func:`scipy.stats.bootstrap`), ``ci_method``,
        ``confidence_level``, ``difference`` (of the means), ``welch_t`` / ``welch_p`` (two-sided
        Welch t-test, NaN when both groups are constant), ``permutation_p`` (two-sided permutation test
        of the difference of means), ``n``, ``n_reference``.

    Raises
    ------
    ValueError
        If a group has fewer than 2 values, holds a non-finite value, the reference mean is 0, or
        ``confidence_level`` is outside (0, 1).

    Examples
    --------
    >>> result = compare_groups([100, 110, 120, 130], [200, 220, 240, 260])
    >>> round(result["ratio"], 3)
    0.5
    """
    a = np.asarray(list(values), dtype=np.float64)
    b = np.asarray(list(reference), dtype=np.float64)
    for name, group in (("values", a), ("reference", b)):
        if group.ndim != 1 or group.size < 2 or not np.all(np.isfinite(group)):
            raise ValueError(f"{name} must hold at least 2 finite numbers, got {group.tolist()!r}")
    if b.mean() == 0:
        raise ValueError("the reference group's mean is 0: the ratio is undefined")
    check_real(confidence_level, "confidence_level", minimum=0, maximum=1, strict=True, strict_maximum=True)
    interval = stats.bootstrap(
        (a, b),
        _ratio_of_means,
        n_resamples=n_resamples,
        confidence_level=confidence_level,
        method="percentile",
        rng=np.random.default_rng(seed),
    ).confidence_interval
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        welch_t = welch_p = math.nan
    else:
        welch = stats.ttest_ind(a, b, equal_var=False)
        welch_t, welch_p = float(welch.statistic), float(welch.pvalue)
    permutation = stats.permutation_test(
        (a, b),
        _difference_of_means,
        permutation_type="independent",
        n_resamples=n_resamples,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    return {
        "ratio": float(a.mean() / b.mean()),
        "ci_low": float(interval.low),
        "ci_high": float(interval.high),
        "ci_method": "percentile bootstrap",
        "confidence_level": float(confidence_level),
        "difference": float(a.mean() - b.mean()),
        "welch_t": welch_t,
        "welch_p": welch_p,
        "permutation_p": float(permutation.pvalue),
        "n": int(a.size),
        "n_reference": int(b.size),
    }

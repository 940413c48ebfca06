"""Input and target handling shared by the scikit-learn estimators.

Three input layouts are accepted (:class:`cbreservoir.utils.validation.Series`):

* ``"batch"`` — a 3-D array ``(series, time, features)``;
* ``"ragged"`` — a list (or tuple) of 2-D ``(time, features)`` series, lengths may differ;
* ``"single"`` — a 2-D array ``(time, features)``: ONE time series whose rows are time steps.
  This is what scikit-learn's own tooling passes, so its targets are per step, one per row.

Targets are either one per series (sequence-to-vector: ``(S,)`` or ``(S, k)``) or one per
step (sequence-to-sequence: ``(S, T)`` labels / ``(S, T, k)`` values for a batch, a list of
``(T_i,)`` / ``(T_i, k)`` arrays for a list, ``(T,)`` / ``(T, k)`` for a single series).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from cbreservoir.utils.validation import Series, check_series


@dataclass(frozen=True)
class TargetBatch:
    """Validated targets, flattened to 2-D rows.

    Attributes
    ----------
    values : ndarray (n_rows, k)
        One row per series (``per_series=True``) or one row per time step of every series,
        series after series (``per_series=False``).
    per_series : bool
        One target per series (the flag of :class:`cbreservoir.utils.validation.Targets`).
    squeeze : bool
        True when each target is a scalar (``(S,)``, ``(S, T)`` labels, ``(T,)`` rows ...), so
        that predictions come back without the trailing axis of size k = 1.
    """

    values: np.ndarray
    per_series: bool
    squeeze: bool


def _is_3d_or_list(X: object) -> bool:
    is_list_of_series = isinstance(X, (list, tuple)) and len(X) > 0 and np.ndim(X[0]) == 2
    return is_list_of_series or getattr(X, "ndim", None) == 3


def validate_series(estimator: object, X: object, *, reset: bool) -> Series:
    """Validate ``X`` for ``estimator`` and set (``reset=True``) or check ``n_features_in_``.

    Parameters
    ----------
    estimator : scikit-learn estimator
    X : array (S, T, d), list of arrays (T_i, d), or array (T, d)
        See the module docstring for the layouts.
    reset : bool
        True in ``fit``; False in ``predict`` and friends.

    Returns
    -------
    Series

    Raises
    ------
    ValueError
        Wrong number of dimensions, NaN/inf, empty input, or a feature count that differs
        from the one seen in ``fit``.
    """
    if _is_3d_or_list(X):
        series = check_series(X, dtype=np.float64)
        # sets / checks n_features_in_ (and clears feature names) with scikit-learn's messages
        validate_data(estimator, series.as_list()[0], reset=reset, skip_check_array=True)
        return series
    return Series(validate_data(estimator, X, reset=reset, dtype=np.float64), "single")


def _series_targets(y: np.ndarray, n_series: int, classification: bool) -> TargetBatch:
    if len(y) != n_series:
        raise ValueError(
            f"y has {len(y)} targets but X has {n_series} series (expected one target per series)"
        )
    if classification and y.ndim != 1:
        raise ValueError(f"classification targets per series must be 1-D (series,); got shape {y.shape}")
    return TargetBatch(y.reshape(n_series, -1), per_series=True, squeeze=y.ndim == 1)


def _step_targets(ys: Sequence[np.ndarray], lengths: list[int], classification: bool) -> TargetBatch:
    if len(ys) != len(lengths):
        raise ValueError(f"y has targets for {len(ys)} series but X has {len(lengths)} series")
    for i, (y_i, n_steps) in enumerate(zip(ys, lengths, strict=True)):
        if len(y_i) != n_steps:
            raise ValueError(
                f"y[{i}] has {len(y_i)} steps but X[{i}] has {n_steps} (expected one target per step)"
            )
    ndims = {y_i.ndim for y_i in ys}
    if len(ndims) > 1 or (classification and ndims != {1}) or ndims - {1, 2}:
        expected = "(T_i,)" if classification else "(T_i,) or (T_i, k)"
        raise ValueError(
            f"per-step targets must each have shape {expected}; got shapes {[y.shape for y in ys]}"
        )
    values = np.concatenate([y_i.reshape(len(y_i), -1) for y_i in ys])
    return TargetBatch(values, per_series=False, squeeze=ndims == {1})


def _checked_target(y: object, classification: bool, name: str) -> np.ndarray:
    dtype = None if classification else np.float64
    y_arr = check_array(y, dtype=dtype, ensure_2d=False, allow_nd=True, input_name=name)
    if classification:
        check_classification_targets(y_arr.ravel())
    return y_arr


def _targets_for_batch(y: object, batch: Series, classification: bool) -> TargetBatch:
    """Per-series or per-step targets for a batch or list of series."""
    lengths = batch.lengths
    if isinstance(y, (list, tuple)) and len(y) > 0 and np.ndim(y[0]) >= 1 and batch.layout == "ragged":
        ys = [_checked_target(y_i, classification, f"y[{i}]") for i, y_i in enumerate(y)]
        return _step_targets(ys, lengths, classification)
    y_arr = _checked_target(y, classification, "y")
    step_ndim = 2 if classification else 3
    if y_arr.ndim == step_ndim:
        return _step_targets(list(y_arr), lengths, classification)
    if y_arr.ndim in (1, 2):
        return _series_targets(y_arr, batch.n_series, classification)
    raise ValueError(
        f"y of shape {y_arr.shape} matches neither targets per series ((S,) or (S, k)) nor per step "
        f"({'(S, T)' if classification else '(S, T, k)'}) for X with {batch.n_series} series"
    )


def validate_xy(
    estimator: object, X: object, y: object, *, classification: bool, reset: bool
) -> tuple[Series, TargetBatch]:
    """Validate ``(X, y)`` and work out the target layout.

    Parameters
    ----------
    estimator : scikit-learn estimator
    X : see :func:`validate_series`
    y : targets per series or per step (module docstring)
    classification : bool
        Class labels (any hashable type, one label per target) instead of float values.
    reset : bool
        True in ``fit`` (sets ``n_features_in_``); False in ``score`` (checks it).

    Returns
    -------
    (Series, TargetBatch)
    """
    if y is None:
        raise ValueError(f"{type(estimator).__name__} requires y to be passed, but the target y is None.")
    if _is_3d_or_list(X):
        batch = validate_series(estimator, X, reset=reset)
        return batch, _targets_for_batch(y, batch, classification)
    X2, y_arr = validate_data(
        estimator,
        X,
        y,
        reset=reset,
        dtype=np.float64,
        multi_output=not classification,
        y_numeric=not classification,
    )
    if classification:
        check_classification_targets(y_arr)
    batch = Series(X2, "single")
    return batch, _step_targets([y_arr], batch.lengths, classification)


def format_output(rows: np.ndarray, batch: Series, *, per_series: bool, squeeze: bool) -> np.ndarray | list:
    """Shape model outputs like the targets given in ``fit``.

    Parameters
    ----------
    rows : ndarray (n_rows, ...)
        One row per series (``per_series=True``) or per step, series after series.
    batch : Series
        The input that produced ``rows``.
    per_series : bool
    squeeze : bool
        Drop a trailing axis of size 1 (scalar targets).

    Returns
    -------
    ndarray or list of ndarray
        Per series: ``(S, ...)``. Per step: ``(T, ...)`` for a single series, ``(S, T, ...)``
        for a batch, a list of ``(T_i, ...)`` for ragged input.
    """
    if squeeze and rows.ndim == 2 and rows.shape[1] == 1:
        rows = rows[:, 0]
    if per_series:
        return rows
    return batch.restore(split_by_series(rows, batch.lengths))


def split_by_series(rows: np.ndarray, lengths: list[int]) -> list[np.ndarray]:
    """Split per-step rows ``(sum(lengths), ...)`` into one ``(T_i, ...)`` block per series."""
    return np.split(rows, np.cumsum(lengths)[:-1])

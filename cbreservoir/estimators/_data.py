"""Input and target handling shared by the scikit-learn estimators.

Three input layouts are accepted, each read as a :class:`cbreservoir.utils.checks.Series` of
``(time, features)`` series:

* a 3-D array ``(series, time, features)``, or aeon's ``(series, channels, time)``;
* a list (or tuple) of 2-D series, lengths may differ, each ``(time, features)`` or aeon's
  ``(channels, time)``;
* a 2-D array ``(series, time)``: a univariate collection, one series per row (the scikit-learn and aeon
  habit; what scikit-learn's own tooling passes) — or, with ``layout="one_series"``, ONE series whose
  rows are time steps ``(time, features)``, with targets per step (a pipeline over one long series with
  ``TimeSeriesSplit``).

The order of the two axes of each series is the estimator's ``layout`` (``"channels_last"`` or
``"channels_first"``), or with ``layout="auto"`` read from the shapes where they leave no doubt and
otherwise refused (:func:`cbreservoir.utils.checks.collection_orientation`); the order found in
``fit`` is the fitted attribute ``layout_``.

Targets are either one per series (sequence-to-vector: ``(S,)`` or ``(S, k)``) or one per
step (sequence-to-sequence: ``(S, T)`` labels / ``(S, T, k)`` values for an array, a list of
``(T_i,)`` / ``(T_i, k)`` arrays for a list, ``(T,)`` / ``(T, k)`` for one series).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d, validate_data

from cbreservoir.utils.checks import (
    COLLECTION_LAYOUTS,
    Series,
    channels_last,
    check_choice,
    check_series,
    collection_orientation,
)

#: The ``layout`` parameter of the four estimators, for their docstrings.
LAYOUT_DOC = """    layout : {"auto", "channels_last", "channels_first", "one_series"}, default="auto"
        The order of the two axes of each series in a 3-D X or a list: ``"channels_last"`` is
        ``(series, time, features)`` (reservoirpy's), ``"channels_first"`` aeon's ``(series, channels,
        time)``. ``"auto"`` reads it from the shapes where they leave no doubt (aeon's univariate
        ``(n, 1, time)``, more steps than features, lengths that vary along one axis of a list, targets
        per step) and refuses the rest with a ``ValueError`` naming both values. A 2-D X is a univariate
        collection ``(series, time)``, except with ``"one_series"``: ONE series ``(time, features)``
        with targets per step (3-D X and lists are then read as ``"channels_last"``).
"""
#: The values of the estimators' ``layout``.
LAYOUTS = (*COLLECTION_LAYOUTS, "one_series")


@dataclass(frozen=True)
class TargetBatch:
    """Validated targets, flattened to 2-D rows.

    Attributes
    ----------
    values : ndarray (n_rows, k)
        One row per series (``per_series=True``) or one row per time step of every series,
        series after series (``per_series=False``).
    per_series : bool
        One target per series (the flag of :class:`cbreservoir.utils.checks.Targets`).
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


def validate_series(estimator: object, X: object, *, reset: bool, per_series: bool = True) -> Series:
    """Validate ``X`` for ``estimator`` and set (``reset=True``) or check ``n_features_in_``.

    Parameters
    ----------
    estimator : scikit-learn estimator with a ``layout`` parameter
    X : array (S, T, d) or (S, d, T), list of arrays (T_i, d) or (d, T_i), or array (S, T)
        See the module docstring for the layouts.
    reset : bool
        True in ``fit`` (sets ``n_features_in_`` and ``layout_``); False in ``predict`` and friends.
    per_series : bool
        Whether the targets of ``fit`` are one per series (``layout="auto"`` reads the axes' order from
        the shapes only then).

    Returns
    -------
    Series
        A ``"batch"`` or ``"ragged"`` collection of ``(time, features)`` series.

    Raises
    ------
    ValueError
        Wrong number of dimensions, NaN/inf, empty input, axes in doubt with ``layout="auto"``, or a
        feature count that differs from the one seen in ``fit``.
    """
    layout = check_choice(estimator.layout, "layout", allowed=LAYOUTS)
    if not _is_3d_or_list(X) and layout == "one_series":
        return Series(validate_data(estimator, X, reset=reset, dtype=np.float64), "single")
    if _is_3d_or_list(X):
        layout = "channels_last" if layout == "one_series" else layout
        if reset:
            orientation = collection_orientation(X, layout, per_series=per_series)
        else:
            orientation = collection_orientation(
                X, layout, n_features=estimator.n_features_in_, fitted=estimator.layout_
            )
        series = check_series(channels_last(X, orientation), dtype=np.float64)
    else:  # a univariate collection, with scikit-learn's messages for anything that is not 2-D
        orientation = "channels_last"
        series = Series(check_array(X, dtype=np.float64, input_name="X")[:, :, None], "batch")
    if reset:
        estimator.layout_ = orientation
    # sets / checks n_features_in_ (and clears feature names) with scikit-learn's messages
    validate_data(estimator, series.as_list()[0], reset=reset, skip_check_array=True)
    return series


def _one_target_per_series(X: object, y: object, classification: bool) -> bool:
    """Whether ``y`` has the shape of targets per series (read before ``X``, for the order of its axes)."""
    if isinstance(X, (list, tuple)) and isinstance(y, (list, tuple)) and len(y) > 0 and np.ndim(y[0]) >= 1:
        return False  # a list of targets per step (_targets_for_batch)
    try:
        ndim = np.asarray(y).ndim
    except ValueError:  # a ragged list: targets per step
        return False
    return ndim == 1 or (ndim == 2 and not classification)


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
    if classification and y_arr.ndim == 2 and y_arr.shape[1] == 1 and set(lengths) != {1}:
        y_arr = column_or_1d(y_arr, warn=True)  # a column of labels per series, as scikit-learn reads it
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
    if _is_3d_or_list(X) or check_choice(estimator.layout, "layout", allowed=LAYOUTS) != "one_series":
        per_series = _one_target_per_series(X, y, classification)
        batch = validate_series(estimator, X, reset=reset, per_series=per_series)
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
    if reset:
        estimator.layout_ = "channels_last"
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

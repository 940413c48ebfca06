"""Array checks: time series, targets and single steps, refused before anything is computed.

Every check raises *before* anything is computed or any state changes, by the package's one rule:
``TypeError`` for a value of the wrong type, ``ValueError`` for a wrong value, the message naming what
was expected and what arrived. Layout conventions (docs/graph-guide.md):

* one series: a ``(time, features)`` array;
* a batch of equal-length series: a ``(series, time, features)`` array;
* ragged series: a list (or tuple) of ``(time_i, features)`` arrays.

Examples
--------
>>> import numpy as np
>>> from cbreservoir.utils.checks import check_series, check_targets
>>> X = check_series(np.zeros((4, 10, 3)), n_features=3)
>>> X.layout, X.n_series, X.lengths
('batch', 4, [10, 10, 10, 10])
>>> Y = check_targets(X, np.ones((4, 2)))      # one target vector per series
>>> Y.per_series
True
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from cbreservoir.utils.checks.params import check_choice, check_int

Layout = Literal["single", "batch", "ragged"]
#: How the two axes of each series in a collection are ordered: ``"channels_last"`` is
#: ``(time, features)`` (reservoirpy, this package), ``"channels_first"`` is aeon's ``(channels, time)``;
#: ``"auto"`` reads the order from the shapes where they leave no doubt (:func:`collection_orientation`).
COLLECTION_LAYOUTS = ("auto", "channels_last", "channels_first")

__all__ = [
    "COLLECTION_LAYOUTS",
    "Series",
    "Targets",
    "as_float_array",
    "channels_last",
    "check_finite",
    "check_min_length",
    "check_series",
    "check_targets",
    "check_timestep",
    "check_warmup",
    "collection_orientation",
    "feature_dim",
    "resolve_input_dim",
]


def as_float_array(
    x: object,
    name: str = "X",
    *,
    dtype: np.dtype | type | str | None = None,
    ndims: tuple[int, ...] | None = None,
    finite: bool = False,
) -> np.ndarray:
    """Convert ``x`` to a floating-point ndarray (no copy when it already is one).

    Parameters
    ----------
    x : array-like or torch.Tensor
        Numbers: a numpy array, a torch tensor (detached and moved to the CPU), nested lists, ...
    name : str
        Name used in error messages.
    dtype : dtype, optional
        Target floating dtype; default keeps a floating input's dtype and converts anything
        else (ints, bools) to float64.
    ndims : tuple of int, optional
        Allowed numbers of dimensions; when given, an empty array is refused too.
    finite : bool
        Refuse NaN and infinities (see :func:`check_finite`).

    Raises
    ------
    TypeError
        If ``x`` is not numeric (strings, objects, complex numbers).
    ValueError
        If ``x`` has a number of dimensions outside ``ndims``, is empty (with ``ndims``) or holds
        NaN/inf (with ``finite``).
    """
    torch = sys.modules.get("torch")  # a tensor can only exist once torch is imported
    if torch is not None and isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        array = np.asarray(x)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a numeric array; got {type(x).__name__} ({error})") from error
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.floating)
        or np.issubdtype(array.dtype, np.integer)
        or np.issubdtype(array.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must hold real numbers; got an array of dtype {array.dtype}")
    if ndims is not None:
        if array.ndim not in ndims:
            expected = " or ".join(f"{n}-D" for n in ndims)
            raise ValueError(f"{name} must be {expected}; got an array of shape {array.shape}")
        if array.size == 0:
            raise ValueError(f"{name} must not be empty; got shape {array.shape}")
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    elif not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    if finite:
        check_finite(array, name)
    return array


def check_finite(x: np.ndarray, name: str = "X") -> None:
    """Raise ``ValueError`` if ``x`` holds NaN or an infinity, naming the first bad position.

    Parameters
    ----------
    x : ndarray
    name : str
        Name used in the message.
    """
    if np.isfinite(np.sum(x)):  # one pass, no temporary: any NaN/inf makes the sum non-finite
        return
    finite = np.isfinite(x)
    if not finite.all():
        where = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(f"{name} must be finite; got {x[where]} at index {where} (shape {x.shape})")


@dataclass(frozen=True)
class Series:
    """Validated time-series input.

    Attributes
    ----------
    data : ndarray or list of ndarray
        ``(T, d)`` (layout ``"single"``), ``(S, T, d)`` (``"batch"``) or a list of ``(T_i, d)``
        (``"ragged"``), floating point, finite, non-empty.
    layout : {"single", "batch", "ragged"}
    """

    data: np.ndarray | list[np.ndarray]
    layout: Layout

    @property
    def n_features(self) -> int:
        """Features per step, d."""
        return int(self.as_list()[0].shape[-1])

    @property
    def n_series(self) -> int:
        """Number of series (1 for a single series)."""
        return 1 if self.layout == "single" else len(self.data)

    @property
    def lengths(self) -> list[int]:
        """Time steps of every series."""
        return [int(series.shape[0]) for series in self.as_list()]

    def as_list(self) -> list[np.ndarray]:
        """The series as a list of ``(T_i, d)`` arrays (views, no copy)."""
        if self.layout == "single":
            return [self.data]
        return list(self.data)

    def restore(self, outputs: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
        """Put per-series outputs ``[(T_i, k), ...]`` back into this input's layout.

        Returns ``(T, k)`` for a single series, ``(S, T, k)`` for a batch, a list for ragged input.
        """
        if self.layout == "single":
            return outputs[0]
        if self.layout == "batch":
            return np.stack(outputs)
        return list(outputs)


def _shape_message(name: str, received: str) -> str:
    return (
        f"{name} must be a (time, features) array, a (series, time, features) array or a list of "
        f"(time, features) arrays; got {received}"
    )


def _check_feature_count(name: str, n_features: int, expected: int | None, owner: str) -> None:
    if expected is not None and n_features != expected:
        raise ValueError(f"{name} has {n_features} features per step but {owner} expects {expected}")


def check_series(
    x: object,
    name: str = "X",
    *,
    n_features: int | None = None,
    owner: str = "the node",
    dtype: np.dtype | type | str | None = None,
    min_features: int = 1,
) -> Series:
    """Validate time-series input and return it as a :class:`Series`.

    Parameters
    ----------
    x : ndarray (T, d) or (S, T, d), or list of ndarray (T_i, d)
    name : str
        Name used in error messages (``"X"``, ``"Y"``, ...).
    n_features : int, optional
        Required number of features d (e.g. an initialised node's ``input_dim``).
    owner : str
        Who expects ``n_features`` (used in the message, e.g. ``"Reservoir(units=100)"``).
    dtype : dtype, optional
        Convert to this floating dtype (default: keep floats, ints -> float64).
    min_features : {1, 0}, default 1
        0 accepts series without features (a free-running reservoir's input ``(T, 0)``).

    Returns
    -------
    Series

    Raises
    ------
    TypeError
        ``x`` is not numeric / not an array or a list of arrays.
    ValueError
        Wrong number of dimensions, empty input (no series, no steps or no features), series of a
        ragged list with different feature counts, a feature count other than ``n_features``,
        or NaN/inf values.
    """
    if isinstance(x, Sequence) and not isinstance(x, (str, bytes)):
        if len(x) == 0:
            raise ValueError(f"{name} must hold at least one series; got an empty {type(x).__name__}")
        series = [as_float_array(item, f"{name}[{i}]", dtype=dtype) for i, item in enumerate(x)]
        for i, item in enumerate(series):
            if item.ndim != 2:
                raise ValueError(f"{name}[{i}] must be a (time, features) array; got shape {item.shape}")
        widths = {item.shape[1] for item in series}
        if len(widths) > 1:
            raise ValueError(
                f"all series of {name} must have the same number of features; got {sorted(widths)}"
            )
        result = Series(series, "ragged")
    else:
        array = as_float_array(x, name, dtype=dtype)
        if array.ndim not in (2, 3):
            raise ValueError(_shape_message(name, f"an array of shape {array.shape}"))
        if array.ndim == 3 and array.shape[0] == 0:
            raise ValueError(f"{name} must hold at least one series; got an array of shape {array.shape}")
        result = Series(array, "single" if array.ndim == 2 else "batch")
    for i, item in enumerate(result.as_list()):
        if item.shape[0] == 0 or item.shape[1] < min_features:
            label = name if result.layout == "single" else f"{name}[{i}]"
            feature = " and one feature" if min_features else ""
            raise ValueError(f"{label} must have at least one time step{feature}; got shape {item.shape}")
        check_finite(item, name if result.layout == "single" else f"{name}[{i}]")
    _check_feature_count(name, result.n_features, n_features, owner)
    return result


@dataclass(frozen=True)
class Targets:
    """Validated targets matching a :class:`Series`.

    Attributes
    ----------
    data : ndarray or list of ndarray
        Per-step targets in the input's layout (each series ``(T_i, k)``), or, when
        ``per_series``, a ``(S, k)`` array: one target vector per series.
    per_series : bool
        True for sequence-to-vector targets (read against the final step of each series).
    """

    data: np.ndarray | list[np.ndarray]
    per_series: bool

    @property
    def n_outputs(self) -> int:
        """Target dimension k."""
        return int(self.data.shape[-1] if self.per_series else self.as_list()[0].shape[-1])

    def as_list(self) -> list[np.ndarray]:
        """Per-step targets as a list of ``(T_i, k)`` arrays (not for per-series targets)."""
        if isinstance(self.data, list):
            return self.data
        return [self.data] if self.data.ndim == 2 else list(self.data)


def check_targets(x: Series, y: object, *, name: str = "Y", n_outputs: int | None = None) -> Targets:
    """Validate targets against already validated inputs ``x``.

    Accepted layouts:

    * per step, same layout and lengths as ``x``: ``(T, k)`` (also ``(T,)``), ``(S, T, k)``, or a
      list of ``(T_i, k)``;
    * per series (sequence-to-vector), for a batch or ragged ``x``: ``(S,)`` or ``(S, k)``.

    Parameters
    ----------
    x : Series
    y : array-like or list of array-like
    name : str
    n_outputs : int, optional
        Required target dimension k.

    Returns
    -------
    Targets

    Raises
    ------
    ValueError
        Number of series or of time steps differs from ``x``, NaN/inf, wrong dimensions, empty,
        or a target dimension other than ``n_outputs``.
    """
    if x.layout == "ragged" and isinstance(y, Sequence) and not isinstance(y, (str, bytes)):
        targets = check_series([np.reshape(item, (len(item), -1)) for item in y], name)
        _check_same_lengths(x, targets.as_list(), name)
        result = Targets(targets.data, per_series=False)
    else:
        array = as_float_array(y, name)
        if x.layout == "single":
            if array.ndim == 1:
                array = array[:, None]
            result = Targets(check_series(array, name).data, per_series=False)
            _check_same_lengths(x, [result.data], name)
        elif array.ndim == 3 and x.layout == "batch":
            result = Targets(check_series(array, name).data, per_series=False)
            _check_same_lengths(x, list(result.data), name)
        elif array.ndim in (1, 2):
            result = _check_per_series(x, array, name)
        else:
            expected = "(series, time, outputs), (series,) or (series, outputs)"
            if x.layout == "ragged":
                expected = "a list of (time, outputs) arrays, (series,) or (series, outputs)"
            raise ValueError(f"{name} must be {expected} for {x.layout} input; got shape {array.shape}")
    if n_outputs is not None and result.n_outputs != n_outputs:
        raise ValueError(f"{name} has {result.n_outputs} outputs but {n_outputs} are expected")
    return result


def _check_per_series(x: Series, array: np.ndarray, name: str) -> Targets:
    if array.ndim == 1:
        array = array[:, None]
    if array.shape[0] != x.n_series:
        raise ValueError(f"{name} holds {array.shape[0]} per-series targets but X holds {x.n_series} series")
    if array.shape[1] == 0:
        raise ValueError(f"{name} must have at least one output; got shape {array.shape}")
    check_finite(array, name)
    return Targets(array, per_series=True)


def _check_same_lengths(x: Series, targets: list[np.ndarray], name: str) -> None:
    if len(targets) != x.n_series:
        raise ValueError(f"{name} holds {len(targets)} series but X holds {x.n_series}")
    for i, (series, target) in enumerate(zip(x.as_list(), targets, strict=True)):
        if series.shape[0] != target.shape[0]:
            raise ValueError(
                f"series {i}: {name} has {target.shape[0]} time steps but X has {series.shape[0]}"
            )


def _series_shapes(x: object) -> list[tuple[int, ...]]:
    if isinstance(x, Sequence) and not isinstance(x, (str, bytes)):
        return [np.shape(item) for item in x]
    shape = np.shape(x)
    return [shape[1:]] * shape[0] if len(shape) == 3 else []


def collection_orientation(
    x: object,
    layout: str,
    *,
    per_series: bool = True,
    n_features: int | None = None,
    fitted: str = "channels_last",
    name: str = "X",
) -> str:
    """The order of the axes of the series of a collection ``x``: ``"channels_last"`` or ``"channels_first"``.

    ``layout`` other than ``"auto"`` is returned as given. ``"auto"`` reads the order from the shapes
    ``(a, b)`` of the series (each item of a list, the last two axes of a 3-D array):

    * ``n_features`` known (after ``fit``): the order whose feature count is ``n_features``; ``fitted``
      when both are (``a == b``);
    * targets per step (``per_series=False``): ``"channels_last"`` (the targets' time axis is checked
      against it later);
    * targets per series: a list whose sizes vary along one axis only has time on that axis (for the
      second axis, only when every series has more steps than channels); otherwise
      ``a > b`` (more steps than features) or ``a == b == 1`` is ``"channels_last"``, ``a == 1 < b``
      (aeon's univariate ``(n, 1, time)``) is ``"channels_first"``, and the rest is refused.

    Parameters
    ----------
    x : array (S, a, b) or list of arrays (a_i, b_i)
        Anything else gives ``"channels_last"`` (the caller's own checks refuse it).
    layout : {"auto", "channels_last", "channels_first"}
    per_series, n_features, fitted, name
        See above; ``name`` is used in messages.

    Raises
    ------
    ValueError
        An unknown ``layout``, or ``"auto"`` on shapes that leave the order in doubt; the message names
        ``layout="channels_first"`` (aeon) and ``layout="channels_last"`` as the fixes.
    """
    check_choice(layout, "layout", allowed=COLLECTION_LAYOUTS)
    shapes = _series_shapes(x)
    if layout != "auto" or not shapes or any(len(shape) != 2 for shape in shapes):
        return "channels_last" if layout == "auto" else layout
    first = {shape[0] for shape in shapes}
    second = {shape[1] for shape in shapes}
    if n_features is not None:
        candidates = (("channels_last", second), ("channels_first", first))
        fits = [order for order, axis in candidates if axis == {n_features}]
        return fits[0] if len(fits) == 1 else fitted if fits else "channels_last"
    if not per_series or (len(first) > 1 and len(second) == 1):
        return "channels_last"
    if len(first) == 1 and len(second) > 1 and min(second) > min(first):
        return "channels_first"
    a, b = min(first), min(second)  # one value each here
    if a > b or a == b <= 1 or a == 0:  # (empty series are the caller's to refuse)
        return "channels_last"
    if a == 1:
        return "channels_first"
    raise ValueError(
        f"{name} is ambiguous: its series are {a} x {b}, read as (time, features) that is {a} time steps "
        f"of {b} features, in aeon's (channels, time) layout {a} channels of {b} time steps. Pass "
        f"layout='channels_first' for aeon's (series, channels, time) layout (or transpose X to (series, "
        f"time, features)), or layout='channels_last' to read it as (series, time, features)"
    )


def channels_last(x: object, orientation: str) -> object:
    """``x`` (3-D array or list of 2-D arrays) with each series as ``(time, features)``: swapped if
    ``orientation`` is ``"channels_first"``, unchanged otherwise."""
    if orientation != "channels_first":
        return x
    if isinstance(x, Sequence) and not isinstance(x, (str, bytes)):
        return [np.swapaxes(as_float_array(item), 0, 1) for item in x]
    return np.swapaxes(as_float_array(x), 1, 2)


def check_warmup(warmup: int, lengths: Sequence[int]) -> int:
    """Check that ``warmup`` is an int in ``[0, min(lengths))`` and return it.

    Raises
    ------
    TypeError
        ``warmup`` is not an int (bools are refused).
    ValueError
        A negative warmup, or one that leaves no step of the shortest series.
    """
    check_int(warmup, "warmup")
    shortest = min(lengths)
    if warmup < 0 or warmup >= shortest:
        raise ValueError(
            f"warmup must be >= 0 and smaller than the shortest series ({shortest} steps); got {warmup}"
        )
    return int(warmup)


def check_timestep(
    x: object, n_features: int | None, *, owner: str = "the node", name: str = "x"
) -> np.ndarray:
    """Validate one time step ``(d,)`` (also accepts ``(1, d)``) and return it as a 1-D float array.

    Raises
    ------
    ValueError
        Wrong shape, a feature count other than ``n_features``, or NaN/inf.
    """
    array = as_float_array(x, name)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1:
        raise ValueError(f"{name} must be one time step of shape (features,); got shape {array.shape}")
    _check_feature_count(name, array.shape[0], n_features, owner)
    check_finite(array, name)
    return array


def feature_dim(x: object) -> int:
    """Features per step of a time step ``(d,)``, series ``(T, d)``, batch ``(S, T, d)`` or list.

    Raises
    ------
    ValueError
        For an empty list.
    """
    if isinstance(x, Sequence) and not isinstance(x, (str, bytes)):
        if len(x) == 0:
            raise ValueError("cannot infer the number of features of an empty list")
        return int(np.shape(x[0])[-1])
    return int(np.shape(x)[-1])


def resolve_input_dim(
    x: object, input_dim: int | None, *, owner: str = "the node", min_features: int = 1
) -> int:
    """The input dimension a node initialises with: read from ``x`` when given, else ``input_dim``.

    Parameters
    ----------
    x : array (d,), (T, d) or (S, T, d), list of arrays (T_i, d), or None
        Data the node is initialised on.
    input_dim : int or None
        The dimension the node already has (given to its constructor or implied by its weights).
    owner : str
        The node, named in error messages (e.g. ``"Reservoir(units=100)"``).
    min_features : {1, 0}, default 1
        0 accepts data without features (a free-running reservoir).

    Returns
    -------
    int

    Raises
    ------
    ValueError
        ``x`` has no feature or a feature count other than ``input_dim``, or neither is given.
    """
    if x is None:
        if input_dim is None:
            raise ValueError(f"{owner} needs input_dim or data to initialize")
        return input_dim
    received = feature_dim(x)
    if received < min_features:
        raise ValueError(f"{owner} needs inputs with at least one feature; got {received}")
    if input_dim is not None and received != input_dim:
        raise ValueError(f"{owner} expects {input_dim} input features; got {received}")
    return received


def check_min_length(array: np.ndarray, axis: int, minimum: int, name: str, what: str) -> None:
    """Raise ``ValueError`` unless ``array.shape[axis] >= minimum`` (``what`` names the axis' items)."""
    if array.shape[axis] < minimum:
        raise ValueError(f"{name} needs at least {minimum} {what}, got shape {array.shape}")

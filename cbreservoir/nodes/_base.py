"""What the nodes share beyond :mod:`cbreservoir.utils.checks`: the linear readouts' outputs, output
size and training rows, and the parameters' ``str``.

Torch-free, as the Reservoir, Cerebellum and Ridge nodes are (numpy, scipy and numba); the graph operators
and the validated ``step`` are in :mod:`cbreservoir.nodes.operators`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator

import numpy as np
import scipy.sparse

from cbreservoir.utils.checks import Series, Targets, as_float_array, check_choice, check_series

__all__ = [
    "LOSSES",
    "SPARSE_DENSITY",
    "LinearReadoutMixin",
    "ParameterStrMixin",
    "infer_output_dim",
    "spawn_generators",
    "stacked_training_rows",
    "training_rows",
]

#: Recurrent matrices with at most this fraction of non-zeros are multiplied as sparse (CSR).
SPARSE_DENSITY = 0.3


def spawn_generators(
    seed: int | np.random.Generator | None, rng: np.random.Generator
) -> list[np.random.Generator]:
    """Three generators for a node's weights, spawned as reservoirpy's ``Reservoir.initialize`` spawns them.

    ``rng`` is the node's generator (``reservoirpy.utils.random.rand_generator(seed)``, made when the node
    was built). An int ``seed`` re-derives the same three from the seed each time, which equals the first
    spawn of ``rng``; so a node saved before its initialisation draws the same weights after loading.
    """
    source = np.random.default_rng(seed) if isinstance(seed, int) else rng
    return source.spawn(3)


def training_rows(
    series: Series, targets: Targets, warmup: int, unsupervised: list[np.ndarray] | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The (input, target) row blocks a readout is fitted on.

    Per-series targets: one block, the final step of every series and its target. Per-step targets:
    one block per series, its steps from ``warmup`` on (views, no copy). Rows marked ``unsupervised``
    are left out (copies of the blocks that have any).

    Parameters
    ----------
    series : Series
    targets : Targets
        Validated against ``series`` (:func:`cbreservoir.utils.checks.check_targets`).
    warmup : int
        Already checked (:func:`cbreservoir.utils.checks.check_warmup`); ignored for per-series targets.
    unsupervised : list of bool ndarray, optional
        Rows without a target: one mask (S,) for per-series targets, else one mask (T_i,) per series
        (over all steps, warmup included).

    Yields
    ------
    (ndarray (n_i, d), ndarray (n_i, k))
    """
    if targets.per_series:
        blocks = [(np.stack([item[-1] for item in series.as_list()]), targets.data)]
    else:
        blocks = [(x[warmup:], y[warmup:]) for x, y in zip(series.as_list(), targets.as_list(), strict=True)]
    if unsupervised is None:
        yield from blocks
        return
    masks = unsupervised if targets.per_series else [mask[warmup:] for mask in unsupervised]
    for (x, y), mask in zip(blocks, masks, strict=True):
        yield (x, y) if not mask.any() else (x[~mask], y[~mask])


def stacked_training_rows(
    series: Series, targets: Targets, warmup: int, unsupervised: list[np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """All rows of :func:`training_rows` in two float64 arrays, inputs (N, d) and targets (N, k)."""
    blocks = list(training_rows(series, targets, warmup, unsupervised))
    inputs = np.concatenate([block[0] for block in blocks]).astype(np.float64, copy=False)
    return inputs, np.concatenate([block[1] for block in blocks]).astype(np.float64, copy=False)


LOSSES = ("mse", "cross_entropy")


def infer_output_dim(y: object, loss: str) -> int:
    """Number of outputs a linear readout needs to be trained on targets ``y`` with ``loss``.

    The one rule behind :meth:`GradientReadout.initialize` (with the node's own ``loss``) and
    :func:`cbreservoir.graph.initialize_graph` (with the loss the graph is trained with):

    * ``"mse"``: the target dimension k — 1 for 1-D targets (``(T,)`` per step of one series or ``(S,)``
      one value per series), else the last axis (``(T, k)``, ``(S, k)``, ``(S, T, k)``); for a list of
      series of different lengths, that of its first series;
    * ``"cross_entropy"``: integer class labels >= 0 in any of those layouts -> ``max(labels) + 1``.

    Parameters
    ----------
    y : array-like, or list of array-like (one per series)
    loss : {"mse", "cross_entropy"}

    Returns
    -------
    int

    Raises
    ------
    ValueError
        An unknown ``loss``; for ``"cross_entropy"``, no label or labels that are not integers >= 0.
    TypeError
        Targets that are not numbers.

    Examples
    --------
    >>> import numpy as np
    >>> infer_output_dim(np.zeros(10), "mse"), infer_output_dim(np.zeros((4, 10, 3)), "mse")
    (1, 3)
    >>> infer_output_dim(np.array([0, 2, 1]), "cross_entropy")
    3
    """
    check_choice(loss, "loss", allowed=LOSSES)
    series = _as_target_arrays(y)
    if loss == "mse":
        return 1 if series[0].ndim <= 1 else int(series[0].shape[-1])
    labels = np.concatenate([np.ravel(item) for item in series])
    if labels.size == 0:
        raise ValueError("cross_entropy needs at least one class label; got empty targets")
    bad = ~np.isfinite(labels) | (labels < 0) | (labels != np.round(labels))
    if np.any(bad):
        raise ValueError(
            f"cross_entropy needs integer class labels >= 0; got {np.unique(labels[bad])[:5].tolist()}"
        )
    return int(labels.max()) + 1


def _as_target_arrays(y: object) -> list[np.ndarray]:
    """``y`` as ``[array]``, or one array per series for a list of series of different shapes."""
    if isinstance(y, (list, tuple)) and len({np.shape(item) for item in y}) > 1:
        return [as_float_array(item, f"y[{i}]") for i, item in enumerate(y)]
    return [as_float_array(y, "y")]


class LinearReadoutMixin:
    """Outputs ``x Wout + bias`` at every step: ``run`` and reservoirpy's ``_step`` / ``_run`` hooks.

    For the linear readouts (:class:`~cbreservoir.nodes.Ridge`, :class:`~cbreservoir.nodes.GradientReadout`),
    listed before the reservoirpy node class. The node provides ``input_dim`` and
    ``_weights_or_raise() -> (Wout (input_dim, k), bias (k,))``, which raises ``ValueError`` while
    the node is not fitted.

    ``output_dim_from_loss``: whether :func:`~cbreservoir.graph.initialize.initialize_graph` sets a
    missing ``output_dim`` by :func:`infer_output_dim` with the graph's training loss.
    """

    output_dim_from_loss: bool = False

    def _step(self, state: dict[str, np.ndarray], x: np.ndarray) -> dict[str, np.ndarray]:
        weights, bias = self._weights_or_raise()
        return {"out": x @ weights + bias}

    def stepper(self) -> Callable[[np.ndarray], np.ndarray]:
        """``step(x)`` without its checks, for loops that step the node many times (closed-loop
        generation): ``x Wout + bias`` for one step ``(input_dim,)``, kept as ``state``."""
        weights, bias = self._weights_or_raise()

        def step(x: np.ndarray) -> np.ndarray:
            out = x @ weights + bias
            self.state = {"out": out}
            return out

        return step

    def _run(self, state: dict[str, np.ndarray], x: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        weights, bias = self._weights_or_raise()
        series = check_series(x, n_features=self.input_dim, owner=str(self))
        out = series.data @ weights + bias
        return {"out": out[-1]}, out

    def run(
        self, x: object = None, iters: int | None = None, workers: int = 1
    ) -> np.ndarray | list[np.ndarray]:
        """Outputs for every step of one series, a batch or a ragged list.

        Parameters
        ----------
        x : ndarray (T, d) or (S, T, d), or list of ndarray (T_i, d)
        iters, workers
            Accepted for reservoirpy compatibility and ignored.

        Returns
        -------
        ndarray (T, k), ndarray (S, T, k) or list of ndarray (T_i, k)
            The layout follows ``x``.

        Raises
        ------
        ValueError
            The node is not fitted, or ``x`` is not valid input (see
            :func:`cbreservoir.utils.checks.check_series`).
        """
        weights, bias = self._weights_or_raise()
        series = check_series(x, n_features=self.input_dim, owner=str(self))
        outputs = [item @ weights + bias for item in series.as_list()]
        self.state = {"out": outputs[-1][-1]}
        return series.restore(outputs)


def _is_tensor(value: object) -> bool:
    """Whether ``value`` is a torch tensor, without importing torch (a tensor implies torch is loaded)."""
    return type(value).__module__.split(".")[0] == "torch"


def _shown(value: object) -> str:
    """How :class:`ParameterStrMixin` writes a parameter value: never evaluates an array's truth."""
    if callable(value) and not scipy.sparse.issparse(value):
        return getattr(value, "__name__", type(value).__name__)
    if isinstance(value, np.ndarray) or _is_tensor(value) or scipy.sparse.issparse(value):
        return f"<array {tuple(value.shape)}>"
    return str(value)


#: The constructor parameters that are weights, left out of ``str(node)``.
_WEIGHT_PARAMETERS = ("W", "Win", "bias", "recurrent_bias", "Wout")


@functools.cache
def _shown_defaults(node_class: type) -> tuple[tuple[str, str], ...]:
    """``(name, shown default)`` of the constructor parameters :class:`ParameterStrMixin` may show, per class
    (read once: ``str(node)`` names the node in the messages that runs prepare)."""
    return tuple(
        (key, _shown(parameter.default))
        for key, parameter in inspect.signature(node_class).parameters.items()
        if key not in _WEIGHT_PARAMETERS and parameter.default is not inspect.Parameter.empty
    )


class ParameterStrMixin:
    """``str(node)``: ``Name(key=value, ...)`` for the constructor parameters that differ from their defaults.

    As reservoirpy's ``Node.__str__`` (the weights, :data:`_WEIGHT_PARAMETERS`, left out), but safe for
    array-valued parameters (a per-unit ``lr`` is shown by its shape; reservoirpy's raises on it) and with
    functions shown by name (``activation="tanh"`` and ``activation=tanh`` are the same default).
    """

    def __str__(self) -> str:
        shown = []
        for key, default in _shown_defaults(type(self)):
            if hasattr(self, key) and _shown(getattr(self, key)) != default:
                shown.append(f"{key}={_shown(getattr(self, key))}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def __repr__(self) -> str:
        return str(self)

"""What the nodes share beyond :mod:`cbreservoir.utils.validation`: the graph operators, the validated
single ``step``, the linear readouts' outputs and training rows, and the numpy -> torch hand-over."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import numpy as np
import scipy.sparse
import torch

from cbreservoir.utils.validation import Series, Targets, check_series, check_timestep

__all__ = [
    "GraphOperatorsMixin",
    "LinearReadoutMixin",
    "ParameterStrMixin",
    "ValidatedStepMixin",
    "shared_tensor",
    "spawn_generators",
    "stacked_training_rows",
    "training_rows",
]


def shared_tensor(array: object, dtype: type = np.float64) -> torch.Tensor:
    """A torch tensor on the memory of ``array`` (converted to ``dtype``), or of a copy if it is read-only.

    ``torch.from_numpy`` on a read-only array (a broadcast, a memory map, ``flags.writeable=False``)
    warns that torch cannot protect it; only such arrays are copied.

    Parameters
    ----------
    array : array-like
    dtype : numpy floating type

    Returns
    -------
    tensor of the same shape
    """
    converted = np.asarray(array, dtype=dtype)
    if not converted.flags.writeable:
        converted = converted.copy()
    return torch.from_numpy(converted)


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
        Validated against ``series`` (:func:`cbreservoir.utils.validation.check_targets`).
    warmup : int
        Already checked (:func:`cbreservoir.utils.validation.check_warmup`); ignored for per-series targets.
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


def _composed(result: object) -> object:
    # the operators' result belongs to the layer above (the only upward import of this package, listed
    # in the [importlinter] contract of setup.cfg): reservoirpy's operators are methods of the nodes
    from cbreservoir.nodes.model import composed

    return composed(result)


class GraphOperatorsMixin:
    """reservoirpy's graph operators ``>>``, ``>> d >>``, ``<<`` and ``&``, building a batched Model.

    The result is a :class:`cbreservoir.graph.Model` (a ``reservoirpy.model.Model`` whose ``run``
    goes node by node on all series); listed before the reservoirpy node class, through
    :class:`ValidatedStepMixin`. Being an instance of this mixin is what makes a node a cbreservoir node.
    """

    def __rshift__(self, other: object) -> object:
        return _composed(super().__rshift__(other))

    def __rrshift__(self, other: object) -> object:
        return _composed(super().__rrshift__(other))

    def __lshift__(self, other: object) -> object:
        return _composed(super().__lshift__(other))

    def __rlshift__(self, other: object) -> object:
        return _composed(super().__rlshift__(other))

    def __and__(self, other: object) -> object:
        return _composed(super().__and__(other))

    def __rand__(self, other: object) -> object:
        return _composed(super().__rand__(other))


class ValidatedStepMixin(GraphOperatorsMixin):
    """``step(x)`` for a reservoirpy node: check the time step, initialise on it, advance ``state``.

    Every cbreservoir node has it, and with it the graph operators (:class:`GraphOperatorsMixin`).
    The node class lists the mixin before ``reservoirpy.node.Node`` and provides ``input_dim``,
    ``initialized``, ``initialize(x)``, ``state`` and ``_step(state, x) -> state``.
    """

    def step(self, x: object = None) -> np.ndarray:
        """One step.

        Parameters
        ----------
        x : array (input_dim,) or (1, input_dim), optional
            One time step; the first one initialises the node. None is a step without features
            (reservoirpy's free-running step).

        Returns
        -------
        ndarray (output_dim,)
            The node's new output (for the Reservoir, its new state).
        """
        x = check_timestep(np.empty(0) if x is None else x, self.input_dim, owner=str(self))
        if not self.initialized:
            self.initialize(x)
        self.state = self._step(self.state, x)
        return self.state["out"]


class LinearReadoutMixin:
    """Outputs ``x Wout + bias`` at every step: ``run`` and reservoirpy's ``_step`` / ``_run`` hooks.

    For the linear readouts (:class:`~cbreservoir.nodes.Ridge`, :class:`~cbreservoir.nodes.GradientReadout`),
    listed before the reservoirpy node class. The node provides ``input_dim`` and
    ``_weights_or_raise() -> (Wout (input_dim, k), bias (k,))``, which raises ``ValueError`` while
    the node is not fitted.
    """

    def _step(self, state: dict[str, np.ndarray], x: np.ndarray) -> dict[str, np.ndarray]:
        weights, bias = self._weights_or_raise()
        return {"out": x @ weights + bias}

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
            :func:`cbreservoir.utils.validation.check_series`).
        """
        weights, bias = self._weights_or_raise()
        series = check_series(x, n_features=self.input_dim, owner=str(self))
        outputs = [item @ weights + bias for item in series.as_list()]
        self.state = {"out": outputs[-1][-1]}
        return series.restore(outputs)


def _shown(value: object) -> str:
    """How :class:`ParameterStrMixin` writes a parameter value: never evaluates an array's truth."""
    if callable(value) and not scipy.sparse.issparse(value):
        return getattr(value, "__name__", type(value).__name__)
    if isinstance(value, (np.ndarray, torch.Tensor)) or scipy.sparse.issparse(value):
        return f"<array {tuple(value.shape)}>"
    return str(value)


class ParameterStrMixin:
    """``str(node)``: ``Name(key=value, ...)`` for the constructor parameters that differ from their defaults.

    As reservoirpy's ``Node.__str__`` (weights ``W``, ``Win``, ``bias``, ``Wout`` left out), but safe for
    array-valued parameters (a per-unit ``lr`` is shown by its shape; reservoirpy's raises on it) and with
    functions shown by name (``activation="tanh"`` and ``activation=tanh`` are the same default).
    """

    def __str__(self) -> str:
        shown = []
        for key, parameter in inspect.signature(type(self)).parameters.items():
            if key in ("W", "Win", "bias", "Wout") or parameter.default is inspect.Parameter.empty:
                continue
            if hasattr(self, key) and _shown(getattr(self, key)) != _shown(parameter.default):
                shown.append(f"{key}={_shown(getattr(self, key))}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def __repr__(self) -> str:
        return str(self)

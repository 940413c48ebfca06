"""What the nodes share beyond :mod:`cbreservoir.utils.validation`: the graph operators, the validated
single ``step``, the linear readouts' outputs and training rows, and the numpy -> torch hand-over."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from cbreservoir.utils.validation import Series, Targets, check_series, check_timestep

__all__ = [
    "GraphOperatorsMixin",
    "LinearReadoutMixin",
    "ValidatedStepMixin",
    "shared_tensor",
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


def training_rows(series: Series, targets: Targets, warmup: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The (input, target) row blocks a readout is fitted on.

    Per-series targets: one block, the final step of every series and its target. Per-step targets:
    one block per series, its steps from ``warmup`` on (views, no copy).

    Parameters
    ----------
    series : Series
    targets : Targets
        Validated against ``series`` (:func:`cbreservoir.utils.validation.check_targets`).
    warmup : int
        Already checked (:func:`cbreservoir.utils.validation.check_warmup`); ignored for per-series targets.

    Yields
    ------
    (ndarray (n_i, d), ndarray (n_i, k))
    """
    if targets.per_series:
        yield np.stack([item[-1] for item in series.as_list()]), targets.data
        return
    for x_series, y_series in zip(series.as_list(), targets.as_list(), strict=True):
        yield x_series[warmup:], y_series[warmup:]


def stacked_training_rows(series: Series, targets: Targets, warmup: int) -> tuple[np.ndarray, np.ndarray]:
    """All rows of :func:`training_rows` in two float64 arrays, inputs (N, d) and targets (N, k)."""
    blocks = list(training_rows(series, targets, warmup))
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
        x : array (input_dim,) or (1, input_dim)
            One time step; the first one initialises the node.

        Returns
        -------
        ndarray (output_dim,)
            The node's new output (for the Reservoir, its new state).
        """
        x = check_timestep(x, self.input_dim, owner=str(self))
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

"""The graph operators of cbreservoir nodes and their validated ``step``: the mixins a node class lists.

``>>``, ``>> d >>``, ``<<`` and ``&`` between cbreservoir nodes build a :class:`cbreservoir.graph.Model`
(reservoirpy's Model whose ``run`` is batched); :func:`composed` turns reservoirpy's result into one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from reservoirpy.model import Model as ReservoirpyModel
from reservoirpy.ops import ModelBuilderUtil

from cbreservoir.utils.checks import check_timestep

__all__ = ["ComposingOperators", "GraphOperatorsMixin", "ValidatedStepMixin", "composed"]


class _DelayedLink(ModelBuilderUtil):
    """The half-built ``a >> d`` of ``a >> d >> b``, completing to a :class:`~cbreservoir.graph.Model`."""

    def __rshift__(self, other: object) -> object:
        return composed(super().__rshift__(other))

    def __rrshift__(self, other: object) -> object:
        return composed(super().__rrshift__(other))


def composed(result: object) -> object:
    """What a graph operator returns: reservoirpy's result as a :class:`~cbreservoir.graph.Model`, or a
    delayed half-link.

    ``NotImplemented`` passes through, so that Python tries the other operand's reflected operator.
    """
    from cbreservoir.graph.model import Model  # a node's operator builds a graph: the one upward import

    if isinstance(result, ModelBuilderUtil) and not isinstance(result, _DelayedLink):
        return _DelayedLink(result.node, result.delay, result.node_is_first)
    if isinstance(result, ReservoirpyModel) and not isinstance(result, Model):
        return Model(result.nodes, result.edges)
    return result


class ComposingOperators:
    """reservoirpy's graph operators ``>>``, ``>> d >>``, ``<<`` and ``&``, each returning a batched Model.

    Listed before a reservoirpy class (a node's or a Model's), whose operator builds the result that
    :func:`composed` turns into a :class:`~cbreservoir.graph.Model`.
    """

    def __rshift__(self, other: object) -> object:
        return composed(super().__rshift__(other))

    def __rrshift__(self, other: object) -> object:
        return composed(super().__rrshift__(other))

    def __lshift__(self, other: object) -> object:
        return composed(super().__lshift__(other))

    def __rlshift__(self, other: object) -> object:
        return composed(super().__rlshift__(other))

    def __and__(self, other: object) -> object:
        return composed(super().__and__(other))

    def __rand__(self, other: object) -> object:
        return composed(super().__rand__(other))


class GraphOperatorsMixin(ComposingOperators):
    """The graph operators of a cbreservoir node (:class:`ComposingOperators`), building a batched Model.

    The result is a :class:`~cbreservoir.graph.Model` (a ``reservoirpy.model.Model`` whose ``run``
    goes node by node on all series); listed before the reservoirpy node class, through
    :class:`ValidatedStepMixin`. Being an instance of this mixin is what makes a node a cbreservoir node.
    """


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

    def stepper(self) -> Callable[[np.ndarray], np.ndarray]:
        """A function that steps the node like :meth:`step`, for loops that step it many times (closed-loop
        generation). Here :meth:`step` itself; nodes override it to skip the checks and prepare their
        operands once (valid while the weights stay as they are)."""
        return self.step

"""Initialising a graph from data, including the graphs reservoirpy 0.4.2 cannot initialise itself.

reservoirpy 0.4.2's ``Model.initialize`` sorts delayed edges (``>>d>>``) as if they were a cycle and
fails on the loop wiring. :func:`initialize_graph` sets the node widths from the execution semantics
(external input, direct parents, delayed parents) and readies the feedback buffers. No torch here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from reservoirpy.model import Model
from reservoirpy.node import Node

from cbreservoir.nodes._base import LinearReadoutMixin, infer_output_dim
from cbreservoir.utils.checks import feature_dim

__all__ = ["has_delays", "initialize_graph", "input_map"]


def has_delays(graph: Model) -> bool:
    """True when ``graph`` has a delayed edge (``node >> d >> other`` with ``d > 0``, or ``<<``)."""
    return any(delay > 0 for _, delay, _ in graph.edges)


def input_map(graph: Model, x: object) -> dict[Node, Any]:
    """Which node receives which external input: ``x`` for every input node, or a dict by node name.

    Raises
    ------
    ValueError
        For a dict with a key that names no node of ``graph``.
    """
    if not isinstance(x, Mapping):
        return {node: x for node in graph.inputs}
    unknown = sorted(set(x) - set(graph.named_nodes))
    if unknown:
        raise ValueError(f"inputs must be keyed by node names {sorted(graph.named_nodes)}; got {unknown}")
    return {graph.named_nodes[name]: value for name, value in x.items()}


def initialize_graph(
    model_or_node: Model | Node,
    x: np.ndarray | Mapping[str, Any],
    y: object = None,
    *,
    loss: str = "cross_entropy",
) -> None:
    """Initialize the graph's uninitialized nodes from the input width(s) (and the targets).

    Also readies a graph with delayed edges for ``Model.run`` (reservoirpy 0.4.2's own
    ``Model.initialize`` rejects delayed edges as a cycle): its feedback buffers start at zero.
    :class:`cbreservoir.graph.Model` calls this itself for such graphs.

    Node input widths follow the execution semantics (external input, direct parents, delayed
    parents). A :class:`~cbreservoir.nodes.GradientReadout` without ``output_dim`` takes it from ``y``
    by :func:`~cbreservoir.nodes.gradient_readout.infer_output_dim` with ``loss``, the loss the graph is
    trained with (not the node's own ``loss``, which only :meth:`GradientReadout.fit` uses): the number
    of classes ``max(y) + 1`` for ``"cross_entropy"``; for ``"mse"`` 1 for ``y`` of shape ``(S,)``, else
    ``y.shape[-1]``.

    Parameters
    ----------
    model_or_node : reservoirpy Model or Node
    x : array (T, d) / (S, T, d) / list of (T_i, d), or dict input-node name -> such data
    y : targets, optional
        Only read for the output size of a GradientReadout.
    loss : {"cross_entropy", "mse"}

    Raises
    ------
    ValueError
        When a width cannot be inferred (e.g. a readout without ``output_dim`` and without ``y``).
    """
    graph = model_or_node if isinstance(model_or_node, Model) else Model([model_or_node], [])
    widths = {node: feature_dim(value) for node, value in input_map(graph, x).items()}
    for node in graph.execution_order:
        if node.initialized:
            continue
        width = widths.get(node, 0) + sum(parent.output_dim for parent in graph.parents[node])
        width += sum(parent.output_dim for parent, delay, child in graph.edges if child is node and delay > 0)
        follows_loss = isinstance(node, LinearReadoutMixin) and node.output_dim_from_loss
        if follows_loss and node.output_dim is None and y is not None:
            node.output_dim = infer_output_dim(y, loss)
        node.initialize(np.zeros((1, width)))
        if node.output_dim is None:
            raise ValueError(f"cannot infer the output size of {node}; give it explicitly")
    if not graph.initialized and has_delays(graph):
        # with every node initialized, what reservoirpy's Model.initialize would set up is the
        # (zero) feedback buffers
        graph.feedback_buffers = {(p, d, c): np.zeros((d, p.output_dim)) for p, d, c in graph.edges if d > 0}
        graph.initialized = True

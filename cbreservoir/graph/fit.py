"""Closed-form fit of a feedforward graph's Ridge readout on states computed once. No torch here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from reservoirpy.model import Model as ReservoirpyModel
from reservoirpy.utils.model_utils import join_data

from cbreservoir.graph.initialize import has_delays
from cbreservoir.graph.model import Model
from cbreservoir.graph.run import node_outputs
from cbreservoir.nodes.ridge import Ridge

__all__ = ["fit_ridge_readout"]


def fit_ridge_readout(
    graph: ReservoirpyModel,
    x: np.ndarray | list[np.ndarray] | Mapping[str, Any],
    y: np.ndarray | list[np.ndarray],
    *,
    warmup: int = 0,
) -> np.ndarray | list[np.ndarray]:
    """Fit the Ridge output node of a feedforward graph in closed form on states computed once.

    Everything upstream of the Ridge runs once on the whole batch from zero states, leaving the nodes'
    states as they were (:func:`~cbreservoir.graph.run.node_outputs`; with a frozen core there is
    nothing to backpropagate through time); the Ridge node's input (e.g. the granule code of
    ``Reservoir >> Cerebellum >> Ridge``) is collected and ``Ridge.fit`` solves for the readout.
    Unlike reservoirpy's ``Model.fit``, per-series targets may be 1-D ``(S,)``, and the features come
    back for refits.

    Parameters
    ----------
    graph : reservoirpy Model
        Without delayed edges, whose single output node is a :class:`~cbreservoir.nodes.Ridge` fed by
        other nodes.
    x : array (S, T, d), list of (T_i, d), or dict input-node name -> such data
    y : Ridge targets: (S,) / (S, k) per series (final step), or per step in the layout of ``x``
    warmup : int
        Steps discarded at the start of every series (per-step targets).

    Returns
    -------
    ndarray (S, T, n_features) or list of (T_i, n_features)
        The Ridge node's input features (reuse them to refit, e.g. ``ridge.fit(features, y)``).
    """
    if not isinstance(graph, ReservoirpyModel):
        raise TypeError(f"graph must be a reservoirpy Model; got {type(graph).__name__}")
    if has_delays(graph):
        raise ValueError(
            "fit_ridge_readout needs a feedforward graph; the loop wiring is trained by train_graph"
        )
    if (
        len(graph.outputs) != 1
        or not isinstance(graph.outputs[0], Ridge)
        or not graph.parents[graph.outputs[0]]
    ):
        raise ValueError(
            f"the graph must end in one Ridge node fed by other nodes; got outputs {graph.outputs}"
        )
    ridge = graph.outputs[0]
    upstream = Model(
        [node for node in graph.nodes if node is not ridge], [e for e in graph.edges if e[2] is not ridge]
    )
    if not upstream.initialized:
        upstream.initialize(x)
    states = {node: node.state for node in upstream.nodes}
    upstream.reset()
    try:
        outputs = node_outputs(upstream, x)
    finally:  # the graph's nodes keep the states they had
        for node, state in states.items():
            node.state = state
    features = join_data(*(outputs[parent] for parent in graph.parents[ridge]))
    ridge.fit(features, y, warmup=warmup)
    return features

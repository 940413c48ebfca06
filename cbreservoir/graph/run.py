"""Running a feedforward graph node by node, each node on the whole batch at once.

reservoirpy 0.4.2's ``Model.run`` feeds multi-series input to the graph one series at a time; here
every node's ``run`` gets all series together, so :class:`~cbreservoir.nodes.Reservoir` advances them
as one batch. :class:`cbreservoir.graph.Model` (what ``>>`` between cbreservoir nodes builds) runs
this way by itself; :func:`run_batched` does it for any feedforward reservoirpy graph. No torch here.
"""

from __future__ import annotations

import numpy as np
from reservoirpy.model import Model
from reservoirpy.node import Node
from reservoirpy.utils.model_utils import join_data

from cbreservoir.graph.initialize import has_delays, input_map
from cbreservoir.utils.checks import check_series

__all__ = ["node_outputs", "predict_final", "run_batched"]


def node_outputs(graph: Model, x: object) -> dict[Node, object]:
    """Every node's outputs on ``x``, the graph run node by node on the whole batch.

    Every series starts from the nodes' current states; afterwards each node holds the last series'
    final state (reservoirpy's state semantics). An uninitialized graph is initialized from ``x``.

    Parameters
    ----------
    graph : reservoirpy Model
        Without delayed edges.
    x : ndarray (T, d) or (S, T, d), list of ndarray (T_i, d), or a dict {input name: such data}

    Returns
    -------
    dict node -> outputs in the layout of ``x``: (T, k), (S, T, k) or list of (T_i, k)

    Raises
    ------
    ValueError
        For a graph with delayed edges, or a dict ``x`` with a key that names no node.
    """
    if has_delays(graph):
        raise ValueError("a graph with delayed edges runs step by step; use model.run(x)")
    given = input_map(graph, x)
    if not graph.initialized:
        graph.initialize(x)
    outputs: dict[Node, object] = {}
    for node in graph.execution_order:
        parts = ([given[node]] if node in given else []) + [outputs[parent] for parent in graph.parents[node]]
        outputs[node] = node.run(join_data(*parts))
    return outputs


def run_batched(model: Node | Model, x: object) -> np.ndarray | list[np.ndarray] | dict[str, object]:
    """Run a feedforward graph node by node, each node on the whole batch at once.

    Same numbers and the same final node states as reservoirpy's series-by-series ``Model.run``
    (see :func:`node_outputs`).

    Parameters
    ----------
    model : reservoirpy Node or Model
        Without delayed edges (those graphs run step by step: use ``model.run``).
    x : ndarray (T, d) or (S, T, d), list of ndarray (T_i, d), or a dict {input name: data}

    Returns
    -------
    ndarray or list, in the layout of ``x`` (a 3-D array stays 3-D), or a dict {name: output} for
    several output nodes.
    """
    if isinstance(model, Node):
        return model.run(x)
    outputs = node_outputs(model, x)
    if len(model.outputs) == 1:
        return outputs[model.outputs[0]]
    return {node.name: outputs[node] for node in model.outputs}


def predict_final(model: Node | Model, x: object, *, reset: bool = True) -> np.ndarray:
    """One prediction per series: run ``model`` and return the output at each series' final step.

    The sequence-to-vector counterpart of ``model.run`` (feedforward graphs run batched, see
    :func:`run_batched`). With ``reset=True`` every node starts from a zero state (``model.reset()``),
    so the prediction of a series does not depend on what ran before.

    Parameters
    ----------
    model : reservoirpy Node or Model
        E.g. ``Reservoir(...) >> Cerebellum() >> Ridge()`` fitted with per-series targets.
    x : ndarray (S, T, d) or list of ndarray (T_i, d), or (T, d) for a single series
    reset : bool, default True

    Returns
    -------
    ndarray (S, k)
    """
    series = check_series(x)
    if reset and getattr(model, "initialized", False):
        model.reset()
    delayed = isinstance(model, Model) and has_delays(model)
    outputs = model.run(series.data) if delayed else run_batched(model, series.data)
    if series.layout == "single":
        return np.asarray(outputs)[-1:]
    return np.stack([np.asarray(out)[-1] for out in outputs])

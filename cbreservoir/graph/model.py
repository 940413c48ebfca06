"""The Model that ``>>`` between cbreservoir nodes builds: reservoirpy's Model whose ``run`` is batched.

reservoirpy 0.4.2's ``Model.run`` feeds multi-series input through the graph one series at a time.
:class:`Model` is a subclass (``isinstance(model, reservoirpy.model.Model)`` holds and the rest of the
API is reservoirpy's) whose ``run`` / ``predict`` run each node once on all series
(:func:`~cbreservoir.graph.run.run_batched`) when the graph has no delayed edge and holds only
cbreservoir nodes and reservoirpy ``Input`` nodes; other graphs (reservoirpy's own nodes mixed in,
delayed edges) run as reservoirpy runs them. ``fit`` is reservoirpy's, which already runs each node
once on the whole batch. Graphs with delayed edges are initialised by
:func:`~cbreservoir.graph.initialize.initialize_graph` (reservoirpy 0.4.2's ``initialize`` rejects them).

Examples
--------
>>> import numpy as np
>>> from cbreservoir.nodes import Cerebellum, Reservoir, Ridge
>>> model = Reservoir(30, sr=0.9, seed=0) >> Cerebellum(64, seed=1) >> Ridge(1e-6)
>>> type(model).__module__, model.runs_batched
('cbreservoir.graph.model', True)
>>> u = np.random.default_rng(0).normal(size=(8, 50, 1))
>>> model.fit(u, np.roll(u, 2, axis=1), warmup=5).run(u).shape     # 8 series at once, stays 3-D
(8, 50, 1)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from reservoirpy.model import Model as ReservoirpyModel
from reservoirpy.node import Node
from reservoirpy.nodes import Input

from cbreservoir.graph.initialize import has_delays, initialize_graph
from cbreservoir.graph.run import run_batched
from cbreservoir.nodes.operators import ComposingOperators, GraphOperatorsMixin
from cbreservoir.utils.checks import (
    COLLECTION_LAYOUTS,
    as_float_array,
    channels_last,
    check_choice,
    collection_orientation,
)

__all__ = ["Model", "as_model"]


class Model(ComposingOperators, ReservoirpyModel):
    """A reservoirpy Model of cbreservoir nodes whose ``run`` runs every node once on all series.

    Built by the graph operators, by :func:`as_model`, or as reservoirpy's: ``Model(nodes, edges)``
    with ``(parent, delay, child)`` edges.

    Notes
    -----
    Return types are reservoirpy's: a list for a list input, a 2-D array for one series, a dict
    ``{name: output}`` for several output nodes; a 3-D input gives a 3-D array (reservoirpy 0.4.2
    gives a list of its series). The node states afterwards are reservoirpy's too: every series
    starts from the current states, each node then holds the last series' final state.
    """

    @property
    def runs_batched(self) -> bool:
        """Whether ``run`` goes node by node on all series: no delayed edge, only cbreservoir/Input nodes."""
        return not has_delays(self) and all(isinstance(n, (GraphOperatorsMixin, Input)) for n in self.nodes)

    def initialize(self, x: object, y: object = None) -> None:
        """Initialise the nodes from a sample of ``x`` (and ``y``), as reservoirpy does.

        A graph with delayed edges and no targets is initialised by :func:`initialize_graph` from ``x``
        alone (its nodes' output sizes must then be known; reservoirpy 0.4.2 cannot initialise such
        graphs). With targets (``fit``), reservoirpy's ``initialize`` runs: teacher forcing can break the
        cycle of a feedback ``reservoir << readout`` (reservoirpy's tutorials), and ``fit`` needs it.
        """
        if has_delays(self) and y is None:
            initialize_graph(self, x)
        else:
            super().initialize(x, y)

    def fit(
        self, x: object, y: object = None, warmup: int = 0, workers: int = 1, layout: str = "auto"
    ) -> Model:
        """reservoirpy's ``fit``, reading collections with one target per series as aeon and scikit-learn
        users hold them.

        Parameters
        ----------
        x : ndarray (T, d) or (S, T, d), list of ndarray (T_i, d), or a dict {input name: such data}
            With targets per series also a 2-D ``(S, T)`` univariate collection (``y`` 1-D, one target
            per row), aeon's ``(S, channels, T)`` or a list of ``(channels, T_i)`` (``layout``).
        y : targets per step in the layout of ``x``, or per series ``(S,)`` / ``(S, k)``
            (read at each series' final step), or a dict {output name: such targets}
        warmup, workers
            reservoirpy's.
        layout : {"auto", "channels_last", "channels_first"}, default "auto"
            The order of the axes of each series of a 3-D ``x`` or a list, given targets per series:
            ``"channels_last"`` ``(time, features)``, ``"channels_first"`` aeon's ``(channels, time)``,
            ``"auto"`` read from the shapes where they leave no doubt, else refused
            (:func:`~cbreservoir.utils.checks.collection_orientation`).

        Returns
        -------
        Model
            Itself, fitted.
        """
        x, y = _collection_with_targets_per_series(x, y, layout)
        return super().fit(x, y, warmup=warmup, workers=workers)

    def run(self, x: object = None, iters: int | None = None, workers: int = 1) -> object:
        """Outputs of the graph on ``x``; see the class notes for the layouts and states.

        Parameters
        ----------
        x : ndarray (T, d) or (S, T, d), list of ndarray (T_i, d), or a dict {input name: such data}
        iters : int, optional
            With ``x=None``: run that many steps on empty input (reservoirpy).
        workers : int, default 1
            reservoirpy's parallel series (graphs that do not run batched).

        Returns
        -------
        ndarray (T, k) / (S, T, k), list of ndarray (T_i, k), or dict {output name: such outputs}
        """
        if x is None or not self.runs_batched:
            return super().run(x, iters=iters, workers=workers)
        return run_batched(self, x)


def _collection_with_targets_per_series(x: object, y: object, layout: str) -> tuple[object, object]:
    """``(x, y)`` for reservoirpy's ``fit``.

    A 2-D ``x`` with a 1-D ``y`` of one target per row becomes ``(S, T, 1)``, the series of a 3-D ``x`` or
    a list ``(time, features)`` (``layout``), 1-D targets per series ``(S, 1)``; dicts and targets per
    step pass unchanged (3-D ``x`` and lists after the layout check).
    """
    check_choice(layout, "layout", allowed=COLLECTION_LAYOUTS)
    if isinstance(x, Mapping) or isinstance(y, Mapping) or y is None:
        return x, y
    is_list = isinstance(x, (list, tuple)) and len(x) > 0 and np.ndim(x[0]) == 2
    try:
        y_ndim = np.asarray(y).ndim
    except ValueError:  # a ragged list: targets per step
        y_ndim = None
    if not is_list and np.ndim(x) == 2:
        if y_ndim == 1 and len(y) == len(x):
            return as_float_array(x, "x")[:, :, None], np.asarray(y)[:, None]
        return x, y
    per_series = y_ndim in (1, 2) and not (is_list and isinstance(y, (list, tuple)) and np.ndim(y[0]) == 2)
    x = channels_last(x, collection_orientation(x, layout, per_series=per_series, name="x"))
    return x, (np.asarray(y)[:, None] if y_ndim == 1 else y)


def as_model(graph: ReservoirpyModel | Node) -> Model:
    """``graph`` as a :class:`Model`: itself, a new one over the same nodes and edges, or one node's.

    Parameters
    ----------
    graph : reservoirpy Model or Node
        E.g. a graph built with reservoirpy's own operators from an ``Input`` node. The nodes keep
        their weights and states; a new Model initialises itself (cheaply) on its first run.

    Raises
    ------
    TypeError
        For anything else.
    """
    if isinstance(graph, Model):
        return graph
    if isinstance(graph, ReservoirpyModel):
        return Model(graph.nodes, graph.edges)
    if isinstance(graph, Node):
        return Model([graph], [])
    raise TypeError(f"as_model needs a reservoirpy Model or Node; got {type(graph).__name__}")

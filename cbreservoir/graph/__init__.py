"""Graphs of cbreservoir nodes: building, the batched Model, running, torch compilation, fits, conversions.

* :mod:`~cbreservoir.graph.model` — :class:`Model`, what ``>>`` / ``&`` / ``<<`` between cbreservoir
  nodes build: a reservoirpy Model whose ``run`` goes node by node on all series;
* :mod:`~cbreservoir.graph.run` — :func:`run_batched`, :func:`predict_final`, :func:`node_outputs`;
* :mod:`~cbreservoir.graph.initialize` — :func:`initialize_graph` (graphs with delayed edges);
* :mod:`~cbreservoir.graph.build` — :func:`cerebellar_loop`, the paper's loop wiring;
* :mod:`~cbreservoir.graph.compile` — :func:`compile_graph` / :class:`CompiledGraph` (torch, BPTT);
* :mod:`~cbreservoir.graph.train` — :func:`train_graph`, :func:`train_core_then_freeze`;
* :mod:`~cbreservoir.graph.fit` — :func:`fit_ridge_readout`, the closed-form readout fit;
* :mod:`~cbreservoir.graph.convert` — :func:`graph_from_cbrnn`;
* :mod:`~cbreservoir.graph.forecast` — :func:`forecast_pairs` (h-step targets), :func:`generate`.

The model, run, initialize, build and fit modules import no torch. Names are imported lazily.
"""

from cbreservoir.utils.lazy import lazy_exports

_EXPORTS = {
    "Model": "cbreservoir.graph.model",
    "as_model": "cbreservoir.graph.model",
    "node_outputs": "cbreservoir.graph.run",
    "predict_final": "cbreservoir.graph.run",
    "run_batched": "cbreservoir.graph.run",
    "initialize_graph": "cbreservoir.graph.initialize",
    "cerebellar_loop": ".build",
    "CompiledGraph": ".compile",
    "compile_graph": ".compile",
    "GraphTrainingResult": ".train",
    "train_graph": ".train",
    "train_core_then_freeze": ".train",
    "fit_ridge_readout": ".fit",
    "graph_from_cbrnn": ".convert",
    "forecast_pairs": ".forecast",
    "generate": ".forecast",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

"""Graphs of cbreservoir nodes: building, the batched Model, running, torch compilation, fits, conversions.

Gradient training of a compiled graph goes through the one trainer, at the training layer:
:func:`cbreservoir.training.train_graph` and :func:`cbreservoir.training.train_core_then_freeze`.

* :mod:`~cbreservoir.nodes.model` — :class:`Model`, what ``>>`` / ``&`` / ``<<`` between cbreservoir
  nodes build: a reservoirpy Model whose ``run`` goes node by node on all series;
* :mod:`~cbreservoir.nodes.run` — :func:`run_batched`, :func:`predict_final`, :func:`node_outputs`;
* :mod:`~cbreservoir.nodes.initialize` — :func:`initialize_graph` (graphs with delayed edges);
* :mod:`~cbreservoir.graph.build` — :func:`cerebellar_loop`, the paper's loop wiring;
* :mod:`~cbreservoir.graph.compile` — :func:`compile_graph` / :class:`CompiledGraph` (torch, BPTT);
* :mod:`~cbreservoir.graph.fit` — :func:`fit_ridge_readout`, the closed-form readout fit;
* :mod:`~cbreservoir.graph.convert` — :func:`graph_from_cbrnn`;
* :mod:`~cbreservoir.graph.forecast` — :func:`forecast_pairs` (h-step targets), :func:`generate`.

The model, run, initialize, build and fit modules import no torch. Names are imported lazily.
"""

from cbreservoir.utils.lazy import lazy_exports

_EXPORTS = {
    "Model": "cbreservoir.nodes.model",
    "as_model": "cbreservoir.nodes.model",
    "node_outputs": "cbreservoir.nodes.run",
    "predict_final": "cbreservoir.nodes.run",
    "run_batched": "cbreservoir.nodes.run",
    "initialize_graph": "cbreservoir.nodes.initialize",
    "cerebellar_loop": ".build",
    "CompiledGraph": ".compile",
    "compile_graph": ".compile",
    "fit_ridge_readout": ".fit",
    "graph_from_cbrnn": ".convert",
    "forecast_pairs": ".forecast",
    "generate": ".forecast",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

"""Graphs of cbreservoir nodes: building, the batched Model, running, torch compilation, fits, conversions.

Gradient training of a compiled graph goes through the one trainer, at the training layer:
:func:`cbreservoir.training.train_graph` and :func:`cbreservoir.training.train_core_then_freeze`.

* :mod:`~cbreservoir.graph.model` — :class:`Model`, what ``>>`` / ``&`` / ``<<`` between cbreservoir
  nodes build: a reservoirpy Model whose ``run`` goes node by node on all series;
* :mod:`~cbreservoir.graph.run` — :func:`run_batched`, :func:`predict_final`, :func:`node_outputs`;
* :mod:`~cbreservoir.graph.initialize` — :func:`initialize_graph` (graphs with delayed edges);
* :mod:`~cbreservoir.graph.build` — :func:`cerebellar_loop`, the paper's loop wiring;
* :mod:`~cbreservoir.graph.compile` — :func:`compile_graph` / :class:`CompiledGraph` (torch, BPTT);
* :mod:`~cbreservoir.graph.fit` — :func:`fit_ridge_readout`, the closed-form readout fit;
* :mod:`~cbreservoir.graph.convert` — :func:`graph_from_cbrnn`;
* :mod:`~cbreservoir.graph.forecast` — :func:`forecast_pairs` (h-step targets), :func:`generate`.

The model, run, initialize, build and fit modules import no torch. Names are imported lazily.
"""

from typing import TYPE_CHECKING

from cbreservoir.utils.lazy import lazy_exports

if TYPE_CHECKING:
    from cbreservoir.graph.build import cerebellar_loop as cerebellar_loop
    from cbreservoir.graph.compile import CompiledGraph as CompiledGraph
    from cbreservoir.graph.compile import compile_graph as compile_graph
    from cbreservoir.graph.convert import graph_from_cbrnn as graph_from_cbrnn
    from cbreservoir.graph.fit import fit_ridge_readout as fit_ridge_readout
    from cbreservoir.graph.forecast import forecast_pairs as forecast_pairs
    from cbreservoir.graph.forecast import generate as generate
    from cbreservoir.graph.initialize import initialize_graph as initialize_graph
    from cbreservoir.graph.model import Model as Model
    from cbreservoir.graph.model import as_model as as_model
    from cbreservoir.graph.run import node_outputs as node_outputs
    from cbreservoir.graph.run import predict_final as predict_final
    from cbreservoir.graph.run import run_batched as run_batched

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)

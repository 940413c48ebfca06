"""Conversions: a torch CB-RNN model as the equivalent graph of cbreservoir nodes (the loop wiring)."""

from __future__ import annotations

import numpy as np
import torch
from reservoirpy.nodes import Input
from torch import nn

from cbreservoir.nodes.cerebellum import Cerebellum
from cbreservoir.nodes.gradient_readout import GradientReadout
from cbreservoir.nodes.initialize import initialize_graph
from cbreservoir.nodes.model import Model
from cbreservoir.nodes.reservoir import Reservoir

__all__ = ["graph_from_cbrnn"]


def graph_from_cbrnn(model: nn.Module) -> Model:
    """The paper's loop wiring as a reservoirpy graph with the weights of a CB-RNN model.

    Nodes: ``"input"`` (Input), ``"core"`` (Reservoir with ``cerebellar_bias=True``, ``bias = b_x + b_h``),
    ``"cerebellum"`` (Cerebellum, ``output="nuclei"``, reading ``[x_t ; h_{t−1}]``; the columns of
    ``W_gc`` are reordered from the model's ``[h_{t−1}; x_t]``) and one GradientReadout per head
    (``"readout"``, or ``"readout0"``, ``"readout1"``, ... for several heads). Edges: input → cerebellum,
    input → core, cerebellum → core (immediate), core → cerebellum (delay 1), core → readouts. The core
    node's state plays h_0 (pass ``initial_states={"core": h0}`` to the compiled graph). The returned
    graph is initialized: ``graph.run(x)`` works (from zero states) and so does
    :func:`~cbreservoir.graph.compile.compile_graph`.
    """
    core, cerebellum = model.core, model.cerebellum
    hidden, n_inputs = model.units, model.input_dim

    def numpy(tensor: torch.Tensor) -> np.ndarray:
        return tensor.detach().cpu().double().numpy()

    source = Input(name="input")
    source.initialize(np.zeros(n_inputs))
    reservoir = Reservoir(
        hidden,
        lr=core.leak,
        W=numpy(core.recurrent_layer.weight),
        Win=numpy(core.input_layer.weight),
        bias=numpy(core.input_layer.bias + core.recurrent_layer.bias),
        activation=core.activation_name,
        cerebellar_bias=True,
        name="core",
    )
    reservoir.initialize()
    cb = Cerebellum(
        cerebellum.granule.out_features,
        cerebellum.purkinje.out_features,
        n_out=hidden,
        output="nuclei",
        input_dim=hidden + n_inputs,
        name="cerebellum",
    )
    cb.initialize()
    granule_weight = numpy(cerebellum.granule.weight)
    cb.W_gc = np.concatenate([granule_weight[:, hidden:], granule_weight[:, :hidden]], axis=1)
    for name, layer in (("gc", cerebellum.granule), ("pc", cerebellum.purkinje), ("dcn", cerebellum.nuclei)):
        setattr(cb, f"b_{name}", numpy(layer.bias))
        if name != "gc":
            setattr(cb, f"W_{name}", numpy(layer.weight))
    heads = list(model.readouts)
    readouts = [
        GradientReadout(
            Wout=numpy(head.weight).T,
            bias=numpy(head.bias),
            name="readout" if len(heads) == 1 else f"readout{i}",
        )
        for i, head in enumerate(heads)
    ]
    for readout in readouts:
        readout.initialize()
    edges = [(source, 0, cb), (source, 0, reservoir), (cb, 0, reservoir), (reservoir, 1, cb)]
    edges += [(reservoir, 0, readout) for readout in readouts]
    graph = Model([source, cb, reservoir, *readouts], edges)
    initialize_graph(graph, np.zeros((1, n_inputs)))
    return graph

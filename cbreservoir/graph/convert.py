"""Conversions: a torch CB-RNN model as the equivalent graph of cbreservoir nodes (the loop wiring)."""

from __future__ import annotations

import numpy as np
import torch
from reservoirpy.nodes import Input
from torch import nn

from cbreservoir.graph.initialize import initialize_graph
from cbreservoir.graph.model import Model
from cbreservoir.nodes.cerebellum import Cerebellum
from cbreservoir.nodes.gradient_readout import GradientReadout
from cbreservoir.nodes.reservoir import Reservoir
from cbreservoir.numerics.network import WEIGHTS, model_key

__all__ = ["graph_from_cbrnn"]


def graph_from_cbrnn(model: nn.Module) -> Model:
    """The paper's loop wiring as a reservoirpy graph with the weights of a CB-RNN model.

    Nodes: ``"input"`` (Input), ``"core"`` (Reservoir with ``cerebellar_bias=True``, ``bias`` = b_x and
    ``recurrent_bias`` = b_h), ``"cerebellum"`` (Cerebellum, ``output="nuclei"``, reading ``[x_t ; h_{t−1}]``
    like the model) and one GradientReadout per head (``"readout"``, or ``"readout0"``, ``"readout1"``, ...
    for several heads).
    Edges: input → cerebellum, input → core, cerebellum → core (immediate), core → cerebellum (delay 1),
    core → readouts. The core node's state plays h_0 (pass ``initial_states={"core": h0}`` to the
    compiled graph). The returned graph is initialized: ``graph.run(x)`` works (from zero states) and so
    does :func:`~cbreservoir.graph.compile.compile_graph`. Every weight is copied by the one table
    :data:`cbreservoir.numerics.network.WEIGHTS` (state-dict key, node attribute, transposition), the
    mapping docs/model.md documents: each of the model's weights is one weight of the graph, so the two
    train alike (:class:`~cbreservoir.training.GradientTrainer`, any plasticity schedule).
    """
    core, cerebellum = model.core, model.cerebellum
    hidden, n_inputs = model.units, model.input_dim
    state = model.state_dict()

    def numpy(tensor: torch.Tensor) -> np.ndarray:
        return tensor.detach().cpu().double().numpy()

    def weight(name: str, head: int = 0) -> np.ndarray:
        value = numpy(state[model_key(name, head)])
        return value.T if WEIGHTS[name].transposed else value

    source = Input(name="input")
    source.initialize(np.zeros(n_inputs))
    reservoir = Reservoir(
        hidden,
        lr=core.leak,
        W=weight("W_rec"),
        Win=weight("W_in"),
        bias=weight("b_in"),
        recurrent_bias=weight("b_rec"),
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
        input_dim=n_inputs + hidden,
        name="cerebellum",
    )
    cb.initialize()
    for name in ("W_gc", "b_gc", "W_pc", "b_pc", "W_dcn", "b_dcn"):
        setattr(cb, WEIGHTS[name].attribute, weight(name))
    n_heads = len(model.readouts)
    readouts = [
        GradientReadout(
            Wout=weight("W_out", k),
            bias=weight("b_out", k),
            name="readout" if n_heads == 1 else f"readout{k}",
        )
        for k in range(n_heads)
    ]
    for readout in readouts:
        readout.initialize()
    edges = [(source, 0, cb), (source, 0, reservoir), (cb, 0, reservoir), (reservoir, 1, cb)]
    edges += [(reservoir, 0, readout) for readout in readouts]
    graph = Model([source, cb, reservoir, *readouts], edges)
    initialize_graph(graph, np.zeros((1, n_inputs)))
    return graph

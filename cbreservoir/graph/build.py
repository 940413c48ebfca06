"""Building graphs: the paper's loop wiring (CB-RNN) from a Reservoir and a Cerebellum node. No torch here."""

from __future__ import annotations

import numpy as np
from reservoirpy.node import Node
from reservoirpy.nodes import Input

from cbreservoir.graph.initialize import initialize_graph
from cbreservoir.graph.model import Model, as_model
from cbreservoir.nodes.cerebellum import Cerebellum
from cbreservoir.nodes.reservoir import Reservoir

__all__ = ["cerebellar_loop"]


def cerebellar_loop(
    core: Reservoir, cerebellum: Cerebellum, *, input_dim: int, source: Node | None = None
) -> Model:
    """The paper's CB-RNN wiring as a graph, initialised and ready to ``run``.

    Edges (reservoirpy operators)::

        (source >> core) & (cerebellum >> core) & (source >> cerebellum) & (core >> 1 >> cerebellum)

    so the cerebellum reads ``[x_t ; h_{t−1}]`` and its nuclei output ``c_t`` is the additive bias of
    the core at the same step: ``h_t = (1 − lr) h_{t−1} + lr φ(W_in x_t + b + W h_{t−1} + c_t)``.
    reservoirpy concatenates a node's inputs as: model input, direct parents (in edge order), then
    delayed parents; the edge order above gives the core ``[x_t ; c_t]`` as
    ``Reservoir(cerebellar_bias=True)`` expects.

    Parameters
    ----------
    core : Reservoir
        With ``cerebellar_bias=True``.
    cerebellum : Cerebellum
        With ``output="nuclei"`` and ``n_out == core.units``.
    input_dim : int
        Features of x.
    source : reservoirpy Input, optional
        The input node (default ``Input(name="x")``).

    Returns
    -------
    Model
        Outputs the core's states; ``model.run(X)`` with X ``(T, d)``, ``(S, T, d)`` or a list (step
        by step, series by series: the loop has a delayed edge). A graph extended from it (e.g.
        ``loop & (core >> readout)``) initialises itself on its first run.
    """
    if not getattr(core, "cerebellar_bias", False):
        raise ValueError(f"the loop core needs cerebellar_bias=True; got {core}")
    if cerebellum.output != "nuclei" or cerebellum.n_out != core.units:
        raise ValueError(
            f"the loop cerebellum must emit its nuclei with n_out={core.units} (the core's units); "
            f"got output={cerebellum.output!r}, n_out={cerebellum.n_out}"
        )
    source = Input(name="x") if source is None else source
    model = as_model(
        (source >> core) & (cerebellum >> core) & (source >> cerebellum) & (core >> 1 >> cerebellum)
    )
    initialize_graph(model, np.zeros((1, input_dim)))
    return model

"""The specification of the cortico-cerebellar network: equations, weight names and shapes, input order.

This module is the one place that says what the network is; the torch models
(:mod:`cbreservoir.models`), the reservoirpy nodes (:mod:`cbreservoir.nodes`), the converter
(:mod:`cbreservoir.graph.convert`) and ``docs/model.md`` follow it. It holds no torch math.

Equations (d inputs, H core units, G granule cells, P Purkinje cells; one step t = 1..T)::

    u_t = [x_t ; h_{t-1}]                                   mossy fibres (d + H): inputs first
    g_t = ReLU(W_gc u_t + b_gc)                             granule cells (G)
    p_t = ReLU(W_pc g_t + b_pc)                             Purkinje cells (P)
    c_t = W_dcn p_t + b_dcn                                 deep cerebellar nuclei (H), the bias
    h_t = (1 - lr) h_{t-1} + lr phi(W_in x_t + b_in + W_rec h_{t-1} + b_rec + c_t)
    y   = W_out h_T + b_out                                 readout of the final state

``lr`` is the leak rate alpha in (0, 1]; the study writes it as a time constant ``tau`` (alpha = 1/tau,
tau = 1.5). The mossy-fibre order ``[x_t ; h_{t-1}]`` is the order in which a reservoirpy node receives
its inputs (the model input and direct parents, then delayed parents), so a Cerebellum node in the
loop graph and the torch models read the same vector and ``W_gc`` means the same matrix in both.

Examples
--------
>>> leak_rate(tau=2.0)
0.5
>>> WEIGHTS["W_gc"].shape
('G', 'd + H')
>>> MODEL_KEYS["cerebellum"]["W_gc"]
'cerebellum.granule.weight'
"""

from __future__ import annotations

from typing import NamedTuple

from cbreservoir.numerics.study import STUDY
from cbreservoir.utils.checks import check_real

__all__ = [
    "DEFAULT_LR",
    "DEFAULT_TAU",
    "INITIAL_STATE_SCALE",
    "MODEL_KEYS",
    "MOSSY_ORDER",
    "MOSSY_WEIGHT_KEYS",
    "NODE_ATTRIBUTES",
    "PAPER_CEREBELLUM_INIT_STD",
    "WEIGHTS",
    "Weight",
    "leak_rate",
    "model_key",
    "mossy_columns",
]

#: The study's time constant τ = 1.5.
DEFAULT_TAU = STUDY.tau
#: The study's leak rate α = 1/τ, computed as ``1 / 1.5`` (the numbers of the study, bitwise).
DEFAULT_LR = STUDY.lr

#: Scale of the initial state: h_0 ~ INITIAL_STATE_SCALE · U(0, 1) (the study's initial state, docs/model.md).
INITIAL_STATE_SCALE = 0.1

#: Standard deviations of the paper's cerebellar initialisation (normal, mean 0; biases are zero).
PAPER_CEREBELLUM_INIT_STD = {"granule": 0.01, "purkinje": 0.1, "nuclei": 0.1}

#: The cerebellum's mossy-fibre input, in order: the inputs x_t (d), then the delayed core state h_{t-1} (H).
MOSSY_ORDER = ("x", "h")
#: State-dict keys of the layers that read the mossy fibres (columns in :data:`MOSSY_ORDER`): the
#: cerebellum's granule layer, and RecurrentAuxRNN's auxiliary input layer.
MOSSY_WEIGHT_KEYS = ("cerebellum.granule.weight", "auxiliary.recurrent.input_layer.weight")


def leak_rate(lr: float | None = None, tau: float | None = None) -> float:
    """The leak rate α of a leaky core given as ``lr`` (α, reservoirpy's name) or ``tau`` (α = 1/τ).

    Parameters
    ----------
    lr : float, optional
        α in (0, 1]; returned as given (no round trip through 1/τ).
    tau : float, optional
        τ >= 1 (finite); α = 1/τ.

    Returns
    -------
    float
        α; :data:`DEFAULT_LR` (= 1 / 1.5) when neither is given.

    Raises
    ------
    ValueError
        Both given, ``lr`` outside (0, 1], ``tau`` below 1, NaN or infinite.
    TypeError
        ``lr`` or ``tau`` not a real number (a string, a bool).
    """
    if lr is not None and tau is not None:
        raise ValueError(f"give the leak as lr or as tau (lr = 1/tau), not both; got lr={lr!r}, tau={tau!r}")
    if tau is not None:
        return 1.0 / check_real(tau, "tau", minimum=1.0)  # so that the leak 1/tau is in (0, 1]
    if lr is None:
        return DEFAULT_LR
    return check_real(lr, "lr (leak rate)", minimum=0.0, maximum=1.0, strict=True)


def mossy_columns(n_inputs: int, units: int) -> dict[str, slice]:
    """Columns of ``W_gc`` (G, d + H) that multiply x_t and h_{t-1}.

    Returns ``{"x": slice(0, d), "h": slice(d, d + H)}`` for ``n_inputs`` = d and ``units`` = H.
    """
    return {"x": slice(0, n_inputs), "h": slice(n_inputs, n_inputs + units)}


class Weight(NamedTuple):
    """One weight of the network: shape (in the symbols d, H, G, P, C), role, and where each form holds it.

    ``model_key`` is the torch CB-RNN's state-dict key (``{k}``: the readout head); ``node`` and
    ``attribute`` name the loop graph's node (``Reservoir`` "core", ``Cerebellum`` "cerebellum", one
    ``GradientReadout`` per head, "readout") and its attribute, ``transposed`` when the node stores the
    transpose (a GradientReadout's ``Wout`` is (H, C)). The Reservoir holds ``b_in`` as ``bias`` and ``b_rec``
    as ``recurrent_bias``, so every weight of the model is one weight of the graph.
    """

    shape: tuple[str, ...]
    role: str
    model_key: str
    node: str
    attribute: str
    transposed: bool = False


#: Every weight of the network, by its documented name (shapes: rows = outputs, as torch's ``Linear``):
#: the one table from which :data:`MODEL_KEYS` and :data:`NODE_ATTRIBUTES` are read. The columns of
#: ``cerebellum.granule.weight`` are in :data:`MOSSY_ORDER`.
WEIGHTS: dict[str, Weight] = {
    "W_in": Weight(("H", "d"), "input weights of the core", "core.input_layer.weight", "core", "Win"),
    "b_in": Weight(("H",), "input bias of the core", "core.input_layer.bias", "core", "bias"),
    "W_rec": Weight(("H", "H"), "recurrent weights of the core", "core.recurrent_layer.weight", "core", "W"),
    "b_rec": Weight(
        ("H",), "recurrent bias of the core", "core.recurrent_layer.bias", "core", "recurrent_bias"
    ),
    "W_gc": Weight(
        ("G", "d + H"),
        "mossy fibres -> granule cells; columns [x_t ; h_{t-1}]",
        "cerebellum.granule.weight",
        "cerebellum",
        "W_gc",
    ),
    "b_gc": Weight(("G",), "granule bias", "cerebellum.granule.bias", "cerebellum", "b_gc"),
    "W_pc": Weight(
        ("P", "G"),
        "granule cells (parallel fibres) -> Purkinje cells",
        "cerebellum.purkinje.weight",
        "cerebellum",
        "W_pc",
    ),
    "b_pc": Weight(("P",), "Purkinje bias", "cerebellum.purkinje.bias", "cerebellum", "b_pc"),
    "W_dcn": Weight(
        ("H", "P"),
        "Purkinje cells -> nuclei, the bias c_t of the core",
        "cerebellum.nuclei.weight",
        "cerebellum",
        "W_dcn",
    ),
    "b_dcn": Weight(("H",), "nuclei bias", "cerebellum.nuclei.bias", "cerebellum", "b_dcn"),
    "W_out": Weight(
        ("C", "H"),
        "readout of the final core state",
        "readouts.{k}.weight",
        "readout",
        "Wout",
        transposed=True,
    ),
    "b_out": Weight(("C",), "readout bias", "readouts.{k}.bias", "readout", "bias"),
}

#: :data:`WEIGHTS` read by module: the torch CB-RNN's state-dict key of every weight.
MODEL_KEYS: dict[str, dict[str, str]] = {
    module: {name: weight.model_key for name, weight in WEIGHTS.items() if weight.node == module}
    for module in ("core", "cerebellum", "readout")
}

#: :data:`WEIGHTS` read as the loop graph's ``(node, attribute, transposed)`` of every weight.
NODE_ATTRIBUTES: dict[str, tuple[str, str, bool]] = {
    name: (weight.node, weight.attribute, weight.transposed) for name, weight in WEIGHTS.items()
}


def model_key(name: str, head: int = 0) -> str:
    """The CB-RNN state-dict key of weight ``name`` (:data:`WEIGHTS`); ``head`` picks the readout head.

    Raises
    ------
    ValueError
        ``name`` is not a weight of :data:`WEIGHTS`.
    """
    if name in WEIGHTS:
        return WEIGHTS[name].model_key.format(k=head)
    raise ValueError(f"name must be one of {list(WEIGHTS)}, got {name!r}")

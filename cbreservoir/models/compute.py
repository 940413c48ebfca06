"""Compute of every model kind: multiply-adds per update and per inference, from the model's shapes.

:func:`multiply_adds` counts what a forward pass (and, given what learns, its backward pass) of a model on
a (B, T, d) batch computes in matrix products (:mod:`cbreservoir.numerics.compute` says what is counted):
the fused kernel of CB-RNN and RNN-only, the step-by-step autograd of GRU, LSTM (with or without the
cerebellum) and the recurrent auxiliary control, and the heads.

Examples
--------
>>> from cbreservoir.models import CBRNN
>>> from cbreservoir.models.compute import multiply_adds
>>> model = CBRNN(1, seed=0)
>>> inference = multiply_adds(model, batch_size=64, n_steps=10)
>>> inference.backward, inference.forward > 0
(0, True)
>>> frozen_core = {"cerebellum": True, "readout": True}
>>> multiply_adds(model, 64, 10, frozen_core).backward < multiply_adds(model, 64, 10, dict.fromkeys(
...     ["core.input", "core.recurrent", "cerebellum", "readout"], True)).backward
True
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import nn

from cbreservoir.models.base import RecurrentNetwork
from cbreservoir.models.gated import LSTMModel, _GatedModel
from cbreservoir.models.leaky import RecurrentAuxRNN, _FusedLeakyModel
from cbreservoir.numerics.compute import (
    MultiplyAdds,
    Product,
    leaky_sequence_multiply_adds,
    readout_multiply_adds,
    step_products_multiply_adds,
)

__all__ = ["MultiplyAdds", "multiply_adds"]


def _cerebellum_on(model: RecurrentNetwork) -> bool:
    return model.bias_module is not None and model.cerebellum_enabled


def _cerebellar_products(model: RecurrentNetwork) -> list[Product]:
    """Granule, Purkinje and nuclei products of a cerebellum reading ``[x_t ; h_{t−1}]``."""
    cerebellum = model.cerebellum
    granule, purkinje = cerebellum.granule.out_features, cerebellum.purkinje.out_features
    mossy = model.input_dim + model.units
    return [
        Product(("x", "h"), mossy, granule, "cerebellum", "granule"),
        Product(("granule",), granule, purkinje, "cerebellum", "purkinje"),
        Product(("purkinje",), purkinje, model.units, "cerebellum", "nuclei"),
    ]


def _step_description(
    model: RecurrentNetwork,
) -> tuple[list[Product], tuple[str, ...], dict[str, tuple[str, ...]]]:
    """``(products, state, next_state)`` of one step of an autograd-stepped model."""
    d, units = model.input_dim, model.units
    on = _cerebellum_on(model)
    if isinstance(model, RecurrentAuxRNN):
        n_aux = model.auxiliary.n_units
        products = [
            Product(("x",), d, units, "core.input", "core_x"),
            Product(("h",), units, units, "core.recurrent", "core_h"),
        ]
        if not on:
            return products, ("h", "a"), {"h": ("h", "core_x", "core_h"), "a": ("a",)}
        products += [
            Product(("x", "h"), d + units, n_aux, "cerebellum", "aux_u"),
            Product(("a",), n_aux, n_aux, "cerebellum", "aux_a"),
            Product(("aux_u", "aux_a", "a"), n_aux, units, "cerebellum", "nuclei"),
        ]
        next_state = {"h": ("h", "core_x", "core_h", "nuclei"), "a": ("a", "aux_u", "aux_a")}
        return products, ("h", "a"), next_state
    if isinstance(model, _GatedModel):
        gates = 4 * units if isinstance(model, LSTMModel) else 3 * units
        products = [
            Product(("x",), d, gates, "core.input", "core_x"),
            Product(("h",), units, gates, "core.recurrent", "core_h"),
        ]
        products += _cerebellar_products(model) if on else []
        sources = ("h", "core_x", "core_h", *(("nuclei",) if on else ()))
        return products, ("h",), {"h": sources}
    raise TypeError(f"no step description for {type(model).__name__}")


def multiply_adds(
    model: nn.Module,
    batch_size: int,
    n_steps: int,
    learns: Mapping[str, bool] | None = None,
    head: int | None = None,
) -> MultiplyAdds:
    """Multiply-adds of one forward pass of ``model`` on a (B, T, d) batch and of its backward pass.

    Parameters
    ----------
    model : RecurrentNetwork
        Any :mod:`cbreservoir.models` model (kinds ``cbrnn``, ``rnn``, ``gru``, ``gru_cb``, ``lstm``,
        ``lstm_cb``, ``rnn_aux``); a switched-off cerebellum (``cerebellum_enabled = False``) costs nothing.
    batch_size, n_steps : int
        B and T.
    learns : mapping part -> bool, optional
        Which of ``"core.input"``, ``"core.recurrent"``, ``"cerebellum"``, ``"readout"`` learn in this
        update (missing parts: False). None: inference (no backward), what an evaluation computes.
    head : int, optional
        The only head in the loss (task switching, the continual plan: the active head); default all.

    Returns
    -------
    MultiplyAdds
        ``forward`` and ``backward`` (0 for inference); FLOPs are twice these.

    Raises
    ------
    TypeError
        ``model`` is not a cbreservoir model.
    ValueError
        A size that is not an int >= 0, or an unknown part.
    """
    if not isinstance(model, RecurrentNetwork):
        raise TypeError(f"model must be a cbreservoir model, got {type(model).__name__}")
    parts = {} if learns is None else dict(learns)
    if isinstance(model, _FusedLeakyModel):
        on = _cerebellum_on(model)
        cerebellum = model.cerebellum if on else None
        sequence = leaky_sequence_multiply_adds(
            batch_size,
            n_steps,
            model.input_dim,
            model.units,
            0 if cerebellum is None else cerebellum.granule.out_features,
            0 if cerebellum is None else cerebellum.purkinje.out_features,
            learns,
        )
        state_grad = sequence.backward > 0
    else:
        products, state, next_state = _step_description(model)
        sequence, state_grad = step_products_multiply_adds(
            products, state, next_state, batch_size, n_steps, learns
        )
    heads = readout_multiply_adds(
        batch_size,
        model.units,
        model.head_sizes,
        learns=bool(parts.get("readout", False)),
        state_needs_grad=state_grad and learns is not None,
        trained_heads=None if head is None else [head],
    )
    if learns is None:
        return MultiplyAdds(sequence.forward + heads.forward, 0)
    return sequence + heads

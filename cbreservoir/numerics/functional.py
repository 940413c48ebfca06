"""The model's math, written once.

Every path of cbreservoir — the reservoirpy nodes (numpy in, numpy out), the torch modules
trained by BPTT and the batched ensembles — evaluates the equations of ``DESIGN.md`` through
the functions below. They take torch tensors of any floating dtype; leading dimensions are
batch dimensions (series, ensemble members, ...).

Notation (DESIGN.md): input x_t (d features), cortical state h_t (H units), leak α.

    h_t = (1 − α) h_{t−1} + α φ(W_x x_t + b_x + W_h h_{t−1} + b_h + c_t)
    g_t = ReLU(W_gc u_t + b_gc);  p_t = ReLU(W_pc g_t + b_pc);  c_t = W_dcn p_t + b_dcn
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F

from cbreservoir.numerics.activations import LEAKY_RELU_SLOPE


def _leaky_relu(z: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(z, LEAKY_RELU_SLOPE)


def _identity(z: torch.Tensor) -> torch.Tensor:
    return z


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "leaky_relu": _leaky_relu,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "identity": _identity,
}


def get_activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return the element-wise activation called ``name``.

    Parameters
    ----------
    name : str
        One of ``ACTIVATIONS``: ``"tanh"``, ``"leaky_relu"`` (slope 0.01), ``"relu"``,
        ``"sigmoid"``, ``"identity"``.

    Raises
    ------
    ValueError
        If ``name`` is not a known activation.
    """
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


def core_preactivation(
    x: torch.Tensor,
    h: torch.Tensor,
    w_in: torch.Tensor,
    w_rec: torch.Tensor,
    b_in: torch.Tensor | None = None,
    b_rec: torch.Tensor | None = None,
    cerebellar_bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pre-activation of the cortical core, ``W_x x + b_x + W_h h + b_h + c``.

    Parameters
    ----------
    x : tensor (..., d)
        Input at this step.
    h : tensor (..., H)
        Previous state h_{t−1}.
    w_in : tensor (H, d)
    w_rec : tensor (H, H)
    b_in, b_rec : tensor (H,), optional
    cerebellar_bias : tensor (..., H), optional
        Additive bias c_t from a cerebellar module (loop wiring).

    Returns
    -------
    tensor (..., H)
    """
    z = F.linear(x, w_in, b_in) + F.linear(h, w_rec, b_rec)
    if cerebellar_bias is not None:
        z = z + cerebellar_bias
    return z


def core_step(
    x: torch.Tensor,
    h: torch.Tensor,
    w_in: torch.Tensor,
    w_rec: torch.Tensor,
    b_in: torch.Tensor | None,
    b_rec: torch.Tensor | None,
    leak: float | torch.Tensor,
    activation: Callable[[torch.Tensor], torch.Tensor],
    cerebellar_bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """One step of the leaky Elman core (DESIGN.md).

    ``h_t = (1 − α) h_{t−1} + α φ(W_x x_t + b_x + W_h h_{t−1} + b_h + c_t)``

    Parameters
    ----------
    x : tensor (..., d)
    h : tensor (..., H)
    w_in, w_rec, b_in, b_rec : see :func:`core_preactivation`
    leak : float or tensor
        α, the leak rate (reservoirpy's ``lr``).
    activation : callable
        φ, e.g. ``get_activation("tanh")``.
    cerebellar_bias : tensor (..., H), optional

    Returns
    -------
    tensor (..., H)
        h_t.
    """
    z = core_preactivation(x, h, w_in, w_rec, b_in, b_rec, cerebellar_bias)
    # (1 - α) h + α φ(z), written exactly as reservoirpy does for bitwise-close results
    return (1 - leak) * h + leak * activation(z)


class CerebellarActivity(NamedTuple):
    """Layer activities of the cerebellar module, each with the input's leading dims."""

    granule: torch.Tensor  #: (..., G)
    purkinje: torch.Tensor  #: (..., P)
    nuclei: torch.Tensor  #: (..., n_out)

    def select(self, output: str) -> torch.Tensor:
        """The layer named ``output`` (``"granule"``, ``"purkinje"``, ``"nuclei"``), or for ``"all"`` the
        concatenation ``[g, p, c]`` (..., G + P + n_out)."""
        if output == "all":
            return torch.cat(tuple(self), dim=-1)
        return getattr(self, output)


def cerebellum_forward(
    u: torch.Tensor,
    w_gc: torch.Tensor,
    b_gc: torch.Tensor | None,
    w_pc: torch.Tensor,
    b_pc: torch.Tensor | None,
    w_dcn: torch.Tensor,
    b_dcn: torch.Tensor | None,
    granule_threshold: torch.Tensor | float | None = None,
) -> CerebellarActivity:
    """Granule → Purkinje → nuclei (DESIGN.md).

    ``g = ReLU(W_gc u + b_gc − θ)``, ``p = ReLU(W_pc g + b_pc)``, ``c = W_dcn p + b_dcn``.

    Parameters
    ----------
    u : tensor (..., m)
        Mossy-fibre input.
    w_gc : tensor (G, m)
    w_pc : tensor (P, G)
    w_dcn : tensor (n_out, P)
    b_gc, b_pc, b_dcn : tensor, optional
    granule_threshold : float or tensor (G,), optional
        θ, a fixed granule threshold (used to set a target coding level).

    Returns
    -------
    CerebellarActivity
        ``(granule, purkinje, nuclei)``.
    """
    g_pre = F.linear(u, w_gc, b_gc)
    if granule_threshold is not None:
        g_pre = g_pre - granule_threshold
    g = torch.relu(g_pre)
    p = torch.relu(F.linear(g, w_pc, b_pc))
    c = F.linear(p, w_dcn, b_dcn)
    return CerebellarActivity(g, p, c)


def clip_to_reference_norm(bias: torch.Tensor, reference: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Scale ``bias`` per sample so that its norm does not exceed the norm of ``reference``.

    ``bias · min(1, ‖reference‖ / ‖bias‖)`` over the last dimension (differentiable, no data-dependent
    control flow, so it runs under ``torch.func.vmap``).

    Parameters
    ----------
    bias, reference : tensor (..., H)

    Returns
    -------
    tensor (..., H)
    """
    scale = reference.norm(dim=-1, keepdim=True) / (bias.norm(dim=-1, keepdim=True) + eps)
    return bias * scale.clamp(max=1.0)


def gru_step(
    x: torch.Tensor,
    h: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor | None,
    b_hh: torch.Tensor | None,
    cerebellar_bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """One GRU step (torch's ``GRUCell`` equations) with an optional cerebellar bias on the candidate.

    ``r = σ(W_ir x + b_ir + W_hr h + b_hr)``, ``z = σ(W_iz x + b_iz + W_hz h + b_hz)``,
    ``a = W_in x + b_in + r ⊙ (W_hn h + b_hn)``, ``n = tanh(a + clip(c, ‖a‖))``, ``h' = (1 − z) n + z h``,
    where ``clip`` is :func:`clip_to_reference_norm` (per sample).

    Parameters
    ----------
    x : tensor (..., d)
    h : tensor (..., H)
    w_ih : tensor (3H, d); w_hh : tensor (3H, H); b_ih, b_hh : tensor (3H,), optional
        Gate order r, z, n as in ``torch.nn.GRUCell``.
    cerebellar_bias : tensor (..., H), optional

    Returns
    -------
    tensor (..., H)
    """
    r_x, z_x, n_x = F.linear(x, w_ih, b_ih).chunk(3, dim=-1)
    r_h, z_h, n_h = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)
    reset = torch.sigmoid(r_x + r_h)
    update = torch.sigmoid(z_x + z_h)
    candidate_pre = n_x + reset * n_h
    if cerebellar_bias is not None:
        candidate_pre = candidate_pre + clip_to_reference_norm(cerebellar_bias, candidate_pre)
    candidate = torch.tanh(candidate_pre)
    return (1 - update) * candidate + update * h


def lstm_step(
    x: torch.Tensor,
    h: torch.Tensor,
    cell: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor | None,
    b_hh: torch.Tensor | None,
    cerebellar_bias: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step (torch's ``LSTMCell`` equations) with an optional cerebellar bias on the cell candidate.

    ``i, f, o = σ(·)``, ``a = W_ig x + b_ig + W_hg h + b_hg``, ``g = tanh(a + clip(c, ‖a‖))``,
    ``cell' = f ⊙ cell + i ⊙ g``, ``h' = o ⊙ tanh(cell')``; ``clip`` is :func:`clip_to_reference_norm`.

    Parameters
    ----------
    x : tensor (..., d)
    h, cell : tensor (..., H)
    w_ih : tensor (4H, d); w_hh : tensor (4H, H); b_ih, b_hh : tensor (4H,), optional
        Gate order i, f, g, o as in ``torch.nn.LSTMCell``.
    cerebellar_bias : tensor (..., H), optional

    Returns
    -------
    (h', cell') : tensors (..., H)
    """
    gates = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
    in_gate, forget_gate, candidate_pre, out_gate = gates.chunk(4, dim=-1)
    if cerebellar_bias is not None:
        candidate_pre = candidate_pre + clip_to_reference_norm(cerebellar_bias, candidate_pre)
    cell = torch.sigmoid(forget_gate) * cell + torch.sigmoid(in_gate) * torch.tanh(candidate_pre)
    return torch.sigmoid(out_gate) * torch.tanh(cell), cell

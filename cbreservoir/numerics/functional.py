"""The model's math, written once.

Every path of cbreservoir — the reservoirpy nodes (numpy in, numpy out), the torch modules
trained by BPTT and the batched ensembles — evaluates the equations of ``docs/model.md`` through
the functions below. They take torch tensors of any floating dtype; leading dimensions are
batch dimensions (series, ensemble members, ...).

Notation (docs/model.md): input x_t (d features), cortical state h_t (H units), leak α.

    h_t = (1 − α) h_{t−1} + α φ(W_x x_t + b_x + W_h h_{t−1} + b_h + c_t)
    g_t = ReLU(W_gc u_t + b_gc);  p_t = ReLU(W_pc g_t + b_pc);  c_t = W_dcn p_t + b_dcn
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F

from cbreservoir.numerics.activations import LEAKY_RELU_SLOPE
from cbreservoir.numerics.network import INITIAL_STATE_SCALE, mossy_columns
from cbreservoir.utils.checks import check_choice


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
    TypeError
        If ``name`` is not a string.
    ValueError
        If ``name`` is not a known activation.
    """
    check_choice(name, "activation", allowed=sorted(ACTIVATIONS))
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
    """One step of the leaky Elman core (docs/model.md).

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


def initial_state(
    batch_size: int,
    size: int,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The study's initial state h_0 ~ 0.1·U(0, 1): the one draw of the models' and graphs' ``initial_state``.

    The scale is :data:`~cbreservoir.numerics.network.INITIAL_STATE_SCALE`.

    Parameters
    ----------
    batch_size, size : int
    generator : torch.Generator, optional
        Source of randomness (torch's global RNG when omitted).
    dtype, device : optional

    Returns
    -------
    tensor (batch_size, size)
    """
    uniform = torch.rand(batch_size, size, generator=generator, dtype=dtype, device=device)
    return INITIAL_STATE_SCALE * uniform


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
    """Granule → Purkinje → nuclei (docs/model.md).

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


# --- the leaky core (+ cerebellum) over a whole sequence, with its backward written once -----------------

_LEAKY_ACTIVATIONS = ("tanh", "leaky_relu", "relu", "sigmoid", "identity")


def _positive(z: torch.Tensor) -> torch.Tensor:
    """1.0 where z > 0, else 0.0, in z's dtype (float arithmetic: much faster on CPU than bool masks)."""
    return z.sign().clamp_(min=0.0)


def _scaled_derivative(name: str, z: torch.Tensor, leak: float) -> torch.Tensor:
    """α φ'(z) of the activation ``name`` for a whole buffer of pre-activations z."""
    if name == "leaky_relu":
        return _positive(z).mul_(leak * (1 - LEAKY_RELU_SLOPE)).add_(leak * LEAKY_RELU_SLOPE)
    if name == "relu":
        return _positive(z).mul_(leak)
    if name == "identity":
        return torch.full_like(z, leak)
    a = ACTIVATIONS[name](z)
    return (1 - a * a if name == "tanh" else a * (1 - a)).mul_(leak)


class _SequenceRecord(NamedTuple):
    """Buffers of the forward pass, members first (when E > 1), then time."""

    states: torch.Tensor  #: ([E,] T + 1, B, H): h_0 ... h_T
    pre: torch.Tensor  #: ([E,] T, B, H): z_t, the core's pre-activations
    granule: torch.Tensor | None  #: ([E,] T, B, G)
    purkinje: torch.Tensor | None  #: ([E,] T, B, P)


class _Layout:
    """How E networks' tensors are laid out for the products: E = 1 drops the member dimension.

    For one network the per-step products are 2-D (``mm``/``addmm``: cheaper than batched products of one
    matrix); for E networks they are batched (``bmm``/``baddbmm``) over the leading member dimension.
    Sequence buffers are ``([E,] T, B, k)``: one time step is a (strided, for E > 1) view that the
    products read and write in place, and all steps of a member are one contiguous ``(T·B, k)`` block, so
    the weight gradients over all steps are products of views (no copy).
    """

    def __init__(self, n_members: int) -> None:
        self.n_members = n_members
        self.solo = n_members == 1
        self.mm, self.addmm = (torch.mm, torch.addmm) if self.solo else (torch.bmm, torch.baddbmm)

    def own(self, tensor: torch.Tensor) -> torch.Tensor:
        """(E, ...) -> (...) for one network, unchanged for E."""
        return tensor[0] if self.solo else tensor

    def shape(self, *dims: int) -> tuple[int, ...]:
        """A buffer shape: ``([E,] *dims)``."""
        return dims if self.solo else (self.n_members, *dims)

    def steps(self, buffer: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The time steps of a ([E,] T, B, k) buffer: T views ([E,] B, k) (one call, not one per step)."""
        return buffer.unbind(0 if self.solo else 1)

    def first_steps(self, buffer: torch.Tensor, n_steps: int) -> torch.Tensor:
        """The first ``n_steps`` time steps of a ([E,] T', B, k) buffer."""
        return buffer[:n_steps] if self.solo else buffer[:, :n_steps]

    def members_first(self, buffer: torch.Tensor) -> torch.Tensor:
        """([E,] T, B, k) -> ([E,] T·B, k), rows in (t, b) order (a view)."""
        return buffer.flatten(0, 1) if self.solo else buffer.flatten(1, 2)

    def time_first(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs (E, B, T, d) -> ([E,] T·B, d), rows in (t, b) order."""
        flat = x.transpose(1, 2).reshape(self.n_members, -1, x.shape[-1])
        return self.own(flat)

    def member_dim(self, tensor: torch.Tensor) -> torch.Tensor:
        """Put back the member dimension of a result: (...) -> (1, ...) for one network."""
        return tensor.unsqueeze(0) if self.solo else tensor


def _fused_weights(
    w_in: torch.Tensor,
    b_in: torch.Tensor,
    w_rec: torch.Tensor,
    b_rec: torch.Tensor,
    cerebellum: tuple[torch.Tensor, ...] | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Input weights (E, K, d), their bias (E, K) and state weights (E, H, K), K = H (+ G with a cerebellum).

    ``h_{t−1}`` multiplies ``W_h`` and the granule weights' h columns (the last H) in one product, ``x_t``
    the input weights and the granule weights' x columns (the first d); the constant biases
    b_x + b_h + b_dcn enter once.
    """
    if cerebellum is None:
        return w_in, b_in + b_rec, w_rec.transpose(-1, -2)
    columns = mossy_columns(w_in.shape[-1], w_rec.shape[-1])
    w_gc, b_gc, _, _, _, b_dcn = cerebellum
    x_weights = torch.cat([w_in, w_gc[..., columns["x"]]], dim=-2)
    x_bias = torch.cat([b_in + b_rec + b_dcn, b_gc], dim=-1)
    h_weights = torch.cat([w_rec, w_gc[..., columns["h"]]], dim=-2).transpose(-1, -2)
    return x_weights, x_bias, h_weights


def _leaky_forward(
    x: torch.Tensor,
    h0: torch.Tensor,
    keep: torch.Tensor | None,
    leak: float,
    activation: str,
    core: tuple[torch.Tensor, ...],
    cerebellum: tuple[torch.Tensor, ...] | None,
    record: bool,
) -> tuple[torch.Tensor, _SequenceRecord | None]:
    """Final state h_T (E, B, H) of E networks, and with ``record`` the buffers of every step.

    Shapes as in :func:`leaky_sequence` with a leading member dimension E on every tensor. Every step
    writes into preallocated buffers (one slot per step with ``record``, else two reused slots).
    """
    n_members, batch, n_steps, _ = x.shape
    hidden = h0.shape[-1]
    phi = ACTIVATIONS[activation]
    layout = _Layout(n_members)
    own, addmm = layout.own, layout.addmm
    x_weights, x_bias, h_weights = _fused_weights(*core, cerebellum)
    # the input-driven part of every step at once, in one product: ([E,] T, B, K)
    drive = addmm(own(x_bias.unsqueeze(1)), layout.time_first(x), own(x_weights.transpose(-1, -2)))
    drive = layout.steps(drive.view(layout.shape(n_steps, batch, -1)))
    slots = n_steps if record else 1
    empty = h0.new_empty
    states = empty(layout.shape(slots + 1, batch, hidden))
    pre_core = empty(layout.shape(slots, batch, hidden))
    granule = purkinje = None
    h_weights = own(h_weights)
    if cerebellum is not None:
        w_pc, b_pc, w_dcn = cerebellum[2], own(cerebellum[3].unsqueeze(1)), cerebellum[4]
        w_pc_t, w_dcn_t = own(w_pc.transpose(-1, -2)), own(w_dcn.transpose(-1, -2))
        granule = empty(layout.shape(slots, batch, w_pc.shape[-1]))
        purkinje = empty(layout.shape(slots, batch, w_pc.shape[-2]))
    held = None if keep is None else layout.steps(_held_steps(keep, layout).to(h0.dtype))
    steps = layout.steps
    state_steps, pre_steps = steps(states), steps(pre_core)
    if cerebellum is not None:
        granule_steps, purkinje_steps = steps(granule), steps(purkinje)
    state_steps[0].copy_(own(h0))
    for t in range(n_steps):
        slot, here, after = (t, t, t + 1) if record else (0, t % 2, (t + 1) % 2)
        h, h_next = state_steps[here], state_steps[after]
        pre = addmm(drive[t], h, h_weights)
        slot_z = pre_steps[slot]
        if cerebellum is None:
            z = slot_z.copy_(pre)
        else:
            g, p = granule_steps[slot], purkinje_steps[slot]
            torch.clamp_min(pre[..., hidden:], 0.0, out=g)
            if layout.solo:
                addmm(b_pc, g, w_pc_t, out=p).relu_()
                z = addmm(pre[..., :hidden], p, w_dcn_t, out=slot_z)
            else:  # a batched product into a strided slot runs member by member: fresh tensors, then fill
                torch.clamp_min(addmm(b_pc, g, w_pc_t), 0.0, out=p)
                z = slot_z.copy_(addmm(pre[..., :hidden], p, w_dcn_t))
        # (1 − α) h + α φ(z) as one interpolation
        torch.lerp(h, phi(z), leak, out=h_next)
        if held is not None:  # exactly h_next where kept (weight 1), h where held (weight 0)
            torch.lerp(h, h_next, held[t], out=h_next)
    final = layout.member_dim(state_steps[n_steps if record else n_steps % 2])
    if not record:
        return final.clone(), None
    return final, _SequenceRecord(states, pre_core, granule, purkinje)


def _held_steps(keep: torch.Tensor, layout: _Layout) -> torch.Tensor:
    """keep (E, B, T) -> ([E,] T, B, 1)."""
    return layout.own(keep.transpose(1, 2).unsqueeze(-1))


class _LeakySequence(torch.autograd.Function):
    """h_T of E leaky cores (+ cerebellum): forward by :func:`_leaky_forward`, backward by BPTT written out.

    The backward pass runs the recursion for ∂L/∂h_t once (through the leak, the core and the cerebellar
    loop) and then forms every weight gradient as one product over all time steps; parameters that do not
    require a gradient (frozen by a plasticity schedule) get no product.
    """

    @staticmethod
    def forward(ctx, x, h0, keep, leak, activation, w_in, b_in, w_rec, b_rec, *cerebellum):  # noqa: D102
        cerebellum = cerebellum if cerebellum else None
        core = (w_in, b_in, w_rec, b_rec)
        h, record = _leaky_forward(x, h0, keep, leak, activation, core, cerebellum, record=True)
        ctx.leak, ctx.activation, ctx.has_cerebellum = leak, activation, cerebellum is not None
        ctx.record, ctx.keep = record, keep
        ctx.save_for_backward(x, *core, *(cerebellum or ()))
        return h.clone()

    @staticmethod
    def backward(ctx, grad_h):  # noqa: D102
        x, *weights = ctx.saved_tensors
        core, cerebellum = tuple(weights[:4]), (tuple(weights[4:]) if ctx.has_cerebellum else None)
        record: _SequenceRecord = ctx.record
        needs, leak = ctx.needs_input_grad, ctx.leak
        n_members, batch, n_steps, _ = x.shape
        hidden = grad_h.shape[-1]
        layout = _Layout(n_members)
        own, mm, addmm, members_first = layout.own, layout.mm, layout.addmm, layout.members_first
        x_weights, _, h_weights = _fused_weights(*core, cerebellum)
        width = h_weights.shape[-1]
        h_weights_t = own(h_weights.transpose(-1, -2))
        # α φ'(z_t) for all steps at once, zero at held steps; the leak's ∂h_t/∂h_{t−1}
        derivatives = _scaled_derivative(ctx.activation, record.pre, leak)
        carries: torch.Tensor | None = None
        if ctx.keep is not None:
            held = _held_steps(ctx.keep, layout).to(derivatives.dtype)
            derivatives.mul_(held)
            carries = 1 - leak * held
        deltas = grad_h.new_empty(layout.shape(n_steps, batch, width))  # ∂L/∂(pre-activations)
        d_purkinje = None
        if cerebellum is not None:
            w_pc, w_dcn = own(cerebellum[2]), own(cerebellum[4])
            d_purkinje = torch.empty_like(record.purkinje)
            granule_on, purkinje_on = _positive(record.granule), _positive(record.purkinje)  # ReLU'
        dh = own(grad_h).contiguous()
        steps = layout.steps
        delta_steps, derivative_steps = steps(deltas), steps(derivatives)
        carry_steps = None if carries is None else steps(carries)
        if cerebellum is not None:
            granule_on, purkinje_on, d_purkinje_steps = (
                steps(granule_on),
                steps(purkinje_on),
                steps(d_purkinje),
            )
        for t in reversed(range(n_steps)):
            delta = delta_steps[t]
            dz = torch.mul(dh, derivative_steps[t], out=delta[..., :hidden])
            if cerebellum is not None:
                if layout.solo:
                    dp = mm(dz, w_dcn, out=d_purkinje_steps[t]).mul_(purkinje_on[t])
                else:  # see _leaky_forward: no batched product into a strided slot
                    dp = torch.mul(mm(dz, w_dcn), purkinje_on[t], out=d_purkinje_steps[t])
                torch.mul(mm(dp, w_pc), granule_on[t], out=delta[..., hidden:])
            if carry_steps is None:
                dh = addmm(dh, delta, h_weights_t, beta=1 - leak)
            else:
                dh = addmm(dh * carry_steps[t], delta, h_weights_t)
        grads: dict[str, torch.Tensor | None] = dict.fromkeys(
            ("x", "h0", "w_in", "b_in", "w_rec", "b_rec", "w_gc", "b_gc", "w_pc", "b_pc", "w_dcn", "b_dcn")
        )
        flat = members_first(deltas)  # ([E,] T·B, K), rows in (t, b) order
        if needs[0]:
            d_inputs = layout.member_dim(mm(flat, own(x_weights))).view(n_members, n_steps, batch, -1)
            grads["x"] = d_inputs.transpose(1, 2)
        if needs[1]:
            grads["h0"] = layout.member_dim(dh)
        core_needed = any(needs[5:9])
        cerebellum_needed = cerebellum is not None and any(needs[9:])
        if core_needed or cerebellum_needed:
            rows = slice(0 if core_needed else hidden, width if cerebellum_needed else hidden)
            flat_t = flat[..., rows].transpose(-1, -2)
            d_h = layout.member_dim(mm(flat_t, members_first(layout.first_steps(record.states, n_steps))))
            d_x = layout.member_dim(mm(flat_t, layout.time_first(x)))
            d_bias = layout.member_dim(flat_t.sum(-1))
            if core_needed:
                grads.update(
                    w_in=d_x[:, :hidden],
                    w_rec=d_h[:, :hidden],
                    b_in=d_bias[:, :hidden],
                    b_rec=d_bias[:, :hidden].clone(),  # its own tensor: optimisers update gradients in place
                )
            if cerebellum_needed:
                granule_rows = slice(hidden - rows.start, width - rows.start)
                grads["w_gc"] = torch.cat([d_x[:, granule_rows], d_h[:, granule_rows]], -1)
                grads["b_gc"] = d_bias[:, granule_rows]
        if cerebellum_needed:
            d_p_flat_t = members_first(d_purkinje).transpose(-1, -2)
            dz_flat_t = flat[..., :hidden].transpose(-1, -2)
            grads["w_pc"] = layout.member_dim(mm(d_p_flat_t, members_first(record.granule)))
            grads["b_pc"] = layout.member_dim(d_p_flat_t.sum(-1))
            grads["w_dcn"] = layout.member_dim(mm(dz_flat_t, members_first(record.purkinje)))
            grads["b_dcn"] = layout.member_dim(dz_flat_t.sum(-1))
        order = [grads["x"], grads["h0"], None, None, None]
        order += [grads[name] for name in ("w_in", "b_in", "w_rec", "b_rec")]
        if cerebellum is not None:
            order += [grads[name] for name in ("w_gc", "b_gc", "w_pc", "b_pc", "w_dcn", "b_dcn")]
        return tuple(order)


def leaky_sequence(
    x: torch.Tensor,
    h0: torch.Tensor,
    core: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    *,
    leak: float,
    activation: str,
    cerebellum: tuple[torch.Tensor, ...] | None = None,
    keep: torch.Tensor | None = None,
) -> torch.Tensor:
    """Final state of the leaky core (with the cerebellar loop) after a whole sequence, fused.

    Evaluates ``h_t = (1 − α) h_{t−1} + α φ(W_x x_t + b_x + W_h h_{t−1} + b_h + c_t)`` with
    ``c_t = W_dcn ReLU(W_pc ReLU(W_gc [x_t; h_{t−1}] + b_gc) + b_pc) + b_dcn`` (or c_t = 0 without a
    cerebellum) for t = 1..T — the same equations as :func:`core_step` and :func:`cerebellum_forward` —
    with the input-driven terms of all steps in one product. Under autograd its backward is the
    hand-written BPTT of ``_LeakySequence`` (each weight gradient one product over all steps).

    Parameters
    ----------
    x : tensor (B, T, d), or (E, B, T, d) for E networks
    h0 : tensor (B, H) or (E, B, H)
    core : (W_x (H, d), b_x (H,), W_h (H, H), b_h (H,))
        Each with a leading E for E networks (as every tensor below).
    leak : float
        α in (0, 1].
    activation : str
        φ: ``"tanh"``, ``"leaky_relu"``, ``"relu"``, ``"sigmoid"`` or ``"identity"``.
    cerebellum : (W_gc (G, d + H), b_gc (G,), W_pc (P, G), b_pc (P,), W_dcn (H, P), b_dcn (H,)), optional
        The granule layer reads ``[x_t; h_{t−1}]``.
    keep : bool tensor (B, T) or (E, B, T), optional
        ``False`` holds the state unchanged at that step (left padding).

    Returns
    -------
    tensor (B, H) or (E, B, H)
        h_T.
    """
    check_choice(activation, "activation", allowed=_LEAKY_ACTIVATIONS)
    solo = x.dim() == 3
    if solo:
        x, h0 = x.unsqueeze(0), h0.unsqueeze(0)
        core = tuple(w.unsqueeze(0) for w in core)
        cerebellum = None if cerebellum is None else tuple(w.unsqueeze(0) for w in cerebellum)
        keep = None if keep is None else keep.unsqueeze(0)
    tensors = (x, h0, *core, *(cerebellum or ()))
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        h = _LeakySequence.apply(x, h0, keep, float(leak), activation, *core, *(cerebellum or ()))
    else:
        h, _ = _leaky_forward(x, h0, keep, float(leak), activation, core, cerebellum, record=False)
    return h.squeeze(0) if solo else h

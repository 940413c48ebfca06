"""Optimisation helpers, one home for each: the optimiser, gradient-norm clipping and the guarded step.

Every gradient-trained path of cbreservoir (solo trainers, ensembles, graph training, gradient readouts)
builds its optimiser and clips and guards its updates through these functions:

* :func:`build_optimizer` — the one place a ``torch.optim`` optimiser is made (SGD or Adam), and
  :func:`optimizer_settings`, its inverse;
* :func:`clip_gradient_norms_` — torch's ``clip_grad_norm_`` rule, for one network or for E networks
  stacked along a leading member dimension (one norm and one coefficient per member);
* :func:`all_finite` — whether tensors hold only finite numbers (per member for stacked networks);
* :func:`snapshot_parameters` / :func:`restore_parameters` — weights and optimiser state before a step;
* :func:`guarded_update` — clip, step, and undo the step if a gradient or a weight is not finite;
* :func:`guarded_step` — backpropagate a loss, then :func:`guarded_update`.

Examples
--------
>>> import torch
>>> layer = torch.nn.Linear(3, 2)
>>> optimizer = build_optimizer([{"params": list(layer.parameters())}], name="sgd", learning_rate=0.1)
>>> guarded_step(optimizer, layer(torch.ones(4, 3)).pow(2).mean(), step=1, clip_norm=1.0)
"""

from __future__ import annotations

from typing import Any

import torch

#: torch.nn.utils.clip_grad_norm_'s guard against a zero norm.
_CLIP_EPS = 1e-6

#: The optimisers :func:`build_optimizer` makes, by name.
OPTIMIZERS = ("sgd", "adam")

#: :func:`build_optimizer`'s defaults: the study's SGD (learning rate 0.01, momentum 0.1, Nesterov).
DEFAULT_OPTIMIZER = {
    "name": "sgd",
    "learning_rate": 0.01,
    "momentum": 0.1,
    "nesterov": True,
    "weight_decay": 0.0,
}


class TrainingDivergedError(ValueError):
    """Training produced a non-finite loss, gradient or weight; the model keeps its last good weights."""


def build_optimizer(
    groups: list[dict[str, Any]],
    *,
    name: str = DEFAULT_OPTIMIZER["name"],
    learning_rate: float = DEFAULT_OPTIMIZER["learning_rate"],
    momentum: float = DEFAULT_OPTIMIZER["momentum"],
    nesterov: bool = DEFAULT_OPTIMIZER["nesterov"],
    weight_decay: float = DEFAULT_OPTIMIZER["weight_decay"],
) -> torch.optim.Optimizer:
    """The optimiser of every gradient-trained path: ``torch.optim.SGD`` or ``torch.optim.Adam``.

    Parameters
    ----------
    groups : list of dict
        torch parameter groups: ``params`` (list of tensor), optionally ``lr`` (overrides
        ``learning_rate`` for that group), ``name`` (kept for the reader) or any other per-group setting.
    name : {"sgd", "adam"}
    learning_rate : float
        Step size of the groups without their own ``lr``.
    momentum : float
        SGD momentum (ignored by Adam).
    nesterov : bool
        Nesterov momentum for SGD, used only when ``momentum > 0``.
    weight_decay : float
        L2 penalty.

    Returns
    -------
    torch.optim.Optimizer
        With ``foreach=True``: one call updates all tensors (the same numbers as the per-tensor loop).

    Raises
    ------
    ValueError
        ``name`` is not one of :data:`OPTIMIZERS`, or ``groups`` is empty.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")
    if not groups:
        raise ValueError("groups must hold at least one parameter group, got none")
    if name == "adam":
        return torch.optim.Adam(groups, lr=learning_rate, weight_decay=weight_decay, foreach=True)
    return torch.optim.SGD(
        groups,
        lr=learning_rate,
        momentum=momentum,
        nesterov=nesterov and momentum > 0,
        weight_decay=weight_decay,
        foreach=True,
    )


def optimizer_settings(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The :func:`build_optimizer` arguments (but ``groups``) that made ``optimizer``.

    ``momentum`` and ``nesterov`` are None for Adam.

    Raises
    ------
    TypeError
        ``optimizer`` is neither ``torch.optim.SGD`` nor ``torch.optim.Adam``.
    """
    if type(optimizer) not in (torch.optim.SGD, torch.optim.Adam):
        raise TypeError(f"optimizer must be a torch.optim.SGD or Adam, got {type(optimizer).__name__}")
    defaults = optimizer.defaults
    sgd = isinstance(optimizer, torch.optim.SGD)
    return {
        "name": "sgd" if sgd else "adam",
        "learning_rate": defaults["lr"],
        "momentum": defaults["momentum"] if sgd else None,
        "nesterov": defaults["nesterov"] if sgd else None,
        "weight_decay": defaults["weight_decay"],
    }


def clip_gradient_norms_(
    gradients: list[torch.Tensor], clip_norm: float | None, *, per_member: bool = False
) -> torch.Tensor:
    """Scale ``gradients`` in place so that their global norm is at most ``clip_norm``; return the norms.

    The rule of ``torch.nn.utils.clip_grad_norm_``: ``g ← g · min(1, clip_norm / (‖g‖ + 1e-6))``.

    Parameters
    ----------
    gradients : list of tensor
        One network's gradients, or with ``per_member`` the gradients of E networks stacked along a
        leading member dimension (every tensor (E, ...)).
    clip_norm : float or None
        None measures the norm without clipping.
    per_member : bool
        One norm and one coefficient per member (index 0 of every tensor).

    Returns
    -------
    tensor () or (E,)
        The norms before clipping (non-finite when a gradient is).
    """
    if per_member:
        squares = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in gradients])
        norms = squares.square().sum(0).sqrt()
    else:
        norms = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(gradients)))
    if clip_norm is not None:
        coefficients = (clip_norm / (norms + _CLIP_EPS)).clamp(max=1.0)
        if per_member:
            for gradient in gradients:
                gradient.mul_(coefficients.reshape(-1, *[1] * (gradient.dim() - 1)))
        else:
            torch._foreach_mul_(gradients, coefficients)
    return norms


def all_finite(tensors: list[torch.Tensor], *, per_member: bool = False) -> torch.Tensor:
    """Whether every entry of ``tensors`` is finite, from one sum per tensor (per member).

    A NaN or an infinity makes its sum non-finite; the sums cost one reduction per tensor, much less
    than an element-wise test or an infinity norm on the CPU. (Finite weights whose sum overflows, above
    about 1e38 in float32, count as non-finite: such a network has diverged.)

    Parameters
    ----------
    tensors : list of tensor
        One network's tensors, or with ``per_member`` E networks' tensors stacked along a leading member
        dimension (every tensor (E, ...)).
    per_member : bool

    Returns
    -------
    bool tensor () or (E,)
    """
    if per_member:
        return torch.stack([tensor.flatten(1).sum(1) for tensor in tensors]).sum(0).isfinite()
    return torch.stack([tensor.sum() for tensor in tensors]).sum().isfinite()


Snapshot = tuple[list[torch.Tensor], list[dict[str, Any]]]


def snapshot_parameters(optimizer: torch.optim.Optimizer, parameters: list[torch.Tensor]) -> Snapshot:
    """Copies of ``parameters`` and of their optimiser state (momentum buffers, Adam moments)."""
    states = [
        {key: value.clone() if torch.is_tensor(value) else value for key, value in optimizer.state[p].items()}
        for p in parameters
    ]
    return [p.detach().clone() for p in parameters], states


@torch.no_grad()
def restore_parameters(
    optimizer: torch.optim.Optimizer, parameters: list[torch.Tensor], snapshot: Snapshot
) -> None:
    """Put back a :func:`snapshot_parameters` of ``parameters`` (state created since is dropped)."""
    values, states = snapshot
    torch._foreach_copy_(parameters, values)
    for parameter, state in zip(parameters, states, strict=True):
        if state:
            optimizer.state[parameter] = state
        else:
            optimizer.state.pop(parameter, None)


def trainable_parameters(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """The optimiser's parameters that require gradients and hold one."""
    return [
        p
        for group in optimizer.param_groups
        for p in group["params"]
        if p.requires_grad and p.grad is not None
    ]


def guarded_update(optimizer: torch.optim.Optimizer, step: int, clip_norm: float | None = None) -> None:
    """Clip the gradients already accumulated and take one optimiser step, refusing non-finite numbers.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
    step : int
        Number of this step (used in error messages).
    clip_norm : float, optional
        Clip the global gradient norm to this value.

    Raises
    ------
    TrainingDivergedError
        If the gradient norm or an updated weight is not finite. Parameters and optimiser state are then
        those from before the call.
    """
    with_grad = trainable_parameters(optimizer)
    if not with_grad:
        return
    gradient_norm = clip_gradient_norms_([p.grad for p in with_grad], clip_norm)
    if not torch.isfinite(gradient_norm):
        optimizer.zero_grad(set_to_none=True)
        raise TrainingDivergedError(f"gradient norm is {gradient_norm.item()} at step {step}; weights kept")
    snapshot = snapshot_parameters(optimizer, with_grad)
    optimizer.step()
    if not all_finite(with_grad):
        restore_parameters(optimizer, with_grad, snapshot)
        raise TrainingDivergedError(
            f"weights became non-finite at step {step}; weights of step {step - 1} kept"
        )


def guarded_step(
    optimizer: torch.optim.Optimizer, loss: torch.Tensor, step: int, clip_norm: float | None = None
) -> None:
    """Backpropagate ``loss`` and take one clipped optimiser step, refusing non-finite numbers.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        Its parameters that require gradients are updated.
    loss : scalar tensor
    step : int
        Number of this step (used in error messages).
    clip_norm : float, optional
        Clip the global gradient norm to this value.

    Raises
    ------
    TrainingDivergedError
        If the loss, the gradient norm or an updated weight is not finite. Parameters and optimiser
        state are then those from before the call.
    """
    if not torch.isfinite(loss):
        raise TrainingDivergedError(f"loss is {loss.item()} at step {step}; weights of step {step - 1} kept")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    guarded_update(optimizer, step, clip_norm)

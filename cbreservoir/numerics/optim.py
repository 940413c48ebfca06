"""Optimisation helpers, one home for each: gradient-norm clipping and the guarded optimiser step.

Every gradient-trained path of cbreservoir (solo trainers, ensembles, graph training, gradient readouts)
clips and guards its updates through these functions:

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
>>> optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
>>> guarded_step(optimizer, layer(torch.ones(4, 3)).pow(2).mean(), step=1, clip_norm=1.0)
"""

from __future__ import annotations

from typing import Any

import torch

#: torch.nn.utils.clip_grad_norm_'s guard against a zero norm.
_CLIP_EPS = 1e-6


class TrainingDivergedError(ValueError):
    """Training produced a non-finite loss, gradient or weight; the model keeps its last good weights."""


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

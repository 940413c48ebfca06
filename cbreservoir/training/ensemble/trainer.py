"""The batched ensemble trainer: E networks of one architecture, independent seeds, trained as one model.

:class:`EnsembleTrainer` stacks the members' parameters along a leading ensemble dimension. The paper's
leaky models (CB-RNN, RNN-only) run all members through the fused sequence kernel
(:func:`cbreservoir.numerics.functional.leaky_sequence`, batched products over the members); other models run
their own ``forward`` under ``torch.vmap`` (``functional_call``). Either way every layer of every time step
is one batched product for all E members instead of E small ones. The study's optimiser is applied per
member: the same torch optimiser on the stacked tensors (SGD and Adam act element-wise), gradient-norm
clipping per member (:func:`cbreservoir.numerics.optim.clip_gradient_norms_`), plasticity per member (each
member at its own curriculum level and, if wanted, under its own schedule). Every member follows the
trajectory of a solo :class:`~cbreservoir.training.GradientTrainer` with the same seed and data — the
ensemble keeps one ``GradientTrainer`` per member for its configuration, random streams and checkpoints.

Members may receive batches of different lengths: shorter ones are left-padded and masked (the
models hold their state through masked steps), which gives the same result as unpadded.

Examples
--------
>>> from cbreservoir.models import CBRNN
>>> from cbreservoir.tasks import make_batch
>>> from cbreservoir.training.ensemble import EnsembleTrainer
>>> ensemble = EnsembleTrainer([CBRNN(1, seed=s) for s in range(4)], seeds=range(4))
>>> batches = [make_batch("dms", 3, batch_size=64, seed=s) for s in range(4)]   # lengths may differ
>>> losses = ensemble.train_step([x for x, _ in batches], [y for _, y in batches])
>>> len(losses), len(ensemble.evaluate([x for x, _ in batches], [y for _, y in batches]))
(4, 4)
>>> solo_weights = ensemble.members[0].state_dict()   # member 0 as a solo run with seed 0 would have it
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from cbreservoir.models.leaky import _FusedLeakyModel
from cbreservoir.models.noise import check_noise
from cbreservoir.numerics import functional as CF
from cbreservoir.numerics.optim import (
    Snapshot,
    TrainingDivergedError,
    all_finite,
    build_optimizer,
    clip_gradient_norms_,
    optimizer_settings,
    restore_parameters,
    snapshot_parameters,
)
from cbreservoir.training.schedules import group_learns
from cbreservoir.training.trainer import GradientTrainer, heads_accuracy, heads_cross_entropy
from cbreservoir.utils.checks import check_real, check_seed

ArrayLike = torch.Tensor | np.ndarray


def _per_member(name: str, value: Any, n_members: int) -> list[Any]:
    """``value`` for every member, or its entries if it is a list or 1-D array (one per member)."""
    if isinstance(value, np.ndarray | torch.Tensor) and value.ndim == 1:
        value = value.tolist()
    if isinstance(value, Sequence) and not isinstance(value, str | tuple):
        if len(value) != n_members:
            raise ValueError(f"{name} must have one entry per member ({n_members}), got {len(value)}")
        return list(value)
    return [value] * n_members


class EnsembleTrainer:
    """Train E same-architecture models together, each exactly as a solo :class:`GradientTrainer`.

    Parameters
    ----------
    models : sequence of nn.Module
        The members (e.g. ``[CBRNN(1, seed=s) for s in seeds]``): same class and configuration up to
        their ``seed``, all on ``device``.
    seeds : sequence of int, optional
        Member i's trainer seed (its initial-state draws); default ``0, 1, ..., E − 1``.
    group_overhead : float or None
        Members whose batches differ in length run as several vmapped groups of similar length when
        that saves padded work; this is the cost of one more group, in member sequences (None: one
        group, everyone padded to the longest). Results do not depend on it.
    **trainer_kwargs
        :class:`GradientTrainer` arguments shared by every member (``optimizer``, ``learning_rate``,
        ``momentum``, ``nesterov``, ``weight_decay``, ``clip_norm``, ``module_learning_rates``,
        ``device``; ``noise`` only at level 0: noisy training runs solo), and ``schedule``: one for all,
        or a list with one per member (e.g. end-to-end, full-reservoir and interleaved conditions of one
        architecture in one ensemble), as long as the schedules give every module group the same learning
        rate.

    Attributes
    ----------
    trainers : list of GradientTrainer
        One per member; after :meth:`sync_members` each equals the solo trainer at the same step.
    step_count : int
    levels : list of (int or None)
        Each member's curriculum level.
    """

    def __init__(
        self,
        models: Sequence[nn.Module],
        seeds: Sequence[int] | None = None,
        group_overhead: float | None = 2.0,
        **trainer_kwargs: Any,
    ):
        models = list(models)
        if not models:
            raise ValueError("models must hold at least one model, got an empty sequence")
        seeds = (
            list(range(len(models)))
            if seeds is None
            else [check_seed(seed, f"seeds[{index}]") for index, seed in enumerate(seeds)]
        )
        if len(seeds) != len(models):
            raise ValueError(f"seeds must have one entry per model ({len(models)}), got {len(seeds)}")
        _check_same_architecture(models)
        if check_noise(trainer_kwargs.get("noise")) is not None:
            raise ValueError(
                "noise during training needs solo GradientTrainers (the batched ensemble runs the clean "
                f"kernels), got noise={trainer_kwargs['noise']!r}"
            )
        schedules = _per_member("schedule", trainer_kwargs.pop("schedule", None), len(models))
        self.trainers = [
            GradientTrainer(model, seed=seed, schedule=schedule, **trainer_kwargs)
            for model, seed, schedule in zip(models, seeds, schedules, strict=True)
        ]
        _check_same_optimizer(self.trainers)
        if group_overhead is not None:
            check_real(group_overhead, "group_overhead", minimum=0.0)
        self.group_overhead = group_overhead
        self.n_members = len(models)
        self.step_count = 0
        self._member_steps = [0] * self.n_members  # each member's own update count (members may sit out)
        self._base = copy.deepcopy(models[0]).to("meta")
        self._group_of = _parameter_groups(models[0])
        # (stack_module_state would insist on equal requires_grad, which schedules make differ per member)
        self._params: dict[str, torch.Tensor] = _stack_tensors([dict(m.named_parameters()) for m in models])
        self._buffers: dict[str, torch.Tensor] = _stack_tensors([dict(m.named_buffers()) for m in models])
        template = self.trainers[0].optimizer
        groups = [
            {
                **{key: value for key, value in group.items() if key != "params"},
                "params": [self._params[name] for name in self._names_in_group(group["name"])],
            }
            for group in template.param_groups
        ]
        settings = {key: value for key, value in optimizer_settings(template).items() if value is not None}
        self.optimizer: torch.optim.Optimizer = build_optimizer(groups, **settings)
        for member in range(self.n_members):
            self._read_member(member)

    # --- bookkeeping between the stacked tensors and the member trainers -------------------------------

    def _names_in_group(self, group: str) -> list[str]:
        return [name for name, owner in self._group_of.items() if owner.split(".", 1)[0] == group]

    def _member_parameters(self, member: int) -> dict[str, nn.Parameter]:
        return dict(self.trainers[member].model.named_parameters())

    @torch.no_grad()
    def _read_member(self, member: int) -> None:
        """Copy member ``member``'s weights and optimiser state from its trainer into the stacked tensors."""
        solo_parameters = self._member_parameters(member)
        solo_state = self.trainers[member].optimizer.state
        for name, stacked in self._params.items():
            stacked[member].copy_(solo_parameters[name])
            for key, value in solo_state.get(solo_parameters[name], {}).items():
                if _is_per_element(value, solo_parameters[name]):
                    state = self.optimizer.state[stacked]
                    state.setdefault(key, torch.zeros_like(stacked))[member].copy_(value)
                elif value is not None:
                    self.optimizer.state[stacked][key] = value.clone() if torch.is_tensor(value) else value
        self._member_steps[member] = self.trainers[member].step_count
        self.step_count = max(self.step_count, self._member_steps[member])

    @torch.no_grad()
    def _write_member(self, member: int) -> None:
        """Copy member ``member``'s slice of the stacked weights and optimiser state into its trainer."""
        trainer = self.trainers[member]
        solo_parameters = self._member_parameters(member)
        for name, stacked in self._params.items():
            solo = solo_parameters[name]
            solo.copy_(stacked[member])
            state = self.optimizer.state.get(stacked)
            if state:
                trainer.optimizer.state[solo] = {
                    key: value[member].clone() if _is_per_element(value, stacked) else _clone(value)
                    for key, value in state.items()
                }
        trainer.step_count = self._member_steps[member]

    def sync_members(self) -> None:
        """Write the current weights, optimiser states and step count into every member's trainer."""
        for member in range(self.n_members):
            self._write_member(member)

    @property
    def members(self) -> list[nn.Module]:
        """The member models, synchronised with the ensemble's current weights."""
        self.sync_members()
        return [trainer.model for trainer in self.trainers]

    @property
    def levels(self) -> list[int | None]:
        """Each member's curriculum level (None before the first :meth:`set_level`)."""
        return [trainer.level for trainer in self.trainers]

    # --- plasticity ----------------------------------------------------------------------------------

    def set_level(self, levels: int | Sequence[int]) -> None:
        """Set every member's curriculum level (one int for all, or one per member); schedules follow."""
        for trainer, level in zip(self.trainers, _per_member("levels", levels, self.n_members), strict=True):
            trainer.set_level(level)

    def set_member_level(self, member: int, level: int) -> None:
        """Set member ``member``'s curriculum level."""
        self.trainers[member].set_level(level)

    def _training_members(self, active: list[int]) -> dict[str, torch.Tensor]:
        """Stacked parameter name -> bool (E,): which ``active`` members train it at their current level."""
        trainable = [
            self.trainers[member].trainable_groups if member in active else ()
            for member in range(self.n_members)
        ]
        return {
            name: torch.tensor([group_learns(group, groups) for groups in trainable])
            for name, group in self._group_of.items()
        }

    def _active_members(self, members: Sequence[int] | None) -> list[int]:
        """The members taking part in a call: all by default, else ``members`` (ascending, valid indices)."""
        if members is None:
            return list(range(self.n_members))
        chosen = sorted({int(member) for member in members})
        valid = bool(chosen) and 0 <= chosen[0] <= chosen[-1] < self.n_members
        if not valid or list(members) != chosen:
            raise ValueError(
                f"members must be distinct member indices in ascending order in [0, {self.n_members}), "
                f"got {list(members)!r}"
            )
        return chosen

    # --- the batched forward pass --------------------------------------------------------------------

    def _check_inputs(
        self, xs: Sequence[ArrayLike] | ArrayLike, masks: Sequence[ArrayLike | None] | None, active: list[int]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        """The active members' batches as tensors (B, T_i, d) and masks as bool tensors (B, T_i) or None."""
        if len(xs) != len(active):
            raise ValueError(f"xs must hold one batch per member ({len(active)}), got {len(xs)}")
        dtype = next(iter(self._params.values())).dtype
        inputs = [
            self.trainers[member].prepare_inputs(x).to(dtype) for member, x in zip(active, xs, strict=True)
        ]
        shapes = {(x.dim(), x.shape[0], x.shape[-1]) for x in inputs}
        if len(shapes) != 1 or next(iter(shapes))[0] != 3:
            raise ValueError(
                "every member's x must be (batch, time, features) with the same batch size and features, "
                f"got shapes {[tuple(x.shape) for x in inputs]}"
            )
        masks = [None] * len(active) if masks is None else list(masks)
        if len(masks) != len(active):
            raise ValueError(f"masks must hold one mask per member ({len(active)}), got {len(masks)}")
        checked = []
        for member, x, mask in zip(active, inputs, masks, strict=True):
            if mask is not None:
                mask = torch.as_tensor(mask, device=x.device)
                if mask.dtype != torch.bool or tuple(mask.shape) != tuple(x.shape[:2]):
                    raise ValueError(
                        f"mask of member {member} must be bool of shape {tuple(x.shape[:2])}, "
                        f"got {mask.dtype} {tuple(mask.shape)}"
                    )
            checked.append(mask)
        return inputs, checked

    def _initial_states(self, batch_size: int, evaluation: bool, active: list[int]) -> torch.Tensor:
        """(n_active, B, state) initial states, each drawn from its member trainer's own generator."""
        return torch.stack(
            [
                trainer.model.initial_state(
                    batch_size, trainer.eval_generator if evaluation else trainer.train_generator
                )
                for trainer in (self.trainers[member] for member in active)
            ]
        )

    def _logits(
        self,
        xs: Sequence[ArrayLike] | ArrayLike,
        masks: Sequence[ArrayLike | None] | None,
        evaluation: bool,
        active: list[int],
    ) -> list[tuple[torch.Tensor, ...]]:
        """The active members' per-head logits, ``logits[position][head]`` (B, C_head).

        Members run as one vmapped batch per group of similar lengths (:func:`_length_groups`), each
        batch left-padded to its longest member and masked.
        """
        inputs, masks = self._check_inputs(xs, masks, active)
        h0 = self._initial_states(inputs[0].shape[0], evaluation, active)

        def member_logits(params, buffers, x, h0, keep):
            logits = functional_call(self._base, (params, buffers), (x,), {"h0": h0, "mask": keep})
            return logits if isinstance(logits, tuple) else (logits,)

        if isinstance(self._base, _FusedLeakyModel):
            member_logits = self._fused_logits

        logits: list[tuple[torch.Tensor, ...]] = [()] * len(active)
        for group in _length_groups([x.shape[1] for x in inputs], self.group_overhead):
            x, keep = _left_pad(
                [inputs[position] for position in group], [masks[position] for position in group]
            )
            params, buffers, group_h0 = self._params, self._buffers, h0
            if len(group) < self.n_members:
                index = torch.tensor([active[position] for position in group], device=h0.device)
                params = {name: value[index] for name, value in self._params.items()}
                buffers = {name: value[index] for name, value in self._buffers.items()}
                group_h0 = h0[torch.tensor(group, device=h0.device)]
            if member_logits == self._fused_logits:
                heads = member_logits(params, x, group_h0, keep)
            else:
                in_dims = (0, 0, 0, 0, None if keep is None else 0)
                heads = torch.vmap(member_logits, in_dims=in_dims)(params, buffers, x, group_h0, keep)
            for row, position in enumerate(group):
                logits[position] = tuple(head[row] for head in heads)
        return logits

    def _fused_logits(
        self,
        params: dict[str, torch.Tensor],
        x: torch.Tensor,
        h0: torch.Tensor,
        keep: torch.Tensor | None,
    ) -> tuple[torch.Tensor, ...]:
        """Per-head logits (n, B, C) of n stacked leaky members from one fused sequence kernel call."""
        base = self._base

        def stacked(prefix: str, layers: tuple[str, ...]) -> tuple[torch.Tensor, ...]:
            return tuple(
                params[f"{prefix}.{layer}.{kind}"] for layer in layers for kind in ("weight", "bias")
            )

        core = stacked("core", ("input_layer", "recurrent_layer"))
        cerebellum = None
        if base.cerebellum is not None and base.cerebellum_enabled:
            cerebellum = stacked("cerebellum", ("granule", "purkinje", "nuclei"))
        h = CF.leaky_sequence(
            x,
            h0,
            core,
            leak=base.core.leak,
            activation=base.core.activation_name,
            cerebellum=cerebellum,
            keep=keep,
        )
        return tuple(
            torch.baddbmm(params[f"readouts.{head}.bias"].unsqueeze(1), h,
                          params[f"readouts.{head}.weight"].transpose(1, 2))
            for head in range(len(base.readouts))
        )  # fmt: skip

    def _targets(
        self, ys: Sequence[Any], head: int | None | Sequence[int | None], active: list[int]
    ) -> list[list[tuple[int, torch.Tensor]]]:
        if len(ys) != len(active):
            raise ValueError(f"ys must hold one target per member ({len(active)}), got {len(ys)}")
        heads = _per_member("head", head, len(active))
        return [
            self.trainers[member].prepare_targets(y, member_head)
            for member, y, member_head in zip(active, ys, heads, strict=True)
        ]

    @staticmethod
    def _member_losses(logits: list[tuple[torch.Tensor, ...]], targets: list) -> list[torch.Tensor]:
        return [
            heads_cross_entropy(member_logits, member_targets)
            for member_logits, member_targets in zip(logits, targets, strict=True)
        ]

    # --- training ------------------------------------------------------------------------------------

    def train_step(
        self,
        xs: Sequence[ArrayLike] | ArrayLike,
        ys: Sequence[Any],
        head: int | None | Sequence[int | None] = None,
        masks: Sequence[ArrayLike | None] | None = None,
        members: Sequence[int] | None = None,
    ) -> list[float]:
        """One optimiser step of every member on its own minibatch; returns the losses before the step.

        Parameters
        ----------
        xs : sequence of E arrays (B, T_i, d), or an array (E, B, T, d)
            Member i's batch; lengths may differ (left-padded and masked).
        ys : sequence of E label arrays (B,) (or tuples of them, one per head)
        head : int or None, or one per member
            As in :meth:`GradientTrainer.train_step`.
        masks : sequence of E bool arrays (B, T_i) or None, optional
        members : sequence of int, optional
            Only these members take the step (``xs``, ``ys``, ``head`` and ``masks`` then hold one entry
            per listed member, in ascending member order); the others keep their weights, optimiser
            state, step count and random streams. Needs ``optimizer="sgd"`` (per-element state).

        Returns
        -------
        list of float
            The (listed) members' losses.

        Raises
        ------
        TrainingDivergedError
            If a member's loss, gradient norm or weights are not finite; no member's step is kept.
        """
        active = self._active_members(members)
        if len(active) < self.n_members and not isinstance(self.optimizer, torch.optim.SGD):
            raise ValueError(
                "members sitting out a step need optimizer='sgd' (its state is per element), "
                f"got {type(self.optimizer).__name__}"
            )
        targets = self._targets(ys, head, active)
        training = self._training_members(active)
        any_frozen = self._prepare_gradients(training)
        losses = self._member_losses(self._logits(xs, masks, evaluation=False, active=active), targets)
        values = torch.stack([loss.detach() for loss in losses])
        bad = [active[position] for position, value in enumerate(values.tolist()) if not np.isfinite(value)]
        if bad:
            raise self._diverged(f"loss of member(s) {bad} is not finite", bad)
        self.optimizer.zero_grad(set_to_none=True)
        torch.stack(losses).sum().backward()
        norms = self._clip_gradients(training)
        if not torch.isfinite(norms).all():
            self.optimizer.zero_grad(set_to_none=True)
            bad = torch.nonzero(~torch.isfinite(norms)).flatten().tolist()
            raise self._diverged(f"gradient norm of member(s) {bad} is not finite", bad)
        names = [name for name, stacked in self._params.items() if stacked.requires_grad]
        stepped = [self._params[name] for name in names]
        snapshot = snapshot_parameters(self.optimizer, stepped)
        self.optimizer.step()
        if any_frozen:
            self._restore_frozen(names, snapshot, training)
        finite = all_finite(list(self._params.values()), per_member=True)
        if not finite.all():
            restore_parameters(self.optimizer, stepped, snapshot)
            bad = torch.nonzero(~finite).flatten().tolist()
            raise self._diverged(f"weights of member(s) {bad} became non-finite", bad)
        self.step_count += 1
        for member in active:
            self._member_steps[member] += 1
        return values.tolist()

    def _diverged(self, what: str, members: list[int]) -> TrainingDivergedError:
        """The error for a step that diverged, naming each member's own step (as its solo run would)."""
        steps = [self._member_steps[member] + 1 for member in members]
        where = f"step {steps[0]}" if len(set(steps)) == 1 else f"steps {steps}"
        return TrainingDivergedError(f"{what} at {where}; weights kept")

    def _prepare_gradients(self, training: dict[str, torch.Tensor]) -> bool:
        """Turn off gradients of tensors no member trains; True when some member freezes part of a tensor."""
        partly_frozen = False
        for name, stacked in self._params.items():
            stacked.requires_grad_(bool(training[name].any()))
            partly_frozen |= bool(training[name].any() and not training[name].all())
        if partly_frozen and not isinstance(self.optimizer, torch.optim.SGD):
            raise ValueError(
                "members at levels with different trainable groups need optimizer='sgd' "
                f"(its state is per element), got {type(self.optimizer).__name__}"
            )
        return partly_frozen

    def _clip_gradients(self, training: dict[str, torch.Tensor]) -> torch.Tensor:
        """Zero frozen members' gradients, clip each member's global norm; returns the (E,) norms."""
        gradients = []
        for name, stacked in self._params.items():
            if stacked.grad is None:
                continue
            keep = training[name].to(stacked.grad.device).reshape(-1, *[1] * (stacked.dim() - 1))
            gradients.append(stacked.grad.mul_(keep))
        return clip_gradient_norms_(gradients, self.trainers[0].clip_norm, per_member=True)

    @torch.no_grad()
    def _restore_frozen(
        self, names: list[str], snapshot: Snapshot, training: dict[str, torch.Tensor]
    ) -> None:
        """Put back the ``snapshot`` of the tensors ``names`` for the members that do not train them."""
        for name, value, state in zip(names, *snapshot, strict=True):
            stacked = self._params[name]
            index = torch.nonzero(~training[name]).flatten().to(stacked.device)
            stacked[index] = value[index]
            for key, new in self.optimizer.state[stacked].items():
                if _is_per_element(new, stacked):  # a state created by this step starts at zero
                    new[index] = state[key][index] if key in state else 0

    @torch.inference_mode()
    def evaluate(
        self,
        xs: Sequence[ArrayLike] | ArrayLike,
        ys: Sequence[Any],
        head: int | None | Sequence[int | None] = None,
        masks: Sequence[ArrayLike | None] | None = None,
        members: Sequence[int] | None = None,
    ) -> list[dict[str, float | tuple[float, ...]]]:
        """Accuracy and loss of every member on its own batch, as :meth:`GradientTrainer.evaluate` gives them.

        ``members`` restricts the call to those members, as in :meth:`train_step`.

        Returns
        -------
        list of dict
            One ``{"accuracy": ..., "loss": ...}`` per (listed) member.
        """
        active = self._active_members(members)
        targets = self._targets(ys, head, active)
        logits = self._logits(xs, masks, evaluation=True, active=active)
        losses = self._member_losses(logits, targets)
        return [
            {"accuracy": heads_accuracy(member_logits, member_targets), "loss": loss.item()}
            for member_logits, member_targets, loss in zip(logits, targets, losses, strict=True)
        ]

    # --- checkpoints ---------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """``{"members": [each member's GradientTrainer.state_dict()]}``, each loadable by a solo trainer."""
        self.sync_members()
        return {"members": [trainer.state_dict() for trainer in self.trainers]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (one solo trainer state per member)."""
        if len(state["members"]) != self.n_members:
            raise ValueError(
                f"state holds {len(state['members'])} members, this ensemble has {self.n_members}"
            )
        self.step_count = 0
        for member, (trainer, member_state) in enumerate(zip(self.trainers, state["members"], strict=True)):
            trainer.load_state_dict(member_state)
            self._read_member(member)


def _length_groups(lengths: list[int], overhead: float | None) -> list[list[int]]:
    """Split members into groups of similar sequence length, each run as one left-padded batch.

    Minimises ``sum over groups of (overhead + members) × longest length`` over groups of consecutive
    members in length order (dynamic programming): the padded work plus a per-group cost, in member
    sequences, for the extra batch. ``overhead=None`` keeps everyone in one group.

    Returns
    -------
    list of list of int
        Member indices, ascending within each group.
    """
    order = sorted(range(len(lengths)), key=lambda member: lengths[member])
    if overhead is None:
        return [sorted(order)]
    best = [0.0] + [np.inf] * len(order)  # best[i]: cost of grouping the i shortest members
    split = [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        for start in range(end):
            cost = best[start] + (overhead + end - start) * lengths[order[end - 1]]
            if cost < best[end]:
                best[end], split[end] = cost, start
    groups, end = [], len(order)
    while end > 0:
        groups.append(sorted(order[split[end] : end]))
        end = split[end]
    return groups[::-1]


def _left_pad(
    inputs: list[torch.Tensor], masks: list[torch.Tensor | None]
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Stack (B, T_i, d) batches into (n, B, T, d), left-padded with zeros, and the (n, B, T) mask.

    The mask is None when nothing is padded or masked.
    """
    n_steps = max(x.shape[1] for x in inputs)
    stacked = inputs[0].new_zeros(len(inputs), inputs[0].shape[0], n_steps, inputs[0].shape[2])
    for position, x in enumerate(inputs):
        stacked[position, :, n_steps - x.shape[1] :] = x
    if all(x.shape[1] == n_steps for x in inputs) and all(mask is None for mask in masks):
        return stacked, None
    keep = torch.zeros(stacked.shape[:3], dtype=torch.bool, device=stacked.device)
    for position, (x, mask) in enumerate(zip(inputs, masks, strict=True)):
        keep[position, :, n_steps - x.shape[1] :] = True if mask is None else mask
    return stacked, keep


def _stack_tensors(per_member: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Name -> (E, ...) leaf tensor stacking every member's tensor of that name."""
    return {name: torch.stack([tensors[name].detach() for tensors in per_member]) for name in per_member[0]}


def _clone(value: Any) -> Any:
    return value.clone() if torch.is_tensor(value) else value


def _is_per_element(value: Any, parameter: torch.Tensor) -> bool:
    """True for optimiser state with the parameter's shape (momentum buffers, Adam moments)."""
    return torch.is_tensor(value) and value.shape == parameter.shape


def _parameter_groups(model: nn.Module) -> dict[str, str]:
    """Parameter name -> module group or core part (``"core.input"``, ``"core.recurrent"``, ``"cerebellum"``,
    ``"readout"``)."""
    owner = {
        id(parameter): group
        for group, parameters in model.module_groups(split_core=True).items()
        for parameter in parameters
    }
    return {name: owner[id(parameter)] for name, parameter in model.named_parameters()}


def _check_same_optimizer(trainers: list[GradientTrainer]) -> None:
    """Every member's optimiser must have the same settings per module group (one stacked optimiser)."""

    def settings(trainer: GradientTrainer) -> list[dict[str, Any]]:
        return [{k: v for k, v in group.items() if k != "params"} for group in trainer.optimizer.param_groups]

    first = settings(trainers[0])
    for index, trainer in enumerate(trainers[1:], start=1):
        if settings(trainer) != first:
            raise ValueError(
                f"ensemble members need the same optimiser settings per module group; member {index} has "
                f"{settings(trainer)}, member 0 has {first} (a reduced_recurrent schedule mixed with others?)"
            )


def _check_same_architecture(models: list[nn.Module]) -> None:
    """Members must share model 0's class, config (up to ``seed``), parameter shapes and cerebellum flag."""

    def signature(model: nn.Module) -> tuple:
        config = {key: value for key, value in getattr(model, "config", {}).items() if key != "seed"}
        shapes = [(name, tuple(p.shape), p.dtype, p.device) for name, p in model.named_parameters()]
        return type(model), repr(sorted(config.items())), shapes, getattr(model, "cerebellum_enabled", True)

    first = signature(models[0])
    for index, model in enumerate(models[1:], start=1):
        if signature(model) != first:
            raise ValueError(
                f"ensemble members must share one architecture; model {index} "
                f"({type(model).__name__} {getattr(model, 'config', '')}) differs from model 0 "
                f"({type(models[0]).__name__} {getattr(models[0], 'config', '')})"
            )

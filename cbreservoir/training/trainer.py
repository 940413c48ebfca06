"""The optimiser loop for the torch models: one minibatch step, evaluation, plasticity schedules, checkpoints.

Examples
--------
>>> from cbreservoir.models import CBRNN
>>> from cbreservoir.tasks import make_batch
>>> from cbreservoir.training import GradientTrainer, FullReservoir
>>> trainer = GradientTrainer(CBRNN(1, seed=0), schedule=FullReservoir(), seed=0)
>>> trainer.set_level(2)                       # phase 0: core + readout learn, cerebellum frozen
>>> x, y = make_batch("dms", n=2, batch_size=64, seed=0)
>>> loss = trainer.train_step(x, y)            # SGD(lr 0.01, momentum 0.1, Nesterov), clip 7.5
>>> sorted(trainer.evaluate(x, y))
['accuracy', 'loss']
>>> trainer.set_level(3)                       # from now on the core is frozen
>>> checkpoint = trainer.state_dict()          # model, optimizer, step, level, RNG states
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cbreservoir.graph.compile import CompiledGraph
from cbreservoir.models.base import as_real_tensor, check_finite_tensor
from cbreservoir.models.noise import Noise, check_noise
from cbreservoir.numerics.optim import OPTIMIZERS, build_optimizer, guarded_step
from cbreservoir.numerics.study import STUDY
from cbreservoir.training.schedules import (
    MODULE_GROUPS,
    EndToEnd,
    PlasticitySchedule,
    apply_plasticity,
    groups_at,
    make_schedule,
)
from cbreservoir.utils.checks import check_choice, check_int, check_names, check_real, check_seed

__all__ = [
    "GradientTrainer",
    "heads_accuracy",
    "heads_cross_entropy",
    "resolve_device",
]

ArrayLike = torch.Tensor | np.ndarray
Targets = ArrayLike | Sequence[ArrayLike]


def resolve_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device`` that this machine has.

    Raises
    ------
    ValueError
        Not a device name, or a CUDA device without CUDA (or beyond the GPUs present).
    """
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"device must be a torch device such as 'cpu' or 'cuda:0', got {device!r}"
        ) from error
    if resolved.type == "cuda":
        available = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if available == 0 or (resolved.index or 0) >= available:
            raise ValueError(f"device {device!r} needs CUDA, but this machine has {available} CUDA device(s)")
    return resolved


def heads_cross_entropy(
    logits: Sequence[torch.Tensor], targets: Sequence[tuple[int, torch.Tensor]]
) -> torch.Tensor:
    """Final-step cross-entropy summed over the heads that have targets.

    Parameters
    ----------
    logits : sequence of tensor (B, C_k)
        One per head of the model.
    targets : sequence of (int, int64 tensor (B,))
        ``(head index, class indices)`` pairs, as :meth:`GradientTrainer.prepare_targets` returns.

    Returns
    -------
    scalar tensor

    Raises
    ------
    ValueError
        A head's labels and logits hold different batch sizes.
    """
    for index, labels in targets:
        if len(labels) != len(logits[index]):
            raise ValueError(
                f"y holds {len(labels)} labels for head {index} but x {len(logits[index])} sequences"
            )
    return sum(F.cross_entropy(logits[index], labels) for index, labels in targets)


def heads_accuracy(
    logits: Sequence[torch.Tensor] | Mapping[int, torch.Tensor], targets: Sequence[tuple[int, torch.Tensor]]
) -> float | tuple[float, ...]:
    """Fraction of correct argmax predictions of each head that has targets.

    Parameters
    ----------
    logits : sequence of tensor (B, C_k), or a mapping head index -> tensor (B, C_k)
        The outputs of (at least) the heads in ``targets``.
    targets : sequence of (int, int64 tensor (B,))
        ``(head index, class indices)`` pairs, as :meth:`GradientTrainer.prepare_targets` returns.

    Returns
    -------
    float or tuple of float
        One float when ``targets`` holds one head, else one per entry of ``targets``.
    """
    accuracies = tuple(
        (logits[index].argmax(dim=-1) == labels).double().mean().item() for index, labels in targets
    )
    return accuracies[0] if len(accuracies) == 1 else accuracies


class GradientTrainer:
    """Trains a :mod:`cbreservoir.models` model or a compiled graph by BPTT on final-step cross-entropy.

    :meth:`train_step` and :meth:`evaluate` call the hooks :meth:`prepare_inputs`,
    :meth:`prepare_targets`, :meth:`outputs` and :meth:`loss`; override them to train other outputs
    or objectives with the same optimiser, schedule, clipping and divergence handling
    (:func:`~cbreservoir.training.train_graph` trains per-step targets of a graph this way).

    Parameters
    ----------
    model : RecurrentNetwork or CompiledGraph
        Any model exposing ``module_groups()``, ``initial_state``, ``head_sizes`` and
        ``forward(x, h0=..., mask=...)`` (the heads' logits); a
        :class:`~cbreservoir.graph.CompiledGraph` (compiled on ``device``) trains as one whose heads are
        its output nodes read at the final step (:meth:`CompiledGraph.head_outputs`), without noise.
    optimizer : {"sgd", "adam"}
    learning_rate : float
        Base learning rate of every group (the study: 0.01).
    momentum : float
        SGD momentum (0.1); ignored by Adam.
    nesterov : bool
        Nesterov momentum for SGD (used only when ``momentum > 0``).
    weight_decay : float
    clip_norm : float or None
        Clip the global gradient norm to this value (7.5); None disables clipping.
    schedule : PlasticitySchedule, str or None
        Plasticity schedule (a name for :func:`make_schedule`); None means :class:`EndToEnd`.
    module_learning_rates : dict, optional
        Group name (``"core"``, ``"cerebellum"``, ``"readout"``) -> learning rate, overriding the base
        rate and the schedule's scale for that group.
    device : str or torch.device
        The model is moved there.
    seed : int
        Seeds the initial states drawn for training and (independently) for evaluation.
    noise : Noise, optional
        Noise in every forward pass of training and evaluation (:mod:`cbreservoir.models.noise`), drawn from
        :attr:`train_generator` / :attr:`eval_generator` after the initial states; None (or all levels 0):
        none, and the run is the clean one bit for bit.

    Attributes
    ----------
    step_count : int
        Optimiser steps taken.
    train_generator, eval_generator : torch.Generator
        Draw the initial states of training and of evaluation batches (seeded by ``seed`` and
        ``seed + 1``; saved in checkpoints).
    level : int or None
        Curriculum level last given to :meth:`set_level`.
    schedule_state : dict or None
        The schedule's state (:meth:`PlasticitySchedule.initial_state`; None for the fixed schedules),
        advanced by :meth:`observe_epoch` and saved in :meth:`state_dict`.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: str = "sgd",
        learning_rate: float = STUDY.learning_rate,
        momentum: float = STUDY.momentum,
        nesterov: bool = STUDY.nesterov,
        weight_decay: float = 0.0,
        clip_norm: float | None = STUDY.clip_norm,
        schedule: PlasticitySchedule | str | None = None,
        module_learning_rates: dict[str, float] | None = None,
        device: str | torch.device = "cpu",
        seed: int = 0,
        noise: Noise | None = None,
    ) -> None:
        check_choice(optimizer, "optimizer", allowed=OPTIMIZERS)
        check_seed(seed)
        self.device = resolve_device(device)
        self.noise = check_noise(noise)
        if isinstance(model, CompiledGraph) and (model.device != self.device or self.noise is not None):
            raise ValueError(
                f"a compiled graph trains on the device it was compiled for and without noise: expected "
                f"device {model.device} and noise None, got device {self.device} and noise {self.noise}"
            )
        self.model = model.to(self.device)
        self.schedule = self._as_schedule(schedule)
        self.clip_norm = (
            None if clip_norm is None else check_real(clip_norm, "clip_norm", minimum=0.0, strict=True)
        )
        self.optimizer = self._make_optimizer(
            optimizer,
            check_real(learning_rate, "learning_rate", minimum=0.0),
            check_real(momentum, "momentum", minimum=0.0),
            nesterov,
            check_real(weight_decay, "weight_decay", minimum=0.0),
            module_learning_rates or {},
        )
        self.seed = int(seed)
        self.train_generator = torch.Generator(device=self.device).manual_seed(self.seed)
        self.eval_generator = torch.Generator(device=self.device).manual_seed(self.seed + 1)
        self.step_count = 0
        self.level: int | None = None
        self.schedule_state = self.schedule.initial_state()
        self._check_invariants()
        self._apply_plasticity()

    # --- construction ----------------------------------------------------------------------------------

    def _check_invariants(self) -> None:
        """What the constructor guarantees, checked again for a trainer restored from a file or a pickle.

        The optimizer updates exactly the model's parameters (the very objects, each once: an optimizer
        holding copies would train nothing), with finite, non-negative rates; ``clip_norm``, the counters
        and the generators are of their kinds.

        Raises
        ------
        TypeError, ValueError
            Naming what is wrong.
        """
        if not isinstance(self.model, nn.Module) or not isinstance(self.optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"a GradientTrainer needs a torch model and optimizer; got {type(self.model).__name__} "
                f"and {type(self.optimizer).__name__}"
            )
        own = {id(parameter) for parameter in self.model.parameters()}
        held = [id(parameter) for group in self.optimizer.param_groups for parameter in group["params"]]
        if len(set(held)) != len(held) or not set(held) <= own:
            raise ValueError(
                "the optimizer must hold the model's own parameters, each once; it holds "
                f"{len(set(held) - own)} tensors that are not the model's and "
                f"{len(held) - len(set(held))} repeats"
            )
        for group in self.optimizer.param_groups:
            check_real(group["lr"], "learning rate", minimum=0.0)
        if self.clip_norm is not None:
            check_real(self.clip_norm, "clip_norm", minimum=0.0, strict=True)
        if not all(
            isinstance(generator, torch.Generator)
            for generator in (self.train_generator, self.eval_generator)
        ):
            raise TypeError("a GradientTrainer's train_generator and eval_generator must be torch Generators")
        check_int(self.step_count, "step_count", minimum=0)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a saved or pickled trainer, checked as :meth:`_check_invariants` says.

        A state from before schedules had states (no ``schedule_state``) gets the schedule's initial one.
        """
        self.__dict__.update(state)
        if "schedule_state" not in state:
            self.schedule_state = self.schedule.initial_state()
        self.noise = check_noise(state.get("noise"))
        self._check_invariants()
        self.schedule_state = self.schedule.check_state(self.schedule_state)

    @staticmethod
    def _as_schedule(schedule: PlasticitySchedule | str | None) -> PlasticitySchedule:
        if schedule is None:
            return EndToEnd()
        if isinstance(schedule, str):
            return make_schedule(schedule)
        if not isinstance(schedule, PlasticitySchedule):
            raise TypeError(
                f"schedule must be a PlasticitySchedule, a name or None, got {type(schedule).__name__}"
            )
        return schedule

    def _make_optimizer(
        self,
        name: str,
        learning_rate: float,
        momentum: float,
        nesterov: bool,
        weight_decay: float,
        module_learning_rates: dict[str, float],
    ) -> torch.optim.Optimizer:
        if module_learning_rates:
            check_names(list(module_learning_rates), "module_learning_rates keys", allowed=MODULE_GROUPS)
        scales = self.schedule.learning_rate_scales
        groups = []
        for group_name, parameters in self.model.module_groups().items():
            if not parameters:
                continue
            rate = module_learning_rates.get(group_name, learning_rate * scales.get(group_name, 1.0))
            rate = check_real(rate, "learning rate", minimum=0.0)
            groups.append({"params": parameters, "lr": rate, "name": group_name})
        return build_optimizer(
            groups,
            name=name,
            learning_rate=learning_rate,
            momentum=momentum,
            nesterov=nesterov,
            weight_decay=weight_decay,
        )

    # --- plasticity ------------------------------------------------------------------------------------

    def set_level(self, level: int) -> None:
        """Apply the schedule's plasticity for curriculum level ``level`` (freezes/unfreezes groups)."""
        self.level = check_int(level, "level", minimum=0)
        self._apply_plasticity()

    def observe_epoch(self, *, level: int, solved: bool, test_loss: float) -> None:
        """Tell the schedule how a curriculum epoch went (:meth:`PlasticitySchedule.observe`).

        :class:`~cbreservoir.training.CurriculumTrainer` calls it after every epoch, before it sets the
        next level. Schedules without a state (all but :class:`~cbreservoir.training.schedules.Adaptive`)
        ignore it.
        """
        if self.schedule_state is None:
            return
        self.schedule_state = self.schedule.observe(
            self.schedule_state, level=level, solved=solved, test_loss=test_loss
        )
        self._apply_plasticity()

    def _apply_plasticity(self) -> None:
        apply_plasticity(self.model, self.trainable_groups)

    @property
    def trainable_groups(self) -> frozenset[str]:
        """Groups that currently learn."""
        return groups_at(self.schedule, self.level, self.schedule_state)

    # --- extension points ------------------------------------------------------------------------------
    # train_step and evaluate go through these four hooks; a subclass overrides them to train other
    # outputs or losses (cbreservoir.estimators trains per-step outputs and squared errors this way)
    # and keeps the optimiser, schedule, clipping and divergence handling of this class.

    def prepare_inputs(self, x: ArrayLike) -> torch.Tensor:
        """Inputs as a finite real tensor on the trainer's device.

        Parameters
        ----------
        x : array (B, T, d)

        Returns
        -------
        tensor (B, T, d)

        Raises
        ------
        ValueError
            NaN or infinite entries.
        """
        x = as_real_tensor(x, "x").to(self.device)
        check_finite_tensor(x, "x")
        return x

    def prepare_targets(self, y: Targets, head: int | None) -> list[tuple[int, torch.Tensor]]:
        """The ``(head index, labels)`` pairs that enter the loss.

        Parameters
        ----------
        y : int array (B,), or a tuple of them (one per head)
        head : int or None
            Only this head (``y`` may then be its labels or the full tuple); None: every head.

        Returns
        -------
        list of (int, int64 tensor (B,))

        Raises
        ------
        ValueError
            A head outside the model's heads, a missing tuple for a multi-head model, or labels that
            are not 1-D class indices of their head.
        """
        n_heads = len(self.model.head_sizes)
        if head is not None:
            check_int(head, "head", minimum=0, maximum=n_heads - 1)
        is_sequence = isinstance(y, tuple)
        if head is None:
            if n_heads > 1 and (not is_sequence or len(y) != n_heads):
                raise ValueError(
                    f"y must be a tuple of {n_heads} label arrays (one per head), got {type(y).__name__}"
                )
            pairs = list(enumerate(y)) if n_heads > 1 else [(0, y[0] if is_sequence else y)]
        else:
            pairs = [(head, y[head] if is_sequence else y)]
        return [(index, self._as_labels(labels, index)) for index, labels in pairs]

    def _as_labels(self, labels: ArrayLike, head: int) -> torch.Tensor:
        """Labels of ``head`` as an int64 tensor (batch,), each a class index of that head."""
        if labels is None:
            raise ValueError(f"labels of head {head} must be a 1-D integer array (batch,), got None")
        labels = as_real_tensor(labels, f"labels of head {head}")
        if labels.dim() != 1 or torch.is_floating_point(labels) or labels.dtype == torch.bool:
            raise ValueError(
                f"labels must be a 1-D integer array (batch,), got {labels.dtype} {tuple(labels.shape)}"
            )
        n_classes = self.model.head_sizes[head]
        outside = (labels < 0) | (labels >= n_classes)
        if outside.any():
            bad = labels[outside][0].item()
            raise ValueError(f"labels of head {head} must be class indices in [0, {n_classes}), got {bad}")
        return labels.to(device=self.device, dtype=torch.int64)

    def outputs(
        self, x: torch.Tensor, mask: ArrayLike | None, generator: torch.Generator
    ) -> tuple[torch.Tensor, ...]:
        """The model's outputs on ``x``, from an initial state drawn with ``generator``.

        Parameters
        ----------
        x : tensor (B, T, d)
            From :meth:`prepare_inputs`.
        mask : bool array (B, T) or None
            See the models' ``forward``.
        generator : torch.Generator
            :attr:`train_generator` in :meth:`train_step`, :attr:`eval_generator` in :meth:`evaluate`.

        Returns
        -------
        tuple of tensor (B, C_k)
            The logits of every head.
        """
        return self._logits(x, self.model.initial_state(x.shape[0], generator), mask, generator)

    def _logits(
        self,
        x: torch.Tensor,
        h0: torch.Tensor,
        mask: ArrayLike | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """Every head's logits (B, C_k) from ``h0``: the model's forward, or a graph's final outputs."""
        if isinstance(self.model, CompiledGraph):
            return self.model.head_outputs(x, h0, mask)
        if self.noise is None:
            logits = self.model(x, h0=h0, mask=mask)
        else:
            logits = self.model(x, h0=h0, mask=mask, generator=generator, noise=self.noise)
        return logits if isinstance(logits, tuple) else (logits,)

    def loss(
        self, outputs: tuple[torch.Tensor, ...], targets: list[tuple[int, torch.Tensor]]
    ) -> torch.Tensor:
        """The training objective: :func:`heads_cross_entropy` of :meth:`outputs` and :meth:`prepare_targets`.

        Returns
        -------
        scalar tensor
        """
        return heads_cross_entropy(outputs, targets)

    # --- training --------------------------------------------------------------------------------------

    def train_step(
        self, x: ArrayLike, y: Targets, head: int | None = None, mask: ArrayLike | None = None
    ) -> float:
        """One optimiser step on a minibatch; returns the loss before the step.

        Parameters
        ----------
        x : array (B, T, d)
        y : int array (B,), or a tuple of them (one per head) for multi-head models
        head : int, optional
            Train only this head's loss (``y`` may then be that head's labels or the full tuple).
        mask : bool array (B, T), optional
            See the models' ``forward``.

        Raises
        ------
        TrainingDivergedError
            If the loss, the gradient norm or the updated weights are not finite; the step is undone.
        """
        if not self.model.training:  # evaluate() switched it off (a walk over every module, per step)
            self.model.train()
        x = self.prepare_inputs(x)
        targets = self.prepare_targets(y, head)
        loss = self.loss(self.outputs(x, mask, self.train_generator), targets)
        step = self.step_count + 1
        guarded_step(self.optimizer, loss, step, self.clip_norm)
        self.step_count = step
        return loss.item()

    @torch.inference_mode()
    def evaluate(
        self, x: ArrayLike, y: Targets, head: int | None = None, mask: ArrayLike | None = None
    ) -> dict[str, float | tuple[float, ...]]:
        """Accuracy and loss on a batch, without learning.

        Returns
        -------
        dict
            ``accuracy``: float (one head or ``head`` given) or tuple of floats (one per head);
            ``loss``: float, the summed cross-entropy of the evaluated heads.
        """
        self.model.eval()
        x = self.prepare_inputs(x)
        targets = self.prepare_targets(y, head)
        logits = self.outputs(x, mask, self.eval_generator)
        loss = self.loss(logits, targets).item()  # first: it refuses labels that do not match the batch
        return {"accuracy": heads_accuracy(logits, targets), "loss": loss}

    @torch.inference_mode()
    def evaluate_batches(
        self, batches: Sequence[tuple[ArrayLike, Targets]], head: int | None = None
    ) -> list[dict[str, float | tuple[float, ...]]]:
        """``[evaluate(x, y, head) for x, y in batches]``, the batches of one length run as one forward pass.

        The initial states are drawn batch after batch from :attr:`eval_generator`, as the calls one by
        one would draw them, so the results are those calls' (up to float rounding). A subclass that
        overrides :meth:`outputs` (or trains with noise) is evaluated one batch at a time.

        Parameters
        ----------
        batches : sequence of (x (B_j, T_j, d), y)

        Returns
        -------
        list of dict
            One :meth:`evaluate` result per batch.
        """
        if type(self).outputs is not GradientTrainer.outputs or self.noise is not None:
            return [self.evaluate(x, y, head) for x, y in batches]
        self.model.eval()
        inputs = [self.prepare_inputs(x) for x, _ in batches]
        targets = [self.prepare_targets(y, head) for _, y in batches]
        states = [self.model.initial_state(x.shape[0], self.eval_generator) for x in inputs]
        same_shape: dict[tuple[int, ...], list[int]] = {}
        for index, x in enumerate(inputs):
            same_shape.setdefault(tuple(x.shape[1:]), []).append(index)
        results: list[dict[str, Any]] = [{}] * len(inputs)
        for indices in same_shape.values():
            x = torch.cat([inputs[index] for index in indices])
            logits = self._logits(x, torch.cat([states[index] for index in indices]))
            stop = 0
            for index in indices:
                rows = slice(stop, stop + inputs[index].shape[0])
                stop = rows.stop
                own = tuple(head_logits[rows] for head_logits in logits)
                loss = self.loss(own, targets[index]).item()
                results[index] = {"accuracy": heads_accuracy(own, targets[index]), "loss": loss}
        return results

    # --- checkpoints -----------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue identically: model, optimizer, step count, level, RNG states.

        A schedule with a state adds ``"schedule_state"``, a trainer with noise ``"noise"``.
        """
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step_count": self.step_count,
            "level": self.level,
            "schedule": self.schedule.config,
            "train_generator": self.train_generator.get_state(),
            "eval_generator": self.eval_generator.get_state(),
        }
        if self.schedule_state is not None:
            state["schedule_state"] = dict(self.schedule_state)
        if self.noise is not None:
            state["noise"] = self.noise.config
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (the schedule in it must equal this trainer's).

        Raises
        ------
        ValueError
            If the checkpoint was made with another plasticity schedule or noise, or holds a schedule
            state that this schedule does not write.
        """
        if state["schedule"] != self.schedule.config:
            raise ValueError(f"checkpoint schedule {state['schedule']} differs from {self.schedule.config}")
        schedule_state = self.schedule.check_state(state.get("schedule_state"))
        noise = None if self.noise is None else self.noise.config
        if state.get("noise") != noise:
            raise ValueError(f"checkpoint noise {state.get('noise')} differs from this trainer's {noise}")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step_count = int(state["step_count"])
        self.level = state["level"]
        self.train_generator.set_state(state["train_generator"])
        self.eval_generator.set_state(state["eval_generator"])
        self.schedule_state = schedule_state
        self._apply_plasticity()

"""Cerebellar ablation at test time and readout-only recovery.

Ablation switches the cerebellar output off (``model.cerebellum_enabled = False``: c_t = 0) with its
weights untouched. Readout recovery asks whether the information the task needs is still in the
cortical state without the cerebellum: the readout alone is retrained on the ablated model, with the
study's optimiser by default (SGD: learning rate 0.01, momentum 0.1 Nesterov, gradient norm clipped at
7.5, batches of 64; the study: 100 steps).

Every task of the study works: single-head (DMS, parity, mod-3) and two-head (multitask, task
switching). With two heads the accuracies are given per head, and the scalar accuracy is the one the
curriculum passes a level on (:func:`level_accuracy`).

Examples
--------
>>> from cbreservoir.models import CBRNN
>>> from cbreservoir.analysis import ablate_cerebellum, ablation_accuracy, readout_recovery
>>> model = CBRNN(1, units=16, n_granule=32, n_purkinje=8, seed=0)
>>> with ablate_cerebellum(model):
...     model.cerebellum_enabled
False
>>> model.cerebellum_enabled
True
>>> [sorted(row) for row in ablation_accuracy(model, "dms", levels=[2], n_batches=2)]
[['ablated', 'ablated_heads', 'full', 'full_heads', 'level']]
>>> result = readout_recovery(model, "dms", level=2, n_steps=5, n_batches=2, progress=False)
>>> round(result.zero_shot_gap, 3) == round(result.intact - result.zero_shot, 3)
True
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from cbreservoir.analysis.activity import seeded_generator
from cbreservoir.numerics.optim import optimizer_settings
from cbreservoir.numerics.study import STUDY
from cbreservoir.tasks import CURRICULUM_TASKS, make_task_batch, switching_plan, task_spec
from cbreservoir.training import GradientTrainer
from cbreservoir.training.schedules import Fixed
from cbreservoir.utils.checks import check_int, check_positive_int


def _check_ablatable(model: nn.Module) -> None:
    if not hasattr(model, "cerebellum_enabled"):
        raise TypeError(
            f"model must have a cerebellum_enabled attribute (a cbreservoir model), "
            f"got {type(model).__name__}"
        )


@contextmanager
def ablate_cerebellum(model: nn.Module) -> Iterator[nn.Module]:
    """Switch the cerebellar output of ``model`` off inside a ``with`` block.

    The previous ``cerebellum_enabled`` value is restored on exit, also when the block raises.
    Models without a cerebellum are left as they are.

    Parameters
    ----------
    model : RecurrentNetwork

    Yields
    ------
    nn.Module
        The same ``model``, with ``cerebellum_enabled = False``.
    """
    _check_ablatable(model)
    previous = model.cerebellum_enabled
    model.cerebellum_enabled = False
    try:
        yield model
    finally:
        model.cerebellum_enabled = previous


def ablated_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` with the cerebellar output switched off (the original is untouched)."""
    _check_ablatable(model)
    ablated = copy.deepcopy(model)
    ablated.cerebellum_enabled = False
    return ablated


def _check_task(model: nn.Module, task: str) -> None:
    """``task`` is a curriculum task and ``model`` has its heads (one, or two for multitask/switching)."""
    if task not in CURRICULUM_TASKS:
        raise ValueError(f"task must be one of the curriculum tasks {list(CURRICULUM_TASKS)}, got {task!r}")
    spec = task_spec(task)
    heads = 1 if isinstance(spec.n_classes, int) else len(spec.n_classes)
    n_heads = len(model.readouts)
    if n_heads != heads or model.input_dim != spec.input_size:
        raise ValueError(
            f"model must have {heads} readout head(s) and {spec.input_size} input channel(s) for task "
            f"{task!r}, got {n_heads} head(s) and {model.input_dim} input channel(s)"
        )


def training_head(task: str, level: int) -> int | None:
    """The head that learns at ``level``: task switching's active head, None (every head) otherwise."""
    return switching_plan(level).head if task == "switching" else None


def level_accuracy(task: str, level: int, head_accuracies: Sequence[float]) -> float:
    """The accuracy a level is passed on, as the curriculum decides it.

    One head: its accuracy. Task switching: the active head's at ``level``. Multitask: the lowest over
    the heads (every head must pass).
    """
    head = training_head(task, level)
    return head_accuracies[head] if head is not None else min(head_accuracies)


@torch.no_grad()
def _accuracy(model: nn.Module, batches: Sequence[tuple[np.ndarray, Any]], seed: int) -> tuple[float, ...]:
    """Mean accuracy of ``model`` per head over ``batches``, initial states drawn from ``seed``."""
    generator = seeded_generator(model, seed)
    correct = total = 0
    for x, y in batches:
        logits = model(x, generator=generator)
        logits, labels = (logits, y) if isinstance(logits, tuple) else ((logits,), (y,))
        correct += np.array(
            [
                int(np.sum(head.argmax(dim=-1).cpu().numpy() == target))
                for head, target in zip(logits, labels, strict=True)
            ]
        )
        total += labels[0].size
    return tuple(float(value) for value in np.atleast_1d(correct / total))


def _test_batches(task: str, level: int, n_batches: int, batch_size: int, seed: int) -> list:
    rng = np.random.default_rng([seed, level])
    return [make_task_batch(task, level, batch_size=batch_size, seed=rng) for _ in range(n_batches)]


def ablation_accuracy(
    model: nn.Module,
    task: str,
    *,
    levels: Sequence[int],
    n_batches: int = 20,
    batch_size: int = STUDY.batch_size,
    seed: int = 0,
) -> list[dict[str, float]]:
    """Test accuracy of ``model`` with the cerebellum on and off, at each task level.

    Both conditions see the same test batches and the same initial states.

    Parameters
    ----------
    model : RecurrentNetwork
        A model with the task's heads.
    task : str
        ``"dms"``, ``"parity"``, ``"mod3"``, ``"multitask"`` or ``"switching"``.
    levels : sequence of int
        Task levels N.
    n_batches, batch_size : int
        Test set size per level.
    seed : int
        Seeds the test data and initial states.

    Returns
    -------
    list of dict
        One ``{"level": N, "full": accuracy, "ablated": accuracy, "full_heads": [...],
        "ablated_heads": [...]}`` per level: the :func:`level_accuracy` and the accuracy of each head.
    """
    _check_task(model, task)
    rows = []
    for level in levels:
        level = int(level)
        batches = _test_batches(task, level, n_batches, batch_size, seed)
        full = _accuracy(model, batches, seed)
        with ablate_cerebellum(model):
            ablated = _accuracy(model, batches, seed)
        rows.append(
            {
                "level": level,
                "full": level_accuracy(task, level, full),
                "ablated": level_accuracy(task, level, ablated),
                "full_heads": list(full),
                "ablated_heads": list(ablated),
            }
        )
    return rows


@dataclass(frozen=True, kw_only=True)
class RecoveryResult:
    """Outcome of :func:`readout_recovery` (accuracies in [0, 1]).

    Attributes
    ----------
    level : int
    intact : float
        Accuracy of the model with its cerebellum (:func:`level_accuracy`).
    zero_shot : float
        Accuracy with the cerebellum off, before any retraining.
    recovered : float
        Accuracy with the cerebellum off after retraining the readout.
    heads : dict
        ``{"intact": [...], "zero_shot": [...], "recovered": [...]}``: the same per head.
    n_steps : int
        Readout training steps.
    optimizer : dict
        The optimiser of the retraining: ``optimizer`` (``"sgd"`` or ``"adam"``), ``learning_rate``,
        ``momentum`` and ``nesterov`` (None for Adam), ``clip_norm``.
    curve : list of (int, float)
        (training steps done, ablated accuracy) at each evaluation.
    model : nn.Module or None
        The ablated copy with its retrained readout.
    """

    level: int
    intact: float
    zero_shot: float
    recovered: float
    heads: dict[str, list[float]]
    n_steps: int
    optimizer: dict[str, Any] = field(default_factory=dict)
    curve: list[tuple[int, float]] = field(default_factory=list)
    model: nn.Module | None = field(default=None, repr=False, compare=False)

    @property
    def zero_shot_gap(self) -> float:
        """``intact − zero_shot``: what switching the cerebellum off costs."""
        return self.intact - self.zero_shot

    @property
    def recovered_gap(self) -> float:
        """``intact − recovered``: what retraining the readout could not win back."""
        return self.intact - self.recovered

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict including the two gaps."""
        return {
            "level": self.level,
            "intact": self.intact,
            "zero_shot": self.zero_shot,
            "recovered": self.recovered,
            "zero_shot_gap": self.zero_shot_gap,
            "recovered_gap": self.recovered_gap,
            "heads": self.heads,
            "n_steps": self.n_steps,
            "optimizer": self.optimizer,
            "curve": [list(point) for point in self.curve],
        }


def _optimizer_settings(trainer: GradientTrainer) -> dict[str, Any]:
    """The optimiser a recovery used, as numbers (its readout group's learning rate)."""
    group = next(group for group in trainer.optimizer.param_groups if group.get("name") == "readout")
    settings = optimizer_settings(trainer.optimizer)
    return {
        "optimizer": settings["name"],
        "learning_rate": group["lr"],
        "momentum": settings["momentum"],
        "nesterov": settings["nesterov"],
        "clip_norm": trainer.clip_norm,
    }


#: The study's readout retraining: 100 readout-only steps (with GradientTrainer's defaults, the study's SGD).
RECOVERY_STEPS = STUDY.recovery_steps


def readout_recovery(
    model: nn.Module,
    task: str,
    *,
    level: int,
    n_steps: int = RECOVERY_STEPS,
    batch_size: int = STUDY.batch_size,
    n_batches: int = 20,
    eval_every: int | None = None,
    seed: int = 0,
    progress: bool = True,
    **trainer_options: Any,
) -> RecoveryResult:
    """Switch the cerebellum off and retrain only the readout heads on a copy of ``model``.

    Parameters
    ----------
    model : RecurrentNetwork
        A model with the task's heads; it is not modified.
    task : str
        ``"dms"``, ``"parity"``, ``"mod3"``, ``"multitask"`` or ``"switching"`` (the heads that learn are
        those the curriculum trains at ``level``: :func:`training_head`).
    level : int
        Task level N for training and testing.
    n_steps : int
        Readout training steps (minibatches of ``batch_size``); the study: 100.
    batch_size : int
    n_batches : int
        Test batches per evaluation (the same batches for every evaluation).
    eval_every : int, optional
        Also evaluate every ``eval_every`` steps (the recovery curve).
    seed : int
        Seeds the training and test data and the initial states.
    progress : bool
        Show a tqdm bar.
    **trainer_options
        Passed to :class:`~cbreservoir.training.GradientTrainer`, whose defaults are the study's SGD
        (learning rate 0.01, momentum 0.1 Nesterov, clipping 7.5); e.g. ``optimizer="adam",
        learning_rate=3e-3``. The schedule is always ``Fixed(("readout",))``
        (:class:`~cbreservoir.training.schedules.Fixed`): only the readout learns.

    Returns
    -------
    RecoveryResult
    """
    _check_task(model, task)
    check_int(n_steps, "n_steps", minimum=0)
    if eval_every is not None:
        check_positive_int(eval_every, "eval_every (or None)")
    batches = _test_batches(task, level, n_batches, batch_size, seed)
    intact = _accuracy(model, batches, seed)
    ablated = ablated_copy(model)
    zero_shot = _accuracy(ablated, batches, seed)
    trainer = GradientTrainer(ablated, schedule=Fixed(("readout",)), seed=seed, **trainer_options)
    train_rng = np.random.default_rng([seed, level, 1])
    head = training_head(task, level)
    curve = [(0, level_accuracy(task, level, zero_shot))]
    recovered = zero_shot
    for step in tqdm(range(1, n_steps + 1), disable=not progress, desc="readout recovery", unit="step"):
        trainer.train_step(*make_task_batch(task, level, batch_size=batch_size, seed=train_rng), head)
        if step == n_steps or (eval_every is not None and step % eval_every == 0):
            recovered = _accuracy(ablated, batches, seed)
            curve.append((step, level_accuracy(task, level, recovered)))
    return RecoveryResult(
        level=level,
        intact=level_accuracy(task, level, intact),
        zero_shot=level_accuracy(task, level, zero_shot),
        recovered=level_accuracy(task, level, recovered),
        heads={"intact": list(intact), "zero_shot": list(zero_shot), "recovered": list(recovered)},
        n_steps=n_steps,
        optimizer=_optimizer_settings(trainer),
        curve=curve,
        model=ablated,
    )

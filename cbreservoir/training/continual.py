"""Continual learning: DMS, then parity, then DMS again, a fixed epoch budget per phase at one level N.

The study's continual plan (PAPER.md, "Details from the authors' public code"): the tasks follow
:data:`~cbreservoir.tasks.CONTINUAL_PLAN` one phase each, ``phase_epochs`` epochs per phase; every trial
carries a one-hot task cue and the 3-step switch pulse on extra input channels
(:func:`~cbreservoir.tasks.make_continual_batch`); the model has one head per task, and only the cued
task's head trains. Every epoch is the curriculum's (``steps_per_epoch`` updates, then ``test_batches`` fresh
test batches of *each* task, cued as that task, scoring that task's head), at the fixed level N
(``start_level``): the level does not advance, ``solved`` marks the epochs whose active-task accuracy reached
the threshold. The epochs to criterion of each phase, the savings ratio and the accuracies after each phase's
budget are :func:`cbreservoir.analysis.metrics.continual_metrics`.

Plasticity: the trainer's schedule sees level :data:`WARMUP_LEVEL` (the curriculum's first level, 2) until the
first epoch reaches the criterion, and N afterwards. So a frozen-core schedule trains its core (its phase 0)
until the network first solves the first task, then freezes it, as it does after N = 2 in the curriculum;
end-to-end schedules do not depend on the level.

Examples
--------
>>> from cbreservoir.models import CBRNN
>>> from cbreservoir.tasks import task_spec
>>> from cbreservoir.training import GradientTrainer
>>> from cbreservoir.training.continual import ContinualTrainer
>>> model = CBRNN(input_dim=task_spec("continual").input_size, n_classes=(2, 2), seed=0)
>>> run = ContinualTrainer(GradientTrainer(model, seed=0), start_level=3, phase_epochs=1,
...                        steps_per_epoch=2, test_batches=1, progress=False)
>>> [record.active_head for record in run.run(run.n_epochs).records]
[0, 1, 0]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from cbreservoir.numerics.study import STUDY
from cbreservoir.tasks.sequence import CONTINUAL_PLAN, MULTITASK_TASKS, make_continual_batch
from cbreservoir.training.curriculum import (
    Batch,
    CurriculumTrainer,
    EpochRecord,
    SupportsCurriculum,
    _check_progress,
)
from cbreservoir.utils.checks import MAX_COUNT, check_int

__all__ = ["WARMUP_LEVEL", "ContinualTrainer", "make_curriculum", "plasticity_levels"]

#: The level a plasticity schedule sees before the first criterion (the curriculum's first level).
WARMUP_LEVEL = 2


class ContinualTrainer(CurriculumTrainer):
    """Run a trainer through the continual plan DMS -> parity -> DMS at a fixed level N.

    Parameters
    ----------
    trainer : GradientTrainer or a :class:`~cbreservoir.training.curriculum.SupportsCurriculum`
        Its model takes 4 input channels (bits, the two-channel cue, the pulse) and has two heads (DMS,
        parity).
    task : {"continual"}
    start_level : int
        The fixed task level N, >= 3 (above :data:`WARMUP_LEVEL`, so that a frozen-core schedule freezes).
    steps_per_epoch, test_batches, batch_size, threshold, seed, checkpoint_dir, progress, settings
        As for :class:`~cbreservoir.training.CurriculumTrainer` (``test_batches`` of each task per epoch).
    phase_epochs : int
        Epochs per phase (the study: 100).

    Attributes
    ----------
    n_epochs : int
        The plan's length, ``len(CONTINUAL_PLAN) * phase_epochs``.
    """

    TASKS = ("continual",)

    def __init__(
        self,
        trainer: SupportsCurriculum,
        task: str = "continual",
        start_level: int = 3,
        steps_per_epoch: int = 100,
        test_batches: int = 50,
        batch_size: int = STUDY.batch_size,
        threshold: float = STUDY.threshold,
        seed: int = 0,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        progress: bool = True,
        *,
        phase_epochs: int = 100,
        settings: dict[str, Any] | None = None,
    ) -> None:
        check_int(start_level, "start_level (the continual plan's fixed level N)", minimum=WARMUP_LEVEL + 1)
        self.phase_epochs = check_int(phase_epochs, "phase_epochs", minimum=1, maximum=MAX_COUNT)
        super().__init__(
            trainer, task, start_level, steps_per_epoch, test_batches, batch_size, threshold, seed,
            checkpoint_dir, progress, settings=settings,
        )  # fmt: skip

    @property
    def n_epochs(self) -> int:
        """Epochs of the whole plan."""
        return len(CONTINUAL_PLAN) * self.phase_epochs

    def phase_head(self, epoch_index: int) -> int:
        """Head (task) of the phase of 0-based epoch ``epoch_index`` (the last phase after the plan)."""
        phase = min(epoch_index // self.phase_epochs, len(CONTINUAL_PLAN) - 1)
        return MULTITASK_TASKS.index(CONTINUAL_PLAN[phase])

    def _config(self) -> dict[str, Any]:
        return {**super()._config(), "phase_epochs": self.phase_epochs}

    # -- the epoch plan --------------------------------------------------------------------------
    def _epoch_head(self) -> int:
        return self.phase_head(len(self.history))

    def _draw_training(self, level: int, head: int | None) -> Batch:
        return make_continual_batch(MULTITASK_TASKS[head], level, batch_size=self.batch_size, seed=self._rng)

    def _draw_tests(self, level: int) -> list[Batch]:
        return [
            make_continual_batch(task, level, batch_size=self.batch_size, seed=self._rng)
            for task in MULTITASK_TASKS
            for _ in range(self.test_batches)
        ]

    def _test_accuracies(self, results: list[dict[str, Any]]) -> tuple[float, ...]:
        """Head h's accuracy over the test batches cued as task h (the first ``test_batches``: DMS)."""
        accuracies = [self._head_accuracies(result) for result in results]
        per_task = np.split(np.asarray(accuracies), len(MULTITASK_TASKS))
        return tuple(float(np.mean(rows[:, head])) for head, rows in enumerate(per_task))

    def _advance(self, record: EpochRecord) -> None:
        """The level stays; the first solved epoch moves the schedule out of its warm-up."""
        if record.solved and sum(r.solved for r in self.history.records) == 1:
            self.trainer.set_level(self._plasticity_level())

    def _plasticity_level(self) -> int:
        """The level the schedule sees in the next epoch (:func:`plasticity_levels`)."""
        solved = [record.solved for record in self.history.records]
        return plasticity_levels(self.level, [*solved, False])[-1]

    def _check_history(self, history: Any, level: Any) -> None:
        _check_progress(
            history, level, task=self.task, start_level=self.start_level, threshold=self.threshold,
            advances=False,
        )  # fmt: skip
        for index, record in enumerate(history.records):
            if record.active_head != self.phase_head(index):
                raise ValueError(
                    f"epoch record {index + 1} must train head {self.phase_head(index)} of the continual "
                    f"plan, got {record.active_head!r}"
                )


def plasticity_levels(level: int, solved: Sequence[bool]) -> list[int]:
    """The level a continual run's schedule saw in each epoch (:meth:`ContinualTrainer.run`).

    :data:`WARMUP_LEVEL` up to and including the first epoch in ``solved`` that reached the criterion,
    ``level`` (the plan's N) afterwards.
    """
    levels, reached = [], False
    for flag in solved:
        levels.append(level if reached else WARMUP_LEVEL)
        reached = reached or bool(flag)
    return levels


def make_curriculum(trainer: SupportsCurriculum, task: str, **kwargs: Any) -> CurriculumTrainer:
    """The curriculum of ``task``: a :class:`ContinualTrainer` for ``"continual"``, else a
    :class:`~cbreservoir.training.CurriculumTrainer` (``phase_epochs`` is for the continual plan only).
    """
    if task == "continual":
        return ContinualTrainer(trainer, task, **kwargs)
    if "phase_epochs" in kwargs:
        raise ValueError(f"phase_epochs belongs to the continual plan, got it for task {task!r}")
    return CurriculumTrainer(trainer, task, **kwargs)

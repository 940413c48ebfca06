"""Ensemble curricula: one :class:`~cbreservoir.training.CurriculumTrainer` per member, driven in lock step.

Each member keeps its own data seed, level, history and checkpoints (a member's checkpoint directory can
be resumed by a solo run, and the other way round). :class:`EnsembleCurriculumTrainer` is the one
curriculum loop (:func:`~cbreservoir.training.curriculum.run_curricula`) over the members' curricula — no
threads — with their training steps and test batches batched through one
:class:`~cbreservoir.training.ensemble.EnsembleTrainer`.

Examples
--------
>>> from cbreservoir.models import CBRNN
>>> from cbreservoir.training.ensemble import EnsembleCurriculumTrainer, EnsembleTrainer
>>> ensemble = EnsembleTrainer([CBRNN(1, seed=s) for s in range(2)], seeds=range(2))
>>> curriculum = EnsembleCurriculumTrainer(ensemble, "dms", steps_per_epoch=2, test_batches=2, progress=False)
>>> [len(history) for history in curriculum.run(n_epochs=1)]
[1, 1]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cbreservoir.training.continual import make_curriculum
from cbreservoir.training.curriculum import CurriculumHistory, run_curricula
from cbreservoir.training.ensemble.trainer import EnsembleTrainer


class _MemberTrainer:
    """What member i's :class:`CurriculumTrainer` sees: its level, its state, one-member ensemble calls.

    The ensemble curriculum batches the members' training and test calls itself; the calls here serve a
    member curriculum driven on its own.
    """

    def __init__(self, ensemble: EnsembleTrainer, member: int) -> None:
        self._ensemble = ensemble
        self._member = member

    def train_step(self, x: Any, y: Any, head: int | None = None) -> float:
        return self._ensemble.train_step([x], [y], head=[head], members=[self._member])[0]

    def evaluate(self, x: Any, y: Any, head: int | None = None) -> dict[str, Any]:
        return self._ensemble.evaluate([x], [y], head=[head], members=[self._member])[0]

    def set_level(self, n: int) -> None:
        self._ensemble.set_member_level(self._member, n)

    def observe_epoch(self, *, level: int, solved: bool, test_loss: float) -> None:
        self._ensemble.trainers[self._member].observe_epoch(level=level, solved=solved, test_loss=test_loss)

    def state_dict(self) -> dict[str, Any]:
        self._ensemble._write_member(self._member)
        return self._ensemble.trainers[self._member].state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._ensemble.trainers[self._member].load_state_dict(state)
        self._ensemble._read_member(self._member)


class EnsembleCurriculumTrainer:
    """Run every ensemble member through its own curriculum, training all members as one batch.

    Member i gets a :class:`~cbreservoir.training.CurriculumTrainer` of its own (data seed, level,
    history, checkpoints in ``checkpoint_dir/member_XX``), exactly as a solo curriculum run with
    ``GradientTrainer(model_i, seed=trainer_seed_i)`` and ``CurriculumTrainer(..., seed=seeds[i])``;
    the curricula run in lock step through the one curriculum loop
    (:func:`~cbreservoir.training.curriculum.run_curricula`, in plain code), and their training and test
    calls are batched through the :class:`EnsembleTrainer`. A member's checkpoint directory can be resumed
    by a solo run (not at the same time: the loop locks it).
    Members resumed from checkpoints of different epochs each finish their own curriculum; the
    members still running then train without the finished ones, which needs ``optimizer="sgd"``.

    Parameters
    ----------
    ensemble : EnsembleTrainer
    task : str
        As for :class:`CurriculumTrainer`.
    seeds : sequence of int, optional
        Data seed of each member's curriculum; by default each member trainer's seed.
    checkpoint_dir : str or Path, optional
        Parent of the members' checkpoint directories (``member_XX``); a run resumes from them.
    checkpoint_dirs : sequence of str or Path, optional
        Instead of ``checkpoint_dir``: each member's own checkpoint directory (e.g. the one a solo run
        of the same settings would use, so that either can resume the other).
    progress : bool
        One tqdm bar over epochs (the slowest member's count).
    **curriculum_kwargs
        ``start_level``, ``steps_per_epoch``, ``test_batches``, ``batch_size``, ``threshold`` (and
        ``phase_epochs`` for ``"continual"``: :func:`~cbreservoir.training.continual.make_curriculum`).

    Attributes
    ----------
    curricula : list of CurriculumTrainer
    """

    def __init__(
        self,
        ensemble: EnsembleTrainer,
        task: str,
        seeds: Sequence[int] | None = None,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        progress: bool = True,
        checkpoint_dirs: Sequence[str | os.PathLike[str]] | None = None,
        **curriculum_kwargs: Any,
    ) -> None:
        n_members = ensemble.n_members
        seeds = [trainer.seed for trainer in ensemble.trainers] if seeds is None else list(seeds)
        if len(seeds) != n_members:
            raise ValueError(f"seeds must have one entry per member ({n_members}), got {len(seeds)}")
        if checkpoint_dirs is None:
            parent = None if checkpoint_dir is None else Path(checkpoint_dir)
            checkpoint_dirs = [parent and parent / f"member_{member:02d}" for member in range(n_members)]
        elif checkpoint_dir is not None:
            raise ValueError(
                f"expected checkpoint_dir or checkpoint_dirs, got both ({checkpoint_dir!r} and a sequence)"
            )
        elif len(checkpoint_dirs) != n_members:
            raise ValueError(
                f"checkpoint_dirs must have one entry per member ({n_members}), got {len(checkpoint_dirs)}"
            )
        self.ensemble = ensemble
        self.progress = progress
        self.curricula = [
            make_curriculum(
                _MemberTrainer(ensemble, member),
                task,
                seed=seed,
                checkpoint_dir=directory,
                progress=False,
                **curriculum_kwargs,
            )
            for member, (seed, directory) in enumerate(zip(seeds, checkpoint_dirs, strict=True))
        ]

    def _execute(self, kind: str, calls: dict[int, tuple]) -> dict[int, Any]:
        """Run the members' requests of one kind as ensemble calls; ``{member: result}``."""
        members = sorted(calls)
        subset = None if len(members) == self.ensemble.n_members else members
        if kind == "train_step":
            xs, ys, heads = zip(*(calls[member] for member in members), strict=True)
            losses = self.ensemble.train_step(list(xs), list(ys), head=list(heads), members=subset)
            return dict(zip(members, losses, strict=True))
        batches = [calls[member][0] for member in members]
        results: dict[int, list] = {member: [] for member in members}
        for index in range(len(batches[0])):
            xs, ys = zip(*(member_batches[index] for member_batches in batches), strict=True)
            for member, result in zip(members, self.ensemble.evaluate(list(xs), list(ys), members=subset),
                                      strict=True):  # fmt: skip
                results[member].append(result)
        return results

    def run(self, n_epochs: int) -> list[CurriculumHistory]:
        """Run every member's curriculum until its history holds ``n_epochs`` epochs.

        The loop is :func:`~cbreservoir.training.curriculum.run_curricula`'s, with the members' requests
        batched through the ensemble. Members whose history already holds ``n_epochs`` (resumed from a
        later checkpoint) sit out; the members' checkpoint directories are locked while it runs.

        Returns
        -------
        list of CurriculumHistory
            One per member.

        Raises
        ------
        Exception
            The first error of any member (e.g. ``TrainingDivergedError``); every member stops.
        """
        return run_curricula(self.curricula, n_epochs, self._execute, progress=self.progress)

"""One reproduction run: a (task, condition, seed, G) cell trained through the curriculum."""

from __future__ import annotations

import os
import platform
import shutil
import time
from pathlib import Path

from cbreservoir.experiments.reproduce.conditions import (
    CONDITIONS,
    CONTINUAL_LEVEL,
    CONTINUAL_PHASE_EPOCHS,
    FEEDFORWARD_TASKS,
    build_condition_model,
    build_condition_schedule,
)
from cbreservoir.experiments.reproduce.profiles import Profile
from cbreservoir.experiments.sweep import canonical_json, cell_id
from cbreservoir.numerics.study import STUDY
from cbreservoir.tasks.sequence import CONTINUAL_PLAN

__all__ = [
    "build_curriculum",
    "curriculum_settings",
    "n_epochs",
    "ensemble_key",
    "make_cell",
    "optimizer_settings",
    "package_versions",
    "run_cell",
    "run_cells",
    "run_ensemble",
]


def make_cell(
    task: str, condition: str, *, seed: int, profile: Profile, n_granule: int = STUDY.n_granule
) -> dict:
    """The sweep cell of one run; it holds every setting, so a changed profile gives new cells.

    Parameters
    ----------
    task, condition : str
        A task of :data:`~cbreservoir.experiments.reproduce.conditions.STUDY_TASKS` and a condition of
        :data:`~cbreservoir.experiments.reproduce.conditions.CONDITIONS`.
    seed : int
        Seeds the model's initialisation, its initial states and the curriculum's data.
    profile : Profile
        Run settings.
    n_granule : int
        Granule layer size G (of the CB-RNN a matched model is matched to).

    Returns
    -------
    dict
        ``{"task", "condition", "seed", "n_granule", "profile"}`` (profile as :meth:`Profile.settings`);
        a continual cell adds ``"continual": {"level", "phase_epochs"}`` (:data:`CONTINUAL_LEVEL`, and
        :data:`CONTINUAL_PHASE_EPOCHS` or the profile's ``n_epochs`` if fewer).
    """
    cell = {
        "task": task,
        "condition": condition,
        "seed": int(seed),
        "n_granule": int(n_granule),
        "profile": profile.settings(),
    }
    if task == "continual":
        phase_epochs = min(CONTINUAL_PHASE_EPOCHS, profile.n_epochs)
        cell["continual"] = {"level": CONTINUAL_LEVEL, "phase_epochs": phase_epochs}
    return cell


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages a run depends on."""
    import numpy
    import torch

    import cbreservoir

    return {
        "python": platform.python_version(),
        "cbreservoir": cbreservoir.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
    }


def build_curriculum(cell: dict, checkpoint_dir: str | os.PathLike | None = None) -> object:
    """The :class:`~cbreservoir.training.CurriculumTrainer` of ``cell``: its model, schedule and data seed.

    Parameters
    ----------
    cell : dict
        A :func:`make_cell` cell.
    checkpoint_dir : path, optional
        Where the curriculum checkpoints each epoch (and resumes from).

    Returns
    -------
    CurriculumTrainer
        Not yet run; ``.trainer.model`` is the freshly initialised model. For the ``"feedforward"``
        condition ``.trainer`` is a :class:`~cbreservoir.training.FeedforwardTrainer` around the
        model's :class:`~cbreservoir.training.GradientTrainer`: its core trains for
        ``feedforward_core_epochs x steps_per_epoch`` steps, then freezes, and G = ``n_granule``
        granule cells feed its ridge readout.

    Raises
    ------
    ValueError
        A ``"feedforward"`` cell whose task is not in
        :data:`~cbreservoir.experiments.reproduce.conditions.FEEDFORWARD_TASKS`.
    """
    from cbreservoir.training import FeedforwardTrainer, GradientTrainer, make_curriculum

    profile = Profile(**cell["profile"])
    task, condition, seed = cell["task"], cell["condition"], cell["seed"]
    feedforward = CONDITIONS[condition].feedforward
    if feedforward and task not in FEEDFORWARD_TASKS:
        raise ValueError(f"the feedforward condition runs tasks {list(FEEDFORWARD_TASKS)}, got {task!r}")
    model = build_condition_model(condition, task, n_granule=cell["n_granule"], seed=seed)
    trainer = GradientTrainer(
        model, schedule=build_condition_schedule(condition, task), seed=seed, **optimizer_settings(profile)
    )
    if feedforward:
        trainer = FeedforwardTrainer(
            trainer,
            core_steps=profile.feedforward_core_epochs * profile.steps_per_epoch,
            n_granule=cell["n_granule"],
            seed=seed,
        )
    return make_curriculum(
        trainer,
        task,
        seed=seed,
        checkpoint_dir=checkpoint_dir,
        progress=False,
        **curriculum_settings(profile, cell),
    )


def optimizer_settings(profile: Profile) -> dict:
    """The :class:`~cbreservoir.training.GradientTrainer` arguments a profile sets."""
    return {
        "learning_rate": profile.learning_rate,
        "momentum": profile.momentum,
        "clip_norm": profile.clip_norm,
    }


def curriculum_settings(profile: Profile, cell: dict | None = None) -> dict:
    """The :class:`~cbreservoir.training.CurriculumTrainer` arguments a profile sets (and, for a continual
    ``cell``, its fixed level and epochs per phase: :class:`~cbreservoir.training.ContinualTrainer`)."""
    settings = {
        "start_level": profile.start_level,
        "steps_per_epoch": profile.steps_per_epoch,
        "test_batches": profile.test_batches,
        "batch_size": profile.batch_size,
        "threshold": profile.threshold,
    }
    if cell is not None and "continual" in cell:
        plan = cell["continual"]
        settings.update(start_level=plan["level"], phase_epochs=plan["phase_epochs"])
    return settings


def n_epochs(cell: dict) -> int:
    """Epochs of the run of ``cell``: the profile's, or the continual plan's three phases."""
    if "continual" in cell:
        return len(CONTINUAL_PLAN) * cell["continual"]["phase_epochs"]
    return Profile(**cell["profile"]).n_epochs


def run_cell(cell: dict, checkpoint_root: str | None = None, *, keep_checkpoints: bool = False) -> dict:
    """Train the model of ``cell`` through the curriculum and return its record.

    Parameters
    ----------
    cell : dict
        A :func:`make_cell` cell.
    checkpoint_root : str, optional
        Directory for the in-progress checkpoint of this run (``<root>/<cell id>``), so that an
        interrupted run resumes from its last finished epoch; removed when the run completes unless
        ``keep_checkpoints``.
    keep_checkpoints : bool
        Keep the run's checkpoints (``last.pt`` and the weights that passed each level,
        ``level_NNN.pt``) for later analysis (:func:`cbreservoir.experiments.analysis_report.run_analysis`
        with ``reproduction_dir``).

    Returns
    -------
    dict
        ``task``, ``condition``, ``seed``, ``n_granule``, ``levels`` (N(e), one per epoch), ``history``
        (:meth:`~cbreservoir.training.CurriculumHistory.to_dict`: every epoch's record), ``seconds``
        (wall time of this call),
        ``n_parameters``, ``units`` (H; records written before issue 25 say ``hidden_size``: read it with
        :func:`~cbreservoir.experiments.reproduce.summary.record_units`), ``model_config``, ``profile`` and
        ``versions``; feedforward
        runs add ``parameter_counts`` (trainable ridge readout, frozen core + granule layer, total =
        ``n_parameters``), the others ``frozen``: the parameters (``named_parameters`` names) the
        condition's schedule froze, as ``[{"levels": [first, last], "frozen": [...]}, ...]`` over the
        levels the run reached (an adaptive schedule's frozen sets while its core is closed), and
        ``core_plastic``: per epoch, whether the core's recurrent weights learned in it, i.e. the schedule
        had the core open (:func:`~cbreservoir.training.schedules.core_recurrent_learns` of the
        :func:`~cbreservoir.training.schedules.replay` of the history: the adaptive schedule's decisions).
    """
    from cbreservoir.utils.threads import torch_threads

    checkpoint_dir = _checkpoint_dir(cell, checkpoint_root)
    with torch_threads(1):  # one run per core; the caller's thread count is restored
        curriculum = build_curriculum(cell, checkpoint_dir)
        start = time.perf_counter()
        history = curriculum.run(n_epochs(cell))
        seconds = time.perf_counter() - start
    if checkpoint_dir is not None and not keep_checkpoints:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    counts = getattr(curriculum.trainer, "parameter_counts", None)
    return _record(cell, history, seconds, curriculum.trainer.model, None if counts is None else counts())


def _checkpoint_dir(cell: dict, checkpoint_root: str | None) -> Path | None:
    return None if checkpoint_root is None else Path(checkpoint_root) / cell_id(cell)


def _record(cell: dict, history: object, seconds: float, model: object, counts: dict | None, **extra) -> dict:
    """The result record of one run (see :func:`run_cell`)."""
    from cbreservoir.experiments.reproduce.compute import schedule_epochs
    from cbreservoir.models import count_parameters
    from cbreservoir.training.schedules import core_recurrent_learns, frozen_phases, replay

    if counts is None:  # the schedule's regime, level by level (a feedforward record has parameter_counts)
        levels = range(Profile(**cell["profile"]).start_level, max(history.levels) + 1)
        schedule = build_condition_schedule(cell["condition"], cell["task"])
        epochs = [(record.level, record.solved, record.test_loss) for record in history.records]
        epochs = schedule_epochs(cell["task"], epochs)
        extra = {
            "frozen": frozen_phases(model, schedule, levels),
            "core_plastic": [core_recurrent_learns(groups) for groups in replay(schedule, epochs)],
            **extra,
        }
    return {
        "task": cell["task"],
        "condition": cell["condition"],
        "seed": cell["seed"],
        "n_granule": cell["n_granule"],
        "levels": [int(level) for level in history.levels],
        "history": history.to_dict(),
        "seconds": seconds,
        "n_parameters": count_parameters(model) if counts is None else counts["total"],
        "units": model.units,
        "model_config": model.config,
        "profile": cell["profile"],
        "versions": package_versions(),
        **({} if counts is None else {"parameter_counts": counts}),
        **({"continual": cell["continual"]} if "continual" in cell else {}),
        **extra,
    }


def ensemble_key(cell: dict) -> str | None:
    """Cells with equal keys can train together as one ensemble (:func:`run_ensemble`); None: alone.

    They must share the task, the model architecture (condition kind and parameter matching), G and
    the profile; the plasticity schedule and the seed may differ (CB-RNN, full-reservoir and
    interleaved runs of one task share an ensemble). Feedforward cells always run alone.
    """
    condition = CONDITIONS[cell["condition"]]
    if condition.feedforward:
        return None
    architecture = {
        "kind": condition.kind,
        "matched_to": condition.matched_to,
        "n_granule": cell["n_granule"],
    }
    return canonical_json({"task": cell["task"], "architecture": architecture, "profile": cell["profile"]})


def run_ensemble(
    cells: list[dict], checkpoint_root: str | None = None, *, keep_checkpoints: bool = False
) -> list[dict]:
    """Train the models of ``cells`` together as one batched ensemble, each through its own curriculum.

    Every member follows its solo :func:`run_cell` run (same levels and accuracies; losses to float
    rounding: ``tests/test_reproduce_run.py``) and checkpoints where that run would, so either can
    resume the other. Cells must share one :func:`ensemble_key`.

    Parameters
    ----------
    cells : list of dict
        :func:`make_cell` cells.
    checkpoint_root : str, optional
        As for :func:`run_cell`.
    keep_checkpoints : bool
        As for :func:`run_cell`.

    Returns
    -------
    list of dict
        One :func:`run_cell` record per cell, with ``ensemble_size`` (the number of members),
        ``ensemble_seconds`` (the ensemble's wall time) and ``seconds`` (that time's share per member,
        comparable with solo runs' ``seconds``).

    Raises
    ------
    ValueError
        Cells that cannot share an ensemble (their keys differ or one is feedforward).
    """
    from cbreservoir.training.ensemble import EnsembleCurriculumTrainer, EnsembleTrainer
    from cbreservoir.utils.threads import torch_threads

    keys = {ensemble_key(cell) for cell in cells}
    if not cells or len(keys) != 1 or None in keys:
        raise ValueError(
            "expected non-feedforward cells of one task, architecture and profile, got conditions "
            f"{[cell['condition'] for cell in cells]} of tasks {sorted({cell['task'] for cell in cells})}"
        )
    profile, task = Profile(**cells[0]["profile"]), cells[0]["task"]
    seeds = [cell["seed"] for cell in cells]
    with torch_threads(1):
        ensemble = EnsembleTrainer(
            [
                build_condition_model(c["condition"], task, n_granule=c["n_granule"], seed=c["seed"])
                for c in cells
            ],
            seeds=seeds,
            schedule=[build_condition_schedule(cell["condition"], task) for cell in cells],
            **optimizer_settings(profile),
        )
        directories = [_checkpoint_dir(cell, checkpoint_root) for cell in cells]
        curriculum = EnsembleCurriculumTrainer(
            ensemble,
            task,
            seeds=seeds,
            checkpoint_dirs=None if checkpoint_root is None else directories,
            progress=False,
            **curriculum_settings(profile, cells[0]),
        )
        start = time.perf_counter()
        histories = curriculum.run(n_epochs(cells[0]))
        seconds = time.perf_counter() - start
    for directory in directories:
        if directory is not None and not keep_checkpoints:
            shutil.rmtree(directory, ignore_errors=True)
    share, extra = seconds / len(cells), {"ensemble_size": len(cells), "ensemble_seconds": seconds}
    return [
        _record(cell, history, share, model, None, **extra)
        for cell, history, model in zip(cells, histories, ensemble.members, strict=True)
    ]


def run_cells(
    cells: list[dict], checkpoint_root: str | None = None, *, keep_checkpoints: bool = False
) -> list[dict]:
    """Run a group of cells of :func:`~cbreservoir.experiments.sweep.group_cells` (``group_by=ensemble_key``).

    A group of cells that can share an ensemble trains as one (:func:`run_ensemble`); a cell that
    cannot (key None: the feedforward condition) runs alone (:func:`run_cell`).
    """
    if len(cells) == 1 and ensemble_key(cells[0]) is None:
        return [run_cell(cells[0], checkpoint_root, keep_checkpoints=keep_checkpoints)]
    return run_ensemble(cells, checkpoint_root, keep_checkpoints=keep_checkpoints)

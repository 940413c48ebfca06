"""Training for the analysis report: each condition through the curriculum, and its per-level checkpoints."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from torch import nn

from cbreservoir.experiments.reproduce.profiles import Profile
from cbreservoir.experiments.reproduce.run import build_curriculum, make_cell
from cbreservoir.models import build_model
from cbreservoir.training.curriculum import load_checkpoint

__all__ = ["level_checkpoints", "train_condition"]

_LEVEL_CHECKPOINT = re.compile(r"level_(\d+)\.pt$")


def train_condition(
    condition: str, task: str, *, profile: Profile, seed: int, checkpoint_dir: Path, progress: bool
) -> tuple[nn.Module, Any]:
    """Train (or resume) one condition through the curriculum, exactly as a reproduction run does.

    The curriculum is :func:`cbreservoir.experiments.reproduce.run.build_curriculum` of the run's cell (model,
    schedule, SGD settings and data seed of ``profile``), checkpointing in ``checkpoint_dir``.

    Returns
    -------
    (model, CurriculumHistory)
    """
    curriculum = build_curriculum(make_cell(task, condition, seed=seed, profile=profile), checkpoint_dir)
    curriculum.progress = progress
    history = curriculum.run(profile.n_epochs)
    return curriculum.trainer.model, history


def level_checkpoints(model: nn.Module, checkpoint_dir: Path) -> list[tuple[int, nn.Module]]:
    """The models saved by the curriculum when they passed each level, as ``(level, model)`` pairs."""
    checkpoints = []
    for path in sorted(checkpoint_dir.glob("level_*.pt")):
        match = _LEVEL_CHECKPOINT.search(path.name)
        if match is None:
            continue
        snapshot = build_model(**model.config)
        snapshot.load_state_dict(load_checkpoint(path)["trainer"]["model"])
        checkpoints.append((int(match.group(1)), snapshot))
    return checkpoints

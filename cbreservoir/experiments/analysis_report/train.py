"""Training for the analysis report: each condition through the curriculum, and its per-level checkpoints.

The networks of a finished reproduction are analysed from the checkpoints its runs kept
(``reproduce --keep-checkpoints``); a run that kept none is trained again here, on demand, into the
directory where it would have kept them (:func:`reproduction_run`, :func:`train_condition`). The curriculum
is deterministic
(same cell, same seed: same data, same initial weights, same updates), so the retrained network follows the
recorded run when it is trained the same way with the same versions; a solo run and an ensemble member, or
another CPU, round differently and drift apart over many epochs. Its levels are compared with the record's.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from torch import nn

from cbreservoir.experiments.reproduce.conditions import build_condition_model
from cbreservoir.experiments.reproduce.pipeline import read_settings
from cbreservoir.experiments.reproduce.profiles import PROFILES, Profile
from cbreservoir.experiments.reproduce.run import build_curriculum, make_cell
from cbreservoir.experiments.sweep import cell_id, read_result
from cbreservoir.models import build_model
from cbreservoir.training.curriculum import LAST_CHECKPOINT, checkpoint_level, load_checkpoint

__all__ = ["initial_model", "level_checkpoints", "reproduction_run", "train_condition"]


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


def initial_model(condition: str, task: str, *, seed: int) -> nn.Module:
    """The network of a run of ``condition`` at initialisation (the model its curriculum starts from)."""
    return build_condition_model(condition, task, seed=seed)


def profile_arguments(profile: Profile) -> str:
    """The ``reproduce`` options that give ``profile``: ``--profile NAME`` and a ``--set`` per other field."""
    base = PROFILES.get(profile.name, PROFILES["quick"]).settings()
    changed = {key: value for key, value in profile.settings().items() if base[key] != value}
    compact = {key: json.dumps(value, separators=(",", ":")) for key, value in changed.items()}
    sets = [f"--set {shlex.quote(f'{key}={value}')}" for key, value in compact.items()]
    return " ".join([f"--profile {base['name']}", *sets])


def reproduce_command(
    reproduction_dir: Path, task: str, condition: str, *, seed: int, profile: Profile
) -> str:
    """The ``cbreservoir reproduce`` command that adds the run (task, condition, seed) to a reproduction.

    It grows the reproduction's recorded tasks, conditions and seeds (the only settings a directory lets grow,
    the old ones first) and repeats its profile, so the directory accepts it and its finished runs stay.
    """
    recorded = read_settings(reproduction_dir) or {}
    tasks = [*recorded.get("tasks", [])]
    conditions = [*recorded.get("conditions", [])]
    tasks += [task] if task not in tasks else []
    conditions += [condition] if condition not in conditions else []
    n_seeds = max([seed, *recorded.get("seeds", [])]) + 1
    scaling = " --scaling" if recorded.get("granule_sizes") else ""
    return (
        f"cbreservoir reproduce --task {' '.join(tasks)} --conditions {' '.join(conditions)} "
        f"--seeds {n_seeds} {profile_arguments(profile)}{scaling} "
        f"--output-dir {shlex.quote(str(reproduction_dir))}"
    )


def reproduction_run(
    reproduction_dir: Path, task: str, condition: str, *, seed: int, profile: Profile
) -> dict[str, Any]:
    """Where one finished reproduction run keeps (or will keep) its checkpoints, and its recorded levels.

    Parameters
    ----------
    reproduction_dir : Path
        The output directory of ``reproduce``.
    task, condition, seed, profile
        The run (its cell, :func:`~cbreservoir.experiments.reproduce.run.make_cell`).

    Returns
    -------
    dict
        ``directory`` (``reproduction_dir/checkpoints/<cell id>``), ``checkpoints`` (``"kept"`` when the run
        kept them, ``"retrained"`` when :func:`train_condition` must train the run again into ``directory``)
        and ``levels`` (the run record's level at each epoch).

    Raises
    ------
    ValueError
        If the run has no valid record in ``reproduction_dir/runs``; the message names the ``reproduce``
        command that runs it.
    """
    cell = make_cell(task, condition, seed=seed, profile=profile)
    record = read_result(reproduction_dir / "runs", cell)
    if record is None:
        raise ValueError(
            f"expected the finished run {task}/{condition}/seed {seed} (cell {cell_id(cell)}) in "
            f"{str(reproduction_dir)!r}, got none: run it with "
            f"'{reproduce_command(reproduction_dir, task, condition, seed=seed, profile=profile)}', "
            "or analyse a task, condition and seed it ran"
        )
    directory = reproduction_dir / "checkpoints" / cell_id(cell)
    kept = (directory / LAST_CHECKPOINT).is_file()
    return {
        "directory": directory,
        "checkpoints": "kept" if kept else "retrained",
        "levels": record["levels"],
    }


def level_checkpoints(model: nn.Module, checkpoint_dir: Path) -> list[tuple[int, nn.Module]]:
    """The models saved by the curriculum when they passed each level, as ``(level, model)`` pairs."""
    checkpoints = []
    for path in sorted(checkpoint_dir.glob("level_*.pt")):
        level = checkpoint_level(path.name)
        if level is None:
            continue
        snapshot = build_model(**model.config)
        snapshot.load_state_dict(load_checkpoint(path)["trainer"]["model"])
        checkpoints.append((level, snapshot))
    return checkpoints

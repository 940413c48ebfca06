"""The analysis report's entry point, :func:`run_analysis`: train, measure, plot, write ``summary.json``."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from torch import nn

from cbreservoir.experiments.analysis_report.figures import (
    plot_ablation,
    plot_dimensionality,
    plot_learning_curves,
    plot_readout_recovery,
    plot_sparseness,
    plot_timescales,
)
from cbreservoir.experiments.analysis_report.measure import (
    AnalysisSettings,
    analyse_checkpoints,
    analyse_model,
)
from cbreservoir.experiments.analysis_report.train import level_checkpoints, train_condition
from cbreservoir.experiments.reproduce.conditions import check_conditions
from cbreservoir.experiments.reproduce.pipeline import read_settings
from cbreservoir.experiments.reproduce.profiles import Profile, get_profile
from cbreservoir.experiments.reproduce.run import make_cell
from cbreservoir.experiments.sweep import cell_id
from cbreservoir.models import count_parameters
from cbreservoir.utils.files import atomic_write_text
from cbreservoir.utils.strict_json import json_ready
from cbreservoir.utils.threads import torch_threads

__all__ = ["ANALYSIS_TASKS", "DEFAULT_CONDITIONS", "run_analysis"]

#: Tasks the report supports (single-head tasks of the study).
ANALYSIS_TASKS = ("dms", "parity")
#: Conditions analysed by default: CB-RNN trained end to end, and the frozen-core "full reservoir".
DEFAULT_CONDITIONS = ("cbrnn", "full_reservoir")


def _model_to_analyse(
    model: nn.Module, history: Any, checkpoints: Sequence[tuple[int, nn.Module]]
) -> tuple[int, nn.Module, str]:
    """The weights that passed the highest level (or the final model at its level if none passed).

    Returns ``(level, model, description)``.
    """
    if checkpoints:
        level, passed = checkpoints[-1]
        return level, passed, f"weights that passed N = {level}"
    return history.levels[-1], model, "final weights (no level passed)"


def _reproduction_profile(reproduction_dir: Path, profile: str | Profile | None) -> Profile:
    """The profile the reproduction in ``reproduction_dir`` recorded; a given ``profile`` must equal it."""
    stored = read_settings(reproduction_dir)
    if stored is None or not isinstance(stored.get("profile"), dict):
        raise ValueError(
            f"expected a reproduction output directory with a settings record, got {str(reproduction_dir)!r} "
            "(run 'cbreservoir reproduce --keep-checkpoints --output-dir DIR' first)"
        )
    recorded = Profile(**stored["profile"])
    if profile is not None and get_profile(profile) != recorded:
        raise ValueError(
            f"profile must match the reproduction's ({recorded.settings()}), "
            f"got {get_profile(profile).settings()}"
        )
    return recorded


def _reproduction_run_dir(
    reproduction_dir: Path, task: str, condition: str, seed: int, profile: Profile
) -> Path:
    """The kept checkpoints of one finished reproduction run (``reproduce(..., keep_checkpoints=True)``)."""
    run = cell_id(make_cell(task, condition, seed=seed, profile=profile))
    directory = reproduction_dir / "checkpoints" / run
    if not (reproduction_dir / "runs" / f"{run}.json").is_file() or not (directory / "last.pt").is_file():
        raise ValueError(
            f"expected the finished run {task}/{condition}/seed {seed} (cell {run}) with its checkpoints in "
            f"{str(reproduction_dir)!r}, got none (rerun 'cbreservoir reproduce' there with "
            "--keep-checkpoints)"
        )
    return directory


@torch_threads(1)  # one thread, as the sweeps; the caller's thread count is restored
def run_analysis(
    output_dir: str | os.PathLike[str],
    *,
    task: str = "dms",
    profile: str | Profile | None = None,
    seed: int = 0,
    conditions: Sequence[str] = DEFAULT_CONDITIONS,
    settings: AnalysisSettings | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    reproduction_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train (or resume, or take from a reproduction) models; write the analysis figures and ``summary.json``.

    Parameters
    ----------
    output_dir : str or Path
        Where ``summary.json`` and the PNG figures go (created if needed).
    task : {"dms", "parity"}
    profile : str or Profile, optional
        Reproduction profile (:data:`cbreservoir.experiments.reproduce.PROFILES`) for training: epochs, steps
        per epoch, test batches, SGD settings. Default ``"quick"``, or the reproduction's with
        ``reproduction_dir`` (a given profile must then equal it).
    seed : int
        Model initialisation, data and analysis seed.
    conditions : sequence of str
        :data:`cbreservoir.experiments.reproduce.CONDITIONS` names (default CB-RNN and full reservoir).
    settings : AnalysisSettings, optional
        Sizes of the analyses.
    checkpoint_dir : str or Path, optional
        Curriculum checkpoints (default ``output_dir/checkpoints``); training resumes from them.
    reproduction_dir : str or Path, optional
        Analyse the networks of a finished reproduction instead of training new ones: the output directory
        of ``reproduce(..., keep_checkpoints=True)`` (``cbreservoir reproduce --keep-checkpoints``), whose
        runs of ``task``, ``conditions`` and ``seed`` kept their checkpoints. Excludes ``checkpoint_dir``.
    progress : bool
        Show progress bars.

    Returns
    -------
    dict
        The summary written to ``summary.json``: ``task``, ``seed``, ``profile``, ``settings``,
        ``seconds``, ``figures`` and ``models`` (per condition: ``levels``, ``n_parameters``,
        ``checkpoints`` (per passed level: ``full``, ``ablated``, ``dimensionality``), and for the
        weights that passed the highest level (``analysed_model``, ``analysis_level``):
        ``readout_recovery``, ``dimensionality``, ``timescales``, ``granule_sparseness``).
    """
    if task not in ANALYSIS_TASKS:
        raise ValueError(f"task must be one of {ANALYSIS_TASKS}, got {task!r}")
    conditions = check_conditions(conditions)
    if reproduction_dir is not None and checkpoint_dir is not None:
        raise ValueError(
            "expected checkpoint_dir or reproduction_dir, got both "
            f"({checkpoint_dir!r}, {reproduction_dir!r})"
        )
    if reproduction_dir is None:
        profile = get_profile("quick" if profile is None else profile)
        checkpoint_root = (
            Path(checkpoint_dir) if checkpoint_dir is not None else Path(output_dir) / "checkpoints"
        )
        condition_dirs = {c: checkpoint_root / f"{task}-{c}-seed{seed}" for c in conditions}
    else:
        profile = _reproduction_profile(Path(reproduction_dir), profile)
        condition_dirs = {
            c: _reproduction_run_dir(Path(reproduction_dir), task, c, seed, profile) for c in conditions
        }
    settings = settings or AnalysisSettings()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    models = {}
    for condition in conditions:
        condition_dir = condition_dirs[condition]
        model, history = train_condition(
            condition, task, profile=profile, seed=seed, checkpoint_dir=condition_dir, progress=progress
        )
        checkpoints = level_checkpoints(model, condition_dir)
        level, analysed, description = _model_to_analyse(model, history, checkpoints)
        models[condition] = {
            "levels": history.levels,
            "n_parameters": count_parameters(model),
            "checkpoints": analyse_checkpoints(checkpoints, task, settings=settings, seed=seed),
            "analysed_model": description,
            **analyse_model(analysed, task, level=level, settings=settings, seed=seed, progress=progress),
        }
    figures = {
        "learning_curves": plot_learning_curves(models, task, path=output_dir / "learning_curves.png"),
        "ablation": plot_ablation(models, task, path=output_dir / "ablation.png"),
        "readout_recovery": plot_readout_recovery(models, task, path=output_dir / "readout_recovery.png"),
        "dimensionality": plot_dimensionality(models, output_dir / "dimensionality.png"),
        "timescales": plot_timescales(models, output_dir / "timescales.png"),
        "sparseness": plot_sparseness(models, output_dir / "sparseness.png"),
    }
    summary = json_ready(
        {
            "task": task,
            "seed": seed,
            "profile": profile.settings(),
            "reproduction_dir": None if reproduction_dir is None else str(reproduction_dir),
            "settings": asdict(settings),
            "seconds": time.perf_counter() - start,
            "figures": {name: path.name for name, path in figures.items()},
            "models": models,
        }
    )
    atomic_write_text(output_dir / "summary.json", json.dumps(summary, indent=1))
    return summary

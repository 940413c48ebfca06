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
from cbreservoir.experiments.reproduce.profiles import Profile, get_profile
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


@torch_threads(1)  # one thread, as the sweeps; the caller's thread count is restored
def run_analysis(
    output_dir: str | os.PathLike[str],
    *,
    task: str = "dms",
    profile: str | Profile = "quick",
    seed: int = 0,
    conditions: Sequence[str] = DEFAULT_CONDITIONS,
    settings: AnalysisSettings | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train or resume quick-profile models and write the analysis figures and ``summary.json``.

    Parameters
    ----------
    output_dir : str or Path
        Where ``summary.json`` and the PNG figures go (created if needed).
    task : {"dms", "parity"}
    profile : str or Profile
        Reproduction profile (:data:`cbreservoir.experiments.reproduce.PROFILES`) for training: epochs, steps
        per epoch, test batches, SGD settings.
    seed : int
        Model initialisation, data and analysis seed.
    conditions : sequence of str
        :data:`cbreservoir.experiments.reproduce.CONDITIONS` names (default CB-RNN and full reservoir).
    settings : AnalysisSettings, optional
        Sizes of the analyses.
    checkpoint_dir : str or Path, optional
        Curriculum checkpoints (default ``output_dir/checkpoints``); training resumes from them.
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
    profile = get_profile(profile)
    settings = settings or AnalysisSettings()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_root = Path(checkpoint_dir) if checkpoint_dir is not None else output_dir / "checkpoints"
    start = time.perf_counter()
    models = {}
    for condition in conditions:
        condition_dir = checkpoint_root / f"{task}-{condition}-seed{seed}"
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
            "settings": asdict(settings),
            "seconds": time.perf_counter() - start,
            "figures": {name: path.name for name, path in figures.items()},
            "models": models,
        }
    )
    atomic_write_text(output_dir / "summary.json", json.dumps(summary, indent=1))
    return summary

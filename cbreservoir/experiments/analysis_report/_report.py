"""The analysis report's entry point, :func:`run_analysis`: train, measure, plot, write ``summary.json``."""

from __future__ import annotations

import json
import os
import time
import warnings
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
    measure_level,
)
from cbreservoir.experiments.analysis_report.train import (
    initial_model,
    level_checkpoints,
    reproduction_run,
    train_condition,
)
from cbreservoir.experiments.reproduce.conditions import STUDY_TASKS, check_conditions
from cbreservoir.experiments.reproduce.pipeline import read_settings
from cbreservoir.experiments.reproduce.profiles import Profile, get_profile
from cbreservoir.models import count_parameters
from cbreservoir.utils.checks import check_choice
from cbreservoir.utils.files import atomic_write_text
from cbreservoir.utils.strict_json import json_ready
from cbreservoir.utils.threads import torch_threads

__all__ = ["ANALYSIS_TASKS", "DEFAULT_CONDITIONS", "run_analysis"]

#: Tasks the report supports: the curriculum tasks of a reproduction, single-head and two-head (the continual
#: plan, at a fixed level with a task cue, has no levels to analyse against).
ANALYSIS_TASKS = (*STUDY_TASKS, "mod3")
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
            "(run 'cbreservoir reproduce --output-dir DIR' first, or analyse without --runs: networks "
            "trained here)"
        )
    recorded = Profile(**stored["profile"])
    if profile is not None and get_profile(profile) != recorded:
        raise ValueError(
            f"profile must match the reproduction's ({recorded.settings()}), "
            f"got {get_profile(profile).settings()} (leave the profile out: the reproduction's is used)"
        )
    return recorded


def _analysed_row(
    model: nn.Module,
    history: Any,
    checkpoints: Sequence[tuple[int, nn.Module]],
    rows: list[dict],
    *,
    task: str,
    settings: AnalysisSettings,
    seed: int,
) -> tuple[nn.Module, str, dict[str, Any]]:
    """The analysed network, its description and its :func:`measure_level` row (last of ``rows`` or new)."""
    level, analysed, description = _model_to_analyse(model, history, checkpoints)
    if rows and rows[-1]["level"] == level:
        return analysed, description, rows[-1]
    return analysed, description, measure_level(analysed, task, level, settings=settings, seed=seed)


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
    task : str
        One of :data:`ANALYSIS_TASKS`: ``"dms"``, ``"parity"``, ``"multitask"``, ``"switching"``, ``"mod3"``.
    profile : str or Profile, optional
        Reproduction profile (:data:`cbreservoir.experiments.reproduce.PROFILES`) for training: epochs, steps
        per epoch, test batches, SGD settings. Default ``"quick"``, or the reproduction's with
        ``reproduction_dir`` (a given profile must then equal it).
    seed : int
        Model initialisation, data and analysis seed.
    conditions : sequence of str
        :data:`cbreservoir.experiments.reproduce.CONDITIONS` names (default CB-RNN and full reservoir).
    settings : AnalysisSettings, optional
        Sizes of the analyses (default: the study's).
    checkpoint_dir : str or Path, optional
        Curriculum checkpoints (default ``output_dir/checkpoints``); training resumes from them.
    reproduction_dir : str or Path, optional
        Analyse the networks of a finished reproduction instead of training new ones: the output directory
        of ``reproduce`` (``cbreservoir reproduce --output-dir DIR``) holding the runs of ``task``,
        ``conditions`` and ``seed``. Runs that kept their checkpoints (``--keep-checkpoints``) are read;
        the others are trained again here into ``DIR/checkpoints/<cell id>``, where they kept them, with the
        same cell and seed (the curriculum is deterministic: the record's levels are compared, and a warning
        names a run whose levels differ). Excludes ``checkpoint_dir``.
    progress : bool
        Show progress bars.

    Returns
    -------
    dict
        The summary written to ``summary.json``: ``task``, ``seed``, ``profile``, ``settings``,
        ``seconds``, ``figures`` and ``models``, per condition: ``levels``, ``n_parameters``, ``checkpoints``
        (one :func:`~cbreservoir.experiments.analysis_report.measure_level` row per measured level:
        accuracy with the cerebellum on and off, ``dimensionality`` and ``timescales`` per population), and
        for the weights that passed the highest level (``analysed_model``, ``analysis_level``):
        ``dimensionality`` and ``timescales`` (its row's, with ``"core (cerebellum off)"``),
        ``readout_recovery`` and ``granule_sparseness`` (trained and initial); with ``reproduction_dir`` also
        ``checkpoints_source`` (``"kept"`` or ``"retrained"``) and ``levels_match_record``.
    """
    check_choice(task, "task", allowed=ANALYSIS_TASKS)
    conditions = check_conditions(conditions)
    if reproduction_dir is not None and checkpoint_dir is not None:
        raise ValueError(
            "expected checkpoint_dir or reproduction_dir, got both "
            f"({checkpoint_dir!r}, {reproduction_dir!r})"
        )
    runs: dict[str, dict[str, Any]] = {}
    if reproduction_dir is None:
        profile = get_profile("quick" if profile is None else profile)
        checkpoint_root = (
            Path(checkpoint_dir) if checkpoint_dir is not None else Path(output_dir) / "checkpoints"
        )
        condition_dirs = {c: checkpoint_root / f"{task}-{c}-seed{seed}" for c in conditions}
    else:
        profile = _reproduction_profile(Path(reproduction_dir), profile)
        runs = {
            c: reproduction_run(Path(reproduction_dir), task, c, seed=seed, profile=profile)
            for c in conditions
        }
        condition_dirs = {c: run["directory"] for c, run in runs.items()}
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
        source = {}
        if condition in runs:
            matches = [int(level) for level in history.levels] == [
                int(level) for level in runs[condition]["levels"]
            ]
            if not matches:
                warnings.warn(
                    f"the network of {task}/{condition}/seed {seed} in {condition_dir} "
                    f"({len(history.levels)} epochs, N = {history.levels[-1]}) did not follow its run record "
                    f"({len(runs[condition]['levels'])} epochs, N = {runs[condition]['levels'][-1]}): "
                    "analysing the network in the directory",
                    RuntimeWarning,
                    stacklevel=2,
                )
            source = {"checkpoints_source": runs[condition]["checkpoints"], "levels_match_record": matches}
        checkpoints = level_checkpoints(model, condition_dir)
        rows = analyse_checkpoints(checkpoints, task, settings=settings, seed=seed)
        analysed, description, row = _analysed_row(
            model, history, checkpoints, rows, task=task, settings=settings, seed=seed
        )
        extra = analyse_model(
            analysed,
            initial_model(condition, task, seed=seed),
            task,
            level=row["level"],
            settings=settings,
            seed=seed,
            progress=progress,
        )
        core_off = extra.pop("core_without_cerebellum")
        models[condition] = {
            "levels": history.levels,
            "n_parameters": count_parameters(model),
            **source,
            "checkpoints": rows,
            "analysed_model": description,
            "analysis_level": row["level"],
            "dimensionality": {**row["dimensionality"], "core (cerebellum off)": core_off["dimensionality"]},
            "timescales": {**row["timescales"], "core (cerebellum off)": core_off["timescales"]},
            **extra,
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

"""The analysis report: train (or resume) quick-profile models, analyse them, write figures and JSON.

For each condition (by default the end-to-end CB-RNN and the full reservoir, see
:mod:`cbreservoir.experiments.reproduce.conditions`) the model is trained through the curriculum of
:class:`~cbreservoir.training.CurriculumTrainer` with the settings of a reproduction profile. Every
solved level leaves a checkpoint; the report then measures, per checkpoint, the accuracy with the
cerebellum on and off and the dimensionality of each population, and on the weights that passed the
highest level the readout recovery, the timescales of each population under random input and the
granule-layer sparseness.

Outputs in ``output_dir``: ``summary.json`` and the figures ``learning_curves.png``, ``ablation.png``,
``readout_recovery.png``, ``dimensionality.png``, ``timescales.png``, ``sparseness.png``. Training
resumes from ``checkpoint_dir`` (default ``output_dir/checkpoints``), so a second call only analyses.

Examples
--------
>>> from cbreservoir.experiments.analysis_report import run_analysis
>>> summary = run_analysis("analysis-out", task="dms", profile="quick", seed=0)  # doctest: +SKIP
>>> summary["models"]["cbrnn"]["readout_recovery"]["zero_shot_gap"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from cbreservoir.analysis.ablation import ablate_cerebellum, ablation_accuracy, readout_recovery
from cbreservoir.analysis.activity import (
    dimensionality_by_population,
    random_input_activity,
    timescales_by_population,
)
from cbreservoir.analysis.sparseness import activity_ratio, coding_level, treves_rolls_sparseness
from cbreservoir.experiments.reproduce.conditions import CONDITIONS, check_conditions
from cbreservoir.experiments.reproduce.profiles import Profile, get_profile
from cbreservoir.experiments.reproduce.run import build_curriculum, make_cell
from cbreservoir.models import build_model, count_parameters
from cbreservoir.training.curriculum import load_checkpoint
from cbreservoir.utils.strict_json import json_ready
from cbreservoir.utils.threads import torch_threads

#: Tasks the report supports (single-head tasks of the study).
ANALYSIS_TASKS = ("dms", "parity")
#: Conditions analysed by default: CB-RNN trained end to end, and the frozen-core "full reservoir".
DEFAULT_CONDITIONS = ("cbrnn", "full_reservoir")
#: Population order and colours in the figures.
POPULATION_COLORS = {
    "core": "tab:blue",
    "core (cerebellum off)": "tab:cyan",
    "granule": "tab:green",
    "purkinje": "tab:purple",
    "nuclei": "tab:red",
}
#: Bins of the granule sparseness histogram over [0, 1].
SPARSENESS_BINS = 40
_LEVEL_CHECKPOINT = re.compile(r"level_(\d+)\.pt$")


@dataclass(frozen=True)
class AnalysisSettings:
    """Sizes of the analyses (training itself follows the reproduction profile).

    Attributes
    ----------
    test_batches : int
        Test batches of 64 trials per accuracy (ablation, readout recovery).
    recovery_steps : int
        Readout-only training steps with the cerebellum off.
    recovery_optimizer : str
        Optimiser of the readout retraining (``"adam"`` or ``"sgd"``).
    recovery_learning_rate : float
    activity_trials, activity_length, warmup : int
        Random-input trials, their length and the initial steps dropped, for dimensionality,
        timescales and sparseness.
    max_lag : int
        Largest autocorrelation lag (steps).
    fit_units : bool
        Fit every unit's autocorrelation (single vs double exponential), a few seconds per model.
    """

    test_batches: int = 20
    recovery_steps: int = 300
    recovery_optimizer: str = "adam"
    recovery_learning_rate: float = 3e-3
    activity_trials: int = 32
    activity_length: int = 220
    warmup: int = 20
    max_lag: int = 15
    fit_units: bool = True

    def __post_init__(self) -> None:
        for name in ("test_batches", "activity_trials", "activity_length", "max_lag"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"AnalysisSettings.{name} must be a positive int, got {value!r}")
        if (
            isinstance(self.recovery_steps, bool)
            or not isinstance(self.recovery_steps, int)
            or self.recovery_steps < 0
        ):
            raise ValueError(
                f"AnalysisSettings.recovery_steps must be an int >= 0, got {self.recovery_steps!r}"
            )
        steps = self.activity_length - self.warmup
        if not 0 <= self.warmup < self.activity_length or not self.max_lag < steps:
            raise ValueError(
                "AnalysisSettings needs 0 <= warmup < activity_length and "
                f"max_lag < activity_length - warmup, got warmup={self.warmup}, "
                f"activity_length={self.activity_length}, max_lag={self.max_lag}"
            )


# --- training --------------------------------------------------------------------------------------------


def train_condition(
    condition: str, task: str, profile: Profile, seed: int, checkpoint_dir: Path, progress: bool
) -> tuple[nn.Module, Any]:
    """Train (or resume) one condition through the curriculum, exactly as a reproduction run does.

    The curriculum is :func:`cbreservoir.experiments.reproduce.run.build_curriculum` of the run's cell (model,
    schedule, SGD settings and data seed of ``profile``), checkpointing in ``checkpoint_dir``.

    Returns
    -------
    (model, CurriculumHistory)
    """
    curriculum = build_curriculum(make_cell(task, condition, seed, profile), checkpoint_dir)
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


# --- analyses of one model -------------------------------------------------------------------------------


def _random_activity(model: nn.Module, settings: AnalysisSettings, seed: int) -> dict[str, np.ndarray]:
    return random_input_activity(
        model, settings.activity_trials, settings.activity_length, settings.warmup, seed=seed
    )


def _finite_mean(values: np.ndarray) -> float:
    """The mean of the finite entries (non-silent samples or units), NaN when there are none."""
    return float(np.nanmean(values)) if np.isfinite(values).any() else math.nan


def granule_sparseness(granule: np.ndarray) -> dict[str, float]:
    """Normalised Treves–Rolls sparseness S (population and lifetime) and coding level of granule activity.

    Parameters
    ----------
    granule : ndarray (samples, G) or (trials, time, G)

    Returns
    -------
    dict
        ``population_sparseness_mean`` / ``lifetime_sparseness_mean``: the study's S (1 one-hot, 0
        uniform; :func:`~cbreservoir.analysis.treves_rolls_sparseness`), means over non-silent samples /
        units; ``population_activity_ratio_mean`` / ``lifetime_activity_ratio_mean``: the same for the
        activity ratio a (:func:`~cbreservoir.analysis.activity_ratio`); ``silent_sample_fraction``,
        ``silent_unit_fraction``, ``coding_level``, and ``population_histogram`` (of S: ``bin_edges``
        over [0, 1], ``counts`` of non-silent samples).
    """
    samples = granule.reshape(-1, granule.shape[-1])
    population = treves_rolls_sparseness(samples, kind="population")
    lifetime = treves_rolls_sparseness(samples, kind="lifetime")
    counts, edges = np.histogram(population[np.isfinite(population)], bins=SPARSENESS_BINS, range=(0.0, 1.0))
    return {
        "population_sparseness_mean": _finite_mean(population),
        "lifetime_sparseness_mean": _finite_mean(lifetime),
        "population_activity_ratio_mean": _finite_mean(activity_ratio(samples, kind="population")),
        "lifetime_activity_ratio_mean": _finite_mean(activity_ratio(samples, kind="lifetime")),
        "silent_sample_fraction": float(np.mean(~np.isfinite(population))),
        "silent_unit_fraction": float(np.mean(~np.isfinite(lifetime))),
        "coding_level": coding_level(samples),
        "population_histogram": {"bin_edges": edges.tolist(), "counts": counts.tolist()},
    }


def analyse_checkpoints(
    checkpoints: Sequence[tuple[int, nn.Module]], task: str, settings: AnalysisSettings, seed: int
) -> list[dict[str, Any]]:
    """Per checkpoint: accuracy with the cerebellum on and off at its level, dimensionality per population."""
    rows = []
    for level, model in checkpoints:
        (accuracy,) = ablation_accuracy(model, task, [level], n_batches=settings.test_batches, seed=seed)
        dimensionality = dimensionality_by_population(_random_activity(model, settings, seed))
        rows.append({**accuracy, "dimensionality": dimensionality})
    return rows


def analyse_model(
    model: nn.Module, task: str, level: int, settings: AnalysisSettings, seed: int, progress: bool
) -> dict[str, Any]:
    """Readout recovery at ``level``, dimensionality, timescales and granule sparseness of ``model``."""
    recovery = readout_recovery(
        model,
        task,
        level,
        n_steps=settings.recovery_steps,
        n_batches=settings.test_batches,
        eval_every=max(1, settings.recovery_steps // 10),
        seed=seed,
        progress=progress,
        optimizer=settings.recovery_optimizer,
        learning_rate=settings.recovery_learning_rate,
    )
    activity = _random_activity(model, settings, seed)
    with ablate_cerebellum(model):
        activity["core (cerebellum off)"] = _random_activity(model, settings, seed)["core"]
    return {
        "analysis_level": level,
        "readout_recovery": recovery.to_dict(),
        "dimensionality": dimensionality_by_population(activity),
        "timescales": timescales_by_population(activity, settings.max_lag, settings.fit_units),
        "granule_sparseness": granule_sparseness(activity["granule"]) if "granule" in activity else None,
    }


# --- figures ---------------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _label(condition: str) -> str:
    return CONDITIONS[condition].label


def _legend(axis, **options: Any) -> None:
    """Draw the legend when something has a label (a condition without checkpoints plots nothing)."""
    if axis.get_legend_handles_labels()[0]:
        axis.legend(**options)


def _condition_panels(models: dict[str, dict]) -> tuple[Any, list[tuple[Any, str, dict]]]:
    """A figure with one panel per condition, side by side on a shared y axis.

    Returns ``(figure, [(axis, condition, result), ...])``.
    """
    figure, axes = _pyplot().subplots(
        1, len(models), figsize=(5 * len(models), 4), squeeze=False, sharey=True
    )
    return figure, [
        (axis, condition, result) for axis, (condition, result) in zip(axes[0], models.items(), strict=True)
    ]


def _accuracy_axes(axis, **labels: str) -> None:
    """Accuracy in percent: the chance line at 50 %, the y range 0–102 %, and the axis labels."""
    axis.axhline(50, color="grey", lw=0.8, ls=":", label="chance")
    axis.set(ylim=(0, 102), **labels)


def _save(figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    _pyplot().close(figure)
    return path


def plot_learning_curves(models: dict[str, dict], task: str, path: Path) -> Path:
    """Curriculum level N against epoch for each condition."""
    figure, axis = _pyplot().subplots(figsize=(6, 4))
    for condition, result in models.items():
        levels = result["levels"]
        axis.step(np.arange(1, len(levels) + 1), levels, where="post", label=_label(condition))
    axis.set(xlabel="epoch", ylabel="task level N", title=f"Curriculum progress ({task.upper()})")
    _legend(axis)
    return _save(figure, path)


def plot_ablation(models: dict[str, dict], task: str, path: Path) -> Path:
    """Test accuracy at each passed level with the cerebellum on (solid) and off (dashed)."""
    figure, axis = _pyplot().subplots(figsize=(6, 4))
    for index, (condition, result) in enumerate(models.items()):
        rows = result["checkpoints"]
        levels = [row["level"] for row in rows]
        color = f"C{index}"
        axis.plot(
            levels,
            [100 * row["full"] for row in rows],
            "o-",
            color=color,
            label=f"{_label(condition)}: cerebellum on",
        )
        axis.plot(
            levels,
            [100 * row["ablated"] for row in rows],
            "s--",
            color=color,
            label=f"{_label(condition)}: cerebellum off",
        )
    _accuracy_axes(
        axis,
        xlabel="level N of the checkpoint (weights that passed N)",
        ylabel="test accuracy at N (%)",
        title=f"Cerebellar ablation at test time ({task.upper()})",
    )
    _legend(axis, fontsize=8)
    return _save(figure, path)


def plot_readout_recovery(models: dict[str, dict], task: str, path: Path) -> Path:
    """Accuracy of the ablated model while only its readout retrains, against the intact accuracy."""
    figure, axis = _pyplot().subplots(figsize=(6, 4))
    for index, (condition, result) in enumerate(models.items()):
        recovery = result["readout_recovery"]
        steps, accuracy = zip(*recovery["curve"], strict=True)
        color = f"C{index}"
        axis.plot(
            steps,
            100 * np.asarray(accuracy),
            "o-",
            color=color,
            label=f"{_label(condition)}: cerebellum off, readout retrained (N = {recovery['level']})",
        )
        axis.axhline(100 * recovery["intact"], color=color, ls="--", label=f"{_label(condition)}: intact")
    _accuracy_axes(
        axis,
        xlabel="readout-only training steps (batches of 64)",
        ylabel="test accuracy (%)",
        title=f"Readout recovery without the cerebellum ({task.upper()})",
    )
    _legend(axis, fontsize=8, loc="lower right")
    return _save(figure, path)


def plot_dimensionality(models: dict[str, dict], path: Path) -> Path:
    """Participation ratio of each population at each level checkpoint, one panel per condition."""
    figure, panels = _condition_panels(models)
    for axis, condition, result in panels:
        rows = result["checkpoints"]
        levels = [row["level"] for row in rows]
        for population in POPULATION_COLORS:
            if rows and population in rows[0]["dimensionality"]:
                ratios = [row["dimensionality"][population]["participation_ratio"] for row in rows]
                axis.plot(levels, ratios, "o-", color=POPULATION_COLORS[population], label=population)
        axis.set(
            xlabel="level N of the checkpoint",
            ylabel="participation ratio (dimensions)",
            title=f"{_label(condition)}: dimensionality under random input",
        )
        _legend(axis, fontsize=8)
    return _save(figure, path)


def plot_timescales(models: dict[str, dict], path: Path) -> Path:
    """Population autocorrelation under random input, per population, one panel per condition."""
    figure, panels = _condition_panels(models)
    for axis, condition, result in panels:
        for population, entry in result["timescales"].items():
            if entry.get("silent"):
                continue
            lag = entry["lag_below_1_over_e_interpolated"]
            axis.plot(
                entry["autocorrelation"],
                "o-",
                markersize=3,
                color=POPULATION_COLORS.get(population),
                label=f"{population} (1/e at {lag:.2f} steps)",
            )
        axis.axhline(1 / math.e, color="grey", ls=":", lw=0.8, label="1/e")
        axis.set(
            xlabel="lag (time steps)",
            ylabel="mean autocorrelation",
            title=f"{_label(condition)}: timescales under random bits",
        )
        _legend(axis, fontsize=8)
    return _save(figure, path)


def plot_sparseness(models: dict[str, dict], path: Path) -> Path:
    """Histogram of the granule layer's population sparseness S per condition."""
    figure, axis = _pyplot().subplots(figsize=(6, 4))
    largest = 0.0
    for condition, result in models.items():
        sparseness = result["granule_sparseness"]
        if sparseness is None:
            continue
        counts, edges = (
            np.asarray(sparseness["population_histogram"][key]) for key in ("counts", "bin_edges")
        )
        axis.stairs(
            counts,
            edges,
            fill=True,
            alpha=0.5,
            label=f"{_label(condition)}: coding level {sparseness['coding_level']:.2f}, "
            f"lifetime S {sparseness['lifetime_sparseness_mean']:.2f}",
        )
        if counts.any():
            largest = max(largest, edges[np.flatnonzero(counts)[-1] + 1])
    axis.set(
        xlabel="population Treves–Rolls sparseness S = (1 − a) / (1 − 1/G), a = <r>² / <r²>\n"
        "across granule units (1 for a one-hot code, 0 for a uniform code)",
        ylabel="number of samples (trial × time step)",
        title="Granule-layer sparseness under random input",
        xlim=(0, min(1.0, largest + 0.1)),
    )
    _legend(axis, fontsize=8, loc="upper left")
    return _save(figure, path)


# --- the report ------------------------------------------------------------------------------------------


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
        model, history = train_condition(condition, task, profile, seed, condition_dir, progress)
        checkpoints = level_checkpoints(model, condition_dir)
        level, analysed, description = _model_to_analyse(model, history, checkpoints)
        models[condition] = {
            "levels": history.levels,
            "n_parameters": count_parameters(model),
            "checkpoints": analyse_checkpoints(checkpoints, task, settings, seed),
            "analysed_model": description,
            **analyse_model(analysed, task, level, settings, seed, progress),
        }
    figures = {
        "learning_curves": plot_learning_curves(models, task, output_dir / "learning_curves.png"),
        "ablation": plot_ablation(models, task, output_dir / "ablation.png"),
        "readout_recovery": plot_readout_recovery(models, task, output_dir / "readout_recovery.png"),
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
    (output_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary

"""Figures of the analysis report (matplotlib, Agg backend): one function per figure, returning its path."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from cbreservoir.experiments.reproduce.conditions import CONDITIONS

__all__ = [
    "POPULATION_COLORS",
    "plot_ablation",
    "plot_dimensionality",
    "plot_learning_curves",
    "plot_readout_recovery",
    "plot_sparseness",
    "plot_timescales",
]

#: Population order and colours in the figures.
POPULATION_COLORS = {
    "core": "tab:blue",
    "core (cerebellum off)": "tab:cyan",
    "granule": "tab:green",
    "purkinje": "tab:purple",
    "nuclei": "tab:red",
}


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


def plot_learning_curves(models: dict[str, dict], task: str, *, path: Path) -> Path:
    """Curriculum level N against epoch for each condition."""
    figure, axis = _pyplot().subplots(figsize=(6, 4))
    for condition, result in models.items():
        levels = result["levels"]
        axis.step(np.arange(1, len(levels) + 1), levels, where="post", label=_label(condition))
    axis.set(xlabel="epoch", ylabel="task level N", title=f"Curriculum progress ({task.upper()})")
    _legend(axis)
    return _save(figure, path)


def plot_ablation(models: dict[str, dict], task: str, *, path: Path) -> Path:
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


def plot_readout_recovery(models: dict[str, dict], task: str, *, path: Path) -> Path:
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

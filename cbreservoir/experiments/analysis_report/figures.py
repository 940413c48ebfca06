"""Figures of the analysis report (matplotlib, Agg backend): one function per figure, returning its path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cbreservoir.experiments.reproduce.conditions import CONDITIONS

__all__ = [
    "LEVEL_MEASURES",
    "POPULATION_COLORS",
    "plot_ablation",
    "plot_against_level",
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


def _against_level(models: dict[str, dict], path: Path, panels: dict[str, str], measures: dict) -> Path:
    """One row of panels per measure, one column per condition: a measure of each population against N.

    ``panels`` maps a measure key to its y label; ``measures`` maps it to ``(row -> {population: value})``.
    """
    plt = _pyplot()
    figure, axes = plt.subplots(
        len(panels), len(models), figsize=(5 * len(models), 3.5 * len(panels)), squeeze=False, sharex="col"
    )
    for column, (condition, result) in enumerate(models.items()):
        rows = result["checkpoints"]
        levels = [row["level"] for row in rows]
        for line, (key, ylabel) in enumerate(panels.items()):
            axis = axes[line][column]
            values = [measures[key](row) for row in rows]
            for population, color in POPULATION_COLORS.items():
                if values and population in values[0]:
                    series = [np.nan if value[population] is None else value[population] for value in values]
                    axis.plot(levels, series, "o-", color=color, label=population)
            axis.set(ylabel=ylabel, title=_label(condition))
            _legend(axis, fontsize=8)
        axes[-1][column].set_xlabel("level N of the checkpoint (weights that passed N)")
    return _save(figure, path)


def _dimension(key: str):
    return lambda row: {population: entry[key] for population, entry in row["dimensionality"].items()}


def _timescale(key: str):
    return lambda row: {population: entry.get(key) for population, entry in row["timescales"].items()}


def plot_dimensionality(models: dict[str, dict], path: Path) -> Path:
    """Participation ratio and d95 / units of each population on task batches at each level checkpoint."""
    return _against_level(
        models,
        path,
        {"participation_ratio": "participation ratio (Σλ)² / Σλ²", "d95_per_unit": "d95 / units"},
        {key: _dimension(key) for key in ("participation_ratio", "d95_per_unit")},
    )


def plot_timescales(models: dict[str, dict], path: Path) -> Path:
    """τ_pop (1/e lag of the summed population) and the median unit τ_net of each population against N."""
    return _against_level(
        models,
        path,
        {
            "population_timescale": "τ_pop: 1/e lag of the summed\npopulation under random bits (steps)",
            "median_unit_timescale": "median unit τ_net (steps)",
        },
        {key: _timescale(key) for key in ("population_timescale", "median_unit_timescale")},
    )


def plot_sparseness(models: dict[str, dict], path: Path) -> Path:
    """Histogram of the granule layer's population sparseness S per condition, trained and initial."""
    figure, axis = _pyplot().subplots(figsize=(6, 4))
    for index, (condition, result) in enumerate(models.items()):
        sparseness = result["granule_sparseness"]
        if sparseness is None:
            continue
        for state, style in (("trained", {"fill": True, "alpha": 0.5}), ("initial", {"ls": "--", "lw": 1.5})):
            entry = sparseness[state]
            counts, edges = (
                np.asarray(entry["population_histogram"][key]) for key in ("counts", "bin_edges")
            )
            axis.stairs(
                counts,
                edges,
                color=f"C{index}",
                label=f"{_label(condition)}, {state}: S {entry['population_sparseness_mean']:.2f}, "
                f"coding level {entry['coding_level']:.2f}",
                **style,
            )
    axis.set(
        xlabel="population Treves–Rolls sparseness S = (1 − a) / (1 − 1/G), a = <r>² / <r²>\n"
        "across granule units (1 for a one-hot code, 0 for a uniform code)",
        ylabel="number of samples (trial × time step)",
        title="Granule-layer sparseness on task batches: trained vs initial",
        xlim=(0, 1),
    )
    _legend(axis, fontsize=7, loc="upper left")
    return _save(figure, path)


#: The per-level measures of :func:`plot_against_level`: (label, section of a checkpoint entry, key).
LEVEL_MEASURES: tuple[tuple[str, str, str], ...] = (
    ("τ_pop (steps)", "timescales", "population_timescale"),
    ("median unit τ_net (steps)", "timescales", "median_unit_timescale"),
    ("participation ratio", "dimensionality", "participation_ratio"),
    ("d95 / units", "dimensionality", "d95_per_unit"),
)


def _level_values(summaries: list[dict], condition: str, section: str, population: str, key: str) -> dict:
    """Level N -> the values of one measure over the networks whose checkpoint passed N (None left out)."""
    values: dict[int, list[float]] = {}
    for summary in summaries:
        for entry in summary["models"].get(condition, {}).get("checkpoints", []):
            value = (entry.get(section, {}).get(population) or {}).get(key)
            if value is not None:
                values.setdefault(int(entry["level"]), []).append(float(value))
    return dict(sorted(values.items()))


def plot_against_level(summaries: list[dict], path: str | Path, *, populations=("core", "granule")) -> Path:
    """Timescales and dimensionality against the level N, pooled over networks (mean ± SEM per level), one
    line per condition, one column per population (the core and the cerebellum's granule layer).

    Parameters
    ----------
    summaries : list of dict
        The per-network analysis summaries (``summary.json`` of each seed).
    path : str or Path
        PNG file to write.
    populations : tuple of str
        Columns.

    Returns
    -------
    Path
    """
    plt = _pyplot()
    figure, axes = plt.subplots(
        len(LEVEL_MEASURES), len(populations), figsize=(4.5 * len(populations), 2.6 * len(LEVEL_MEASURES)),
        sharex=True, squeeze=False,
    )  # fmt: skip
    conditions = [c for c in CONDITIONS if any(c in summary["models"] for summary in summaries)]
    for row, (label, section, key) in enumerate(LEVEL_MEASURES):
        for column, population in enumerate(populations):
            panel = axes[row][column]
            for condition in conditions:
                per_level = _level_values(summaries, condition, section, population, key)
                if not per_level:
                    continue
                levels = np.array(list(per_level))
                means = np.array([np.mean(v) for v in per_level.values()])
                sems = np.array([np.std(v, ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0.0
                                 for v in per_level.values()])  # fmt: skip
                (line,) = panel.plot(levels, means, marker="o", label=CONDITIONS[condition].label)
                panel.fill_between(levels, means - sems, means + sems, color=line.get_color(), alpha=0.25)
            panel.set_title(f"{population}: {label}", fontsize=9)
            if row == len(LEVEL_MEASURES) - 1:
                panel.set_xlabel("level N of the checkpoint")
    axes[0][0].legend(frameon=False, fontsize=8)
    figure.suptitle(f"against N, mean ± SEM over {len(summaries)} networks", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)

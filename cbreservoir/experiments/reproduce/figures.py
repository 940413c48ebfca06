"""Figures of a reproduction: N(e) learning curves with mean ± SEM bands, and the granule scaling panel."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cbreservoir.experiments.reproduce.conditions import CONDITIONS
from cbreservoir.experiments.reproduce.summary import record_units
from cbreservoir.numerics.study import STUDY

__all__ = ["plot_continual", "plot_learning_curves", "plot_scaling"]

#: Line styles that keep coinciding curves visible (interleaved follows full reservoir until a refresh).
_LINE_STYLES: dict[str, dict] = {
    "full_reservoir": {"linewidth": 3.5, "alpha": 0.55},
    "interleaved": {"linestyle": "--", "linewidth": 1.2},
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _mean_and_sem(curves: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SEM over runs of equally long curves, shape (runs, epochs) -> two (epochs,) arrays."""
    stacked = np.asarray(curves, dtype=float)
    sem = (
        stacked.std(axis=0, ddof=1) / np.sqrt(len(stacked))
        if len(stacked) > 1
        else np.zeros(stacked.shape[1])
    )
    return stacked.mean(axis=0), sem


def _plot_band(axes: object, condition: str, curves: Sequence[Sequence[float]]) -> None:
    """One condition's per-epoch mean with a ± SEM band over its runs (``curves``: runs × epochs)."""
    mean, sem = _mean_and_sem(curves)
    epochs = np.arange(1, len(mean) + 1)
    label = f"{CONDITIONS[condition].label} (n={len(curves)})"
    # interleaved equals full reservoir until its first refresh: a thick line under a thin dashed one
    (line,) = axes.plot(epochs, mean, label=label, **_LINE_STYLES.get(condition, {}))
    axes.fill_between(epochs, mean - sem, mean + sem, color=line.get_color(), alpha=0.25, linewidth=0)


def plot_learning_curves(
    task: str, runs: Sequence[dict], *, path: str | os.PathLike, half_max: float | None = None
) -> Path:
    """Plot the curriculum level N against epoch, mean ± SEM band per condition (G = 256 runs only).

    Parameters
    ----------
    task : str
        Task name (title).
    runs : sequence of dict
        Per-run results with ``condition``, ``n_granule`` and ``levels`` (one level per epoch).
    path : path
        PNG file to write.
    half_max : float, optional
        Draw the half-of-global-max line the speed metric uses.

    Returns
    -------
    Path
        ``path``.
    """
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6.0, 4.0))
    for condition in CONDITIONS:
        main = [run for run in runs if run["n_granule"] == STUDY.n_granule]
        curves = [run["levels"] for run in main if run["condition"] == condition]
        if not curves:
            continue
        _plot_band(axes, condition, curves)
    if half_max is not None:
        axes.axhline(half_max, color="grey", linestyle=":", linewidth=1, label="half of global max N")
    axes.set(xlabel="epoch", ylabel="curriculum level N", title=f"{task}: N(e), mean ± SEM")
    axes.legend(frameon=False, fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return Path(path)


def plot_scaling(task: str, rows: Sequence[dict], *, path: str | os.PathLike) -> Path:
    """Plot epochs to half of the global max N against parameter count, CB-RNN(G) vs matched RNN-only.

    Parameters
    ----------
    task : str
        Task name (title).
    rows : sequence of dict
        Summary rows (:func:`cbreservoir.experiments.reproduce.summary.summarize_task`) of the ``"cbrnn"`` and
        ``"rnn"`` conditions, one per granule size G.
    path : path
        PNG file to write.

    Returns
    -------
    Path
        ``path``.
    """
    plt = _pyplot()
    figure, panels = plt.subplots(1, 2, figsize=(9.0, 4.0))
    for axes, metric, ylabel in zip(
        panels,
        ("epochs_to_half_max", "max_level"),
        ("epochs to half of global max N", "max N"),
        strict=True,
    ):
        for condition, marker in (("cbrnn", "o"), ("rnn", "s")):
            points = sorted(
                (row for row in rows if row["condition"] == condition), key=lambda row: row["n_parameters"]
            )
            if not points:
                continue
            x = [row["n_parameters"] for row in points]
            y = [row[metric]["mean"] for row in points]
            errors = [row[metric]["sem"] if row[metric]["n"] > 1 else 0.0 for row in points]
            axes.errorbar(x, y, yerr=errors, marker=marker, capsize=3, label=CONDITIONS[condition].label)
            for row, x_value, y_value in zip(points, x, y, strict=True):
                axes.annotate(
                    f"G={row['n_granule']}" if condition == "cbrnn" else f"H={record_units(row)}",
                    (x_value, y_value),
                    fontsize=7,
                    xytext=(3, 3),
                    textcoords="offset points",
                )
        axes.set(xscale="log", xlabel="trainable parameters", ylabel=ylabel)
        axes.legend(frameon=False, fontsize=8)
    figure.suptitle(f"{task}: granule scaling vs matched RNN-only (mean ± SEM over networks)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return Path(path)


def plot_continual(runs: Sequence[dict], *, path: str | os.PathLike) -> Path:
    """Plot the continual plan: active- and inactive-task test accuracy per epoch, mean ± SEM per condition.

    Parameters
    ----------
    runs : sequence of dict
        Continual run records (``condition``, ``continual``, ``history``).
    path : path
        PNG file to write.

    Returns
    -------
    Path
        ``path``.
    """
    plt = _pyplot()
    figure, panels = plt.subplots(1, 2, figsize=(10.0, 4.0), sharey=True)
    phase_epochs = runs[0]["continual"]["phase_epochs"] if runs else 0
    for condition in CONDITIONS:
        group = [run for run in runs if run["condition"] == condition]
        if not group:
            continue
        for axes, inactive in zip(panels, (False, True), strict=True):
            curves = [
                [r["head_accuracies"][1 - r["active_head"] if inactive else r["active_head"]]
                 for r in run["history"]["records"]]
                for run in group
            ]  # fmt: skip
            _plot_band(axes, condition, curves)
    for axes, title in zip(panels, ("active task (the phase's)", "inactive task (forgetting)"), strict=True):
        for boundary in (phase_epochs + 0.5, 2 * phase_epochs + 0.5):
            axes.axvline(boundary, color="grey", linestyle=":", linewidth=1)
        axes.axhline(0.5, color="grey", linewidth=0.5)
        axes.set(xlabel="epoch (DMS | parity | DMS)", title=title)
    panels[0].set_ylabel("test accuracy")
    panels[0].legend(frameon=False, fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return Path(path)

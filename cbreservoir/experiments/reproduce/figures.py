"""Figures of a reproduction: N(e) learning curves with mean ± SEM bands, and the granule scaling panel."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cbreservoir.experiments.reproduce.conditions import CONDITIONS
from cbreservoir.experiments.reproduce.summary import record_units

__all__ = ["plot_learning_curves", "plot_scaling"]


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
        curves = [run["levels"] for run in runs if run["condition"] == condition and run["n_granule"] == 256]
        if not curves:
            continue
        mean, sem = _mean_and_sem(curves)
        epochs = np.arange(1, len(mean) + 1)
        style = "--" if condition == "interleaved" else "-"  # often on top of full reservoir
        (line,) = axes.plot(epochs, mean, style, label=f"{CONDITIONS[condition].label} (n={len(curves)})")
        axes.fill_between(epochs, mean - sem, mean + sem, color=line.get_color(), alpha=0.25, linewidth=0)
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
    figure, axes = plt.subplots(figsize=(5.0, 4.0))
    for condition, marker in (("cbrnn", "o"), ("rnn", "s")):
        points = sorted(
            (row for row in rows if row["condition"] == condition), key=lambda row: row["n_parameters"]
        )
        if not points:
            continue
        x = [row["n_parameters"] for row in points]
        y = [row["epochs_to_half_max"]["mean"] for row in points]
        errors = [
            row["epochs_to_half_max"]["sem"] if row["epochs_to_half_max"]["n"] > 1 else 0.0 for row in points
        ]
        axes.errorbar(x, y, yerr=errors, marker=marker, capsize=3, label=CONDITIONS[condition].label)
        for row, x_value, y_value in zip(points, x, y, strict=True):
            axes.annotate(
                f"G={row['n_granule']}" if condition == "cbrnn" else f"H={record_units(row)}",
                (x_value, y_value),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    axes.set(xscale="log", xlabel="trainable parameters", ylabel="epochs to half of global max N")
    axes.set_title(f"{task}: granule scaling vs matched RNN-only")
    axes.legend(frameon=False, fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return Path(path)

"""Robustness to noise of a reproduction's networks: accuracy-vs-noise curves at a fixed N, cerebellum on/off.

:func:`run_noise` reads the finished runs of a reproduction made with ``--keep-checkpoints`` (their records in
``runs/`` and final weights in ``checkpoints/<run>/last.pt``), tests every network of each condition at one
level N under each kind of noise (:func:`cbreservoir.analysis.noise.noise_accuracy`), pools the networks
(:func:`~cbreservoir.analysis.noise.noise_curves`: mean and 95 % t-interval) and writes ``summary.json``,
``summary.md`` and ``noise_<task>.png``. Command line: ``cbreservoir noise --runs DIR``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cbreservoir.experiments.reproduce.conditions import build_condition_model, check_conditions
from cbreservoir.experiments.reproduce.pipeline import read_settings
from cbreservoir.experiments.reproduce.profiles import Profile
from cbreservoir.experiments.reproduce.run import make_cell
from cbreservoir.experiments.sweep import cell_id, read_result
from cbreservoir.numerics.study import STUDY
from cbreservoir.utils.files import atomic_write_text
from cbreservoir.utils.strict_json import json_ready
from cbreservoir.utils.threads import torch_threads

__all__ = ["NOISE_LEVELS", "NOISE_CONDITIONS", "run_noise"]

#: Conditions compared by default: CB-RNN, full reservoir and RNN-only.
NOISE_CONDITIONS = ("cbrnn", "full_reservoir", "rnn")

#: Noise levels tested per kind by default (flip probabilities; standard deviations, in units of the
#: state and of the cerebellar output, whose entries are of order 0.1-1 in trained networks).
NOISE_LEVELS: dict[str, tuple[float, ...]] = {
    "input_flip": (0.0, 0.01, 0.02, 0.05, 0.1, 0.2),
    "state": (0.0, 0.01, 0.03, 0.1, 0.3, 1.0),
    "cerebellum": (0.0, 0.01, 0.03, 0.1, 0.3, 1.0),
}


def _networks(directory: Path, task: str, condition: str, profile: Profile, seeds: Sequence[int]) -> list:
    """``(seed, record, model with its final weights)`` of each finished run of ``condition`` kept.

    Raises
    ------
    ValueError
        No such run.
    """
    from cbreservoir.training.curriculum import LAST_CHECKPOINT, load_checkpoint

    networks = []
    for seed in seeds:
        cell = make_cell(task, condition, seed=seed, profile=profile)
        record = read_result(directory / "runs", cell)
        checkpoint = directory / "checkpoints" / cell_id(cell) / LAST_CHECKPOINT
        if record is None or not checkpoint.is_file():
            continue
        model = build_condition_model(condition, task, n_granule=cell["n_granule"], seed=seed)
        model.load_state_dict(load_checkpoint(checkpoint)["trainer"]["model"])
        networks.append((seed, record, model.eval()))
    if not networks:
        raise ValueError(
            f"expected finished {task}/{condition} runs with their checkpoints in {str(directory)!r}, got "
            "none (run 'cbreservoir reproduce --keep-checkpoints --output-dir DIR' there)"
        )
    return networks


def _passed_level(record: Mapping[str, Any]) -> int:
    """The highest level a run passed (its start level if it passed none)."""
    passed = [entry["level"] for entry in record["history"]["records"] if entry["solved"]]
    return max(passed, default=record["history"]["records"][0]["level"])


@torch_threads(1)
def run_noise(
    reproduction_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    *,
    task: str = "dms",
    conditions: Sequence[str] = NOISE_CONDITIONS,
    level: int | None = None,
    noise_levels: Mapping[str, Sequence[float]] | None = None,
    n_batches: int = 20,
    batch_size: int = STUDY.batch_size,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Accuracy-vs-noise curves of a reproduction's networks; writes the summary and the figure.

    Parameters
    ----------
    reproduction_dir : path
        A ``cbreservoir reproduce --keep-checkpoints`` output directory.
    output_dir : path
        Where ``summary.json``, ``summary.md`` and ``noise_<task>.png`` go.
    task : str
        A single-head task the reproduction ran (``"dms"``, ``"parity"``, ``"mod3"``).
    conditions : sequence of str
        Conditions to compare (every finished run of each with kept checkpoints is one network).
    level : int, optional
        The fixed N; default the highest level that every network passed.
    noise_levels : mapping kind -> levels, optional
        Default :data:`NOISE_LEVELS`.
    n_batches, batch_size, seed
        As for :func:`~cbreservoir.analysis.noise.noise_accuracy`.
    progress : bool
        Print one line per network.

    Returns
    -------
    dict
        ``task``, ``level``, ``noise_levels``, ``networks`` (condition -> seeds), ``curves`` (condition ->
        kind -> :func:`~cbreservoir.analysis.noise.noise_curves`), ``per_network`` (condition -> seed ->
        kind -> rows) and the test settings.

    Raises
    ------
    ValueError
        Not a reproduction directory, an unknown condition, or a condition without finished runs.
    """
    from cbreservoir.analysis.noise import noise_accuracy, noise_curves

    directory = Path(reproduction_dir)
    settings = read_settings(directory)
    if settings is None:
        raise ValueError(
            f"expected a reproduction output directory, got {str(directory)!r} (no settings.json)"
        )
    profile = Profile(**settings["profile"])
    conditions = check_conditions(conditions)
    levels = {
        kind: [float(value) for value in values] for kind, values in (noise_levels or NOISE_LEVELS).items()
    }
    found = {
        condition: _networks(directory, task, condition, profile, settings["seeds"])
        for condition in conditions
    }
    if level is None:
        level = min(_passed_level(record) for networks in found.values() for _, record, _ in networks)
    per_network: dict[str, dict[int, dict]] = {}
    for condition, networks in found.items():
        per_network[condition] = {}
        for network_seed, _, model in networks:
            per_network[condition][network_seed] = {
                kind: noise_accuracy(
                    model,
                    task,
                    level=level,
                    kind=kind,
                    noise_levels=values,
                    n_batches=n_batches,
                    batch_size=batch_size,
                    seed=seed,
                )  # fmt: skip
                for kind, values in levels.items()
            }
            if progress:
                print(f"noise: {task} {condition} seed {network_seed} at N = {level} done", flush=True)
    curves = {
        condition: {kind: noise_curves([rows[kind] for rows in seeds.values()]) for kind in levels}
        for condition, seeds in per_network.items()
    }
    result = {
        "task": task,
        "level": level,
        "reproduction_dir": str(directory),
        "profile": profile.settings(),
        "noise_levels": levels,
        "test": {"n_batches": n_batches, "batch_size": batch_size, "seed": seed},
        "networks": {condition: list(seeds) for condition, seeds in per_network.items()},
        "curves": curves,
        "per_network": {
            condition: {str(s): rows for s, rows in seeds.items()} for condition, seeds in per_network.items()
        },
    }
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output / "summary.json", json.dumps(json_ready(result), indent=1) + "\n")
    atomic_write_text(output / "summary.md", markdown_noise(result))
    plot_noise(result, output / f"noise_{task}.png")
    return result


def markdown_noise(result: Mapping[str, Any]) -> str:
    """One table per noise kind: mean test accuracy [95 % interval over networks], cerebellum on and off."""
    from cbreservoir.experiments.reproduce.conditions import CONDITIONS

    lines = [
        f"# Robustness to noise: {result['task']} at N = {result['level']}",
        "",
        f"Networks: {', '.join(f'{CONDITIONS[c].label} {len(s)}' for c, s in result['networks'].items())} "
        f"(final weights of {result['reproduction_dir']}); {result['test']['n_batches']} test batches of "
        f"{result['test']['batch_size']} per point; mean accuracy [95 % t-interval over networks]; "
        "'off': the cerebellum switched off at test time.",
    ]
    for kind, levels in result["noise_levels"].items():
        columns = []
        for condition, kinds in result["curves"].items():
            columns.append((CONDITIONS[condition].label, kinds[kind]["intact"]))
            if kinds[kind]["ablated"] is not None:
                columns.append((f"{CONDITIONS[condition].label}, off", kinds[kind]["ablated"]))
        lines += ["", f"## {kind}", "", "| level | " + " | ".join(name for name, _ in columns) + " |"]
        lines.append("| --- " * (len(columns) + 1) + "|")
        for index, value in enumerate(levels):
            cells = [
                f"{c['mean'][index]:.3f} [{c['low'][index]:.3f}, {c['high'][index]:.3f}]" for _, c in columns
            ]
            lines.append(f"| {value:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_noise(result: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """One panel per noise kind: accuracy against noise level per condition (dashed: cerebellum off)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from cbreservoir.experiments.reproduce.conditions import CONDITIONS

    kinds = list(result["noise_levels"])
    figure, axes = plt.subplots(1, len(kinds), figsize=(4.5 * len(kinds), 3.6), squeeze=False)
    for axis, kind in zip(axes[0], kinds, strict=True):
        positions = range(len(result["noise_levels"][kind]))
        for index, (condition, curves) in enumerate(result["curves"].items()):
            color = f"C{index}"
            for key, style, suffix in (("intact", "-", ""), ("ablated", "--", ", off")):
                curve = curves[kind][key]
                if curve is None:
                    continue
                axis.plot(
                    positions, curve["mean"], style, color=color, label=CONDITIONS[condition].label + suffix
                )
                axis.fill_between(positions, curve["low"], curve["high"], color=color, alpha=0.15)
        axis.set_xticks(list(positions), [f"{value:g}" for value in result["noise_levels"][kind]])
        axis.set_xlabel(f"{kind} noise level")
        axis.set_ylabel("test accuracy")
        axis.set_title(f"{result['task']}, N = {result['level']}")
    axes[0][0].legend(fontsize="small")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path

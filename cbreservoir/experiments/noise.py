"""Robustness to noise of a reproduction's networks: accuracy-vs-noise curves at a fixed N, cerebellum on/off.

:func:`run_noise` reads the finished runs of a reproduction made with ``--keep-checkpoints`` (their records in
``runs/`` and, in ``checkpoints/<run>/``, the weights with which each run passed each level), tests every
network of each condition at one level N, with the weights that passed N, under each kind of noise
(:func:`cbreservoir.analysis.noise.noise_accuracy`), pools the networks
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
from cbreservoir.utils.checks import check_int
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
    """``(seed, record, checkpoint directory)`` of each finished run of ``condition`` with kept checkpoints.

    Raises
    ------
    ValueError
        No such run.
    """
    from cbreservoir.training.curriculum import LAST_CHECKPOINT

    networks = []
    for seed in seeds:
        cell = make_cell(task, condition, seed=seed, profile=profile)
        record = read_result(directory / "runs", cell)
        checkpoints = directory / "checkpoints" / cell_id(cell)
        if record is None or not (checkpoints / LAST_CHECKPOINT).is_file():
            continue
        networks.append((seed, record, checkpoints))
    if not networks:
        raise ValueError(
            f"expected finished {task}/{condition} runs with their checkpoints in {str(directory)!r}, got "
            "none (run 'cbreservoir reproduce --keep-checkpoints --output-dir DIR' there)"
        )
    return networks


def _passed_level(record: Mapping[str, Any]) -> int | None:
    """The highest level a run passed (None if it passed none)."""
    return max((entry["level"] for entry in record["history"]["records"] if entry["solved"]), default=None)


def _passed_models(task: str, condition: str, networks: Sequence, level: int) -> list:
    """``(seed, model with the weights that passed level)`` of each network.

    Raises
    ------
    ValueError
        A network did not pass ``level`` (checked for all before any is loaded).
    """
    from cbreservoir.training.curriculum import level_checkpoint, load_checkpoint

    for seed, record, checkpoints in networks:
        if not (checkpoints / level_checkpoint(level)).is_file():
            raise ValueError(
                f"expected every network to have passed N = {level}, got {task}/{condition} seed {seed}, "
                f"which passed up to N = {_passed_level(record)} (choose --level at most the lowest)"
            )
    models = []
    for seed, record, checkpoints in networks:
        model = build_condition_model(condition, task, n_granule=record["n_granule"], seed=seed)
        model.load_state_dict(load_checkpoint(checkpoints / level_checkpoint(level))["trainer"]["model"])
        models.append((seed, model.eval()))
    return models


@torch_threads(1)
def run_noise(
    reproduction_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    *,
    task: str = "dms",
    conditions: Sequence[str] = NOISE_CONDITIONS,
    seeds: Sequence[int] | None = None,
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
    seeds : sequence of int, optional
        The networks' seeds (default: every seed of the reproduction); runs without kept checkpoints are
        left out.
    level : int, optional
        The fixed N; every network is tested with the weights with which it passed N (a network trained on
        past N solves another task: DMS and parity at N read the bit N − 1 steps back, or the last N bits).
        Default: the highest level that every network passed.
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
        Not a reproduction directory, an unknown condition, a negative seed, a condition without finished
        runs, or a network that did not pass ``level`` (or, by default, one that passed no level).
    TypeError
        A seed that is not an int.
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
    seeds = settings["seeds"] if seeds is None else [check_int(seed, "seed", minimum=0) for seed in seeds]
    levels = {
        kind: [float(value) for value in values] for kind, values in (noise_levels or NOISE_LEVELS).items()
    }
    found = {condition: _networks(directory, task, condition, profile, seeds) for condition in conditions}
    if level is None:
        passed = [_passed_level(record) for networks in found.values() for _, record, _ in networks]
        if None in passed:
            raise ValueError("expected every network to have passed a level, got one that passed none")
        level = min(passed)
    models = {
        condition: _passed_models(task, condition, networks, level) for condition, networks in found.items()
    }
    per_network: dict[str, dict[int, dict]] = {}
    for condition, networks in models.items():
        per_network[condition] = {}
        for network_seed, model in networks:
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
        f"(each with the weights with which it passed N = {result['level']}, from "
        f"{result['reproduction_dir']}); {result['test']['n_batches']} test batches of "
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

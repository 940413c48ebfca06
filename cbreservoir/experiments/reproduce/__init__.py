"""Reproduce the CB-RNN study: conditions x tasks x seeds as a resumable sweep, then tables and figures.

Examples
--------
>>> from cbreservoir.experiments.reproduce import reproduce
>>> report = reproduce(["dms", "parity"], profile="quick", output_dir="repro")  # doctest: +SKIP
>>> print(open("repro/summary.md").read())  # doctest: +SKIP

Each run is one cell of :func:`cbreservoir.experiments.sweep.run_sweep` (``<output_dir>/runs/<cell id>.json``), so an
interrupted reproduction resumes where it stopped; ``backend="dask", scheduler="tcp://HOST:PORT"``
runs it on a dask cluster. :func:`run_config_sweep` runs the same from a config dict or file (the
``cbreservoir sweep CONFIG`` command).
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from cbreservoir.experiments.reproduce.conditions import (
    CONDITIONS,
    EXTRA_CONDITIONS,
    MAIN_CONDITIONS,
    TASKS,
    check_conditions,
    check_tasks,
)
from cbreservoir.experiments.reproduce.profiles import PROFILES, Profile, get_profile
from cbreservoir.experiments.reproduce.run import ensemble_key, make_cell, run_cell, run_cells
from cbreservoir.experiments.sweep import cell_id, run_sweep
from cbreservoir.utils.validation import check_positive_int

__all__ = [
    "CONDITIONS",
    "CONFIG_KEYS",
    "EXTRA_CONDITIONS",
    "MAIN_CONDITIONS",
    "PROFILES",
    "TASKS",
    "Profile",
    "build_cells",
    "check_conditions",
    "check_tasks",
    "get_profile",
    "reproduce",
    "run_config_sweep",
]

#: Conditions of the granule scaling sweep (CB-RNN with G granule units vs the matched RNN-only).
SCALING_CONDITIONS: tuple[str, ...] = ("cbrnn", "rnn")


def _check_seeds(seeds: int | Iterable[int] | None, profile: Profile) -> list[int]:
    if seeds is None:
        return list(range(profile.n_seeds))
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds must be a positive count or a list of ints, got {seeds!r}")
        return list(range(seeds))
    values = list(seeds)
    if not values or not all(isinstance(seed, int) and not isinstance(seed, bool) for seed in values):
        raise ValueError(f"seeds must be a positive count or a non-empty list of ints, got {seeds!r}")
    return values


def build_cells(
    tasks: Sequence[str],
    conditions: Sequence[str],
    seeds: Sequence[int],
    profile: Profile,
    granule_sizes: Sequence[int] | None = None,
) -> list[dict]:
    """All cells of a reproduction: every (task, condition, seed) at G = 256, plus the scaling sweep.

    Parameters
    ----------
    tasks, conditions, seeds
        What to run.
    profile : Profile
        Settings stored in every cell.
    granule_sizes : sequence of int, optional
        If given, also CB-RNN with each G and the RNN-only matched to it, for every task and seed.

    Returns
    -------
    list of dict
        Distinct cells (the scaling sweep's G = 256 cells coincide with the main ones).
    """
    cells = [
        make_cell(task, condition, seed, profile)
        for task in tasks
        for condition in conditions
        for seed in seeds
    ]
    for task in tasks:
        for granule in granule_sizes or ():
            for condition in SCALING_CONDITIONS:
                cells += [make_cell(task, condition, seed, profile, n_granule=granule) for seed in seeds]
    return list({cell_id(cell): cell for cell in cells}.values())


def reproduce(
    task: str | Sequence[str],
    profile: str | Profile = "quick",
    seeds: int | Sequence[int] | None = None,
    conditions: Sequence[str] | None = None,
    output_dir: str | os.PathLike = "cbreservoir-reproduce",
    backend: str = "loky",
    n_jobs: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    granule_sizes: Sequence[int] | None = None,
    ensemble: int = 1,
) -> dict:
    """Run (or resume) the study's comparison and write the summary table, JSON and figures.

    Parameters
    ----------
    task : str or sequence of str
        Among ``"dms"``, ``"parity"``, ``"multitask"``, ``"switching"``.
    profile : {"quick", "paper"} or Profile
        Run settings (:data:`PROFILES`).
    seeds : int or sequence of int, optional
        A count (seeds ``0 .. n-1``) or explicit seeds; default the profile's ``n_seeds``.
    conditions : sequence of str, optional
        Among :data:`CONDITIONS`; default :data:`MAIN_CONDITIONS`.
    output_dir : path
        Gets ``runs/`` (one JSON per run), ``summary.md``, ``summary.json`` and the PNG figures.
    backend, n_jobs, scheduler, progress
        As in :func:`cbreservoir.experiments.sweep.run_sweep`.
    granule_sizes : sequence of int, optional
        Also run the granule scaling sweep (CB-RNN with these G vs matched RNN-only), e.g. the
        profile's ``granule_sizes``.
    ensemble : int
        Train up to this many runs of one task and architecture together as one batched ensemble
        (:func:`~cbreservoir.experiments.reproduce.run.run_ensemble`; each keeps its own seed, schedule and
        curriculum level, and its results are those of its solo run; feedforward runs stay alone).
        1: every run alone.

    Returns
    -------
    dict
        ``profile``, ``tasks``, ``conditions``, ``seeds``, ``granule_sizes``, ``n_runs``, ``wall_seconds``,
        ``summaries``
        (one :func:`~cbreservoir.experiments.reproduce.summary.summarize_task` dict per task), ``table`` (Markdown)
        and ``files`` (paths written).
    """
    settings = get_profile(profile)
    tasks = check_tasks(task)
    names = MAIN_CONDITIONS if conditions is None else check_conditions(conditions)
    seed_list = _check_seeds(seeds, settings)
    output = Path(output_dir)
    cells = build_cells(tasks, names, seed_list, settings, granule_sizes)
    ensemble = check_positive_int(ensemble, "ensemble")
    start = time.perf_counter()
    grouping = {"group_by": ensemble_key, "group_size": ensemble} if ensemble > 1 else {}
    run = run_cells if grouping else run_cell
    runner = functools.partial(run, checkpoint_root=str(output / "checkpoints"))
    runs = run_sweep(
        cells,
        runner,
        output / "runs",
        backend=backend,
        n_jobs=n_jobs,
        scheduler=scheduler,
        progress=progress,
        **grouping,
    )
    wall_seconds = time.perf_counter() - start
    report = {
        "profile": settings.settings(),
        "tasks": list(tasks),
        "conditions": list(names),
        "seeds": seed_list,
        "granule_sizes": list(granule_sizes or []),
        "n_runs": len(runs),
        "wall_seconds": wall_seconds,
    }
    report.update(_write_outputs(runs, tasks, settings, output, scaling=bool(granule_sizes)))
    return report


def _write_outputs(
    runs: Sequence[dict], tasks: Sequence[str], profile: Profile, output: Path, scaling: bool
) -> dict:
    """Summaries, the Markdown table, ``summary.json`` / ``summary.md`` and the figures."""
    from cbreservoir.experiments.reproduce.figures import plot_learning_curves, plot_scaling
    from cbreservoir.experiments.reproduce.summary import markdown_table, summarize_task
    from cbreservoir.utils.strict_json import json_ready

    summaries = [
        summarize_task(
            task, [run for run in runs if run["task"] == task], profile.n_epochs, profile.switching_window
        )
        for task in tasks
    ]
    table = markdown_table(summaries)
    figures = []
    for summary in summaries:
        task_runs = [run for run in runs if run["task"] == summary["task"]]
        figures.append(
            plot_learning_curves(
                summary["task"], task_runs, output / f"curves_{summary['task']}.png", summary["half_max"]
            )
        )
        if scaling:
            rows = [row for row in summary["rows"] if row["condition"] in SCALING_CONDITIONS]
            figures.append(plot_scaling(summary["task"], rows, output / f"scaling_{summary['task']}.png"))
    (output / "summary.json").write_text(
        json.dumps(
            json_ready({"profile": profile.settings(), "summaries": summaries}), indent=1, allow_nan=False
        )
    )
    (output / "summary.md").write_text(f"# Reproduction summary (profile {profile.name!r})\n\n{table}")
    files = {"summary_json": str(output / "summary.json"), "summary_md": str(output / "summary.md")}
    return {
        "summaries": summaries,
        "table": table,
        "files": {**files, "figures": [str(path) for path in figures]},
    }


#: Keys of a :func:`run_config_sweep` config, with what each holds.
CONFIG_KEYS: dict[str, str] = {
    "tasks": "task name or list of task names (required)",
    "profile": "'quick' (default) or 'paper'",
    "overrides": "dict of profile settings to change, e.g. {'n_epochs': 50}",
    "conditions": "list of condition names (default: the four main conditions)",
    "seeds": "count or list of ints (default: the profile's n_seeds)",
    "granule_sizes": "list of granule sizes G for the scaling sweep (default: none)",
    "output_dir": "directory of runs and outputs (default 'cbreservoir-sweep')",
    "backend": "'loky' (default), 'threading', 'sequential' or 'dask'",
    "n_jobs": "parallel runs (default: one per CPU)",
    "scheduler": "dask scheduler address 'tcp://HOST:PORT' (backend 'dask' only)",
    "ensemble": "runs of one task and architecture trained together as one batched ensemble (default 1)",
}


def _load_config(config: Mapping | str | os.PathLike) -> dict:
    if isinstance(config, Mapping):
        return dict(config)
    path = Path(config)
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        import yaml

        loaded = yaml.safe_load(text)
    else:
        loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise ValueError(f"expected a mapping of config keys in {str(path)!r}, got {type(loaded).__name__}")
    return loaded


def run_config_sweep(config: Mapping | str | os.PathLike, progress: bool = True, **overrides: object) -> dict:
    """Run a grid sweep described by a config dict (or a JSON / YAML file holding one).

    Parameters
    ----------
    config : dict or path
        Keys (:data:`CONFIG_KEYS`): ``tasks`` (required), ``profile``, ``overrides``, ``conditions``,
        ``seeds``, ``granule_sizes``, ``output_dir``, ``backend``, ``n_jobs``, ``scheduler``,
        ``ensemble``. Example::

            {"tasks": ["dms"], "profile": "quick", "overrides": {"n_epochs": 40},
             "conditions": ["cbrnn", "rnn"], "seeds": 5, "output_dir": "sweep-dms"}

    progress : bool
        Show the progress bar.
    **overrides
        Config keys given by the caller (e.g. the command line's ``backend``), taking precedence.

    Returns
    -------
    dict
        As :func:`reproduce`.

    Raises
    ------
    ValueError
        An unknown key (named, with the allowed keys), a missing ``tasks``, or a bad value (the
        message names the key and the allowed values).
    """
    settings = {
        **_load_config(config),
        **{key: value for key, value in overrides.items() if value is not None},
    }
    unknown = sorted(set(settings) - set(CONFIG_KEYS))
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; allowed keys: {sorted(CONFIG_KEYS)}")
    if "tasks" not in settings:
        raise ValueError(f"config key 'tasks' is required: {CONFIG_KEYS['tasks']}")
    profile = get_profile(settings.get("profile", "quick"))
    extra = settings.get("overrides") or {}
    if not isinstance(extra, Mapping):
        raise ValueError(f"config key 'overrides' must be a dict of profile settings, got {extra!r}")
    return reproduce(
        settings["tasks"],
        profile=profile.replace(**extra) if extra else profile,
        seeds=settings.get("seeds"),
        conditions=settings.get("conditions"),
        output_dir=settings.get("output_dir", "cbreservoir-sweep"),
        backend=settings.get("backend", "loky"),
        n_jobs=settings.get("n_jobs"),
        scheduler=settings.get("scheduler"),
        progress=progress,
        granule_sizes=settings.get("granule_sizes"),
        ensemble=settings.get("ensemble", 1),
    )

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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cbreservoir.experiments.reproduce.conditions import (
    CONDITIONS,
    EXTRA_CONDITIONS,
    FEEDFORWARD_TASKS,
    MAIN_CONDITIONS,
    TASKS,
    check_conditions,
    check_tasks,
)
from cbreservoir.experiments.reproduce.profiles import PROFILES, Profile, get_profile
from cbreservoir.experiments.reproduce.run import ensemble_key, make_cell, run_cell, run_cells
from cbreservoir.experiments.sweep import BACKENDS, cell_id, run_sweep
from cbreservoir.utils.files import atomic_write_text, directory_lock, read_config
from cbreservoir.utils.validation import (
    MAX_COUNT,
    MAX_SEED,
    check_choice,
    check_int,
    check_int_list,
    check_n_jobs,
    check_path,
    check_resume_settings,
    check_writable_directory,
)

__all__ = [
    "CONDITIONS",
    "CONFIG_KEYS",
    "EXTRA_CONDITIONS",
    "MAIN_CONDITIONS",
    "PROFILES",
    "TASKS",
    "Profile",
    "build_cells",
    "check_arguments",
    "check_conditions",
    "check_tasks",
    "config_arguments",
    "get_profile",
    "reproduce",
    "run_config_sweep",
]

#: Conditions of the granule scaling sweep (CB-RNN with G granule units vs the matched RNN-only).
SCALING_CONDITIONS: tuple[str, ...] = ("cbrnn", "rnn")


#: Name of the record of a reproduction's settings in its output directory.
SETTINGS_FILE = "settings.json"


def _check_seeds(seeds: object, profile: Profile) -> list[int]:
    if seeds is None:
        return list(range(profile.n_seeds))
    if isinstance(seeds, (list, tuple)):
        values = check_int_list(seeds, "seeds", 0, MAX_SEED)
        if len(set(values)) != len(values):
            raise ValueError(f"seeds must be distinct; got {list(seeds)!r}")
        return values
    try:
        return list(range(check_int(seeds, "seeds", 1, MAX_COUNT)))
    except TypeError:
        raise TypeError(
            f"seeds must be a count in [1, {MAX_COUNT}] or a list of ints in [0, {MAX_SEED}]; got {seeds!r}"
        ) from None


def _names(value: object, key: str) -> object:
    if not isinstance(value, (str, list, tuple)):
        raise TypeError(f"{key} must be a name or a list of names; got {value!r}")
    return value


def check_arguments(
    task: str | Sequence[str],
    profile: str | Profile = "quick",
    seeds: int | Sequence[int] | None = None,
    conditions: Sequence[str] | None = None,
    output_dir: str | os.PathLike = "cbreservoir-reproduce",
    backend: str = "loky",
    n_jobs: int | None = None,
    scheduler: str | None = None,
    granule_sizes: Sequence[int] | None = None,
    ensemble: int = 1,
) -> dict[str, Any]:
    """Check every argument of :func:`reproduce` (nothing runs, nothing is written) and normalise them.

    Returns
    -------
    dict
        The same keys: ``task`` and ``conditions`` as tuples, ``profile`` a :class:`Profile`,
        ``seeds`` a list of ints, ``output_dir`` a str, ``granule_sizes`` a list or None.

    Raises
    ------
    ValueError, TypeError
        Naming the argument, its allowed values or range, and the value received: unknown tasks,
        conditions, profile or backend; a seed count < 1 or seeds < 0 (or above ``MAX_SEED``); n_jobs 0;
        an output_dir that is not a path or cannot be written; granule sizes < 1; ensemble < 1; a
        scheduler without the dask backend; a start level below a task's smallest; the feedforward
        condition with a task it does not run.
    """
    settings = get_profile(profile)
    tasks = check_tasks(_names(task, "task"))
    names = MAIN_CONDITIONS if conditions is None else check_conditions(_names(conditions, "conditions"))
    seed_list = _check_seeds(seeds, settings)
    output_dir = check_path(output_dir, "output_dir")
    check_writable_directory(output_dir, "output_dir")
    check_choice(backend, "backend", BACKENDS)
    if n_jobs is not None:
        check_n_jobs(n_jobs)
    if scheduler is not None:
        if not isinstance(scheduler, str):
            raise TypeError(f"scheduler must be an address 'tcp://HOST:PORT'; got {scheduler!r}")
        if backend != "dask":
            raise ValueError(f"scheduler applies to backend 'dask' only; got backend {backend!r}")
    sizes = None if granule_sizes is None else check_int_list(granule_sizes, "granule_sizes", 1, MAX_COUNT)
    ensemble = check_int(ensemble, "ensemble", 1, MAX_COUNT)
    from cbreservoir.tasks import min_level

    for name in tasks:
        if settings.start_level < min_level(name):
            raise ValueError(
                f"Profile.start_level must be >= {min_level(name)} for task {name!r}; "
                f"got {settings.start_level}"
            )
        for condition in names:
            if CONDITIONS[condition].feedforward and name not in FEEDFORWARD_TASKS:
                raise ValueError(
                    f"condition {condition!r} runs the tasks {list(FEEDFORWARD_TASKS)}; got task {name!r}"
                )
    return {
        "task": tasks,
        "profile": settings,
        "seeds": seed_list,
        "conditions": names,
        "output_dir": output_dir,
        "backend": backend,
        "n_jobs": n_jobs,
        "scheduler": scheduler,
        "granule_sizes": sizes,
        "ensemble": ensemble,
    }


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
    arguments = check_arguments(
        task,
        profile=profile,
        seeds=seeds,
        conditions=conditions,
        output_dir=output_dir,
        backend=backend,
        n_jobs=n_jobs,
        scheduler=scheduler,
        granule_sizes=granule_sizes,
        ensemble=ensemble,
    )
    settings, tasks, names = arguments["profile"], arguments["task"], arguments["conditions"]
    seed_list, granule_sizes, ensemble = arguments["seeds"], arguments["granule_sizes"], arguments["ensemble"]
    output = Path(arguments["output_dir"])
    cells = build_cells(tasks, names, seed_list, settings, granule_sizes)
    record = {
        "profile": settings.settings(),
        "tasks": list(tasks),
        "conditions": list(names),
        "seeds": seed_list,
        "granule_sizes": list(granule_sizes or []),
    }
    with directory_lock(output):
        _check_output_settings(output, record)
        start = time.perf_counter()
        grouping = {"group_by": ensemble_key, "group_size": ensemble} if ensemble > 1 else {}
        run = run_cells if grouping else run_cell
        runner = functools.partial(run, checkpoint_root=str(output / "checkpoints"))
        runs = run_sweep(
            cells,
            runner,
            output / "runs",
            backend=arguments["backend"],
            n_jobs=arguments["n_jobs"],
            scheduler=arguments["scheduler"],
            progress=progress,
            **grouping,
        )
        wall_seconds = time.perf_counter() - start
        report = {**record, "n_runs": len(runs), "wall_seconds": wall_seconds}
        report.update(_write_outputs(runs, tasks, settings, output, scaling=bool(granule_sizes)))
    return report


def _check_output_settings(output: Path, record: dict) -> None:
    """Record the settings of the reproduction in ``output``, or check them against the recorded ones.

    Only ``profile.n_epochs`` may grow. A directory written before settings were recorded gets its
    record now (its runs are addressed by their full settings, so none can be mistaken for another).
    """
    path = output / SETTINGS_FILE
    if path.exists():
        try:
            stored = json.loads(path.read_bytes().decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
            stored = error
        if not isinstance(stored, dict):
            raise ValueError(
                f"the settings record {path} is unreadable or not a mapping ({stored!r:.100}); "
                "remove the directory (or the record) to start over"
            )
        check_resume_settings(stored, record, f"output directory {output}", may_grow=("profile.n_epochs",))
    atomic_write_text(path, json.dumps(record, indent=1, sort_keys=True))


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
    atomic_write_text(
        output / "summary.json",
        json.dumps(
            json_ready({"profile": profile.settings(), "summaries": summaries}), indent=1, allow_nan=False
        ),
    )
    atomic_write_text(output / "summary.md", f"# Reproduction summary (profile {profile.name!r})\n\n{table}")
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


def config_arguments(config: Mapping | str | os.PathLike, **overrides: object) -> dict[str, Any]:
    """The :func:`reproduce` arguments of a sweep config (dict or JSON / YAML file), checked.

    Parameters
    ----------
    config : dict or path
        Keys: :data:`CONFIG_KEYS`.
    **overrides
        Config keys given by the caller (e.g. the command line's ``backend``), taking precedence;
        None values are ignored.

    Returns
    -------
    dict
        As :func:`check_arguments`.

    Raises
    ------
    ValueError, TypeError
        An unreadable file, an unknown key (named, with the allowed keys), a missing ``tasks``, or a
        bad value (the message names the key, the allowed values and the value).
    """
    settings = dict(config) if isinstance(config, Mapping) else read_config(config)
    settings.update({key: value for key, value in overrides.items() if value is not None})
    unknown = sorted(set(map(str, settings)) - set(CONFIG_KEYS))
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; allowed keys: {sorted(CONFIG_KEYS)}")
    if "tasks" not in settings:
        raise ValueError(f"config key 'tasks' is required: {CONFIG_KEYS['tasks']}")
    profile = get_profile(settings.get("profile", "quick"))
    extra = settings.get("overrides") or {}
    if not isinstance(extra, Mapping):
        raise TypeError(f"config key 'overrides' must be a dict of profile settings; got {extra!r}")
    return check_arguments(
        settings["tasks"],
        profile=profile.replace(**extra) if extra else profile,
        seeds=settings.get("seeds"),
        conditions=settings.get("conditions"),
        output_dir=settings.get("output_dir", "cbreservoir-sweep"),
        backend=settings.get("backend", "loky"),
        n_jobs=settings.get("n_jobs"),
        scheduler=settings.get("scheduler"),
        granule_sizes=settings.get("granule_sizes"),
        ensemble=settings.get("ensemble", 1),
    )


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
    ValueError, TypeError
        As :func:`config_arguments`, before any run starts.
    """
    return reproduce(**config_arguments(config, **overrides), progress=progress)

"""The reproduction pipeline: a study's cells, the resumable sweep over them, the summaries and figures."""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from cbreservoir.experiments.reproduce.arguments import check_arguments, config_arguments
from cbreservoir.experiments.reproduce.conditions import SCALING_CONDITIONS
from cbreservoir.experiments.reproduce.profiles import Profile
from cbreservoir.experiments.reproduce.run import ensemble_key, make_cell, run_cell, run_cells
from cbreservoir.experiments.sweep import cell_id, run_sweep
from cbreservoir.utils.checks import check_resume_settings
from cbreservoir.utils.files import atomic_write_text, directory_lock, read_small_file

__all__ = [
    "SETTINGS_FILE",
    "build_cells",
    "environments",
    "read_settings",
    "reproduce",
    "run_config_sweep",
    "settings_record",
]

#: Name of the record of a reproduction's settings in its output directory.
SETTINGS_FILE = "settings.json"

#: Settings a reproduction directory may be resumed with grown: more epochs, more seeds, tasks or conditions
#: (appended after the old ones; every finished run stays valid, the summary then covers all of them).
RESUME_MAY_GROW = ("profile.n_epochs", "seeds", "tasks", "conditions")


def build_cells(
    tasks: Sequence[str],
    conditions: Sequence[str],
    *,
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
        make_cell(task, condition, seed=seed, profile=profile)
        for task in tasks
        for condition in conditions
        for seed in seeds
    ]
    for task in tasks:
        for granule in granule_sizes or ():
            for condition in SCALING_CONDITIONS:
                cells += [
                    make_cell(task, condition, seed=seed, profile=profile, n_granule=granule)
                    for seed in seeds
                ]
    return list({cell_id(cell): cell for cell in cells}.values())


def reproduce(
    task: str | Sequence[str],
    *,
    profile: str | Profile = "quick",
    overrides: Mapping[str, object] | None = None,
    seeds: int | Sequence[int] | None = None,
    conditions: Sequence[str] | None = None,
    output_dir: str | os.PathLike = "cbreservoir-reproduce",
    backend: str = "loky",
    n_jobs: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    granule_sizes: Sequence[int] | None = None,
    ensemble: int = 1,
    keep_checkpoints: bool = False,
) -> dict:
    """Run (or resume) the study's comparison and write the summary table, JSON and figures.

    Parameters
    ----------
    task : str or sequence of str
        Among ``"dms"``, ``"parity"``, ``"multitask"``, ``"switching"``.
    profile : {"quick", "study", "paper"} or Profile
        Run settings (:data:`PROFILES`).
    overrides : mapping, optional
        Profile settings to change, e.g. ``{"n_epochs": 40}``: the command line's ``--set n_epochs=40``,
        checked the same way (:meth:`Profile.replace`: an unknown name or a bad value is refused before
        anything runs).
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
    keep_checkpoints : bool
        Keep each run's checkpoints under ``output_dir/checkpoints/<cell id>`` when it completes (the
        weights that passed each level, for :func:`~cbreservoir.experiments.analysis_report.run_analysis`
        with ``reproduction_dir``); by default they are removed.

    Returns
    -------
    dict
        ``profile``, ``tasks``, ``conditions``, ``seeds``, ``granule_sizes``, ``n_runs``, ``wall_seconds``,
        ``summaries`` (one :func:`~cbreservoir.experiments.reproduce.summary.summarize_task` dict per task),
        ``table`` (Markdown) and ``files`` (paths written).
    """
    arguments = check_arguments(
        task,
        profile=profile,
        overrides=overrides,
        seeds=seeds,
        conditions=conditions,
        output_dir=output_dir,
        backend=backend,
        n_jobs=n_jobs,
        scheduler=scheduler,
        granule_sizes=granule_sizes,
        ensemble=ensemble,
    )
    settings, tasks, granule_sizes = arguments["profile"], arguments["task"], arguments["granule_sizes"]
    output, ensemble = Path(arguments["output_dir"]), arguments["ensemble"]
    seeds, conditions = arguments["seeds"], arguments["conditions"]
    cells = build_cells(tasks, conditions, seeds=seeds, profile=settings, granule_sizes=granule_sizes)
    record = settings_record(arguments)
    with directory_lock(output):
        _check_output_settings(output, record)
        start = time.perf_counter()
        grouping = {"group_by": ensemble_key, "group_size": ensemble} if ensemble > 1 else {}
        run = run_cells if grouping else run_cell
        # absolute here, where the sweep is submitted: a dask worker started elsewhere writes the same place
        checkpoint_root = os.path.abspath(output / "checkpoints")
        runner = functools.partial(run, checkpoint_root=checkpoint_root, keep_checkpoints=keep_checkpoints)
        runs = run_sweep(
            cells,
            runner,
            output_dir=output / "runs",
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


def settings_record(arguments: Mapping[str, object]) -> dict:
    """The record of a reproduction's settings that its output directory keeps (:data:`SETTINGS_FILE`).

    Parameters
    ----------
    arguments : mapping
        The result of :func:`~cbreservoir.experiments.reproduce.arguments.check_arguments`.

    Returns
    -------
    dict
        ``profile`` (:meth:`Profile.settings`), ``tasks``, ``conditions``, ``seeds`` and ``granule_sizes``
        (``[]`` for none), JSON-ready: what decides the runs, not where or how they run.
    """
    return {
        "profile": arguments["profile"].settings(),
        "tasks": list(arguments["task"]),
        "conditions": list(arguments["conditions"]),
        "seeds": list(arguments["seeds"]),
        "granule_sizes": list(arguments["granule_sizes"] or []),
    }


def read_settings(output: str | os.PathLike) -> dict | None:
    """The settings record of the reproduction in ``output`` (``settings.json``), or None if it has none.

    Raises
    ------
    ValueError
        The record is unreadable or not a JSON mapping.
    """
    path = Path(output) / SETTINGS_FILE
    if not os.path.lexists(path):
        return None
    try:  # a regular file of at most MAX_SMALL_FILE_BYTES, checked before reading (no FIFO, no /dev/zero)
        stored = json.loads(read_small_file(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        stored = error
    if not isinstance(stored, dict):
        raise ValueError(
            f"the settings record {path} is unreadable or not a mapping ({stored!r:.100}); "
            "remove the directory (or the record) to start over"
        )
    return stored


def _check_output_settings(output: Path, record: dict) -> None:
    """Record the settings of the reproduction in ``output``, or check them against the recorded ones.

    Only :data:`RESUME_MAY_GROW` may grow. A directory written before settings were recorded gets its
    record now (its runs are addressed by their full settings, so none can be mistaken for another).
    """
    path = output / SETTINGS_FILE
    stored = read_settings(output)
    if stored is not None:
        check_resume_settings(
            stored, record, where=f"output directory {output}", may_grow=RESUME_MAY_GROW
        )
    atomic_write_text(path, json.dumps(record, indent=1, sort_keys=True))


def _write_outputs(
    runs: Sequence[dict], tasks: Sequence[str], profile: Profile, output: Path, scaling: bool
) -> dict:
    """Summaries, the Markdown table, ``summary.json`` / ``summary.md`` and the figures."""
    from cbreservoir.experiments.reproduce.figures import plot_continual, plot_learning_curves, plot_scaling
    from cbreservoir.experiments.reproduce.summary import markdown_table, summarize_task
    from cbreservoir.utils.strict_json import json_ready

    summaries = [
        summarize_task(
            task,
            [run for run in runs if run["task"] == task],
            n_epochs=profile.n_epochs,
            switching_window=profile.switching_window,
        )
        for task in tasks
    ]
    table = markdown_table(summaries)
    figures = []
    for summary in summaries:
        task_runs = [run for run in runs if run["task"] == summary["task"]]
        if summary["task"] == "continual":
            figures.append(plot_continual(task_runs, path=output / "curves_continual.png"))
            continue
        figures.append(
            plot_learning_curves(
                summary["task"],
                task_runs,
                path=output / f"curves_{summary['task']}.png",
                half_max=summary["half_max"],
            )
        )
        if scaling:
            rows = [row for row in summary["rows"] if row["condition"] in SCALING_CONDITIONS]
            figures.append(
                plot_scaling(summary["task"], rows, path=output / f"scaling_{summary['task']}.png")
            )
    versions = environments(runs)
    atomic_write_text(
        output / "summary.json",
        json.dumps(
            json_ready({"profile": profile.settings(), "versions": versions, "summaries": summaries}),
            indent=1,
            allow_nan=False,
        ),
    )
    atomic_write_text(
        output / "summary.md",
        f"# Reproduction summary (profile {profile.name!r})\n\n{table}\n{_environment_note(versions)}",
    )
    files = {"summary_json": str(output / "summary.json"), "summary_md": str(output / "summary.md")}
    return {
        "summaries": summaries,
        "table": table,
        "files": {**files, "figures": [str(path) for path in figures]},
    }


def environments(runs: Sequence[dict]) -> list[dict]:
    """The distinct software environments (``versions`` of the run records) the runs were trained in, each
    with its number of runs; records without versions are counted under ``{}``."""
    counts: dict[str, list] = {}
    for run in runs:
        versions = run.get("versions", {})
        key = json.dumps(versions, sort_keys=True)
        counts.setdefault(key, [versions, 0])[1] += 1
    return [{**versions, "runs": count} for versions, count in counts.values()]


def _environment_note(versions: Sequence[dict]) -> str:
    """The summary's last paragraph: where the runs were trained, and why that matters."""
    lines = [
        f"* {entry['runs']} runs: "
        + ", ".join(f"{key} {value}" for key, value in entry.items() if key != "runs")
        for entry in versions
    ]
    return (
        "Environments the runs were trained in (the same seeds give the same numbers only with the same "
        "versions: float rounding differs between numpy/torch releases and moves threshold crossings):\n\n"
        + "\n".join(lines)
        + "\n"
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

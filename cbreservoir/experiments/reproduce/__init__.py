"""Reproduce the CB-RNN study: conditions x tasks x seeds as a resumable sweep, then tables and figures.

Examples
--------
>>> from cbreservoir.experiments.reproduce import reproduce
>>> report = reproduce(["dms", "parity"], profile="quick", output_dir="repro")  # doctest: +SKIP
>>> print(open("repro/summary.md").read())  # doctest: +SKIP

Each run is one cell of :func:`cbreservoir.experiments.sweep.run_sweep`
(``<output_dir>/runs/<cell id>.json``), so an interrupted reproduction resumes where it stopped;
``backend="dask", scheduler="tcp://HOST:PORT"`` runs it on a dask cluster. :func:`run_config_sweep` runs
the same from a config dict or file (the ``cbreservoir sweep CONFIG`` command).

One job per module: :mod:`.conditions` (the compared models and schedules), :mod:`.profiles` (run settings),
:mod:`.arguments` (checks before anything runs, by the settings declared in
:mod:`cbreservoir.experiments.reproduce_settings`), :mod:`.run` (one cell), :mod:`.pipeline` (the sweep and
its outputs), :mod:`.summary` (tables), :mod:`.figures` (plots). This module only re-exports.
"""

from cbreservoir.experiments.reproduce.arguments import CONFIG_KEYS, check_arguments, config_arguments
from cbreservoir.experiments.reproduce.conditions import (
    CONDITIONS,
    EXTRA_CONDITIONS,
    MAIN_CONDITIONS,
    STUDY_TASKS,
    TASKS,
    check_conditions,
    check_tasks,
)
from cbreservoir.experiments.reproduce.pipeline import build_cells, read_settings, reproduce, run_config_sweep
from cbreservoir.experiments.reproduce.profiles import PROFILES, Profile, get_profile

__all__ = [
    "CONDITIONS",
    "CONFIG_KEYS",
    "EXTRA_CONDITIONS",
    "MAIN_CONDITIONS",
    "PROFILES",
    "STUDY_TASKS",
    "TASKS",
    "Profile",
    "build_cells",
    "check_arguments",
    "check_conditions",
    "check_tasks",
    "config_arguments",
    "get_profile",
    "read_settings",
    "reproduce",
    "run_config_sweep",
]

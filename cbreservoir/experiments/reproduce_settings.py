"""The settings of a reproduction, declared once in :data:`REPRODUCE_SETTINGS`: the keywords of
:func:`~cbreservoir.experiments.reproduce.reproduce`, the keys of a sweep config (``task`` is ``tasks`` there)
and the flags of ``cbreservoir reproduce`` and ``cbreservoir sweep`` all come from here.

A light module (the reproduction is imported only when a value is checked), so the command line builds its
flags from it and ``cbreservoir --help`` stays fast. The checks that need the reproduction (task and
condition names, backends, levels, writable directories) run in
:func:`~cbreservoir.experiments.reproduce.arguments.check_arguments`, which checks every value here first.

Examples
--------
>>> from cbreservoir.experiments.reproduce_settings import REPRODUCE_DEFAULTS
>>> REPRODUCE_DEFAULTS["profile"], REPRODUCE_DEFAULTS["ensemble"]
('quick', 1)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cbreservoir.utils.checks import (
    MAX_COUNT,
    MAX_SEED,
    Constraint,
    Instance,
    Integer,
    IntList,
    NJobs,
    Path,
    Setting,
    check_int,
    check_int_list,
)

__all__ = [
    "ADDRESS",
    "COUNT",
    "NAMES",
    "N_JOBS",
    "OVERRIDES",
    "PARALLEL_SETTINGS",
    "PATH",
    "PROFILE",
    "REPRODUCE_DEFAULTS",
    "REPRODUCE_SETTINGS",
    "SEEDS",
    "SIZES",
    "TEXT",
    "ProfileName",
    "Seeds",
]


@dataclass(frozen=True)
class Seeds(Constraint):
    """A count of networks (seeds ``0 .. n - 1``) or a list of distinct seeds, returned as a list of seeds."""

    def __call__(self, value: object, name: str) -> list[int]:
        if isinstance(value, (list, tuple)):
            seeds = check_int_list(value, name, minimum=0, maximum=MAX_SEED)
            if len(set(seeds)) != len(seeds):
                raise ValueError(f"{name} must be distinct; got {list(value)!r}")
            return seeds
        try:
            return list(range(check_int(value, name, minimum=1, maximum=MAX_COUNT)))
        except TypeError:
            raise TypeError(
                f"{name} must be a count in [1, {MAX_COUNT}] or a list of ints in [0, {MAX_SEED}]; "
                f"got {value!r}"
            ) from None


@dataclass(frozen=True)
class ProfileName(Constraint):
    """A profile name (``quick``, ``study``, ``paper``) or a ``Profile``, returned as the ``Profile``."""

    def __call__(self, value: object, name: str) -> Any:
        from cbreservoir.experiments.reproduce.profiles import Profile, get_profile

        if not isinstance(value, (str, Profile)):
            raise TypeError(f"{name} must be a profile name or a Profile; got {value!r}")
        return get_profile(value)


#: What the reproduce settings accept (the command line parses its text by these, in :mod:`cbreservoir.cli`).
NAMES = Instance((str, list, tuple), "a name or a list of names")
PROFILE = ProfileName()
OVERRIDES = Instance(Mapping, "a dict of profile settings")
SEEDS = Seeds()
SIZES = IntList(1, MAX_COUNT)
PATH = Path()
N_JOBS = NJobs()
TEXT = Instance(str, "a string")
ADDRESS = Instance(str, "an address 'tcp://HOST:PORT'")
COUNT = Integer(1, MAX_COUNT)

#: The reproduce settings, written once: each is a keyword of ``reproduce`` and ``check_arguments``, a key
#: of a sweep config (``task`` is ``tasks`` there) and a flag of ``cbreservoir reproduce`` (``overrides`` is
#: ``--set KEY=VALUE``; ``granule_sizes`` is set by ``--scaling`` to the profile's sizes). ``task`` is
#: required (the command line's default: every task of the study).
REPRODUCE_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "task",
        None,
        NAMES,
        "tasks: dms, parity, multitask, switching, mod3, continual (default: the first four)",
        "TASK",
    ),
    Setting("profile", "quick", PROFILE, "quick, study or paper (quick)", "PROFILE"),
    Setting(
        "conditions",
        None,
        NAMES,
        "conditions (default: cbrnn, full_reservoir, interleaved, rnn)",
        "CONDITIONS",
    ),
    Setting("seeds", None, SEEDS, "networks per condition (default: the profile's)", "SEEDS"),
    Setting("granule_sizes", None, SIZES, "also run the granule-size scaling sweep", "G"),
    Setting(
        "overrides",
        None,
        OVERRIDES,
        "change a profile setting, e.g. --set n_epochs=40 (repeatable)",
        "KEY=VALUE",
    ),
    Setting(
        "output_dir",
        "cbreservoir-reproduce",
        PATH,
        "runs, tables and figures go here; a rerun resumes (default: cbreservoir-reproduce)",
        "OUTPUT_DIR",
    ),
    Setting("n_jobs", None, N_JOBS, "parallel runs (default: one per CPU)", "N_JOBS"),
    Setting(
        "backend", "loky", TEXT, "joblib backend: loky (default), threading, sequential, dask", "BACKEND"
    ),
    Setting(
        "scheduler", None, ADDRESS, "dask scheduler address tcp://HOST:PORT (--backend dask)", "SCHEDULER"
    ),
    Setting(
        "ensemble",
        1,
        COUNT,
        "train up to E runs of one task and architecture together as one batched ensemble (default 1)",
        "E",
    ),
)

#: The settings of ``reproduce`` and their defaults.
REPRODUCE_DEFAULTS: dict[str, Any] = {setting.name: setting.default for setting in REPRODUCE_SETTINGS}

#: The settings of how the runs are spread (not what they compute): ``cbreservoir sweep`` has their flags
#: too, overriding its config file.
PARALLEL_SETTINGS = ("n_jobs", "backend", "scheduler", "ensemble")

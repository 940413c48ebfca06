"""The arguments of a reproduction, checked before anything runs: :func:`check_arguments` (those of
:func:`~cbreservoir.experiments.reproduce.reproduce`) and :func:`config_arguments` (a sweep config)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from cbreservoir.experiments.reproduce.conditions import (
    CONDITIONS,
    FEEDFORWARD_TASKS,
    MAIN_CONDITIONS,
    check_conditions,
    check_tasks,
)
from cbreservoir.experiments.reproduce.profiles import Profile, get_profile
from cbreservoir.experiments.sweep import BACKENDS
from cbreservoir.utils.checks import (
    MAX_COUNT,
    MAX_SEED,
    check_choice,
    check_int,
    check_int_list,
    check_n_jobs,
    check_path,
    check_writable_directory,
)
from cbreservoir.utils.files import read_config

__all__ = ["CONFIG_KEYS", "check_arguments", "config_arguments"]


def _check_seeds(seeds: object, profile: Profile) -> list[int]:
    if seeds is None:
        return list(range(profile.n_seeds))
    if isinstance(seeds, (list, tuple)):
        values = check_int_list(seeds, "seeds", minimum=0, maximum=MAX_SEED)
        if len(set(values)) != len(values):
            raise ValueError(f"seeds must be distinct; got {list(seeds)!r}")
        return values
    try:
        return list(range(check_int(seeds, "seeds", minimum=1, maximum=MAX_COUNT)))
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
    *,
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
    check_choice(backend, "backend", allowed=BACKENDS)
    if n_jobs is not None:
        check_n_jobs(n_jobs)
    if scheduler is not None:
        if not isinstance(scheduler, str):
            raise TypeError(f"scheduler must be an address 'tcp://HOST:PORT'; got {scheduler!r}")
        if backend != "dask":
            raise ValueError(f"scheduler applies to backend 'dask' only; got backend {backend!r}")
    sizes = (
        None
        if granule_sizes is None
        else check_int_list(granule_sizes, "granule_sizes", minimum=1, maximum=MAX_COUNT)
    )
    ensemble = check_int(ensemble, "ensemble", minimum=1, maximum=MAX_COUNT)
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

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

__all__ = ["ARGUMENTS", "CONFIG_KEYS", "check_arguments", "config_arguments"]


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


#: The arguments of a reproduction, written once: each is a keyword of :func:`check_arguments` and
#: :func:`~cbreservoir.experiments.reproduce.reproduce` and a key of a sweep config (``task`` is ``tasks``
#: there), with its default and what it holds. :data:`CONFIG_KEYS` and the config reader come from here.
ARGUMENTS: dict[str, tuple[object, str]] = {
    "task": (None, "task name or list of task names (required)"),
    "profile": ("quick", "'quick' (default), 'study' or 'paper'"),
    "overrides": (None, "dict of profile settings to change, e.g. {'n_epochs': 50} (as --set does)"),
    "seeds": (None, "count or list of ints (default: the profile's n_seeds)"),
    "conditions": (None, "list of condition names (default: the four main conditions)"),
    "output_dir": ("cbreservoir-reproduce", "directory of runs and outputs (default 'cbreservoir-sweep')"),
    "backend": ("loky", "'loky' (default), 'threading', 'sequential' or 'dask'"),
    "n_jobs": (None, "parallel runs (default: one per CPU)"),
    "scheduler": (None, "dask scheduler address 'tcp://HOST:PORT' (backend 'dask' only)"),
    "granule_sizes": (None, "list of granule sizes G for the scaling sweep (default: none)"),
    "ensemble": (1, "runs of one task and architecture trained together as one batched ensemble (default 1)"),
}

#: Keys of a :func:`~cbreservoir.experiments.reproduce.run_config_sweep` config, with what each holds.
CONFIG_KEYS: dict[str, str] = {
    ("tasks" if name == "task" else name): text for name, (_, text) in ARGUMENTS.items()
}


def check_arguments(task: str | Sequence[str], **arguments: Any) -> dict[str, Any]:
    """Check every argument of :func:`reproduce` (nothing runs, nothing is written) and normalise them.

    Parameters
    ----------
    task : str or sequence of str
    **arguments
        The other keys of :data:`ARGUMENTS` (absent ones take their defaults): ``profile`` (a name or a
        :class:`Profile`), ``overrides`` (profile settings to change, checked as :meth:`Profile.replace`
        checks them: the command line's ``--set``), ``seeds``, ``conditions``, ``output_dir``, ``backend``,
        ``n_jobs``, ``scheduler``, ``granule_sizes``, ``ensemble``.

    Returns
    -------
    dict
        The keys of :data:`ARGUMENTS` but ``overrides``: ``task`` and ``conditions`` as tuples, ``profile``
        a :class:`Profile` (with the overrides applied), ``seeds`` a list of ints, ``output_dir`` a str,
        ``granule_sizes`` a list or None.

    Raises
    ------
    TypeError
        An unknown argument (named, with the known ones), or a value of the wrong type.
    ValueError
        Naming the argument, its allowed values or range, and the value received: unknown tasks,
        conditions, profile, profile setting or backend; a seed count < 1 or seeds < 0 (or above
        ``MAX_SEED``); n_jobs 0; an output_dir that cannot be written; granule sizes < 1; ensemble < 1; a
        scheduler without the dask backend; a start level below a task's smallest; the feedforward
        condition with a task it does not run.
    """
    unknown = sorted(set(arguments) - set(ARGUMENTS))
    if unknown:
        raise TypeError(f"unknown reproduce argument(s) {unknown}; known: {sorted(ARGUMENTS)}")
    values = {name: default for name, (default, _) in ARGUMENTS.items()}
    values.update(arguments, task=task)
    settings = get_profile(values["profile"])
    overrides = values["overrides"] or {}
    if not isinstance(overrides, Mapping):
        raise TypeError(f"overrides must be a dict of profile settings; got {overrides!r}")
    settings = settings.replace(**overrides) if overrides else settings
    tasks = check_tasks(_names(task, "task"))
    conditions = values["conditions"]
    names = MAIN_CONDITIONS if conditions is None else check_conditions(_names(conditions, "conditions"))
    seed_list = _check_seeds(values["seeds"], settings)
    output_dir = check_path(values["output_dir"], "output_dir")
    check_writable_directory(output_dir, "output_dir")
    backend, scheduler = values["backend"], values["scheduler"]
    check_choice(backend, "backend", allowed=BACKENDS)
    if values["n_jobs"] is not None:
        check_n_jobs(values["n_jobs"])
    if scheduler is not None:
        if not isinstance(scheduler, str):
            raise TypeError(f"scheduler must be an address 'tcp://HOST:PORT'; got {scheduler!r}")
        if backend != "dask":
            raise ValueError(f"scheduler applies to backend 'dask' only; got backend {backend!r}")
    sizes = values["granule_sizes"]
    sizes = None if sizes is None else check_int_list(sizes, "granule_sizes", minimum=1, maximum=MAX_COUNT)
    ensemble = check_int(values["ensemble"], "ensemble", minimum=1, maximum=MAX_COUNT)
    from cbreservoir.tasks import check_level

    for name in tasks:
        check_level(name, settings.start_level, "Profile.start_level")
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
        "n_jobs": values["n_jobs"],
        "scheduler": scheduler,
        "granule_sizes": sizes,
        "ensemble": ensemble,
    }


def config_arguments(config: Mapping | str | os.PathLike, **overrides: object) -> dict[str, Any]:
    """The :func:`reproduce` arguments of a sweep config (dict or JSON / YAML file), checked.

    Parameters
    ----------
    config : dict or path
        Keys: :data:`CONFIG_KEYS`; ``output_dir`` defaults to ``"cbreservoir-sweep"`` here.
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
    arguments = {key: value for key, value in settings.items() if key != "tasks"}
    return check_arguments(settings["tasks"], **{"output_dir": "cbreservoir-sweep", **arguments})

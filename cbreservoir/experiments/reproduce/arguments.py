"""The arguments of a reproduction, checked before anything runs: :func:`check_arguments` (those of
:func:`~cbreservoir.experiments.reproduce.reproduce`) and :func:`config_arguments` (a sweep config), both
by the settings declared in :data:`~cbreservoir.experiments.reproduce_settings.REPRODUCE_SETTINGS`."""

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
from cbreservoir.experiments.reproduce_settings import REPRODUCE_DEFAULTS, REPRODUCE_SETTINGS
from cbreservoir.experiments.sweep import check_backend
from cbreservoir.utils.checks import check_params, check_writable_directory
from cbreservoir.utils.files import read_config

__all__ = ["CONFIG_KEYS", "check_arguments", "config_arguments"]

#: Keys of a :func:`~cbreservoir.experiments.reproduce.run_config_sweep` config, with what each holds: the
#: :data:`~cbreservoir.experiments.reproduce_settings.REPRODUCE_SETTINGS` (``task`` is ``tasks`` here).
CONFIG_KEYS: dict[str, str] = {
    ("tasks" if setting.name == "task" else setting.name): setting.help for setting in REPRODUCE_SETTINGS
}


def check_arguments(task: str | Sequence[str], **arguments: Any) -> dict[str, Any]:
    """Check every argument of :func:`reproduce` (nothing runs, nothing is written) and normalise them.

    Parameters
    ----------
    task : str or sequence of str
    **arguments
        The other settings of :data:`~cbreservoir.experiments.reproduce_settings.REPRODUCE_SETTINGS`
        (absent ones take their defaults; each value is checked by its declared constraint first):
        ``profile`` (a name or a :class:`Profile`), ``overrides`` (profile settings to change, checked as
        :meth:`Profile.replace` checks them: the command line's ``--set``), ``seeds``, ``conditions``,
        ``output_dir``, ``backend``, ``n_jobs``, ``scheduler``, ``granule_sizes``, ``ensemble``.

    Returns
    -------
    dict
        The settings but ``overrides``: ``task`` and ``conditions`` as tuples, ``profile``
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
    unknown = sorted(set(arguments) - set(REPRODUCE_DEFAULTS))
    if unknown:
        raise TypeError(f"unknown reproduce argument(s) {unknown}; known: {sorted(REPRODUCE_DEFAULTS)}")
    constraints = {setting.name: setting.constraint for setting in REPRODUCE_SETTINGS}
    values = check_params({**REPRODUCE_DEFAULTS, **arguments, "task": task}, **constraints)
    settings = values["profile"]
    settings = settings.replace(**values["overrides"]) if values["overrides"] else settings
    tasks = check_tasks(task)
    names = MAIN_CONDITIONS if values["conditions"] is None else check_conditions(values["conditions"])
    seed_list = list(range(settings.n_seeds)) if values["seeds"] is None else values["seeds"]
    check_writable_directory(values["output_dir"], "output_dir")
    check_backend(values["backend"], values["scheduler"])
    from cbreservoir.tasks import check_level

    for name in tasks:
        check_level(name, settings.start_level, "Profile.start_level")
        for condition in names:
            if CONDITIONS[condition].feedforward and name not in FEEDFORWARD_TASKS:
                raise ValueError(
                    f"condition {condition!r} runs the tasks {list(FEEDFORWARD_TASKS)}; got task {name!r}"
                )
    del values["overrides"]  # applied to the profile
    return {**values, "task": tasks, "profile": settings, "seeds": seed_list, "conditions": names}


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
        raise ValueError("config key 'tasks' is required: a task name or a list of task names")
    arguments = {key: value for key, value in settings.items() if key != "tasks"}
    return check_arguments(settings["tasks"], **{"output_dir": "cbreservoir-sweep", **arguments})

"""Option types, the ``train`` options and the ``reproduce`` flags (both derived from their settings
tables), config files and usage errors."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from cbreservoir.experiments import reproduce_settings as reproduce
from cbreservoir.experiments import train
from cbreservoir.utils.checks import MAX_COUNT, MAX_SEED

#: Most networks (seeds) per condition a command line may ask for.
MAX_NETWORKS = 10_000


class UsageError(ValueError):
    """Bad command-line usage or configuration: exit code 2."""


class _BackendMissing(RuntimeError):
    """The module implementing a subcommand is not installed or not importable: exit code 1."""


# ------------------------------------------------------------------------------------------ train options


@dataclasses.dataclass(frozen=True)
class _Option:
    """One ``train`` setting: a command-line flag and a config-file key at the same time."""

    name: str
    type: Callable[[str], Any]
    default: Any
    help: str
    metavar: str | None = None


def _integer(text: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise argparse.ArgumentTypeError(f"expected an integer in [{low}, {high}], got {text!r}")
    return value


def _positive_int(text: str) -> int:
    return _integer(text, 1, MAX_COUNT)


def _finite_number(text: str, *, zero: bool) -> float:
    """``text`` as a finite number > 0 (>= 0 with ``zero``), else an ``ArgumentTypeError``."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise argparse.ArgumentTypeError(f"expected a finite number {'>=' if zero else '>'} 0, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    return _finite_number(text, zero=False)


def _noise_level(text: str) -> float:
    return _finite_number(text, zero=True)


def _network_count(text: str) -> int:
    return _integer(text, 1, MAX_NETWORKS)


def _non_negative_int(text: str) -> int:
    return _integer(text, 0, MAX_SEED)


def _torch_device(text: str) -> str:
    import torch  # here, not at import time: 'cbreservoir --help' stays fast

    try:
        device = torch.device(text)
    except (RuntimeError, TypeError) as error:
        message = f"expected a torch device such as cpu or cuda:0, got {text!r}"
        raise argparse.ArgumentTypeError(message) from error
    available = {"cpu": 1, "cuda": torch.cuda.device_count() if torch.cuda.is_available() else 0}
    mps = getattr(torch.backends, "mps", None)
    available["mps"] = int(mps is not None and mps.is_available())
    count = available.get(device.type)
    if count is None:
        raise argparse.ArgumentTypeError(f"expected a device of type cpu, cuda or mps, got {text!r}")
    if count == 0 or (device.index is not None and device.index >= count):
        raise argparse.ArgumentTypeError(
            f"device {text!r} is not available on this machine ({count} {device.type} device(s)); "
            "use --device cpu"
        )
    return text


_positive_int.__name__ = f"an integer in [1, {MAX_COUNT}]"
_positive_float.__name__ = "a finite number > 0"
_noise_level.__name__ = "a finite number >= 0"
_non_negative_int.__name__ = f"an integer in [0, {MAX_SEED}]"
_network_count.__name__ = f"an integer in [1, {MAX_NETWORKS}]"
_torch_device.__name__ = "an available torch device"

#: How the command line reads the text of a setting, by what the setting accepts.
_PARSERS: dict[Any, Callable[[str], Any]] = {
    train.COUNT: _positive_int,
    train.SEED: _non_negative_int,
    train.RATE: _positive_float,
    train.NOISE_LEVEL: _noise_level,
    train.DEVICE: _torch_device,
    train.TEXT: str,
}

#: The ``train`` options, derived from :data:`cbreservoir.experiments.train.TRAIN_SETTINGS`.
TRAIN_OPTIONS: tuple[_Option, ...] = tuple(
    _Option(setting.name, _PARSERS[setting.accepts], setting.default, setting.help, setting.metavar)
    for setting in train.TRAIN_SETTINGS
)
_TRAIN_OPTION = {option.name: option for option in TRAIN_OPTIONS}

#: How the command line reads the flags of the reproduce settings, by what the setting accepts (a list of
#: names as several words; text as it is).
_REPRODUCE_PARSERS: dict[Any, dict[str, Any]] = {
    reproduce.NAMES: {"nargs": "+"},
    reproduce.PROFILE: {},
    reproduce.SEEDS: {"type": _network_count},
    reproduce.PATH: {},
    reproduce.N_JOBS: {"type": _positive_int},
    reproduce.TEXT: {},
    reproduce.ADDRESS: {},
    reproduce.COUNT: {"type": _positive_int},
}
_REPRODUCE_SETTING = {setting.name: setting for setting in reproduce.REPRODUCE_SETTINGS}


def add_reproduce_flags(parser: argparse.ArgumentParser, names: Sequence[str]) -> None:
    """Add the flags of the reproduce settings ``names`` (:data:`~cbreservoir.experiments.reproduce_settings.
    REPRODUCE_SETTINGS`, in their order) to ``parser``: ``--name`` (``-`` for ``_``), default None (the
    setting's own default applies); ``overrides`` is ``--set KEY=VALUE``, ``granule_sizes`` is ``--scaling``
    (the profile's sizes)."""
    for setting in reproduce.REPRODUCE_SETTINGS:
        if setting.name not in names:
            continue
        if setting.name == "overrides":
            add_profile_overrides(parser)
        elif setting.name == "granule_sizes":
            parser.add_argument("--scaling", action="store_true", help=setting.help)
        else:
            parser.add_argument(
                f"--{setting.name.replace('_', '-')}",
                dest=setting.name,
                default=None,
                metavar=setting.metavar,
                help=setting.help,
                **_REPRODUCE_PARSERS[setting.accepts],
            )


def add_profile_overrides(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE`` (repeatable): profile settings to change (the reproduce setting ``overrides``)."""
    setting = _REPRODUCE_SETTING["overrides"]
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar=setting.metavar,
                        help=setting.help)  # fmt: skip


def reproduce_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The reproduce settings given on the command line (``--set`` parsed; ``--scaling`` is the caller's).

    Raises
    ------
    UsageError
        A ``--set`` item that is not ``KEY=VALUE``, or ``--n-jobs`` beyond this machine's cores with a local
        backend.
    """
    _check_local_jobs(args)
    given = {name: getattr(args, name, None) for name in _REPRODUCE_SETTING}
    given["overrides"] = _parse_overrides(getattr(args, "overrides", []))
    return {name: value for name, value in given.items() if value is not None}


# ---------------------------------------------------------------------------------------------- configs


def _read_config(path: str) -> dict[str, Any]:
    """:func:`cbreservoir.utils.files.read_config`, its ``ValueError`` a usage error."""
    from cbreservoir.utils.files import read_config

    with _usage_errors():
        return read_config(path)


def train_settings(args: argparse.Namespace) -> dict[str, Any]:
    """``train`` settings: defaults, overridden by the config file, overridden by explicit flags.

    Raises
    ------
    UsageError
        For an unknown config key (the message lists the allowed keys) or a value of the wrong type.
    """
    settings = {option.name: option.default for option in TRAIN_OPTIONS}
    if getattr(args, "config", None):
        for raw_key, value in _read_config(args.config).items():
            key = str(raw_key).replace("-", "_")
            if key not in _TRAIN_OPTION:
                raise UsageError(
                    f"unknown key {raw_key!r} in config file {args.config}; "
                    f"allowed keys: {sorted(_TRAIN_OPTION)}"
                )
            settings[key] = _convert(key, value, f"config file {args.config}")
    settings.update({name: getattr(args, name) for name in _TRAIN_OPTION if hasattr(args, name)})
    return settings


def _convert(key: str, value: Any, source: str) -> Any:
    option = _TRAIN_OPTION[key]
    if value is None and option.default is None:
        return None
    if isinstance(value, (dict, list, bool)) or value is None:
        raise UsageError(f"{key!r} in {source}: expected {_type_name(option)}, got {value!r:.80}")
    try:
        return option.type(str(value))
    except (ValueError, argparse.ArgumentTypeError) as error:
        raise UsageError(f"{key!r} in {source}: {error}") from error


def _type_name(option: _Option) -> str:
    return {str: "a string", int: "an integer", float: "a number"}.get(option.type, option.type.__name__)


@contextmanager
def _usage_errors(prefix: str = "") -> Iterator[None]:
    """Turn the ``ValueError`` of a validation call into a :class:`UsageError` (exit code 2)."""
    try:
        yield
    except (ValueError, TypeError) as error:
        raise UsageError(f"{prefix}{error}") from error


def _parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["n_epochs=40", "threshold=0.9"]`` -> ``{"n_epochs": 40, "threshold": 0.9}`` (JSON values)."""
    overrides = {}
    for item in items:
        key, separator, text = item.partition("=")
        if not separator or not key:
            raise UsageError(f"expected KEY=VALUE, got {item!r}")
        try:
            overrides[key] = json.loads(text)
        except json.JSONDecodeError:
            overrides[key] = text
    return overrides


def _backend(module: str, name: str) -> Any:
    """Import ``module.name`` for a subcommand, turning an absent implementation into a clear message."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise _BackendMissing(f"cannot import {module}.{name} ({error})") from error


def _parallel_options(args: argparse.Namespace) -> dict[str, Any]:
    """The parallel options given on the command line (:data:`~cbreservoir.experiments.reproduce_settings.
    PARALLEL_SETTINGS`; absent ones keep the backend's defaults).

    Raises
    ------
    UsageError
        ``--n-jobs`` beyond this machine's cores with a local backend (a dask cluster may have more).
    """
    _check_local_jobs(args)
    options = {name: getattr(args, name) for name in reproduce.PARALLEL_SETTINGS}
    return {key: value for key, value in options.items() if value is not None}


def _check_local_jobs(args: argparse.Namespace) -> None:
    """``--n-jobs`` at most this machine's cores unless ``--backend dask`` (a cluster may have more)."""
    cores = os.cpu_count() or 1
    if args.n_jobs is not None and args.backend != "dask" and args.n_jobs > cores:
        raise UsageError(f"--n-jobs must be in [1, {cores}] (this machine's cores) unless --backend dask")

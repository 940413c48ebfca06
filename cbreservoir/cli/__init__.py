"""The ``cbreservoir`` command: ``demo``, ``train``, ``reproduce``, ``sweep``, ``analyze``, ``bench``.

Every subcommand accepts ``--json`` (one JSON document on stdout, nothing else) and ``--quiet`` (no progress
bars; bars are also off when stdout is not a terminal). Exit codes: 0 success, 1 the work failed, 2 bad
usage (unknown options, bad values, bad config files: the message names the key, its allowed values and
the value; a checkpoint or output directory written with other settings: the message lists them). All
values are checked before any work starts.
Subcommand implementations are imported only when that subcommand runs, so ``cbreservoir --help`` is fast
and a missing optional piece breaks only its own subcommand.

Examples
--------
>>> from cbreservoir.cli import main
>>> main(["train", "--model", "rnn", "--task", "dms", "--epochs", "3", "--json"])  # doctest: +SKIP
0
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from cbreservoir.utils.strict_json import json_ready
from cbreservoir.utils.validation import MAX_COUNT, MAX_SEED, SettingsMismatchError

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "build_parser",
    "main",
    "train_settings",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_DESCRIPTION = """\
cbreservoir: cortico-cerebellar reservoir computing.

examples:
  cbreservoir demo                                    # Reservoir >> Ridge vs Reservoir >> Cerebellum >> Ridge
  cbreservoir train --mode fixed_level --model cbrnn --task dms --n 5 --steps 200 --ensemble 8 --seed 0 --json
  cbreservoir train --model rnn --task parity --epochs 20      # curriculum, matched RNN-only baseline
  cbreservoir train --config run.yaml --epochs 50 --save cbrnn.npz
  cbreservoir reproduce --task dms --profile quick --set n_epochs=40
  cbreservoir sweep grid.yaml --output-dir runs/grid
  cbreservoir analyze --task dms --output-dir runs/analysis
  cbreservoir analyze --task parity --runs runs/study --seed 0   # networks of 'reproduce --keep-checkpoints'
  cbreservoir bench --quick

Run 'cbreservoir COMMAND --help' for the options of one command.
"""


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


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


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
_non_negative_int.__name__ = f"an integer in [0, {MAX_SEED}]"
_torch_device.__name__ = "an available torch device"

TRAIN_OPTIONS: tuple[_Option, ...] = (
    _Option(
        "model",
        str,
        "cbrnn",
        "cbrnn or rnn (the parameter-matched RNN-only baseline); curriculum also gru, gru_cb, lstm, "
        "lstm_cb",
        "KIND",
    ),
    _Option(
        "task", str, "dms", "dms, parity, mod3; curriculum: dms, parity, multitask, switching", "TASK"
    ),
    _Option(
        "mode",
        str,
        None,
        "fixed_level (STEPS steps at level N) or curriculum (needs --epochs); --epochs alone means "
        "curriculum",
        "MODE",
    ),
    _Option(
        "n", _positive_int, 2, "difficulty level N (the fixed level, or the curriculum's first level)", "N"
    ),
    _Option("steps", _positive_int, 100, "training steps (per epoch in the curriculum)", "STEPS"),
    _Option(
        "epochs",
        _positive_int,
        None,
        "curriculum epochs (mode curriculum)",
        "EPOCHS",
    ),
    _Option(
        "schedule",
        str,
        "end_to_end",
        "plasticity schedule: end_to_end, full_reservoir, interleaved, reduced_recurrent (curriculum only)",
        "NAME",
    ),
    _Option(
        "ensemble",
        _positive_int,
        None,
        "train this many networks (seeds SEED, SEED+1, ...) as one batched ensemble",
        "E",
    ),
    _Option(
        "n_granule", _positive_int, 256, "granule layer size G of cerebellar models (curriculum only)", "G"
    ),
    _Option("batch_size", _positive_int, 64, "trials per batch", "B"),
    _Option("test_batches", _positive_int, 10, "test batches after training (per curriculum epoch)", "K"),
    _Option(
        "learning_rate", _positive_float, 0.01, "SGD learning rate (momentum 0.1, Nesterov, clip 7.5)", "LR"
    ),
    _Option("seed", _non_negative_int, 0, "seed of weights, data and initial states", "SEED"),
    _Option("device", _torch_device, "cpu", "torch device, e.g. cpu or cuda", "DEVICE"),
    _Option(
        "save",
        str,
        None,
        "save the trained model (or ensemble) with cbreservoir.save (curriculum only)",
        "PATH",
    ),
    _Option("checkpoint_dir", str, None, "curriculum checkpoints go here; a rerun resumes from them", "DIR"),
)
_TRAIN_OPTION = {option.name: option for option in TRAIN_OPTIONS}


# ------------------------------------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``cbreservoir`` (no subcommand module is imported)."""
    from cbreservoir import __version__

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON document on stdout, nothing else")
    common.add_argument("--quiet", action="store_true", help="no progress bars or messages")

    parser = argparse.ArgumentParser(
        prog="cbreservoir", description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"cbreservoir {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(
        name: str,
        handler: Callable[[argparse.Namespace], dict],
        summary: str,
        epilog: str,
        render: Callable[[dict], str] | None = None,
    ):
        sub = commands.add_parser(
            name,
            parents=[common],
            help=summary,
            description=summary,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(handler=handler, render=render or _render)
        return sub

    demo = add(
        "demo",
        _run_demo,
        "Fit Reservoir >> Ridge and Reservoir >> Cerebellum >> Ridge on a nonlinear memory task.",
        "example:\n  cbreservoir demo --output-dir demo-out --seed 1",
        render=_render_demo,
    )
    demo.add_argument("--output-dir", default="cbreservoir-demo", help="where the figure goes (%(default)s)")
    demo.add_argument("--seed", type=_non_negative_int, default=0, help="seed (%(default)s)")

    train = add(
        "train",
        _run_train,
        "Train one model (or a batched ensemble) on one task, at a fixed level or through the curriculum.",
        "examples:\n"
        "  cbreservoir train --mode fixed_level --model cbrnn --task dms --n 5 --steps 200 --ensemble 8 "
        "--seed 0 --json\n"
        "  cbreservoir train --model cbrnn --schedule full_reservoir --task parity --epochs 30\n"
        "  cbreservoir train --config run.yaml --seed 3     # flags override the config file\n\n"
        "A config file (.yaml, .yml or .json) holds a mapping whose keys are the option names above\n"
        "(with _ or -), e.g. {model: cbrnn, task: dms, n: 4, steps: 200}.",
    )
    train.add_argument("--config", help="YAML or JSON file of settings (flags given here override it)")
    for option in TRAIN_OPTIONS:
        default = "none" if option.default is None else option.default
        train.add_argument(
            f"--{option.name.replace('_', '-')}",
            dest=option.name,
            type=option.type,
            default=argparse.SUPPRESS,
            metavar=option.metavar,
            help=f"{option.help} (default: {default})",
        )

    reproduce = add(
        "reproduce",
        _run_reproduce,
        "Reproduce the study's comparison (CB-RNN, frozen-core variants, matched RNN-only).",
        "examples:\n  cbreservoir reproduce --task dms --profile quick\n"
        "  cbreservoir reproduce --task dms parity --profile paper --n-jobs 8 --output-dir runs/paper",
    )
    reproduce.add_argument(
        "--task", nargs="+", default=None, help="tasks: dms, parity, multitask, switching (default: all)"
    )
    reproduce.add_argument("--profile", default="quick", help="quick, study or paper (%(default)s)")
    reproduce.add_argument(
        "--conditions",
        nargs="+",
        default=None,
        help="conditions (default: cbrnn, full_reservoir, interleaved, rnn)",
    )
    reproduce.add_argument(
        "--seeds", type=_positive_int, default=None, help="networks per condition (default: the profile's)"
    )
    reproduce.add_argument("--scaling", action="store_true", help="also run the granule-size scaling sweep")
    _add_profile_overrides(reproduce)
    reproduce.add_argument(
        "--output-dir",
        default=None,
        help="runs, tables and figures go here; a rerun resumes (default: cbreservoir-reproduce)",
    )
    reproduce.add_argument(
        "--keep-checkpoints",
        action="store_true",
        help="keep each finished run's checkpoints (weights that passed each level) for 'analyze --runs'",
    )
    _add_parallel_options(reproduce)

    sweep = add(
        "sweep",
        _run_sweep,
        "Run a grid of configurations from a YAML/JSON file, resumably (cbreservoir.experiments.sweep).",
        "example:\n  cbreservoir sweep grid.yaml --output-dir runs/grid --n-jobs 2",
    )
    sweep.add_argument("config", help="sweep config file (.yaml, .yml or .json)")
    sweep.add_argument("--output-dir", default=None, help="runs and outputs go here (overrides the config)")
    _add_parallel_options(sweep)

    analyze = add(
        "analyze",
        _run_analyze,
        "Train (or resume) models and run the study's analyses: ablation, readout recovery, "
        "dimensionality, timescales, granule sparseness; figures and summary.json.",
        "examples:\n  cbreservoir analyze --task dms --output-dir runs/analysis\n"
        "  cbreservoir analyze --task parity --set n_epochs=20 --analysis recovery_steps=100 --json",
    )
    analyze.add_argument("--task", default="dms", help="dms or parity (%(default)s)")
    analyze.add_argument(
        "--profile", default=None, help="training profile: quick, study or paper (quick; with --runs theirs)"
    )
    _add_profile_overrides(analyze)
    analyze.add_argument("--conditions", nargs="+", default=None, help="default: cbrnn full_reservoir")
    analyze.add_argument(
        "--seed", type=_non_negative_int, default=0, help="seed of models, data and analyses (%(default)s)"
    )
    analyze.add_argument(
        "--analysis",
        dest="analysis_settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change an analysis size, e.g. --analysis recovery_steps=100 (repeatable)",
    )
    analyze.add_argument(
        "--output-dir", default="cbreservoir-analysis", help="figures and summary.json (%(default)s)"
    )
    analyze.add_argument(
        "--checkpoint-dir",
        default=None,
        help="training checkpoints; a rerun resumes (default: OUTPUT_DIR/checkpoints)",
    )
    analyze.add_argument(
        "--runs",
        default=None,
        metavar="DIR",
        help="analyse the networks of a finished 'reproduce --keep-checkpoints --output-dir DIR'",
    )

    bench = add(
        "bench",
        _run_bench,
        "Measure speed against peers (reservoirpy, a plain PyTorch loop) and print one table.",
        "examples:\n  cbreservoir bench --quick\n  cbreservoir bench --device cuda --json",
    )
    bench.add_argument("--device", type=_torch_device, default="cpu", help="torch device (%(default)s)")
    bench.add_argument("--quick", action="store_true", help="small sizes (seconds, not minutes)")
    return parser


def _add_profile_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change a profile setting, e.g. --set n_epochs=40 (repeatable)",
    )


def _add_parallel_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--n-jobs", type=_positive_int, default=None, help="parallel runs (default: one per CPU)"
    )
    parser.add_argument(
        "--backend", default=None, help="joblib backend: loky (default), threading, sequential, dask"
    )
    parser.add_argument(
        "--scheduler", default=None, help="dask scheduler address tcp://HOST:PORT (--backend dask)"
    )
    parser.add_argument(
        "--ensemble",
        type=_positive_int,
        default=None,
        metavar="E",
        help="train up to E runs of one task and architecture together as one batched ensemble (default 1)",
    )


def _parallel_options(args: argparse.Namespace) -> dict[str, Any]:
    """The parallel options given on the command line (absent ones keep the backend's defaults)."""
    options = {
        "n_jobs": args.n_jobs,
        "backend": args.backend,
        "scheduler": args.scheduler,
        "ensemble": args.ensemble,
    }
    return {key: value for key, value in options.items() if value is not None}


# ------------------------------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``cbreservoir`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit code: 0 success, 1 failure, 2 bad usage.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse: --help/--version (0) or a usage error (2, already printed)
        return int(exit_.code or 0)
    args.progress = not args.quiet and sys.stdout.isatty() and sys.stderr.isatty()
    prefix = f"cbreservoir {args.command}"
    try:
        result = args.handler(args)
    except (UsageError, SettingsMismatchError) as error:  # a resume with other settings is bad usage too
        return _fail(args, prefix, f"error: {error}", EXIT_USAGE)
    except _BackendMissing as error:
        return _fail(args, prefix, f"unavailable: {error}", EXIT_FAILED)
    except KeyboardInterrupt:
        return _fail(args, prefix, "interrupted", EXIT_FAILED)
    except Exception as error:  # the work itself failed: report it, never a traceback
        return _fail(args, prefix, f"failed: {type(error).__name__}: {error}", EXIT_FAILED)
    if args.json:
        print(json.dumps(json_ready(result), indent=2, allow_nan=False))
    elif text := args.render(result):
        print(text)
    return EXIT_OK


def _fail(args: argparse.Namespace, prefix: str, message: str, code: int) -> int:
    print(f"{prefix}: {message}", file=sys.stderr)
    if args.json:
        print(json.dumps({"ok": False, "error": message, "exit_code": code}))
    return code


def _render(result: dict, indent: str = "") -> str:
    """Human-readable ``key: value`` lines; tables (multi-line strings) print as blocks."""
    lines = []
    for key, value in result.items():
        if isinstance(value, dict):
            lines += [f"{indent}{key}:", _render(value, indent + "  ")]
        elif isinstance(value, str) and "\n" in value:
            lines += [f"{indent}{key}:", value]
        elif isinstance(value, float):
            lines.append(f"{indent}{key}: {value:.4g}")
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            lines.append(f"{indent}{key}: {len(value)} records (see --json)")
        elif isinstance(value, list) and value and all(isinstance(item, float) for item in value):
            lines.append(f"{indent}{key}: " + ", ".join(f"{item:.4g}" for item in value))
        else:
            lines.append(f"{indent}{key}: {value}")
    return "\n".join(lines)


def _backend(module: str, name: str) -> Any:
    """Import ``module.name`` for a subcommand, turning an absent implementation into a clear message."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise _BackendMissing(f"cannot import {module}.{name} ({error})") from error


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
        raise UsageError(f"{key!r} in {source}: expected {_type_name(option)}, got {value!r}")
    try:
        return option.type(str(value))
    except (ValueError, argparse.ArgumentTypeError) as error:
        raise UsageError(f"{key!r} in {source}: {error}") from error


def _type_name(option: _Option) -> str:
    return {str: "a string", int: "an integer", float: "a number"}.get(option.type, option.type.__name__)


def _check_choice(key: str, value: Any, allowed: Sequence[str]) -> None:
    """Raise :class:`UsageError` naming ``key`` and the ``allowed`` values unless ``value`` is one of them."""
    if value not in allowed:
        raise UsageError(f"{key!r} must be one of {list(allowed)}, got {value!r}")


# ------------------------------------------------------------------------------------------- subcommands


def _run_demo(args: argparse.Namespace) -> dict:
    run_demo = _backend("cbreservoir.experiments.demo", "run_demo")
    return run_demo(output_dir=args.output_dir, seed=args.seed, quiet=args.json)


def _render_demo(result: dict) -> str:
    """The demo printed its table and figure path itself: nothing to add."""
    return ""


def _run_train(args: argparse.Namespace) -> dict:
    from cbreservoir.experiments.train import check_train

    run_train = _backend("cbreservoir.experiments.train", "run_train")
    with _usage_errors():
        settings = check_train(train_settings(args))
    start = time.perf_counter()
    result, trained = run_train(settings, args.progress)
    if settings["save"]:
        _save(trained, settings["save"])
    return {"settings": settings, **result, "wall_seconds": time.perf_counter() - start}


def _save(obj: Any, path: str) -> None:
    from cbreservoir.io import save

    save(obj, path)


def _run_reproduce(args: argparse.Namespace) -> dict:
    reproduce = _backend("cbreservoir.experiments.reproduce", "reproduce")
    from cbreservoir.experiments.reproduce import STUDY_TASKS, check_arguments, get_profile

    options = {"output_dir": args.output_dir, "seeds": args.seeds, **_parallel_options(args)}
    with _usage_errors():
        profile = get_profile(args.profile).replace(**_parse_overrides(args.overrides))
        arguments = check_arguments(
            args.task or STUDY_TASKS,
            profile=profile,
            conditions=args.conditions,
            granule_sizes=list(profile.granule_sizes) if args.scaling else None,
            **{key: value for key, value in options.items() if value is not None},
        )
    return reproduce(**arguments, keep_checkpoints=args.keep_checkpoints, progress=args.progress)


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


def _run_sweep(args: argparse.Namespace) -> dict:
    reproduce = _backend("cbreservoir.experiments.reproduce", "reproduce")
    from cbreservoir.experiments.reproduce import config_arguments

    config = _read_config(args.config)
    with _usage_errors(f"config file {args.config}: "):
        arguments = config_arguments(config, output_dir=args.output_dir, **_parallel_options(args))
    return reproduce(**arguments, progress=args.progress)


@contextmanager
def _usage_errors(prefix: str = "") -> Iterator[None]:
    """Turn the ``ValueError`` of a validation call into a :class:`UsageError` (exit code 2)."""
    try:
        yield
    except (ValueError, TypeError) as error:
        raise UsageError(f"{prefix}{error}") from error


def _run_analyze(args: argparse.Namespace) -> dict:
    run_analysis = _backend("cbreservoir.experiments.analysis_report", "run_analysis")
    from cbreservoir.experiments.analysis_report import ANALYSIS_TASKS, DEFAULT_CONDITIONS, AnalysisSettings
    from cbreservoir.experiments.reproduce import check_conditions, get_profile

    _check_choice("task", args.task, ANALYSIS_TASKS)
    if args.runs is not None and (args.overrides or args.checkpoint_dir is not None):
        raise UsageError(
            "--runs uses the reproduction's profile and checkpoints: expected no --set, no --checkpoint-dir"
        )
    with _usage_errors():
        profile = None
        if args.runs is None or args.profile is not None:
            profile = get_profile(args.profile or "quick").replace(**_parse_overrides(args.overrides))
        conditions = check_conditions(args.conditions or DEFAULT_CONDITIONS)
    settings = _analysis_settings(AnalysisSettings, _parse_overrides(args.analysis_settings))
    return run_analysis(
        args.output_dir,
        task=args.task,
        profile=profile,
        seed=args.seed,
        conditions=conditions,
        settings=settings,
        checkpoint_dir=args.checkpoint_dir,
        reproduction_dir=args.runs,
        progress=args.progress,
    )


def _analysis_settings(settings_class: type, changes: dict[str, Any]) -> Any:
    """``settings_class(**changes)``; unknown names are a usage error listing the allowed ones."""
    allowed = sorted(field.name for field in dataclasses.fields(settings_class))
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise UsageError(f"unknown analysis setting(s) {unknown}; allowed: {allowed}")
    with _usage_errors():
        return settings_class(**changes)


def _run_bench(args: argparse.Namespace) -> dict:
    run_speed_benchmarks = _backend("cbreservoir.experiments.bench", "run_speed_benchmarks")
    from cbreservoir.experiments.bench import format_table, result_to_json

    result = run_speed_benchmarks(quick=args.quick, device=args.device, progress=not args.quiet)
    return {**result_to_json(result), "table": format_table(result)}

"""The ``cbreservoir`` command: ``demo``, ``train``, ``reproduce``, ``sweep``, ``analyze``, ``noise``,
``bench``.

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
import contextlib
import io
import json
import sys
from collections.abc import Callable, Sequence

from cbreservoir.cli.commands import (
    _render_bench,
    _render_demo,
    _render_noise,
    _run_analyze,
    _run_bench,
    _run_demo,
    _run_noise,
    _run_reproduce,
    _run_sweep,
    _run_train,
)
from cbreservoir.cli.options import (
    TRAIN_OPTIONS,
    UsageError,
    _BackendMissing,
    _non_negative_int,
    _positive_int,
    _torch_device,
    add_profile_overrides,
    add_reproduce_flags,
    train_settings,
)
from cbreservoir.experiments.reproduce_settings import PARALLEL_SETTINGS, REPRODUCE_DEFAULTS
from cbreservoir.utils.checks import SettingsMismatchError
from cbreservoir.utils.strict_json import json_ready

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
  cbreservoir train --config run.yaml --epochs 50 --save cbrnn.cbr
  cbreservoir reproduce --task dms --profile quick --set n_epochs=40
  cbreservoir sweep grid.yaml --output-dir runs/grid
  cbreservoir analyze --task dms --output-dir runs/analysis
  cbreservoir analyze --task parity --runs runs/study --seed 0   # the networks of a 'reproduce'
  cbreservoir noise --runs runs/study --task dms --output-dir runs/noise  # accuracy against noise
  cbreservoir bench --quick

Run 'cbreservoir COMMAND --help' for the options of one command.
"""


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
    add_reproduce_flags(reproduce, [name for name in REPRODUCE_DEFAULTS if name not in PARALLEL_SETTINGS])
    reproduce.add_argument(
        "--keep-checkpoints",
        action="store_true",
        help="keep each finished run's checkpoints (weights that passed each level) for 'analyze --runs' "
        "(without them, 'analyze --runs' trains the runs it analyses again)",
    )
    add_reproduce_flags(reproduce, PARALLEL_SETTINGS)

    sweep = add(
        "sweep",
        _run_sweep,
        "Run a grid of configurations from a YAML/JSON file, resumably (cbreservoir.experiments.sweep).",
        "example:\n  cbreservoir sweep grid.yaml --output-dir runs/grid --n-jobs 2",
    )
    sweep.add_argument("config", help="sweep config file (.yaml, .yml or .json)")
    sweep.add_argument("--output-dir", default=None, help="runs and outputs go here (overrides the config)")
    add_reproduce_flags(sweep, PARALLEL_SETTINGS)

    analyze = add(
        "analyze",
        _run_analyze,
        "Train (or resume) models and run the study's analyses: ablation, readout recovery, "
        "dimensionality, timescales, granule sparseness; figures and summary.json.",
        "examples:\n  cbreservoir analyze --task dms --output-dir runs/analysis\n"
        "  cbreservoir analyze --task parity --set n_epochs=20 --analysis recovery_steps=100 --json\n"
        "  cbreservoir analyze --task parity --runs runs/study --seeds 0 1 2 3 --output-dir runs/analysis",
    )
    analyze.add_argument(
        "--task", default="dms", help="dms, parity, mod3, multitask or switching (%(default)s)"
    )
    analyze.add_argument(
        "--profile", default=None, help="training profile: quick, study or paper (quick; with --runs theirs)"
    )
    add_profile_overrides(analyze)
    analyze.add_argument("--conditions", nargs="+", default=None, help="default: cbrnn full_reservoir")
    seeds = analyze.add_mutually_exclusive_group()
    seeds.add_argument(
        "--seed", type=_non_negative_int, default=None, help="seed of models, data and analyses (0)"
    )
    seeds.add_argument(
        "--seeds",
        type=_non_negative_int,
        nargs="+",
        default=None,
        metavar="SEED",
        help="one network per seed, each analysed into OUTPUT_DIR/seed<SEED>, pooled over networks into "
        "OUTPUT_DIR/pooled.md and pooled.json",
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
        help="analyse the networks of a finished 'reproduce --output-dir DIR' (runs that kept no "
        "checkpoints are trained again into DIR/checkpoints, the same cell and seed)",
    )

    noise = add(
        "noise",
        _run_noise,
        "Accuracy against noise (input bit flips, cortical state, cerebellar output) of a reproduction's "
        "networks at a fixed N, cerebellum on and off; summary.md, summary.json and a figure.",
        "example:\n  cbreservoir noise --runs runs/study --task dms --conditions cbrnn full_reservoir rnn "
        "--output-dir runs/noise",
        render=_render_noise,
    )
    noise.add_argument(
        "--runs",
        required=True,
        metavar="DIR",
        help="a finished 'reproduce --keep-checkpoints --output-dir DIR' (each network is tested with the "
        "weights with which it passed --level)",
    )
    noise.add_argument("--task", default="dms", help="dms, parity or mod3 (%(default)s)")
    noise.add_argument("--conditions", nargs="+", default=None, help="default: cbrnn full_reservoir rnn")
    noise.add_argument(
        "--seeds",
        type=_non_negative_int,
        nargs="+",
        default=None,
        metavar="SEED",
        help="the networks tested (default: every seed of the reproduction whose checkpoints were kept)",
    )
    noise.add_argument(
        "--level",
        type=_positive_int,
        default=None,
        help="the fixed N (default: the highest level every network passed)",
    )
    noise.add_argument(
        "--batches", type=_positive_int, default=20, help="test batches of 64 per point (%(default)s)"
    )
    noise.add_argument("--output-dir", default="cbreservoir-noise", help="outputs (%(default)s)")

    bench = add(
        "bench",
        _run_bench,
        "Measure speed against peers (reservoirpy, a plain PyTorch loop) and print one table.",
        "examples:\n  cbreservoir bench --quick\n  cbreservoir bench --device cuda --json > speed.json\n"
        "  cbreservoir bench --sections series model_fit batch first_call   # the one-thread rows",
        render=_render_bench,
    )
    bench.add_argument("--device", type=_torch_device, default="cpu", help="torch device (%(default)s)")
    bench.add_argument("--quick", action="store_true", help="small sizes (seconds, not minutes)")
    bench.add_argument(
        "--sections",
        nargs="+",
        default=None,
        metavar="SECTION",
        help="only these row groups (keys of cbreservoir.experiments.bench.SIZES['full'], e.g. series "
        "model_fit)",
    )
    bench.add_argument(
        "--threads", type=_positive_int, default=None, help="torch threads (default: torch's choice)"
    )
    return parser


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
    argv = sys.argv[1:] if argv is None else list(argv)
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse: --help/--version (0) or a usage error (2)
        sys.stderr.write(errors.getvalue())
        code = int(exit_.code or 0)
        if code and "--json" in argv:  # the one JSON document, also when the arguments do not parse
            message = (errors.getvalue().strip().splitlines() or ["invalid arguments"])[-1]
            print(json.dumps({"ok": False, "error": message, "exit_code": code}))
        return code
    sys.stderr.write(errors.getvalue())
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

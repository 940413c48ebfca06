"""The subcommands: each calls one ``experiments`` function and returns its result."""

from __future__ import annotations

import argparse
import dataclasses
import time
import warnings
from typing import Any

from cbreservoir.cli.options import (
    UsageError,
    _backend,
    _parallel_options,
    _parse_overrides,
    _read_config,
    _usage_errors,
    reproduce_settings,
    train_settings,
)
from cbreservoir.utils.checks import check_choice, check_writable_directory

# ------------------------------------------------------------------------------------------- subcommands


def _run_demo(args: argparse.Namespace) -> dict:
    run_demo = _backend("cbreservoir.experiments.demo", "run_demo")
    with _usage_errors():
        check_writable_directory(args.output_dir, "--output-dir")
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
    from cbreservoir.experiments.reproduce import STUDY_TASKS, check_arguments

    settings = reproduce_settings(args)
    with _usage_errors():
        arguments = check_arguments(settings.pop("task", STUDY_TASKS), **settings)
        if args.scaling:
            arguments["granule_sizes"] = list(arguments["profile"].granule_sizes)
    return reproduce(**arguments, keep_checkpoints=args.keep_checkpoints, progress=args.progress)


def _run_sweep(args: argparse.Namespace) -> dict:
    reproduce = _backend("cbreservoir.experiments.reproduce", "reproduce")
    from cbreservoir.experiments.reproduce import config_arguments

    config = _read_config(args.config)
    with _usage_errors(f"config file {args.config}: "):
        arguments = config_arguments(config, output_dir=args.output_dir, **_parallel_options(args))
    return reproduce(**arguments, progress=args.progress)


def _run_analyze(args: argparse.Namespace) -> dict:
    run_analysis = _backend("cbreservoir.experiments.analysis_report", "run_analysis")
    from cbreservoir.experiments.analysis_report import ANALYSIS_TASKS, DEFAULT_CONDITIONS, AnalysisSettings
    from cbreservoir.experiments.reproduce import check_conditions, get_profile

    with _usage_errors():
        check_choice(args.task, "task", allowed=ANALYSIS_TASKS)
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
    analysis = {
        "task": args.task,
        "profile": profile,
        "conditions": conditions,
        "settings": settings,
        "checkpoint_dir": args.checkpoint_dir,
        "reproduction_dir": args.runs,
        "progress": args.progress,
    }
    if args.seeds is not None:
        if len(args.seeds) < 2 or len(set(args.seeds)) != len(args.seeds):
            raise UsageError(f"--seeds expects at least 2 distinct seeds, got {args.seeds}")
        run_analyses = _backend("cbreservoir.experiments.analysis_report", "run_analyses")
        return run_analyses(args.output_dir, seeds=args.seeds, **analysis)
    return run_analysis(args.output_dir, seed=0 if args.seed is None else args.seed, **analysis)


def _analysis_settings(settings_class: type, changes: dict[str, Any]) -> Any:
    """``settings_class(**changes)``; unknown names are a usage error listing the allowed ones."""
    allowed = sorted(field.name for field in dataclasses.fields(settings_class))
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise UsageError(f"unknown analysis setting(s) {unknown}; allowed: {allowed}")
    with _usage_errors():
        return settings_class(**changes)


def _run_noise(args: argparse.Namespace) -> dict:
    run_noise = _backend("cbreservoir.experiments.noise", "run_noise")
    from cbreservoir.experiments.noise import NOISE_CONDITIONS
    from cbreservoir.experiments.reproduce import check_conditions
    from cbreservoir.tasks import N_CLASSES

    with _usage_errors():
        check_choice(args.task, "task", allowed=list(N_CLASSES))
        conditions = check_conditions(args.conditions or NOISE_CONDITIONS)
    return run_noise(
        args.runs,
        args.output_dir,
        task=args.task,
        conditions=conditions,
        seeds=args.seeds,
        level=args.level,
        n_batches=args.batches,
        progress=args.progress,
    )


def _render_noise(result: dict) -> str:
    from cbreservoir.experiments.noise import markdown_noise

    return markdown_noise(result)


def _run_bench(args: argparse.Namespace) -> dict:
    run_speed_benchmarks = _backend("cbreservoir.experiments.bench", "run_speed_benchmarks")
    from cbreservoir.experiments.bench import SIZES, format_table, result_to_json
    from cbreservoir.utils.threads import torch_threads

    unknown = sorted(set(args.sections or ()) - set(SIZES["full"]))
    if unknown:
        raise UsageError(f"--sections must be among {sorted(SIZES['full'])}; got {unknown}")
    with torch_threads(args.threads), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        result = run_speed_benchmarks(
            quick=args.quick, device=args.device, progress=not args.quiet, sections=args.sections
        )
    return {**result_to_json(result), "table": format_table(result)}


def _render_bench(result: dict) -> str:
    return result["table"]

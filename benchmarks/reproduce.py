"""Reproduce the CB-RNN study's comparison with cbreservoir.experiments.reproduce.

The study: Voce, Giannakakis & Clopath 2026, arXiv:2605.10356.

Runs every (task, condition, seed) as one resumable sweep cell, then writes ``summary.md``,
``summary.json`` and the figures into ``--output``. Re-running the same command resumes: finished runs
are read back from ``<output>/runs/``.

Usage::

    python benchmarks/reproduce.py --task dms parity --profile quick --output docs/results/reproduce
    python benchmarks/reproduce.py --task dms --profile paper --scaling --backend dask --scheduler tcp://HOST:8786
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

from cbreservoir.experiments.reproduce import (  # noqa: E402
    CONDITIONS,
    MAIN_CONDITIONS,
    PROFILES,
    STUDY_TASKS,
    get_profile,
    reproduce,
)
from cbreservoir.experiments.sweep import BACKENDS  # noqa: E402


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", nargs="+", choices=STUDY_TASKS, default=["dms", "parity"])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    parser.add_argument("--seeds", type=int, default=None, help="networks per condition (default: profile's)")
    parser.add_argument("--conditions", nargs="+", choices=list(CONDITIONS), default=list(MAIN_CONDITIONS))
    parser.add_argument("--scaling", action="store_true", help="also run the granule scaling sweep")
    parser.add_argument("--output", default="cbreservoir-reproduce")
    parser.add_argument("--backend", choices=BACKENDS, default="loky")
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--scheduler", default=None, help="dask scheduler address tcp://HOST:PORT")
    parser.add_argument(
        "--ensemble", type=int, default=1, help="runs of one task and architecture trained as one ensemble"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of the table")
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    profile = get_profile(arguments.profile)
    report = reproduce(
        arguments.task,
        profile=profile,
        seeds=arguments.seeds,
        conditions=arguments.conditions,
        output_dir=arguments.output,
        backend=arguments.backend,
        n_jobs=arguments.n_jobs,
        scheduler=arguments.scheduler,
        progress=not arguments.no_progress,
        granule_sizes=profile.granule_sizes if arguments.scaling else None,
        ensemble=arguments.ensemble,
    )
    if arguments.json:
        json.dump(report, sys.stdout, indent=1)
        print()
    else:
        print(report["table"])
        for summary in report["summaries"]:
            print(f"{summary['task']}: ordering {summary['ordering']}")
        seconds = report["wall_seconds"]
        print(f"{report['n_runs']} runs; this call: {seconds:.0f} s; outputs in {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

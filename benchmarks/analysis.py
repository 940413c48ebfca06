"""Analysis figures and JSON summary of quick-profile models (thin CLI over ``run_analysis``).

    OMP_NUM_THREADS=1 python benchmarks/analysis.py --output-dir docs/results/analysis

Trains (or resumes from ``--checkpoint-dir``) the CB-RNN and the full-reservoir model on DMS with the
reproduction profile, then writes ``summary.json`` and the PNG figures described in docs/analysis.md.
"""

from __future__ import annotations

import argparse
import sys

from cbreservoir.experiments.analysis_report import ANALYSIS_TASKS, DEFAULT_CONDITIONS, run_analysis


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default="docs/results/analysis", help="figures and summary.json")
    parser.add_argument("--task", default="dms", choices=ANALYSIS_TASKS)
    parser.add_argument("--profile", default="quick", help="reproduction profile: quick or paper")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--conditions", nargs="+", default=list(DEFAULT_CONDITIONS))
    parser.add_argument("--checkpoint-dir", default=None, help="checkpoints (default OUTPUT/checkpoints)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    summary = run_analysis(
        arguments.output_dir,
        task=arguments.task,
        profile=arguments.profile,
        seed=arguments.seed,
        conditions=arguments.conditions,
        checkpoint_dir=arguments.checkpoint_dir,
        progress=not arguments.quiet,
    )
    for condition, model in summary["models"].items():
        recovery = model["readout_recovery"]
        print(
            f"{condition}: level {model['analysis_level']}, intact {recovery['intact']:.3f}, "
            f"cerebellum off {recovery['zero_shot']:.3f}, readout retrained {recovery['recovered']:.3f}"
        )
    print(f"{summary['seconds']:.0f} s; outputs in {arguments.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

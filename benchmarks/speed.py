"""Speed table: cbreservoir against its peers, measured side by side in one run.

Rows: ``Reservoir.run`` (64 series x 2000 steps x 3 features, 500 units) in float64 and float32 against
``reservoirpy.nodes.Reservoir.run`` with identical weights; ``Ridge.fit`` on 100,000 x 1,000 states, in
memory and streamed, against reservoirpy's ``Ridge.fit``, and least-squares accuracy on ill-conditioned
states against ``numpy.linalg.lstsq``; one training update of 8 CB-RNNs as an ensemble against the plain
per-network loop of ``cbreservoir.experiments.reference`` run one network after another.

Usage::

    python benchmarks/speed.py                  # the full table (minutes on 2 cores)
    python benchmarks/speed.py --quick          # small sizes, seconds
    python benchmarks/speed.py --device cuda    # ensemble rows on the GPU
    python benchmarks/speed.py --json speed.json
"""

from __future__ import annotations

import argparse
import json
import warnings

import torch

from cbreservoir.experiments.bench import format_table, result_to_json, run_speed_benchmarks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="cbreservoir speed table against its peers")
    parser.add_argument("--quick", action="store_true", help="small sizes for a fast smoke run")
    parser.add_argument("--device", default="cpu", help="torch device of the ensemble rows (cpu, cuda)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", default=None, help="also write the measurements to this JSON file")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        result = run_speed_benchmarks(quick=args.quick, device=args.device)
    print(format_table(result))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result_to_json(result), handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

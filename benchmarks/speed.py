"""Speed table: cbreservoir against its peers, measured side by side in one run.

Rows, one thread: ``Reservoir(100).run`` and ``Reservoir(500).run`` on one (4000, 3) series against
``reservoirpy.nodes.Reservoir.run`` (reservoirpy's default CSR ``W``, the same ``W`` dense, float32 states,
a per-unit ``lr``); ``(Reservoir(100) >> Ridge).fit`` on that series against reservoirpy's same model; a
64 x 2000 batch with 500 units against a bare numpy/scipy loop; closed-loop generation
(``cbreservoir.graph.generate``, 200 warm-up steps then 300 fed back) of ``Reservoir(300) >> Ridge`` and
``Reservoir(300) >> Cerebellum() >> Ridge`` against reservoirpy's ``Reservoir(300) >> Ridge`` with the same
weights (the ratio printed in the table); the first run of a fresh process with
numba's cache empty and filled against reservoirpy's. Then, with the default threads:
``Reservoir.run`` (64 series x 2000 steps x 3 features, 500 units) in float64 and float32 against
``reservoirpy.nodes.Reservoir.run`` with identical weights; ``Ridge.fit`` on 100,000 x 1,000 states, in
memory and streamed, against reservoirpy's ``Ridge.fit``, and least-squares accuracy on ill-conditioned
states against ``numpy.linalg.lstsq``; one training update of 8 CB-RNNs as an ensemble against the plain
per-network loop of ``cbreservoir.experiments.reference`` run one network after another.

Usage::

    python benchmarks/speed.py                  # the full table (minutes on 2 cores)
    python benchmarks/speed.py --quick          # small sizes, seconds
    python benchmarks/speed.py --device cuda    # ensemble rows on the GPU
    python benchmarks/speed.py --json speed.json
    python benchmarks/speed.py --sections series model_fit batch closed_loop first_call   # one-thread rows
    python benchmarks/speed.py --sections closed_loop                          # the closed-loop rows
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
    parser.add_argument(
        "--sections",
        nargs="+",
        default=None,
        help="only these row groups (keys of cbreservoir.experiments.bench.SIZES, e.g. series model_fit)",
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        result = run_speed_benchmarks(quick=args.quick, device=args.device, sections=args.sections)
    print(format_table(result))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result_to_json(result), handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

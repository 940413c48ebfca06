"""``Model.run`` of a pure-cbreservoir graph against ``run_batched`` and reservoirpy's per-series run.

``Reservoir(100) >> Cerebellum(300) >> Ridge`` (fitted once), run on 64 series of 1000 steps by the
three paths, measured side by side: each round runs all three in a rotating order, every run starting
from zero states; the medians over the rounds and their ratios are printed. The outputs of the three
paths are checked equal (float64, 1e-12) first.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/graph_run.py            # about a minute on 2 shared cores
    OMP_NUM_THREADS=1 python benchmarks/graph_run.py --rounds 3 --series 16
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from reservoirpy.model import Model as ReservoirpyModel

from cbreservoir.graph import run_batched
from cbreservoir.nodes import Cerebellum, Reservoir, Ridge


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=64)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    u = np.random.default_rng(0).uniform(-1.0, 1.0, (args.series, args.steps, 1))
    model = Reservoir(100, sr=0.9, lr=0.5, seed=0) >> Cerebellum(300, seed=1) >> Ridge(1e-6)
    model.fit(u[:8], np.roll(u[:8], 2, axis=1), warmup=10)
    paths: dict[str, Callable[[np.ndarray], object]] = {
        "Model.run": model.run,
        "run_batched": lambda x: run_batched(model, x),
        "per-series (reservoirpy Model.run)": lambda x: ReservoirpyModel.run(model, x),
    }
    outputs = {}
    for name, run in paths.items():
        model.reset()
        outputs[name] = np.asarray(run(u))
    for name, out in outputs.items():
        np.testing.assert_allclose(out, outputs["run_batched"], rtol=0, atol=1e-12, err_msg=name)
    times: dict[str, list[float]] = {name: [] for name in paths}
    names = list(paths)
    for round_index in range(args.rounds):
        for name in names[round_index % 3 :] + names[: round_index % 3]:
            model.reset()
            start = time.perf_counter()
            paths[name](u)
            times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{args.series} series x {args.steps} steps, {args.rounds} rounds, median seconds:")
    for name, value in median.items():
        print(f"  {name:36s} {value:8.3f} s   ({value / median['run_batched']:.2f} x run_batched)")
    print(f"Model.run / run_batched = {median['Model.run'] / median['run_batched']:.3f}")


if __name__ == "__main__":
    main()

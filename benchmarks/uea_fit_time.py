"""Where the fit time of ``CerebellarReservoirClassifier()`` goes on the four UEA/UCR sets (issue 18).

``benchmarks/uea.py`` compares total fit times with MiniRocket's. This script splits one default fit into
its stages, each timed alone on the same data as in ``fit`` (median of ``--repeat`` runs, one thread):

* ``features`` — standardising the inputs, the reservoir run, the granule layer and the pooling
  (``_readout_inputs`` of a fitted model);
* ``ridge`` — standardising the pooled columns and the closed-form ``Ridge`` fit on them (with fewer
  series than columns, ``Ridge.fit`` solves the ``(n_series, n_series)`` dual system);
* ``fit`` — the whole ``fit`` (node construction included);
* ``dual`` — the dual solve alone, ``W = Zcᵀ (Zc Zcᵀ + alpha I)⁻¹ Yc`` (centred ``Z``, ``Y``), written out
  (the script checks that it gives the node's weights);

and times MiniRocket's fit on the same sets after one untimed fit (its numba kernels compiled).

Usage::

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/uea_fit_time.py
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import scipy.linalg
from sklearn.preprocessing import StandardScaler

from cbreservoir.datasets import load_uea
from cbreservoir.estimators import CerebellarReservoirClassifier
from cbreservoir.nodes import Ridge

SETS = ("JapaneseVowels", "BasicMotions", "GunPoint", "ItalyPowerDemand")


def _median_seconds(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _channels_first(series: list[np.ndarray]) -> np.ndarray:
    length = max(len(x) for x in series)
    out = np.zeros((len(series), series[0].shape[1], length))
    for row, x in enumerate(series):
        out[row, :, : len(x)] = x.T
    return out


def stage_times(name: str, repeat: int) -> dict[str, float]:
    """Median seconds of the stages of one default fit on the training split of ``name``."""
    from aeon.classification.convolution_based import MiniRocketClassifier

    X, y = load_uea(name, "train")
    model = CerebellarReservoirClassifier(random_state=0, n_jobs=1).fit(X, y)
    batch = model._validated_input(X)
    rows = model._readout_inputs(batch, training=True)
    one_hot = np.eye(len(model.classes_))[np.searchsorted(model.classes_, y)]

    def ridge() -> Ridge:
        return Ridge(ridge=model.alpha).fit(StandardScaler().fit_transform(rows), one_hot)

    def dual() -> np.ndarray:
        z = StandardScaler().fit_transform(rows)
        z -= z.mean(axis=0)
        gram = z @ z.T + model.alpha * np.eye(len(z))
        return z.T @ scipy.linalg.solve(gram, one_hot - one_hot.mean(axis=0), assume_a="pos")

    np.testing.assert_allclose(dual(), ridge().Wout, atol=1e-8)

    minirocket_X = _channels_first(X)
    MiniRocketClassifier(random_state=0, n_jobs=1).fit(minirocket_X, y)  # compiles the kernels
    return {
        "fit": _median_seconds(
            lambda: CerebellarReservoirClassifier(random_state=0, n_jobs=1).fit(X, y), repeat
        ),
        "features": _median_seconds(lambda: model._readout_inputs(batch, training=True), repeat),
        "ridge": _median_seconds(ridge, repeat),
        "dual": _median_seconds(dual, repeat),
        "readout_inputs": rows.shape[1],
        "minirocket_fit": _median_seconds(
            lambda: MiniRocketClassifier(random_state=0, n_jobs=1).fit(minirocket_X, y), repeat
        ),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print("| set | fit s | features s | ridge s (readout inputs) | ridge, dual form s | MiniRocket fit s |")
    print("|---|---|---|---|---|---|")
    totals = dict.fromkeys(("fit", "features", "ridge", "dual", "minirocket_fit"), 0.0)
    for name in SETS:
        times = stage_times(name, args.repeat)
        for key in totals:
            totals[key] += times[key]
        print(
            f"| {name} | {times['fit']:.3f} | {times['features']:.3f} | {times['ridge']:.3f} "
            f"({times['readout_inputs']}) | {times['dual']:.4f} | {times['minirocket_fit']:.3f} |",
            flush=True,
        )
    print(
        f"| total | {totals['fit']:.3f} | {totals['features']:.3f} | {totals['ridge']:.3f} | "
        f"{totals['dual']:.4f} | {totals['minirocket_fit']:.3f} |"
    )


if __name__ == "__main__":
    main()

"""How far a float32 Gram matrix moves ridge weights, against the conditioning of the system.

For reservoir states, granule codes of those states and the well-conditioned features of the speed
benchmark, and several ``ridge`` values, this prints the reciprocal condition number (LAPACK estimate)
of the regularised system, the largest relative weight and prediction differences between float32 and
float64 Gram matrices (both solved by Cholesky, no fallback), and their product ``error x rcond``, which
stays within a small range: that range sets ``cbreservoir.numerics.ridge.FLOAT32_GRAM_MIN_RCOND``.

Usage::

    python benchmarks/float32_gram.py          # about a minute on 2 cores
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

from cbreservoir.nodes import Cerebellum, Reservoir
from cbreservoir.numerics.ridge import GramStatistics, cholesky_solve

RIDGES = (1e-6, 1e-3, 1e-1, 1.0, 10.0)


def feature_sets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (X (n, d), Y (n, k)): reservoir states, their granule code, the speed benchmark's features."""
    # the features and targets of cbreservoir.experiments.bench.bench_ridge_fit
    rng = np.random.default_rng(0)
    X = np.tanh(rng.standard_normal((100_000, 1000)))
    Y = X[:, :10] - 0.5 * X[:, 10:20] + 0.1 * rng.standard_normal((100_000, 10))
    u = np.random.default_rng(1).uniform(-1.0, 1.0, (20, 2000, 1))
    y = (np.roll(u, 3, axis=1) * np.roll(u, 1, axis=1)).reshape(-1, 1)
    states = np.asarray(Reservoir(300, sr=0.9, lr=0.3, input_connectivity=1.0, seed=1).run(u))
    granule = np.asarray(Cerebellum(n_granule=1000, output="granule", seed=2).run(states))
    return {
        "reservoir states (300 units)": (states.reshape(-1, 300), y),
        "granule code (1000 cells)": (granule.reshape(-1, 1000), y),
        "speed benchmark features (tanh of noise)": (X, Y),
    }


def reciprocal_condition(gram: np.ndarray, ridge: float) -> float:
    """LAPACK's estimate of the reciprocal 1-norm condition number of ``gram + ridge·I`` (0 if not SPD)."""
    system = gram + ridge * np.eye(len(gram))
    factor, info = lapack.dpotrf(system, lower=False, clean=True)
    return 0.0 if info else float(lapack.dpocon(factor, np.abs(system).sum(axis=0).max())[0])


def main() -> None:
    print("| features | ridge | rcond | weight rel. error | prediction rel. error | error x rcond |")
    print("|---|---|---|---|---|---|")
    for name, (X, Y) in feature_sets().items():
        statistics = {}
        for dtype in ("float64", "float32"):
            statistics[dtype] = GramStatistics(X.shape[1], Y.shape[1], centered=True, gram_dtype=dtype)
            statistics[dtype].update([(X, Y)])
        for ridge in RIDGES:
            exact = cholesky_solve(statistics["float64"].gram(), statistics["float64"].xy, ridge=ridge)
            rounded = cholesky_solve(statistics["float32"].gram(), statistics["float32"].xy, ridge=ridge)
            rcond = reciprocal_condition(statistics["float32"].gram(), ridge)
            if exact is None or rounded is None:
                print(f"| {name} | {ridge:g} | {rcond:.1e} | numerically singular | | |")
                continue
            error = np.abs(rounded - exact).max() / np.abs(exact).max()
            prediction = np.linalg.norm(X @ (rounded - exact)) / np.linalg.norm(X @ exact)
            cells = f"{rcond:.1e} | {error:.1e} | {prediction:.1e} | {error * rcond:.1e}"
            print(f"| {name} | {ridge:g} | {cells} |")


if __name__ == "__main__":
    main()

"""Sequence classification on four UEA/UCR sets: cbreservoir against MiniRocket and two ESN peers (issue 18).

Sets (shipped inside aeon's wheel, published train/test splits): JapaneseVowels, BasicMotions, GunPoint,
ItalyPowerDemand. Every model gets the series as loaded (no preprocessing outside the model); models
that need equal lengths (MiniRocket, rmESN) get JapaneseVowels zero-padded at the end to its longest
series. For each model and set: test accuracy (mean ± SD over seeds), fit and predict seconds (mean), one
thread (``OMP_NUM_THREADS=1`` and ``n_jobs=1``).

Models
------
``ours``
    ``CerebellarReservoirClassifier(random_state=seed)``: the defaults (``benchmarks/uea_generalisation.py``;
    docs/real-data.md's table of this script was measured with the earlier ones of
    ``benchmarks/uea_search.py``).
``ours-cv``
    The GridSearchCV recipe of docs/real-data.md: :data:`CV_GRID`, stratified 3-fold CV on the
    training split; the fit time includes the search and the refit.
``graph``
    ``Reservoir(500, lr=0.3, sr=0.9, input_connectivity=1.0)``
    ``>> Cerebellum(n_granule=2000, output="granule") >> Ridge(1e-2)``
    composed from the nodes, read at the final step (the setting of issue 18's opening note).
``cbrnn``
    ``CBRNNClassifier(units=32, n_granule=128, n_purkinje=32, epochs=30)`` (BPTT).
``esn``
    reservoirpy's ESN as in its classification tutorial: ``Reservoir(500, sr=0.9, lr=0.1)``, the last
    state of each series (from a reset state), ``Ridge(ridge=1e-6)`` on one-hot labels.
``minirocket``
    ``aeon.classification.convolution_based.MiniRocketClassifier`` (10,000 kernels, ridge CV). Its
    numba kernels are compiled by an untimed fit on a few series before the timed runs.
``rmesn``
    Bianchi et al.'s reservoir model-space classifier (``reservoir-computing`` 1.0.2, ``RC_model``)
    with the settings of the package's classification example (:data:`RMESN_CONFIG`); the package draws
    from numpy's global generator, seeded per run.

Usage::

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/uea.py --out docs/results/uea
    OMP_NUM_THREADS=1 python benchmarks/uea.py --seeds 1 --models ours esn   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cbreservoir.datasets import load_uea

SETS = ("JapaneseVowels", "BasicMotions", "GunPoint", "ItalyPowerDemand")
MODELS = ("ours", "ours-cv", "graph", "cbrnn", "esn", "minirocket", "rmesn")
#: Models run with ``--slow-seeds`` seeds (fewer), so that the whole benchmark stays within 15 minutes.
SLOW_MODELS = ("ours-cv", "graph", "cbrnn")
LABELS = {
    "ours": "CerebellarReservoirClassifier() defaults",
    "ours-cv": "CerebellarReservoirClassifier + GridSearchCV",
    "graph": "Reservoir >> Cerebellum >> Ridge graph (final step)",
    "cbrnn": "CBRNNClassifier (BPTT, 30 epochs)",
    "esn": "reservoirpy ESN (tutorial: 500 units, last state)",
    "minirocket": "aeon MiniRocketClassifier",
    "rmesn": "rmESN (reservoir-computing 1.0.2)",
}
#: The grid of the tuned variant (docs/real-data.md).
CV_GRID = {
    "lr": [0.3, 1.0],
    "alpha": [1e-2, 1e-1, 1.0],
    "pooling": [("mean", "active"), ("last", "mean", "active")],
}
#: ``RC_model`` settings of the reservoir-computing package's classification example.
RMESN_CONFIG = dict(
    n_internal_units=450,
    spectral_radius=0.59,
    leak=0.6,
    connectivity=0.25,
    input_scaling=0.1,
    noise_level=0.01,
    n_drop=5,
    bidir=True,
    dimred_method="tenpca",
    n_dim=75,
    mts_rep="reservoir",
    w_ridge_embedding=10.0,
    readout_type="lin",
    w_ridge=5.0,
)

Data = tuple[list[np.ndarray], np.ndarray, list[np.ndarray], np.ndarray]
#: A runner fits on the training split and returns (predicted test labels, fit s, predict s).
Runner = Callable[[Data, int], tuple[np.ndarray, float, float]]


def _timed(function: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def _padded(series: list[np.ndarray], length: int) -> np.ndarray:
    """Zero-pad ``(T_i, d)`` series at the end to ``(S, length, d)``."""
    out = np.zeros((len(series), length, series[0].shape[1]))
    for row, x in enumerate(series):
        out[row, : len(x)] = x
    return out


def _fit_predict(model: object, X_train: object, y_train: np.ndarray, X_test: object):
    """Fit ``model`` and predict the test series; return (labels, fit s, predict s)."""
    _, fit_s = _timed(lambda: model.fit(X_train, y_train))
    predicted, predict_s = _timed(lambda: model.predict(X_test))
    return np.asarray(predicted), fit_s, predict_s


def run_ours(data: Data, seed: int) -> tuple[np.ndarray, float, float]:
    from cbreservoir.estimators import CerebellarReservoirClassifier

    return _fit_predict(CerebellarReservoirClassifier(random_state=seed, n_jobs=1), *data[:3])


def run_ours_cv(data: Data, seed: int) -> tuple[np.ndarray, float, float]:
    from sklearn.model_selection import GridSearchCV

    from cbreservoir.estimators import CerebellarReservoirClassifier

    search = GridSearchCV(CerebellarReservoirClassifier(random_state=seed, n_jobs=1), CV_GRID, cv=3)
    return _fit_predict(search, *data[:3])


def run_graph(data: Data, seed: int) -> tuple[np.ndarray, float, float]:
    from cbreservoir.graph import predict_final
    from cbreservoir.nodes import Cerebellum, Reservoir, Ridge

    X_train, y_train, X_test, _ = data
    classes, codes = np.unique(y_train, return_inverse=True)

    def fit():
        model = (
            Reservoir(500, lr=0.3, sr=0.9, input_connectivity=1.0, seed=seed)
            >> Cerebellum(n_granule=2000, output="granule", seed=seed + 1)
            >> Ridge(ridge=1e-2)
        )
        return model.fit(X_train, np.eye(len(classes))[codes])

    model, fit_s = _timed(fit)
    scores, predict_s = _timed(lambda: predict_final(model, X_test))
    return classes[np.argmax(scores, axis=1)], fit_s, predict_s


def run_cbrnn(data: Data, seed: int) -> tuple[np.ndarray, float, float]:
    from cbreservoir.estimators import CBRNNClassifier

    model = CBRNNClassifier(units=32, n_granule=128, n_purkinje=32, epochs=30, random_state=seed, n_jobs=1)
    return _fit_predict(model, *data[:3])


def run_esn(data: Data, seed: int) -> tuple[np.ndarray, float, float]:
    from reservoirpy.nodes import Reservoir, Ridge

    X_train, y_train, X_test, _ = data
    classes, codes = np.unique(y_train, return_inverse=True)
    reservoir = Reservoir(500, sr=0.9, lr=0.1, seed=seed)

    def last_states(series: list[np.ndarray]) -> np.ndarray:
        if not reservoir.initialized:
            reservoir.initialize(series[0])
        last = []
        for x in series:
            reservoir.reset()
            last.append(reservoir.run(x)[-1])
        return np.stack(last)

    readout, fit_s = _timed(lambda: Ridge(ridge=1e-6).fit(last_states(X_train), np.eye(len(classes))[codes]))
    scores, predict_s = _timed(lambda: readout.run(last_states(X_test)))
    return classes[np.argmax(scores, axis=1)], fit_s, predict_s


def _channels_first(series: list[np.ndarray], length: int) -> np.ndarray:
    return _padded(series, length).transpose(0, 2, 1)


def run_minirocket(data: Data, seed: int) -> tuple[np.ndarray, float, float]:
    from aeon.classification.convolution_based import MiniRocketClassifier

    X_train, y_train, X_test, _ = data
    length = max(len(x) for x in X_train + X_test)
    model = MiniRocketClassifier(random_state=seed, n_jobs=1)
    return _fit_predict(model, _channels_first(X_train, length), y_train, _channels_first(X_test, length))


def run_rmesn(data: Data, seed: int) -> tuple[np.ndarray, float, float]:
    from reservoir_computing.modules import RC_model

    X_train, y_train, X_test, _ = data
    length = max(len(x) for x in X_train + X_test)
    classes, codes = np.unique(y_train, return_inverse=True)
    np.random.seed(seed)  # the package draws its weights and noise from numpy's global generator
    model = RC_model(**RMESN_CONFIG)
    train, test = _padded(X_train, length), _padded(X_test, length)
    _, fit_s = _timed(lambda: model.fit(train, np.eye(len(classes))[codes], verbose=False))
    predicted, predict_s = _timed(lambda: model.predict(test))
    return classes[np.asarray(predicted, dtype=int)], fit_s, predict_s


RUNNERS: dict[str, Runner] = {
    "ours": run_ours,
    "ours-cv": run_ours_cv,
    "graph": run_graph,
    "cbrnn": run_cbrnn,
    "esn": run_esn,
    "minirocket": run_minirocket,
    "rmesn": run_rmesn,
}


def warm_up_minirocket(data: dict[str, Data]) -> None:
    """Compile MiniRocket's numba kernels (univariate and multivariate) outside the timed runs."""
    for name in ("BasicMotions", "GunPoint"):
        X_train, y_train, _, _ = data[name]
        picked = np.concatenate([np.flatnonzero(y_train == label)[:2] for label in np.unique(y_train)])
        run_minirocket(([X_train[i] for i in picked], y_train[picked], X_train[:2], y_train[:2]), 0)


def run_benchmark(models: list[str], seeds: dict[str, int]) -> dict:
    """Every model on every set, ``seeds[model]`` seeds each (0, 1, ...).

    Returns
    -------
    dict
        ``{"results": {model: {set: {"accuracy": [...], "fit_s": [...], "predict_s": [...]}}}, ...}``.
    """
    data = {name: (*load_uea(name, "train"), *load_uea(name, "test")) for name in SETS}
    if "minirocket" in models:
        warm_up_minirocket(data)
    results: dict[str, dict] = {}
    for model in models:
        results[model] = {}
        for name in SETS:
            runs = {"accuracy": [], "fit_s": [], "predict_s": []}
            for seed in range(seeds[model]):
                predicted, fit_s, predict_s = RUNNERS[model](data[name], seed)
                runs["accuracy"].append(float(np.mean(predicted == data[name][3])))
                runs["fit_s"].append(fit_s)
                runs["predict_s"].append(predict_s)
            results[model][name] = runs
            print(
                f"{model:>10} {name:>16}: accuracy {np.mean(runs['accuracy']):.3f} ± "
                f"{np.std(runs['accuracy']):.3f}, fit {np.mean(runs['fit_s']):.2f} s, "
                f"predict {np.mean(runs['predict_s']):.2f} s ({seeds[model]} seeds)",
                flush=True,
            )
    return {"results": results, "seeds": seeds, "sets": SETS, "threads": os.environ.get("OMP_NUM_THREADS")}


def format_table(benchmark: dict) -> str:
    """Markdown table: accuracy mean ± SD per set, the mean over sets, total fit and predict seconds."""
    header = "| model | seeds | " + " | ".join(SETS) + " | mean | fit s (4 sets) | predict s (4 sets) |"
    lines = [header, "|" + "---|" * (len(SETS) + 5)]
    for model, per_set in benchmark["results"].items():
        accuracy = [np.mean(per_set[name]["accuracy"]) for name in SETS]
        cells = [
            f"{np.mean(per_set[n]['accuracy']):.3f} ± {np.std(per_set[n]['accuracy']):.3f}" for n in SETS
        ]
        fit = sum(np.mean(per_set[name]["fit_s"]) for name in SETS)
        predict = sum(np.mean(per_set[name]["predict_s"]) for name in SETS)
        lines.append(
            f"| {LABELS[model]} | {benchmark['seeds'][model]} | "
            + " | ".join(cells)
            + f" | {np.mean(accuracy):.3f} | {fit:.1f} | {predict:.1f} |"
        )
    return "\n".join(lines)


def plot(benchmark: dict, path: Path) -> None:
    """Mean accuracy over the sets against total fit time (log scale), one point per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for model, per_set in benchmark["results"].items():
        accuracy = np.mean([np.mean(per_set[name]["accuracy"]) for name in SETS])
        fit = sum(np.mean(per_set[name]["fit_s"]) for name in SETS)
        ax.scatter(fit, accuracy, s=40, label=LABELS[model])
    ax.legend(loc="lower left", fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("total fit time over the 4 sets (s, one thread)")
    ax.set_ylabel("mean test accuracy over the 4 sets")
    ax.set_title("JapaneseVowels, BasicMotions, GunPoint, ItalyPowerDemand", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--seeds", type=int, default=5, help="seeds per model (default 5)")
    parser.add_argument(
        "--slow-seeds", type=int, default=3, help=f"seeds for the slow models {SLOW_MODELS} (default 3)"
    )
    parser.add_argument("--out", type=Path, help="folder for uea.json, uea.md and uea.png")
    args = parser.parse_args(argv)
    seeds = {m: args.slow_seeds if m in SLOW_MODELS else args.seeds for m in args.models}
    benchmark = run_benchmark(args.models, seeds)
    table = format_table(benchmark)
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "uea.json").write_text(json.dumps(benchmark, indent=1) + "\n")
        (args.out / "uea.md").write_text(table + "\n")
        plot(benchmark, args.out / "uea.png")


if __name__ == "__main__":
    main()

"""The search that chose the defaults of ``CerebellarReservoirClassifier`` (issue 18).

One setting for all four sets (no per-set tuning), chosen on the TRAINING splits only: each candidate is
scored by its accuracy under stratified 3-fold cross-validation on the training split of each of
JapaneseVowels, BasicMotions, GunPoint and ItalyPowerDemand, two estimator seeds each, averaged over
the sets. The test splits are never read here (``benchmarks/uea.py`` reports them).

The search is coordinate-wise: starting from ``START``, each stage in ``STAGES`` tries the values of
one parameter with the others held at the best so far and keeps the best (ties within ``TIE`` go to
the candidate with the smaller total fit time). A final ablation scores, at the chosen setting, each
pooling alone and the inputs left unstandardised.

Usage::

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/uea_search.py --out docs/results/uea_search.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from cbreservoir.datasets import load_uea
from cbreservoir.estimators import CerebellarReservoirClassifier

SETS = ("JapaneseVowels", "BasicMotions", "GunPoint", "ItalyPowerDemand")
SEEDS = (100, 101)
FOLDS = 3
#: Mean accuracies closer than this are ties; the faster candidate wins.
TIE = 0.002

#: The estimator's defaults before issue 18, with the pooled features switched on.
START: dict[str, object] = {
    "pooling": ("last", "mean", "active"),
    "units": 100,
    "lr": 1.0,
    "sr": 0.9,
    "input_scaling": 1.0,
    "input_connectivity": 0.1,
    "n_granule": 256,
    "coding_level": None,
    "alpha": 1e-6,
}
STAGES: list[tuple[str, list[object]]] = [
    ("pooling", [("last",), ("mean",), ("active",), ("mean", "active"), ("last", "mean", "active")]),
    ("units", [50, 100, 200, 400]),
    ("lr", [0.1, 0.3, 0.6, 1.0]),
    ("sr", [0.5, 0.9, 1.2]),
    ("input_scaling", [0.3, 1.0, 3.0]),
    ("input_connectivity", [0.1, 0.5, 1.0]),
    ("n_granule", [128, 256, 512, 1024]),
    ("coding_level", [None, 0.1, 0.3, 0.5]),
    ("alpha", [1e-6, 1e-3, 1e-1, 1.0, 10.0]),
    ("lr", [0.1, 0.3, 0.6, 1.0]),
    ("units", [100, 200, 400]),
]
ABLATION: list[dict[str, object]] = [
    {"pooling": ("last",)},
    {"pooling": ("mean",)},
    {"pooling": ("active",)},
    {"standardize": False},
]


def load_training_splits() -> dict[str, tuple[list[np.ndarray], np.ndarray]]:
    """Training split of each set in :data:`SETS`."""
    return {name: load_uea(name, "train") for name in SETS}


def cv_score(params: dict[str, object], data: dict[str, tuple[list[np.ndarray], np.ndarray]]) -> dict:
    """Cross-validated accuracy of ``params`` on each set (mean over folds and seeds) and fit seconds.

    Returns
    -------
    dict
        ``{"per_set": {name: accuracy}, "mean": float, "fit_s": float}``.
    """
    per_set, fit_s = {}, 0.0
    for name, (X, y) in data.items():
        scores = []
        for train, test in StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(np.zeros(len(y)), y):
            for seed in SEEDS:
                model = CerebellarReservoirClassifier(random_state=seed, n_jobs=1, **params)
                start = time.perf_counter()
                model.fit([X[i] for i in train], y[train])
                fit_s += time.perf_counter() - start
                scores.append(model.score([X[i] for i in test], y[test]))
        per_set[name] = float(np.mean(scores))
    return {"per_set": per_set, "mean": float(np.mean(list(per_set.values()))), "fit_s": fit_s}


def _label(params: dict[str, object]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in params.items())


def search(data: dict) -> dict:
    """Run the stages; return the chosen parameters, every evaluation and the ablation."""
    best = dict(START)
    cache: dict[str, dict] = {}
    history = []

    def evaluate(params: dict[str, object]) -> dict:
        key = _label(dict(sorted(params.items())))
        if key not in cache:
            cache[key] = cv_score(params, data)
            result = cache[key]
            print(f"{result['mean']:.4f} {result['fit_s']:6.1f}s  {_label(params)}", flush=True)
        return cache[key]

    for parameter, values in STAGES:
        results = []
        for value in values:
            candidate = {**best, parameter: value}
            results.append((candidate, evaluate(candidate)))
            history.append({"stage": parameter, "params": _label(candidate), **results[-1][1]})
        top = max(result["mean"] for _, result in results)
        ties = [(c, r) for c, r in results if r["mean"] >= top - TIE]
        best = min(ties, key=lambda item: item[1]["fit_s"])[0]
        print(f"-- {parameter}: {best[parameter]!r}", flush=True)
    ablation = [{"change": _label(change), **evaluate({**best, **change})} for change in ABLATION]
    return {
        "chosen": {key: list(v) if isinstance(v, tuple) else v for key, v in best.items()},
        "chosen_score": evaluate(best),
        "history": history,
        "ablation": ablation,
        "protocol": {"sets": SETS, "seeds": SEEDS, "folds": FOLDS, "tie": TIE},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    result = search(load_training_splits())
    print(json.dumps(result["chosen"]), json.dumps(result["chosen_score"]))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

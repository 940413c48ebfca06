"""Defaults that generalise: chosen on training splits only, scored on sets left out (issue 23).

Protocol
--------
1. Sets: every classification set in aeon 1.6's wheel (:data:`cbreservoir.datasets.UEA_DATASETS`).
2. Candidates: the grid :data:`GRID` of ``CerebellarReservoirClassifier`` settings (every other
   argument given explicitly, at :data:`BASE`).
3. Every candidate is scored ONCE by stratified 3-fold cross-validation on the TRAINING split of every
   set (estimator seed 0); the table is cached in ``cv.json`` (resumable: cached cells are not rerun).
4. Leave one set out: for each set S, the defaults are the candidate with the best mean CV accuracy over
   the OTHER sets (ties within :data:`TIE` go to the candidate with the smaller CV fit time); they are
   fitted on S's training split and scored on S's test split (seeds 0..n-1). The test splits are read
   only here.
5. Peers on the same splits, fitted in the same loop, alternating with ours: aeon's
   ``MiniRocketClassifier`` (after an untimed fit that compiles its kernels) and reservoirpy's ESN
   (``Reservoir(500, sr=0.9, lr=0.1) >> Ridge(1e-6)`` on the final state and on the mean state of
   each series, benchmarks/uea.py). Equal-length peers get series zero-padded at the end.
6. The package default is the candidate best over ALL sets' CV (reported, not used in step 4).

Usage::

    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/uea_generalisation.py --out docs/results/uea/generalisation
    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/uea_generalisation.py --grid bidirectional \
        --out docs/results/uea/generalisation_bidirectional          # the second, exploratory grid
    OMP_NUM_THREADS=1 python benchmarks/uea_generalisation.py --quick --out /tmp/gen   # smoke run
    cp docs/results/uea/generalisation/cv.json docs/results/uea/generalisation_auto/   # the same CV table
    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/uea_generalisation.py --auto \
        --out docs/results/uea/generalisation_auto     # issue 35: the reading chosen inside fit
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
from uea import run_esn, run_minirocket  # noqa: E402  (the peers of benchmarks/uea.py)

from cbreservoir.datasets import UEA_DATASETS, load_uea  # noqa: E402
from cbreservoir.estimators import CerebellarReservoirClassifier  # noqa: E402
from cbreservoir.estimators._choice import Reading  # noqa: E402

FOLDS = 3
CV_SEED = 0
#: Mean CV accuracies closer than this are ties (the faster candidate wins).
TIE = 0.002
#: Ridge penalties searched by leave-one-out inside ``fit`` when a candidate has ``alpha="loo"``.
LOO_ALPHAS = tuple(float(a) for a in 10.0 ** np.arange(-2, 6))
#: Every argument of the estimator, so that a change of its defaults cannot change the protocol; the grid
#: overrides some (these base values of the grid's options are issue 18's).
BASE: dict[str, object] = dict(
    units=100,
    sr=0.9,
    input_scaling=0.3,
    input_connectivity=0.5,
    rc_connectivity=0.1,
    activation="tanh",
    n_granule=512,
    granule_degree=None,
    coding_level=None,
    warmup=0,
    pooling=("mean", "active"),
    standardize=True,
    lr=1.0,
    differences=False,
    windows=1,
    state_features=False,
    bidirectional=False,
    alpha=0.1,
    max_steps=None,
)
#: The candidate grid: every combination of these values.
GRID: dict[str, list[object]] = {
    "lr": [1.0, (1.0, 0.3, 0.1)],
    "differences": [False, True],
    "windows": [1, 4],
    "state_features": [False, True],
    "alpha": [0.1, "loo"],
    "max_steps": [64, 200],
}
#: The second, exploratory grid (``--grid bidirectional``): GRID and a backward pass.
BIDIRECTIONAL_GRID: dict[str, list[object]] = {
    **{k: v for k, v in GRID.items() if k not in ("alpha", "max_steps")},
    "bidirectional": [False, True],
    "alpha": GRID["alpha"],
    "max_steps": GRID["max_steps"],
}
GRIDS = {"main": GRID, "bidirectional": BIDIRECTIONAL_GRID}
QUICK_GRID: dict[str, list[object]] = {"windows": [1, 4], "alpha": [0.1, "loo"], "max_steps": [64]}
QUICK_SETS = ("UnitTest", "ItalyPowerDemand", "BasicMotions")


def candidates(grid: dict[str, list[object]]) -> dict[str, dict[str, object]]:
    """Name -> grid values of every combination (names are stable: the cache's keys)."""
    out = {}
    for values in itertools.product(*grid.values()):
        setting = dict(zip(grid, values, strict=True))
        out[";".join(f"{k}={v}" for k, v in setting.items())] = setting
    return out


def estimator(setting: dict[str, object], seed: int, auto: bool = False) -> CerebellarReservoirClassifier:
    """The candidate's classifier; with ``auto`` it also chooses its reading and penalty (among
    :data:`LOO_ALPHAS`) inside ``fit`` (issue 35), around the candidate's settings."""
    params = {**BASE, **setting}
    if params.get("alpha") == "loo" or auto:
        params["alpha"] = LOO_ALPHAS
    return CerebellarReservoirClassifier(**params, auto=auto, random_state=seed, n_jobs=1)


def cv_score(setting: dict[str, object], X: list[np.ndarray], y: np.ndarray) -> dict[str, float]:
    """Stratified k-fold accuracy on a training split, and the total fit seconds of the folds."""
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=CV_SEED)
    accuracy, fit_s = [], 0.0
    for train, test in folds.split(np.zeros(len(y)), y):
        model = estimator(setting, CV_SEED)
        start = time.perf_counter()
        model.fit([X[i] for i in train], y[train])
        fit_s += time.perf_counter() - start
        accuracy.append(model.score([X[i] for i in test], y[test]))
    return {"accuracy": float(np.mean(accuracy)), "fit_s": fit_s}


def cv_table(grid: dict, sets: tuple[str, ...], cache: Path) -> dict[str, dict[str, dict]]:
    """``{candidate: {set: {"accuracy", "fit_s"}}}``, read from ``cache`` where present, saved per cell."""
    table = json.loads(cache.read_text()) if cache.exists() else {}
    train = {name: load_uea(name, "train") for name in sets}
    for key, setting in candidates(grid).items():
        row = table.setdefault(key, {})
        for name in sets:
            if name in row:
                continue
            row[name] = cv_score(setting, *train[name])
            cache.write_text(json.dumps(table, indent=1) + "\n")
        mean = np.mean([row[name]["accuracy"] for name in sets])
        print(f"cv {mean:.3f} {key}", flush=True)
    return table


def best_candidate(table: dict, keys: list[str], sets: list[str]) -> str:
    """The candidate with the best mean CV accuracy over ``sets`` (ties within TIE: least fit time)."""
    means = {k: np.mean([table[k][s]["accuracy"] for s in sets]) for k in keys}
    top = max(means.values())
    tied = [k for k in keys if means[k] >= top - TIE]
    return min(tied, key=lambda k: sum(table[k][s]["fit_s"] for s in sets))


def _padded_length(data) -> int:
    return max(len(x) for x in data[0] + data[2])


def evaluate(table: dict, grid: dict, sets: tuple[str, ...], seeds: int, auto: bool = False) -> dict:
    """Leave-one-set-out choice, fitted on each set's training split and scored on its test split,
    side by side with MiniRocket and the ESN (alternating, same seeds); with ``auto`` the classifier
    also chooses its reading inside ``fit`` (from the training split only)."""
    keys = list(candidates(grid))
    settings = candidates(grid)
    data = {name: (*load_uea(name, "train"), *load_uea(name, "test")) for name in sets}
    for name in sets:  # compile MiniRocket's kernels (uni- and multivariate) outside the timed fits
        run_minirocket(data[name], 0)
    results = {}
    for name in sets:
        others = [s for s in sets if s != name]
        chosen = best_candidate(table, keys, others)
        runs: dict[str, dict[str, list[float]]] = {
            m: {"accuracy": [], "fit_s": []} for m in ("ours", "minirocket", "esn_last", "esn_mean")
        }
        for seed in range(seeds):
            model = estimator(settings[chosen], seed, auto)
            start = time.perf_counter()
            model.fit(data[name][0], data[name][1])
            runs["ours"]["fit_s"].append(time.perf_counter() - start)
            runs["ours"]["accuracy"].append(model.score(data[name][2], data[name][3]))
            predicted, fit_s, _ = run_minirocket(data[name], seed)
            runs["minirocket"]["accuracy"].append(float(np.mean(predicted == data[name][3])))
            runs["minirocket"]["fit_s"].append(fit_s)
            for state in ("last", "mean"):
                predicted, fit_s, _ = run_esn_state(data[name], seed, state)
                runs[f"esn_{state}"]["accuracy"].append(float(np.mean(predicted == data[name][3])))
                runs[f"esn_{state}"]["fit_s"].append(fit_s)
        results[name] = {"chosen": chosen, "tuned_without": name, "runs": runs}
        if auto:
            results[name]["reading"] = str(Reading(model.max_steps_, model.windows_, model.pooling_))
            results[name]["alpha"] = model.alpha_
        accuracy = {m: np.mean(r["accuracy"]) for m, r in runs.items()}
        fit = {m: statistics.median(r["fit_s"]) for m, r in runs.items()}
        print(
            f"{name:>22}: ours {accuracy['ours']:.3f} ({fit['ours']:.2f} s), MiniRocket "
            f"{accuracy['minirocket']:.3f} ({fit['minirocket']:.2f} s), ESN last {accuracy['esn_last']:.3f}, "
            f"mean {accuracy['esn_mean']:.3f}  [{chosen}]",
            flush=True,
        )
    return results


def run_esn_state(data, seed: int, state: str):
    """reservoirpy's ESN of benchmarks/uea.py, read at the final state or the mean state of a series."""
    if state == "last":
        return run_esn(data, seed)
    from reservoirpy.nodes import Reservoir, Ridge

    X_train, y_train, X_test, _ = data
    classes, codes = np.unique(y_train, return_inverse=True)
    reservoir = Reservoir(500, sr=0.9, lr=0.1, seed=seed)

    def mean_states(series: list[np.ndarray]) -> np.ndarray:
        if not reservoir.initialized:
            reservoir.initialize(series[0])
        means = []
        for x in series:
            reservoir.reset()
            means.append(reservoir.run(x).mean(axis=0))
        return np.stack(means)

    start = time.perf_counter()
    readout = Ridge(ridge=1e-6).fit(mean_states(X_train), np.eye(len(classes))[codes])
    fit_s = time.perf_counter() - start
    scores = readout.run(mean_states(X_test))
    return classes[np.argmax(scores, axis=1)], fit_s, 0.0


def _reading(result: dict) -> str:
    """With ``--auto``: the reading and penalty the last seed's fit chose."""
    return f"; fit chose {result['reading']}, alpha={result['alpha']:g}" if "reading" in result else ""


def format_table(results: dict, table: dict, grid: dict, sets: tuple[str, ...]) -> str:
    """Markdown: per set the leave-set-out choice and the accuracies; means; total fit times."""
    def mean(name: str, model: str, key: str = "accuracy") -> float:
        values = results[name]["runs"][model][key]
        return float(np.mean(values) if key == "accuracy" else statistics.median(values))

    lines = [
        "| set (tuned without it) | ours, leave-set-out | MiniRocket | ESN final state | ESN mean state "
        "| ours fit s | MiniRocket fit s | chosen candidate |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in sets:
        lines.append(
            f"| {name} | {mean(name, 'ours'):.3f} | {mean(name, 'minirocket'):.3f} | "
            f"{mean(name, 'esn_last'):.3f} | {mean(name, 'esn_mean'):.3f} | "
            f"{mean(name, 'ours', 'fit_s'):.3f} | {mean(name, 'minirocket', 'fit_s'):.3f} | "
            f"`{results[name]['chosen']}`{_reading(results[name])} |"
        )
    models = ("ours", "minirocket", "esn_last", "esn_mean")
    averages = {m: np.mean([mean(n, m) for n in sets]) for m in models}
    fit = {m: sum(mean(n, m, "fit_s") for n in sets) for m in ("ours", "minirocket")}
    lines.append(
        f"| **mean / total** | **{averages['ours']:.3f}** | **{averages['minirocket']:.3f}** | "
        f"{averages['esn_last']:.3f} | {averages['esn_mean']:.3f} | {fit['ours']:.2f} | "
        f"{fit['minirocket']:.2f} | fit ratio ours / MiniRocket {fit['ours'] / fit['minirocket']:.2f} |"
    )
    default = best_candidate(table, list(candidates(grid)), list(sets))
    default_cv = np.mean([table[default][s]["accuracy"] for s in sets])
    lines += ["", f"Package default (best mean CV over all {len(sets)} sets, {default_cv:.3f}): `{default}`"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for cv.json, results.json, table.md")
    parser.add_argument("--seeds", type=int, default=3, help="test-split seeds per set (default 3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 small sets, 4 candidates, 1 seed")
    parser.add_argument("--grid", choices=tuple(GRIDS), default="main", help="candidate grid (default main)")
    parser.add_argument("--cv-only", action="store_true", help="fill the CV cache and stop")
    parser.add_argument(
        "--auto",
        action="store_true",
        help="the classifier chooses its reading and penalty inside fit (issue 35), around the choice",
    )
    args = parser.parse_args(argv)
    grid, sets = (QUICK_GRID, QUICK_SETS) if args.quick else (GRIDS[args.grid], UEA_DATASETS)
    seeds = 1 if args.quick else args.seeds
    args.out.mkdir(parents=True, exist_ok=True)
    table = cv_table(grid, sets, args.out / "cv.json")
    if args.cv_only:
        return
    results = evaluate(table, grid, sets, seeds, auto=args.auto)
    text = format_table(results, table, grid, sets)
    print(text)
    meta = {
        "threads": os.environ.get("OMP_NUM_THREADS"),
        "seeds": seeds,
        "folds": FOLDS,
        "base": BASE,
        "auto": args.auto,
    }
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    (args.out / "table.md").write_text(text + "\n")


if __name__ == "__main__":
    main()

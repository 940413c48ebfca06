"""Forecasting: ``Reservoir >> Cerebellum() >> Ridge`` against reservoirpy's ESN and NVAR, one protocol.

Models (the reservoir of reservoirpy's tutorial ESN: 500 units, sr 0.9, lr 0.3, input scaling 0.5,
ridge 1e-6, seeds 0..``--seeds``-1)

* ``esn`` — ``reservoirpy.nodes.Reservoir >> reservoirpy.nodes.Ridge(1e-6)``;
* ``nvar`` — ``reservoirpy.nodes.NVAR(delay=2, order=2, strides=1) >> Ridge(2.5e-6)`` (reservoirpy's
  Lorenz tutorial); deterministic, one run;
* ``cb`` — cbreservoir's ``Reservoir >> Cerebellum() >> Ridge(1e-6)`` with the node defaults
  (256 granule cells, ``output="input+granule"``); ``cb500`` — the same with ``n_granule=500``;
  ``cb-granule`` — ``Cerebellum(n_granule=500, output="granule")``, the granule code alone (before).

Protocol (the same for every model)

* Lorenz-63: :func:`cbreservoir.tasks.lorenz63` with dt = 0.02; Mackey-Glass: ``mackey_glass`` (τ 17,
  one sample per time unit). The first 1,000 samples are dropped (transient); then 6,000 training and
  2,000 test samples. Every feature is standardised by the training part's mean and standard deviation.
* One-step: fit on the training pairs (warm-up 200 steps left out of the fit), run through the test
  part from the training part's end; NRMSE over the 2,000 test steps (:func:`nrmse`, each feature
  normalised by its standard deviation on the test part).
* Closed loop: from ``--starts`` points 200 steps apart in the test part, a warm-up on the 200 true
  steps before the point, then :func:`cbreservoir.graph.forecast.generate` for 500 steps; valid prediction
  time (:func:`valid_prediction_time`, error threshold 0.4, scale 1 = the training standard deviation),
  in Lyapunov times (λ = 0.9056) for Lorenz, in time units for Mackey-Glass; median over the starts.
* Real series (aeon's wheel): Airline (log, 144 months) and Lynx (log10, 114 years); the last 24 / 20
  values are the test part, the same normalisation, warm-up 10; one-step NRMSE and a closed-loop
  forecast of the whole test part.
* ``--tune``: no test data at all. The first 4,000 training samples fit, the next 2,000 validate (both
  scores), for ``input_gain`` in ``--gains``: how the default gain was chosen. Then the bounds of the
  defaults on the same split: NVAR; ``Cerebellum(coding_level=0.3)`` (thresholds instead of a zero bias);
  ``Ridge(1e-8)``; ``[x, x >> Reservoir] >> Cerebellum() >> Ridge`` (``cb-x``: the cerebellum also reads
  the input x_t, which a chain does not give it).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/forecast.py     # table + figures in docs/results/forecast/
    python benchmarks/forecast.py --tune                # validation sweep of input_gain (training data only)
    python benchmarks/forecast.py --kinds esn cb cb-x   # other rows, printed only
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import reservoirpy.nodes as rpn
import torch

from cbreservoir.analysis.forecasting import nrmse, valid_prediction_time
from cbreservoir.graph.forecast import forecast_pairs, generate
from cbreservoir.nodes import Cerebellum, Reservoir, Ridge
from cbreservoir.tasks import LORENZ63_LYAPUNOV, lorenz63, mackey_glass

ESN = {"units": 500, "sr": 0.9, "lr": 0.3, "input_scaling": 0.5}
RIDGE = 1e-6
TRANSIENT, N_TRAIN, N_TEST, WARMUP = 1000, 6000, 2000, 200
GENERATED, START_SPACING = 500, 200
DT = {"lorenz": 0.02, "mackey-glass": 1.0}
LYAPUNOV = {"lorenz": LORENZ63_LYAPUNOV, "mackey-glass": 1.0}
COMMAND = (
    "OMP_NUM_THREADS=1 python benchmarks/forecast.py   "
    "(validation sweep: python benchmarks/forecast.py --tune --seeds 2 --starts 6)"
)
OUT = Path(__file__).resolve().parents[1] / "docs" / "results" / "forecast"


def chaotic_series(name: str) -> np.ndarray:
    """The transient-free series (N_TRAIN + N_TEST, d), standardised on the training part."""
    n = TRANSIENT + N_TRAIN + N_TEST
    raw = lorenz63(n, dt=DT["lorenz"]) if name == "lorenz" else mackey_glass(n)
    series = raw[TRANSIENT:]
    train = series[:N_TRAIN]
    return (series - train.mean(axis=0)) / train.std(axis=0)


def real_series(name: str) -> tuple[np.ndarray, int]:
    """(series (T, 1) standardised on its training part, number of test values)."""
    from aeon.datasets import load_airline, load_lynx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # aeon marks its loaders deprecated
        raw, n_test = (np.log(load_airline()), 24) if name == "airline" else (np.log10(load_lynx()), 20)
    series = np.asarray(raw, dtype=np.float64)[:, None]
    train = series[:-n_test]
    return (series - train.mean()) / train.std(), n_test


def make_model(kind: str, seed: int, *, input_gain: float | None = None) -> object:
    if kind == "esn":
        return rpn.Reservoir(**ESN, seed=seed) >> rpn.Ridge(RIDGE)
    if kind == "nvar":
        return rpn.NVAR(delay=2, order=2, strides=1) >> rpn.Ridge(2.5e-6)
    reservoir = Reservoir(**ESN, seed=seed)
    cerebellum_seed = seed + 1000
    if kind == "cb-x":
        source = rpn.Input()
        return [source, source >> reservoir] >> Cerebellum(seed=cerebellum_seed) >> Ridge(RIDGE)
    if kind == "cb-ridge1e-8":
        return reservoir >> Cerebellum(seed=cerebellum_seed) >> Ridge(1e-8)
    if kind in ("cb", "cb500"):
        n_granule = 256 if kind == "cb" else 500
        cerebellum = Cerebellum(n_granule=n_granule, seed=cerebellum_seed, input_gain=input_gain)
    elif kind == "cb-coding0.3":
        cerebellum = Cerebellum(coding_level=0.3, seed=cerebellum_seed)
    else:
        cerebellum = Cerebellum(n_granule=500, output="granule", seed=cerebellum_seed)
    return reservoir >> cerebellum >> Ridge(RIDGE)


def scores(
    model: object,
    series: np.ndarray,
    n_fit: int,
    n_eval: int,
    dt: float,
    lyapunov: float,
    starts: int,
    warmup: int = WARMUP,
) -> dict[str, object]:
    """Fit on series[:n_fit], score one-step and closed loop on series[n_fit:n_fit + n_eval]."""
    X, Y = forecast_pairs(series[: n_fit + n_eval], horizon=1)
    model.fit(X[: n_fit - 1], Y[: n_fit - 1], warmup=warmup)
    one_step = model.run(X[n_fit - 1 :])  # continues from the end of the fit
    truth = Y[n_fit - 1 :]
    vpts, first = [], None
    n_gen = min(GENERATED, n_eval)
    for k in range(starts):
        start = n_fit + k * START_SPACING
        if start + n_gen > n_fit + n_eval:
            break
        generated = generate(model, series[start - warmup : start], n_gen)
        vpts.append(
            valid_prediction_time(
                series[start : start + n_gen], generated, dt=dt, lyapunov_exponent=lyapunov, scale=1.0
            )
        )
        first = generated if first is None else first
    return {
        "nrmse": nrmse(truth, one_step),
        "vpt": float(np.median(vpts)) if vpts else float("nan"),
        "generated": first,
        "one_step": one_step,
    }


def run_chaotic(
    kinds: list[str], seeds: int, starts: int, tune_gain: float | None = None, validate: bool = False
) -> dict[tuple[str, str], list[dict[str, object]]]:
    results: dict[tuple[str, str], list[dict[str, object]]] = {}
    for name in ("lorenz", "mackey-glass"):
        series = chaotic_series(name)
        n_fit, n_eval = (4000, 2000) if validate else (N_TRAIN, N_TEST)
        for kind in kinds:
            for seed in range(1 if kind == "nvar" else seeds):
                model = make_model(kind, seed, input_gain=tune_gain)
                results.setdefault((name, kind), []).append(
                    scores(model, series, n_fit, n_eval, DT[name], LYAPUNOV[name], starts)
                )
    return results


def tune(gains: list[float], seeds: int, starts: int) -> None:
    """Validation sweep of input_gain on the training parts only (the test parts are never read)."""
    print("validation (fit on training samples 0..4000, scored on 4000..6000; test part unused)")
    print(f"{'model':<18} {'lorenz nrmse':>13} {'lorenz vpt':>11} {'mg nrmse':>10} {'mg vpt':>8}")
    rows = [("esn", None)] + [(kind, g) for kind in ("cb", "cb500") for g in gains]
    rows += [(kind, None) for kind in ("nvar", "cb-coding0.3", "cb-ridge1e-8", "cb-x")]
    for kind, gain in rows:
        res = run_chaotic([kind], seeds, starts, tune_gain=gain, validate=True)
        cells = []
        for name in ("lorenz", "mackey-glass"):
            runs = res[(name, kind)]
            cells += [np.mean([r["nrmse"] for r in runs]), np.mean([r["vpt"] for r in runs])]
        label = kind if gain is None else f"{kind} gain {gain:g}"
        print(f"{label:<18} {cells[0]:>13.2e} {cells[1]:>11.2f} {cells[2]:>10.2e} {cells[3]:>8.0f}")


def figure(
    path: Path, title: str, t: np.ndarray, truth: np.ndarray, generated: dict[str, np.ndarray], xlabel: str
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_dims = truth.shape[1]
    fig, axes = plt.subplots(n_dims, 1, figsize=(9, 2.2 * n_dims + 0.6), sharex=True, squeeze=False)
    for d, ax in enumerate(axes[:, 0]):
        ax.plot(t, truth[:, d], color="black", lw=2, label="true")
        for label, series in generated.items():
            ax.plot(t, series[:, d], lw=1.2, label=label)
        ax.set_ylabel("xyz"[d] if n_dims == 3 else "value")
    axes[0, 0].set_title(title)
    axes[0, 0].legend(loc="upper right", fontsize=8, ncol=len(generated) + 1)
    axes[-1, 0].set_xlabel(xlabel)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


LABELS = {
    "esn": "reservoirpy ESN",
    "nvar": "reservoirpy NVAR",
    "cb": "Reservoir >> Cerebellum() >> Ridge",
    "cb500": "... Cerebellum(n_granule=500)",
    "cb-granule": "... Cerebellum(500, output='granule')",
    "cb-coding0.3": "... Cerebellum(coding_level=0.3)",
    "cb-ridge1e-8": "... Cerebellum() >> Ridge(1e-8)",
    "cb-x": "[x, x >> Reservoir] >> Cerebellum()",
}
KINDS = ["esn", "nvar", "cb", "cb500", "cb-granule"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--starts", type=int, default=9)
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--gains", type=float, nargs="+", default=[1.0, 2.0, 3.0, 5.0])
    parser.add_argument("--kinds", nargs="+", choices=list(LABELS), default=KINDS, help="models of the table")
    parser.add_argument("--no-figures", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # one-step runs of the closed loop: thread start-up costs more than it gains
    if args.tune:
        tune(args.gains, args.seeds, args.starts)
        return
    started = time.perf_counter()
    kinds = args.kinds
    results = run_chaotic(kinds, args.seeds, args.starts)
    lines = [
        f"test scores; mean over reservoir seeds 0..{args.seeds - 1} (NVAR: one run); VPT: median over "
        f"{args.starts} closed-loop starts, Lorenz in Lyapunov times (λ = {LORENZ63_LYAPUNOV}), "
        "Mackey-Glass in time units",
        f"{'model':<40} {'lorenz nrmse':>13} {'lorenz vpt':>11} {'mg nrmse':>10} {'mg vpt':>8}",
    ]
    for kind in kinds:
        cells = []
        for name in ("lorenz", "mackey-glass"):
            runs = results[(name, kind)]
            cells += [np.mean([r["nrmse"] for r in runs]), np.mean([r["vpt"] for r in runs])]
        lines.append(
            f"{LABELS[kind]:<40} {cells[0]:>13.2e} {cells[1]:>11.2f} {cells[2]:>10.2e} {cells[3]:>8.0f}"
        )
    per_seed = (f"{kind} " + " ".join(f"{r['vpt']:.2f}" for r in results[("lorenz", kind)]) for kind in kinds)
    lines.append("Lorenz VPT per seed: " + "; ".join(per_seed))
    lines += [
        "",
        "real series (aeon): one-step NRMSE | closed-loop NRMSE over the test part; mean over seeds",
        f"{'model':<40} {'airline':>17} {'lynx':>17}",
    ]
    real: dict[tuple[str, str], list[dict[str, object]]] = {}
    for name in ("airline", "lynx"):
        series, n_test = real_series(name)
        for kind in kinds:
            for seed in range(1 if kind == "nvar" else args.seeds):
                n_fit = len(series) - n_test
                res = scores(make_model(kind, seed), series, n_fit, n_test, 1.0, 1.0, 1, warmup=10)
                res["closed"] = nrmse(series[n_fit:], res["generated"])
                real.setdefault((name, kind), []).append(res)
    for kind in kinds:
        cells = []
        for name in ("airline", "lynx"):
            one_step, closed = (np.mean([r[key] for r in real[(name, kind)]]) for key in ("nrmse", "closed"))
            cells.append(f"{one_step:.3f} | {closed:.3f}")
        lines.append(f"{LABELS[kind]:<40} {cells[0]:>17} {cells[1]:>17}")
    lines.append(f"\n(total {time.perf_counter() - started:.0f} s)")
    table = "\n".join(lines)
    print(table)
    if args.no_figures or kinds != KINDS:  # the committed table and figures are the default models'
        return
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "table.txt").write_text(table.rsplit("\n(total", 1)[0] + f"\n\ncommand: {COMMAND}\n")
    shown = ["esn", "nvar", "cb"]
    for name in ("lorenz", "mackey-glass"):
        series = chaotic_series(name)
        truth = series[N_TRAIN : N_TRAIN + GENERATED]
        scale = DT[name] * LYAPUNOV[name]
        figure(
            OUT / f"{name}.png",
            f"{name}: closed-loop generation from the test part's start (seed 0)",
            np.arange(1, GENERATED + 1) * scale,
            truth,
            {LABELS[k]: results[(name, k)][0]["generated"] for k in shown},
            "Lyapunov times" if name == "lorenz" else "time units",
        )
    for name in ("airline", "lynx"):
        series, n_test = real_series(name)
        figure(
            OUT / f"{name}.png",
            f"{name} (standardised log): closed-loop forecast of the test part (seed 0)",
            np.arange(n_test),
            series[-n_test:],
            {LABELS[k]: real[(name, k)][0]["generated"] for k in shown},
            "steps after the training part",
        )


if __name__ == "__main__":
    main()

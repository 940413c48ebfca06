"""``cbreservoir demo``: what a cerebellar expansion adds to a frozen reservoir, in a few seconds.

One frozen random tanh reservoir, two readouts fitted in closed form on the same states:

* ``Reservoir >> Ridge`` — the classic echo-state network;
* ``Reservoir >> Cerebellum >> Ridge`` — the reservoir's states expanded by a random granule layer
  (ReLU) before the ridge readout, which plays the Purkinje/nuclei role.

Two targets on ±1 input streams: a *linear* memory, recall u(t − 2), and a *nonlinear* one, the
product u(t − 1)·u(t − 3) (an XNOR of two past bits). A bias-free tanh reservoir is an odd function
of its input, so a linear readout can recall past inputs but can never form their product; the
granule code can. A second table shows how many granule cells the product needs as the two inputs
lie further apart in the past: the wider the memory span, the larger the expansion must be.

Examples
--------
>>> from cbreservoir.experiments.demo import run_demo
>>> result = run_demo(output_dir="demo-out", seed=0, quiet=True)   # doctest: +SKIP
>>> [(row["model"], row["task"], round(row["test_r2"], 2)) for row in result["rows"]]   # doctest: +SKIP
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from cbreservoir.graph import run_batched
from cbreservoir.nodes.cerebellum import Cerebellum
from cbreservoir.nodes.reservoir import Reservoir
from cbreservoir.nodes.ridge import Ridge
from cbreservoir.tasks.nonlinear_memory import nonlinear_memory_task

__all__ = ["run_demo"]

MODELS = ("Reservoir >> Ridge", "Reservoir >> Cerebellum >> Ridge")


def _recall_target(u: np.ndarray, delay: int) -> np.ndarray:
    """``u(t − delay)`` (0 before), ``(S, T, 1)``."""
    target = np.zeros_like(u)
    target[:, delay:] = u[:, :-delay]
    return target


def _product_data(
    n_train: int, n_test: int, length: int, delays: tuple[int, int], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(u_train, y_train, u_test, y_test)`` of :func:`nonlinear_memory_task` (train ``seed``, test
    ``seed + 1``); the inputs depend on the seed only, so every delay pair sees the same inputs."""
    return (
        *nonlinear_memory_task(n_train, length, delays=delays, seed=seed),
        *nonlinear_memory_task(n_test, length, delays=delays, seed=seed + 1),
    )


def _scores(prediction: np.ndarray, target: np.ndarray, warmup: int) -> tuple[float, float]:
    """(R², sign accuracy) after the warmup steps of every series."""
    prediction, target = prediction[:, warmup:], target[:, warmup:]
    r2 = 1.0 - np.mean((prediction - target) ** 2) / np.var(target)
    return float(r2), float(np.mean(np.sign(prediction) == target))


def _fit_and_test(n_granule: int, data: tuple, settings: dict) -> dict:
    """Fit ``Reservoir >> [Cerebellum(n_granule) >>] Ridge`` (no cerebellum when ``n_granule == 0``)
    on the training pair of ``data`` and score it on the test pair."""
    u_train, y_train, u_test, y_test = data
    core = Reservoir(
        settings["units"], lr=1.0, sr=0.9, input_connectivity=1.0, seed=settings["seed"]
    ).freeze()
    readout = Ridge(settings["ridge"])
    if n_granule:
        model = core >> Cerebellum(n_granule, seed=settings["seed"] + 1) >> readout
    else:
        model = core >> readout
    start = time.perf_counter()
    model.fit(u_train, y_train, warmup=settings["warmup"])
    fit_seconds = time.perf_counter() - start
    core.reset()
    prediction = run_batched(model, u_test)  # all test series at once
    r2, accuracy = _scores(prediction, y_test, settings["warmup"])
    return {
        "test_r2": r2,
        "test_sign_accuracy": accuracy,
        "fit_seconds": fit_seconds,
        "prediction": prediction,
    }


def run_demo(
    output_dir: str | Path = "cbreservoir-demo",
    *,
    seed: int = 0,
    quiet: bool = False,
    n_train: int = 32,
    n_test: int = 8,
    length: int = 250,
    units: int = 100,
    n_granule: int = 512,
    ridge: float = 1e-6,
    warmup: int = 20,
    delays: tuple[int, int] = (1, 3),
    sweep_delays: tuple[tuple[int, int], ...] = ((1, 3), (2, 6), (1, 8)),
    sweep_granules: tuple[int, ...] = (16, 64, 256, 1024),
) -> dict:
    """Fit both pipelines on both targets and the granule-count sweep; print tables, save a figure.

    Parameters
    ----------
    output_dir : str or Path
        Where ``demo.png`` goes (created if needed).
    seed : int
        Seeds the data (train ``seed``, test ``seed + 1``), the reservoir and the cerebellum.
    quiet : bool
        Print nothing.
    n_train, n_test, length : int
        Training / test series and their length.
    units, n_granule : int
        Reservoir units and granule cells of the main comparison.
    ridge : float
        Ridge penalty of every readout.
    warmup : int
        Steps discarded at the start of each series (fit and score).
    delays : (int, int)
        d1, d2 of the product target of the main comparison.
    sweep_delays, sweep_granules
        Product targets and granule counts of the sweep (empty: no sweep).

    Returns
    -------
    dict
        ``rows`` (model, task, test_r2, test_sign_accuracy, fit_seconds), ``granule_sweep``
        (delays, n_granule, test_r2 per delay pair: first the plain readout, then one per granule
        count), ``figure`` (path), ``seconds`` (total wall time) and ``config``.
    """
    start = time.perf_counter()
    settings = {"units": units, "ridge": ridge, "warmup": warmup, "seed": seed}
    u_train, product_train, u_test, product_test = _product_data(n_train, n_test, length, delays, seed)
    tasks = {
        "recall u(t-2)": (_recall_target(u_train, 2), _recall_target(u_test, 2)),
        f"product u(t-{delays[0]})*u(t-{delays[1]})": (product_train, product_test),
    }
    rows, predictions = [], {}
    for task, (y_train, y_test) in tasks.items():
        for model_name, granules in zip(MODELS, (0, n_granule), strict=True):
            result = _fit_and_test(granules, (u_train, y_train, u_test, y_test), settings)
            predictions[task, model_name] = result.pop("prediction")
            rows.append({"model": model_name, "task": task, **result})
    sweep = {"delays": [list(d) for d in sweep_delays], "n_granule": [0, *sweep_granules], "test_r2": []}
    for pair in sweep_delays if sweep_granules else ():
        data = _product_data(n_train, n_test, length, pair, seed)
        sweep["test_r2"].append([_fit_and_test(g, data, settings)["test_r2"] for g in sweep["n_granule"]])
    product_task = list(tasks)[1]
    figure = _plot(Path(output_dir), tasks[product_task][1], predictions, product_task, rows, sweep, warmup)
    result = {
        "rows": rows,
        "granule_sweep": sweep,
        "figure": str(figure),
        "seconds": time.perf_counter() - start,
        "config": {
            "seed": seed,
            "n_train": n_train,
            "n_test": n_test,
            "length": length,
            "units": units,
            "n_granule": n_granule,
            "ridge": ridge,
            "warmup": warmup,
            "delays": list(delays),
        },
    }
    if not quiet:
        print(_table(rows))
        if sweep["test_r2"]:
            print()
            print(_sweep_table(sweep))
        print(f"figure: {figure}   ({result['seconds']:.1f} s)")
    return result


def _table(rows: list[dict]) -> str:
    header = f"{'model':<34} {'task':<22} {'test R2':>8} {'sign acc':>9} {'fit s':>7}"
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row['model']:<34} {row['task']:<22} {row['test_r2']:>8.3f} "
            f"{row['test_sign_accuracy']:>9.3f} {row['fit_seconds']:>7.2f}"
        )
    lines.append(
        "A bias-free tanh reservoir is odd in its input: a linear readout recalls u(t-k) but cannot form "
        "a product of inputs; the granule expansion can."
    )
    return "\n".join(lines)


def _sweep_table(sweep: dict) -> str:
    counts = ["no cerebellum" if g == 0 else f"G={g}" for g in sweep["n_granule"]]
    header = f"{'test R2 of the product':<24}" + "".join(f"{c:>15}" for c in counts)
    lines = [header, "-" * len(header)]
    for pair, scores in zip(sweep["delays"], sweep["test_r2"], strict=True):
        lines.append(f"{f'u(t-{pair[0]})*u(t-{pair[1]})':<24}" + "".join(f"{r:>15.3f}" for r in scores))
    lines.append("The further apart the two inputs, the more granule cells the product needs.")
    return "\n".join(lines)


def _plot(
    output_dir: Path,
    target: np.ndarray,
    predictions: dict,
    task: str,
    rows: list[dict],
    sweep: dict,
    warmup: int,
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    output_dir.mkdir(parents=True, exist_ok=True)
    figure, (trace, bars, curves) = plt.subplots(
        1, 3, figsize=(16, 4.4), gridspec_kw={"width_ratios": [2.2, 1, 1.2]}, constrained_layout=True
    )
    window = slice(warmup, warmup + 40)
    steps = np.arange(target.shape[1])[window]
    trace.step(steps, target[0, window, 0], where="mid", color="0.75", lw=5, label="target")
    for color, style, model_name in zip(("tab:orange", "tab:blue"), ("-", "--"), MODELS, strict=True):
        r2 = next(r["test_r2"] for r in rows if r["task"] == task and r["model"] == model_name)
        trace.step(
            steps,
            predictions[task, model_name][0, window, 0],
            color=color,
            linestyle=style,
            where="mid",
            label=f"{model_name} (test R² {r2:.2f})",
        )
    trace.set(xlabel="time step (held-out series)", ylabel="output", title=f"target {task}")
    trace.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=8, frameon=False)
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    positions = np.arange(len(tasks))
    for offset, color, model_name in zip((-0.2, 0.2), ("tab:orange", "tab:blue"), MODELS, strict=True):
        values = [
            next(r["test_r2"] for r in rows if r["task"] == t and r["model"] == model_name) for t in tasks
        ]
        bars.bar(positions + offset, values, width=0.4, color=color, label=model_name)
    bars.set_xticks(positions, tasks, fontsize=8)
    bars.set(ylabel="test R²", ylim=(min(-0.1, bars.get_ylim()[0]), 1.05), title="same frozen reservoir")
    bars.axhline(0, color="gray", lw=0.8)
    if sweep["test_r2"]:
        _plot_sweep(curves, sweep)
    else:
        curves.axis("off")
    path = output_dir / "demo.png"
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _plot_sweep(axes: object, sweep: dict) -> None:
    """Test R² of each product target against the number of granule cells (× : no cerebellum)."""
    colors = ("tab:purple", "tab:green", "tab:brown", "tab:red", "tab:olive")
    for color, pair, scores in zip(colors, sweep["delays"], sweep["test_r2"], strict=False):
        label = f"u(t-{pair[0]})·u(t-{pair[1]})"
        axes.plot(sweep["n_granule"][1:], scores[1:], marker="o", color=color, label=label)
        axes.scatter([sweep["n_granule"][1] / 2], [scores[0]], marker="x", color=color)
    axes.set_xscale("log", base=2)
    axes.set(
        xlabel="granule cells G (× at left: no cerebellum)",
        ylabel="test R²",
        ylim=(-0.1, 1.05),
        title="product of two past inputs",
    )
    axes.axhline(0, color="gray", lw=0.8)
    axes.legend(fontsize=8, loc="lower right")

"""``cbreservoir demo``: what a cerebellar expansion adds to a frozen reservoir, in a few seconds.

One frozen random tanh reservoir, two readouts fitted in closed form on the same states:

* ``Reservoir >> Ridge`` — the classic echo-state network;
* ``Reservoir >> Cerebellum >> Ridge`` — the reservoir's states expanded by a random granule layer
  (ReLU) before the ridge readout, which plays the Purkinje/nuclei role.

Two targets on ±1 input streams: a *linear* memory, recall u(t − 2), and a *nonlinear* one, the
product u(t − 1)·u(t − 3) (an XNOR of two past bits). A bias-free tanh reservoir is an odd function
of its input, so a linear readout can recall past inputs but can never form their product; the
granule code can. The table shows both facts on held-out series; the figure shows the product task.

Example
-------
>>> from cbreservoir.demo import run_demo
>>> result = run_demo(output_dir="demo-out", seed=0, quiet=True)   # doctest: +SKIP
>>> [(row["model"], row["task"], round(row["test_r2"], 2)) for row in result["rows"]]   # doctest: +SKIP
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from cbreservoir.nodes.cerebellum import Cerebellum
from cbreservoir.nodes.reservoir import Reservoir
from cbreservoir.nodes.ridge import Ridge, run_batched
from cbreservoir.tasks.nonlinear_memory import nonlinear_memory_task

__all__ = ["run_demo"]

MODELS = ("Reservoir >> Ridge", "Reservoir >> Cerebellum >> Ridge")


def _tasks(u: np.ndarray, delays: tuple[int, int], recall_delay: int) -> dict[str, np.ndarray]:
    """Targets ``(S, T, 1)`` for the input streams ``u``: linear recall and the product of two bits."""
    recall = np.zeros_like(u)
    recall[:, recall_delay:] = u[:, :-recall_delay]
    product = np.zeros_like(u)
    horizon = max(delays)
    first, second = delays
    product[:, horizon:] = (
        u[:, horizon - first : u.shape[1] - first] * u[:, horizon - second : u.shape[1] - second]
    )
    return {f"recall u(t-{recall_delay})": recall, f"product u(t-{first})*u(t-{second})": product}


def _scores(prediction: np.ndarray, target: np.ndarray, warmup: int) -> tuple[float, float]:
    """(R², sign accuracy) after the warmup steps of every series."""
    prediction, target = prediction[:, warmup:], target[:, warmup:]
    r2 = 1.0 - np.mean((prediction - target) ** 2) / np.var(target)
    return float(r2), float(np.mean(np.sign(prediction) == target))


def _build(with_cerebellum: bool, units: int, n_granule: int, ridge: float, seed: int):
    core = Reservoir(units, lr=1.0, sr=0.9, input_connectivity=1.0, seed=seed).freeze()
    readout = Ridge(ridge)
    if with_cerebellum:
        return core, core >> Cerebellum(n_granule, seed=seed + 1) >> readout
    return core, core >> readout


def run_demo(
    output_dir: str | Path = "cbreservoir-demo",
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
) -> dict:
    """Fit both pipelines on both targets, print a table, save a figure, return everything.

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
        Reservoir units and granule cells.
    ridge : float
        Ridge penalty of both readouts.
    warmup : int
        Steps discarded at the start of each series (fit and score).
    delays : (int, int)
        d1, d2 of the product target.

    Returns
    -------
    dict
        ``rows`` (model, task, test_r2, test_sign_accuracy, fit_seconds), ``figure`` (path),
        ``seconds`` (total wall time) and ``config``.
    """
    start = time.perf_counter()
    u_train, _ = nonlinear_memory_task(n_train, length, delays, seed=seed)
    u_test, _ = nonlinear_memory_task(n_test, length, delays, seed=seed + 1)
    train_targets = _tasks(u_train, delays, recall_delay=2)
    test_targets = _tasks(u_test, delays, recall_delay=2)
    rows, predictions = [], {}
    for task in train_targets:
        for model_name in MODELS:
            core, model = _build(model_name == MODELS[1], units, n_granule, ridge, seed)
            fit_start = time.perf_counter()
            model.fit(u_train, train_targets[task], warmup=warmup)
            fit_seconds = time.perf_counter() - fit_start
            core.reset()
            prediction = run_batched(model, u_test)  # all test series at once
            r2, accuracy = _scores(prediction, test_targets[task], warmup)
            rows.append(
                {
                    "model": model_name,
                    "task": task,
                    "test_r2": r2,
                    "test_sign_accuracy": accuracy,
                    "fit_seconds": fit_seconds,
                }
            )
            predictions[task, model_name] = prediction
    product_task = list(train_targets)[1]
    figure = _plot(Path(output_dir), test_targets[product_task], predictions, product_task, rows, warmup)
    result = {
        "rows": rows,
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


def _plot(
    output_dir: Path,
    target: np.ndarray,
    predictions: dict,
    task: str,
    rows: list[dict],
    warmup: int,
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    output_dir.mkdir(parents=True, exist_ok=True)
    window = slice(warmup, warmup + 40)
    steps = np.arange(target.shape[1])[window]
    figure, (trace, bars) = plt.subplots(
        1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [2.2, 1]}, constrained_layout=True
    )
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
    path = output_dir / "demo.png"
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path

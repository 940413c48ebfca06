"""Speed measurements: a timing harness, the machine's matrix-multiply peak, side-by-side benchmarks.

The package's private modules: :mod:`~._timing` (the harness, the matmul peak, :class:`BenchRow`),
:mod:`~._reservoir`, :mod:`~._ridge` and :mod:`~._training` (the rows), and here the whole table.

Every benchmark times a cbreservoir operation and its peer in the same run, on the same data,
and returns a :class:`BenchRow` (operation, cbreservoir seconds, peer seconds, ratio, target,
notes). ``cbreservoir bench`` prints them as one table.

Examples
--------
>>> from cbreservoir.experiments.bench import time_call, matmul_peak_gflops
>>> import numpy as np
>>> timing = time_call(lambda: np.ones((100, 100)) @ np.ones((100, 100)), repeat=3)
>>> timing.best <= timing.median
True
>>> matmul_peak_gflops(size=256, repeat=2) > 0
True
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import torch
from threadpoolctl import threadpool_limits

from cbreservoir.experiments.bench._reservoir import (
    bench_closed_loop,
    bench_first_call,
    bench_model_fit,
    bench_reservoir_batch,
    bench_reservoir_run,
    bench_reservoir_series,
)
from cbreservoir.experiments.bench._ridge import bench_ridge_accuracy, bench_ridge_fit, ill_conditioned_states
from cbreservoir.experiments.bench._timing import (
    BenchRow,
    machine_description,
    matmul_peak_gflops,
    time_alternating,
    time_call,
)
from cbreservoir.experiments.bench._training import bench_training_rows
from cbreservoir.numerics.study import STUDY

__all__ = [
    "SIZES",
    "BenchRow",
    "bench_ridge_fit",
    "bench_training_rows",
    "format_table",
    "ill_conditioned_states",
    "machine_description",
    "matmul_peak_gflops",
    "result_to_json",
    "run_speed_benchmarks",
    "time_alternating",
    "time_call",
]

#: Problem sizes of the full run (the issue's) and of ``quick`` (a small smoke run).
SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "full": {
        "series": {"length": 4000, "n_features": 3, "units": (100, 500), "repeat": 7},
        "model_fit": {"length": 4000, "n_features": 3, "units": 100, "repeat": 7},
        "batch": {"n_series": 64, "length": 2000, "n_features": 3, "units": 500, "repeat": 3},
        "closed_loop": {"units": 300, "warmup": 200, "n_steps": 300, "repeat": 7},
        "first_call": {"units": 100, "length": 4000},
        "reservoir": {"n_series": 64, "length": 2000, "n_features": 3, "units": 500, "repeat": 3},
        "ridge": {"n_samples": 100_000, "n_features": 1000, "n_outputs": 10, "n_chunks": 10},
        "ridge_accuracy": {"n_samples": 20_000, "n_features": 200},
        "ensemble": {"n_members": 8, "n": 5, "batch_size": STUDY.batch_size, "steps": 20},
    },
    "quick": {
        "series": {"length": 500, "n_features": 3, "units": (100,), "repeat": 3},
        "model_fit": {"length": 500, "n_features": 3, "units": 50, "repeat": 3},
        "batch": {"n_series": 8, "length": 200, "n_features": 3, "units": 100, "repeat": 2},
        "closed_loop": {"units": 100, "warmup": 50, "n_steps": 50, "repeat": 3},
        "reservoir": {"n_series": 8, "length": 200, "n_features": 3, "units": 100, "repeat": 2},
        "ridge": {"n_samples": 5_000, "n_features": 100, "n_outputs": 3, "n_chunks": 5, "repeat": 1},
        "ridge_accuracy": {"n_samples": 2_000, "n_features": 50},
        "ensemble": {"n_members": 4, "n": 3, "batch_size": 16, "steps": 3, "repeat": 1},
    },
}


def run_speed_benchmarks(
    quick: bool = False,
    device: str | torch.device = "cpu",
    progress: bool = True,
    sections: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Measure every row of the speed table in one run.

    The reservoir and ridge rows run the numpy nodes on the CPU whatever ``device`` is; the ensemble
    rows (and the matmul peak reported next to them) run on ``device``.

    Parameters
    ----------
    quick : bool
        Small sizes (:data:`SIZES` ``["quick"]``), seconds instead of minutes.
    device : str or torch.device
        ``"cpu"`` or ``"cuda"``.
    progress : bool
        Print each row's name to stderr as it starts.
    sections : sequence of str, optional
        Only these keys of :data:`SIZES` (e.g. ``["series", "model_fit"]``); all by default. A size
        table without a key leaves that key's rows out.

    Returns
    -------
    dict
        ``machine`` (str), ``device``, ``peak_gflops`` (CPU float64/float32 and, on a GPU, device
        float32), ``sizes`` and ``rows`` (a list of :class:`BenchRow`).
    """
    device = torch.device(device)
    sizes = SIZES["quick" if quick else "full"]
    unknown = sorted(set(sections or ()) - set(SIZES["full"]))
    if unknown:
        raise ValueError(f"sections must be keys of bench.SIZES {sorted(SIZES['full'])}; got {unknown}")
    sizes = {key: size for key, size in sizes.items() if sections is None or key in sections}
    peak = {dtype: matmul_peak_gflops(dtype=dtype) for dtype in ("float64", "float32")}
    if device.type != "cpu":
        peak[f"{device.type}_float32"] = matmul_peak_gflops(size=4096, dtype="float32", device=device)
    one_thread: list[tuple[str, str, Callable[..., list[BenchRow]]]] = [
        ("one series, one thread", "series", bench_reservoir_series),
        ("model fit, one thread", "model_fit", lambda **size: [bench_model_fit(**size)]),
        ("batch against the bare loop, one thread", "batch", bench_reservoir_batch),
        ("closed-loop generation, one thread", "closed_loop", bench_closed_loop),
        ("first call of a fresh process", "first_call", bench_first_call),
    ]
    steps: list[tuple[str, str, Callable[[], list[BenchRow]]]] = [
        (name, key, lambda measure=measure, key=key: _one_thread(lambda: measure(**sizes[key])))
        for name, key, measure in one_thread
    ]
    steps += [
        ("reservoir run", "reservoir", lambda: bench_reservoir_run(**sizes["reservoir"], peak_gflops=peak)),
        ("ridge fit", "ridge", lambda: bench_ridge_fit(**sizes["ridge"])),
        ("ridge accuracy", "ridge_accuracy", lambda: [bench_ridge_accuracy(**sizes["ridge_accuracy"])]),
        ("training", "ensemble", lambda: bench_training_rows(sizes["ensemble"], device=device)),
    ]
    rows: list[BenchRow] = []
    for name, key, measure in steps:
        if key not in sizes:
            continue
        if progress:
            print(f"[cbreservoir bench] {name} ...", file=sys.stderr, flush=True)
        rows.extend(measure())
    return {
        "machine": machine_description(device),
        "device": str(device),
        "peak_gflops": peak,
        "sizes": sizes,
        "rows": rows,
    }


def _one_thread(measure: Callable[[], list[BenchRow]]) -> list[BenchRow]:
    """``measure()`` with BLAS and torch limited to one thread (as a single-threaded user runs)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            return measure()
    finally:
        torch.set_num_threads(threads)


def _format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1e3:.1f} ms" if seconds < 1.0 else f"{seconds:.2f} s"


def _format_note(value: float | str) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def format_table(result: dict[str, Any]) -> str:
    """The result of :func:`run_speed_benchmarks` as a Markdown table with the machine line under it."""
    lines = [
        "| operation | cbreservoir | peer | ratio | target | notes |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        ratio = "—" if row.ratio is None else f"{row.ratio:.2f}×"
        target = "—" if row.target is None else f"≥ {row.target:.3g}×"
        notes = ", ".join(f"{key} {_format_note(value)}" for key, value in row.notes.items())
        lines.append(
            f"| {row.operation} | {_format_seconds(row.cbreservoir_seconds)} | "
            f"{_format_seconds(row.peer_seconds)} ({row.peer}) | {ratio} | {target} | {notes} |"
        )
    peak = ", ".join(f"{name} {value:.1f}" for name, value in result["peak_gflops"].items())
    lines.append("")
    lines.append(f"Machine: {result['machine']}; device {result['device']}; matmul peak GFLOP/s: {peak}.")
    return "\n".join(lines)


def result_to_json(result: dict[str, Any]) -> dict[str, Any]:
    """:func:`run_speed_benchmarks`'s result with the rows as dicts (JSON-ready)."""
    return {**result, "rows": [row.to_dict() for row in result["rows"]]}

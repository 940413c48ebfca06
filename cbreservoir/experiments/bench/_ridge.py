"""Ridge rows: cbreservoir.nodes.Ridge (in memory and streamed) against reservoirpy.nodes.Ridge.fit, in
time and in accuracy on ill-conditioned states."""

from __future__ import annotations

import numpy as np

from cbreservoir.experiments.bench._timing import (
    BenchRow,
    time_alternating,
    time_call,
)


def ill_conditioned_states(
    n_samples: int,
    n_features: int,
    n_outputs: int = 1,
    condition: float = 1e8,
    offset: float = 5.0,
    noise: float = 1e-3,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """States with condition number ≈ ``condition`` (after centring) and a large common offset.

    Returns
    -------
    X : ndarray (n_samples, n_features)
        ``Z · diag(s) · Q + offset``: Z standard normal, s log-spaced from 1 to 1/condition, Q a random
        rotation.
    Y : ndarray (n_samples, n_outputs)
        ``X · w + noise · ε``.
    """
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.standard_normal((n_features, n_features)))
    scales = np.logspace(0.0, -np.log10(condition), n_features)
    X = (rng.standard_normal((n_samples, n_features)) * scales) @ rotation + offset
    Y = X @ rng.standard_normal((n_features, n_outputs)) + noise * rng.standard_normal((n_samples, n_outputs))
    return X, Y


def _relative_prediction_error(
    X: np.ndarray, weights: np.ndarray, bias: np.ndarray, reference: np.ndarray
) -> float:
    return float(np.linalg.norm(X @ weights + bias - reference) / np.linalg.norm(reference))


def bench_ridge_fit(
    n_samples: int = 100_000,
    n_features: int = 1000,
    n_outputs: int = 10,
    n_chunks: int = 10,
    ridge: float = 1e-6,
    repeat: int = 3,
    seed: int = 0,
) -> list[BenchRow]:
    """Time ``Ridge.fit`` in memory, streamed (``partial_fit`` chunk by chunk) and with float32 Gram
    products, against reservoirpy's fit (medians of ``repeat`` alternating rounds, :func:`time_alternating`).

    Notes hold the largest relative difference between the streamed and in-memory weights, between
    cbreservoir's and reservoirpy's weights, and between the float32-Gram and float64 weights.

    Returns
    -------
    list of BenchRow
        In-memory, streamed and float32-Gram rows, all with target 2×.
    """
    from reservoirpy.nodes import Ridge as PeerRidge

    from cbreservoir.nodes import Ridge

    rng = np.random.default_rng(seed)
    X = np.tanh(rng.standard_normal((n_samples, n_features)))
    Y = (
        X[:, :n_outputs]
        - 0.5 * X[:, n_outputs : 2 * n_outputs]
        + 0.1 * rng.standard_normal((n_samples, n_outputs))
    )
    chunks = np.array_split(np.arange(n_samples), n_chunks)

    peer, in_memory = PeerRidge(ridge=ridge), Ridge(ridge=ridge)
    streamed, float32_gram = Ridge(ridge=ridge), Ridge(ridge=ridge, gram_dtype="float32")

    def stream() -> np.ndarray:
        for index, rows in enumerate(chunks):
            streamed.partial_fit(X[rows], Y[rows], reset=index == 0)
        return streamed.Wout  # solved lazily on first use

    seconds = time_alternating(
        {
            "peer": lambda: peer.fit(X, Y),
            "in_memory": lambda: in_memory.fit(X, Y),
            "streamed": stream,
            "float32": lambda: float32_gram.fit(X, Y),
        },
        repeat=repeat,
    )
    scale = np.max(np.abs(in_memory.Wout))
    size = f"{n_samples:,}x{n_features:,} -> {n_outputs}, ridge {ridge:g}"

    def row(operation: str, side: str, peer_name: str, note: str, difference: np.ndarray) -> BenchRow:
        notes = {note: float(np.max(np.abs(difference)) / scale)}
        return BenchRow(f"{operation}, {size}", seconds[side], seconds["peer"], peer_name, 2.0, notes)

    return [
        row(
            "Ridge.fit in memory",
            "in_memory",
            "reservoirpy Ridge.fit",
            "max_rel_diff_vs_peer",
            in_memory.Wout - peer.Wout,
        ),
        row(
            f"Ridge.partial_fit streamed in {n_chunks} chunks",
            "streamed",
            "reservoirpy Ridge.fit (in memory)",
            "max_rel_diff_vs_in_memory",
            streamed.Wout - in_memory.Wout,
        ),
        row(
            "Ridge.fit in memory, gram_dtype='float32'",
            "float32",
            "reservoirpy Ridge.fit (float64)",
            "max_rel_diff_vs_float64",
            float32_gram.Wout - in_memory.Wout,
        ),
    ]


def bench_ridge_accuracy(
    n_samples: int = 20_000, n_features: int = 200, condition: float = 1e8, seed: int = 0
) -> BenchRow:
    """Least-squares fits (ridge 0) on ill-conditioned, offset states, against ``numpy.linalg.lstsq``.

    Notes hold each implementation's relative prediction error ``‖ŷ − ŷ_lstsq‖ / ‖ŷ_lstsq‖``.
    """
    from reservoirpy.nodes import Ridge as PeerRidge

    from cbreservoir.nodes import Ridge

    X, Y = ill_conditioned_states(n_samples, n_features, condition=condition, seed=seed)
    design = np.hstack([X, np.ones((n_samples, 1))])
    reference = design @ np.linalg.lstsq(design, Y, rcond=None)[0]
    ours, peer = Ridge(ridge=0.0), PeerRidge(ridge=0.0)
    ours_timing = time_call(lambda: ours.fit(X, Y), repeat=1, warmup=0)
    peer_timing = time_call(lambda: peer.fit(X, Y), repeat=1, warmup=0)
    return BenchRow(
        operation=f"Ridge.fit accuracy {n_samples:,}x{n_features}, condition {condition:.0e}, ridge 0",
        cbreservoir_seconds=ours_timing.median,
        peer_seconds=peer_timing.median,
        peer="reservoirpy Ridge.fit",
        notes={
            "cbreservoir_rel_error_vs_lstsq": _relative_prediction_error(X, ours.Wout, ours.bias, reference),
            "peer_rel_error_vs_lstsq": _relative_prediction_error(X, peer.Wout, peer.bias, reference),
        },
    )

"""Speed measurements: a timing harness, the machine's matrix-multiply peak, side-by-side benchmarks.

Every benchmark times a cbreservoir operation and its peer in the same run, on the same data,
and returns a :class:`BenchRow` (operation, cbreservoir seconds, peer seconds, ratio, target,
notes). ``benchmarks/speed.py`` and ``cbreservoir bench`` print them as one table.

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

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse
import torch
from threadpoolctl import threadpool_limits

from cbreservoir.experiments import reference


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated calls.

    Attributes
    ----------
    median : float
        Median seconds per call.
    best : float
        Fastest call.
    repeats : int
        Number of timed calls (after the untimed warm-up calls).
    """

    median: float
    best: float
    repeats: int


def time_call(
    function: Callable[[], object],
    repeat: int = 3,
    warmup: int = 1,
    synchronize: Callable[[], None] | None = None,
) -> Timing:
    """Time ``function()``: ``warmup`` untimed calls, then ``repeat`` timed ones.

    Parameters
    ----------
    function : callable
        Called with no argument; its result is discarded.
    repeat : int
        Timed calls, at least 1.
    warmup : int
        Untimed calls first (compilation, caches, allocator), at least 0.
    synchronize : callable, optional
        Called after each call before the clock is read (e.g. ``torch.cuda.synchronize``).

    Returns
    -------
    Timing
    """
    if not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"repeat must be an int >= 1, got {repeat!r}")
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    sync = synchronize or (lambda: None)
    for _ in range(warmup):
        function()
        sync()
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        sync()
        seconds.append(time.perf_counter() - start)
    return Timing(median=statistics.median(seconds), best=min(seconds), repeats=repeat)


def time_alternating(
    functions: dict[str, Callable[[], object]],
    repeat: int = 3,
    synchronize: Callable[[], None] | None = None,
) -> dict[str, float]:
    """Median seconds of each function, timed in ``repeat`` rounds that call every function once in turn.

    Alternating the sides (instead of timing one side's calls, then the other's) makes a change in the
    machine's load hit every side alike. There is no warm-up call; make one first where it matters.

    Parameters
    ----------
    functions : dict
        Name -> function called with no argument.
    repeat : int
        Rounds, at least 1.
    synchronize : callable, optional
        As for :func:`time_call`.

    Returns
    -------
    dict
        Name -> median seconds of one call.
    """
    seconds: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeat):
        for name, function in functions.items():
            seconds[name].append(time_call(function, repeat=1, warmup=0, synchronize=synchronize).median)
    return {name: statistics.median(values) for name, values in seconds.items()}


def device_synchronizer(device: str | torch.device) -> Callable[[], None] | None:
    """``torch.cuda.synchronize`` for a CUDA device, None for the CPU."""
    return torch.cuda.synchronize if torch.device(device).type == "cuda" else None


def matmul_peak_gflops(
    size: int = 1024,
    dtype: str | torch.dtype = "float64",
    device: str | torch.device = "cpu",
    repeat: int = 5,
) -> float:
    """This machine's measured matrix-multiply rate, GFLOP/s (best of ``repeat`` square products).

    Uses torch with its current thread count, the same BLAS the torch paths of cbreservoir use.

    Parameters
    ----------
    size : int
        Side n of the (n, n) @ (n, n) product, counted as 2 n³ floating-point operations.
    dtype : str or torch.dtype
        ``"float64"`` or ``"float32"``.
    device : str or torch.device
    repeat : int

    Returns
    -------
    float
    """
    torch_dtype = _torch_dtype(dtype)
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(size, size, generator=generator, dtype=torch_dtype).to(device)
    b = torch.rand(size, size, generator=generator, dtype=torch_dtype).to(device)
    out = torch.empty_like(a)
    sync = device_synchronizer(device)
    timing = time_call(lambda: torch.mm(a, b, out=out), repeat=repeat, synchronize=sync)
    return 2.0 * size**3 / timing.best / 1e9


def machine_description(device: str | torch.device = "cpu") -> str:
    """One line naming the processor, core and thread counts, and torch's version (and the GPU)."""
    description = (
        f"{_cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"with {torch.get_num_threads()} thread(s)"
    )
    if torch.device(device).type == "cuda":
        description += f", GPU {torch.cuda.get_device_name(torch.device(device))}"
    return description


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _torch_dtype(dtype: str | torch.dtype) -> torch.dtype:
    names = {"float64": torch.float64, "float32": torch.float32}
    if isinstance(dtype, torch.dtype) and dtype in names.values():
        return dtype
    if isinstance(dtype, str) and dtype in names:
        return names[dtype]
    raise ValueError(f"dtype must be one of {sorted(names)}, got {dtype!r}")


@dataclass
class BenchRow:
    """One line of the speed table.

    Attributes
    ----------
    operation : str
        What was measured, with its sizes.
    cbreservoir_seconds : float
        Median seconds of cbreservoir's implementation.
    peer_seconds : float or None
        Median seconds of the peer on the same work (None when there is no peer run).
    peer : str
        The peer's name.
    target : float or None
        The speed-up the issue asks for.
    notes : dict
        Extra measured values (accuracy, GFLOP/s, ...).
    """

    operation: str
    cbreservoir_seconds: float
    peer_seconds: float | None
    peer: str
    target: float | None = None
    notes: dict[str, float | str] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """Peer seconds / cbreservoir seconds (the speed-up), None without a peer."""
        if self.peer_seconds is None:
            return None
        return self.peer_seconds / self.cbreservoir_seconds

    def to_dict(self) -> dict:
        """A JSON-ready dict including ``ratio``."""
        return {**asdict(self), "ratio": self.ratio}


# ----------------------------------------------------------------------------------------------------------
# Reservoir run: cbreservoir.nodes.Reservoir (batched over series) vs reservoirpy.nodes.Reservoir.run


def random_reservoir_weights(
    units: int,
    n_features: int,
    spectral_radius: float = 0.9,
    connectivity: float = 0.1,
    input_scaling: float = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse random reservoir weights, dense float64 arrays, handed identically to both implementations.

    Returns
    -------
    W : ndarray (units, units)
        Normal entries kept with probability ``connectivity``, scaled to ``spectral_radius``.
    Win : ndarray (units, n_features)
        Uniform in ±``input_scaling``.
    bias : ndarray (units,)
        Uniform in ±``input_scaling``.
    """
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((units, units)) * (rng.random((units, units)) < connectivity)
    W *= spectral_radius / np.max(np.abs(np.linalg.eigvals(W)))
    Win = rng.uniform(-input_scaling, input_scaling, (units, n_features))
    bias = rng.uniform(-input_scaling, input_scaling, units)
    return W, Win, bias


def reservoir_run_flops(n_series: int, length: int, W: np.ndarray, Win: np.ndarray) -> float:
    """Useful work of a reservoir run: 2·S·T·(nnz(W) + nnz(Win)) floating-point operations.

    Only non-zero weights count, so sparse and dense implementations are rated on the same work.
    """
    return 2.0 * n_series * length * float(np.count_nonzero(W) + np.count_nonzero(Win))


def bench_reservoir_run(
    n_series: int = 64,
    length: int = 2000,
    n_features: int = 3,
    units: int = 500,
    leak_rate: float = 0.5,
    repeat: int = 3,
    seed: int = 0,
    peak_gflops: dict[str, float] | None = None,
) -> list[BenchRow]:
    """Time ``Reservoir.run`` on (S, T, d) input in float64 and float32 against reservoirpy's, same weights.

    reservoirpy runs once (it is the slow side); the float32 row is compared with the same float64 peer
    time. Notes hold the largest absolute difference to reservoirpy's states and the achieved GFLOP/s
    (and its fraction of ``peak_gflops[dtype]`` when given).

    Returns
    -------
    list of BenchRow
        The float64 row (target 5×) and the float32 row (target 10×).
    """
    from reservoirpy.nodes import Reservoir as PeerReservoir

    from cbreservoir.nodes import Reservoir

    W, Win, bias = random_reservoir_weights(units, n_features, seed=seed)
    X = np.random.default_rng(seed + 1).uniform(-1.0, 1.0, (n_series, length, n_features))
    peer = PeerReservoir(units, lr=leak_rate, W=W, Win=Win, bias=bias)
    start = time.perf_counter()
    peer_states = peer.run(X)  # once: it is the slow side; every series starts from the zero state
    peer_seconds = time.perf_counter() - start
    flops = reservoir_run_flops(n_series, length, W, Win)
    rows = []
    for dtype, target in (("float64", 5.0), ("float32", 10.0)):
        node = Reservoir(units, lr=leak_rate, W=W, Win=Win, bias=bias, dtype=dtype)
        states = node.run(X)  # also the warm-up of the timed runs
        timing = time_call(lambda node=node: node.run(X), repeat=repeat, warmup=0)
        gflops = flops / timing.median / 1e9
        notes: dict[str, float | str] = {
            "max_abs_diff": float(np.max(np.abs(np.asarray(states, dtype=np.float64) - peer_states))),
            "gflops": gflops,
        }
        if peak_gflops and dtype in peak_gflops:
            notes["fraction_of_peak"] = gflops / peak_gflops[dtype]
        rows.append(
            BenchRow(
                operation=f"Reservoir.run {n_series}x{length}x{n_features}, {units} units, {dtype}",
                cbreservoir_seconds=timing.median,
                peer_seconds=peer_seconds,
                peer="reservoirpy Reservoir.run",
                target=target,
                notes=notes,
            )
        )
    return rows


# ----------------------------------------------------------------------------------------------------------
# One long series, one thread: Reservoir.run and (Reservoir >> Ridge).fit vs reservoirpy; batch vs a bare loop


def _max_abs_diff(a: object, b: object) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def bench_reservoir_series(
    length: int = 4000,
    n_features: int = 3,
    units: tuple[int, ...] = (100, 500),
    leak_rate: float = 0.3,
    repeat: int = 7,
    seed: int = 0,
) -> list[BenchRow]:
    """``Reservoir(units).run`` on one (T, d) series against ``reservoirpy.nodes.Reservoir.run``, one thread.

    Both nodes hold the same weights: reservoirpy's default draw (sparse CSR ``W``, same seed), then the
    same ``W`` dense, float32 states (reservoirpy with ``dtype=float32`` too) and a per-unit ``lr`` array.
    Each row: one untimed call per side (numba compiles or loads its cache), then ``repeat`` alternating
    rounds of ``reset(); run(x)``, medians (:func:`time_alternating`). Call it under one BLAS thread
    (:func:`run_speed_benchmarks` does).

    Returns
    -------
    list of BenchRow
        Per size: the CSR float64 row (target 3x for 100 units, 1.5x for 500; the issue's), then the
        float32, dense-``W`` and per-unit-``lr`` rows (no target). Notes: the largest state difference
        to reservoirpy (float64 rows: at most 1e-9 asked).
    """
    from reservoirpy.nodes import Reservoir as PeerReservoir

    from cbreservoir.nodes import Reservoir

    X = np.random.default_rng(seed + 1).uniform(-1.0, 1.0, (length, n_features))
    targets = {100: 3.0, 500: 1.5}
    rows = []
    for size in units:
        drawn = PeerReservoir(size, lr=leak_rate, sr=0.9, seed=seed)
        drawn.initialize(X)
        per_unit = np.random.default_rng(seed + 2).uniform(0.1, 0.9, size)
        variants = [
            ("reservoirpy's default W (CSR), float64", drawn.W, leak_rate, np.float64, targets.get(size)),
            ("float32 states", drawn.W, leak_rate, np.float32, None),
            ("the same W dense, float64", drawn.W.toarray(), leak_rate, np.float64, None),
            ("per-unit lr array, CSR W, float64", drawn.W, per_unit, np.float64, None),
        ]
        for label, W, lr, dtype, target in variants:
            weights = {"W": W, "Win": drawn.Win, "bias": drawn.bias, "lr": lr}
            peer = PeerReservoir(size, dtype=dtype, **weights)
            node = Reservoir(size, dtype=dtype, **weights)
            sides = {"ours": node, "peer": peer}
            outputs = {name: side.run(X) for name, side in sides.items()}  # untimed first calls
            seconds = time_alternating(
                {name: lambda side=side: (side.reset(), side.run(X)) for name, side in sides.items()},
                repeat=repeat,
            )
            rows.append(
                BenchRow(
                    operation=f"Reservoir({size}).run on one {length}x{n_features} series, {label}",
                    cbreservoir_seconds=seconds["ours"],
                    peer_seconds=seconds["peer"],
                    peer="reservoirpy Reservoir.run",
                    target=target,
                    notes={"max_abs_diff_vs_peer": _max_abs_diff(outputs["ours"], outputs["peer"])},
                )
            )
    return rows


def bench_model_fit(
    length: int = 4000,
    n_features: int = 3,
    units: int = 100,
    ridge: float = 1e-6,
    repeat: int = 7,
    seed: int = 0,
) -> BenchRow:
    """``(Reservoir(units) >> Ridge(ridge)).fit`` on one series against reservoirpy's same model, one thread.

    Both models hold reservoirpy's default weights (same seed), and are initialised by a first untimed
    fit; the timed rounds (alternating, medians) fit again from a reset state. The target is the
    next-step prediction of the first feature, warmup 100. Notes: the largest difference of the readout
    weights and of the predictions to reservoirpy's, relative to their largest magnitude.
    """
    from reservoirpy.nodes import Reservoir as PeerReservoir
    from reservoirpy.nodes import Ridge as PeerRidge

    from cbreservoir.nodes import Reservoir, Ridge

    X = np.random.default_rng(seed + 1).uniform(-1.0, 1.0, (length, n_features))
    Y = np.roll(X[:, :1], -1, axis=0)
    drawn = PeerReservoir(units, lr=0.3, sr=0.9, seed=seed)
    drawn.initialize(X)
    weights = {"W": drawn.W, "Win": drawn.Win, "bias": drawn.bias, "lr": 0.3}
    models = {
        "ours": Reservoir(units, **weights) >> Ridge(ridge),
        "peer": PeerReservoir(units, **weights) >> PeerRidge(ridge),
    }

    def fit(model: object) -> object:
        if model.initialized:  # reservoirpy's Model.reset needs an initialised model
            model.reset()
        return model.fit(X, Y, warmup=100)

    for model in models.values():
        fit(model)
    seconds = time_alternating(
        {name: lambda model=model: fit(model) for name, model in models.items()}, repeat=repeat
    )
    ours, peer = (fit(models[name]) for name in ("ours", "peer"))
    ours_w, peer_w = ours.nodes[-1].Wout, peer.nodes[-1].Wout
    ours.reset(), peer.reset()
    predictions = [np.asarray(model.run(X)) for model in (ours, peer)]
    return BenchRow(
        operation=f"(Reservoir({units}) >> Ridge({ridge:g})).fit on one {length}x{n_features} series",
        cbreservoir_seconds=seconds["ours"],
        peer_seconds=seconds["peer"],
        peer="reservoirpy (Reservoir >> Ridge).fit",
        target=2.0,
        notes={
            "max_rel_diff_Wout": _max_abs_diff(ours_w, peer_w) / float(np.max(np.abs(peer_w))),
            "max_rel_diff_prediction": _max_abs_diff(*predictions) / float(np.max(np.abs(predictions[1]))),
        },
    )


def bare_reservoir_loop(W: object, Win: np.ndarray, bias: np.ndarray, lr: float, X: np.ndarray) -> np.ndarray:
    """The batched reservoir run as one would write it with numpy alone: the peer of the batch rows.

    The input drive of all steps is one product; then per step ``H = (1 − lr) H + lr tanh(U_t + H Wᵀ)``
    for all series at once, the recurrent product by scipy (``W @ Hᵀ``, CSR ``W``) or BLAS (``H @ Wᵀ``).

    Parameters
    ----------
    W : ndarray or scipy sparse array (N, N)
    Win : ndarray (N, d)
    bias : ndarray (N,)
    lr : float
    X : ndarray (S, T, d)

    Returns
    -------
    ndarray (S, T, N)
    """
    drive = X @ Win.T + bias
    states = np.empty_like(drive)
    H = np.zeros((X.shape[0], len(bias)))
    W_t = None if scipy.sparse.issparse(W) else np.ascontiguousarray(W.T)
    for t in range(X.shape[1]):
        recurrent = (W @ H.T).T if W_t is None else H @ W_t
        H = (1 - lr) * H + lr * np.tanh(drive[:, t] + recurrent)
        states[:, t] = H
    return states


def bench_reservoir_batch(
    n_series: int = 64,
    length: int = 2000,
    n_features: int = 3,
    units: int = 500,
    leak_rate: float = 0.5,
    repeat: int = 3,
    seed: int = 0,
) -> list[BenchRow]:
    """``Reservoir.run`` on a batch (S, T, d) against :func:`bare_reservoir_loop`, same weights.

    Two rows: ``W`` as reservoirpy draws it (sparse CSR, 10 % connectivity) and the same ``W`` dense
    (the bare loop then multiplies it dense by BLAS). Alternating rounds, medians. The issue asks the
    node to stay within 1.15x of the bare loop (ratio at least 1/1.15 = 0.87).
    """
    from reservoirpy import mat_gen

    from cbreservoir.nodes import Reservoir

    rng = np.random.default_rng(seed)
    W = mat_gen.normal(units, units, sr=0.9, connectivity=0.1, seed=seed)
    Win = rng.uniform(-1.0, 1.0, (units, n_features))
    bias = rng.uniform(-1.0, 1.0, units)
    X = np.random.default_rng(seed + 1).uniform(-1.0, 1.0, (n_series, length, n_features))
    rows = []
    for label, matrix in (("sparse W (CSR)", scipy.sparse.csr_array(W)), ("the same W dense", W.toarray())):
        node = Reservoir(units, lr=leak_rate, W=matrix, Win=Win, bias=bias)
        outputs = {"ours": node.run(X), "bare": bare_reservoir_loop(matrix, Win, bias, leak_rate, X)}
        seconds = time_alternating(
            {
                "ours": lambda node=node: (node.reset(), node.run(X)),
                "bare": lambda matrix=matrix: bare_reservoir_loop(matrix, Win, bias, leak_rate, X),
            },
            repeat=repeat,
        )
        rows.append(
            BenchRow(
                operation=f"Reservoir({units}).run on a {n_series}x{length}x{n_features} batch, {label}",
                cbreservoir_seconds=seconds["ours"],
                peer_seconds=seconds["bare"],
                peer="bare numpy/scipy loop (bench.bare_reservoir_loop)",
                target=1 / 1.15,
                notes={"max_abs_diff_vs_peer": _max_abs_diff(outputs["ours"], outputs["bare"])},
            )
        )
    return rows


_FIRST_RUN_SCRIPT = """
import time, numpy as np
start = time.perf_counter()
from {module} import Reservoir
imported = time.perf_counter()
node = Reservoir({units}, lr=0.3, sr=0.9, seed=0)
node.run(np.random.default_rng(1).uniform(-1, 1, ({length}, 3)))
print(imported - start, time.perf_counter() - imported)
"""


def bench_first_call(units: int = 100, length: int = 4000) -> list[BenchRow]:
    """The first ``Reservoir(units).run`` of a fresh process, numba's compilation counted.

    Three fresh processes (one thread each): cbreservoir with an empty numba cache (``NUMBA_CACHE_DIR``
    a new temporary directory: the kernels compile), cbreservoir again on that cache (the kernels load),
    and reservoirpy. Each reports the seconds to import the package and of building plus the first run.

    Returns
    -------
    list of BenchRow
        The cold-cache and warm-cache rows, each against reservoirpy's first run; notes hold the
        import seconds.
    """
    import subprocess
    import tempfile

    def first_run(module: str, cache: str | None) -> tuple[float, float]:
        environment = {**os.environ, **{f"{name}_NUM_THREADS": "1" for name in ("OMP", "OPENBLAS", "MKL")}}
        if cache is not None:
            environment["NUMBA_CACHE_DIR"] = cache
        script = _FIRST_RUN_SCRIPT.format(module=module, units=units, length=length)
        result = subprocess.run(
            [sys.executable, "-c", script], env=environment, capture_output=True, text=True, check=True
        )
        imported, run = result.stdout.split()
        return float(imported), float(run)

    with tempfile.TemporaryDirectory() as cache:
        cold = first_run("cbreservoir.nodes", cache)
        warm = first_run("cbreservoir.nodes", cache)
    peer = first_run("reservoirpy.nodes", None)
    return [
        BenchRow(
            operation=f"first Reservoir({units}).run ({length}x3) of a fresh process, numba cache {state}",
            cbreservoir_seconds=seconds[1],
            peer_seconds=peer[1],
            peer="reservoirpy's first run in a fresh process",
            notes={"import_seconds": seconds[0], "peer_import_seconds": peer[0]},
        )
        for state, seconds in (("empty (compiles)", cold), ("filled (loads)", warm))
    ]


# ----------------------------------------------------------------------------------------------------------
# Ridge fit: cbreservoir.nodes.Ridge (in memory and streamed) vs reservoirpy.nodes.Ridge.fit


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


# ----------------------------------------------------------------------------------------------------------
# Ensembles: one update of E CB-RNNs as an EnsembleTrainer vs the plain reference loop, one after another


def bench_ensemble_update(
    n_members: int = 8,
    n: int = 5,
    batch_size: int = 64,
    steps: int = 20,
    shared_data: bool = True,
    repeat: int = 3,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> BenchRow:
    """Seconds per training update of ``n_members`` CB-RNNs (DMS level ``n``): ensemble vs reference loop.

    Both sides train on the same batches with the study's optimiser; the ``steps`` updates are timed
    ``repeat`` times, alternating the sides, and the medians are reported. With ``shared_data`` every
    member gets the same batch at a step (one length, no padding); otherwise each member draws its own
    batches (independent lengths: the ensemble left-pads and masks).

    Returns
    -------
    BenchRow
        Target 4×; notes hold the mean sequence length and the ensemble's member updates per second.
    """
    from cbreservoir.models import CBRNN
    from cbreservoir.tasks import make_batch
    from cbreservoir.training.ensemble import EnsembleTrainer

    device = torch.device(device)
    seeds = [seed + member for member in range(n_members)]
    rngs = [np.random.default_rng(seed if shared_data else member_seed) for member_seed in seeds]
    batches = []
    for _ in range(steps + 1):  # the first update of each side is an untimed warm-up
        drawn = [make_batch("dms", n, batch_size=batch_size, seed=rngs[0])] * n_members if shared_data else []
        drawn = drawn or [make_batch("dms", n, batch_size=batch_size, seed=rng) for rng in rngs]
        batches.append([(torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)) for x, y in drawn])

    ensemble = EnsembleTrainer([CBRNN(1, seed=s).to(device) for s in seeds], seeds=seeds, device=device)
    last_losses: dict[str, list[float]] = {}

    def ensemble_updates(steps_batches: list) -> None:
        for drawn in steps_batches:
            last_losses["ensemble"] = ensemble.train_step([x for x, _ in drawn], [y for _, y in drawn])

    networks = [reference.ReferenceCBRNN(seed=s).to(device) for s in seeds]
    optimizers = [reference.make_optimizer(network) for network in networks]
    generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]

    def reference_updates(steps_batches: list) -> None:
        last_losses["reference"] = [
            [reference.train_step(network, optimizer, *drawn[member], generator) for drawn in steps_batches][
                -1
            ]
            for member, (network, optimizer, generator) in enumerate(
                zip(networks, optimizers, generators, strict=True)
            )
        ]

    sides = {"ensemble": ensemble_updates, "reference": reference_updates}
    for updates in sides.values():
        updates(batches[:1])
    timings = time_alternating(
        {name: lambda updates=updates: updates(batches[1:]) for name, updates in sides.items()},
        repeat=repeat,
        synchronize=device_synchronizer(device),
    )
    # both sides train the same networks (same seeds, same initialisation) on the same data
    loss_difference = float(np.max(np.abs(np.subtract(last_losses["ensemble"], last_losses["reference"]))))
    seconds = timings["ensemble"] / steps
    data = "same batch for all members" if shared_data else "own batches per member, lengths differ"
    return BenchRow(
        operation=f"train update of {n_members} CB-RNNs, DMS N={n}, batch {batch_size} ({data})",
        cbreservoir_seconds=seconds,
        peer_seconds=timings["reference"] / steps,
        peer="reference loop (cbreservoir.experiments.reference), one network after another",
        target=4.0,
        notes={
            "mean_length": float(np.mean([x.shape[1] for drawn in batches[1:] for x, _ in drawn])),
            "member_updates_per_second": n_members / seconds,
            "max_final_loss_diff_vs_peer": loss_difference,
        },
    )


def bench_training_rows(sizes: dict[str, Any], *, device: str | torch.device = "cpu") -> list[BenchRow]:
    """The training rows of the table: :func:`bench_ensemble_update` with one batch for all members and
    with each member's own batches (``sizes``: its keyword arguments)."""
    return [
        bench_ensemble_update(**sizes, device=device),
        bench_ensemble_update(**sizes, shared_data=False, device=device),
    ]


# ----------------------------------------------------------------------------------------------------------
# The whole table

#: Problem sizes of the full run (the issue's) and of ``quick`` (a small smoke run).
SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "full": {
        "series": {"length": 4000, "n_features": 3, "units": (100, 500), "repeat": 7},
        "model_fit": {"length": 4000, "n_features": 3, "units": 100, "repeat": 7},
        "batch": {"n_series": 64, "length": 2000, "n_features": 3, "units": 500, "repeat": 3},
        "first_call": {"units": 100, "length": 4000},
        "reservoir": {"n_series": 64, "length": 2000, "n_features": 3, "units": 500, "repeat": 3},
        "ridge": {"n_samples": 100_000, "n_features": 1000, "n_outputs": 10, "n_chunks": 10},
        "ridge_accuracy": {"n_samples": 20_000, "n_features": 200},
        "ensemble": {"n_members": 8, "n": 5, "batch_size": 64, "steps": 20},
    },
    "quick": {
        "series": {"length": 500, "n_features": 3, "units": (100,), "repeat": 3},
        "model_fit": {"length": 500, "n_features": 3, "units": 50, "repeat": 3},
        "batch": {"n_series": 8, "length": 200, "n_features": 3, "units": 100, "repeat": 2},
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

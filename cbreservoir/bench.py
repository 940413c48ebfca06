"""Speed measurements: a timing harness, the machine's matrix-multiply peak, side-by-side benchmarks.

Every benchmark times a cbreservoir operation and its peer in the same run, on the same data,
and returns a :class:`BenchRow` (operation, cbreservoir seconds, peer seconds, ratio, target,
notes). ``benchmarks/speed.py`` and ``cbreservoir bench`` print them as one table.

Example
-------
>>> from cbreservoir.bench import time_call, matmul_peak_gflops
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
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch


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


def reservoir_run_flops(n_series: int, length: int, n_features: int, units: int) -> float:
    """Matrix-product work of a reservoir run: 2·S·T·N·(N + d) floating-point operations."""
    return 2.0 * n_series * length * units * (units + n_features)


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
    peer_timing = time_call(lambda: peer.run(X), repeat=1, warmup=0)
    peer_states = peer.run(X)
    flops = reservoir_run_flops(n_series, length, n_features, units)
    rows = []
    for dtype, target in (("float64", 5.0), ("float32", 10.0)):
        node = Reservoir(units, lr=leak_rate, W=W, Win=Win, bias=bias, dtype=dtype)
        states = node.run(X)
        timing = time_call(lambda node=node: node.run(X), repeat=repeat)
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
                peer_seconds=peer_timing.median,
                peer="reservoirpy Reservoir.run",
                target=target,
                notes=notes,
            )
        )
    return rows

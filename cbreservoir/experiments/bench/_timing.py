"""The timing harness, the machine's matrix-multiply peak and one row of the speed table."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

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

"""Refuse allocations that cannot fit in memory, before making them, with an estimate of the need.

A reservoir of a million units or a batch of a billion steps would otherwise die deep inside numpy or
torch (or, worse, push the machine into swap). Code about to allocate something big calls
:func:`check_memory` with the number of bytes it is going to need; when that exceeds the memory the
operating system reports as available, :class:`InsufficientMemoryError` is raised with both numbers
in GiB and nothing has been allocated yet.

:class:`InsufficientMemoryError` subclasses :class:`MemoryError` (not ``ValueError``): the request is
valid, the machine is too small, and code that already catches numpy's own ``MemoryError`` catches
this one too. Only host (CPU) memory is checked.

Examples
--------
>>> from cbreservoir.utils.resources import array_bytes, check_memory
>>> check_memory(array_bytes((100, 100), "float64"), "a 100 x 100 matrix")   # fits: returns quietly
>>> check_memory(array_bytes((10**7, 10**7), "float64"), "W")  # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
cbreservoir.utils.resources.InsufficientMemoryError: W would need about 7.45e+05 GiB but only ... GiB ...
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

__all__ = [
    "ALWAYS_ALLOWED_BYTES",
    "InsufficientMemoryError",
    "array_bytes",
    "available_memory",
    "check_memory",
]

_MEMINFO = Path("/proc/meminfo")
_GIB = 1024**3

#: Allocations below this many bytes are not checked (saves reading /proc/meminfo on every small call).
ALWAYS_ALLOWED_BYTES = 64 * 1024**2


class InsufficientMemoryError(MemoryError):
    """An allocation was refused because it needs more memory than is available."""


def available_memory() -> int | float:
    """Bytes of memory available for new allocations.

    ``MemAvailable`` from ``/proc/meminfo`` (Linux: free memory plus reclaimable caches); elsewhere
    the physical memory, ``os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")``; ``math.inf``
    when neither can be read (nothing is refused then).
    """
    try:
        for line in _MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return math.inf


def array_bytes(shape: tuple[int, ...], dtype: np.dtype | type | str = np.float64) -> int:
    """Bytes of an array of ``shape`` and ``dtype`` (exact Python integers: no overflow)."""
    return math.prod(int(size) for size in shape) * np.dtype(dtype).itemsize


def check_memory(n_bytes: int | float, what: str) -> None:
    """Raise :class:`InsufficientMemoryError` if ``n_bytes`` exceed the memory available now.

    Requests below :data:`ALWAYS_ALLOWED_BYTES` (64 MiB) pass without a look at the system.

    Parameters
    ----------
    n_bytes : int or float
        Estimated bytes of the allocation about to be made.
    what : str
        What is being allocated, for the message (e.g. ``"the states of Reservoir(units=10**6)"``).

    Raises
    ------
    InsufficientMemoryError
        With the need and the available memory in GiB.
    """
    if n_bytes < ALWAYS_ALLOWED_BYTES:
        return
    available = available_memory()
    if n_bytes > available:
        raise InsufficientMemoryError(
            f"{what} would need about {n_bytes / _GIB:.3g} GiB but only {available / _GIB:.3g} GiB of memory "
            "is available; use smaller sizes (or fewer series per call)"
        )

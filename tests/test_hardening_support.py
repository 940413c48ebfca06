"""Helpers shared by the ``test_hardening_*`` files (this module holds no tests).

* :func:`assert_rejected` calls an entry point with bad input and checks that it raises a
  ``ValueError``/``TypeError`` from cbreservoir's own code (not from deep inside numpy, torch or
  reservoirpy), that the message names the problem, and that the given objects were left unchanged;
* :data:`CASES` counts the cases tried per entry point (hypothesis examples included). Set
  ``CBRESERVOIR_HARDENING_CASES=/path/file.jsonl`` to have each test process append its counts there.
"""

from __future__ import annotations

import atexit
import copy
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import cbreservoir

#: Cases tried per entry point in this process.
CASES: Counter[str] = Counter()

PACKAGE_DIR = str(Path(cbreservoir.__file__).resolve().parent)


def _dump_counts() -> None:
    target = os.environ.get("CBRESERVOIR_HARDENING_CASES")
    if target and CASES:
        with open(target, "a") as stream:
            stream.write(json.dumps(dict(CASES)) + "\n")


atexit.register(_dump_counts)


def count(entry: str) -> None:
    """Count one case tried on ``entry`` (for cases checked without :func:`assert_rejected`)."""
    CASES[entry] += 1


def raising_file(error: BaseException) -> str:
    """File of the innermost frame of ``error``'s traceback (where it was raised)."""
    traceback = error.__traceback__
    while traceback.tb_next is not None:
        traceback = traceback.tb_next
    return str(Path(traceback.tb_frame.f_code.co_filename).resolve())


def snapshot(obj: Any) -> Any:
    """A deep copy of what defines ``obj``'s behaviour: a module's state dict, else its attributes."""
    if isinstance(obj, torch.nn.Module):
        return {key: value.detach().clone() for key, value in obj.state_dict().items()}
    if isinstance(obj, (np.ndarray, torch.Tensor)):
        return copy.deepcopy(obj)
    return copy.deepcopy({key: value for key, value in vars(obj).items() if not key.startswith("__")})


def same(a: Any, b: Any) -> bool:
    """Exact equality of nested dicts, lists, arrays and tensors (NaN equal to NaN)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.shape == b.shape
            and bool(torch.equal(torch.nan_to_num(a), torch.nan_to_num(b)))
        )
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if hasattr(a, "__dict__") and type(a) is type(b) and not callable(a):
        return same(vars(a), vars(b))
    return (
        bool(a == b) if not isinstance(a, float) or not np.isnan(a) else isinstance(b, float) and np.isnan(b)
    )


def assert_rejected(
    entry: str,
    call: Callable[[], Any],
    match: str | None = None,
    unchanged: Iterable[Any] = (),
    origins: tuple[str, ...] = (),
) -> BaseException:
    """Check that ``call()`` rejects its input cleanly; return the exception.

    Parameters
    ----------
    entry : str
        Entry point name, for the case count.
    call : callable
        Makes the bad call.
    match : str, optional
        Regular expression the message must contain (case-insensitive), e.g. the bad argument's name.
    unchanged : iterable
        Objects (nodes, modules, trainers' models) whose state must be the same before and after.
    origins : tuple of str
        Other packages (path fragments such as ``"sklearn"``) allowed to raise the error.
    """
    CASES[entry] += 1
    watched = list(unchanged)
    before = [snapshot(obj) for obj in watched]
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    error = info.value
    where = raising_file(error)
    allowed = where.startswith(PACKAGE_DIR) or any(f"/{origin}/" in where for origin in origins)
    assert allowed, f"{entry}: {type(error).__name__} raised deep inside {where}: {error}"
    message = str(error)
    assert len(message) > 10, f"{entry}: uninformative message {message!r}"
    if match is not None:
        assert re.search(match, message, re.IGNORECASE), f"{entry}: {message!r} does not mention {match!r}"
    for obj, state in zip(watched, before, strict=True):
        assert same(snapshot(obj), state), f"{entry}: {obj!r} changed by a rejected call"
    return error

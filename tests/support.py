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
from hypothesis import strategies as st

import cbreservoir

#: Features per step of the valid series the tests start from.
FEATURES = 3

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
    if isinstance(a, np.random.Generator) and isinstance(b, np.random.Generator):  # a node's rng
        spawned = [g.bit_generator.seed_seq.n_children_spawned for g in (a, b)]
        return a.bit_generator.state == b.bit_generator.state and spawned[0] == spawned[1]
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


# ------------------------------------------------------------------------------ bad series (hypothesis)


def random_data(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Standard normal float64 array of ``shape``."""
    return np.random.default_rng(seed).normal(size=shape)


@st.composite
def nonfinite_series(draw: st.DrawFn) -> tuple[str, object]:
    """A valid series, batch or ragged list with one NaN/inf entry."""
    layout = draw(st.sampled_from(["single", "batch", "ragged"]))
    length = draw(st.integers(1, 6))
    bad = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    if layout == "ragged":
        series = [random_data((length + i, FEATURES), i) for i in range(draw(st.integers(1, 3)))]
        target = series[draw(st.integers(0, len(series) - 1))]
    else:
        shape = (length, FEATURES) if layout == "single" else (draw(st.integers(1, 3)), length, FEATURES)
        series = target = random_data(shape)
    position = tuple(draw(st.integers(0, size - 1)) for size in target.shape)
    target[position] = bad
    return "finite", series


@st.composite
def malformed_series(draw: st.DrawFn) -> tuple[str, object]:
    """Input that is not a non-empty (T, d) / (S, T, d) / list of (T_i, d) array of real numbers."""
    kind = draw(
        st.sampled_from(
            ["ndim", "empty_steps", "empty_features", "empty_list", "ragged_features", "dtype", "list_of_1d"]
        )
    )
    if kind == "ndim":
        ndim = draw(st.sampled_from([0, 1, 4]))
        return "array", random_data(tuple(draw(st.integers(1, 3)) for _ in range(ndim)))
    if kind == "empty_steps":
        return "time step", np.zeros((0, FEATURES)) if draw(st.booleans()) else [
            random_data((3, FEATURES)),
            np.zeros((0, FEATURES)),
        ]
    if kind == "empty_features":
        return "feature", np.zeros((draw(st.integers(1, 4)), 0))
    if kind == "empty_list":
        return "at least one series", draw(st.sampled_from([[], ()]))
    if kind == "ragged_features":
        widths = draw(st.lists(st.integers(1, 5), min_size=2, max_size=4).filter(lambda w: len(set(w)) > 1))
        return "features", [random_data((4, width), i) for i, width in enumerate(widths)]
    if kind == "list_of_1d":
        return "time, features", [np.ones(FEATURES)]
    dtype = draw(st.sampled_from([complex, object, "U3"]))
    return "real numbers|numeric", random_data((4, FEATURES)).astype(dtype)

"""Scoped torch thread counts (the estimators' ``n_jobs``; one thread per run in sweeps and analyses)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from cbreservoir.utils.validation import check_int


@contextmanager
def torch_threads(n_jobs: int | None) -> Iterator[None]:
    """Let torch use ``n_jobs`` threads inside the block (None: unchanged; -1: every CPU).

    Raises
    ------
    TypeError
        If ``n_jobs`` is not None or an int.
    ValueError
        If ``n_jobs`` is an int other than -1 or a positive one.
    """
    if n_jobs is None:
        yield
        return
    if check_int(n_jobs, "n_jobs") < 1 and n_jobs != -1:
        raise ValueError(f"n_jobs must be None, -1 or a positive int; got {n_jobs!r}")
    previous = torch.get_num_threads()
    torch.set_num_threads((os.cpu_count() or 1) if n_jobs == -1 else n_jobs)
    try:
        yield
    finally:
        torch.set_num_threads(previous)

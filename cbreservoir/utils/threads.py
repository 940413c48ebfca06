"""Scoped torch thread counts (the estimators' ``n_jobs``; one thread per run in sweeps and analyses)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from cbreservoir.utils.validation import check_int


def check_threads(n_jobs: object, name: str = "n_jobs") -> int:
    """The thread count ``n_jobs`` asks for: -1 for every core, else 1 to the machine's cores.

    More threads than cores are refused: the OpenMP runtime under torch ends the process, without an
    exception, when asked for billions of them.

    Raises
    ------
    TypeError
        If ``n_jobs`` is not an int.
    ValueError
        If it is neither -1 nor in [1, os.cpu_count()].
    """
    cores = os.cpu_count() or 1
    if check_int(n_jobs, name) == -1:
        return cores
    if not 1 <= n_jobs <= cores:
        raise ValueError(
            f"{name} must be None, -1 or an int in [1, {cores}] (this machine's cores); got {n_jobs!r}"
        )
    return int(n_jobs)


@contextmanager
def torch_threads(n_jobs: int | None) -> Iterator[None]:
    """Let torch use ``n_jobs`` threads inside the block (None: unchanged; -1: every CPU).

    Raises
    ------
    TypeError
        If ``n_jobs`` is not None or an int.
    ValueError
        If ``n_jobs`` is not -1 or in [1, the machine's cores] (:func:`check_threads`); nothing is changed.
    """
    if n_jobs is None:
        yield
        return
    threads = check_threads(n_jobs)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)

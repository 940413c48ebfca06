"""Scoped thread counts: the estimators' ``n_jobs`` (torch threads for the gradient-trained ones, BLAS
threads for the closed-form ones); one thread per run in sweeps and analyses.

Importing this module loads no torch: :func:`torch_threads` imports it when it first changes a count.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

from cbreservoir.utils.validation import check_int


def _thread_count(n_jobs: int | None) -> int | None:
    """``n_jobs`` as a number of threads: None stays None, -1 is every CPU.

    Raises
    ------
    TypeError
        If ``n_jobs`` is not None or an int.
    ValueError
        If ``n_jobs`` is an int other than -1 or a positive one.
    """
    if n_jobs is None:
        return None
    if check_int(n_jobs, "n_jobs") < 1 and n_jobs != -1:
        raise ValueError(f"n_jobs must be None, -1 or a positive int; got {n_jobs!r}")
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


@contextmanager
def torch_threads(n_jobs: int | None) -> Iterator[None]:
    """Let torch use ``n_jobs`` threads inside the block (None: unchanged; -1: every CPU).

    Raises
    ------
    TypeError, ValueError
        A bad ``n_jobs`` (:func:`_thread_count`).
    """
    count = _thread_count(n_jobs)
    if count is None:
        yield
        return
    torch = importlib.import_module("torch")  # loaded here, by the gradient-trained paths only

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextmanager
def blas_threads(n_jobs: int | None) -> Iterator[None]:
    """Let the BLAS and OpenMP libraries of numpy and scipy use ``n_jobs`` threads inside the block
    (None: unchanged; -1: every CPU), through ``threadpoolctl``.

    Raises
    ------
    TypeError, ValueError
        A bad ``n_jobs`` (:func:`_thread_count`).
    """
    count = _thread_count(n_jobs)
    if count is None:
        yield
        return
    with threadpool_limits(limits=count):
        yield

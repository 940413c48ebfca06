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

from cbreservoir.utils.checks import check_int


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
    TypeError, ValueError
        If ``n_jobs`` is not None, -1 or in [1, the machine's cores] (:func:`check_threads`); nothing is
        changed.
    """
    if n_jobs is None:
        yield
        return
    count = check_threads(n_jobs)
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
        As :func:`torch_threads`.
    """
    if n_jobs is None:
        yield
        return
    with threadpool_limits(limits=check_threads(n_jobs)):
        yield

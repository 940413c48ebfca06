"""Resource limits: allocations that cannot fit are refused up front, with the need in GiB."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

from cbreservoir.models import build_model
from cbreservoir.nodes import Cerebellum, Reservoir, Ridge
from cbreservoir.tasks import make_batch, make_multitask_batch
from cbreservoir.utils import resources as _resources
from cbreservoir.utils.resources import InsufficientMemoryError, array_bytes, available_memory, check_memory
from tests.support import count

GIB = 1024**3


def _refused(call, what: str) -> InsufficientMemoryError:
    count(what)
    with pytest.raises(InsufficientMemoryError) as info:
        call()
    message = str(info.value)
    assert re.search(r"would need about [\d.e+]+ GiB but only [\d.e+]+ GiB", message), message
    return info.value


def test_available_memory_is_positive_and_below_physical() -> None:
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert 0 < available_memory() <= physical


def test_available_memory_falls_back_to_physical_memory(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(_resources, "_MEMINFO", tmp_path / "missing")
    assert available_memory() > 0


def test_array_bytes_is_exact_for_huge_shapes() -> None:
    assert array_bytes((10**6, 10**6), np.float64) == 8 * 10**12
    assert array_bytes((3, 0, 5), "float32") == 0
    assert array_bytes((), np.uint8) == 1


def test_check_memory_refuses_with_both_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_resources, "available_memory", lambda: 2 * GIB)
    check_memory(GIB, "one GiB")
    error = _refused(lambda: check_memory(3 * GIB, "three GiB of states"), "check_memory")
    assert isinstance(error, MemoryError)
    assert "three GiB of states would need about 3 GiB but only 2 GiB" in str(error)


def test_task_batches_beyond_memory_are_refused_before_allocating() -> None:
    _refused(lambda: make_batch("parity", 10**9, batch_size=4, seed=0), "make_batch")
    _refused(lambda: make_multitask_batch(10**9, batch_size=4, seed=0), "make_multitask_batch")
    _refused(lambda: make_batch("dms", 3, batch_size=10**11, seed=0), "make_batch")


@pytest.mark.parametrize(
    "kind, sizes",
    [
        ("rnn", {"units": 10**6}),
        ("lstm", {"units": 10**6}),
        ("gru_cb", {"units": 4, "n_granule": 10**12}),
        ("cbrnn", {"units": 4, "n_granule": 10**6, "n_purkinje": 10**6}),
    ],
)
def test_models_beyond_memory_are_refused_before_allocating(kind: str, sizes: dict) -> None:
    error = _refused(lambda: build_model(kind, input_dim=1, **sizes), f"build_model({kind})")
    assert "parameters of" in str(error)


def test_small_requests_pass_without_reading_the_system(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_resources, "available_memory", lambda: 0)
    check_memory(_resources.ALWAYS_ALLOWED_BYTES - 1, "a small array")
    _refused(lambda: check_memory(_resources.ALWAYS_ALLOWED_BYTES, "a large array"), "check_memory")


def test_nodes_beyond_memory_are_refused_before_allocating() -> None:
    _refused(lambda: Reservoir(10**6, seed=0).run(np.zeros((3, 2))), "Reservoir()")
    _refused(lambda: Cerebellum(n_granule=10**12, seed=0).run(np.zeros((3, 2))), "Cerebellum()")
    _refused(lambda: Ridge().fit(np.zeros((3, 10**6)), np.zeros((3, 1))), "Ridge.fit")
    _refused(lambda: Reservoir(10**12), "Reservoir()")
    _refused(lambda: Cerebellum(n_granule=10**12, n_purkinje=1, output="all"), "Cerebellum()")


@pytest.mark.parametrize("name", ["Reservoir.run", "Cerebellum.run", "Cerebellum.activity", "Ridge.fit"])
def test_node_calls_whose_results_cannot_fit_are_refused(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With 100 MiB available: states, activities or statistics of a few hundred MiB are refused."""
    monkeypatch.setattr(_resources, "available_memory", lambda: 100 * 1024**2)
    reservoir = Reservoir(1000, sr=0.9, seed=0)
    cerebellum = Cerebellum(n_granule=20_000, n_purkinje=10, seed=0)
    calls = {
        "Reservoir.run": lambda: reservoir.run(np.zeros((10, 2000, 1))),  # states: 160 MB
        "Cerebellum.run": lambda: cerebellum.run(np.zeros((1000, 3))),  # activity: 160 MB
        "Cerebellum.activity": lambda: cerebellum.activity(np.zeros((2, 500, 3))),
        "Ridge.fit": lambda: Ridge().fit(np.zeros((4, 5000)), np.zeros((4, 1))),  # X'X: 200 MB
    }
    _refused(calls[name], name)
    assert reservoir.state["out"].shape == (1000,) and not np.any(reservoir.state["out"])

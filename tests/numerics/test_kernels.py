"""Compiled reservoir kernels: each activation equals the numpy table, a run equals ``core_step``."""

import numba
import numba.core.caching
import numpy as np
import pytest
import scipy.sparse
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cbreservoir.numerics import kernels
from cbreservoir.numerics.activations import NUMPY_ACTIVATIONS, leaky_relu
from cbreservoir.numerics.functional import core_step, get_activation


def _activated(name: str, z: np.ndarray) -> np.ndarray:
    """φ(z) row by row through a kernel: W = 0, lr = 1 and h0 = 0 leave h_t = φ(u_t)."""
    states = np.array(z, dtype=np.float64)
    units = states.shape[1]
    kernels.leaky_dense_sequence(
        np.zeros((units, units)), states, np.zeros(units), np.zeros(units), np.ones(units),
        kernels.KERNEL_ACTIVATIONS[name], len(states),
    )
    return states


@pytest.mark.parametrize("name", sorted(kernels.KERNEL_ACTIVATIONS))
def test_each_kernel_activation_equals_the_numpy_function(name):
    z = np.random.default_rng(0).normal(scale=3.0, size=(50, 40))
    z[0, :5] = [-40.0, -1e-12, 0.0, 1e-12, 40.0]  # the tails and zero
    expected = NUMPY_ACTIVATIONS[name](z)
    np.testing.assert_allclose(_activated(name, z), expected, rtol=1e-14, atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-50, 50, allow_nan=False), min_size=1, max_size=64))
def test_kernel_tanh_is_within_1e15_of_numpy(values):
    z = np.array([values])
    np.testing.assert_allclose(_activated("tanh", z), np.tanh(z), rtol=0, atol=1e-15)


def test_kernel_codes_cover_the_named_functions_only():
    assert kernels.kernel_activation(np.tanh) == kernels.KERNEL_ACTIVATIONS["tanh"]
    assert kernels.kernel_activation(leaky_relu) == kernels.KERNEL_ACTIVATIONS["leaky_relu"]
    assert kernels.kernel_activation(lambda z: np.tanh(z)) is None
    assert set(kernels.KERNEL_ACTIVATIONS) <= set(NUMPY_ACTIVATIONS)


def _torch_activation(name: str):
    """The torch table's φ, or the numpy function on tensors for the names it lacks (softmax, softplus)."""
    try:
        return get_activation(name)
    except ValueError:
        return lambda z: torch.from_numpy(NUMPY_ACTIVATIONS[name](z.numpy()))


def _core_step_run(W, Win, bias, lr, name, x, h0):
    """The torch equation, step by step (float64)."""
    t = {key: torch.as_tensor(value, dtype=torch.float64) for key, value in
         {"W": W, "Win": Win, "bias": bias, "lr": lr, "x": x, "h": h0}.items()}
    h, out = t["h"], []
    for step in t["x"]:
        h = core_step(step, h, t["Win"], t["W"], t["bias"], None, t["lr"], _torch_activation(name))
        out.append(h)
    return torch.stack(out).numpy()


@pytest.mark.parametrize("name", sorted(kernels.KERNEL_ACTIVATIONS))
@pytest.mark.parametrize("per_unit_lr", [False, True])
def test_csr_and_dense_kernels_equal_core_step(name, per_unit_lr):
    rng = np.random.default_rng(1)
    units, steps = 30, 40
    W = rng.normal(size=(units, units)) * (rng.random((units, units)) < 0.2) * 0.4
    Win, bias = rng.uniform(-1, 1, (units, 2)), rng.normal(size=units) * 0.1
    lr = rng.uniform(0.1, 1.0, units) if per_unit_lr else np.full(units, 0.3)
    x, h0 = rng.normal(size=(steps, 2)), rng.normal(size=units) * 0.2
    expected = _core_step_run(W, Win, bias, lr, name, x, h0)
    code = kernels.KERNEL_ACTIVATIONS[name]
    csr = scipy.sparse.csr_array(W)
    dense_states, csr_states = (x @ Win.T + bias for _ in range(2))
    kernels.leaky_dense_sequence(W, dense_states, h0, 1 - lr, lr, code, steps)
    kernels.leaky_csr_sequence(
        csr.indptr.astype(np.uint64), csr.indices.astype(np.uint32), csr.data, csr_states, h0, 1 - lr, lr,
        code, steps,
    )
    np.testing.assert_allclose(dense_states, expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(csr_states, expected, rtol=0, atol=1e-10)


def test_kernels_run_in_float32():
    rng = np.random.default_rng(2)
    W = scipy.sparse.random_array((20, 20), density=0.2, random_state=rng) * 0.5
    drive = rng.normal(size=(30, 20))
    h0, lr = np.zeros(20), np.full(20, 0.5)
    csr = scipy.sparse.csr_array(W)
    arrays = (csr.indptr.astype(np.uint64), csr.indices.astype(np.uint32))
    wide, narrow = drive.copy(), drive.astype(np.float32)
    kernels.leaky_csr_sequence(*arrays, csr.data, wide, h0, lr, lr, 0, 30)
    kernels.leaky_csr_sequence(
        *arrays, csr.data.astype(np.float32), narrow, h0.astype(np.float32), lr.astype(np.float32),
        lr.astype(np.float32), 0, 30,
    )
    assert narrow.dtype == np.float32
    np.testing.assert_allclose(narrow, wide, rtol=0, atol=1e-5)


def _twice(x: float) -> float:
    return 2 * x


def test_uncacheable_functions_compile_without_the_disk_cache(monkeypatch):
    # no writable cache directory anywhere (a read-only package directory, no user cache): numba finds
    # no cache locator and the kernel decorator compiles in memory instead of failing at import
    def refuse(self):
        raise PermissionError("read-only")

    monkeypatch.setattr(numba.core.caching._CacheLocator, "ensure_cache_path", refuse)
    compiled = kernels._compiled(_twice)
    assert compiled(3.0) == 6.0
    assert isinstance(compiled._cache, numba.core.caching.NullCache)
    namespace: dict = {}  # and a function numba can never cache (defined in a string)
    exec("def thrice(x):\n    return 3 * x\n", namespace)
    assert kernels._compiled(namespace["thrice"])(3.0) == 9.0

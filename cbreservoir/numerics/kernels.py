"""Compiled (numba) kernels of the leaky reservoir run, the numpy path's time loop (no torch).

The equation is :func:`cbreservoir.numerics.functional.core_step`'s, the one source of the model's math::

    h_t = (1 − lr) h_{t−1} + lr φ(u_t + W h_{t−1}),    u_t = W_in x_t + b (+ c_t)

The input drive ``u_t`` of all steps is one BLAS product made before the loop (by the caller, into the
output array); each kernel then runs the whole sequence in compiled code: per step the recurrent
product (BLAS ``gemv``/``gemm`` for a dense ``W``, a CSR loop for a sparse one), the activation and the
leak, overwriting the drive of step t with the state of step t. Tested equal to ``core_step`` and to the
numpy activations (float64, 1e-10).

φ is chosen by a code of :data:`KERNEL_ACTIVATIONS` (reservoirpy's functions and the paper's
``leaky_relu``, the same formulas as :data:`cbreservoir.numerics.activations.NUMPY_ACTIVATIONS`); other
callables have no kernel (:func:`kernel_activation` returns None) and the caller keeps its numpy loop.

Compilation is cached on disk (numba ``cache=True``: next to this file, or under ``NUMBA_CACHE_DIR`` /
the user's cache directory when the package directory is not writable); where no cache directory can
be written, the kernels compile in memory once per process instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numba
import numpy as np

from cbreservoir.numerics.activations import LEAKY_RELU_SLOPE, Activation, activation_name

__all__ = [
    "KERNEL_ACTIVATIONS",
    "kernel_activation",
    "leaky_csr_sequence",
    "leaky_csr_step",
    "leaky_dense_sequence",
    "leaky_dense_step",
]

#: φ by name -> the code the kernels take (the functions of ``NUMPY_ACTIVATIONS`` under these names).
KERNEL_ACTIVATIONS = {
    "tanh": 0,
    "identity": 1,
    "relu": 2,
    "leaky_relu": 3,
    "sigmoid": 4,
    "softplus": 5,
    "softmax": 6,
}


def kernel_activation(function: Activation) -> int | None:
    """The kernel code of ``function`` (a function of :data:`NUMPY_ACTIVATIONS`), None if it has none."""
    return KERNEL_ACTIVATIONS.get(activation_name(function))


def _compiled(function: Callable) -> Callable:
    """``numba.njit(cache=True)``, or without the disk cache where numba finds no writable cache dir."""
    try:
        return numba.njit(cache=True, nogil=True)(function)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return numba.njit(nogil=True)(function)


@_compiled
def _tanh(x: float) -> float:
    """tanh as ``(1 − e) / (1 + e)``, ``e = exp(−2|x|)``, with the sign of x.

    Within 1e-15 of ``np.tanh`` everywhere (absolute; tested), and about twice as fast as the C
    library's ``tanh`` (one ``exp``), which matters: it is a tenth of a step of a 500-unit reservoir.
    """
    e = math.exp(-2.0 * abs(x))
    y = (1.0 - e) / (1.0 + e)
    return y if x >= 0.0 else -y


@_compiled
def _activate(z: np.ndarray, code: int) -> None:
    """φ(z) in place on one state vector z (units,); ``softmax`` acts over the units."""
    n = z.shape[0]
    if code == 0:
        for i in range(n):
            z[i] = _tanh(z[i])
    elif code == 2:
        for i in range(n):
            if z[i] < 0.0:  # NaN stays NaN, as np.maximum(z, 0)
                z[i] = 0.0
    elif code == 3:
        for i in range(n):
            if not z[i] > 0.0:
                z[i] = LEAKY_RELU_SLOPE * z[i]  # a global: numba compiles it in as a constant
    elif code == 4:
        for i in range(n):
            e = math.exp(z[i]) if z[i] < 0.0 else math.exp(-z[i])
            z[i] = e / (e + 1.0) if z[i] < 0.0 else 1.0 / (1.0 + e)
    elif code == 5:
        for i in range(n):
            z[i] = math.log(1.0 + math.exp(z[i]))
    elif code == 6:
        total = 0.0
        for i in range(n):
            z[i] = math.exp(z[i])
            total += z[i]
        for i in range(n):
            z[i] = z[i] / total


@_compiled
def _leak(h: np.ndarray, z: np.ndarray, keep: np.ndarray, lr: np.ndarray, code: int, out: np.ndarray) -> None:
    """``h ← (1 − lr) h + lr φ(z)`` in place, also written to ``out``, with ``keep = 1 − lr`` (all (units,)).

    ``z`` is overwritten with φ(z).
    """
    _activate(z, code)
    for i in range(h.shape[0]):
        h[i] = h[i] * keep[i] + z[i] * lr[i]
        out[i] = h[i]


@_compiled
def leaky_csr_sequence(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    states: np.ndarray,
    h0: np.ndarray,
    keep: np.ndarray,
    lr: np.ndarray,
    code: int,
    n_steps: int,
) -> None:
    """One series, sparse ``W`` (CSR arrays): ``states`` (T, units) holds u_t on entry, h_t on return.

    Parameters
    ----------
    indptr, indices, data : ndarray
        ``W`` (units, units) in CSR form, the index arrays unsigned (``uint64``, ``uint32``): numba then
        skips its negative-index handling in the gather ``h[indices[k]]``, which halves the time of the
        product (measured: 8 against 16 µs per step for 500 units and 25,000 non-zeros).
    states : ndarray (T, units)
        Input drive u_t on entry; states h_t for t < ``n_steps`` on return (rows after are left as is).
    h0 : ndarray (units,)
        Initial state (not modified).
    keep, lr : ndarray (units,)
        ``1 − lr`` and ``lr`` per unit.
    code : int
        φ, a value of :data:`KERNEL_ACTIVATIONS`.
    n_steps : int
    """
    units = h0.shape[0]
    h = h0.copy()
    z = np.empty_like(h)
    for t in range(n_steps):
        for i in range(units):
            acc = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                acc += data[k] * h[indices[k]]
            z[i] = acc + states[t, i]
        _leak(h, z, keep, lr, code, states[t])


@_compiled
def leaky_dense_sequence(
    W: np.ndarray,
    states: np.ndarray,
    h0: np.ndarray,
    keep: np.ndarray,
    lr: np.ndarray,
    code: int,
    n_steps: int,
) -> None:
    """One series, dense ``W`` (units, units), C-contiguous: as :func:`leaky_csr_sequence`, BLAS ``gemv``."""
    h = h0.copy()
    for t in range(n_steps):
        z = np.dot(W, h)
        z += states[t]
        _leak(h, z, keep, lr, code, states[t])


@_compiled
def _input_drive(input_weights_t: np.ndarray, bias: np.ndarray, x: np.ndarray, z: np.ndarray) -> None:
    """``z ← W_in x + b (+ c)``: ``input_weights_t`` is ``W_in`` transposed (d, units); the entries of ``x``
    past its d rows are the additive bias c (the cerebellar bias features)."""
    n_inputs = input_weights_t.shape[0]
    for i in range(z.shape[0]):
        z[i] = bias[i]
    for j in range(n_inputs):
        xj = x[j]
        for i in range(z.shape[0]):
            z[i] += input_weights_t[j, i] * xj
    for i in range(x.shape[0] - n_inputs):
        z[i] += x[n_inputs + i]


@_compiled
def leaky_csr_step(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    input_weights_t: np.ndarray,
    bias: np.ndarray,
    x: np.ndarray,
    h: np.ndarray,
    z: np.ndarray,
    keep: np.ndarray,
    lr: np.ndarray,
    code: int,
) -> None:
    """One step of one series in place, for loops that step a reservoir many times (closed-loop generation):
    ``h ← (1 − lr) h + lr φ(W h + W_in x + b (+ c))``, ``W`` in CSR form as in :func:`leaky_csr_sequence`,
    ``z`` (units,) a scratch buffer; no allocation."""
    _input_drive(input_weights_t, bias, x, z)
    for i in range(h.shape[0]):
        acc = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            acc += data[k] * h[indices[k]]
        z[i] += acc
    _leak(h, z, keep, lr, code, h)


@_compiled
def leaky_dense_step(
    W: np.ndarray,
    input_weights_t: np.ndarray,
    bias: np.ndarray,
    x: np.ndarray,
    h: np.ndarray,
    z: np.ndarray,
    keep: np.ndarray,
    lr: np.ndarray,
    code: int,
) -> None:
    """As :func:`leaky_csr_step` for a dense C-contiguous ``W`` (units, units) (BLAS ``gemv``)."""
    _input_drive(input_weights_t, bias, x, z)
    z += np.dot(W, h)
    _leak(h, z, keep, lr, code, h)

"""The torch side of the nodes: the numpy -> torch hand-over and the computations the nodes run in torch.

:class:`~cbreservoir.nodes.Reservoir` runs a batch through :class:`CoreKernel` (a torch sparse or dense
recurrent product); :class:`~cbreservoir.nodes.Cerebellum` evaluates
:func:`cbreservoir.numerics.functional.cerebellum_forward`. The node modules load this module on first
use (:func:`cbreservoir.nodes._base.torch_side`), never at import: building, initialising, running and
ridge-fitting a graph import no torch (the ``torch-free-graph`` contract of setup.cfg); torch is loaded
when a node first computes with it.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse
import torch

from cbreservoir.nodes._base import SPARSE_DENSITY
from cbreservoir.numerics.activations import TANH_FUNCTIONS, Activation
from cbreservoir.numerics.functional import CerebellarActivity, cerebellum_forward

__all__ = [
    "CerebellarActivity",
    "CoreKernel",
    "cerebellum_activity",
    "emitted",
    "recurrent_operator",
    "shared_tensor",
]


def shared_tensor(array: object, dtype: type = np.float64) -> torch.Tensor:
    """A torch tensor on the memory of ``array`` (converted to ``dtype``), or of a copy if it is read-only.

    ``torch.from_numpy`` on a read-only array (a broadcast, a memory map, ``flags.writeable=False``)
    warns that torch cannot protect it; only such arrays are copied.

    Parameters
    ----------
    array : array-like
    dtype : numpy floating type

    Returns
    -------
    tensor of the same shape
    """
    converted = np.asarray(array, dtype=dtype)
    if not converted.flags.writeable:
        converted = converted.copy()
    return torch.from_numpy(converted)


def cerebellum_activity(u: np.ndarray, *weights: np.ndarray | None) -> CerebellarActivity:
    """All layer activities of a Cerebellum for mossy input ``u`` (..., m), as float64 tensors.

    Parameters
    ----------
    u : ndarray (..., m)
    *weights : ndarray or None
        ``W_gc, b_gc, W_pc, b_pc, W_dcn, b_dcn, granule_threshold`` (the threshold may be None), the
        arguments of :func:`cbreservoir.numerics.functional.cerebellum_forward`.
    """
    tensors = [None if w is None else shared_tensor(w) for w in weights]
    return cerebellum_forward(shared_tensor(u), *tensors)


def emitted(
    activity: CerebellarActivity, mossy: torch.Tensor, output: str, input_gain: float
) -> torch.Tensor:
    """What a Cerebellum with ``output`` emits: ``[input_gain · u, g]`` for ``"input+granule"``, else
    ``activity.select(output)``; shared by the node and its compiled torch step.

    Parameters
    ----------
    activity : CerebellarActivity
        The layers for ``mossy``.
    mossy : Tensor (..., m)
        The mossy-fibre input u.
    """
    if output == "input+granule":
        return torch.cat([input_gain * mossy, activity.granule], dim=-1)
    return activity.select(output)


def touched_empty(shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """``np.empty`` with its pages touched in address order.

    The time loop writes one row per series at each step, far apart in memory; faulting the fresh
    pages in that scattered order costs several times more than touching them sequentially first.
    """
    array = np.empty(shape, dtype=dtype)
    array.reshape(-1)[:: max(1, 4096 // array.itemsize)] = 0
    return array


def recurrent_operator(W: np.ndarray | scipy.sparse.sparray, dtype: type, n_steps: int) -> object:
    """What multiplies the states ``H`` (units, S) at every step: ``W`` as is, or a torch tensor.

    A scipy sparse ``W`` multiplies as is for a single step (no conversion); for a run it becomes a torch
    CSR tensor built from its arrays (sparse enough, :data:`SPARSE_DENSITY`) or a dense tensor. A dense
    ``W`` becomes a torch CSR tensor only for a run and when it is sparse enough.
    """
    sparse = scipy.sparse.issparse(W)
    if n_steps == 1:
        return (
            W.astype(dtype, copy=False)
            if sparse
            else shared_tensor(np.ascontiguousarray(W, dtype=dtype), dtype)
        )
    density = (W.nnz if sparse else np.count_nonzero(W)) / max(1, W.shape[0] * W.shape[1])
    if sparse and density <= SPARSE_DENSITY:
        csr = scipy.sparse.csr_array(W, dtype=dtype)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            return torch.sparse_csr_tensor(
                torch.from_numpy(csr.indptr.astype(np.int64)),
                torch.from_numpy(csr.indices.astype(np.int64)),
                shared_tensor(csr.data, dtype),
                size=csr.shape,
                check_invariants=False,  # scipy's CSR arrays are valid by construction
            )
    dense = shared_tensor(np.ascontiguousarray(W.toarray() if sparse else W, dtype=dtype), dtype)
    if density <= SPARSE_DENSITY:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            return dense.to_sparse_csr()
    return dense


class CoreKernel:
    """The batched time loop of :func:`cbreservoir.numerics.functional.core_step`, arranged for speed.

    Per step, with the state of all S series held as columns ``H`` (units, S)::

        Z = W H + (W_in x_t + b)ᵀ [+ c_tᵀ];   H = (1 − lr) H + lr φ(Z)

    ``W H`` is one sparse (CSR) or dense matrix product for all series; the input drive is a small
    product per step; φ sees ``Zᵀ`` (S, units), so a non-elementwise φ (softmax) acts over the units of
    each series, and runs in place where it can. Equal to ``core_step`` step by step (tests: 1e-12 in
    float64).
    """

    def __init__(
        self,
        W: np.ndarray | scipy.sparse.sparray,
        Win: np.ndarray,
        bias: np.ndarray,
        lr: float | np.ndarray,
        activation: Activation,
        dtype: type,
        n_steps: int,
    ):
        self.recurrent = recurrent_operator(W, dtype, n_steps)
        self.input_weights_t = np.ascontiguousarray(np.transpose(Win), dtype=dtype)
        self.bias = np.asarray(bias, dtype=dtype)
        self.lr = np.asarray(lr, dtype=dtype)[:, None] if np.ndim(lr) else lr  # per unit: a column
        self.activation = activation
        self.dtype = dtype

    def _activate(self, z: np.ndarray) -> np.ndarray:
        if any(self.activation is tanh for tanh in TANH_FUNCTIONS):
            return np.tanh(z, out=z)
        return np.asarray(self.activation(z.T), dtype=self.dtype).T

    def _recurrent_drive(self, state: np.ndarray) -> np.ndarray:
        if isinstance(self.recurrent, torch.Tensor):
            return (self.recurrent @ torch.from_numpy(np.ascontiguousarray(state))).numpy()
        return np.asarray(self.recurrent @ state, dtype=self.dtype)

    def run(self, h0: np.ndarray, x: np.ndarray, lengths: list[int] | None, bias_features: int) -> np.ndarray:
        """States (S, T, units) for inputs ``x`` (S, T, d + bias_features); see ``Reservoir._integrate``."""
        n_series, n_steps, _ = x.shape
        units = len(self.bias)
        n_inputs = x.shape[2] - bias_features
        steps_first = np.ascontiguousarray(np.swapaxes(x, 0, 1), dtype=self.dtype)  # (T, S, d)
        outputs = touched_empty((n_series, n_steps, units), self.dtype)
        state = np.repeat(np.asarray(h0, dtype=self.dtype)[:, None], n_series, axis=1)  # (units, S)
        active = n_series
        with torch.inference_mode():
            for t in range(n_steps):
                if lengths is not None:
                    while lengths[active - 1] <= t:
                        active -= 1
                    state = state[:, :active]
                drive = steps_first[t, :active, :n_inputs] @ self.input_weights_t + self.bias  # (S, units)
                if bias_features:
                    drive += steps_first[t, :active, n_inputs:]
                z = self._recurrent_drive(state)
                z += drive.T
                activated = self._activate(z)
                activated *= self.lr  # (1 − lr) h + lr φ(z), in place
                state = state * (1 - self.lr)
                state += activated
                outputs[:active, t] = state.T
        return outputs

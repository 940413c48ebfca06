"""The cortical core as a reservoirpy node: a leaky Elman network, random or given weights.

    h_t = (1 − lr) h_{t−1} + lr φ(W_in x_t + bias + W h_{t−1} + c_t)

the equation of :func:`cbreservoir.numerics.functional.core_step` (the one source of the model's math),
evaluated for all series at once by a time loop arranged for speed (sparse recurrent product, in-place
activation) and tested equal to ``core_step`` for every activation. ``c_t`` is the additive cerebellar
bias of the loop wiring (``cerebellar_bias=True``), zero otherwise.

State semantics (the same as ``reservoirpy.nodes.Reservoir``)
--------------------------------------------------------------
* The node keeps its state ``node.state["out"]`` between calls: ``run`` continues from where the
  previous call stopped. ``node.reset()`` sets it back to zeros.
* Multi-series input (``(S, T, d)`` or a list): every series starts from the same current state;
  afterwards the node holds the final state of the *last* series.

Examples
--------
>>> import numpy as np
>>> from cbreservoir.nodes import Reservoir
>>> core = Reservoir(100, lr=0.5, sr=0.9, seed=0)
>>> states = core.run(np.random.default_rng(0).normal(size=(8, 50, 3)))   # 8 series at once
>>> states.shape
(8, 50, 100)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import scipy.sparse
import torch
from reservoirpy import mat_gen
from reservoirpy.node import Node

from cbreservoir.nodes._base import ValidatedStepMixin, shared_tensor
from cbreservoir.numerics.functional import get_activation
from cbreservoir.utils.resources import array_bytes, check_memory
from cbreservoir.utils.validation import (
    Series,
    as_float_array,
    check_finite,
    check_fraction,
    check_positive_int,
    check_real,
    check_seed,
    check_series,
    resolve_input_dim,
)

__all__ = ["Reservoir"]

_DTYPES = {"float64": np.float64, "float32": np.float32}

#: Recurrent matrices with at most this fraction of non-zeros are multiplied as sparse (CSR).
SPARSE_DENSITY = 0.3

#: Activations evaluated in place by a numpy ufunc where it is much faster than torch's kernel
#: (float64 ``torch.tanh`` is several times slower than ``np.tanh`` on CPU); the results are equal
#: to those of :data:`cbreservoir.numerics.functional.ACTIVATIONS` (tested).
_INPLACE_ACTIVATIONS: dict[str, Callable[..., np.ndarray]] = {"tanh": np.tanh}


def _touched_empty(shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """``np.empty`` with its pages touched in address order.

    The time loop writes one row per series at each step, far apart in memory; faulting the fresh
    pages in that scattered order costs several times more than touching them sequentially first.
    """
    array = np.empty(shape, dtype=dtype)
    array.reshape(-1)[:: max(1, 4096 // array.itemsize)] = 0
    return array


class _CoreKernel:
    """The batched time loop of :func:`cbreservoir.numerics.functional.core_step`, arranged for speed.

    Per step, with the state of all S series held as columns ``H`` (units, S)::

        Z = W H + (W_in x_t + b)ᵀ [+ c_tᵀ];   H = (1 − lr) H + lr φ(Z)

    ``W H`` is one sparse (CSR) or dense matrix product for all series; the input drive is a small
    product per step; φ runs in place. Equal to ``core_step`` step by step (tests: 1e-12 in float64).
    """

    def __init__(
        self,
        W: np.ndarray,
        Win: np.ndarray,
        bias: np.ndarray,
        lr: float,
        activation: str,
        dtype: type,
        allow_sparse: bool = True,
    ):
        recurrent = shared_tensor(np.ascontiguousarray(W, dtype=dtype), dtype)
        if allow_sparse and np.count_nonzero(W) <= SPARSE_DENSITY * W.size:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
                recurrent = recurrent.to_sparse_csr()
        self.recurrent = recurrent
        self.input_weights_t = np.ascontiguousarray(np.transpose(Win), dtype=dtype)
        self.bias = np.asarray(bias, dtype=dtype)
        self.lr = lr
        self.activation = activation
        self.dtype = dtype

    def _activate(self, z: np.ndarray) -> np.ndarray:
        inplace = _INPLACE_ACTIVATIONS.get(self.activation)
        if inplace is not None:
            return inplace(z, out=z)
        return get_activation(self.activation)(torch.from_numpy(z)).numpy()

    def run(self, h0: np.ndarray, x: np.ndarray, lengths: list[int] | None, bias_features: int) -> np.ndarray:
        """States (S, T, units) for inputs ``x`` (S, T, d + bias_features); see ``Reservoir._integrate``."""
        n_series, n_steps, _ = x.shape
        units = len(self.bias)
        n_inputs = x.shape[2] - bias_features
        steps_first = np.ascontiguousarray(np.swapaxes(x, 0, 1), dtype=self.dtype)  # (T, S, d)
        outputs = _touched_empty((n_series, n_steps, units), self.dtype)
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
                z = (self.recurrent @ torch.from_numpy(np.ascontiguousarray(state))).numpy()
                z += drive.T
                activated = self._activate(z)
                activated *= self.lr  # (1 − lr) h + lr φ(z), in place
                state = state * (1 - self.lr)
                state += activated
                outputs[:active, t] = state.T
        return outputs


def _check_dtype(dtype: object) -> str:
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}; got {dtype!r}")
    return name


def _dense(matrix: object, name: str, dtype: type) -> np.ndarray:
    """A dense, finite floating copy of ``matrix`` (ndarray, scipy sparse, torch tensor)."""
    if scipy.sparse.issparse(matrix):
        matrix = matrix.toarray()
    dense = np.array(as_float_array(matrix, name), dtype=dtype)
    check_finite(dense, name)
    return dense


class Reservoir(ValidatedStepMixin, Node):
    """Leaky Elman core (DESIGN.md), a ``reservoirpy`` node; numpy in, numpy out.

    Parameters
    ----------
    units : int
        Number of units H.
    lr : float, default 1.0
        Leak rate α in (0, 1] (reservoirpy's ``lr``; ``1 / tau``).
    sr : float or None, default 1.0
        Spectral radius a randomly drawn ``W`` is rescaled to (reservoirpy's default is 1.0;
        None keeps the raw draw). Ignored when ``W`` is given.
    input_scaling : float, default 1.0
        Scale of the random ±1 (Bernoulli) input weights. Ignored when ``Win`` is given.
    input_connectivity, rc_connectivity : float, default 0.1
        Densities of the random ``Win`` and ``W``.
    W : array (units, units), optional
        Recurrent weights (dense or scipy sparse; stored dense). Default: reservoirpy's
        ``mat_gen.normal`` initializer with ``sr`` and ``rc_connectivity``.
    Win : array (units, d_x), optional
        Input weights. Default: reservoirpy's ``mat_gen.bernoulli`` with ``input_scaling`` and
        ``input_connectivity``.
    bias : array (units,) or float, optional
        Input bias b_x. Default: zeros (as reservoirpy).
    activation : str, default "tanh"
        φ, a name from :data:`cbreservoir.numerics.functional.ACTIVATIONS` (``"tanh"``, ``"leaky_relu"``, ...).
    cerebellar_bias : bool, default False
        Loop wiring: the node's input is ``[x_t ; c_t]`` and its last ``units`` features are the
        additive cerebellar bias ``c_t`` (so ``input_dim = d_x + units``).
    frozen : bool, default False
        Marks the weights as fixed for gradient training (see :meth:`freeze`).
    dtype : {"float64", "float32"}, default "float64"
        Precision of the weights, the computation and the returned states.
    seed : int or numpy Generator, optional
        Seed of the random weights. The same seed draws the same matrices as
        ``reservoirpy.nodes.Reservoir(seed=seed)`` with the same parameters.
    input_dim : int, optional
        Input dimension (inferred from the first data otherwise).
    name : str, optional
        Node name.

    Attributes
    ----------
    W : ndarray (units, units)
    Win : ndarray (units, d_x)
    bias : ndarray (units,)
    state : dict
        ``{"out": ndarray (units,)}``, the current state h.
    """

    def __init__(
        self,
        units: int,
        lr: float = 1.0,
        sr: float | None = 1.0,
        input_scaling: float = 1.0,
        input_connectivity: float = 0.1,
        rc_connectivity: float = 0.1,
        W: object | None = None,
        Win: object | None = None,
        bias: object | None = None,
        activation: str = "tanh",
        cerebellar_bias: bool = False,
        frozen: bool = False,
        dtype: str = "float64",
        seed: int | np.random.Generator | None = None,
        input_dim: int | None = None,
        name: str | None = None,
    ):
        self.units = check_positive_int(units, "units")
        self.lr = check_fraction(lr, "lr (leak rate)")
        self.sr = None if sr is None else check_real(sr, "sr (spectral radius)", minimum=0.0, strict=True)
        self.input_connectivity = check_fraction(input_connectivity, "input_connectivity")
        self.rc_connectivity = check_fraction(rc_connectivity, "rc_connectivity")
        scaling = as_float_array(input_scaling, "input_scaling")
        check_finite(scaling, "input_scaling")
        self.input_scaling = input_scaling
        get_activation(activation)
        check_seed(seed)
        self.activation = activation
        self.cerebellar_bias = bool(cerebellar_bias)
        self.frozen = bool(frozen)
        self.dtype = _check_dtype(dtype)
        self.seed = seed
        self.name = name
        self.output_dim = self.units
        self.input_dim = None
        np_dtype = _DTYPES[self.dtype]
        self.W = None if W is None else _dense(W, "W", np_dtype)
        self.Win = None if Win is None else _dense(Win, "Win", np_dtype)
        self.bias = None if bias is None else self._bias_vector(bias, np_dtype)
        if self.W is not None and self.W.shape != (self.units, self.units):
            raise ValueError(f"W must have shape ({self.units}, {self.units}); got {self.W.shape}")
        if self.Win is not None:
            if self.Win.ndim != 2 or self.Win.shape[0] != self.units:
                raise ValueError(f"Win must have shape ({self.units}, input features); got {self.Win.shape}")
            self.input_dim = self.Win.shape[1] + self._bias_features
        if input_dim is not None:
            if self.input_dim is not None and input_dim != self.input_dim:
                raise ValueError(f"input_dim={input_dim} does not match Win, which implies {self.input_dim}")
            self.input_dim = check_positive_int(input_dim, "input_dim")
        check_memory(array_bytes((self.units,), np_dtype), f"the state of {self}")
        self.state = {"out": np.zeros(self.units, dtype=np_dtype)}

    # ------------------------------------------------------------------ construction
    @property
    def _bias_features(self) -> int:
        """Trailing input features that carry the cerebellar bias c_t."""
        return self.units if self.cerebellar_bias else 0

    def _bias_vector(self, bias: object, dtype: type) -> np.ndarray:
        vector = np.ravel(_dense(bias, "bias", dtype))
        if vector.size == 1:
            vector = np.full(self.units, vector[0], dtype=dtype)
        if vector.shape != (self.units,):
            raise ValueError(f"bias must have shape ({self.units},) or be a scalar; got {np.shape(bias)}")
        return vector

    def initialize(self, x: object = None, y: object = None) -> None:
        """Set ``input_dim`` from ``x`` (a step, a series, a batch or a list) and draw missing weights.

        The random draws follow ``reservoirpy.nodes.Reservoir.initialize``: the seed's generator is
        split into three (Win, W, bias) and reservoirpy's own initializers draw the matrices.
        """
        self.input_dim = resolve_input_dim(x, self.input_dim, owner=str(self))
        n_inputs = self.input_dim - self._bias_features
        if n_inputs < 1:
            raise ValueError(
                f"with cerebellar_bias=True the input is [x ; c] with {self.units} bias features, so "
                f"input_dim must exceed {self.units}; got {self.input_dim}"
            )
        win_rng, w_rng, _bias_rng = np.random.default_rng(self.seed).spawn(3)
        np_dtype = _DTYPES[self.dtype]
        if self.W is None or self.Win is None:
            check_memory(array_bytes((self.units, self.units + n_inputs), np_dtype), f"the weights of {self}")
        if self.Win is None:
            win = mat_gen.bernoulli(
                self.units,
                n_inputs,
                input_scaling=self.input_scaling,
                connectivity=self.input_connectivity,
                seed=win_rng,
            )
            self.Win = _dense(win, "Win", np_dtype)
        if self.Win.shape != (self.units, n_inputs):
            raise ValueError(f"Win must have shape ({self.units}, {n_inputs}); got {self.Win.shape}")
        if self.W is None:
            w = mat_gen.normal(
                self.units, self.units, sr=self.sr, connectivity=self.rc_connectivity, seed=w_rng
            )
            self.W = _dense(w, "W", np_dtype)
        if self.bias is None:
            self.bias = np.zeros(self.units, dtype=np_dtype)
        self.state = {"out": np.zeros(self.units, dtype=np_dtype)}
        self.initialized = True

    def freeze(self) -> Reservoir:
        """Mark the weights as fixed (``frozen = True``): gradient training leaves them unchanged."""
        self.frozen = True
        return self

    def reset(self) -> dict[str, np.ndarray]:
        """Set the state to zeros; return the previous state."""
        previous = self.state
        self.state = {"out": np.zeros(self.units, dtype=_DTYPES[self.dtype])}
        return previous

    # ------------------------------------------------------------------ computation
    def _integrate(self, h0: np.ndarray, x: np.ndarray, lengths: list[int] | None = None) -> np.ndarray:
        """Run the core over a padded batch (see :class:`_CoreKernel`).

        Parameters
        ----------
        h0 : ndarray (units,)
            Initial state of every series.
        x : ndarray (S, T, input_dim)
            Inputs; with ``lengths``, series sorted by decreasing length and zero-padded.
        lengths : list of int, optional
            Steps of each series (non-increasing). Series ``i`` stops updating after ``lengths[i]``.

        Returns
        -------
        ndarray (S, T, units)
            States; entries past a series' length are left undefined.
        """
        # a CSR copy of W pays off over many steps, not for one (Model graphs with delays step one by one)
        kernel = _CoreKernel(
            self.W,
            self.Win,
            self.bias,
            self.lr,
            self.activation,
            _DTYPES[self.dtype],
            allow_sparse=x.shape[1] > 1,
        )
        return kernel.run(h0, x, lengths, bias_features=self._bias_features)

    def _step(self, state: dict[str, np.ndarray], x: np.ndarray) -> dict[str, np.ndarray]:
        out = self._integrate(state["out"], np.reshape(x, (1, 1, -1)))
        return {"out": out[0, 0]}

    def _check_states_memory(self, series: Series) -> None:
        """Refuse a run whose states (all steps of all series) cannot fit in memory."""
        n_steps = sum(series.lengths)
        states = array_bytes((n_steps, self.units), _DTYPES[self.dtype])
        check_memory(states, f"the states of {self} for {series.n_series} series ({n_steps} steps)")

    def _run(self, state: dict[str, np.ndarray], x: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        series = check_series(x, n_features=self.input_dim, owner=str(self))
        self._check_states_memory(series)
        out = self._integrate(state["out"], series.data[None])[0]
        return {"out": out[-1]}, out

    def run(
        self, x: object = None, iters: int | None = None, workers: int = 1
    ) -> np.ndarray | list[np.ndarray]:
        """Run the core on one series, a batch (all series advance together) or a ragged list.

        Parameters
        ----------
        x : ndarray (T, d) or (S, T, d), or list of ndarray (T_i, d)
        iters, workers
            Accepted for reservoirpy compatibility; ``workers`` is ignored (series are batched).

        Returns
        -------
        ndarray (T, units), ndarray (S, T, units) or list of ndarray (T_i, units)
            States in ``dtype``; the layout follows ``x``.
        """
        if x is None:
            raise ValueError(f"{self} needs input data; got x=None")
        series = check_series(x, n_features=self.input_dim, owner=str(self))
        if not self.initialized:
            self.initialize(series.data)
        self._check_states_memory(series)
        h0 = self.state["out"]
        if series.layout == "ragged":
            per_series = self._run_ragged(h0, series.as_list())
            self.state = {"out": per_series[-1][-1].copy()}
            return per_series
        states = self._integrate(h0, series.data if series.layout == "batch" else series.data[None])
        self.state = {"out": states[-1, -1].copy()}
        return states if series.layout == "batch" else states[0]

    def _run_ragged(self, h0: np.ndarray, series: list[np.ndarray]) -> list[np.ndarray]:
        """Batch series of different lengths: sorted by length, in groups whose lengths differ by at
        most 2× (bounding the padding), each padded and run with the batch shrinking as series end."""
        lengths = [s.shape[0] for s in series]
        order = [int(i) for i in np.argsort(lengths, kind="stable")[::-1]]
        outputs: list[np.ndarray] = [np.empty(0)] * len(series)
        start = 0
        while start < len(order):
            stop = start + 1
            while stop < len(order) and 2 * lengths[order[stop]] >= lengths[order[start]]:
                stop += 1
            group = order[start:stop]
            padded = np.zeros((len(group), lengths[group[0]], series[0].shape[1]))
            for row, index in enumerate(group):
                padded[row, : lengths[index]] = series[index]
            states = self._integrate(h0, padded, [lengths[i] for i in group])
            for row, index in enumerate(group):
                outputs[index] = states[row, : lengths[index]]
            start = stop
        return outputs

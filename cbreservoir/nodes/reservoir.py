"""The cortical core as a reservoirpy node: a leaky Elman network, random or given weights.

    h_t = (1 − lr) h_{t−1} + lr φ(W_in x_t + bias + W h_{t−1} + recurrent_bias + c_t)

the equation of :func:`cbreservoir.numerics.functional.core_step` (the one source of the model's math), with
``bias`` = b_x and ``recurrent_bias`` = b_h (absent by default, as in reservoirpy's node: ``bias`` alone is
the constant; a compiled graph trains b_h as its own parameter, as the CB-RNN model does).
One series runs through a compiled kernel of :mod:`cbreservoir.numerics.kernels` (the whole time loop in
numba, no per-step Python) when φ is one of its activations; a batch, or another φ, runs all series at
once by a time loop arranged for speed (sparse recurrent product, in-place activation). Both are tested
equal to ``core_step`` for every activation. ``c_t`` is the additive cerebellar
bias of the loop wiring (``cerebellar_bias=True``), zero otherwise.

State semantics (the same as ``reservoirpy.nodes.Reservoir``)
--------------------------------------------------------------
* The node keeps its state ``node.state["out"]`` between calls: ``run`` continues from where the
  previous call stopped. ``node.reset()`` sets it back to zeros.
* Multi-series input (``(S, T, d)`` or a list): every series starts from the same current state;
  afterwards the node holds the final state of the *last* series.
* Free running: ``run(iters=n)`` / ``step()`` feed inputs with no feature (only the state, the bias and
  any feedback drive the core), as reservoirpy's ``Node.run(x=None, iters=n)``.

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

from collections.abc import Callable

import numpy as np
import scipy.sparse
from reservoirpy import mat_gen
from reservoirpy.node import Node
from reservoirpy.utils.random import rand_generator

from cbreservoir.nodes._base import SPARSE_DENSITY, ParameterStrMixin, spawn_generators
from cbreservoir.nodes.operators import ValidatedStepMixin
from cbreservoir.numerics import kernels
from cbreservoir.numerics.activations import TANH_FUNCTIONS, Activation, activation_name, resolve_activation
from cbreservoir.numerics.network import leak_rate
from cbreservoir.utils.checks import (
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
from cbreservoir.utils.resources import array_bytes, check_memory

__all__ = ["Reservoir"]

_DTYPES = {"float64": np.float64, "float32": np.float32}


def _recurrent_operand(W: np.ndarray | scipy.sparse.sparray, dtype: type, n_steps: int) -> object:
    """``W`` as the time loops multiply it: a CSR array when it is sparse enough (:data:`SPARSE_DENSITY`; a
    dense ``W`` only for several steps, where the conversion pays off), else a contiguous dense array."""
    sparse = scipy.sparse.issparse(W)
    density = (W.nnz if sparse else np.count_nonzero(W)) / max(1, W.shape[0] * W.shape[1])
    if density <= SPARSE_DENSITY and (sparse or n_steps > 1):
        return scipy.sparse.csr_array(W, dtype=dtype)
    return np.ascontiguousarray(W.toarray() if sparse else W, dtype=dtype)


class _CompiledCore:
    """A Reservoir's weights arranged for the one-series kernels of :mod:`cbreservoir.numerics.kernels`.

    The operands (``W`` as :func:`_recurrent_operand` decides for ``n_steps``, ``W_in``, ``1 − lr``,
    ``lr``) are prepared once.
    """

    def __init__(
        self,
        W: np.ndarray | scipy.sparse.sparray,
        Win: np.ndarray,
        bias: np.ndarray,
        lr: float | np.ndarray,
        code: int,
        dtype: type,
        n_steps: int,
    ) -> None:
        self.recurrent = _recurrent_operand(W, dtype, n_steps)
        if scipy.sparse.issparse(self.recurrent):  # unsigned indices: see kernels.leaky_csr_sequence
            self.indptr = self.recurrent.indptr.astype(np.uint64)
            self.indices = self.recurrent.indices.astype(np.uint32)
        self.input_weights_t = np.asarray(Win, dtype=dtype).T
        self.bias = bias
        lr = np.broadcast_to(np.asarray(lr, dtype=np.float64), (len(bias),))
        self.keep, self.lr = np.ascontiguousarray(1 - lr, dtype=dtype), np.ascontiguousarray(lr, dtype=dtype)
        self.code, self.dtype = code, dtype

    def run(self, h0: np.ndarray, x: np.ndarray, bias_features: int) -> np.ndarray:
        """States (T, units) of one series ``x`` (T, d + bias_features) from ``h0`` (units,).

        The input drive of every step ``W_in x_t + b (+ c_t)`` is one BLAS product into the output array
        before the time loop; the kernel then overwrites it step by step with the states (a CSR loop, or
        BLAS ``gemv`` for a dense ``W``).
        """
        n_steps = x.shape[0]
        n_inputs = x.shape[1] - bias_features
        x = np.asarray(x, dtype=self.dtype)
        states = np.empty((n_steps, len(self.bias)), dtype=self.dtype)
        np.matmul(x[:, :n_inputs], self.input_weights_t, out=states)
        states += self.bias
        if bias_features:
            states += x[:, n_inputs:]
        h0 = np.ascontiguousarray(h0, dtype=self.dtype)
        if scipy.sparse.issparse(self.recurrent):
            csr = (self.indptr, self.indices, self.recurrent.data)
            kernels.leaky_csr_sequence(*csr, states, h0, self.keep, self.lr, self.code, n_steps)
        else:
            kernels.leaky_dense_sequence(self.recurrent, states, h0, self.keep, self.lr, self.code, n_steps)
        return states


def _touched_empty(shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """``np.empty`` with its pages touched in address order.

    The batched time loop writes one row per series at each step, far apart in memory; faulting the fresh
    pages in that scattered order costs several times more than touching them sequentially first.
    """
    array = np.empty(shape, dtype=dtype)
    array.reshape(-1)[:: max(1, 4096 // array.itemsize)] = 0
    return array


def _batched_run(
    W: np.ndarray | scipy.sparse.sparray,
    Win: np.ndarray,
    bias: np.ndarray,
    lr: float | np.ndarray,
    activation: Activation,
    dtype: type,
    h0: np.ndarray,
    x: np.ndarray,
    lengths: list[int] | None,
    bias_features: int,
) -> np.ndarray:
    """States (S, T, units) of a padded batch ``x`` (S, T, d + bias_features), all series at once (numpy).

    Per step, with the state of all S series held as columns ``H`` (units, S)::

        Z = W H + (W_in x_t + b)ᵀ [+ c_tᵀ];   H = (1 − lr) H + lr φ(Z)

    ``W H`` is one sparse (CSR) or dense product for all series (:func:`_recurrent_operand`); φ sees
    ``Zᵀ`` (S, units), so a non-elementwise φ (softmax) acts over the units of each series, and runs in
    place where it can. With ``lengths`` (non-increasing, series sorted by it) series ``i`` stops after
    ``lengths[i]`` steps; entries past it are left undefined. Equal to ``core_step`` step by step (tests:
    1e-12 in float64).
    """
    n_series, n_steps, _ = x.shape
    units = len(bias)
    n_inputs = x.shape[2] - bias_features
    recurrent = _recurrent_operand(W, dtype, n_steps)
    input_weights_t = np.ascontiguousarray(np.transpose(Win), dtype=dtype)
    bias = np.asarray(bias, dtype=dtype)
    lr = np.asarray(lr, dtype=dtype)[:, None] if np.ndim(lr) else lr  # per unit: a column
    elementwise_tanh = any(activation is tanh for tanh in TANH_FUNCTIONS)
    steps_first = np.ascontiguousarray(np.swapaxes(x, 0, 1), dtype=dtype)  # (T, S, d)
    outputs = _touched_empty((n_series, n_steps, units), dtype)
    state = np.repeat(np.asarray(h0, dtype=dtype)[:, None], n_series, axis=1)  # (units, S)
    active = n_series
    for t in range(n_steps):
        if lengths is not None:
            while lengths[active - 1] <= t:
                active -= 1
            state = state[:, :active]
        drive = steps_first[t, :active, :n_inputs] @ input_weights_t + bias  # (S, units)
        if bias_features:
            drive += steps_first[t, :active, n_inputs:]
        z = np.asarray(recurrent @ state, dtype=dtype)
        z += drive.T
        activated = np.tanh(z, out=z) if elementwise_tanh else np.asarray(activation(z.T), dtype=dtype).T
        activated *= lr  # (1 − lr) h + lr φ(z), in place
        state = state * (1 - lr)
        state += activated
        outputs[:active, t] = state.T
    return outputs


def _check_dtype(dtype: object) -> str:
    try:
        name = dtype if isinstance(dtype, str) else np.dtype(dtype).name
    except TypeError as error:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}; got {dtype!r}") from error
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


def _recurrent_matrix(matrix: object, dtype: type) -> np.ndarray | scipy.sparse.csr_array:
    """``W`` as given: a scipy sparse matrix stays sparse (CSR, ``dtype``), anything else a dense copy."""
    if not scipy.sparse.issparse(matrix):
        return _dense(matrix, "W", dtype)
    csr = scipy.sparse.csr_array(matrix, dtype=dtype, copy=True)
    as_float_array(csr.data, "W")
    check_finite(csr.data, "W")
    return csr


def _pending(weights: object) -> bool:
    """Whether ``weights`` is still to be drawn: an initializer, or None for the default one."""
    return weights is None or callable(weights)


def _initializer(weights: object, default: Callable[..., object]) -> Callable[..., object]:
    return default if weights is None else weights


def _check_leak(lr: object, units: int) -> float | np.ndarray:
    """A leak rate in (0, 1]: one for all units (the spec's :func:`leak_rate`), or one per unit (units,)."""
    if np.ndim(lr) == 0:
        if lr is None:  # the spec's default applies to the torch models; a node's default is reservoirpy's
            raise TypeError("lr (leak rate) must be a number in (0, 1] or an array (units,); got None")
        return leak_rate(lr=lr)
    leaks = np.array(as_float_array(lr, "lr (leak rate)"), dtype=np.float64)
    if leaks.shape != (units,):
        raise ValueError(
            f"lr (leak rate) must be a number or an array of shape ({units},); got {leaks.shape}"
        )
    if not np.all((leaks > 0) & (leaks <= 1)):  # also refuses NaN
        raise ValueError(
            f"lr (leak rate) must be in (0, 1] for every unit; got values in [{leaks.min()}, {leaks.max()}]"
        )
    return leaks


class Reservoir(ParameterStrMixin, ValidatedStepMixin, Node):
    """Leaky Elman core (docs/model.md), a ``reservoirpy`` node; numpy in, numpy out.

    The constructor takes reservoirpy's ``Reservoir`` arguments, in its order, with its meaning
    (differences: docs/graph-guide.md, "Differences from reservoirpy"), then two of its own.

    Parameters
    ----------
    units : int, optional
        Number of units H; inferred from ``W`` when ``W`` is a matrix (required otherwise).
    lr : float or array (units,), default 1.0
        Leak rate α in (0, 1], one for all units or one per unit (reservoirpy's ``lr``; ``1 / tau``).
    sr : float or None, default 1.0
        Spectral radius passed to the ``W`` initializer (None keeps the raw draw).
    input_scaling : float or array (d_x,), default 1.0
        Input gain passed to the ``Win`` initializer, one for all features or one per feature.
    input_connectivity, rc_connectivity : float, default 0.1
        Densities passed to the ``Win`` and ``W`` initializers.
    Win : array (units, d_x) or callable, optional
        Input weights, or an initializer (default, None: ``reservoirpy.mat_gen.bernoulli``) called at
        initialisation as reservoirpy calls it: ``Win(units, d_x, input_scaling=,
        connectivity=input_connectivity, dtype=, seed=)``. Stored dense.
    W : array (units, units) or callable, optional
        Recurrent weights (a scipy sparse matrix stays sparse, CSR), or an initializer (default, None:
        ``reservoirpy.mat_gen.normal``) called as
        ``W(units, units, sr=, connectivity=rc_connectivity, dtype=, seed=)``.
    bias : float, array (units,) or callable, default 0.0
        Input bias b_x, or an initializer called as ``bias(units, connectivity=1.0, dtype=, seed=)``.
        Stored as a vector (units,).
    activation : str or callable, default "tanh"
        φ: a name of :data:`NUMPY_ACTIVATIONS` (reservoirpy's names and short names, and ``"leaky_relu"``)
        or a function of an array ``(..., units)``. The attribute holds the function.
    input_dim : int, optional
        Input dimension (inferred from ``Win`` or the first data otherwise).
    dtype : {"float64", "float32"} or numpy type, default "float64"
        Precision of the weights, the computation and the returned states.
    seed : int or numpy Generator, optional
        Seed of the random weights. None draws a generator from reservoirpy's global one
        (``reservoirpy.set_seed``), as reservoirpy does. The same seed draws the same matrices as
        ``reservoirpy.nodes.Reservoir(seed=seed)`` with the same parameters.
    name : str, optional
        Node name.
    cerebellar_bias : bool, default False
        Loop wiring: the node's input is ``[x_t ; c_t]`` and its last ``units`` features are the
        additive cerebellar bias ``c_t`` (so ``input_dim = d_x + units``).
    frozen : bool, default False
        Marks the weights as fixed for gradient training (see :meth:`freeze`).
    recurrent_bias : float or array (units,), optional
        The recurrent bias b_h (torch's ``bias_hh``), a second learnable bias beside ``bias`` (b_x, torch's
        ``bias_ih``). The numpy run adds the two; a compiled graph trains each as its own parameter, as the
        CB-RNN model trains ``core.input_layer.bias`` and ``core.recurrent_layer.bias`` (under gradient
        descent their sum moves twice as far per step as one bias would). None (default): no second bias.

    Attributes
    ----------
    W : ndarray or scipy sparse array (units, units)
    Win : ndarray (units, d_x)
    bias : ndarray (units,)
    recurrent_bias : ndarray (units,) or None
    activation : callable
    activation_name : str or None
    rng : numpy Generator
        The generator the initializers' seeds are spawned from.
    state : dict
        ``{"out": ndarray (units,)}``, the current state h.
    """

    def __init__(
        self,
        units: int | None = None,
        lr: float | np.ndarray = 1.0,
        sr: float | None = 1.0,
        input_scaling: float | np.ndarray = 1.0,
        input_connectivity: float = 0.1,
        rc_connectivity: float = 0.1,
        Win: object = None,
        W: object = None,
        bias: object = 0.0,
        activation: str | Activation = "tanh",
        input_dim: int | None = None,
        dtype: str | type = "float64",
        seed: int | np.random.Generator | None = None,
        name: str | None = None,
        *,
        cerebellar_bias: bool = False,
        frozen: bool = False,
        recurrent_bias: object = None,
    ):
        bias = 0.0 if bias is None else bias
        self.dtype = _check_dtype(dtype)
        np_dtype = _DTYPES[self.dtype]
        if units is None:
            if _pending(W):
                raise ValueError(
                    "units must be given unless W is a matrix; got units=None and W an initializer"
                )
            units = np.shape(W)[-1]
        self.units = check_positive_int(units, "units")
        self.lr = _check_leak(lr, self.units)
        self.sr = None if sr is None else check_real(sr, "sr (spectral radius)", minimum=0.0, strict=True)
        self.input_connectivity = check_fraction(input_connectivity, "input_connectivity")
        self.rc_connectivity = check_fraction(rc_connectivity, "rc_connectivity")
        scaling = as_float_array(input_scaling, "input_scaling")
        check_finite(scaling, "input_scaling")
        if scaling.ndim > 1:
            raise ValueError(
                f"input_scaling must be a number or an array (features,); got shape {scaling.shape}"
            )
        self.input_scaling = input_scaling
        self.activation = resolve_activation(activation)
        self.seed = check_seed(seed, none=True, generator=True)
        self.rng = rand_generator(self.seed)
        self.cerebellar_bias = bool(cerebellar_bias)
        self.frozen = bool(frozen)
        self.name = name
        self.output_dim = self.units
        self.input_dim = None
        check_memory(
            array_bytes((self.units,), np_dtype), f"the state of {self}"
        )  # before any (units,) array
        self.W = W if _pending(W) else _recurrent_matrix(W, np_dtype)
        self.Win = Win if _pending(Win) else _dense(Win, "Win", np_dtype)
        self.bias = bias if callable(bias) else self._bias_vector(bias, np_dtype)
        self.recurrent_bias = (
            None if recurrent_bias is None else self._bias_vector(recurrent_bias, np_dtype, "recurrent_bias")
        )
        if not _pending(self.W) and self.W.shape != (self.units, self.units):
            raise ValueError(f"W must have shape ({self.units}, {self.units}); got {self.W.shape}")
        if not _pending(self.Win):
            if self.Win.ndim != 2 or self.Win.shape[0] != self.units:
                raise ValueError(f"Win must have shape ({self.units}, input features); got {self.Win.shape}")
            self.input_dim = self.Win.shape[1] + self._bias_features
        if input_dim is not None:
            if self.input_dim is not None and input_dim != self.input_dim:
                raise ValueError(f"input_dim={input_dim} does not match Win, which implies {self.input_dim}")
            self.input_dim = check_positive_int(input_dim, "input_dim")
        self.state = {"out": np.zeros(self.units, dtype=np_dtype)}

    #: The constructor's arguments among a reservoir's attributes (restored through the constructor).
    _CONSTRUCTOR_ATTRIBUTES = (
        "units",
        "lr",
        "sr",
        "input_scaling",
        "input_connectivity",
        "rc_connectivity",
        "Win",
        "W",
        "bias",
        "activation",
        "input_dim",
        "dtype",
        "seed",
        "name",
        "cerebellar_bias",
        "frozen",
        "recurrent_bias",
    )
    #: Constructor attributes a state may lack (files and pickles written before the node had them).
    _ADDED_ATTRIBUTES = {"recurrent_bias": None}

    def __getstate__(self) -> dict:
        """The node's attributes; ``recurrent_bias`` only when it is set, so a node without one saves (and
        pickles) exactly as before the node had it."""
        state = dict(self.__dict__)
        if state.get("recurrent_bias") is None:
            state.pop("recurrent_bias", None)
        return state

    def __setstate__(self, state: dict) -> None:
        """Restore a saved (or pickled) reservoir through the constructor's checks, then its state and rng.

        A loaded reservoir is checked as a new one is: leak rates in (0, 1], finite weights of shape
        ``(units, units)`` and ``(units, inputs)``, a known dtype; its state ``{"out": (units,)}`` and its
        ``rng`` a NumPy Generator.

        Raises
        ------
        TypeError, ValueError
            As the constructor; or a missing attribute, a bad state or rng.
        """
        state = {**self._ADDED_ATTRIBUTES, **state}
        missing = [key for key in (*self._CONSTRUCTOR_ATTRIBUTES, "rng", "state") if key not in state]
        if missing:
            raise ValueError(f"a Reservoir's state lacks {missing}")
        self.__init__(**{key: state[key] for key in self._CONSTRUCTOR_ATTRIBUTES})
        rest = {key: value for key, value in state.items() if key not in self._CONSTRUCTOR_ATTRIBUTES}
        if not isinstance(rest["rng"], np.random.Generator):
            raise TypeError(f"a Reservoir's rng must be a numpy Generator; got {type(rest['rng']).__name__}")
        out = rest["state"].get("out") if isinstance(rest["state"], dict) else None
        if not (
            isinstance(out, np.ndarray) and out.shape == (self.units,) and out.dtype == _DTYPES[self.dtype]
        ):
            raise ValueError(f"a Reservoir's state must be {{'out': {self.dtype} array ({self.units},)}}")
        check_finite(out, "state['out']")
        initialized = rest.get("initialized", False)
        if type(initialized) is not bool or (initialized and (_pending(self.W) or _pending(self.Win))):
            raise ValueError(
                f"a Reservoir is initialized (a bool) only once W and Win are drawn; got {initialized!r}"
            )
        self.__dict__.update(rest)

    # ------------------------------------------------------------------ construction
    @property
    def _bias_features(self) -> int:
        """Trailing input features that carry the cerebellar bias c_t."""
        return self.units if self.cerebellar_bias else 0

    @property
    def activation_name(self) -> str | None:
        """The name of :attr:`activation` in :data:`NUMPY_ACTIVATIONS`, None for another callable."""
        return activation_name(self.activation)

    def _bias_vector(self, bias: object, dtype: type, name: str = "bias") -> np.ndarray:
        vector = np.ravel(_dense(bias, name, dtype))
        if vector.size == 1:
            vector = np.full(self.units, vector[0], dtype=dtype)
        if vector.shape != (self.units,):
            raise ValueError(f"{name} must have shape ({self.units},) or be a scalar; got {np.shape(bias)}")
        return vector

    @property
    def _constant_drive(self) -> np.ndarray:
        """The constant term of the pre-activation, ``bias`` (+ ``recurrent_bias``): b_x + b_h."""
        return self.bias if self.recurrent_bias is None else self.bias + self.recurrent_bias

    def initialize(self, x: object = None, y: object = None) -> None:
        """Set ``input_dim`` from ``x`` (a step, a series, a batch or a list) and draw missing weights.

        As ``reservoirpy.nodes.Reservoir.initialize``: :attr:`rng` is split into three (Win, W, bias) and
        each weight given as an initializer is drawn by calling it.
        """
        self.input_dim = resolve_input_dim(x, self.input_dim, owner=str(self), min_features=0)
        n_inputs = self.input_dim - self._bias_features
        if n_inputs < 0:
            raise ValueError(
                f"with cerebellar_bias=True the input is [x ; c] with {self.units} bias features, so "
                f"input_dim must be at least {self.units}; got {self.input_dim}"
            )
        scaling = np.ravel(self.input_scaling)
        if _pending(self.Win) and scaling.size not in (1, n_inputs):
            raise ValueError(
                f"input_scaling must be a number or an array ({n_inputs},); got shape {scaling.shape}"
            )
        win_rng, w_rng, bias_rng = spawn_generators(self.seed, self.rng)
        np_dtype = _DTYPES[self.dtype]
        if _pending(self.W) or _pending(self.Win):
            check_memory(array_bytes((self.units, self.units + n_inputs), np_dtype), f"the weights of {self}")
        if _pending(self.Win):
            win = _initializer(self.Win, mat_gen.bernoulli)(
                self.units,
                n_inputs,
                input_scaling=self.input_scaling,
                connectivity=self.input_connectivity,
                dtype=np_dtype,
                seed=win_rng,
            )
            self.Win = _dense(win, "Win", np_dtype)
        if self.Win.shape != (self.units, n_inputs):
            raise ValueError(f"Win must have shape ({self.units}, {n_inputs}); got {self.Win.shape}")
        if _pending(self.W):
            w = _initializer(self.W, mat_gen.normal)(
                self.units,
                self.units,
                sr=self.sr,
                connectivity=self.rc_connectivity,
                dtype=np_dtype,
                seed=w_rng,
            )
            self.W = _recurrent_matrix(w, np_dtype)
            if self.W.shape != (self.units, self.units):
                raise ValueError(
                    f"the W initializer must return ({self.units}, {self.units}); got {self.W.shape}"
                )
        if callable(self.bias):
            self.bias = self._bias_vector(
                self.bias(self.units, connectivity=1.0, dtype=np_dtype, seed=bias_rng), np_dtype
            )
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
        """Run the core over a padded batch: one series by a compiled kernel (:class:`_CompiledCore`), a
        batch or an activation without a kernel by :func:`_batched_run`.

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
        code = kernels.kernel_activation(self.activation)
        if code is not None and x.shape[0] == 1:  # one series: the compiled loop, no per-step Python
            dtype = _DTYPES[self.dtype]
            core = _CompiledCore(self.W, self.Win, self._constant_drive, self.lr, code, dtype, x.shape[1])
            return core.run(h0, x[0], self._bias_features)[None]
        return _batched_run(
            self.W, self.Win, self._constant_drive, self.lr, self.activation, _DTYPES[self.dtype], h0, x,
            lengths, self._bias_features,
        )  # fmt: skip

    def _step(self, state: dict[str, np.ndarray], x: np.ndarray) -> dict[str, np.ndarray]:
        out = self._integrate(state["out"], np.reshape(x, (1, 1, -1)))
        return {"out": out[0, 0]}

    def stepper(self) -> Callable[[np.ndarray], np.ndarray]:
        """``step(x)`` without its checks, for loops that step the node many times (closed-loop generation).

        The compiled kernel's operands are prepared once (:class:`_CompiledCore`), and each step is one call
        of :func:`~cbreservoir.numerics.kernels.leaky_csr_step` (or ``leaky_dense_step``) on buffers that
        are reused; the function is valid while the weights stay as they are. ``step(x)`` takes one time
        step ``(input_dim,)``, advances ``state`` and returns the new state ``(units,)`` (the state's own
        array, overwritten by the next step).
        """
        code = kernels.kernel_activation(self.activation)
        if code is None:  # an activation without a kernel: the validated step
            return self.step
        dtype = _DTYPES[self.dtype]
        core = _CompiledCore(self.W, self.Win, self._constant_drive, self.lr, code, dtype, n_steps=2)
        weights_t = np.ascontiguousarray(core.input_weights_t)
        bias = np.ascontiguousarray(np.broadcast_to(core.bias, (self.units,)), dtype=dtype)
        h, z = np.empty(self.units, dtype=dtype), np.empty(self.units, dtype=dtype)
        if scipy.sparse.issparse(core.recurrent):
            operands = (core.indptr, core.indices, core.recurrent.data)
            kernel = kernels.leaky_csr_step
        else:
            operands, kernel = (core.recurrent,), kernels.leaky_dense_step

        def step(x: np.ndarray) -> np.ndarray:
            if self.state["out"] is not h:
                h[:] = self.state["out"]
                self.state = {"out": h}
            kernel(*operands, weights_t, bias, np.asarray(x, dtype=dtype), h, z, core.keep, core.lr, code)
            return h

        return step

    def _check_states_memory(self, series: Series) -> None:
        """Refuse a run whose states (all steps of all series) cannot fit in memory."""
        n_steps = sum(series.lengths)
        states = array_bytes((n_steps, self.units), _DTYPES[self.dtype])
        check_memory(states, f"the states of {self} for {series.n_series} series ({n_steps} steps)")

    def _run(self, state: dict[str, np.ndarray], x: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        series = check_series(x, n_features=self.input_dim, owner=str(self), min_features=0)
        self._check_states_memory(series)
        out = self._integrate(state["out"], series.data[None])[0]
        return {"out": out[-1]}, out

    def run(
        self, x: object = None, iters: int | None = None, workers: int = 1
    ) -> np.ndarray | list[np.ndarray]:
        """Run the core on one series, a batch (all series advance together) or a ragged list.

        Parameters
        ----------
        x : ndarray (T, d) or (S, T, d), or list of ndarray (T_i, d), optional
            Inputs; ``d`` may be 0 (no external input).
        iters : int, optional
            Without ``x``: run this many steps free (an input ``(iters, 0)``, as reservoirpy).
        workers : int, default 1
            Accepted for reservoirpy compatibility and ignored (the series are batched).

        Returns
        -------
        ndarray (T, units), ndarray (S, T, units) or list of ndarray (T_i, units)
            States in ``dtype``; the layout follows ``x``.
        """
        if x is None:
            if iters is None:
                raise ValueError(f"{self} needs input data x or a number of steps iters; got neither")
            x = np.empty((check_positive_int(iters, "iters"), 0))
        series = check_series(x, n_features=self.input_dim, owner=str(self), min_features=0)
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

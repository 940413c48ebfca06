"""Reservoir node: equivalence with reservoirpy, batching, state semantics, seeds, dtypes, loop input."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reservoirpy.nodes import Reservoir as PeerReservoir

from cbreservoir.nodes import Reservoir
from cbreservoir.numerics.activations import NUMPY_ACTIVATIONS
from cbreservoir.numerics.functional import ACTIVATIONS, core_step, get_activation
from cbreservoir.numerics.kernels import KERNEL_ACTIVATIONS


@pytest.fixture
def weights():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(40, 40)) * (rng.random((40, 40)) < 0.2) * 0.3
    Win = rng.uniform(-1, 1, size=(40, 3))
    bias = rng.normal(size=40) * 0.1
    return W, Win, bias


@pytest.fixture
def inputs():
    return np.random.default_rng(1).normal(size=(6, 30, 3))


def _pair(weights, lr=0.4):
    W, Win, bias = weights
    return PeerReservoir(40, lr=lr, W=W, Win=Win, bias=bias), Reservoir(40, lr=lr, W=W, Win=Win, bias=bias)


def test_run_matches_reservoirpy_2d_and_3d(weights, inputs):
    peer, node = _pair(weights)
    np.testing.assert_allclose(node.run(inputs[0]), peer.run(inputs[0]), rtol=0, atol=1e-10)
    # the state carries over between calls, in both
    np.testing.assert_allclose(node.run(inputs), np.asarray(peer.run(inputs)), rtol=0, atol=1e-10)
    np.testing.assert_allclose(node.state["out"], peer.state["out"], rtol=0, atol=1e-10)


def test_ragged_list_matches_reservoirpy_and_keeps_last_series_state(weights, inputs):
    peer, node = _pair(weights)
    series = [
        inputs[0, :7],
        inputs[1],
        inputs[2, :19],
        inputs[3, :1],
        inputs[4, :16],
    ]  # several length groups
    ours, theirs = node.run(series), peer.run(series)
    assert isinstance(ours, list) and [o.shape for o in ours] == [
        (7, 40),
        (30, 40),
        (19, 40),
        (1, 40),
        (16, 40),
    ]
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    np.testing.assert_allclose(node.state["out"], ours[-1][-1])


def test_batched_run_equals_series_one_by_one(weights, inputs):
    W, Win, bias = weights
    batched = Reservoir(40, lr=0.4, W=W, Win=Win, bias=bias, activation="leaky_relu").run(inputs)
    for i, series in enumerate(inputs):
        single = Reservoir(40, lr=0.4, W=W, Win=Win, bias=bias, activation="leaky_relu").run(series)
        np.testing.assert_allclose(batched[i], single, rtol=0, atol=1e-12)


def test_same_seed_draws_reservoirpys_matrices():
    ours = Reservoir(50, lr=0.3, sr=0.9, input_scaling=0.5, rc_connectivity=0.2, seed=7)
    peer = PeerReservoir(50, lr=0.3, sr=0.9, input_scaling=0.5, rc_connectivity=0.2, seed=7)
    ours.initialize(np.zeros((1, 2)))
    peer.initialize(np.zeros((1, 2)))
    np.testing.assert_array_equal(ours.W.toarray(), peer.W.toarray())
    np.testing.assert_array_equal(ours.Win, peer.Win.toarray())
    np.testing.assert_allclose(np.max(np.abs(np.linalg.eigvals(ours.W.toarray()))), 0.9, rtol=1e-6)
    other = Reservoir(50, sr=0.9, seed=8)
    other.initialize(np.zeros(2))
    assert not np.array_equal(other.W.toarray(), ours.W.toarray())


def test_step_and_run_agree(weights, inputs):
    W, Win, bias = weights
    node = Reservoir(40, lr=0.4, W=W, Win=Win, bias=bias)
    stepped = np.stack([node.step(x) for x in inputs[0]])
    node.reset()
    np.testing.assert_allclose(node.run(inputs[0]), stepped, atol=1e-12)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("density", [0.1, 1.0])
def test_batched_loop_equals_core_step(activation, density):
    rng = np.random.default_rng(3)
    W = rng.normal(size=(30, 30)) * (rng.random((30, 30)) < density) * 0.2
    Win, bias, x = rng.normal(size=(30, 2)), rng.normal(size=30), rng.normal(size=(4, 12, 2))
    states = Reservoir(30, lr=0.7, W=W, Win=Win, bias=bias, activation=activation).run(x)
    h = torch.zeros(4, 30, dtype=torch.float64)
    weights = [torch.from_numpy(m) for m in (Win, W, bias)]
    for t in range(12):
        h = core_step(torch.from_numpy(x[:, t]), h, *weights, None, 0.7, get_activation(activation))
        np.testing.assert_allclose(states[:, t], h.numpy(), rtol=0, atol=1e-12)


def test_sparse_W_stays_sparse_and_Win_is_stored_dense(weights, inputs):
    W, Win, bias = weights
    node = Reservoir(40, lr=0.4, W=scipy.sparse.csr_array(W), Win=scipy.sparse.csr_array(Win), bias=bias)
    assert scipy.sparse.issparse(node.W) and isinstance(node.Win, np.ndarray)
    np.testing.assert_allclose(node.run(inputs[0]), _pair(weights)[1].run(inputs[0]), atol=1e-12)


def test_float32_mode_is_close_to_float64(weights, inputs):
    W, Win, bias = weights
    states32 = Reservoir(40, lr=0.4, W=W, Win=Win, bias=bias, dtype="float32").run(inputs)
    states64 = Reservoir(40, lr=0.4, W=W, Win=Win, bias=bias).run(inputs)
    assert states32.dtype == np.float32
    np.testing.assert_allclose(states32, states64, atol=1e-4)


def test_cerebellar_bias_input_adds_inside_the_nonlinearity(weights, inputs):
    W, Win, bias = weights
    c = np.random.default_rng(2).normal(size=(30, 40))
    looped = Reservoir(40, lr=0.4, W=W, Win=Win, bias=bias, cerebellar_bias=True)
    assert looped.input_dim == 3 + 40
    states = looped.run(np.concatenate([inputs[0], c], axis=1))
    h = np.zeros(40)
    for x, c_t in zip(inputs[0], c, strict=True):
        h = 0.6 * h + 0.4 * np.tanh(Win @ x + bias + W @ h + c_t)
    np.testing.assert_allclose(states[-1], h, atol=1e-12)
    with pytest.raises(ValueError, match="input_dim must be at least 40"):
        Reservoir(40, cerebellar_bias=True).initialize(np.zeros(10))


def test_freeze_and_reset(weights, inputs):
    node = _pair(weights)[1]
    assert node.freeze() is node and node.frozen
    node.run(inputs[0])
    assert np.any(node.state["out"] != 0)
    node.reset()
    np.testing.assert_array_equal(node.state["out"], np.zeros(40))


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError, match="lr"):
        Reservoir(10, lr=1.5)
    with pytest.raises(ValueError, match="activation"):
        Reservoir(10, activation="softsign")
    with pytest.raises(ValueError, match="dtype"):
        Reservoir(10, dtype="float16")
    with pytest.raises(ValueError, match=r"W must have shape \(10, 10\)"):
        Reservoir(10, W=np.zeros((5, 5)))


@settings(max_examples=20, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 40), min_size=1, max_size=7),
    lr=st.floats(0.05, 1.0),
    dtype=st.sampled_from(["float64", "float32"]),
)
def test_ragged_batch_equals_series_run_one_by_one(lengths, lr, dtype):
    rng = np.random.default_rng(len(lengths))
    series = [rng.normal(size=(n, 2)) for n in lengths]
    node = Reservoir(25, lr=lr, sr=0.9, rc_connectivity=0.2, seed=1, dtype=dtype)
    together = node.run(series)
    alone = Reservoir(25, lr=lr, sr=0.9, rc_connectivity=0.2, seed=1, dtype=dtype)
    tolerance = 1e-12 if dtype == "float64" else 1e-5
    for x, states in zip(series, together, strict=True):
        alone.reset()
        np.testing.assert_allclose(states, alone.run(x), rtol=0, atol=tolerance)
    np.testing.assert_allclose(node.state["out"], alone.state["out"], rtol=0, atol=tolerance)


def test_sparse_path_and_read_only_arrays_run_without_warnings(weights, inputs):
    """No torch warning in normal runs: the sparse-CSR beta notice is silenced, read-only arrays copied."""
    W, Win, bias = weights
    expected = Reservoir(40, W=W, Win=Win, bias=bias).run(inputs)
    read_only = inputs.copy()
    read_only.flags.writeable = False
    node = Reservoir(40, W=W, Win=Win, bias=bias)
    node.initialize(read_only)
    node.W.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = node.run(read_only)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("activation", sorted(KERNEL_ACTIVATIONS))
@pytest.mark.parametrize("form", ["csr", "dense, sparse enough", "dense"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_one_series_compiled_run_equals_the_numpy_loop(activation, form, dtype):
    """One series runs through a compiled kernel; the same function as a plain callable (no kernel) keeps
    the numpy/torch loop: equal states, dense or CSR W, per-unit lr, with the cerebellar bias input."""
    rng = np.random.default_rng(4)
    density = 1.0 if form == "dense" else 0.15  # above SPARSE_DENSITY a run multiplies W dense (gemv)
    W = rng.normal(size=(30, 30)) * (rng.random((30, 30)) < density) * (0.4 if density < 1 else 0.15)
    W = scipy.sparse.csr_array(W) if form == "csr" else W
    Win, bias, lr = rng.normal(size=(30, 2)), rng.normal(size=30) * 0.1, rng.uniform(0.1, 1.0, 30)
    x = np.concatenate([rng.normal(size=(25, 2)), 0.1 * rng.normal(size=(25, 30))], axis=1)
    function = NUMPY_ACTIVATIONS[activation]
    common = {"lr": lr, "W": W, "Win": Win, "bias": bias, "dtype": dtype, "cerebellar_bias": True}
    compiled = Reservoir(30, activation=activation, **common)
    loop = Reservoir(30, activation=lambda z: function(z), **common)
    tolerance = 1e-10 if dtype == "float64" else 1e-5
    first = compiled.run(x)
    assert first.dtype == np.dtype(dtype)
    np.testing.assert_allclose(first, loop.run(x), rtol=0, atol=tolerance)
    np.testing.assert_allclose(compiled.run(x), loop.run(x), rtol=0, atol=tolerance)  # from the state
    stepped = np.stack([compiled.step(step) for step in x])
    np.testing.assert_allclose(stepped, loop.run(x), rtol=0, atol=tolerance)


def test_a_recurrent_bias_adds_to_the_input_bias_in_every_numpy_path(weights, inputs):
    """b_x + b_h is one constant of the pre-activation: the one-series kernel, the batched loop, the ragged
    batch and the stepper give the states of one bias b_x + b_h, and torch's core_step with the two apart."""
    W, Win, bias = weights
    recurrent = np.random.default_rng(5).normal(size=40) * 0.1
    two = Reservoir(40, lr=0.4, W=W, Win=Win, bias=bias, recurrent_bias=recurrent)
    one = Reservoir(40, lr=0.4, W=W, Win=Win, bias=bias + recurrent)
    np.testing.assert_array_equal(two.run(inputs[0]), one.run(inputs[0]))
    np.testing.assert_array_equal(two.run(inputs), one.run(inputs))
    ragged = [inputs[0, :12], inputs[1]]
    for ours, theirs in zip(two.run(ragged), one.run(ragged), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    two.reset(), one.reset()
    two_step, one_step = two.stepper(), one.stepper()
    np.testing.assert_array_equal(
        [two_step(x).copy() for x in inputs[0]], [one_step(x).copy() for x in inputs[0]]
    )
    two.reset()
    states = two.run(inputs)
    h = torch.zeros(6, 40, dtype=torch.float64)
    tensors = [torch.from_numpy(m) for m in (Win, W, bias, recurrent)]
    for t in range(inputs.shape[1]):
        h = core_step(torch.from_numpy(inputs[:, t]), h, *tensors, 0.4, get_activation("tanh"))
        np.testing.assert_allclose(states[:, t], h.numpy(), rtol=0, atol=1e-12)


def test_a_recurrent_bias_is_checked_kept_and_absent_by_default(weights):
    W, Win, bias = weights
    node = Reservoir(40, W=W, Win=Win, bias=bias)
    assert node.recurrent_bias is None and "recurrent_bias" not in node.__getstate__()
    scalar = Reservoir(40, W=W, Win=Win, recurrent_bias=0.5, dtype="float32")
    assert scalar.recurrent_bias.shape == (40,) and scalar.recurrent_bias.dtype == np.float32
    assert str(scalar) == "Reservoir(units=40, input_dim=3, dtype=float32)"  # a weight, left out as bias is
    with pytest.raises(ValueError, match=r"recurrent_bias must have shape \(40,\) or be a scalar; got \(3"):
        Reservoir(40, W=W, recurrent_bias=np.zeros(3))
    with pytest.raises(ValueError, match="recurrent_bias"):
        Reservoir(40, W=W, recurrent_bias=np.full(40, np.nan))
    with pytest.raises(TypeError, match="recurrent_bias"):
        Reservoir(40, W=W, recurrent_bias="zero")
    copied = pickle.loads(pickle.dumps(scalar))
    np.testing.assert_array_equal(copied.recurrent_bias, scalar.recurrent_bias)
    state = node.__getstate__()  # a state saved before the node had a recurrent bias
    restored = Reservoir.__new__(Reservoir)
    restored.__setstate__(state)
    assert restored.recurrent_bias is None

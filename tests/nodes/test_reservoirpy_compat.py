"""cbreservoir's Reservoir and Ridge as drop-ins for reservoirpy 0.4.2's (issue 15).

Every test builds our node and reservoirpy's the way reservoirpy's documentation does, feeds both the
same inputs and weights, and compares what comes out. Differences that are kept on purpose are listed
in docs/graph-guide.md ("Differences from reservoirpy") and pinned here too.
"""

from __future__ import annotations

import numpy as np
import pytest
import reservoirpy
import scipy.sparse
import torch
from reservoirpy import ESN, mat_gen
from reservoirpy.nodes import Reservoir as PeerReservoir
from reservoirpy.nodes import Ridge as PeerRidge

from cbreservoir.graph import compile_graph
from cbreservoir.nodes import Cerebellum, Reservoir, Ridge
from cbreservoir.numerics.activations import NUMPY_ACTIVATIONS
from cbreservoir.numerics.functional import ACTIVATIONS as TORCH_ACTIVATIONS

ATOL = 1e-12


@pytest.fixture
def x() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(60, 3))


@pytest.fixture
def y(x: np.ndarray) -> np.ndarray:
    return np.sin(np.cumsum(x, axis=0)[:, :2])


def _close(ours: object, theirs: object, atol: float = ATOL) -> None:
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=0, atol=atol)


# ------------------------------------------------------------------------------ 1. units from W


def test_units_are_inferred_from_W_and_required_otherwise(x: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    W, Win, bias = rng.normal(size=(30, 30)) * 0.1, rng.normal(size=(30, 3)), rng.normal(size=30)
    ours, theirs = Reservoir(W=W, Win=Win, bias=bias), PeerReservoir(W=W, Win=Win, bias=bias)
    assert ours.units == theirs.units == 30 and ours.input_dim == theirs.input_dim == 3
    _close(ours.run(x), theirs.run(x))
    sparse = scipy.sparse.random(30, 30, density=0.2, random_state=2, format="csr")
    assert Reservoir(W=sparse).units == PeerReservoir(W=sparse).units == 30
    for node_class in (Reservoir, PeerReservoir):
        with pytest.raises(ValueError, match="units"):
            node_class()
        with pytest.raises(ValueError):
            node_class(20, W=W)  # units and W disagree


# ------------------------------------------------------------------------------ 2. initializers


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bias": mat_gen.zeros},
        {"bias": mat_gen.normal},
        {"W": mat_gen.uniform, "sr": 0.9},
        {"Win": mat_gen.normal, "input_scaling": 0.5},
        {"W": mat_gen.ring, "Win": mat_gen.uniform, "bias": mat_gen.bernoulli},
    ],
    ids=["bias=zeros", "bias=normal", "W=uniform", "Win=normal", "ring+uniform+bernoulli"],
)
def test_reservoir_initializers_are_called_as_reservoirpy_calls_them(kwargs: dict, x: np.ndarray) -> None:
    ours, theirs = Reservoir(40, seed=5, **kwargs), PeerReservoir(40, seed=5, **kwargs)
    _close(ours.run(x), theirs.run(x))
    for name in ("W", "Win"):
        theirs_matrix = getattr(theirs, name)
        theirs_dense = theirs_matrix.toarray() if scipy.sparse.issparse(theirs_matrix) else theirs_matrix
        ours_matrix = getattr(ours, name)
        _close(ours_matrix.toarray() if scipy.sparse.issparse(ours_matrix) else ours_matrix, theirs_dense, 0)
    _close(ours.bias, np.broadcast_to(theirs.bias, (40,)), 0)


def test_ridge_initializers_are_called_at_initialization(x: np.ndarray, y: np.ndarray) -> None:
    ours, theirs = (
        Ridge(Wout=mat_gen.zeros, bias=mat_gen.zeros),
        PeerRidge(Wout=mat_gen.zeros, bias=mat_gen.zeros),
    )
    for node in (ours, theirs):
        node.initialize(x, y)
    assert ours.Wout.shape == theirs.Wout.shape == (3, 2) and ours.bias.shape == theirs.bias.shape == (2,)
    _close(ours.run(x), theirs.run(x), 0)  # zeros: runs before any fit
    _close(ours.fit(x, y).Wout, theirs.fit(x, y).Wout, 1e-10)


def test_esn_with_our_nodes_and_initializers(x: np.ndarray, y: np.ndarray) -> None:
    ours = ESN(
        reservoir=Reservoir(50, sr=0.9, bias=mat_gen.normal, seed=3), readout=Ridge(1e-6, bias=mat_gen.normal)
    )
    theirs = ESN(units=50, sr=0.9, bias=mat_gen.normal, seed=3, ridge=1e-6, readout_bias=mat_gen.normal)
    ours.fit(x, y, warmup=5)
    theirs.fit(x, y, warmup=5)
    np.testing.assert_allclose(ours.run(x), theirs.run(x), rtol=1e-7)  # two solvers, ridge 1e-6


# ------------------------------------------------------------------------------ 3. per-unit lr and scaling


def test_per_unit_leak_and_per_feature_input_scaling(x: np.ndarray) -> None:
    lr, scaling = np.linspace(0.1, 1.0, 40), np.array([0.8, 0.2, 1.5])
    ours = Reservoir(40, lr=lr, input_scaling=scaling, seed=1)
    theirs = PeerReservoir(40, lr=lr, input_scaling=scaling, seed=1)
    text = str(ours)  # reservoirpy's own str() raises on an array lr (ValueError: truth value of an array)
    assert "lr=<array (40,)>" in text and "input_scaling=<array (3,)>" in text and repr(ours) == text
    _close(ours.run(x), theirs.run(x))
    _close(ours.Win, theirs.Win.toarray(), 0)
    with pytest.raises(ValueError, match="lr"):
        Reservoir(40, lr=np.ones(39))
    with pytest.raises(ValueError, match="lr"):
        Reservoir(40, lr=np.r_[np.ones(39), 0.0])
    with pytest.raises(ValueError, match="input_scaling"):
        Reservoir(40, input_scaling=np.ones(4)).run(x)


def test_per_unit_leak_compiles_to_the_same_states(x: np.ndarray) -> None:
    node = Reservoir(20, lr=np.linspace(0.2, 0.9, 20), seed=2)
    states = node.run(x)
    compiled = compile_graph(node)
    with torch.no_grad():
        _close(compiled(torch.from_numpy(x[None])).numpy()[0], states, 1e-12)


# ------------------------------------------------------------------------------ 4. workers


def test_ridge_fit_accepts_workers(x: np.ndarray, y: np.ndarray) -> None:
    batch = np.stack([x, x[::-1]]), np.stack([y, y[::-1]])
    theirs = PeerRidge(1e-6).fit(*batch)  # reservoirpy's workers change the speed, not the weights
    for workers in (1, 2, -1):
        _close(Ridge(1e-6).fit(*batch, workers=workers).Wout, theirs.Wout, 1e-9)
    for bad, error in ((0, ValueError), (1.5, TypeError), ("all", TypeError)):
        with pytest.raises(error, match="workers"):
            Ridge(1e-6).fit(x, y, workers=bad)


# ------------------------------------------------------------------------------ 5. free running


def test_free_running_run_step_and_zero_feature_input() -> None:
    ours, theirs = Reservoir(30, bias=mat_gen.normal, seed=4), PeerReservoir(30, bias=mat_gen.normal, seed=4)
    _close(ours.run(iters=25), theirs.run(iters=25))
    _close(ours.step(None), theirs.step(None))
    _close(ours.step(), theirs.step())
    _close(ours.run(np.zeros((10, 0))), theirs.run(np.zeros((10, 0))))
    assert ours.input_dim == theirs.input_dim == 0
    with pytest.raises(ValueError, match="iters"):
        Reservoir(30).run()


def test_esn_free_running_prediction() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(100, 0)), rng.normal(size=(100, 3))
    model = ESN(reservoir=Reservoir(100, sr=1.0, bias=mat_gen.normal), readout=Ridge())
    model.fit(x, y)
    assert model.predict(x=None, iters=213).shape == (213, 3)
    assert model.reservoir.input_dim == 0 and model.readout.input_dim == 100 and model.readout.output_dim == 3
    # the same numbers as reservoirpy's (a penalty makes the fit on these nearly collinear states unique)
    ours = ESN(reservoir=Reservoir(100, sr=1.0, bias=mat_gen.normal, seed=6), readout=Ridge(1e-2))
    theirs = ESN(units=100, sr=1.0, bias=mat_gen.normal, seed=6, ridge=1e-2)
    ours.fit(x, y)
    theirs.fit(x, y)
    _close(ours.predict(x=None, iters=213), theirs.predict(x=None, iters=213), 1e-10)


def test_operator_graph_free_running_and_zero_feature_batches() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(80, 0)), rng.normal(size=(80, 2))
    ours = Reservoir(40, bias=mat_gen.normal, seed=2) >> Ridge(1e-2)
    theirs = PeerReservoir(40, bias=mat_gen.normal, seed=2) >> PeerRidge(1e-2)
    ours.fit(x, y)
    theirs.fit(x, y)
    _close(ours.predict(x=None, iters=30), theirs.predict(x=None, iters=30), 1e-10)
    _close(ours.run(np.zeros((3, 10, 0))), np.asarray(theirs.run(np.zeros((3, 10, 0)))), 1e-10)


# ------------------------------------------------------------------------------ 6. NaN targets


def test_nan_target_rows_are_left_out_as_reservoirpy_does(x: np.ndarray, y: np.ndarray) -> None:
    masked = y.copy()
    masked[::4] = np.nan
    masked[5, 1] = np.nan  # one NaN entry leaves the whole row out
    ours, theirs = Ridge(1e-6).fit(x, masked), PeerRidge(1e-6).fit(x, masked)
    _close(ours.Wout, theirs.Wout, 1e-10)
    _close(ours.bias, theirs.bias, 1e-10)
    keep = ~np.isnan(masked).any(axis=1)
    _close(ours.Wout, Ridge(1e-6).fit(x[keep], y[keep]).Wout, 1e-10)
    batch_x, batch_y = np.stack([x, -x]), np.stack([masked, masked[::-1]])
    _close(Ridge(1e-6).fit(batch_x, batch_y).Wout, PeerRidge(1e-6).fit(batch_x, batch_y).Wout, 1e-10)
    _close(
        Ridge(1e-6).fit(list(batch_x), list(batch_y)).Wout,
        PeerRidge(1e-6).fit(list(batch_x), list(batch_y)).Wout,
        1e-10,
    )


def test_nan_targets_inside_a_model_fit(x: np.ndarray, y: np.ndarray) -> None:
    masked = y.copy()
    masked[:20] = np.nan  # the tutorial's pattern: no supervision during the first steps
    ours = Reservoir(40, sr=0.9, seed=0) >> Ridge(1e-6)
    theirs = PeerReservoir(40, sr=0.9, seed=0) >> PeerRidge(1e-6)
    # 40 supervised steps for 41 readout weights, regularised by 1e-6 only: the normal equations are
    # ill-conditioned, so two backward-stable solvers agree to about cond(A) * eps, not to 1e-12.
    states = PeerReservoir(40, sr=0.9, seed=0).run(x)[20:]
    design = np.hstack([np.ones((len(states), 1)), states])
    normal = design.T @ design + 1e-6 * np.eye(design.shape[1])
    atol = np.linalg.cond(normal) * np.finfo(float).eps * np.abs(y).max()
    _close(ours.fit(x, masked).run(x), theirs.fit(x, masked).run(x), atol)


def test_nan_per_series_targets_leave_those_series_out() -> None:
    rng = np.random.default_rng(3)
    x, labels = rng.normal(size=(12, 5, 2)), rng.normal(size=(12, 1))
    masked = labels.copy()
    masked[[1, 7]] = np.nan
    keep = ~np.isnan(masked[:, 0])
    _close(Ridge(1e-6).fit(x, masked).Wout, Ridge(1e-6).fit(x[keep], labels[keep]).Wout, 1e-12)


def test_warmup_counts_time_steps_with_nan_targets(x: np.ndarray, y: np.ndarray) -> None:
    """A listed difference: reservoirpy drops the NaN rows first and then the warmup (counted in
    supervised rows); ours discards ``warmup`` time steps, supervised or not, as both docs say."""
    masked = y.copy()
    masked[:10] = np.nan
    ours = Ridge(1e-6).fit(x, masked, warmup=15)
    _close(ours.Wout, Ridge(1e-6).fit(x[15:], y[15:]).Wout, 1e-10)
    _close(PeerRidge(1e-6).fit(x, masked, warmup=15).Wout, Ridge(1e-6).fit(x[25:], y[25:]).Wout, 1e-10)


def test_bad_targets_and_inputs_stay_errors(x: np.ndarray, y: np.ndarray) -> None:
    with pytest.raises(ValueError, match="no supervised row"):
        Ridge().fit(x, np.full_like(y, np.nan))
    with pytest.raises(ValueError, match="no supervised row after the warmup"):
        Ridge().fit(x, np.r_[y[:5], np.full_like(y[5:], np.nan)], warmup=5)
    infinite = y.copy()
    infinite[3, 0] = np.inf
    with pytest.raises(ValueError, match="finite"):
        Ridge().fit(x, infinite)
    bad_x = x.copy()
    bad_x[2, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        Ridge().fit(bad_x, y)


# ------------------------------------------------------------------------------ 7. global seed


def test_set_seed_makes_unseeded_nodes_reproducible_and_equal_to_reservoirpys(x: np.ndarray) -> None:
    def unseeded_runs(node_class: type) -> np.ndarray:
        reservoirpy.set_seed(42)
        return node_class(30, sr=0.9, bias=mat_gen.normal).run(x)

    first, again = unseeded_runs(Reservoir), unseeded_runs(Reservoir)
    _close(first, again, 0)
    _close(first, unseeded_runs(PeerReservoir))
    reservoirpy.set_seed(42)
    one = Cerebellum(16, 4).run(x)
    reservoirpy.set_seed(42)
    _close(Cerebellum(16, 4).run(x), one, 0)
    assert not np.allclose(Reservoir(30).run(x), first)  # without set_seed: a new draw


# ------------------------------------------------------------------------------ 8. activations


@pytest.mark.parametrize(
    "activation",
    ["tanh", "softplus", "softmax", "identity", "sigmoid", "relu", "sp", "smax", "id", "sig", "re", np.sin],
    ids=str,
)
def test_activations_by_name_and_callable(activation: object, x: np.ndarray) -> None:
    ours = Reservoir(30, sr=0.5, activation=activation, seed=2)
    theirs = PeerReservoir(30, sr=0.5, activation=activation, seed=2)
    assert ours.activation is theirs.activation  # the function, as in reservoirpy
    _close(ours.run(np.stack([x, x[::-1]])), np.asarray(theirs.run(np.stack([x, x[::-1]]))))


def test_leaky_relu_keeps_the_papers_slope_and_unknown_names_are_refused() -> None:
    node = Reservoir(5, activation="leaky_relu")
    _close(node.activation(np.array([-2.0, 0.0, 3.0])), [-0.02, 0.0, 3.0], 0)
    with pytest.raises(ValueError, match="activation"):
        Reservoir(5, activation="softsign")
    with pytest.raises(TypeError, match="activation"):
        Reservoir(5, activation=3)


@pytest.mark.parametrize("name", sorted(set(NUMPY_ACTIVATIONS) & set(TORCH_ACTIVATIONS)))
def test_numpy_and_torch_activation_tables_agree(name: str) -> None:
    z = np.random.default_rng(0).normal(scale=5.0, size=(7, 11))
    _close(NUMPY_ACTIVATIONS[name](z), TORCH_ACTIVATIONS[name](torch.from_numpy(z)).numpy(), 1e-15)


def test_compiling_an_activation_without_torch_twin_is_refused(x: np.ndarray) -> None:
    for activation in (np.sin, "softplus"):
        node = Reservoir(10, activation=activation, seed=0)
        node.initialize(x)
        with pytest.raises(ValueError, match="no torch equivalent"):
            compile_graph(node)
    assert Reservoir(10, activation=np.tanh).activation_name == "tanh"


# ------------------------------------------------------------------------------ 9. ridge default


def test_ridge_defaults_to_no_penalty_like_reservoirpy(x: np.ndarray, y: np.ndarray) -> None:
    assert Ridge().ridge == PeerRidge().ridge == 0.0
    _close(Ridge().fit(x, y).Wout, PeerRidge().fit(x, y).Wout, 1e-9)


# ------------------------------------------------------------------------------ 10. sparse W, dtype


def test_sparse_W_stays_sparse_with_reservoirpys_memory() -> None:
    def nbytes(matrix: scipy.sparse.sparray) -> int:
        return matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes

    ours, theirs = Reservoir(1000, sr=0.9, seed=0), PeerReservoir(1000, sr=0.9, seed=0)
    for node in (ours, theirs):
        node.initialize(np.zeros(2))
    assert scipy.sparse.issparse(ours.W) and nbytes(ours.W) <= nbytes(theirs.W)
    assert nbytes(ours.W) < 0.2 * 1000 * 1000 * 8  # dense float64 would be 8 MB
    u = np.random.default_rng(0).normal(size=(30, 2))
    _close(ours.run(u), theirs.run(u))
    _close(np.stack([ours.step(step) for step in u]), np.stack([theirs.step(step) for step in u]))


def test_float32_computes_in_float32(x: np.ndarray) -> None:
    """A listed difference: reservoirpy draws float32 weights but returns float64 states (its state is
    float64); ours computes and returns float32 (half the memory, faster), close to reservoirpy's."""
    ours, theirs = Reservoir(30, dtype=np.float32, seed=1), PeerReservoir(30, dtype=np.float32, seed=1)
    states, peer_states = ours.run(x), theirs.run(x)
    assert states.dtype == np.float32 and peer_states.dtype == np.float64
    assert ours.W.dtype == theirs.W.dtype == np.float32
    _close(states, peer_states, 1e-5)

"""Ridge node: equivalence with reservoirpy, robustness against lstsq, streaming, layouts, seq-to-vector."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reservoirpy.nodes import Ridge as PeerRidge

from cbreservoir.graph import predict_final
from cbreservoir.nodes import Ridge
from cbreservoir.numerics.ridge import cholesky_solve, eigh_solve


def _lstsq_with_bias(X, Y):
    solution = np.linalg.lstsq(np.hstack([X, np.ones((len(X), 1))]), Y, rcond=None)[0]
    return solution[:-1], solution[-1]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6))
    Y = X @ rng.normal(size=(6, 2)) + np.array([1.0, -2.0]) + 0.01 * rng.normal(size=(400, 2))
    return X, Y


@pytest.mark.parametrize("fit_bias", [True, False])
def test_matches_reservoirpy_on_well_conditioned_data(data, fit_bias):
    X, Y = data
    ours = Ridge(ridge=1e-2, fit_bias=fit_bias).fit(X, Y)
    theirs = PeerRidge(ridge=1e-2, fit_bias=fit_bias).fit(X, Y)
    np.testing.assert_allclose(ours.Wout, theirs.Wout, atol=1e-10)
    np.testing.assert_allclose(ours.bias, np.ravel(theirs.bias), atol=1e-10)
    np.testing.assert_allclose(ours.run(X), theirs.run(X), atol=1e-10)


def test_large_state_offsets_match_lstsq_where_reservoirpy_loses_precision():
    rng = np.random.default_rng(0)
    X = 1e4 + 1e-2 * rng.normal(size=(2000, 20))
    Y = (X - 1e4) @ rng.normal(size=(20, 1)) * 100 + 0.5 + 1e-3 * rng.normal(size=(2000, 1))
    weights, bias = _lstsq_with_bias(X, Y)
    reference = X @ weights + bias
    scale = np.abs(reference).max()
    ours_error = np.abs(Ridge(ridge=0.0).fit(X, Y).run(X) - reference).max() / scale
    peer_error = np.abs(PeerRidge(ridge=0.0).fit(X, Y).run(X) - reference).max() / scale
    assert ours_error < 1e-8
    assert peer_error > 1e3 * ours_error


def test_collinear_states_give_the_minimum_norm_solution_of_lstsq():
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(1000, 5))
    X = np.hstack([Z, Z[:, :2], 2 * Z[:, 2:3]])  # exactly collinear columns
    Y = Z[:, :1] + Z[:, 1:2]
    weights, bias = _lstsq_with_bias(X, Y)
    ours = Ridge(ridge=0.0).fit(X, Y)
    np.testing.assert_allclose(ours.Wout, weights, atol=1e-10)
    np.testing.assert_allclose(ours.bias, bias, atol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = PeerRidge(ridge=0.0).fit(X, Y)
    assert np.abs(peer.Wout - weights).max() > 0.1  # the normal equations return some other split


@pytest.mark.parametrize("ridge", [0.0, 1e-20])
def test_nearly_collinear_tiny_ridge_predicts_like_lstsq(ridge):
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(3000, 8))
    X = np.hstack([Z, Z[:, :3] + 1e-9 * rng.normal(size=(3000, 3))])
    Y = np.sin(Z[:, :2]).sum(axis=1, keepdims=True)
    weights, bias = _lstsq_with_bias(X, Y)
    reference = X @ weights + bias
    np.testing.assert_allclose(Ridge(ridge=ridge).fit(X, Y).run(X), reference, atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = PeerRidge(ridge=ridge).fit(X, Y)
    assert np.abs(peer.run(X) - reference).max() > 1e-3


def test_cholesky_and_eigh_solves_agree_when_well_conditioned():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(50, 10))
    gram, cross = A.T @ A, A.T @ rng.normal(size=(50, 2))
    expected = np.linalg.solve(gram + 0.5 * np.eye(10), cross)
    np.testing.assert_allclose(cholesky_solve(gram, cross, ridge=0.5), expected)
    np.testing.assert_allclose(eigh_solve(gram, cross, ridge=0.5), expected)
    singular = np.outer(A[0], A[0])
    assert cholesky_solve(singular, cross, ridge=0.0) is None


@settings(max_examples=20, deadline=None)
@given(chunks=st.lists(st.integers(1, 60), min_size=1, max_size=6), offset=st.floats(-1e3, 1e3))
def test_streamed_fit_equals_in_memory_fit(chunks, offset):
    rng = np.random.default_rng(len(chunks))
    X = offset + rng.normal(size=(sum(chunks), 5))
    Y = rng.normal(size=(sum(chunks), 2))
    in_memory = Ridge(ridge=1e-3).fit(X, Y)
    streamed = Ridge(ridge=1e-3)
    bounds = np.cumsum([0, *chunks])
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        streamed.partial_fit(X[start:stop], Y[start:stop])
    np.testing.assert_allclose(streamed.Wout, in_memory.Wout, atol=1e-8, rtol=1e-8)
    np.testing.assert_allclose(streamed.bias, in_memory.bias, atol=1e-6, rtol=1e-8)


def test_partial_fit_reset_starts_over(data):
    X, Y = data
    node = Ridge(ridge=1e-3).partial_fit(X[:100] * 5, Y[:100])
    node.partial_fit(X, Y, reset=True)
    np.testing.assert_allclose(node.Wout, Ridge(ridge=1e-3).fit(X, Y).Wout)


def test_multiseries_ragged_and_warmup_use_the_same_rows(data):
    X, Y = data
    batch_X, batch_Y = X.reshape(4, 100, 6), Y.reshape(4, 100, 2)
    expected = Ridge(ridge=1e-3).fit(np.concatenate(batch_X[:, 10:]), np.concatenate(batch_Y[:, 10:]))
    from_batch = Ridge(ridge=1e-3).fit(batch_X, batch_Y, warmup=10)
    from_list = Ridge(ridge=1e-3).fit(list(batch_X), list(batch_Y), warmup=10)
    for node in (from_batch, from_list):
        np.testing.assert_allclose(node.Wout, expected.Wout, atol=1e-12)
    assert from_batch.run(batch_X).shape == (4, 100, 2)
    assert [p.shape for p in from_list.run([X[:5], X[:9]])] == [(5, 2), (9, 2)]


def test_sequence_to_vector_fits_the_final_step(data):
    X, Y = data
    series = X.reshape(40, 10, 6)
    labels = Y.reshape(40, 10, 2)[:, -1, 0]
    node = Ridge(ridge=1e-6).fit(series, labels)
    reference = Ridge(ridge=1e-6).fit(series[:, -1], labels[:, None])
    np.testing.assert_allclose(node.Wout, reference.Wout, atol=1e-12)
    assert node.output_dim == 1
    final = predict_final(node, series)
    assert final.shape == (40, 1)
    np.testing.assert_allclose(final, reference.run(series[:, -1]), atol=1e-12)
    ragged = [s[: 5 + i % 5] for i, s in enumerate(series)]
    fitted = Ridge(ridge=1e-6).fit(ragged, Y[:40])
    assert predict_final(fitted, ragged).shape == (40, 2)


def test_given_weights_run_without_fitting():
    node = Ridge(Wout=np.ones((3, 1)), bias=[2.0])
    np.testing.assert_allclose(node.run(np.ones((4, 3))), np.full((4, 1), 5.0))
    with pytest.raises(ValueError, match="not fitted"):
        Ridge().run(np.ones((4, 3)))


# ------------------------------------------------------------------------------------ gram_dtype="float32"


def test_float32_gram_is_close_to_float64_and_streams_the_same(data):
    X, Y = data
    exact = Ridge(ridge=1e-2).fit(X, Y)
    fast = Ridge(ridge=1e-2, gram_dtype="float32").fit(X, Y)
    np.testing.assert_allclose(fast.Wout, exact.Wout, rtol=0, atol=1e-5 * np.abs(exact.Wout).max())
    np.testing.assert_allclose(fast.bias, exact.bias, rtol=0, atol=1e-5 * np.abs(exact.bias).max())
    assert not np.array_equal(fast.Wout, exact.Wout)  # the float32 products were really used
    streamed = Ridge(ridge=1e-2, gram_dtype="float32")
    for index, rows in enumerate(np.array_split(np.arange(len(X)), 3)):
        streamed.partial_fit(X[rows], Y[rows], reset=index == 0)
    np.testing.assert_allclose(streamed.Wout, fast.Wout, rtol=0, atol=1e-5 * np.abs(exact.Wout).max())


def test_float32_gram_centres_in_float64_before_rounding():
    # a large common offset: rounding the raw states to float32 would lose the 1e-2 signal's digits
    rng = np.random.default_rng(1)
    X = 1e4 + 1e-2 * rng.normal(size=(3000, 5))
    Y = (X - 1e4) @ rng.normal(size=(5, 1)) * 100
    exact = Ridge(ridge=0.0).fit(X, Y)
    fast = Ridge(ridge=0.0, gram_dtype="float32").fit(X, Y)
    np.testing.assert_allclose(fast.run(X), exact.run(X), rtol=0, atol=1e-4 * np.abs(Y).max())


def test_float32_gram_fit_redoes_an_ill_conditioned_fit_in_float64():
    from cbreservoir.experiments.bench import ill_conditioned_states

    X, Y = ill_conditioned_states(3000, 30, condition=1e6)
    exact = Ridge(ridge=0.0).fit(X, Y)
    with pytest.warns(RuntimeWarning, match="fitting again in float64"):
        fast = Ridge(ridge=0.0, gram_dtype="float32").fit(X, Y)
    np.testing.assert_array_equal(fast.Wout, exact.Wout)
    np.testing.assert_array_equal(fast.bias, exact.bias)


def test_streamed_float32_gram_warns_when_ill_conditioned():
    from cbreservoir.experiments.bench import ill_conditioned_states

    X, Y = ill_conditioned_states(3000, 30, condition=1e6)
    streamed = (
        Ridge(ridge=0.0, gram_dtype="float32").partial_fit(X[:1500], Y[:1500]).partial_fit(X[1500:], Y[1500:])
    )
    with pytest.warns(RuntimeWarning, match="gram_dtype='float64'"):
        assert np.all(np.isfinite(streamed.Wout))


def test_merging_a_float32_chunk_marks_the_statistics_float32(data):
    X, Y = data
    readout = Ridge(ridge=1e-2).partial_fit(X[:200], Y[:200])
    readout.gram_dtype = "float32"
    readout.partial_fit(X[200:], Y[200:])
    assert readout._statistics.gram_dtype == "float32"


def test_gram_dtype_is_checked_and_saved(tmp_path, data):
    import cbreservoir

    with pytest.raises(
        ValueError, match=r"gram_dtype must be one of \['float64', 'float32'\]; got 'float16'"
    ):
        Ridge(gram_dtype="float16")
    X, Y = data
    fitted = Ridge(ridge=1e-2, gram_dtype="float32").fit(X, Y)
    loaded = cbreservoir.load(cbreservoir.save(fitted, tmp_path / "ridge"))
    assert loaded.gram_dtype == "float32"
    np.testing.assert_array_equal(loaded.Wout, fitted.Wout)


def test_statistics_state_round_trips_through_plain_lists(data):
    from cbreservoir.numerics.ridge import GramStatistics

    X, Y = data
    statistics = GramStatistics(6, 2, centered=False, gram_dtype="float32")
    statistics.update([(X[:150], Y[:150]), (X[150:], Y[150:])])
    state = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in statistics.state_dict().items()}
    restored = GramStatistics(6, 2, centered=False)
    restored.load_state_dict(state)
    assert restored.gram_dtype == "float32" and restored.count == 400
    for solved, solved_restored in zip(statistics.solve(1e-2), restored.solve(1e-2), strict=True):
        np.testing.assert_array_equal(solved, solved_restored)
    with pytest.raises(ValueError, match="must have count >= 0, centered=True"):
        GramStatistics(6, 2, centered=True).load_state_dict(state)


@pytest.mark.parametrize("condition", [1e1, 1e3, 1e5])
@pytest.mark.parametrize("ridge", [0.0, 1e-2, 1e2])
def test_float32_gram_is_either_within_1e_3_or_redone_in_float64(condition, ridge):
    from cbreservoir.experiments.bench import ill_conditioned_states

    X, Y = ill_conditioned_states(3000, 30, condition=condition, seed=1)
    exact = Ridge(ridge=ridge).fit(X, Y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fast = Ridge(ridge=ridge, gram_dtype="float32").fit(X, Y)
    if any("fitting again in float64" in str(w.message) for w in caught):
        np.testing.assert_array_equal(fast.Wout, exact.Wout)
    else:
        np.testing.assert_allclose(fast.Wout, exact.Wout, rtol=0, atol=1e-3 * np.abs(exact.Wout).max())


def test_wide_fit_uses_the_dual_system_and_equals_the_normal_equations():
    from cbreservoir.numerics.ridge import cholesky_solve, dual_solve

    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((30, 200)), rng.standard_normal((30, 3))  # fewer rows than inputs
    weights, bias = dual_solve(x, y, ridge=0.5, fit_bias=True)
    centred_x, centred_y = x - x.mean(axis=0), y - y.mean(axis=0)
    primal = cholesky_solve(centred_x.T @ centred_x, centred_x.T @ centred_y, ridge=0.5)
    np.testing.assert_allclose(weights, primal, atol=1e-10)
    np.testing.assert_allclose(bias, y.mean(axis=0) - x.mean(axis=0) @ primal, atol=1e-10)
    node = Ridge(ridge=0.5).fit(x, y)
    np.testing.assert_allclose(node.Wout, primal, atol=1e-10)
    np.testing.assert_allclose(node.run(x), x @ primal + bias, atol=1e-9)
    no_bias, zero = dual_solve(x, y, ridge=0.5, fit_bias=False)
    np.testing.assert_allclose(no_bias, cholesky_solve(x.T @ x, x.T @ y, ridge=0.5), atol=1e-10)
    assert not zero.any()
    with pytest.raises(ValueError, match="positive ridge"):
        dual_solve(x, y, ridge=0.0, fit_bias=True)


def test_partial_fit_after_a_wide_fit_continues_from_its_statistics():
    rng = np.random.default_rng(8)
    x1, x2 = rng.standard_normal((20, 50)), rng.standard_normal((60, 50))
    y1, y2 = rng.standard_normal((20, 2)), rng.standard_normal((60, 2))
    streamed = Ridge(ridge=0.1).fit(x1, y1).partial_fit(x2, y2)
    whole = Ridge(ridge=0.1).fit(np.vstack([x1, x2]), np.vstack([y1, y2]))
    np.testing.assert_allclose(streamed.Wout, whole.Wout, atol=1e-10)
    np.testing.assert_allclose(streamed.bias, whole.bias, atol=1e-10)

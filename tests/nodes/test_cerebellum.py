"""Cerebellum node: paper initialisation, the shared math, options, outputs, layouts."""

import warnings

import numpy as np
import pytest
import torch

from cbreservoir.nodes import Cerebellum, Ridge
from cbreservoir.nodes.cerebellum import INPUT_GAIN
from cbreservoir.numerics.functional import cerebellum_forward


@pytest.fixture
def mossy():
    return np.random.default_rng(0).normal(size=(5, 40, 12))


def test_paper_initialisation_and_shapes(mossy):
    cb = Cerebellum(n_granule=300, n_purkinje=50, n_out=7, seed=0)
    cb.initialize(mossy)
    assert cb.W_gc.shape == (300, 12) and cb.W_pc.shape == (50, 300) and cb.W_dcn.shape == (7, 50)
    assert not cb.b_gc.any() and not cb.b_pc.any() and not cb.b_dcn.any()
    np.testing.assert_allclose(cb.W_gc.std(), 0.01, rtol=0.1)
    np.testing.assert_allclose(cb.W_pc.std(), 0.1, rtol=0.05)
    np.testing.assert_allclose(cb.W_dcn.std(), 0.1, rtol=0.15)
    assert cb.granule_threshold is None and cb.mossy_mask is None


def test_outputs_follow_cerebellum_forward(mossy):
    reference = Cerebellum(n_granule=64, n_purkinje=16, n_out=5, output="all", seed=1)
    everything = reference.run(mossy)
    g, p, c = cerebellum_forward(
        torch.from_numpy(mossy),
        *(
            torch.from_numpy(w)
            for w in (
                reference.W_gc,
                reference.b_gc,
                reference.W_pc,
                reference.b_pc,
                reference.W_dcn,
                reference.b_dcn,
            )
        ),
    )
    np.testing.assert_allclose(everything, torch.cat([g, p, c], -1).numpy(), atol=1e-14)
    for output, expected in (("granule", g), ("purkinje", p), ("nuclei", c)):
        node = Cerebellum(n_granule=64, n_purkinje=16, n_out=5, output=output, seed=1)
        assert node.output_dim == expected.shape[-1]
        np.testing.assert_allclose(node.run(mossy), expected.numpy(), atol=1e-14)
    activity = reference.activity(mossy[0])
    np.testing.assert_allclose(activity["purkinje"], p[0].numpy(), atol=1e-14)


def test_layouts_and_step_agree(mossy):
    cb = Cerebellum(n_granule=32, seed=2)
    batch = cb.run(mossy)
    ragged = cb.run([mossy[0, :5], mossy[1]])
    np.testing.assert_allclose(ragged[0], batch[0, :5])
    np.testing.assert_allclose(cb.step(mossy[1, 3]), batch[1, 3])
    np.testing.assert_allclose(cb.run(mossy[2]), batch[2])


def test_same_seed_same_weights():
    a, b, c = (Cerebellum(n_granule=20, seed=s, input_dim=4) for s in (3, 3, 4))
    for node in (a, b, c):
        node.initialize()
    np.testing.assert_array_equal(a.W_gc, b.W_gc)
    np.testing.assert_array_equal(a.W_dcn, b.W_dcn)
    assert not np.array_equal(a.W_gc, c.W_gc)


def test_granule_degree_fixes_in_degree(mossy):
    cb = Cerebellum(n_granule=50, granule_degree=3, seed=0)
    cb.initialize(mossy)
    assert cb.mossy_mask.shape == (50, 12)
    np.testing.assert_array_equal(cb.mossy_mask.sum(axis=1), 3)
    np.testing.assert_array_equal(cb.W_gc != 0, cb.mossy_mask)
    with pytest.raises(ValueError, match="granule_degree=20 exceeds the 12 inputs"):
        Cerebellum(granule_degree=20).initialize(mossy)


@pytest.mark.parametrize("level", [0.1, 0.5])
def test_coding_level_sets_fraction_of_active_granules(mossy, level):
    cb = Cerebellum(n_granule=200, coding_level=level, output="granule", seed=0)
    code = cb.run(mossy)
    assert cb.granule_threshold.shape == (200,)
    per_cell = (code > 0).reshape(-1, 200).mean(axis=0)
    np.testing.assert_allclose(per_cell, level, atol=1.0 / code[..., 0].size + 1e-12)
    # later data reuses the thresholds
    before = cb.granule_threshold.copy()
    cb.run(mossy[:2] * 3)
    np.testing.assert_array_equal(cb.granule_threshold, before)


def test_coding_level_needs_data_before_stepping():
    cb = Cerebellum(n_granule=10, coding_level=0.2, input_dim=3, output="granule", seed=0)
    cb.initialize()
    with pytest.raises(ValueError, match="calibrate"):
        cb.step(np.ones(3))
    cb.calibrate(np.random.default_rng(0).normal(size=(100, 3)))
    assert cb.step(np.ones(3)).shape == (10,)


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError, match="output must be one of"):
        Cerebellum(output="golgi")
    with pytest.raises(ValueError, match="coding_level"):
        Cerebellum(coding_level=1.5)
    with pytest.raises(ValueError, match="n_granule"):
        Cerebellum(n_granule=0)


def test_read_only_input_and_weights_run_without_warnings(mossy):
    """torch.from_numpy warns on read-only arrays; the node copies only those."""
    expected = Cerebellum(n_granule=32, output="all", seed=0).run(mossy)
    read_only = mossy.copy()
    read_only.flags.writeable = False
    node = Cerebellum(n_granule=32, output="all", seed=0)
    node.initialize(read_only)
    node.W_gc.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = node.run(read_only)
        node.step(read_only[0, 0])
    np.testing.assert_array_equal(out, expected)


def test_input_beside_granule_is_the_default_and_passes_the_input_through(mossy):
    cb = Cerebellum(n_granule=40, seed=3)
    assert cb.output == "input+granule" and cb.input_gain == INPUT_GAIN
    out = cb.run(mossy)
    assert out.shape == (5, 40, 12 + 40) and cb.output_dim == 52
    np.testing.assert_array_equal(out[..., :12], INPUT_GAIN * mossy)
    granule = Cerebellum(n_granule=40, output="granule", seed=3).run(mossy)
    np.testing.assert_array_equal(out[..., 12:], granule)
    halved = Cerebellum(n_granule=40, input_gain=0.5, seed=3)
    np.testing.assert_array_equal(halved.run(mossy[0])[:, :12], 0.5 * mossy[0])
    np.testing.assert_allclose(halved.step(mossy[0, 3]), halved.run(mossy[0])[3])
    ragged = halved.run([mossy[0, :7], mossy[1]])
    assert [r.shape for r in ragged] == [(7, 52), (40, 52)]


def test_input_block_gain_is_a_block_penalty():
    """Ridge on [a u, g] with penalty λ equals ridge on [u, g] with penalty λ / a² on u's weights."""
    rng = np.random.default_rng(4)
    u, y = rng.normal(size=(300, 6)), rng.normal(size=(300, 1))
    gain, ridge = 3.0, 0.5
    features = Cerebellum(n_granule=20, input_gain=gain, seed=0).run(u)
    w = Ridge(ridge, fit_bias=False).fit(features, y).Wout
    unscaled = np.hstack([u, features[:, 6:]])
    penalty = np.diag([ridge / gain**2] * 6 + [ridge] * 20)
    direct = np.linalg.solve(unscaled.T @ unscaled + penalty, unscaled.T @ y)
    np.testing.assert_allclose(np.vstack([gain * w[:6], w[6:]]), direct, rtol=1e-8, atol=1e-12)


def test_input_gain_errors():
    with pytest.raises(
        ValueError, match="input_gain applies to output='input\\+granule' only; got output='nuclei'"
    ):
        Cerebellum(output="nuclei", input_gain=2.0)
    with pytest.raises(ValueError, match="input_gain must be a finite number > 0.0; got 0.0"):
        Cerebellum(input_gain=0.0)
    with pytest.raises(TypeError, match="input_gain must be a real number"):
        Cerebellum(input_gain="2")

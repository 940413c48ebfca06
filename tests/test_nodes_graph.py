"""Node graphs: reservoirpy composition, layouts, sequence-to-vector, loop wiring, the expansion's benefit."""

import numpy as np
import pytest
from reservoirpy.model import Model
from reservoirpy.nodes import Input
from reservoirpy.nodes import Reservoir as PeerReservoir

from cbreservoir.nodes import Cerebellum, Reservoir, Ridge
from cbreservoir.nodes.cerebellum import cerebellar_loop
from cbreservoir.nodes.ridge import predict_final, run_batched
from cbreservoir.numerics.graph import initialize_graph
from cbreservoir.tasks.nonlinear_memory import nonlinear_memory_task


@pytest.fixture
def memory_data():
    train = nonlinear_memory_task(n_series=12, length=150, seed=0)
    test = nonlinear_memory_task(n_series=4, length=150, seed=1)
    return train, test


def _r2(prediction, target):
    prediction, target = np.asarray(prediction)[:, 10:], target[:, 10:]
    return 1.0 - np.mean((prediction - target) ** 2) / np.var(target)


def test_pipeline_is_a_model_and_equals_the_nodes_run_by_hand(memory_data):
    (u, y), (u_test, _) = memory_data
    core, cb, readout = Reservoir(40, sr=0.9, seed=0), Cerebellum(100, seed=1), Ridge(1e-6)
    model = core >> cb >> readout
    assert isinstance(model, Model)
    model.fit(u, y, warmup=5)
    core.reset()
    prediction = np.asarray(model.run(u_test))
    by_hand = Ridge(1e-6).fit(Cerebellum(100, seed=1).run(Reservoir(40, sr=0.9, seed=0).run(u)), y, warmup=5)
    np.testing.assert_allclose(by_hand.Wout, readout.Wout, atol=1e-10)
    expected = readout.run(cb.run(Reservoir(40, sr=0.9, seed=0).run(u_test)))
    np.testing.assert_allclose(prediction, expected, atol=1e-10)


def test_ragged_lists_fit_and_run(memory_data):
    (u, y), _ = memory_data
    lengths = [150, 90, 40, 120]
    xs, ys = [u[i, :n] for i, n in enumerate(lengths)], [y[i, :n] for i, n in enumerate(lengths)]
    model = Reservoir(30, sr=0.9, seed=0) >> Cerebellum(64, seed=1) >> Ridge(1e-5)
    model.fit(xs, ys, warmup=5)
    assert [p.shape for p in model.run(xs)] == [(n, 1) for n in lengths]


def test_composes_with_reservoirpy_nodes(memory_data):
    (u, y), (u_test, _) = memory_data
    ours = Input() >> PeerReservoir(30, sr=0.9, seed=0) >> Cerebellum(64, seed=1) >> Ridge(1e-5)
    ours.fit(u, y, warmup=5)
    assert np.asarray(ours.run(u_test)).shape == u_test.shape
    theirs = Reservoir(30, sr=0.9, seed=0) >> PeerReservoir(20, seed=2)
    assert np.asarray(theirs.run(u_test)).shape == (4, 150, 20)


def test_sequence_to_vector_in_a_model(memory_data):
    (u, _), _ = memory_data
    labels = (u[:, -1, 0] * u[:, -3, 0])[:, None]  # one label per series
    model = Reservoir(40, sr=0.9, seed=0) >> Cerebellum(128, seed=1) >> Ridge(1e-6)
    model.fit(u, labels)
    scores = predict_final(model, u)
    assert scores.shape == (12, 1)
    np.testing.assert_allclose(np.sign(scores), labels)


def test_loop_graph_runs_the_cb_rnn_equations():
    units, n_inputs = 16, 2
    core = Reservoir(units, lr=2 / 3, sr=0.9, activation="leaky_relu", cerebellar_bias=True, seed=0)
    cb = Cerebellum(48, 12, n_out=units, output="nuclei", seed=1)
    loop = cerebellar_loop(core, cb, input_dim=n_inputs)
    x = np.random.default_rng(0).normal(size=(3, 25, n_inputs))
    states = np.asarray(loop.run(x))
    h, expected = np.zeros(units), []
    for x_t in x[-1]:
        u = np.concatenate([x_t, h])  # the cerebellum reads [x_t ; h_{t-1}]
        c = cb.W_dcn @ np.maximum(cb.W_pc @ np.maximum(cb.W_gc @ u, 0), 0)
        z = core.Win @ x_t + core.bias + core.W @ h + c
        h = h / 3 + 2 / 3 * np.where(z > 0, z, 0.01 * z)
        expected.append(h)
    np.testing.assert_allclose(states[-1], np.array(expected), atol=1e-12)
    # a readout can be added to the graph once fitted on the loop's states
    readout = Ridge(1e-6).fit(states, x[..., :1])
    full = loop & (core >> readout)
    initialize_graph(full, x)
    full.reset()
    np.testing.assert_allclose(np.asarray(full.run(x[0])), readout.run(states[0]), atol=1e-10)


def test_loop_rejects_mismatched_nodes():
    with pytest.raises(ValueError, match="cerebellar_bias=True"):
        cerebellar_loop(Reservoir(8), Cerebellum(n_out=8, output="nuclei"), input_dim=1)
    with pytest.raises(ValueError, match="n_out=8"):
        cerebellar_loop(Reservoir(8, cerebellar_bias=True), Cerebellum(n_out=5, output="nuclei"), input_dim=1)


def test_granule_expansion_beats_the_plain_readout_on_nonlinear_memory(memory_data):
    (u, y), (u_test, y_test) = memory_data
    scores = {}
    for label, expand in (("plain", False), ("cerebellar", True)):
        core = Reservoir(60, sr=0.9, input_connectivity=1.0, seed=0)
        model = core >> Cerebellum(300, seed=1) >> Ridge(1e-6) if expand else core >> Ridge(1e-6)
        model.fit(u, y, warmup=10)
        core.reset()
        scores[label] = _r2(model.run(u_test), y_test)
    assert scores["plain"] < 0.1  # a bias-free tanh reservoir is odd in u: no product of inputs
    assert scores["cerebellar"] > 0.9


def test_run_batched_equals_model_run(memory_data):
    (u, y), (u_test, _) = memory_data
    core = Reservoir(30, sr=0.9, seed=0)
    model = core >> Cerebellum(64, seed=1) >> Ridge(1e-6)
    model.fit(u, y, warmup=5)
    for data in (u_test, [u_test[0, :40], u_test[1]], u_test[2]):
        model.reset()
        expected = model.run(data)
        state = core.state["out"].copy()
        model.reset()
        batched = run_batched(model, data)
        np.testing.assert_allclose(core.state["out"], state, atol=1e-12)
        single = isinstance(data, np.ndarray) and data.ndim == 2
        for a, b in zip(*([o] if single else list(o) for o in (expected, batched)), strict=True):
            np.testing.assert_allclose(a, b, atol=1e-12)
    a, b = Input(name="a"), Input(name="b")
    fast, slow = Ridge(1e-6, name="fast"), Ridge(1e-6, name="slow")
    core = Reservoir(20, seed=0, name="core")
    net = (a >> core) & (b >> core) & (core >> [fast, slow])
    inputs = {"a": u, "b": u[..., ::-1]}
    net.fit(inputs, {"fast": y, "slow": -y}, warmup=5)
    net.reset()
    expected = net.run(inputs)
    net.reset()
    batched = run_batched(net, inputs)
    for name in ("fast", "slow"):
        np.testing.assert_allclose(np.asarray(expected[name]), batched[name], atol=1e-12)
    with pytest.raises(ValueError, match="delayed edges"):
        run_batched(Input() >> 1 >> Reservoir(5), u)

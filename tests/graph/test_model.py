"""Node graphs: the batched Model built by the operators, reservoirpy composition, layouts,
sequence-to-vector, loop wiring, the expansion's benefit."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reservoirpy.model import Model as ReservoirpyModel
from reservoirpy.nodes import Input
from reservoirpy.nodes import Reservoir as PeerReservoir

from cbreservoir.graph import Model, as_model, cerebellar_loop, initialize_graph, predict_final, run_batched
from cbreservoir.nodes import Cerebellum, Reservoir, Ridge
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
    assert isinstance(model, ReservoirpyModel) and isinstance(model, Model)
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


def test_operators_between_cbreservoir_nodes_build_the_batched_model():
    a, b, c = Reservoir(5, seed=0, name="a"), Cerebellum(8, seed=1, name="b"), Ridge(1e-6, name="c")
    graphs = {
        ">>": a >> b >> c,
        ">>d>>": a >> 2 >> b,
        "(d>>)": a >> (2 >> b),
        "<<": b << a,
        "&": (a >> b) & (b >> c),
        "node & node": a & c,
        "list >>": [a, b] >> c,
        ">> list": a >> [b, c],
        "reservoirpy Model & ours": ReservoirpyModel([a], []) & (a >> c),
    }
    for label, graph in graphs.items():
        assert isinstance(graph, Model) and isinstance(graph, ReservoirpyModel), label
    assert graphs[">>d>>"].edges == graphs["(d>>)"].edges == [(a, 2, b)]
    assert graphs["<<"].edges == [(a, 1, b)]
    assert graphs[">>"].runs_batched and not graphs[">>d>>"].runs_batched
    mixed = Reservoir(5, seed=0) >> PeerReservoir(6, seed=0)
    assert isinstance(mixed, Model) and not mixed.runs_batched
    assert type(Input() >> PeerReservoir(6)) is ReservoirpyModel  # reservoirpy's own operators
    assert as_model(Input() >> a).runs_batched


def _assert_same_outputs(batched, reference, layout):
    if layout == "array3":
        assert isinstance(batched, np.ndarray) and batched.ndim == 3
        reference = np.stack(reference)  # reservoirpy 0.4.2 gives the series of a 3-D input as a list
    elif layout == "list":
        assert isinstance(batched, list) and len(batched) == len(reference)
    else:
        assert isinstance(batched, np.ndarray) and batched.ndim == 2
    for got, expected in zip(list(batched), list(reference), strict=True):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("layout", ["array3", "list", "array2"])
def test_model_run_equals_the_series_by_series_run_and_run_batched(memory_data, layout):
    (u, y), (u_test, _) = memory_data
    core = Reservoir(30, sr=0.9, seed=0)
    model = core >> Cerebellum(64, seed=1) >> Ridge(1e-6)
    model.fit(u, y, warmup=5)
    data = {"array3": u_test, "list": [u_test[0, :40], u_test[1], u_test[2, :7]], "array2": u_test[3]}[layout]
    model.reset()
    reference = ReservoirpyModel.run(model, data)  # reservoirpy's own run: one series at a time
    final_state = core.state["out"].copy()
    model.reset()
    batched = model.run(data)
    np.testing.assert_allclose(core.state["out"], final_state, rtol=0, atol=1e-12)
    _assert_same_outputs(batched, reference, layout)
    model.reset()
    _assert_same_outputs(run_batched(model, data), reference, layout)
    model.reset()
    _assert_same_outputs(model.predict(data), reference, layout)


def test_model_run_with_several_inputs_and_outputs_returns_dicts_like_reservoirpy(memory_data):
    (u, y), _ = memory_data
    a, b = Input(name="a"), Input(name="b")
    core = Reservoir(20, seed=0, name="core")
    net = (a >> core) & (b >> core) & (core >> [Ridge(1e-6, name="fast"), Ridge(1e-6, name="slow")])
    assert isinstance(net, Model) and net.runs_batched
    inputs = {"a": u, "b": u[..., ::-1]}
    net.fit(inputs, {"fast": y, "slow": -y}, warmup=5)
    net.reset()
    reference = ReservoirpyModel.run(net, inputs)
    net.reset()
    batched = net.run(inputs)
    assert sorted(batched) == ["fast", "slow"]
    for name in ("fast", "slow"):
        _assert_same_outputs(batched[name], reference[name], "array3")
    with pytest.raises(ValueError, match="keyed by node names"):
        net.run({"a": u, "c": u})


def test_graphs_that_do_not_run_batched_run_as_reservoirpy_runs_them(memory_data):
    (u, _), (u_test, _) = memory_data
    mixed = Reservoir(10, seed=0) >> PeerReservoir(6, seed=0)
    reference = ReservoirpyModel.run(mixed, u_test)
    mixed.reset()
    _assert_same_outputs(mixed.run(u_test), reference, "list")  # reservoirpy's layout for a 3-D input
    delayed = Reservoir(6, seed=0, name="r1") >> 1 >> Reservoir(4, seed=1, name="r2")
    assert not delayed.initialized  # initialises itself despite the delay (reservoirpy 0.4.2 cannot)
    shapes = {name: out.shape for name, out in delayed.run(u_test[0]).items()}
    assert shapes == {"r1": (150, 6), "r2": (150, 4)}


@settings(max_examples=10, deadline=None)
@given(lengths=st.lists(st.integers(1, 30), min_size=1, max_size=5), seed=st.integers(0, 2**16))
def test_model_run_equals_the_series_by_series_run_on_ragged_lists(lengths, seed):
    rng = np.random.default_rng(seed)
    xs = [rng.normal(size=(n, 2)) for n in lengths]
    core = Reservoir(12, sr=0.9, seed=seed)
    model = core >> Cerebellum(16, seed=seed + 1) >> Ridge(1e-3)
    model.fit(xs, [x[:, :1] for x in xs])
    model.reset()
    reference = ReservoirpyModel.run(model, xs)
    model.reset()
    _assert_same_outputs(model.run(xs), reference, "list")


def test_model_fit_runs_each_node_once_on_the_whole_batch(memory_data, monkeypatch):
    """reservoirpy's Model.fit, which the Model keeps, already goes node by node on all series."""
    (u, y), _ = memory_data
    core = Reservoir(20, sr=0.9, seed=0)
    model = core >> Cerebellum(32, seed=1) >> Ridge(1e-6)
    calls = []
    run = core.run
    monkeypatch.setattr(core, "run", lambda x, *args, **kwargs: calls.append(np.shape(x)) or run(x))
    model.fit(u, y, warmup=5)
    assert calls == [u.shape]
    model.reset()
    calls.clear()
    model.run(u)
    assert calls == [u.shape]

"""Graph compilation: reservoirpy graphs of cbreservoir nodes as torch modules, BPTT training."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from reservoirpy.model import Model
from reservoirpy.nodes import Input
from reservoirpy.nodes import Ridge as ReservoirpyRidge

from cbreservoir.graph import compile_graph, fit_ridge_readout, graph_from_cbrnn, initialize_graph
from cbreservoir.models import CBRNN
from cbreservoir.nodes import Cerebellum, GradientReadout, Reservoir, Ridge
from cbreservoir.training import TrainingDivergedError, train_core_then_freeze, train_graph


def _cbrnn_and_graph(seed=0):
    model = CBRNN(2, 6, 16, 5, seed=seed).double()
    with torch.no_grad():  # non-zero cerebellar biases so that every weight matters
        for layer in (model.cerebellum.granule, model.cerebellum.purkinje, model.cerebellum.nuclei):
            layer.bias.normal_(0, 0.1, generator=torch.Generator().manual_seed(seed))
        model.cerebellum.granule.weight.mul_(30)
    return model, graph_from_cbrnn(model)


def test_loop_graph_matches_cbrnn_outputs_and_gradients():
    model, graph = _cbrnn_and_graph()
    compiled = compile_graph(graph)
    x = torch.randn(4, 7, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    h0 = model.initial_state(4, torch.Generator().manual_seed(2))
    labels = torch.tensor([0, 1, 1, 0])

    logits, activity = model(x, h0=h0, return_activity=True)
    outputs = compiled(x, initial_states={"core": h0}, return_all=True)
    torch.testing.assert_close(outputs["readout"][:, -1], logits, rtol=0, atol=1e-10)
    torch.testing.assert_close(outputs["core"], activity["core"], rtol=0, atol=1e-10)
    torch.testing.assert_close(outputs["cerebellum"], activity["nuclei"], rtol=0, atol=1e-10)

    F.cross_entropy(logits, labels).backward()
    F.cross_entropy(outputs["readout"][:, -1], labels).backward()
    steps, core, cb = compiled.steps, model.core, model.cerebellum
    pairs = [
        (steps["core"].Win.grad, core.input_layer.weight.grad),
        (steps["core"].W.grad, core.recurrent_layer.weight.grad),
        (steps["core"].bias.grad, core.input_layer.bias.grad),
        (steps["core"].recurrent_bias.grad, core.recurrent_layer.bias.grad),
        (steps["cerebellum"].W_gc.grad, cb.granule.weight.grad),  # the same [x ; h] columns
        (steps["cerebellum"].b_gc.grad, cb.granule.bias.grad),
        (steps["cerebellum"].W_pc.grad, cb.purkinje.weight.grad),
        (steps["cerebellum"].W_dcn.grad, cb.nuclei.weight.grad),
        (steps["cerebellum"].b_dcn.grad, cb.nuclei.bias.grad),
        (steps["readout"].Wout.grad, model.readouts[0].weight.grad.T),
        (steps["readout"].bias.grad, model.readouts[0].bias.grad),
    ]
    for graph_grad, model_grad in pairs:
        assert model_grad.abs().max() > 0
        torch.testing.assert_close(graph_grad, model_grad, rtol=0, atol=1e-10)


def test_compiled_graph_matches_reservoirpy_run():
    model, graph = _cbrnn_and_graph(seed=3)
    x = np.random.default_rng(0).normal(size=(9, 2))
    expected = graph.run(x)  # reservoirpy's own step loop: zero initial state and zero feedback buffer
    compiled = compile_graph(graph)(torch.from_numpy(x[None]))
    np.testing.assert_allclose(compiled[0].detach().numpy(), expected, rtol=0, atol=1e-10)
    h0 = torch.zeros(1, 6, dtype=torch.float64)
    np.testing.assert_allclose(model(x[None], h0=h0).detach().numpy(), expected[-1:], rtol=0, atol=1e-10)


def test_train_graph_writes_weights_back_and_respects_frozen_core():
    model, graph = _cbrnn_and_graph()
    core = graph.named_nodes["core"]
    core.freeze()
    before = {name: getattr(core, name).copy() for name in ("W", "Win", "bias")}
    w_pc = graph.named_nodes["cerebellum"].W_pc.copy()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (32, 5, 2)).astype(float)
    y = (x[:, -1, 0] == x[:, -2, 1]).astype(int)
    result = train_graph(graph, x, y, n_steps=5, learning_rate=0.05, seed=0, progress=False)
    assert len(result.losses) == 5 and result.graph.trainable_nodes() == ["cerebellum", "readout"]
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(core, name), value)
    assert not np.allclose(graph.named_nodes["cerebellum"].W_pc, w_pc)
    np.testing.assert_array_equal(
        graph.named_nodes["readout"].Wout, result.graph.steps["readout"].Wout.detach().numpy()
    )
    graph.reset()
    rerun = graph.run(x[0])  # the nodes run the trained weights
    compiled = compile_graph(graph)(torch.from_numpy(x[:1]))[0].detach().numpy()
    np.testing.assert_allclose(rerun, compiled, rtol=0, atol=1e-10)


def test_per_node_learning_rates_and_trainable_override():
    _, graph = _cbrnn_and_graph()
    x = np.random.default_rng(0).normal(size=(8, 4, 2))
    y = np.arange(8) % 2
    w_gc = graph.named_nodes["cerebellum"].W_gc.copy()
    result = train_graph(
        graph,
        x,
        y,
        n_steps=2,
        optimizer="sgd",
        trainable={"cerebellum": False},
        node_learning_rates={"core": 0.5},
        progress=False,
    )
    np.testing.assert_array_equal(graph.named_nodes["cerebellum"].W_gc, w_gc)
    assert result.graph.trainable_nodes() == ["core", "readout"]


def test_train_core_then_freeze_then_cerebellum_learns():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (64, 6, 1)).astype(float)
    y = (x[:, -2, 0] == x[:, -1, 0]).astype(int)
    source = Input(name="input")
    core = Reservoir(12, lr=2 / 3, sr=0.9, seed=0, activation="leaky_relu", cerebellar_bias=True, name="core")
    cerebellum = Cerebellum(32, 8, n_out=12, output="nuclei", seed=0, name="cerebellum")
    readout = GradientReadout(loss="cross_entropy", name="readout")
    graph = Model(
        [source, cerebellum, core, readout],
        [
            (source, 0, cerebellum),
            (source, 0, core),
            (cerebellum, 0, core),
            (core, 1, cerebellum),
            (core, 0, readout),
        ],
    )
    initialize_graph(graph, x, y)
    core_initial, cerebellum_initial = core.W.copy(), cerebellum.W_pc.copy()
    steps_seen = []

    def stop_after_three(compiled):
        steps_seen.append(len(steps_seen) + 1)
        return len(steps_seen) == 3

    phase0 = train_core_then_freeze(
        graph, x, y, core="core", n_steps=10, stop_when=stop_after_three, progress=False
    )
    assert phase0.stopped_early and len(phase0.losses) == 3 and core.frozen
    assert not np.array_equal(core.W, core_initial)
    np.testing.assert_array_equal(cerebellum.W_pc, cerebellum_initial)  # held fixed in phase 0
    core_trained = core.W.copy()
    phase1 = train_graph(graph, x, y, n_steps=3, progress=False)
    assert phase1.graph.trainable_nodes() == ["cerebellum", "readout"]
    np.testing.assert_array_equal(core.W, core_trained)
    assert not np.allclose(cerebellum.W_pc, cerebellum_initial)
    graph.reset()
    assert graph.run(x[0]).shape == (6, 2)  # the trained loop graph runs in reservoirpy


def test_fit_ridge_readout_on_precomputed_states_equals_direct_ridge():
    rng = np.random.default_rng(0)
    x = rng.choice([-1.0, 1.0], size=(40, 12, 1))
    y = x[:, -2, 0] * x[:, -4, 0]
    core = Reservoir(30, lr=0.8, sr=0.9, seed=1, frozen=True)
    cerebellum = Cerebellum(100, seed=2)
    ridge = Ridge(ridge=1e-4)
    features = fit_ridge_readout(core >> cerebellum >> ridge, x, y)
    expected_features = cerebellum.run(core.run(x))
    np.testing.assert_allclose(features, expected_features, rtol=0, atol=1e-10)
    direct = Ridge(ridge=1e-4).fit(expected_features, y)
    np.testing.assert_allclose(ridge.Wout, direct.Wout, atol=1e-8)
    np.testing.assert_allclose(ridge.bias, direct.bias, atol=1e-8)


def test_divergence_keeps_last_good_weights():
    _, graph = _cbrnn_and_graph()
    x = np.random.default_rng(0).normal(size=(8, 4, 2))
    y = np.arange(8) % 2
    with pytest.raises(TrainingDivergedError, match="at step"):
        train_graph(
            graph, x, y, n_steps=20, optimizer="sgd", learning_rate=1e200, clip_norm=None, progress=False
        )
    for node in graph.nodes:
        for name in ("W", "Win", "W_gc", "W_pc", "Wout"):
            if hasattr(node, name):
                assert np.isfinite(getattr(node, name)).all()


def test_compile_errors():
    with pytest.raises(TypeError, match="compile_graph supports the nodes .*got Ridge"):
        compile_graph(ReservoirpyRidge(Wout=np.zeros((2, 1)), bias=np.zeros(1)))
    with pytest.raises(ValueError, match="is not initialized"):
        compile_graph(Reservoir(5))
    _, graph = _cbrnn_and_graph()
    with pytest.raises(ValueError, match="feedforward graph"):
        fit_ridge_readout(graph, np.zeros((2, 3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="y holds 3 series but x holds 2"):
        train_graph(graph, np.zeros((2, 3, 2)), np.zeros(3, dtype=int), progress=False)


@pytest.mark.parametrize("output", ["input+granule", "granule"])
def test_compiled_feedforward_cerebellum_matches_the_nodes(output):
    """Reservoir >> Cerebellum(output) >> Ridge: the torch graph equals the numpy run (float64)."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 15, 2))
    core = Reservoir(20, lr=0.5, sr=0.9, seed=0)
    cerebellum = Cerebellum(30, output=output, seed=1)
    readout = Ridge(
        Wout=rng.normal(size=(cerebellum.n_granule + (20 if output != "granule" else 0), 2)), bias=np.zeros(2)
    )
    graph = core >> cerebellum >> readout
    expected = graph.run(x)
    compiled = compile_graph(graph)
    np.testing.assert_allclose(compiled(torch.from_numpy(x)).detach().numpy(), expected, rtol=0, atol=1e-10)

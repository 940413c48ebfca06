"""One trainer for models and graphs: a compiled loop graph trains through GradientTrainer as CBRNN does
(bit for bit under every schedule: tests/graph/test_one_network.py)."""

import numpy as np
import pytest
import torch

from cbreservoir.graph import compile_graph, graph_from_cbrnn
from cbreservoir.models import CBRNN, Noise
from cbreservoir.nodes import Cerebellum, GradientReadout, Reservoir
from cbreservoir.training import GradientTrainer, train_core_then_freeze, train_graph
from cbreservoir.training.schedules import Fixed, FullReservoir, frozen_parameters


def _model_and_compiled(n_classes=2, seed=0):
    model = CBRNN(1, 8, 32, 8, n_classes=n_classes, seed=seed).double()
    return model, compile_graph(graph_from_cbrnn(model))


def test_graph_module_groups_follow_node_types_and_schedules_freeze_them():
    model, compiled = _model_and_compiled()
    groups = compiled.module_groups()
    steps = compiled.steps
    assert [id(p) for p in groups["core"]] == [id(p) for p in steps["core"].parameters()]
    assert [id(p) for p in groups["readout"]] == [id(p) for p in steps["readout"].parameters()]
    split = compiled.module_groups(split_core=True)
    assert split["core.recurrent"] == [steps["core"].W, steps["core"].recurrent_bias]
    assert split["core.input"] == [steps["core"].Win, steps["core"].bias]
    frozen = frozen_parameters(compiled, FullReservoir(frozen_core="recurrent"), 3)
    assert frozen == ["steps.core.W", "steps.core.recurrent_bias"]
    assert frozen_parameters(compiled, FullReservoir(), 2) == [
        f"steps.cerebellum.{name}" for name in ("W_gc", "b_gc", "W_pc", "b_pc", "W_dcn", "b_dcn")
    ]
    assert compiled.state_size == model.state_size and compiled.head_sizes == (2,)


def test_graph_initial_state_and_heads_match_the_model():
    model, compiled = _model_and_compiled(n_classes=(2, 3))
    h0_model = model.initial_state(5, torch.Generator().manual_seed(1))
    h0_graph = compiled.initial_state(5, torch.Generator().manual_seed(1))
    assert torch.equal(h0_model, h0_graph)
    x = torch.rand(5, 4, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    for graph_head, model_head in zip(compiled.head_outputs(x, h0_graph), model(x, h0=h0_model), strict=True):
        torch.testing.assert_close(graph_head, model_head, rtol=0, atol=1e-10)
    trainer = GradientTrainer(compiled, seed=0)
    labels = (np.array([0, 1, 0, 1, 1]), np.array([2, 0, 1, 2, 0]))
    accuracy = trainer.evaluate(x, labels)["accuracy"]
    assert len(accuracy) == 2
    assert trainer.evaluate_batches([(x, labels)])[0]["accuracy"] == accuracy


def test_graph_forward_refuses_masks_and_two_initial_states():
    _, compiled = _model_and_compiled()
    x = torch.zeros(2, 3, 1)
    h0 = compiled.initial_state(2)
    with pytest.raises(ValueError, match="mask must be None"):
        compiled(x, h0, torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="give h0 or initial_states, not both"):
        compiled(x, h0, initial_states={"core": h0})
    with pytest.raises(ValueError, match=r"h0 must have shape \(batch, 8\)"):
        compiled(x, torch.zeros(2, 5))
    with pytest.raises(ValueError, match="without noise"):
        GradientTrainer(compiled, noise=Noise(state=0.1))


def _feedforward_graph():
    core = Reservoir(10, lr=0.5, sr=0.9, seed=0, name="core")
    graph = core >> Cerebellum(16, seed=0, name="cb") >> GradientReadout(loss="cross_entropy", name="out")
    x = np.random.default_rng(0).integers(0, 2, (16, 5, 1)).astype(float)
    return graph, x, (x[:, -2, 0] == x[:, -1, 0]).astype(int)


def test_train_graph_plasticity_is_a_schedule():
    graph, x, y = _feedforward_graph()
    result = train_graph(graph, x, y, n_steps=2, schedule=FullReservoir(), level=3, progress=False)
    assert result.graph.trainable_nodes() == ["cb", "out"]
    graph, x, y = _feedforward_graph()
    result = train_graph(graph, x, y, n_steps=2, trainable={"cb": False}, progress=False)
    assert result.graph.trainable_nodes() == ["core", "out"]
    with pytest.raises(ValueError, match="trainable \\(per node\\) or schedule, not both"):
        train_graph(graph, x, y, trainable={"cb": False}, schedule="end_to_end", progress=False)
    with pytest.raises(ValueError, match="trainable must name nodes of the graph"):
        train_graph(graph, x, y, trainable={"nowhere": False}, progress=False)
    graph, x, y = _feedforward_graph()
    phase0 = train_core_then_freeze(graph, x, y, core="core", n_steps=2, progress=False)
    assert graph.nodes[0].frozen and len(phase0.losses) == 2
    assert phase0.graph.trainable_nodes() == ["cb", "out"]  # FullReservoir's next phase, set by the schedule


def test_per_node_settings_must_agree_within_a_group():
    first, second = Reservoir(6, seed=0, name="a", frozen=True), Reservoir(6, seed=1, name="b")
    graph = first >> second >> GradientReadout(loss="cross_entropy", name="out")
    x = np.random.default_rng(0).normal(size=(8, 4, 1))
    with pytest.raises(ValueError, match="must agree within a module group.*core nodes \\['a', 'b'\\]"):
        train_graph(graph, x, np.arange(8) % 2, n_steps=1, progress=False)
    with pytest.raises(ValueError, match="node_learning_rates must agree"):
        train_graph(
            graph, x, np.arange(8) % 2, n_steps=1, trainable={"a": True},
            node_learning_rates={"a": 0.1, "b": 0.2}, progress=False,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("groups", "error"),
    [((), ValueError), (("cortex",), ValueError), ("readout", TypeError), ((1,), TypeError)],
)
def test_fixed_schedule_refuses_bad_groups(groups, error):
    with pytest.raises(error, match="groups must"):
        Fixed(groups)


def test_fixed_schedule_round_trips_through_its_config():
    from cbreservoir.training import make_schedule

    schedule = Fixed(["core.input", "readout"])
    assert schedule.groups == ("core.input", "readout")
    assert make_schedule(**schedule.config) == schedule
    assert schedule.trainable_groups(None) == frozenset({"core.input", "readout"})


def test_a_trainer_with_a_fixed_schedule_saves_and_loads(tmp_path):
    from cbreservoir import load, save

    trainer = GradientTrainer(CBRNN(1, 4, 8, 4, seed=0), schedule=Fixed(("readout",)), seed=0)
    loaded = load(save(trainer, tmp_path / "trainer.cbr"))
    assert loaded.schedule == trainer.schedule and loaded.trainable_groups == frozenset({"readout"})


def _loss_and_gradients(compiled, outputs, labels):
    loss = sum(torch.nn.functional.cross_entropy(head, labels) for head in outputs)
    return loss.item(), torch.autograd.grad(loss, [p for p in compiled.parameters() if p.requires_grad])


@pytest.mark.parametrize("activation", ["leaky_relu", "tanh"])
def test_loop_graph_heads_run_the_fused_kernel_with_the_step_by_step_numbers(activation):
    from cbreservoir.graph import cerebellar_loop, initialize_graph

    core = Reservoir(8, lr=2 / 3, sr=0.9, activation=activation, cerebellar_bias=True, seed=0, name="core")
    cerebellum = Cerebellum(24, 6, n_out=8, output="nuclei", seed=1, name="cb")
    loop = cerebellar_loop(core, cerebellum, input_dim=2)
    graph = loop & (core >> GradientReadout(output_dim=3, name="out"))
    x = np.random.default_rng(0).normal(size=(5, 7, 2))
    initialize_graph(graph, x)
    graph.named_nodes["out"].Wout[:] = np.random.default_rng(1).normal(size=(8, 3))
    compiled = compile_graph(graph)
    assert compiled.cerebellar_loop() == ("core", "cb", activation)
    h0, labels = compiled.initial_state(5, torch.Generator().manual_seed(0)), torch.tensor([0, 1, 2, 1, 0])
    fused = _loss_and_gradients(compiled, compiled.head_outputs(x, h0), labels)
    stepped = _loss_and_gradients(compiled, (compiled(x, h0)[:, -1],), labels)
    assert abs(fused[0] - stepped[0]) < 1e-12
    for fused_gradient, stepped_gradient in zip(fused[1], stepped[1], strict=True):
        torch.testing.assert_close(fused_gradient, stepped_gradient, rtol=0, atol=1e-12)


def test_other_wirings_are_not_the_loop():
    from cbreservoir.graph import cerebellar_loop, initialize_graph

    graph, x, y = _feedforward_graph()
    train_graph(graph, x, y, n_steps=1, progress=False)
    assert compile_graph(graph).cerebellar_loop() is None
    core = Reservoir(8, lr=np.linspace(0.2, 1.0, 8), cerebellar_bias=True, seed=0)  # a leak per unit
    graph = cerebellar_loop(core, Cerebellum(24, 6, n_out=8, output="nuclei", seed=1), input_dim=2)
    graph = graph & (core >> GradientReadout(output_dim=2))
    initialize_graph(graph, np.zeros((1, 3, 2)))
    assert compile_graph(graph).cerebellar_loop() is None

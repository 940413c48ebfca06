"""The CB-RNN and its loop graph are one network end to end: every weight of the model is one weight of the
graph (b_x the Reservoir's ``bias``, b_h its ``recurrent_bias``), so GradientTrainer trains the two alike.

Trained side by side in float64 on the same batches, the model and the compiled graph give the same losses
and weights bit for bit (every schedule, across the level changes where schedules freeze and unfreeze).
"""

import numpy as np
import pytest
import torch

from cbreservoir import load, save
from cbreservoir.graph import cerebellar_loop, compile_graph, graph_from_cbrnn, initialize_graph
from cbreservoir.models import CBRNN
from cbreservoir.nodes import Cerebellum, GradientReadout, Reservoir
from cbreservoir.numerics.network import WEIGHTS, model_key
from cbreservoir.tasks import make_batch
from cbreservoir.training import GradientTrainer
from cbreservoir.training.schedules import EndToEnd, Fixed, FullReservoir, Interleaved

D, H, G, P = 1, 8, 32, 8
#: Levels 2, 3, 4 in turn: FullReservoir trains the core at 2 only, Interleaved(k=2) at 2 and 4.
LEVELS = (2,) * 8 + (3,) * 8 + (4,) * 8


def _model() -> CBRNN:
    return CBRNN(D, H, G, P, seed=0).double()


def _node_loop(model: CBRNN):
    """The loop built from nodes by :func:`cerebellar_loop`, holding the model's weights (by WEIGHTS)."""
    values = {name: model.state_dict()[model_key(name)].numpy() for name in WEIGHTS}
    core = Reservoir(
        H, lr=model.core.leak, W=values["W_rec"], Win=values["W_in"], bias=values["b_in"],
        recurrent_bias=values["b_rec"], activation="leaky_relu", cerebellar_bias=True, name="core",
    )  # fmt: skip
    cerebellum = Cerebellum(G, P, n_out=H, output="nuclei", input_dim=D + H, name="cerebellum")
    cerebellum.initialize()
    for name in ("W_gc", "b_gc", "W_pc", "b_pc", "W_dcn", "b_dcn"):
        setattr(cerebellum, WEIGHTS[name].attribute, values[name])
    readout = GradientReadout(Wout=values["W_out"].T, bias=values["b_out"], name="readout")
    graph = cerebellar_loop(core, cerebellum, input_dim=D) & (core >> readout)
    initialize_graph(graph, np.zeros((1, D)))
    return graph


def _train_side_by_side(networks, schedule):
    trainers = [GradientTrainer(network, schedule=schedule, seed=3) for network in networks]
    losses = [[] for _ in trainers]
    for step, level in enumerate(LEVELS):
        x, y = make_batch("dms", level, batch_size=16, seed=step)
        for trainer, record in zip(trainers, losses, strict=True):
            trainer.set_level(level)
            record.append(trainer.train_step(x, y))
    return trainers, losses


def _assert_same_weights(model: CBRNN, compiled) -> None:
    for name, weight in WEIGHTS.items():
        key = compiled.outputs[0] if weight.node == "readout" else weight.node
        value = getattr(compiled.steps[key], weight.attribute)
        expected = model.state_dict()[model_key(name)]
        assert torch.equal(value.T if weight.transposed else value, expected), name


@pytest.mark.parametrize(
    "schedule",
    [
        EndToEnd(),
        FullReservoir(),
        FullReservoir(frozen_core="recurrent"),
        Interleaved(k=2),
        Fixed(("cerebellum", "readout")),
    ],
    ids=["end_to_end", "full_reservoir", "full_reservoir_recurrent", "interleaved", "fixed"],
)
def test_a_cbrnn_and_its_loop_graph_train_bit_for_bit_alike(schedule):
    model = _model()
    compiled = compile_graph(graph_from_cbrnn(model))
    trainers, losses = _train_side_by_side((model, compiled), schedule)
    assert losses[1] == losses[0]  # bitwise, every step
    assert losses[0][0] != losses[0][-1]  # the run learned: the numbers compared moved
    _assert_same_weights(model, compiled)
    x, y = make_batch("dms", 4, batch_size=16, seed=99)
    assert trainers[1].evaluate(x, y) == trainers[0].evaluate(x, y)


def test_a_loop_built_from_nodes_trains_bit_for_bit_as_the_cbrnn():
    model = _model()
    compiled = compile_graph(_node_loop(_model()))
    assert compiled.cerebellar_loop() == ("core", "cerebellum", "leaky_relu")  # the fused fast path
    _, losses = _train_side_by_side((model, compiled), EndToEnd())
    assert losses[1] == losses[0]
    _assert_same_weights(model, compiled)


def test_the_recurrent_bias_is_a_core_parameter_that_is_written_back_and_saved(tmp_path):
    graph = graph_from_cbrnn(_model())
    compiled = compile_graph(graph)
    core = compiled.steps["core"]
    assert [name for name, _ in core.named_parameters()] == ["Win", "W", "bias", "recurrent_bias"]
    split = compiled.module_groups(split_core=True)
    assert split["core.input"] == [core.Win, core.bias] and split["core.recurrent"] == [core.W, core.b_rec]
    x = torch.rand(5, 6, D, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    h0 = compiled.initial_state(5, torch.Generator().manual_seed(1))
    stepped = compiled(x, h0)[:, -1]
    torch.testing.assert_close(compiled.head_outputs(x, h0)[0], stepped, rtol=0, atol=1e-12)

    with torch.no_grad():
        core.b_rec.add_(0.25)
    compiled.write_back()
    node = graph.named_nodes["core"]
    np.testing.assert_array_equal(node.recurrent_bias, core.b_rec.detach().numpy())
    loaded_graph = load(save(graph, tmp_path / "loop.cbr"))
    loaded_compiled = load(save(compiled, tmp_path / "compiled.cbr"))
    np.testing.assert_array_equal(loaded_graph.named_nodes["core"].recurrent_bias, node.recurrent_bias)
    assert torch.equal(loaded_compiled.steps["core"].b_rec, core.b_rec)
    torch.testing.assert_close(loaded_compiled.head_outputs(x, h0)[0], compiled.head_outputs(x, h0)[0])
    series = np.random.default_rng(2).normal(size=(7, D))
    np.testing.assert_array_equal(loaded_graph.run(series), graph.run(series))


def test_a_reservoir_without_a_recurrent_bias_compiles_as_before():
    core = Reservoir(6, lr=0.5, sr=0.9, seed=0, name="core")
    core.initialize(np.zeros((1, 2)))
    compiled = compile_graph(core)
    step = compiled.steps["core"]
    assert [name for name, _ in step.named_parameters()] == ["Win", "W", "bias"] and step.b_rec is None
    assert compiled.module_groups(split_core=True)["core.recurrent"] == [step.W]

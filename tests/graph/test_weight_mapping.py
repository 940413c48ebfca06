"""The documented weight mapping: a CB-RNN copied by hand into a node loop graph computes the same outputs.

The copy uses only :mod:`cbreservoir.numerics.network` (the table docs/model.md shows): each weight's
state-dict key (:func:`~cbreservoir.numerics.network.model_key`) and its node attribute
(:data:`~cbreservoir.numerics.network.NODE_ATTRIBUTES`); ``W_gc`` is copied as it is, since the model and
the Cerebellum node both read ``[x_t ; h_{t-1}]``.
"""

import numpy as np
import pytest
import torch
from reservoirpy.nodes import Input

from cbreservoir.graph import graph_from_cbrnn, initialize_graph
from cbreservoir.graph.model import Model
from cbreservoir.models import CBRNN
from cbreservoir.nodes import Cerebellum, GradientReadout, Reservoir
from cbreservoir.numerics.network import MODEL_KEYS, MOSSY_ORDER, NODE_ATTRIBUTES, WEIGHTS, model_key

D, H, G, P = 2, 6, 16, 5


def _model(seed: int = 0) -> CBRNN:
    model = CBRNN(D, H, G, P, n_classes=3, seed=seed).double()
    with torch.no_grad():  # non-zero biases and a granule layer that is not silent: every weight matters
        generator = torch.Generator().manual_seed(seed)
        for layer in (model.cerebellum.granule, model.cerebellum.purkinje, model.cerebellum.nuclei):
            layer.bias.normal_(0, 0.1, generator=generator)
        model.cerebellum.granule.weight.mul_(30)
    return model


def _copied_by_hand(model: CBRNN) -> Model:
    """The loop graph built as docs/model.md tells a user, weights copied through the table only."""
    state = {key: value.detach().numpy() for key, value in model.state_dict().items()}
    values = {name: state[model_key(name)] for name in WEIGHTS}
    source = Input(name="input")
    core = Reservoir(
        H,
        lr=model.core.leak,
        W=values["W_rec"],
        Win=values["W_in"],
        bias=values["b_in"],
        recurrent_bias=values["b_rec"],
        activation="leaky_relu",
        cerebellar_bias=True,
        name="core",
    )
    cerebellum = Cerebellum(G, P, n_out=H, output="nuclei", input_dim=D + H, name="cerebellum")
    readout = GradientReadout(Wout=values["W_out"].T, bias=values["b_out"], name="readout")
    nodes = {"core": core, "cerebellum": cerebellum, "readout": readout}
    for node in (core, cerebellum, readout):
        node.initialize()
    for name in ("W_gc", "b_gc", "W_pc", "b_pc", "W_dcn", "b_dcn"):
        node_name, attribute, transposed = NODE_ATTRIBUTES[name]
        setattr(nodes[node_name], attribute, values[name].T if transposed else values[name])
    source.initialize(np.zeros(D))
    edges = [(source, 0, cerebellum), (source, 0, core), (cerebellum, 0, core), (core, 1, cerebellum)]
    graph = Model([source, cerebellum, core, readout], [*edges, (core, 0, readout)])
    initialize_graph(graph, np.zeros((1, D)))
    return graph


def test_the_table_names_every_weight_once_in_the_input_order():
    assert MOSSY_ORDER == ("x", "h")
    assert set(NODE_ATTRIBUTES) == set(WEIGHTS) == {name for keys in MODEL_KEYS.values() for name in keys}
    keys = [model_key(name) for name in WEIGHTS]
    assert len(set(keys)) == len(keys)
    shapes = {"d": D, "H": H, "G": G, "P": P, "C": 3, "d + H": D + H}
    state = _model().state_dict()
    for name, weight in WEIGHTS.items():
        assert tuple(state[model_key(name)].shape) == tuple(shapes[size] for size in weight.shape), name


@pytest.mark.parametrize("seed", [0, 1])
def test_a_cbrnn_copied_by_hand_into_nodes_gives_the_same_outputs(seed):
    model = _model(seed)
    graph = _copied_by_hand(model)
    x = np.random.default_rng(seed).normal(size=(9, D))
    outputs = graph.run(x)
    logits, activity = model(torch.from_numpy(x)[None], h0=torch.zeros(1, H), return_activity=True)
    readout = model.readouts[0]
    every_step = readout(activity["core"][0]).detach().numpy()  # the readout of h_1 ... h_T
    np.testing.assert_allclose(outputs, every_step, rtol=0, atol=1e-10)
    np.testing.assert_allclose(outputs[-1], logits[0].detach().numpy(), rtol=0, atol=1e-10)


def test_the_converter_copies_exactly_what_the_table_says():
    model = _model()
    by_hand, converted = _copied_by_hand(model), graph_from_cbrnn(model)
    for name in WEIGHTS:
        node_name, attribute, _ = NODE_ATTRIBUTES[name]
        np.testing.assert_array_equal(
            getattr(converted.named_nodes[node_name], attribute),
            getattr(by_hand.named_nodes[node_name], attribute),
        )
    x = np.random.default_rng(3).normal(size=(7, D))
    np.testing.assert_array_equal(converted.run(x), by_hand.run(x))


def test_the_cerebellum_node_and_module_agree_on_one_mossy_vector_x_then_h():
    model = _model()
    cerebellum = _copied_by_hand(model).named_nodes["cerebellum"]
    rng = np.random.default_rng(4)
    mossy = np.concatenate([rng.normal(size=D), rng.normal(size=H)])  # [x_t ; h_{t-1}]
    expected = model.cerebellum(torch.from_numpy(mossy)).nuclei.detach().numpy()
    np.testing.assert_allclose(np.ravel(cerebellum.run(mossy[None])), expected, rtol=0, atol=1e-12)

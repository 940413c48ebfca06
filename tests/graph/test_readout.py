"""GradientReadout: the linear readout node trained by an optimiser."""

import numpy as np
import pytest

from cbreservoir.graph import initialize_graph
from cbreservoir.nodes import GradientReadout
from cbreservoir.nodes.gradient_readout import infer_output_dim
from cbreservoir.training import TrainingDivergedError, train_graph


def test_regression_recovers_linear_map_per_step_and_per_series():
    rng = np.random.default_rng(0)
    weights, bias = rng.normal(size=(3, 2)), np.array([0.5, -1.0])
    x = rng.normal(size=(200, 3))
    readout = GradientReadout(n_steps=1500, learning_rate=0.05).fit(x, x @ weights + bias)
    np.testing.assert_allclose(readout.Wout, weights, atol=1e-6)
    np.testing.assert_allclose(readout.bias, bias, atol=1e-6)
    series = rng.normal(size=(300, 4, 3))
    final = GradientReadout(n_steps=1500, learning_rate=0.05).fit(series, series[:, -1] @ weights)
    np.testing.assert_allclose(final.Wout, weights, atol=1e-5)
    assert final.run(series).shape == (300, 4, 2)
    assert final.loss_history[-1] < 1e-8 < final.loss_history[0]


def test_classification_and_warmup():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 40, 2))
    labels = (x[..., 0] > x[..., 1]).astype(int)
    readout = GradientReadout(loss="cross_entropy", learning_rate=0.1, n_steps=300).fit(
        x, labels[..., None], warmup=2
    )
    assert readout.output_dim == 2
    assert (readout.run(x).argmax(-1) == labels).mean() > 0.95
    assert readout.step(x[0, 0]).shape == (2,)


def test_readout_errors():
    with pytest.raises(ValueError, match="loss must be one of"):
        GradientReadout(loss="hinge")
    with pytest.raises(ValueError, match="n_steps must be a positive int"):
        GradientReadout(n_steps=0)
    with pytest.raises(ValueError, match="needs targets"):
        GradientReadout().fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="not fitted"):
        GradientReadout().run(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="integer class labels"):
        GradientReadout(loss="cross_entropy", output_dim=2).fit(np.zeros((4, 2)), np.full(4, 0.5))
    with pytest.raises(TrainingDivergedError, match="at step 2"):
        GradientReadout(optimizer="sgd", learning_rate=1e200, n_steps=5).fit(np.ones((4, 2)), np.ones((4, 1)))


@pytest.mark.parametrize(
    ("y", "loss", "expected"),
    [
        (np.zeros(7), "mse", 1),  # (T,) per step of one series, or (S,) per series
        (np.zeros((7, 2)), "mse", 2),
        (np.zeros((4, 7, 3)), "mse", 3),
        ([np.zeros(5), np.zeros(8)], "mse", 1),  # ragged per-step targets
        ([np.zeros((5, 2)), np.zeros((8, 2))], "mse", 2),
        (np.array([0, 3, 1]), "cross_entropy", 4),
        (np.array([[0, 1], [2, 1]]), "cross_entropy", 3),
        ([np.array([0, 1]), np.array([4, 0, 0])], "cross_entropy", 5),
    ],
)
def test_infer_output_dim(y, loss, expected):
    assert infer_output_dim(y, loss) == expected


@pytest.mark.parametrize(
    ("y", "loss", "message"),
    [
        (np.array([0.0, np.nan]), "cross_entropy", r"integer class labels >= 0; got \[nan\]"),
        (np.array([0, -1]), "cross_entropy", r"integer class labels >= 0; got \[-1.0\]"),
        (np.array([0.5, 1.0, 1.5]), "cross_entropy", r"integer class labels >= 0; got \[0.5, 1.5\]"),
        (np.array([]), "cross_entropy", "at least one class label"),
        (np.zeros(3), "hinge", "loss must be one of"),
    ],
)
def test_infer_output_dim_errors(y, loss, message):
    with pytest.raises(ValueError, match=message):
        infer_output_dim(y, loss)


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_node_and_graph_infer_the_same_output_size_and_learn_the_same_weights(loss):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(24, 5, 3))
    final = x[:, -1]
    y = final @ rng.normal(size=3) if loss == "mse" else np.digitize(final[:, 0], [-0.5, 0.5])  # (S,)
    settings = {"learning_rate": 0.05, "n_steps": 20}
    node = GradientReadout(loss=loss, **settings).fit(x, y)
    in_graph = GradientReadout(loss=loss, name="out")
    initialize_graph(in_graph, x, y, loss=loss)
    assert node.output_dim == in_graph.output_dim == (1 if loss == "mse" else 3)
    result = train_graph(
        in_graph,
        x,
        y,
        n_steps=settings["n_steps"],
        loss=loss,
        learning_rate=settings["learning_rate"],
        clip_norm=None,
        seed=0,
        progress=False,
    )
    np.testing.assert_allclose(result.losses, node.loss_history, rtol=1e-12)
    np.testing.assert_allclose(in_graph.Wout, node.Wout, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(in_graph.bias, node.bias, rtol=1e-10, atol=1e-14)


def test_graph_infers_from_the_training_loss_not_the_node_loss():
    x, labels = np.zeros((6, 4, 2)), np.array([0, 1, 2, 0, 1, 2])
    readout = GradientReadout(loss="mse", name="out")  # the node's own loss is for GradientReadout.fit
    initialize_graph(readout, x, labels, loss="cross_entropy")
    assert readout.output_dim == 3

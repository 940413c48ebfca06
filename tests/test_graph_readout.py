"""GradientReadout: the linear readout node trained by an optimiser."""

import numpy as np
import pytest

from cbreservoir.nodes import GradientReadout
from cbreservoir.training import TrainingDivergedError


def test_regression_recovers_linear_map_per_step_and_per_series():
    rng = np.random.default_rng(0)
    weights, bias = rng.normal(size=(3, 2)), np.array([0.5, -1.0])
    x = rng.normal(size=(200, 3))
    readout = GradientReadout(epochs=1500, learning_rate=0.05).fit(x, x @ weights + bias)
    np.testing.assert_allclose(readout.Wout, weights, atol=1e-6)
    np.testing.assert_allclose(readout.bias, bias, atol=1e-6)
    series = rng.normal(size=(300, 4, 3))
    final = GradientReadout(epochs=1500, learning_rate=0.05).fit(series, series[:, -1] @ weights)
    np.testing.assert_allclose(final.Wout, weights, atol=1e-5)
    assert final.run(series).shape == (300, 4, 2)
    assert final.loss_history[-1] < 1e-8 < final.loss_history[0]


def test_classification_and_warmup():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 40, 2))
    labels = (x[..., 0] > x[..., 1]).astype(int)
    readout = GradientReadout(loss="cross_entropy", learning_rate=0.1, epochs=300).fit(
        x, labels[..., None], warmup=2
    )
    assert readout.output_dim == 2
    assert (readout.run(x).argmax(-1) == labels).mean() > 0.95
    assert readout.step(x[0, 0]).shape == (2,)


def test_readout_errors():
    with pytest.raises(ValueError, match="loss must be one of"):
        GradientReadout(loss="hinge")
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        GradientReadout(epochs=0)
    with pytest.raises(ValueError, match="needs targets"):
        GradientReadout().fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="not fitted"):
        GradientReadout().run(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="integer class labels"):
        GradientReadout(loss="cross_entropy", output_dim=2).fit(np.zeros((4, 2)), np.full(4, 0.5))
    with pytest.raises(TrainingDivergedError, match="at step 2"):
        GradientReadout(optimizer="sgd", learning_rate=1e200, epochs=5).fit(np.ones((4, 2)), np.ones((4, 1)))

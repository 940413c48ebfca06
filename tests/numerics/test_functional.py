"""The shared model math (cbreservoir.numerics.functional) against its equations written in numpy."""

import numpy as np
import pytest
import torch

from cbreservoir.numerics import functional as F


def _random(rng, *shape):
    return torch.from_numpy(rng.standard_normal(shape))


@pytest.mark.parametrize("name", sorted(F.ACTIVATIONS))
def test_core_step_matches_design_equation(name):
    rng = np.random.default_rng(0)
    x, h = _random(rng, 5, 3), _random(rng, 5, 4)
    w_in, w_rec = _random(rng, 4, 3), _random(rng, 4, 4)
    b_in, b_rec, c = _random(rng, 4), _random(rng, 4), _random(rng, 5, 4)
    leak = 2 / 3
    phi = {
        "tanh": np.tanh,
        "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
        "relu": lambda z: np.maximum(z, 0),
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        "identity": lambda z: z,
    }[name]
    z = x.numpy() @ w_in.numpy().T + b_in.numpy() + h.numpy() @ w_rec.numpy().T + b_rec.numpy() + c.numpy()
    expected = (1 - leak) * h.numpy() + leak * phi(z)
    got = F.core_step(x, h, w_in, w_rec, b_in, b_rec, leak, F.get_activation(name), cerebellar_bias=c)
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-12)


def test_core_step_without_biases_or_cerebellum_is_plain_leaky_rnn():
    rng = np.random.default_rng(1)
    x, h, w_in, w_rec = _random(rng, 3), _random(rng, 2), _random(rng, 2, 3), _random(rng, 2, 2)
    got = F.core_step(x, h, w_in, w_rec, None, None, 1.0, torch.tanh)
    np.testing.assert_allclose(got.numpy(), np.tanh(w_in.numpy() @ x.numpy() + w_rec.numpy() @ h.numpy()))


def test_cerebellum_forward_layers_and_threshold():
    u = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    w_gc = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    w_pc = torch.ones(1, 3, dtype=torch.float64)
    w_dcn = torch.tensor([[2.0], [-1.0]], dtype=torch.float64)
    activity = F.cerebellum_forward(u, w_gc, None, w_pc, None, w_dcn, torch.zeros(2, dtype=torch.float64))
    np.testing.assert_array_equal(activity.granule.numpy(), [[1.0, 0.0, 0.0]])  # ReLU(1, -2, -1)
    np.testing.assert_array_equal(activity.purkinje.numpy(), [[1.0]])
    np.testing.assert_array_equal(activity.nuclei.numpy(), [[2.0, -1.0]])
    thresholded = F.cerebellum_forward(u, w_gc, None, w_pc, None, w_dcn, None, granule_threshold=0.5)
    np.testing.assert_array_equal(thresholded.granule.numpy(), [[0.5, 0.0, 0.0]])


@pytest.mark.parametrize(("bad", "error"), [("softmax", ValueError), (None, TypeError), (3, TypeError)])
def test_unknown_activation_names_the_choices(bad, error):
    with pytest.raises(error, match="activation must be one of .*tanh.*got"):
        F.get_activation(bad)

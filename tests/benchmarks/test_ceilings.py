"""benchmarks/ceilings.py: its hand-written ensemble update must do the reference loop's real work."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from cbreservoir.experiments import reference

CEILINGS = Path(__file__).resolve().parents[2] / "benchmarks" / "ceilings.py"


@pytest.fixture(scope="module")
def ceilings():
    spec = importlib.util.spec_from_file_location("cbreservoir_ceilings", CEILINGS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def small_networks(reference, seeds):
    return [reference.ReferenceCBRNN(hidden_size=6, n_granule=12, n_purkinje=5, seed=seed) for seed in seeds]


def test_manual_gradients_equal_autograd(ceilings):
    networks = small_networks(reference, [0, 1, 2])
    params = ceilings.stack_parameters(networks)
    generator = torch.Generator().manual_seed(0)
    x = torch.randint(0, 2, (4, 7, 1), generator=generator).float()
    y = torch.randint(0, 2, (4,), generator=generator)
    h0 = 0.1 * torch.rand(3, 4, 6, generator=generator)
    grads, loss = ceilings.manual_gradients(params, x, y, h0, networks[0].alpha, reference.LEAKY_SLOPE)
    for member, network in enumerate(networks):
        expected_loss = torch.nn.functional.cross_entropy(network(x, h0[member]), y)
        expected_loss.backward()
        assert loss[member].item() == pytest.approx(expected_loss.item(), rel=1e-6)
        for name, parameter in network.named_parameters():
            torch.testing.assert_close(grads[name][member], parameter.grad, rtol=1e-5, atol=1e-7)


def test_manual_update_follows_the_reference_loop(ceilings):
    seeds = [4, 5]
    networks = small_networks(reference, seeds)
    params, buffers = ceilings.stack_parameters(networks), {}
    optimizers = [reference.make_optimizer(network) for network in networks]
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    manual_generators = [torch.Generator().manual_seed(s) for s in seeds]
    rng = np.random.default_rng(0)
    for _ in range(4):
        length = int(rng.integers(3, 9))
        x = torch.from_numpy(rng.integers(0, 2, (5, length, 1)).astype(np.float32))
        y = torch.from_numpy(rng.integers(0, 2, 5))
        h0 = torch.stack([0.1 * torch.rand(5, 6, generator=g) for g in manual_generators])
        losses = ceilings.manual_update(params, buffers, x, y, h0, reference, networks[0].alpha)
        for member, (network, optimizer) in enumerate(zip(networks, optimizers, strict=True)):
            expected = reference.train_step(network, optimizer, x, y, generators[member])
            assert losses[member].item() == pytest.approx(expected, rel=1e-5)
    for member, network in enumerate(networks):
        for name, parameter in network.named_parameters():
            torch.testing.assert_close(params[name][member], parameter.detach(), rtol=1e-5, atol=1e-6)


def test_manual_update_clips_each_member_to_the_clip_norm(ceilings, monkeypatch):
    monkeypatch.setattr(reference, "CLIP_NORM", 1e-3)
    networks = small_networks(reference, [0, 1])
    params = {name: value.double() for name, value in ceilings.stack_parameters(networks).items()}
    before = {name: value.clone() for name, value in params.items()}
    x = torch.ones(3, 4, 1, dtype=torch.float64)
    y = torch.tensor([0, 1, 1])
    h0 = torch.zeros(2, 3, 6, dtype=torch.float64)
    ceilings.manual_update(params, {}, x, y, h0, reference, networks[0].alpha)
    # first Nesterov step: p -= lr * (1 + momentum) * g, with ||g|| = clip norm per member (up to the
    # 1e-6 that clip_grad_norm_ adds to the norm it divides by)
    step = torch.cat([(before[name] - params[name]).flatten(1) for name in params], 1).norm(dim=1)
    expected = reference.LEARNING_RATE * (1 + reference.MOMENTUM) * 1e-3
    torch.testing.assert_close(step, torch.full((2,), expected, dtype=torch.float64), rtol=1e-5, atol=0)


def test_products_only_flop_count_matches_the_update_shapes(ceilings):
    # 3 passes (forward, input gradients, weight gradients) of 2·B·((H+d)(H+G) + G·P + P·H) per step
    assert ceilings.update_flops(8, 64, 14, 64, 256, 64, 1) == 3 * 8 * 14 * 2 * 64 * (
        65 * 320 + 256 * 64 + 64 * 64
    )
    ceilings.products_only(2, 3, 4, 5, 6, 7, 1)()  # runs on consistent shapes

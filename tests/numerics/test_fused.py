"""The fused leaky sequence kernel: gradients against autograd (float64) and the stepped equations."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cbreservoir.models import CBRNN, ElmanRNN
from cbreservoir.numerics import functional as CF


def random_problem(members, cerebellum, masked, seed=0, batch=3, steps=5, features=2, hidden=4):
    generator = torch.Generator().manual_seed(seed)

    def tensor(*shape):
        lead = () if members is None else (members,)
        return (0.5 * torch.randn(*lead, *shape, generator=generator, dtype=torch.float64)).requires_grad_()

    x, h0 = tensor(batch, steps, features), tensor(batch, hidden)
    core = (tensor(hidden, features), tensor(hidden), tensor(hidden, hidden), tensor(hidden))
    granule, purkinje = 6, 3
    cb = None
    if cerebellum:
        cb = (
            tensor(granule, hidden + features),
            tensor(granule),
            tensor(purkinje, granule),
            tensor(purkinje),
            tensor(hidden, purkinje),
            tensor(hidden),
        )
    keep = None
    if masked:
        lead = () if members is None else (members,)
        keep = torch.rand(*lead, batch, steps, generator=generator) > 0.3
    return x, h0, core, cb, keep


def stepped(x, h0, core, cb, keep, leak, activation):
    """The same sequence through core_step and cerebellum_forward, one step at a time (one network)."""
    h = h0
    for t in range(x.shape[1]):
        bias = None
        if cb is not None:
            bias = CF.cerebellum_forward(torch.cat([x[:, t], h], -1), *cb).nuclei
        new = CF.core_step(
            x[:, t], h, core[0], core[2], core[1], core[3], leak, CF.get_activation(activation), bias
        )
        h = new if keep is None else torch.where(keep[:, t, None], new, h)
    return h


@pytest.mark.parametrize("members", [None, 2])
@pytest.mark.parametrize("cerebellum", [True, False])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("activation", ["leaky_relu", "tanh", "sigmoid"])
def test_backward_is_the_gradient_of_the_forward(members, cerebellum, masked, activation):
    x, h0, core, cb, keep = random_problem(members, cerebellum, masked)

    def run(x, h0, *weights):
        return CF.leaky_sequence(
            x, h0, weights[:4], leak=2 / 3, activation=activation, cerebellum=weights[4:] or None, keep=keep
        )

    assert torch.autograd.gradcheck(run, (x, h0, *core, *(cb or ())))


@pytest.mark.parametrize("cerebellum", [True, False])
@pytest.mark.parametrize("masked", [False, True])
def test_forward_equals_the_stepped_equations(cerebellum, masked):
    x, h0, core, cb, keep = random_problem(None, cerebellum, masked, seed=1)
    fused = CF.leaky_sequence(x, h0, core, leak=0.4, activation="leaky_relu", cerebellum=cb, keep=keep)
    torch.testing.assert_close(fused, stepped(x, h0, core, cb, keep, 0.4, "leaky_relu"), rtol=0, atol=1e-12)
    stacked = random_problem(2, cerebellum, masked, seed=2)
    fused = CF.leaky_sequence(
        *stacked[:3], leak=0.4, activation="tanh", cerebellum=stacked[3], keep=stacked[4]
    )
    for member in range(2):
        x, h0, core, cb, keep = (
            None
            if part is None
            else (tuple(p[member] for p in part) if isinstance(part, tuple) else part[member])
            for part in stacked
        )
        torch.testing.assert_close(
            fused[member], stepped(x, h0, core, cb, keep, 0.4, "tanh"), rtol=0, atol=1e-12
        )


@settings(max_examples=15, deadline=None)
@given(
    batch=st.integers(1, 5), steps=st.integers(1, 7), features=st.integers(1, 3), seed=st.integers(0, 1000)
)
def test_fused_model_equals_stepped_model_for_any_shape(batch, steps, features, seed):
    model = CBRNN(features, units=5, n_granule=7, n_purkinje=3, seed=seed).double()
    x = torch.randn(
        batch, steps, features, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )
    h0 = model.initial_state(batch, torch.Generator().manual_seed(seed))
    stepped_logits, _ = model(x, h0=h0, return_activity=True)
    torch.testing.assert_close(model(x, h0=h0), stepped_logits, rtol=0, atol=1e-12)


def test_frozen_parameters_get_no_gradient_and_the_others_the_autograd_one():
    model = CBRNN(1, units=6, n_granule=10, n_purkinje=4, seed=0).double()
    reference = CBRNN(1, units=6, n_granule=10, n_purkinje=4, seed=0).double()
    for net in (model, reference):
        for parameter in net.core.parameters():
            parameter.requires_grad_(False)  # the frozen core of the reservoir schedules
    x = torch.randint(0, 2, (4, 6, 1)).double()
    h0 = model.initial_state(4, torch.Generator().manual_seed(0))
    model(x, h0=h0).sum().backward()
    stepped_logits, _ = reference(x, h0=h0, return_activity=True)
    stepped_logits.sum().backward()
    assert all(parameter.grad is None for parameter in model.core.parameters())
    for (name, ours), theirs in zip(model.named_parameters(), reference.parameters(), strict=True):
        if ours.requires_grad:
            torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-10, atol=1e-12, msg=name)


def test_bias_gradients_are_separate_tensors():
    # optimisers update gradients in place (foreach SGD with Nesterov): two parameters must not share one
    model = ElmanRNN(1, 5, seed=0)
    model(torch.ones(2, 3, 1)).sum().backward()
    input_bias, recurrent_bias = model.core.input_layer.bias.grad, model.core.recurrent_layer.bias.grad
    torch.testing.assert_close(input_bias, recurrent_bias)
    assert input_bias.data_ptr() != recurrent_bias.data_ptr()


def test_unknown_activation_is_refused():
    x, h0, core, _, _ = random_problem(None, False, False)
    with pytest.raises(ValueError, match="activation must be one of"):
        CF.leaky_sequence(x, h0, core, leak=0.5, activation="softplus")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fused_kernel_on_cuda_equals_cpu():
    x, h0, core, cb, keep = random_problem(2, True, True, seed=3)
    cpu = CF.leaky_sequence(x, h0, core, leak=2 / 3, activation="leaky_relu", cerebellum=cb, keep=keep)
    moved = [t.detach().cuda() for t in (x, h0, *core, *cb)]
    gpu = CF.leaky_sequence(
        moved[0],
        moved[1],
        tuple(moved[2:6]),
        leak=2 / 3,
        activation="leaky_relu",
        cerebellum=tuple(moved[6:]),
        keep=keep.cuda(),
    )
    torch.testing.assert_close(gpu.cpu(), cpu.detach(), rtol=1e-9, atol=1e-10)

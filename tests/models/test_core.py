"""Tests of the ready-made torch models (cbreservoir.models, cbreservoir.models.blocks)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cbreservoir.models import (
    CBRNN,
    MODEL_KINDS,
    ElmanRNN,
    GRUModel,
    LSTMModel,
    RecurrentAuxRNN,
    build_model,
    count_parameters,
    match_units,
)
from cbreservoir.numerics import functional as CF


def test_paper_parameter_pair():
    cbrnn = CBRNN(1, 64, 256, 64, 2)
    assert count_parameters(cbrnn) == 41_922
    assert count_parameters(cbrnn.cerebellum) == 37_504
    hidden = match_units(41_922, 1, 2)
    assert hidden == 202
    assert count_parameters(ElmanRNN(1, hidden)) == 41_816


def test_match_units_other_kinds_is_closest():
    target = 20_000
    for kind in ("gru", "lstm", "rnn_aux"):
        hidden = match_units(target, 1, 2, kind=kind)
        counts = {
            h: count_parameters(build_model(kind, input_dim=1, units=h)) for h in (hidden - 1, hidden + 1)
        }
        best = abs(count_parameters(build_model(kind, input_dim=1, units=hidden)) - target)
        assert all(best <= abs(c - target) for c in counts.values())


def test_paper_cerebellum_init_and_core_default_init():
    model = CBRNN(1, 64, 256, 64, 2, seed=3)
    cb = model.cerebellum
    for layer in (cb.granule, cb.purkinje, cb.nuclei):
        assert torch.count_nonzero(layer.bias) == 0
    assert abs(cb.granule.weight.std().item() - 0.01) < 0.001
    assert abs(cb.purkinje.weight.std().item() - 0.1) < 0.005
    bound = 1 / np.sqrt(64)  # torch default Linear init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert model.core.recurrent_layer.weight.abs().max().item() <= bound
    assert model.core.recurrent_layer.bias.abs().max().item() <= bound


@pytest.mark.parametrize("kind", sorted(MODEL_KINDS))
def test_config_rebuilds_same_model_and_seed_leaves_global_rng(kind):
    state = torch.random.get_rng_state()
    model = build_model(kind, input_dim=2, units=6, n_classes=(2, 3), seed=11)
    assert torch.equal(torch.random.get_rng_state(), state)
    twin = build_model(**model.config)
    for (name, a), (_, b) in zip(model.state_dict().items(), twin.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    x = torch.randn(4, 5, 2)
    h0 = model.initial_state(4, torch.Generator().manual_seed(0))
    logits = model(x, h0=h0)
    assert isinstance(logits, tuple) and [t.shape for t in logits] == [(4, 2), (4, 3)]
    assert all(torch.equal(a, b) for a, b in zip(logits, twin(x, h0=h0), strict=True))
    groups = model.module_groups()
    assert set(groups) == {"core", "cerebellum", "readout"}
    assert sum(p.numel() for ps in groups.values() for p in ps) == count_parameters(model)


@pytest.mark.parametrize("kind", sorted(MODEL_KINDS))
def test_left_padding_mask_equals_unpadded_runs(kind):
    torch.manual_seed(0)
    extra = (
        {"n_granule": 16, "n_purkinje": 4} if kind in ("cbrnn", "gru", "gru_cb", "lstm", "lstm_cb") else {}
    )
    model = build_model(kind, input_dim=1, units=5, seed=1, **extra).double()
    lengths = [3, 6, 1]
    n_steps = max(lengths)
    h0 = model.initial_state(len(lengths), torch.Generator().manual_seed(1)).double()
    x = torch.randn(len(lengths), n_steps, 1, dtype=torch.float64)
    mask = torch.zeros(len(lengths), n_steps, dtype=torch.bool)
    for i, length in enumerate(lengths):
        mask[i, n_steps - length :] = True
        x[i, : n_steps - length] = 123.0  # padding content must not matter
    padded = model(x, h0=h0, mask=mask)
    for i, length in enumerate(lengths):
        alone = model(x[i : i + 1, n_steps - length :], h0=h0[i : i + 1])
        torch.testing.assert_close(padded[i : i + 1], alone, rtol=0, atol=1e-12)


def test_cbrnn_step_is_functional_math_and_disabling_cerebellum_gives_plain_core():
    model = CBRNN(1, 4, 8, 3, seed=0).double()
    x = torch.randn(2, 3, 1, dtype=torch.float64)
    h0 = model.initial_state(2).double()
    h = h0
    core, cb = model.core, model.cerebellum
    for t in range(3):
        c = cb(torch.cat([x[:, t], h], -1)).nuclei
        h = CF.core_step(
            x[:, t],
            h,
            core.input_layer.weight,
            core.recurrent_layer.weight,
            core.input_layer.bias,
            core.recurrent_layer.bias,
            2 / 3,
            CF.get_activation("leaky_relu"),
            c,
        )
    torch.testing.assert_close(model(x, h0=h0), model.readouts[0](h), rtol=0, atol=1e-14)
    model.cerebellum_enabled = False
    plain = ElmanRNN(1, 4).double()
    plain.core.load_state_dict(core.state_dict())
    plain.readouts.load_state_dict(model.readouts.state_dict())
    logits, activity = model(x, h0=h0, return_activity=True)  # stepped; plain(...) runs fused
    torch.testing.assert_close(logits, plain(x, h0=h0), rtol=0, atol=1e-14)
    assert set(activity) == {"core"}


def test_activity_and_initial_state():
    model = CBRNN(1, 8, 32, 4, seed=0)
    logits, activity = model(np.zeros((3, 7, 1)), return_activity=True)
    assert logits.dtype == torch.float32
    assert {k: tuple(v.shape) for k, v in activity.items()} == {
        "core": (3, 7, 8),
        "granule": (3, 7, 32),
        "purkinje": (3, 7, 4),
        "nuclei": (3, 7, 8),
    }
    h0 = model.initial_state(1000, torch.Generator().manual_seed(5))
    assert h0.min() >= 0 and h0.max() <= 0.1 and abs(h0.mean().item() - 0.05) < 0.002
    assert torch.equal(h0, model.initial_state(1000, torch.Generator().manual_seed(5)))


def test_gated_cores_match_torch_cells():
    torch.manual_seed(0)
    x = torch.randn(3, 4, 2, dtype=torch.float64)
    gru = GRUModel(2, 5, seed=0).double()
    h0 = gru.initial_state(3).double()
    reference = torch.nn.GRU(2, 5, batch_first=True).double()
    reference.load_state_dict({f"{k}_l0": v for k, v in gru.core.cell.state_dict().items()})
    _, h_final = reference(x, h0[None])
    torch.testing.assert_close(gru(x, h0=h0), gru.readouts[0](h_final[0]), rtol=0, atol=1e-12)

    lstm = LSTMModel(2, 5, seed=0).double()
    state0 = lstm.initial_state(3).double()
    reference = torch.nn.LSTM(2, 5, batch_first=True).double()
    reference.load_state_dict({f"{k}_l0": v for k, v in lstm.core.cell.state_dict().items()})
    _, (h_final, _) = reference(x, (state0[None, :, :5], state0[None, :, 5:]))
    torch.testing.assert_close(lstm(x, h0=state0), lstm.readouts[0](h_final[0]), rtol=0, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    bias=st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=3),
    reference=st.lists(st.floats(-10, 10), min_size=3, max_size=3),
)
def test_clip_to_reference_norm(bias, reference):
    bias_t, reference_t = (
        torch.tensor([bias], dtype=torch.float64),
        torch.tensor([reference], dtype=torch.float64),
    )
    clipped = CF.clip_to_reference_norm(bias_t, reference_t)
    assert clipped.norm() <= max(reference_t.norm(), 0) + 1e-9
    if bias_t.norm() <= reference_t.norm():
        torch.testing.assert_close(clipped, bias_t)
    else:  # direction kept
        assert torch.dot(clipped[0], bias_t[0]) >= 0


def test_gru_cerebellar_bias_enters_candidate_clipped():
    generator = torch.Generator().manual_seed(0)
    x, h = torch.randn(3, 2, dtype=torch.float64, generator=generator), torch.rand(3, 4, dtype=torch.float64)
    w_ih, w_hh = torch.randn(12, 2, dtype=torch.float64), torch.randn(12, 4, dtype=torch.float64)
    b_ih, b_hh = torch.randn(12, dtype=torch.float64), torch.randn(12, dtype=torch.float64)
    bias = torch.randn(3, 4, dtype=torch.float64) * 1e6  # far larger than the candidate pre-activation
    r_x, z_x, n_x = (x @ w_ih.T + b_ih).chunk(3, -1)
    r_h, z_h, n_h = (h @ w_hh.T + b_hh).chunk(3, -1)
    candidate_pre = n_x + torch.sigmoid(r_x + r_h) * n_h
    clipped = bias / bias.norm(dim=-1, keepdim=True) * candidate_pre.norm(dim=-1, keepdim=True)
    update = torch.sigmoid(z_x + z_h)
    expected = (1 - update) * torch.tanh(candidate_pre + clipped) + update * h
    torch.testing.assert_close(CF.gru_step(x, h, w_ih, w_hh, b_ih, b_hh, bias), expected, rtol=0, atol=1e-12)
    model = GRUModel(1, 4, 16, 4, cerebellum=True, seed=0).double()
    with torch.no_grad():
        model.cerebellum.nuclei.bias.fill_(1e6)
    assert torch.isfinite(model(torch.randn(2, 3, 1, dtype=torch.float64))).all()


def test_auxiliary_control_is_matched_and_ablatable():
    model = RecurrentAuxRNN(1, 64, seed=0)
    assert model.config["n_aux"] == 139
    assert abs(count_parameters(model.auxiliary) - 37_504) < 100
    x = torch.randn(2, 4, 1)
    _, activity = model(x, return_activity=True)
    assert activity["auxiliary"].shape == (2, 4, 139) and activity["core"].shape == (2, 4, 64)


def test_vmap_over_stacked_parameters_matches_individual_models():
    models = [CBRNN(1, 6, 12, 4, seed=s) for s in range(3)]
    params = {
        k: torch.stack([dict(m.named_parameters())[k] for m in models])
        for k, _ in models[0].named_parameters()
    }
    x = torch.randn(5, 4, 1)
    h0 = models[0].initial_state(5, torch.Generator().manual_seed(0))

    def run(p):
        return torch.func.functional_call(models[0], p, (x,), {"h0": h0})

    batched = torch.func.vmap(run)(params)
    for i, m in enumerate(models):
        torch.testing.assert_close(batched[i], m(x, h0=h0))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: CBRNN(1)(torch.zeros(2, 3)), "shape \\(batch, time >= 1, 1\\)"),
        (lambda: CBRNN(1)(torch.zeros(2, 3, 2)), "got \\(2, 3, 2\\)"),
        (lambda: CBRNN(1)(torch.zeros(2, 3, 1), h0=torch.zeros(2, 5)), "h0 must have shape"),
        (lambda: CBRNN(1)(torch.zeros(2, 3, 1), mask=torch.ones(2, 3)), "mask must be a bool"),
        (lambda: build_model("transformer"), "kind must be one of"),
        (lambda: build_model("gru_cb", input_dim=1, cerebellum=False), "fixes \\['cerebellum'\\]"),
        (lambda: CBRNN(1, n_classes=1), "classes >= 2"),
        (lambda: CBRNN(1, units=0), "units must be a positive int"),
        (lambda: CBRNN(1, tau=0.5), "tau must be a finite number >= 1"),
        (lambda: CBRNN(1, activation="softsign"), "activation must be one of"),
    ],
)
def test_bad_arguments_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_count_parameters_rejects_non_modules():
    with pytest.raises(TypeError, match="torch.nn.Module, got list"):
        count_parameters([1, 2])


def test_gated_models_refuse_a_cerebellum_flag_that_is_not_a_bool():
    with pytest.raises(TypeError, match="cerebellum must be True or False; got 1"):
        GRUModel(1, 4, cerebellum=1)

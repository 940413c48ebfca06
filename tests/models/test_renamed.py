"""The one vocabulary in the models (issue 25): ``input_dim``, ``units``, ``lr``/``tau``, ``match_units``,
RecurrentAuxRNN's ``.auxiliary``; each deprecated alias warns and behaves as the new name."""

import pytest
import torch

from cbreservoir.models import (
    CBRNN,
    ElmanRNN,
    GRUModel,
    RecurrentAuxRNN,
    auxiliary_size_matching_cerebellum,
    build_model,
    match_hidden_size,
    match_units,
)

X = torch.randn(3, 5, 2, generator=torch.Generator().manual_seed(0))


def _same_outputs(a: torch.nn.Module, b: torch.nn.Module) -> None:
    h0 = a.initial_state(3, torch.Generator().manual_seed(1))
    torch.testing.assert_close(a(X, h0=h0), b(X, h0=h0), rtol=0, atol=0)


@pytest.mark.parametrize("model_class", [CBRNN, ElmanRNN, GRUModel, RecurrentAuxRNN])
def test_old_size_keywords_warn_and_build_the_same_model(model_class):
    new = model_class(input_dim=2, units=6, seed=0)
    with (
        pytest.warns(FutureWarning, match="input_size is deprecated; use input_dim"),
        pytest.warns(FutureWarning, match="hidden_size is deprecated; use units"),
    ):
        old = model_class(input_size=2, hidden_size=6, seed=0)
    assert (old.input_dim, old.units) == (new.input_dim, new.units) == (2, 6)
    assert old.config == new.config
    _same_outputs(old, new)


def test_size_under_both_names_is_a_type_error():
    with pytest.raises(TypeError, match="both 'hidden_size'.*'units'"):
        CBRNN(1, units=4, hidden_size=4)
    with pytest.raises(TypeError, match="unexpected keyword arguments \\['n_units'\\]"):
        CBRNN(1, n_units=4)
    with pytest.raises(TypeError, match="input_dim must be a positive int; got None"):
        CBRNN()


def test_hidden_size_and_input_size_attributes_are_deprecated_aliases():
    model = CBRNN(3, 8, seed=0)
    with pytest.warns(FutureWarning, match="CBRNN.hidden_size is deprecated; use CBRNN.units"):
        assert model.hidden_size == model.units == 8
    with pytest.warns(FutureWarning, match="CBRNN.input_size is deprecated; use CBRNN.input_dim"):
        assert model.input_size == model.input_dim == 3


def test_config_uses_the_new_names_and_rebuilds_the_model():
    model = CBRNN(2, 6, seed=0)
    assert {"input_dim", "units", "lr"} <= set(model.config)
    assert not {"input_size", "hidden_size", "tau"} & set(model.config)
    _same_outputs(build_model(**model.config), model)


def test_default_leak_is_bitwise_the_studys():
    assert CBRNN(1).core.leak == 1 / 1.5 == CBRNN(1, lr=1 / 1.5).core.leak == CBRNN(1, tau=1.5).core.leak
    assert CBRNN(1).config["lr"] == 1 / 1.5


def test_tau_is_accepted_without_warning_and_kept_in_the_config(recwarn):
    by_tau, by_lr = ElmanRNN(2, 6, tau=2.0, seed=0), ElmanRNN(2, 6, lr=0.5, seed=0)
    assert by_tau.core.leak == by_lr.core.leak == 0.5
    assert by_tau.config["tau"] == 2.0 and "lr" not in by_tau.config
    assert not [w for w in recwarn.list if issubclass(w.category, FutureWarning)]
    _same_outputs(by_tau, by_lr)
    assert build_model(**by_tau.config).core.leak == 0.5


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"lr": 0.5, "tau": 2.0}, ValueError, "not both"),
        ({"lr": 0.0}, ValueError, "lr \\(leak rate\\) must be a finite number in \\(0, 1\\]"),
        ({"lr": 1.5}, ValueError, "got 1.5"),
        ({"lr": "fast"}, TypeError, "lr \\(leak rate\\) must be a real number"),
    ],
)
def test_bad_leak_is_rejected(kwargs, error, message):
    with pytest.raises(error, match=message):
        CBRNN(1, **kwargs)


def test_match_hidden_size_is_a_deprecated_alias_of_match_units():
    with pytest.warns(FutureWarning, match="match_hidden_size is deprecated; use match_units"):
        old = match_hidden_size(41_922, 1, n_classes=2)
    assert old == match_units(41_922, input_dim=1, n_classes=2) == 202


def test_auxiliary_size_accepts_the_old_size_names():
    with pytest.warns(FutureWarning, match="hidden_size is deprecated"):
        old = auxiliary_size_matching_cerebellum(1, hidden_size=64)
    assert old == auxiliary_size_matching_cerebellum(1, 64) == 139


def test_recurrent_aux_module_is_auxiliary_with_a_deprecated_cerebellum_alias():
    model = RecurrentAuxRNN(1, 8, seed=0)
    assert model.bias_module is model.auxiliary
    assert "auxiliary.recurrent.input_layer.weight" in model.state_dict()
    assert not any(key.startswith("cerebellum.") for key in model.state_dict())
    assert model.module_groups()["cerebellum"] == list(model.auxiliary.parameters())
    with pytest.warns(
        FutureWarning, match="RecurrentAuxRNN.cerebellum is deprecated; use RecurrentAuxRNN.auxiliary"
    ):
        assert model.cerebellum is model.auxiliary


def test_recurrent_aux_loads_state_dicts_with_the_old_cerebellum_prefix():
    source, target = RecurrentAuxRNN(1, 8, seed=0), RecurrentAuxRNN(1, 8, seed=1)
    old_keys = {
        key.replace("auxiliary.", "cerebellum.", 1): value for key, value in source.state_dict().items()
    }
    weight = old_keys["cerebellum.recurrent.input_layer.weight"]  # old state dicts read [h ; x]
    old_keys["cerebellum.recurrent.input_layer.weight"] = torch.cat([weight[:, 1:], weight[:, :1]], 1)
    target.load_state_dict(old_keys)
    x = torch.randn(2, 4, 1)
    h0 = source.initial_state(2, torch.Generator().manual_seed(0))
    torch.testing.assert_close(target(x, h0=h0), source(x, h0=h0), rtol=0, atol=0)


@pytest.mark.parametrize("kind", ["cbrnn", "rnn", "gru", "lstm"])
def test_every_model_is_a_recurrent_network_and_the_classifier_name_is_gone(kind):
    import cbreservoir.models
    from cbreservoir.models import RecurrentNetwork

    assert isinstance(build_model(kind, input_dim=2, units=6, seed=0), RecurrentNetwork)
    assert not hasattr(cbreservoir.models, "RecurrentClassifier")

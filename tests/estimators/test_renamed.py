"""CBRNN estimators' renamed parameters (issue 25): ``units`` and ``lr``; ``hidden_size`` and ``tau`` are
deprecated the scikit-learn way (default ``"deprecated"``, stored as given, ``FutureWarning`` in fit)."""

import numpy as np
import pytest
from sklearn.base import clone

from cbreservoir.estimators import CBRNNClassifier, CBRNNRegressor
from cbreservoir.tasks import make_batch

TINY = dict(n_granule=8, n_purkinje=4, epochs=2, batch_size=16, random_state=0)


@pytest.fixture(scope="module")
def data():
    return make_batch("parity", 2, batch_size=32, seed=0)


def test_defaults_are_the_study_leak_and_core_size(data):
    model = CBRNNClassifier(**TINY).fit(*data)
    assert model.units == 64 and model.lr == 1 / 1.5
    assert model.model_.units == 64 and model.model_.core.leak == 1 / 1.5
    params = model.get_params()
    assert params["hidden_size"] == params["tau"] == "deprecated"


def test_hidden_size_warns_in_fit_and_fits_the_same_model(data):
    new = CBRNNClassifier(units=6, **TINY).fit(*data)
    old = CBRNNClassifier(hidden_size=6, **TINY)
    assert old.get_params()["hidden_size"] == 6 and clone(old).get_params() == old.get_params()
    with pytest.warns(FutureWarning, match=r"CBRNNClassifier\(hidden_size=...\) is deprecated; use .*units"):
        old.fit(*data)
    assert old.model_.units == 6
    np.testing.assert_array_equal(old.predict_proba(data[0]), new.predict_proba(data[0]))


def test_tau_warns_in_fit_and_fits_the_same_model_as_lr(data):
    x, y = data
    targets = y.astype(float)
    new = CBRNNRegressor(units=4, lr=0.5, **TINY).fit(x, targets)
    old = CBRNNRegressor(units=4, tau=2.0, **TINY)
    with pytest.warns(FutureWarning, match=r"CBRNNRegressor\(tau=...\) is deprecated; use .*lr"):
        old.fit(x, targets)
    assert old.model_.core.leak == new.model_.core.leak == 0.5
    np.testing.assert_array_equal(old.predict(x), new.predict(x))


@pytest.mark.parametrize(("old", "new"), [({"hidden_size": 8}, {"units": 6}), ({"tau": 2.0}, {"lr": 0.5})])
def test_deprecated_and_new_parameter_together_are_refused_before_training(data, old, new):
    model = CBRNNClassifier(**old, **new, **TINY)
    with pytest.raises(ValueError, match=f"both {next(iter(old))}=.*set only {next(iter(new))}"):
        model.fit(*data)
    assert not hasattr(model, "model_")

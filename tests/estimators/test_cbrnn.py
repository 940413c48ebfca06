"""CBRNNClassifier / CBRNNRegressor: learning, the frozen-core schedule, layouts, determinism, errors."""

import pickle

import numpy as np
import pytest
import torch

from cbreservoir.estimators import CBRNNClassifier, CBRNNRegressor
from cbreservoir.tasks import make_batch
from cbreservoir.tasks.nonlinear_memory import nonlinear_memory_task

TINY = dict(units=8, n_granule=16, n_purkinje=8, random_state=0)


@pytest.fixture(scope="module")
def parity():
    """2-parity of the last two bits, one label per series (training and test lengths differ)."""
    x, y = make_batch("parity", 2, batch_size=128, seed=0)
    x_test, y_test = make_batch("parity", 2, batch_size=64, seed=1)
    return x, y, x_test, y_test


def _weights(model: torch.nn.Module, group: str) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.module_groups()[group]]


def _same(first: list[torch.Tensor], second: list[torch.Tensor]) -> bool:
    return all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


def test_classifier_learns_parity_from_the_final_state(parity):
    x, y, x_test, y_test = parity
    model = CBRNNClassifier(epochs=20, **{**TINY, "units": 16}).fit(x, y)
    assert model.n_iter_ == 20 and len(model.loss_curve_) == 20
    assert model.loss_curve_[-1] < 0.5 * model.loss_curve_[0]
    assert model.score(x_test, y_test) > 0.95
    assert model.predict_proba(x_test).shape == (64, 2)
    assert type(model.model_).__name__ == "CBRNN"


def test_frozen_core_schedule_trains_core_then_cerebellum(parity):
    x, y, _, _ = parity

    def fitted(epochs: int, core_epochs: int) -> torch.nn.Module:
        return CBRNNClassifier(epochs=epochs, core_epochs=core_epochs, **TINY).fit(x, y).model_

    core_phase_short, core_phase_long = fitted(1, 3), fitted(3, 3)
    assert _same(_weights(core_phase_short, "cerebellum"), _weights(core_phase_long, "cerebellum"))
    assert not _same(_weights(core_phase_short, "core"), _weights(core_phase_long, "core"))

    frozen_short, frozen_long = fitted(1, 0), fitted(3, 0)
    assert _same(_weights(frozen_short, "core"), _weights(frozen_long, "core"))
    assert not _same(_weights(frozen_short, "cerebellum"), _weights(frozen_long, "cerebellum"))


def test_frozen_core_after_is_a_deprecated_alias_of_core_epochs(parity):
    x, y, _, _ = parity
    with pytest.warns(FutureWarning, match=r"frozen_core_after=...\) is deprecated; use .*core_epochs"):
        old = CBRNNClassifier(epochs=2, frozen_core_after=1, **TINY).fit(x, y).model_
    new = CBRNNClassifier(epochs=2, core_epochs=1, **TINY).fit(x, y).model_
    assert _same(_weights(old, "core"), _weights(new, "core"))
    assert _same(_weights(old, "cerebellum"), _weights(new, "cerebellum"))
    with pytest.raises(ValueError, match="got both frozen_core_after"):
        CBRNNClassifier(epochs=2, frozen_core_after=1, core_epochs=1, **TINY).fit(x, y)


def test_without_cerebellum_the_baseline_rnn_is_trained(parity):
    x, y, _, _ = parity
    model = CBRNNClassifier(epochs=2, cerebellum=False, **TINY).fit(x, y)
    assert model.model_.cerebellum is None and model.model_.config["kind"] == "rnn"


def test_regressor_per_step_on_ragged_series():
    u, y = nonlinear_memory_task(32, 12, delays=(0, 1), seed=0)
    lengths = [12 if i % 2 else 9 for i in range(32)]
    series = [u[i, :n] for i, n in enumerate(lengths)]
    targets = [y[i, :n] for i, n in enumerate(lengths)]
    model = CBRNNRegressor(epochs=40, learning_rate=0.03, **{**TINY, "units": 16}).fit(series, targets)
    predicted = model.predict(series[:3])
    assert [p.shape for p in predicted] == [(9, 1), (12, 1), (9, 1)]
    assert model.loss_curve_[-1] < 0.5 * model.loss_curve_[0]
    assert model.score(series, targets) > 0.5


def test_regressor_multi_output_per_series():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5, 2))
    y = np.stack([x[:, -1, 0], x[:, -1, 0] - x[:, -1, 1]], axis=1)
    model = CBRNNRegressor(epochs=30, learning_rate=0.03, **TINY).fit(x, y)
    assert model.n_outputs_ == 2 and model.predict(x).shape == (64, 2)
    assert model.score(x, y) > 0.8


def test_predictions_are_deterministic_and_series_independent(parity):
    x, y, x_test, _ = parity
    first, again = (CBRNNClassifier(epochs=3, **TINY).fit(x, y) for _ in range(2))
    assert first.loss_curve_ == again.loss_curve_
    scores = first.decision_function(x_test)
    np.testing.assert_array_equal(scores, again.decision_function(x_test))
    alone = np.array([first.decision_function(x_test[i : i + 1])[0] for i in range(4)])
    np.testing.assert_allclose(scores[:4], alone, atol=1e-5)


def test_pickle_round_trip(parity):
    x, y, x_test, _ = parity
    model = CBRNNClassifier(epochs=2, **TINY).fit(x, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(x_test), model.predict_proba(x_test))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (dict(epochs=0), "epochs must be a positive int"),
        (dict(batch_size=2.5), "batch_size must be a positive int"),
        (dict(core_epochs=-1), "core_epochs must be None or an int >= 0"),
        (dict(optimizer="lbfgs"), "optimizer must be one of"),
        (dict(n_jobs=-2), r"n_jobs must be None, -1 or an int in \[1, "),
    ],
)
def test_bad_parameters_raise_at_fit(parity, params, message):
    x, y, _, _ = parity
    with pytest.raises(ValueError, match=message):
        CBRNNClassifier(**{**TINY, **params}).fit(x[:8], y[:8])

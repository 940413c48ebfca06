"""The reading chosen inside fit (auto=True): candidates, column blocks, exact leave-one-out (issue 35)."""

import numpy as np
import pytest

from cbreservoir.estimators import CerebellarReservoirClassifier
from cbreservoir.estimators._choice import Reading, choose_reading, reading_candidates, reading_columns
from cbreservoir.estimators._pooling import POOLINGS, pool_codes
from cbreservoir.numerics.ridge_loo import gram_loo_errors, loo_errors

SMALL = dict(units=20, n_granule=30, random_state=0, n_jobs=1)


def test_candidates_add_every_step_only_for_longer_series():
    short = reading_candidates(200, 4, ("mean", "active"), longest=150)
    long = reading_candidates(200, 4, ("mean", "active"), longest=900)
    assert {r.max_steps for r in short} == {200} and {r.max_steps for r in long} == {200, None}
    assert len(short) == 4 and len(long) == 8
    assert Reading(200, 1, ("last", "mean", "active")) in short  # "last" added in POOLINGS order
    assert reading_candidates(None, 1, ("last",), longest=50) == [Reading(None, 1, ("last",))]


@pytest.mark.parametrize("windows", [1, 3])
def test_reading_columns_cut_the_largest_features_into_each_readings_own(windows):
    rng = np.random.default_rng(0)
    lengths = (7, 12, 5)
    blocks = [[rng.normal(size=(n, width)) for n in lengths] for width in (4, 6)]
    largest = np.hstack([pool_codes(block, POOLINGS, windows) for block in blocks])
    for reading in reading_candidates(None, windows, ("mean",), longest=12):
        own = np.hstack([pool_codes(block, reading.pooling, reading.windows) for block in blocks])
        np.testing.assert_array_equal(largest[:, reading_columns([4, 6], windows, reading)], own)


def test_leave_one_out_from_the_gram_matrix_equals_it_from_the_rows():
    rng = np.random.default_rng(1)
    rows, targets = rng.normal(size=(15, 40)), rng.normal(size=(15, 2))
    centred = rows - rows.mean(axis=0)
    alphas = (0.1, 1.0, 10.0)
    from_gram = gram_loo_errors(centred @ centred.T, targets, alphas)
    np.testing.assert_allclose(from_gram, loo_errors(rows, targets, alphas))


def test_the_choice_is_the_candidate_with_the_smallest_leave_one_out_error():
    rng = np.random.default_rng(2)
    codes = {m: [np.abs(rng.normal(size=(n, 5))) for _ in range(12)] for m, n in ((10, 10), (None, 30))}
    features = {m: pool_codes(c, POOLINGS, 2) for m, c in codes.items()}
    targets = np.eye(2)[rng.integers(0, 2, 12)]
    candidates = reading_candidates(10, 2, ("mean",), longest=30)
    alphas = (0.1, 10.0)
    choice = choose_reading(features, [5], 2, candidates, targets, alphas)
    for reading in candidates:
        rows = features[reading.max_steps][:, reading_columns([5], 2, reading)]
        scale = rows.std(axis=0)
        scale[scale == 0] = 1.0
        best = loo_errors(rows / scale, targets, alphas).min()
        assert choice.errors[str(reading)] == pytest.approx(best, rel=1e-8)
    assert choice.errors[str(choice.reading)] == min(choice.errors.values())


def test_the_auto_classifier_predicts_as_the_classifier_set_to_its_choice():
    rng = np.random.default_rng(3)
    lengths = range(20, 60, 2)
    X = [rng.normal(size=(n, 2)) + (i % 2) * np.sin(np.arange(n))[:, None] for i, n in enumerate(lengths)]
    y = np.arange(len(X)) % 2
    auto = CerebellarReservoirClassifier(max_steps=25, **SMALL).fit(X, y)
    assert len(auto.reading_errors_) == 8  # series of up to 58 steps > 25: every step is a candidate too
    chosen = dict(max_steps=auto.max_steps_, windows=auto.windows_, pooling=auto.pooling_, alpha=auto.alpha_)
    fixed = CerebellarReservoirClassifier(auto=False, **chosen, **SMALL).fit(X, y)
    np.testing.assert_allclose(auto.decision_function(X), fixed.decision_function(X), atol=1e-8)
    assert fixed.reading_errors_ is None


def test_auto_needs_a_bool():
    with pytest.raises(TypeError, match="auto must be True or False"):
        CerebellarReservoirClassifier(auto="yes", **SMALL).fit(np.zeros((4, 5)), [0, 1, 0, 1])


def test_pooling_a_few_series_at_a_time_gives_the_same_features(monkeypatch):
    from cbreservoir.estimators import reservoir

    rng = np.random.default_rng(4)
    X = [rng.normal(size=(n, 1)) for n in (9, 30, 14, 22)]
    model = CerebellarReservoirClassifier(state_features=True, **SMALL).fit(X, [0, 1, 0, 1])
    whole = model._readout_inputs(model._validated_input(X), training=True)
    monkeypatch.setattr(reservoir, "_CODE_BUDGET", 30 * 12)  # at most 12 steps of 30 granule cells at a time
    chunked = model._readout_inputs(model._validated_input(X), training=True)
    np.testing.assert_allclose(chunked, whole, atol=1e-12)

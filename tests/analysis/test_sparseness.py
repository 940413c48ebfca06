"""Sparseness measures: the study's normalised Treves–Rolls S, the activity ratio a, the coding level."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cbreservoir.analysis import activity_ratio, coding_level, treves_rolls_sparseness
from cbreservoir.experiments.analysis_report import granule_sparseness


@pytest.mark.parametrize("kind", ["population", "lifetime"])
def test_one_hot_code_is_maximally_sparse_and_uniform_code_not_at_all(kind):
    units = 8
    one_hot = np.eye(units) * 3.0
    np.testing.assert_allclose(treves_rolls_sparseness(one_hot, kind=kind), np.ones(units))
    np.testing.assert_allclose(activity_ratio(one_hot, kind=kind), np.full(units, 1 / units))
    uniform = np.full((5, units), 0.7)
    n = {"population": 5, "lifetime": units}[kind]
    np.testing.assert_allclose(treves_rolls_sparseness(uniform, kind=kind), np.zeros(n), atol=1e-15)
    np.testing.assert_allclose(activity_ratio(uniform, kind=kind), np.ones(n))


def test_analytic_codes():
    # r = [1, 1, 0, 0]: a = (1/2)² / (1/2) = 1/2, S = (1 - 1/2) / (1 - 1/4) = 2/3
    np.testing.assert_allclose(activity_ratio([[1.0, 1.0, 0.0, 0.0]]), [0.5])
    np.testing.assert_allclose(treves_rolls_sparseness([[1.0, 1.0, 0.0, 0.0]]), [2 / 3])
    # r = [2, 1, 0]: a = 1 / (5/3) = 3/5, S = (2/5) / (2/3) = 3/5; k-hot of 10: a = k/10
    np.testing.assert_allclose(treves_rolls_sparseness([[2.0, 1.0, 0.0]]), [0.6])
    code = np.zeros((2, 10))
    code[0, :3], code[1, :5] = 2.0, 1.0
    np.testing.assert_allclose(activity_ratio(code), [0.3, 0.5])
    np.testing.assert_allclose(treves_rolls_sparseness(code), [0.7 / 0.9, 0.5 / 0.9])
    # lifetime: unit 0 fires in 1 of 4 samples, unit 1 in all of them
    code = np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(treves_rolls_sparseness(code, kind="lifetime"), [1.0, 0.0], atol=1e-15)


def test_silent_rows_give_nan_and_the_rest_is_unaffected():
    code = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(np.isnan(treves_rolls_sparseness(code)), [True, False])
    np.testing.assert_array_equal(np.isnan(activity_ratio(code)), [True, False])
    np.testing.assert_allclose(treves_rolls_sparseness(code)[1], 1.0)
    lifetime = treves_rolls_sparseness(code, kind="lifetime")
    np.testing.assert_array_equal(np.isnan(lifetime), [False, True, True])


def test_one_entry_has_no_normalised_sparseness():
    with pytest.raises(ValueError, match="at least 2 units"):
        treves_rolls_sparseness(np.ones((3, 1)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        treves_rolls_sparseness(np.ones((1, 3)), kind="lifetime")
    np.testing.assert_allclose(activity_ratio(np.ones((3, 1))), np.ones(3))


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(2, 9)), elements=st.floats(0, 100)))
def test_sparseness_is_the_rescaled_activity_ratio_in_the_unit_interval(code):
    sparseness, ratio = treves_rolls_sparseness(code), activity_ratio(code)
    n = code.shape[1]
    np.testing.assert_array_equal(np.isnan(sparseness), ~code.any(axis=1))
    finite = np.isfinite(sparseness)
    assert np.all((sparseness[finite] >= -1e-12) & (sparseness[finite] <= 1 + 1e-12))
    np.testing.assert_allclose(sparseness[finite], (1 - ratio[finite]) / (1 - 1 / n), atol=1e-12)
    np.testing.assert_allclose(treves_rolls_sparseness(code * 7.5)[finite], sparseness[finite], atol=1e-12)


def test_report_gives_S_and_keeps_a_under_its_own_name():
    granule = np.zeros((2, 3, 4))
    granule[..., 0] = 1.0  # every sample one-hot on unit 0; units 1-3 silent
    summary = granule_sparseness(granule)
    assert summary["population_sparseness_mean"] == pytest.approx(1.0)
    assert summary["population_activity_ratio_mean"] == pytest.approx(0.25)
    assert summary["lifetime_sparseness_mean"] == pytest.approx(0.0, abs=1e-12)  # unit 0 fires always
    assert summary["lifetime_activity_ratio_mean"] == pytest.approx(1.0)
    assert summary["silent_unit_fraction"] == pytest.approx(0.75)
    assert summary["population_histogram"]["counts"][-1] == 6  # all S = 1 in the last bin


def test_coding_level_counts_active_entries():
    code = np.array([[0.0, 1.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.5]])
    assert coding_level(code) == pytest.approx(3 / 8)
    assert coding_level(code, threshold=0.75) == pytest.approx(2 / 8)


@pytest.mark.parametrize("measure", [treves_rolls_sparseness, activity_ratio])
def test_measures_reject_negative_rates_and_unknown_kind(measure):
    with pytest.raises(ValueError, match="non-negative"):
        measure(-np.eye(3))
    with pytest.raises(ValueError, match="kind must be one of"):
        measure(np.eye(3), kind="temporal")
    with pytest.raises(ValueError, match="non-negative"):
        coding_level(-np.eye(3))

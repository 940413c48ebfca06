"""Learning-efficiency metrics on hand-made curves with known answers."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cbreservoir.analysis.metrics import (
    active_auc,
    active_mean_level,
    auc,
    epochs_to_half_max,
    epochs_to_level,
    global_max_level,
    max_level,
    mean_level,
    summarize,
)

STAIRS = [2, 2, 3, 3, 3, 4, 5, 5]


class _History:
    levels = STAIRS


def test_max_and_global_max():
    assert max_level(STAIRS) == 5
    assert global_max_level([STAIRS, [2, 3, 9, 9], [2]]) == 9
    assert max_level(_History()) == 5


def test_epochs_to_level_is_one_based_first_epoch_at_or_above():
    assert epochs_to_level(STAIRS, 2) == 1
    assert epochs_to_level(STAIRS, 3) == 3
    assert epochs_to_level(STAIRS, 4.5) == 7
    assert epochs_to_level(STAIRS, 6) is None
    assert epochs_to_level(STAIRS, 6, censor=len(STAIRS)) == 8


def test_epochs_to_half_max():
    # global max 9 -> threshold 4.5 -> first epoch at N = 5 is the 7th
    assert epochs_to_half_max(STAIRS, 9) == 7
    assert epochs_to_half_max(STAIRS, 8) == 6
    assert epochs_to_half_max(STAIRS, 12) is None


def test_auc_is_the_unit_spaced_trapezoid():
    # sum 27, minus (2 + 5) / 2
    assert auc(STAIRS) == pytest.approx(27 - 3.5)
    assert auc([7]) == 0.0
    assert auc([2, 4]) == 3.0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(2, 40), min_size=2, max_size=60))
def test_auc_equals_the_integral_of_the_piecewise_linear_curve(levels):
    fine = np.interp(np.linspace(0, len(levels) - 1, 20 * (len(levels) - 1) + 1), range(len(levels)), levels)
    assert auc(levels) == pytest.approx(np.trapezoid(fine, dx=1 / 20))
    assert min(levels) <= mean_level(levels) <= max_level(levels)


def test_mean_level():
    assert mean_level(STAIRS) == pytest.approx(27 / 8)


def test_summarize_mean_sd_sem_and_missing_values():
    stats = summarize([2.0, 4.0, 6.0, None])
    assert stats == {"mean": 4.0, "sd": 2.0, "sem": pytest.approx(2 / math.sqrt(3)), "n": 3, "n_missing": 1}
    single = summarize([5])
    assert single["mean"] == 5.0 and math.isnan(single["sd"]) and math.isnan(single["sem"])


def test_switching_metrics_use_the_first_epochs():
    active = [2, 3, 4, 5, 5, 6, 7, 8]
    assert active_mean_level(active, n_epochs=4) == pytest.approx(3.5)
    assert active_auc(active, n_epochs=4) == pytest.approx(14 - 3.5)
    assert active_mean_level(active) == mean_level(active)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: max_level([]), "non-empty 1-D sequence"),
        (lambda: auc([[2, 3]]), r"got shape \(1, 2\)"),
        (lambda: mean_level([2, float("nan")]), "NaN or inf"),
        (lambda: global_max_level([]), "at least one run"),
        (lambda: summarize([None]), "at least one non-None value"),
        (lambda: active_auc([2, 3], n_epochs=3), r"n_epochs must be in \[1, 2\]"),
    ],
)
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_compare_groups_ratio_interval_and_tests():
    from cbreservoir.analysis.metrics import compare_groups

    result = compare_groups([100, 110, 120, 130], [200, 220, 240, 260], seed=3)
    assert result["ratio"] == pytest.approx(0.5)
    assert result["ci_low"] < 0.5 < result["ci_high"]
    # every resample of 4 values lies between the groups' extremes: 100/260 <= ratio <= 130/200
    assert result["ci_low"] >= 100 / 260 and result["ci_high"] <= 130 / 200
    assert result["permutation_p"] == pytest.approx(2 / 70)  # exact: the most extreme 2 of C(8, 4) splits
    assert result["welch_p"] < 0.01
    assert compare_groups([100, 110, 120, 130], [200, 220, 240, 260], seed=3) == result  # seeded


def test_compare_groups_constant_groups_and_errors():
    from cbreservoir.analysis.metrics import compare_groups

    same = compare_groups([3, 3, 3], [3, 3, 3])
    assert (same["ratio"], same["ci_low"], same["ci_high"], same["permutation_p"]) == (1.0, 1.0, 1.0, 1.0)
    assert same["welch_p"] != same["welch_p"]  # NaN: no variance on either side
    with pytest.raises(ValueError, match="at least 2 finite numbers"):
        compare_groups([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="at least 2 finite numbers"):
        compare_groups([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(ValueError, match="mean is 0"):
        compare_groups([1.0, 2.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="confidence_level"):
        compare_groups([1.0, 2.0], [1.0, 2.0], confidence_level=1.5)

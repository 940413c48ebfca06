"""scikit-learn's estimator checks on the four estimators (small sizes so the suite stays fast)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from cbreservoir.estimators import (
    CBRNNClassifier,
    CBRNNRegressor,
    CerebellarReservoirClassifier,
    CerebellarReservoirRegressor,
)

#: In a 2-D X the rows are the time steps of ONE series, so a recurrent model's output at a row
#: depends on the rows before it. Checks that shuffle or split the rows test row independence.
_ROWS_ARE_TIME_STEPS = {
    "check_methods_sample_order_invariance": (
        "rows of a 2-D X are time steps: shuffling them changes the series"
    ),
    "check_methods_subset_invariance": (
        "rows of a 2-D X are time steps: a later chunk run alone starts from a fresh state instead of "
        "the state the earlier rows left"
    ),
}


def expected_failed_checks(estimator) -> dict[str, str]:
    return dict(_ROWS_ARE_TIME_STEPS)


ESTIMATORS = [
    CerebellarReservoirClassifier(units=20, n_granule=40),
    CerebellarReservoirRegressor(units=20, n_granule=40),
    # a high learning rate so that 5 epochs reach the checks' score thresholds
    CBRNNClassifier(units=8, n_granule=16, n_purkinje=8, epochs=5, learning_rate=0.1),
    CBRNNRegressor(units=16, n_granule=16, n_purkinje=8, epochs=5, learning_rate=0.1),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks, xfail_strict=True)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)

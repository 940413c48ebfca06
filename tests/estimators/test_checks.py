"""scikit-learn's estimator checks on the four estimators (small sizes so the suite stays fast)."""

from sklearn.base import is_classifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from cbreservoir.estimators import (
    CBRNNClassifier,
    CBRNNRegressor,
    CerebellarReservoirClassifier,
    CerebellarReservoirRegressor,
)

#: A 2-D X is a univariate collection (series, time): its columns are time steps, and n_features_in_ counts
#: the features of one step (1), so a 2-D X with fewer columns holds shorter series, which are valid.
_SHORTER_SERIES = "columns of a 2-D X are time steps of univariate series: fewer columns are shorter series"
_COLUMNS_ARE_TIME_STEPS = {
    "check_n_features_in": "n_features_in_ is 1 for a 2-D X: the features of one time step",
    "check_n_features_in_after_fitting": _SHORTER_SERIES,
}
#: check_classifiers_train also requires an error for fewer columns; its accuracy part is
#: tests/estimators/test_layouts.py::test_a_2d_x_of_tabular_blobs_is_classified_as_univariate_series.
_CLASSIFIERS_TRAIN = {
    f"check_classifiers_train{variant}": _SHORTER_SERIES
    for variant in ("", "(readonly_memmap=True)", "(readonly_memmap=True,X_dtype=float32)")
}


#: The gradient-trained regressor, on the check's 10 tabular features read as a 10-step univariate series.
_CBRNN_REGRESSOR = {
    **{
        f"check_regressors_train{variant}": (
            "10 tabular features read as a 10-step univariate series: the CB-RNN does not reach R2 0.5 "
            "within the few epochs that keep the suite fast"
        )
        for variant in ("", "(readonly_memmap=True)", "(readonly_memmap=True,X_dtype=float32)")
    },
}


def expected_failed_checks(estimator) -> dict[str, str]:
    if is_classifier(estimator):
        return {**_COLUMNS_ARE_TIME_STEPS, **_CLASSIFIERS_TRAIN}
    if isinstance(estimator, CBRNNRegressor):
        return {**_COLUMNS_ARE_TIME_STEPS, **_CBRNN_REGRESSOR}
    return dict(_COLUMNS_ARE_TIME_STEPS)


ESTIMATORS = [
    CerebellarReservoirClassifier(units=20, n_granule=40),
    CerebellarReservoirRegressor(units=20, n_granule=40),
    # a high learning rate so that 5 epochs reach the checks' score thresholds
    CBRNNClassifier(units=8, n_granule=16, n_purkinje=8, epochs=5, learning_rate=0.1),
    CBRNNRegressor(units=16, n_granule=16, n_purkinje=8, epochs=5, learning_rate=0.1, n_jobs=1),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks, xfail_strict=True)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)

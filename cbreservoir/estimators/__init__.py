"""scikit-learn estimators for cortico-cerebellar sequence models.

* :class:`CerebellarReservoirClassifier`, :class:`CerebellarReservoirRegressor` — a random
  reservoir, a cerebellar granule expansion and a ridge readout fitted in closed form;
* :class:`CBRNNClassifier`, :class:`CBRNNRegressor` — the gradient-trained CB-RNN (core +
  cerebellum in a loop), optionally with the paper's frozen-core schedule.

Inputs are 3-D arrays ``(series, time, features)``, lists of 2-D series, or one 2-D series whose
rows are time steps; targets are per series or per step. Example::

    from sklearn.model_selection import GridSearchCV
    from cbreservoir.estimators import CerebellarReservoirClassifier

    search = GridSearchCV(CerebellarReservoirClassifier(random_state=0), {"alpha": [1e-6, 1e-2]})
    search.fit(X, y)          # X (S, T, d), y (S,)
    search.predict(X_test)    # (S_test,)
"""

from cbreservoir._lazy import lazy_exports

_EXPORTS = {
    "CerebellarReservoirClassifier": ".reservoir",
    "CerebellarReservoirRegressor": ".reservoir",
    "CBRNNClassifier": ".cbrnn",
    "CBRNNRegressor": ".cbrnn",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

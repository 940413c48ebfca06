"""scikit-learn estimators for cortico-cerebellar sequence models.

* :class:`CerebellarReservoirClassifier`, :class:`CerebellarReservoirRegressor` — a random
  reservoir, a cerebellar granule expansion and a ridge readout fitted in closed form;
* :class:`CBRNNClassifier`, :class:`CBRNNRegressor` — the gradient-trained CB-RNN (core +
  cerebellum in a loop), optionally with the paper's frozen-core schedule.

Inputs are 3-D arrays ``(series, time, features)`` (or aeon's ``(series, channels, time)``, see
``layout``), lists of 2-D series, or 2-D arrays ``(series, time)`` of univariate series; targets are per
series or per step (docs/estimators.md).

Examples
--------
>>> from sklearn.model_selection import GridSearchCV
>>> from cbreservoir.estimators import CBRNNClassifier, CerebellarReservoirClassifier
>>> from cbreservoir.tasks import make_batch
>>> x, y = make_batch("dms", n=3, batch_size=64, seed=0)        # x (64, T, 1), one label per series
>>> search = GridSearchCV(CerebellarReservoirClassifier(random_state=0), {"alpha": [1e-6, 1.0]}, cv=2)
>>> search.fit(x, y).predict(x[:4]).shape
(4,)
>>> cbrnn = CBRNNClassifier(units=16, epochs=5, core_epochs=2, random_state=0).fit(x, y)
>>> cbrnn.predict_proba(x[:4]).shape
(4, 2)
"""

from typing import TYPE_CHECKING

from cbreservoir.utils.lazy import lazy_exports

if TYPE_CHECKING:
    from cbreservoir.estimators.cbrnn import CBRNNClassifier as CBRNNClassifier
    from cbreservoir.estimators.cbrnn import CBRNNRegressor as CBRNNRegressor
    from cbreservoir.estimators.reservoir import (
        CerebellarReservoirClassifier as CerebellarReservoirClassifier,
    )
    from cbreservoir.estimators.reservoir import CerebellarReservoirRegressor as CerebellarReservoirRegressor

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)

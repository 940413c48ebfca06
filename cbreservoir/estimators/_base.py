"""The scikit-learn plumbing shared by the four estimators.

A subclass supplies two hooks, both on validated input (:mod:`._data`):

* ``_fit_rows(batch, targets)`` — train on a :class:`Series` and a float target matrix
  ``(n_rows, k)`` (one-hot class indicators for classifiers), one row per series or per step as
  ``self.per_series_`` says;
* ``_output_rows(batch)`` — the model's raw outputs ``(n_rows, k)`` in the same row order
  (readout scores or logits for classifiers, predicted values for regressors).

The mixins below turn these into ``fit`` / ``predict`` / ``predict_proba`` /
``decision_function`` / ``score`` with scikit-learn's conventions.
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils.validation import check_is_fitted

from cbreservoir.estimators._data import TargetBatch, format_output, validate_series, validate_xy
from cbreservoir.utils.checks import Series
from cbreservoir.utils.deprecation import warn_renamed


class _SequenceEstimator(BaseEstimator):
    """Input validation and output shaping common to classifiers and regressors."""

    def _fit_rows(self, batch: Series, targets: np.ndarray) -> None:
        raise NotImplementedError

    def _output_rows(self, batch: Series) -> np.ndarray:
        raise NotImplementedError

    def _validated_input(self, X: object) -> Series:
        check_is_fitted(self)
        return validate_series(self, X, reset=False)

    def _format(self, rows: np.ndarray, batch: Series, squeeze: bool) -> np.ndarray | list:
        return format_output(rows, batch, per_series=self.per_series_, squeeze=squeeze)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    @property
    def per_step_(self) -> bool:
        """Deprecated: ``not per_series_`` (whether the targets of ``fit`` were one per step)."""
        per_series = self.per_series_  # AttributeError before fit, as for a fitted attribute
        warn_renamed(f"{type(self).__name__}.per_step_", f"{type(self).__name__}.per_series_ (negated)")
        return not per_series


class SequenceClassifierMixin(ClassifierMixin):
    """``fit`` / ``predict`` / ``predict_proba`` / ``decision_function`` / ``score`` for labels."""

    def fit(self, X: object, y: object) -> SequenceClassifierMixin:
        """Fit on series ``X`` and class labels ``y`` (one per series or one per step).

        Parameters
        ----------
        X : array (S, T, d) or (S, d, T) (``layout``), list of arrays (T_i, d) or (d, T_i), or array (S, T)
            (a univariate collection)
        y : array (S,) per series; (S, T) or list of (T_i,) per step

        Returns
        -------
        self
        """
        batch, targets = validate_xy(self, X, y, classification=True, reset=True)
        self.classes_, codes = np.unique(targets.values[:, 0], return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y; got only one class: "
                f"{self.classes_[0]!r}"
            )
        self.per_series_ = targets.per_series
        one_hot = np.eye(len(self.classes_))[codes]
        self._fit_rows(batch, one_hot)
        return self

    def _class_scores(self, X: object) -> tuple[np.ndarray, Series]:
        batch = self._validated_input(X)
        return self._output_rows(batch), batch

    def decision_function(self, X: object) -> np.ndarray | list:
        """Readout scores: ``(n,)`` (score of ``classes_[1]`` minus ``classes_[0]``) for two
        classes, ``(n, n_classes)`` otherwise, with n = series or steps as in ``fit``."""
        scores, batch = self._class_scores(X)
        if scores.shape[1] == 2:
            scores = scores[:, 1:] - scores[:, :1]
        return self._format(scores, batch, squeeze=True)

    def predict_proba(self, X: object) -> np.ndarray | list:
        """Class probabilities ``(n, n_classes)``: the softmax of the readout scores."""
        scores, batch = self._class_scores(X)
        return self._format(softmax(scores, axis=1), batch, squeeze=False)

    def predict(self, X: object) -> np.ndarray | list:
        """Predicted labels, one per series or per step as in ``fit``."""
        scores, batch = self._class_scores(X)
        return self._format(self.classes_[np.argmax(scores, axis=1)], batch, squeeze=False)

    def score(self, X: object, y: object, sample_weight: np.ndarray | None = None) -> float:
        """Accuracy over all targets (series, or steps of all series)."""
        check_is_fitted(self)
        batch, targets = validate_xy(self, X, y, classification=True, reset=False)
        _check_same_target_layout(self, targets)
        predicted = self.classes_[np.argmax(self._output_rows(batch), axis=1)]
        return float(accuracy_score(targets.values[:, 0], predicted, sample_weight=sample_weight))


class SequenceRegressorMixin(RegressorMixin):
    """``fit`` / ``predict`` / ``score`` for real-valued targets."""

    def fit(self, X: object, y: object) -> SequenceRegressorMixin:
        """Fit on series ``X`` and real targets ``y`` (per series or per step).

        Parameters
        ----------
        X : array (S, T, d) or (S, d, T) (``layout``), list of arrays (T_i, d) or (d, T_i), or array (S, T)
            (a univariate collection)
        y : array (S,) or (S, k) per series; (S, T, k) or list of (T_i,) / (T_i, k) per step

        Returns
        -------
        self
        """
        batch, targets = validate_xy(self, X, y, classification=False, reset=True)
        self.per_series_ = targets.per_series
        self.n_outputs_ = targets.values.shape[1]
        self.scalar_targets_ = targets.squeeze
        self._fit_rows(batch, targets.values)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def predict(self, X: object) -> np.ndarray | list:
        """Predicted values, shaped like the targets given to ``fit``."""
        batch = self._validated_input(X)
        return self._format(self._output_rows(batch), batch, squeeze=self.scalar_targets_)

    def score(self, X: object, y: object, sample_weight: np.ndarray | None = None) -> float:
        """R² over all targets (series, or steps of all series), averaged over outputs."""
        check_is_fitted(self)
        batch, targets = validate_xy(self, X, y, classification=False, reset=False)
        _check_same_target_layout(self, targets)
        return float(r2_score(targets.values, self._output_rows(batch), sample_weight=sample_weight))


def _check_same_target_layout(estimator: _SequenceEstimator, targets: TargetBatch) -> None:
    if targets.per_series != estimator.per_series_:
        fitted = "per series" if estimator.per_series_ else "per step"
        given = "per series" if targets.per_series else "per step"
        raise ValueError(
            f"{type(estimator).__name__} was fitted with targets {fitted}; score got targets {given}"
        )

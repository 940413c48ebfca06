"""Closed-form estimators: ``Reservoir >> Cerebellum >> Ridge``.

A random (untrained) tanh reservoir reads the series; a fixed cerebellar granule layer expands
its states; a ridge readout is solved in closed form on the granule code — pooled over each series
(targets per series: by default each cell's mean rate and its proportion of active steps, optionally
the final step, :mod:`._pooling`) or of every step after ``warmup`` (targets per step). Inputs are
standardised per feature and the readout's inputs per column, both with statistics of the training data.
"""

from __future__ import annotations

import numpy as np
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from cbreservoir.estimators._base import SequenceClassifierMixin, SequenceRegressorMixin, _SequenceEstimator
from cbreservoir.estimators._data import split_by_series
from cbreservoir.estimators._pooling import check_pooling, pool_codes
from cbreservoir.utils.threads import torch_threads
from cbreservoir.utils.validation import Series, check_warmup

#: Number of independent seeds drawn from ``random_state``: reservoir, cerebellum.
_N_NODE_SEEDS = 2


class _CerebellarReservoirBase(_SequenceEstimator):
    """Shared parameters and math of the two closed-form estimators."""

    def __init__(
        self,
        units: int = 100,
        lr: float = 1.0,
        sr: float | None = 0.9,
        input_scaling: float = 0.3,
        input_connectivity: float = 0.5,
        rc_connectivity: float = 0.1,
        activation: str = "tanh",
        n_granule: int = 512,
        granule_degree: int | None = None,
        coding_level: float | None = None,
        alpha: float = 0.1,
        warmup: int = 0,
        pooling: tuple[str, ...] = ("mean", "active"),
        standardize: bool = True,
        random_state: int | np.random.RandomState | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.units = units
        self.lr = lr
        self.sr = sr
        self.input_scaling = input_scaling
        self.input_connectivity = input_connectivity
        self.rc_connectivity = rc_connectivity
        self.activation = activation
        self.n_granule = n_granule
        self.granule_degree = granule_degree
        self.coding_level = coding_level
        self.alpha = alpha
        self.warmup = warmup
        self.pooling = pooling
        self.standardize = standardize
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _build_nodes(self, n_features: int) -> None:
        from cbreservoir.nodes import Cerebellum, Reservoir, Ridge

        reservoir_seed, cerebellum_seed = check_random_state(self.random_state).randint(
            0, 2**31 - 1, size=_N_NODE_SEEDS
        )
        self.reservoir_ = Reservoir(
            self.units,
            lr=self.lr,
            sr=self.sr,
            input_scaling=self.input_scaling,
            input_connectivity=self.input_connectivity,
            rc_connectivity=self.rc_connectivity,
            activation=self.activation,
            seed=int(reservoir_seed),
            input_dim=n_features,
        )
        self.cerebellum_ = Cerebellum(
            n_granule=self.n_granule,
            output="granule",
            granule_degree=self.granule_degree,
            coding_level=self.coding_level,
            seed=int(cerebellum_seed),
            input_dim=self.units,
        )
        self.readout_ = Ridge(ridge=self.alpha)

    def _granule_code(self, batch: Series) -> list[np.ndarray]:
        """Granule activity of every series, each ``(T_i, n_granule)``, from a zero reservoir state."""
        data = batch.data
        if self.input_mean_ is not None:  # one transform of all steps, split back into series
            steps = (np.concatenate(batch.as_list()) - self.input_mean_) / self.input_scale_
            data = batch.restore(split_by_series(steps, batch.lengths))
        self.reservoir_.reset()
        with torch_threads(self.n_jobs):
            states = self.reservoir_.run(data)
            return Series(self.cerebellum_.run(states), batch.layout).as_list()

    def _readout_inputs(self, batch: Series, *, training: bool) -> np.ndarray:
        """Unscaled readout inputs: the pooled code of each series ``(S, len(pooling) * n_granule)``,
        or the code of every step ``(n_steps, n_granule)`` (after ``warmup`` steps when ``training``)."""
        code = self._granule_code(batch)
        if not self.per_step_:
            return pool_codes(code, self.pooling_)
        return np.concatenate([g[self.warmup if training else 0 :] for g in code])

    def _fit_rows(self, batch: Series, targets: np.ndarray) -> None:
        self.pooling_ = check_pooling(self.pooling, type(self).__name__)
        if self.per_step_:
            check_warmup(self.warmup, batch.lengths)
            per_series = split_by_series(targets, batch.lengths)
            targets = np.concatenate([t[self.warmup :] for t in per_series])
        self.input_mean_ = self.input_scale_ = None
        if self.standardize:
            self.input_mean_, self.input_scale_ = _column_moments(np.concatenate(batch.as_list()))
        self._build_nodes(batch.n_features)
        rows = self._readout_inputs(batch, training=True)
        self.feature_mean_, self.feature_scale_ = _column_moments(rows)
        self.readout_.fit((rows - self.feature_mean_) / self.feature_scale_, targets)

    def _output_rows(self, batch: Series) -> np.ndarray:
        rows = self._readout_inputs(batch, training=False)
        return self.readout_.run((rows - self.feature_mean_) / self.feature_scale_)


def _column_moments(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD of each column of ``rows`` (n, k), SD 1 for constant columns (StandardScaler's)."""
    scaler = StandardScaler().fit(rows)
    return scaler.mean_, scaler.scale_


_PARAMETERS_DOC = """
    Parameters
    ----------
    units : int, default=100
        Reservoir size.
    lr : float, default=1.0
        Leak rate α of the reservoir (reservoirpy's ``lr``, not a learning rate).
    sr : float or None, default=0.9
        Spectral radius of the recurrent matrix (None keeps the raw random matrix).
    input_scaling : float, default=0.3
    input_connectivity : float, default=0.5
        Density of the input matrix.
    rc_connectivity : float, default=0.1
        Density of the recurrent matrix.
    activation : str, default="tanh"
        Reservoir nonlinearity (``cbreservoir.numerics.functional.ACTIVATIONS``).
    n_granule : int, default=512
        Granule cells of the cerebellar expansion.
    granule_degree : int or None, default=None
        Mossy-fibre in-degree K of each granule cell (None: dense, paper initialisation).
    coding_level : float or None, default=None
        Target fraction of active granule cells (sets the granule thresholds).
    alpha : float, default=0.1
        Ridge (L2) penalty of the readout (on standardised readout inputs).
    warmup : int, default=0
        Steps discarded at the start of every series when fitting per-step targets.
    pooling : tuple of str, default=("mean", "active")
        Features of a series for targets per series, each a block of ``n_granule`` columns, from
        ``"last"`` (the final granule code, the study's read-out), ``"mean"`` (each cell's mean rate over
        time) and ``"active"`` (the proportion of steps it is active); see
        :mod:`cbreservoir.estimators._pooling`. Not used for targets per step. The defaults (this and the
        reservoir, granule and ridge settings) come from a search over four UEA/UCR sets
        (``benchmarks/uea_search.py``, docs/real-data.md); for labels decided by the last steps of a
        series (the study's DMS and parity tasks) use ``("last",)``.
    standardize : bool, default=True
        Standardise each input feature with the mean and SD of all training steps.
    random_state : int, RandomState or None, default=None
        Seeds the reservoir and the cerebellum (two seeds drawn from it).
    n_jobs : int or None, default=None
        torch threads used to run the reservoir and the cerebellum (None: torch's setting; -1: all
        CPUs). The series of X are batched, not distributed over processes.
"""


class CerebellarReservoirClassifier(SequenceClassifierMixin, _CerebellarReservoirBase):
    __doc__ = (
        """Sequence classifier: reservoir >> cerebellar granule layer >> ridge, fitted in closed form.

    Each class gets a ridge output trained on one-hot indicators; ``predict`` takes the arg-max,
    ``predict_proba`` is the softmax of the scores (not calibrated probabilities).
"""
        + _PARAMETERS_DOC
        + """
    Attributes
    ----------
    classes_ : ndarray (n_classes,)
    per_step_ : bool
        Whether ``fit`` saw one label per step (else one per series).
    reservoir_, cerebellum_, readout_ : cbreservoir nodes
        The fitted ``Reservoir``, ``Cerebellum`` and ``Ridge``.
    input_mean_, input_scale_ : ndarray (n_features_in_,) or None
        Mean and SD of each input feature over all training steps (None if ``standardize=False``).
    feature_mean_, feature_scale_ : ndarray (n_readout_inputs,)
        Mean and SD of each readout input over the training rows (SD 1 for a constant column).
    pooling_ : tuple of str
    n_features_in_ : int
    """
    )


class CerebellarReservoirRegressor(SequenceRegressorMixin, _CerebellarReservoirBase):
    __doc__ = (
        """Sequence regressor: reservoir >> cerebellar granule layer >> ridge, fitted in closed form.
"""
        + _PARAMETERS_DOC
        + """
    Attributes
    ----------
    per_step_ : bool
        Whether ``fit`` saw targets per step (else one per series).
    n_outputs_ : int
    scalar_targets_ : bool
        Whether the targets had no output axis (predictions then have none either).
    reservoir_, cerebellum_, readout_ : cbreservoir nodes
        The fitted ``Reservoir``, ``Cerebellum`` and ``Ridge``.
    input_mean_, input_scale_ : ndarray (n_features_in_,) or None
        Mean and SD of each input feature over all training steps (None if ``standardize=False``).
    feature_mean_, feature_scale_ : ndarray (n_readout_inputs,)
        Mean and SD of each readout input over the training rows (SD 1 for a constant column).
    pooling_ : tuple of str
    n_features_in_ : int
    """
    )

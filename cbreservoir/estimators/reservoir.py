"""Closed-form estimators: ``Reservoir >> Cerebellum >> Ridge``.

A random (untrained) tanh reservoir reads the series; a fixed cerebellar granule layer expands
its states; a ridge readout is solved in closed form on the granule code — pooled over each series
(targets per series: by default each cell's mean rate and its proportion of active steps, optionally
the final step, :mod:`._pooling`) or of every step after ``warmup`` (targets per step). Inputs are
standardised per feature and the readout's inputs per column, both with statistics of the training data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from cbreservoir.estimators._base import SequenceClassifierMixin, SequenceRegressorMixin, _SequenceEstimator
from cbreservoir.estimators._choice import Reading, choose_reading, reading_candidates, reading_columns
from cbreservoir.estimators._data import LAYOUT_DOC, split_by_series
from cbreservoir.estimators._pooling import POOLINGS, check_pooling, pool_codes, sampled_steps
from cbreservoir.numerics.ridge_loo import check_alphas, select_alpha
from cbreservoir.utils.checks import Series, check_bool, check_int, check_positive_int, check_warmup
from cbreservoir.utils.threads import blas_threads

#: The classifier's default ridge penalties, chosen among by leave-one-out inside ``fit``.
CHOSEN_ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)
#: Granule-code values (steps x cells) made and pooled at a time for targets per series (32 MiB of float64).
_CODE_BUDGET = 1 << 22
#: Number of independent seeds drawn from ``random_state``: reservoir, cerebellum.
_N_NODE_SEEDS = 2
#: Purkinje cells and nuclei of the cerebellum node: one each, as the node emits only the granule code
#: (it still evaluates the layers behind it, so they are kept minimal).
_N_PURKINJE = 1


class _CerebellarReservoirBase(_SequenceEstimator):
    """Shared parameters and math of the two closed-form estimators."""

    def __init__(
        self,
        units: int = 100,
        lr: float | tuple[float, ...] = 1.0,
        sr: float | None = 0.9,
        input_scaling: float = 0.3,
        input_connectivity: float = 0.5,
        rc_connectivity: float = 0.1,
        activation: str = "tanh",
        n_granule: int = 512,
        granule_degree: int | None = None,
        coding_level: float | None = None,
        alpha: float | tuple[float, ...] = 0.1,
        warmup: int = 0,
        pooling: tuple[str, ...] = ("mean", "active"),
        windows: int = 1,
        differences: bool = False,
        state_features: bool = False,
        bidirectional: bool = False,
        max_steps: int | None = None,
        standardize: bool = True,
        auto: bool = False,
        random_state: int | np.random.RandomState | None = None,
        n_jobs: int | None = None,
        layout: str = "auto",
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
        self.windows = windows
        self.differences = differences
        self.state_features = state_features
        self.bidirectional = bidirectional
        self.max_steps = max_steps
        self.standardize = standardize
        self.auto = auto
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.layout = layout

    def _check_parameters(self) -> None:
        """Validate the parameters that the nodes do not check themselves; set ``pooling_``, ``alphas_``,
        ``windows_`` and ``max_steps_`` (the reading, which ``auto`` may change in ``fit``)."""
        owner = type(self).__name__
        self.pooling_ = check_pooling(self.pooling, owner)
        self.alphas_ = check_alphas(self.alpha, owner)
        self.windows_ = check_int(self.windows, f"{owner}: windows", minimum=1)
        self.max_steps_ = self.max_steps
        if self.max_steps is not None:
            check_int(self.max_steps, f"{owner}: max_steps", minimum=1)
        for name in ("differences", "state_features", "bidirectional", "standardize", "auto"):
            check_bool(getattr(self, name), f"{owner}: {name}")
        leaks = self.lr if isinstance(self.lr, (tuple, list)) else (self.lr,)
        if not leaks or len(leaks) > check_positive_int(self.units, "units"):
            raise ValueError(
                f"{owner}: lr must be a leak rate or a tuple of 1 to units={self.units} leak rates; "
                f"got {self.lr!r}"
            )

    def _unit_leaks(self) -> float | np.ndarray:
        """The reservoir's ``lr``: one leak rate, or a tuple's rates over equal groups of units."""
        if not isinstance(self.lr, (tuple, list)):
            return self.lr
        sizes = [len(group) for group in np.array_split(np.arange(self.units), len(self.lr))]
        return np.repeat(np.asarray(self.lr, dtype=np.float64), sizes)

    def _build_nodes(self, n_inputs: int) -> None:
        from cbreservoir.nodes import Cerebellum, Reservoir

        reservoir_seed, cerebellum_seed = check_random_state(self.random_state).randint(
            0, 2**31 - 1, size=_N_NODE_SEEDS
        )
        # every argument explicit: a change of a node default cannot change the estimators
        self.reservoir_ = Reservoir(
            self.units,
            lr=self._unit_leaks(),
            sr=self.sr,
            input_scaling=self.input_scaling,
            input_connectivity=self.input_connectivity,
            rc_connectivity=self.rc_connectivity,
            Win=None,
            W=None,
            bias=0.0,
            activation=self.activation,
            input_dim=n_inputs,
            dtype="float64",
            seed=int(reservoir_seed),
            name=None,
            cerebellar_bias=False,
            frozen=False,
            recurrent_bias=None,
        )
        self.cerebellum_ = Cerebellum(
            n_granule=self.n_granule,
            n_purkinje=_N_PURKINJE,
            n_out=_N_PURKINJE,
            output="granule",
            input_gain=None,
            granule_degree=self.granule_degree,
            coding_level=self.coding_level,
            seed=int(cerebellum_seed),
            input_dim=self.units,
            name=None,
        )

    def _model_inputs(self, batch: Series) -> np.ndarray | list[np.ndarray]:
        """The reservoir's input: each series with its first differences (``differences``),
        standardised with the training moments (``standardize``); the layout of ``batch``."""
        series = batch.as_list()
        if self.differences:
            series = [np.hstack([x, np.diff(x, axis=0, prepend=x[:1])]) for x in series]
        steps = np.concatenate(series)
        if self.input_mean_ is not None:
            steps = (steps - self.input_mean_) / self.input_scale_
        return batch.restore(split_by_series(steps, batch.lengths))

    def _reservoir_states(self, batch: Series, *, reverse: bool) -> list[np.ndarray]:
        """Reservoir states ``(T_i, units)`` of every series from a zero state. With ``reverse`` the
        reservoir reads each series backwards in time; per step the states are put back in forward order,
        per series they stay in reading order."""
        inputs = self._model_inputs(batch)
        if reverse:
            inputs = batch.restore([x[::-1].copy() for x in Series(inputs, batch.layout).as_list()])
        self.reservoir_.reset()
        with blas_threads(self.n_jobs):
            states = Series(self.reservoir_.run(inputs), batch.layout).as_list()
        if reverse and not self.per_series_:
            states = [h[::-1] for h in states]
        return states

    def _granule_code(self, states: list[np.ndarray]) -> list[np.ndarray]:
        """The cerebellum's granule code ``(T_i, n_granule)`` of each series of states."""
        with blas_threads(self.n_jobs):
            if len({len(h) for h in states}) == 1:  # one batch call
                return list(self.cerebellum_.run(np.stack(states)))
            return self.cerebellum_.run(states)

    def _pooled_features(self, batch: Series, readings: Sequence[Reading]) -> list[np.ndarray]:
        """Unscaled readout inputs ``(S, n_readout_inputs)`` of each reading (targets per series): the
        granule code at the reading's steps, pooled; the pooled reservoir states follow it when
        ``state_features``, and the same blocks of the backward pass follow when ``bidirectional``.

        The reservoir runs once. The granule code is made and pooled a few series at a time
        (:data:`_CODE_BUDGET`), so that reading every step of long series never holds all their code; when a
        reading takes every step, the other readings' steps are taken from its code (the cerebellum reads
        each step on its own).
        """
        every_step = any(reading.max_steps is None for reading in readings)
        directions = (False, True)[: 1 + self.bidirectional]
        features: list[list[np.ndarray]] = [[] for _ in readings]
        for reverse in directions:
            rows: list[list[np.ndarray]] = [[] for _ in readings]
            states_of_pass = self._reservoir_states(batch, reverse=reverse)
            for chunk in _chunks(states_of_pass, _CODE_BUDGET // self.n_granule):
                code = self._granule_code(chunk) if every_step else None
                for reading, pooled in zip(readings, rows, strict=True):
                    steps = [sampled_steps(len(h), reading.max_steps) for h in chunk]
                    states = [h[at] for h, at in zip(chunk, steps, strict=True)]
                    if code is None:
                        blocks = [self._granule_code(states)]
                    else:
                        blocks = [[g[at] for g, at in zip(code, steps, strict=True)]]
                    blocks += [states] if self.state_features else []
                    parts = [pool_codes(block, reading.pooling, reading.windows) for block in blocks]
                    pooled.append(np.hstack(parts))
            for reading_features, pooled in zip(features, rows, strict=True):
                reading_features.append(np.vstack(pooled))
        return [np.hstack(reading_features) for reading_features in features]

    def _readout_inputs(self, batch: Series, *, training: bool) -> np.ndarray:
        """Unscaled readout inputs: the pooled features of each series ``(S, n_readout_inputs)`` for the
        fitted reading (:meth:`_pooled_features`), or the code of every step ``(n_steps,
        n_readout_inputs)`` (after ``warmup`` steps when ``training``), the reservoir states beside it when
        ``state_features``, and the backward pass's blocks after when ``bidirectional``."""
        if self.per_series_:
            return self._pooled_features(batch, [Reading(self.max_steps_, self.windows_, self.pooling_)])[0]
        blocks = []
        for reverse in (False, True)[: 1 + self.bidirectional]:
            states = self._reservoir_states(batch, reverse=reverse)
            code = self._granule_code(states)
            blocks += [code, states] if self.state_features else [code]
        start = self.warmup if training else 0
        return np.hstack([np.concatenate([g[start:] for g in block]) for block in blocks])

    def _chosen_rows(self, batch: Series, targets: np.ndarray) -> np.ndarray:
        """Choose the reading and the penalty by exact leave-one-out (:mod:`._choice`); set ``max_steps_``,
        ``windows_``, ``pooling_``, ``alpha_`` and ``reading_errors_``; return the chosen unscaled rows."""
        candidates = reading_candidates(self.max_steps, self.windows, self.pooling_, max(batch.lengths))
        steps = list(dict.fromkeys(reading.max_steps for reading in candidates))
        largest = self._pooled_features(batch, [Reading(m, self.windows, POOLINGS) for m in steps])
        widths = ([self.n_granule] + ([self.units] if self.state_features else [])) * (1 + self.bidirectional)
        features = dict(zip(steps, largest, strict=True))
        choice = choose_reading(features, widths, self.windows, candidates, targets, self.alphas_)
        reading = choice.reading
        self.max_steps_, self.windows_, self.pooling_ = reading.max_steps, reading.windows, reading.pooling
        self.alpha_, self.reading_errors_ = choice.alpha, choice.errors
        return features[reading.max_steps][:, reading_columns(widths, self.windows, reading)]

    def _fit_rows(self, batch: Series, targets: np.ndarray) -> None:
        self._check_parameters()
        if not self.per_series_:
            check_warmup(self.warmup, batch.lengths)
            per_series = split_by_series(targets, batch.lengths)
            targets = np.concatenate([t[self.warmup :] for t in per_series])
        self.input_mean_ = self.input_scale_ = None
        if self.standardize:
            self.input_mean_, self.input_scale_ = _column_moments(np.concatenate(batch.as_list()))
            if self.differences:
                steps = np.concatenate(
                    [np.diff(x, axis=0, prepend=x[:1]) for x in batch.as_list()]
                )
                diff_mean, diff_scale = _column_moments(steps)
                self.input_mean_ = np.concatenate([self.input_mean_, diff_mean])
                self.input_scale_ = np.concatenate([self.input_scale_, diff_scale])
        self._build_nodes(batch.n_features * (2 if self.differences else 1))
        self.reading_errors_ = None
        if self.auto and self.per_series_:
            rows = self._chosen_rows(batch, targets)
            self.feature_mean_, self.feature_scale_ = _column_moments(rows)
            rows = (rows - self.feature_mean_) / self.feature_scale_
        else:
            rows = self._readout_inputs(batch, training=True)
            self.feature_mean_, self.feature_scale_ = _column_moments(rows)
            rows = (rows - self.feature_mean_) / self.feature_scale_
            alphas = self.alphas_
            self.alpha_ = alphas[0] if len(alphas) == 1 else select_alpha(rows, targets, alphas)
        self.readout_ = _fitted_ridge(rows, targets, self.alpha_)

    def _output_rows(self, batch: Series) -> np.ndarray:
        rows = self._readout_inputs(batch, training=False)
        return self.readout_.run((rows - self.feature_mean_) / self.feature_scale_)


def _chunks(series: list[np.ndarray], max_steps: int) -> list[list[np.ndarray]]:
    """``series`` in consecutive groups of at most ``max_steps`` steps in all (at least one series each)."""
    groups: list[list[np.ndarray]] = [[]]
    steps = 0
    for item in series:
        if groups[-1] and steps + len(item) > max_steps:
            groups.append([])
            steps = 0
        groups[-1].append(item)
        steps += len(item)
    return groups


def _fitted_ridge(rows: np.ndarray, targets: np.ndarray, alpha: float):
    """A ``Ridge`` node fitted on ``rows`` (n, p) and ``targets`` (n, k), with an intercept.

    With fewer rows than columns (pooled features), the weights come straight from the node's dual
    solve, without the (p, p) statistics that ``Ridge.fit`` also accumulates for ``partial_fit``.
    """
    from cbreservoir.nodes import Ridge
    from cbreservoir.numerics.ridge import dual_solve

    n_rows, n_columns = rows.shape
    if alpha > 0 and n_rows < n_columns:
        weights, bias = dual_solve(rows, targets, ridge=alpha, fit_bias=True)
        return Ridge(
            ridge=alpha,
            fit_bias=True,
            Wout=weights,
            bias=bias,
            input_dim=n_columns,
            output_dim=targets.shape[1],
            name=None,
            gram_dtype="float64",
        )
    ridge = Ridge(
        ridge=alpha,
        fit_bias=True,
        Wout=None,
        bias=None,
        input_dim=None,
        output_dim=None,
        name=None,
        gram_dtype="float64",
    )
    return ridge.fit(rows, targets)


def _column_moments(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD of each column of ``rows`` (n, k), SD 1 for constant columns (StandardScaler's)."""
    scaler = StandardScaler().fit(rows)
    return scaler.mean_, scaler.scale_


_PARAMETERS_DOC = """
    Parameters
    ----------
    Where the two estimators' defaults differ, both are given (classifier / regressor): the classifier's
    were chosen by cross-validation on the training splits of the nine UEA/UCR sets aeon ships
    (``benchmarks/uea_generalisation.py``, docs/real-data.md); the regressor keeps the causal, per-step
    friendly settings of issue 18.

    units : int, default=100
        Reservoir size.
    lr : float or tuple of float, default=(1.0, 0.3, 0.1) / 1.0
        Leak rate α of the reservoir (reservoirpy's ``lr``, not a learning rate). A tuple of r rates
        splits the units into r (nearly) equal groups, one timescale each, in one reservoir.
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
    alpha : float or tuple of float, default=(0.01, 0.1, ..., 10000.0) / 0.1
        Ridge (L2) penalty of the readout (on standardised readout inputs). A tuple: the penalty with the
        smallest exact leave-one-out squared error on the training rows is chosen inside ``fit``
        (``alpha_``; :mod:`cbreservoir.numerics.ridge_loo`).
    warmup : int, default=0
        Steps discarded at the start of every series when fitting per-step targets.
    pooling : tuple of str, default=("mean", "active")
        Features of a series for targets per series, each a block of ``n_granule`` columns, from
        ``"last"`` (the final granule code, the study's read-out), ``"mean"`` (each cell's mean rate over
        time) and ``"active"`` (the proportion of steps it is active); see
        :mod:`cbreservoir.estimators._pooling`. Not used for targets per step. For labels decided by the
        last steps of a series (the study's DMS and parity tasks) use ``("last",)`` with ``windows=1``.
    windows : int, default=4 / 1
        With w > 1, the poolings are also taken over w consecutive windows of each series (targets per
        series only).
    differences : bool, default=True / False
        Feed the reservoir each input feature and its first difference ``x_t − x_{t−1}`` (0 at t = 0).
    state_features : bool, default=False
        Put the reservoir states (pooled, or per step) beside the granule code in the readout inputs.
    bidirectional : bool, default=False
        Also run the reservoir on each series reversed in time and add the same blocks of that pass
        (per step this reads the future: not causal).
    max_steps : int or None, default=200 / None
        For targets per series, the granule code is computed and pooled at most at this many evenly
        spaced steps of each series, the last step among them (the reservoir still reads every step),
        so that the fit time grows slowly with the series length. None: every step.
    standardize : bool, default=True
        Standardise each input feature (and each difference) with the mean and SD of all training steps.
    auto : bool, default=True / False
        For targets per series, choose how each series is read inside ``fit``, from the training data only:
        ``max_steps`` or every step (when a series is longer), one window or ``windows``, ``pooling`` or
        ``pooling`` with ``"last"`` — with the penalty among ``alpha`` — by the exact leave-one-out error of
        the ridge readout on the pooled features (the nodes run once; :mod:`cbreservoir.estimators._choice`).
        The choice is in ``max_steps_``, ``windows_``, ``pooling_``, ``alpha_`` and ``reading_errors_``.
    random_state : int, RandomState or None, default=None
        Seeds the reservoir and the cerebellum (two seeds drawn from it).
    n_jobs : int or None, default=None
        BLAS threads used to run the reservoir and the cerebellum (None: the libraries' setting; -1: all
        CPUs; numpy and scipy only, no torch is loaded). The series of X are batched, not distributed
        over processes.
""" + LAYOUT_DOC


#: The fitted attributes both reservoir estimators share (the end of their "Attributes" section).
_FITTED_ATTRIBUTES_DOC = """    reservoir_, cerebellum_, readout_ : cbreservoir nodes
        The fitted ``Reservoir``, ``Cerebellum`` and ``Ridge``.
    input_mean_, input_scale_ : ndarray (n_features_in_,) or (2 n_features_in_,) or None
        Mean and SD of each input feature (then of each difference) over all training steps (None if
        ``standardize=False``).
    feature_mean_, feature_scale_ : ndarray (n_readout_inputs,)
        Mean and SD of each readout input over the training rows (SD 1 for a constant column).
    alpha_ : float
        The ridge penalty of the readout (chosen by leave-one-out when ``alpha`` is a tuple).
    pooling_, windows_, max_steps_ : tuple of str, int, int or None
        How each series is read (the parameters, or with ``auto`` the chosen reading).
    reading_errors_ : dict or None
        With ``auto`` and targets per series: the leave-one-out error of every candidate reading (at its
        best penalty), by its description; None otherwise.
    n_features_in_ : int
        Features per time step (1 for a 2-D X, a univariate collection).
    layout_ : {"channels_last", "channels_first"}
        The order of the axes of the series of X in ``fit`` (``layout``, or read from the shapes).
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
    per_series_ : bool
        Whether ``fit`` saw one label per series (else one per step). ``per_step_`` (its negation) is
        deprecated.
"""
        + _FITTED_ATTRIBUTES_DOC
    )

    def __init__(
        self,
        units: int = 100,
        lr: float | tuple[float, ...] = (1.0, 0.3, 0.1),
        sr: float | None = 0.9,
        input_scaling: float = 0.3,
        input_connectivity: float = 0.5,
        rc_connectivity: float = 0.1,
        activation: str = "tanh",
        n_granule: int = 512,
        granule_degree: int | None = None,
        coding_level: float | None = None,
        alpha: float | tuple[float, ...] = CHOSEN_ALPHAS,
        warmup: int = 0,
        pooling: tuple[str, ...] = ("mean", "active"),
        windows: int = 4,
        differences: bool = True,
        state_features: bool = False,
        bidirectional: bool = False,
        max_steps: int | None = 200,
        standardize: bool = True,
        auto: bool = True,
        random_state: int | np.random.RandomState | None = None,
        n_jobs: int | None = None,
        layout: str = "auto",
    ) -> None:
        super().__init__(
            units=units,
            lr=lr,
            sr=sr,
            input_scaling=input_scaling,
            input_connectivity=input_connectivity,
            rc_connectivity=rc_connectivity,
            activation=activation,
            n_granule=n_granule,
            granule_degree=granule_degree,
            coding_level=coding_level,
            alpha=alpha,
            warmup=warmup,
            pooling=pooling,
            windows=windows,
            differences=differences,
            state_features=state_features,
            bidirectional=bidirectional,
            max_steps=max_steps,
            standardize=standardize,
            auto=auto,
            random_state=random_state,
            n_jobs=n_jobs,
            layout=layout,
        )


class CerebellarReservoirRegressor(SequenceRegressorMixin, _CerebellarReservoirBase):
    __doc__ = (
        """Sequence regressor: reservoir >> cerebellar granule layer >> ridge, fitted in closed form.
"""
        + _PARAMETERS_DOC
        + """
    Attributes
    ----------
    per_series_ : bool
        Whether ``fit`` saw one target per series (else one per step). ``per_step_`` (its negation) is
        deprecated.
    n_outputs_ : int
    scalar_targets_ : bool
        Whether the targets had no output axis (predictions then have none either).
"""
        + _FITTED_ATTRIBUTES_DOC
    )

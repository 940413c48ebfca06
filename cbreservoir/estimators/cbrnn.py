"""Gradient-trained estimators: the CB-RNN (core + cerebellum in a loop) fitted by BPTT.

The torch model comes from :func:`cbreservoir.models.build_model` (``"cbrnn"``, or ``"rnn"`` with
``cerebellum=False``) and learns through :class:`cbreservoir.training.SequenceTrainer` (the
:class:`~cbreservoir.training.GradientTrainer` with per-step outputs and a squared-error loss for
regression). Series are grouped by length, so a minibatch never needs padding.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils import check_random_state
from tqdm.auto import tqdm

from cbreservoir.estimators._base import SequenceClassifierMixin, SequenceRegressorMixin, _SequenceEstimator
from cbreservoir.estimators._data import LAYOUT_DOC, split_by_series
from cbreservoir.models import build_model
from cbreservoir.models.base import RecurrentNetwork
from cbreservoir.numerics.network import INITIAL_STATE_SCALE
from cbreservoir.numerics.study import STUDY
from cbreservoir.training import FullReservoir, SequenceTrainer
from cbreservoir.training.sequence import sequence_outputs
from cbreservoir.utils.checks import Series
from cbreservoir.utils.deprecation import warn_renamed
from cbreservoir.utils.threads import torch_threads

#: Schedule levels used for the frozen-core schedule: level 0 trains the core, level 1 freezes it.
_CORE_PHASE, _RESERVOIR_PHASE = 0, 1

#: Default of a deprecated parameter (scikit-learn's pattern): any other value is used, with a FutureWarning.
_DEPRECATED = "deprecated"

#: Defaults of the parameters that replace deprecated ones.
_DEFAULT_UNITS, _DEFAULT_LR = STUDY.units, STUDY.lr


def _length_groups(lengths: list[int]) -> list[np.ndarray]:
    """Indices of the series, grouped by length (each group can be stacked without padding)."""
    lengths_array = np.asarray(lengths)
    return [np.flatnonzero(lengths_array == n) for n in np.unique(lengths_array)]


class _CBRNNBase(_SequenceEstimator):
    """Shared parameters, model construction and training loop of the two CB-RNN estimators."""

    _regression = False

    @property
    def _n_model_outputs(self) -> int:
        """Readout units in use: one per class, or one per regression output."""
        return self.n_outputs_ if self._regression else len(self.classes_)

    def __init__(
        self,
        units: int = _DEFAULT_UNITS,
        n_granule: int = STUDY.n_granule,
        n_purkinje: int = STUDY.n_purkinje,
        lr: float = _DEFAULT_LR,
        activation: str = "tanh",
        cerebellum: bool = True,
        core_epochs: int | None = None,
        optimizer: str = "adam",
        learning_rate: float = STUDY.learning_rate,
        momentum: float = STUDY.momentum,
        clip_norm: float | None = STUDY.clip_norm,
        epochs: int = 100,
        batch_size: int = 32,
        random_state: int | np.random.RandomState | None = None,
        n_jobs: int | None = None,
        progress: bool = False,
        layout: str = "auto",
        hidden_size: int | str = _DEPRECATED,
        tau: float | str = _DEPRECATED,
        frozen_core_after: int | None | str = _DEPRECATED,
    ) -> None:
        self.units = units
        self.n_granule = n_granule
        self.n_purkinje = n_purkinje
        self.lr = lr
        self.activation = activation
        self.cerebellum = cerebellum
        self.core_epochs = core_epochs
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.clip_norm = clip_norm
        self.epochs = epochs
        self.batch_size = batch_size
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.progress = progress
        self.layout = layout
        self.hidden_size = hidden_size
        self.tau = tau
        self.frozen_core_after = frozen_core_after

    # --- construction ----------------------------------------------------------------------------------

    def _check_training_parameters(self) -> int | None:
        """Check ``epochs``, ``batch_size``, ``core_epochs``; return ``core_epochs`` (or its old alias)."""
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        after = self._core_epochs()
        if after is not None and (
            isinstance(after, bool) or not isinstance(after, (int, np.integer)) or after < 0
        ):
            raise ValueError(f"core_epochs must be None or an int >= 0; got {after!r}")
        return after

    def _core_epochs(self) -> int | None:
        """``core_epochs``, or the deprecated ``frozen_core_after`` when that is set."""
        deprecated = self._deprecated_parameter("frozen_core_after", "core_epochs", None)
        return self.core_epochs if deprecated is None else deprecated

    def _deprecated_parameter(self, old: str, new: str, default: object) -> object | None:
        """Deprecated parameter ``old``'s value (None when unset), with a ``FutureWarning`` naming ``new``.

        Raises
        ------
        ValueError
            ``old`` set together with ``new`` (``new`` not at its default).
        """
        value = getattr(self, old)
        if isinstance(value, str) and value == _DEPRECATED:
            return None
        owner = type(self).__name__
        if getattr(self, new) != default:
            raise ValueError(f"{owner} got both {old}={value!r} (deprecated) and {new}; set only {new}")
        warn_renamed(f"{owner}({old}=...)", f"{owner}({new}=...)")
        return value

    def _model_sizes_and_leak(self) -> dict[str, object]:
        """``units`` and the leak (``lr``, or ``tau`` from the deprecated parameter) of the model."""
        hidden_size = self._deprecated_parameter("hidden_size", "units", _DEFAULT_UNITS)
        tau = self._deprecated_parameter("tau", "lr", _DEFAULT_LR)
        units = self.units if hidden_size is None else hidden_size
        return {"units": units, **({"lr": self.lr} if tau is None else {"tau": tau})}

    def _build_model(self, n_features: int, n_outputs: int, seed: int) -> RecurrentNetwork:
        # every model needs >= 2 readout units; a 1-output regressor uses the first one
        shared = dict(
            input_dim=n_features,
            n_classes=max(n_outputs, 2),
            activation=self.activation,
            seed=seed,
            **self._model_sizes_and_leak(),
        )
        if self.cerebellum:
            return build_model("cbrnn", n_granule=self.n_granule, n_purkinje=self.n_purkinje, **shared)
        return build_model("rnn", **shared)

    def _make_trainer(self, n_outputs: int, seed: int, *, freezes_core: bool) -> SequenceTrainer:
        schedule = FullReservoir(phase0_level=_CORE_PHASE) if freezes_core else None
        return SequenceTrainer(
            self.model_,
            objective="mse" if self._regression else "cross_entropy",
            per_series=self.per_series_,
            n_outputs=n_outputs,
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            momentum=self.momentum,
            clip_norm=self.clip_norm,
            schedule=schedule,
            seed=seed,
        )

    # --- training --------------------------------------------------------------------------------------

    def _minibatches(self, lengths: list[int], rng: np.random.RandomState) -> list[np.ndarray]:
        """One epoch of series indices: shuffled within equal-length groups, batches in random order."""
        batches = []
        for group in _length_groups(lengths):
            shuffled = group[rng.permutation(len(group))]
            batches.extend(np.array_split(shuffled, int(np.ceil(len(group) / self.batch_size))))
        return [batches[i] for i in rng.permutation(len(batches))]

    def _target_tensor(self, targets: list[np.ndarray], indices: np.ndarray) -> torch.Tensor:
        stacked = np.stack([targets[i] for i in indices])
        if self._regression:
            return torch.as_tensor(stacked, dtype=torch.float32)
        return torch.as_tensor(stacked.argmax(axis=-1), dtype=torch.int64)

    def _fit_rows(self, batch: Series, targets: np.ndarray) -> None:
        core_epochs = self._check_training_parameters()
        rng = check_random_state(self.random_state)
        model_seed, trainer_seed = (int(s) for s in rng.randint(0, 2**31 - 1, size=2))
        n_outputs = targets.shape[1]
        series = batch.as_list()
        per_series_targets = list(targets) if self.per_series_ else split_by_series(targets, batch.lengths)
        with torch_threads(self.n_jobs):
            self.model_ = self._build_model(batch.n_features, n_outputs, model_seed)
            trainer = self._make_trainer(n_outputs, trainer_seed, freezes_core=core_epochs is not None)
            self.loss_curve_ = []
            for epoch in tqdm(range(self.epochs), disable=not self.progress, desc=type(self).__name__):
                if core_epochs is not None:
                    trainer.set_level(_CORE_PHASE if epoch < core_epochs else _RESERVOIR_PHASE)
                losses = [
                    trainer.train_step(
                        torch.as_tensor(np.stack([series[i] for i in indices]), dtype=torch.float32),
                        self._target_tensor(per_series_targets, indices),
                    )
                    for indices in self._minibatches(batch.lengths, rng)
                ]
                self.loss_curve_.append(float(np.mean(losses)))
        self.n_iter_ = self.epochs

    # --- prediction ------------------------------------------------------------------------------------

    @torch.no_grad()
    def _output_rows(self, batch: Series) -> np.ndarray:
        """Outputs per series or per step, every series starting from the mean initial state."""
        self.model_.eval()
        series = batch.as_list()
        outputs: list[np.ndarray] = [np.empty(0)] * len(series)
        with torch_threads(self.n_jobs):
            for group in _length_groups(batch.lengths):
                x = torch.as_tensor(np.stack([series[i] for i in group]), dtype=torch.float32)
                h0 = torch.full((len(group), self.model_.state_size), INITIAL_STATE_SCALE / 2)
                result = sequence_outputs(self.model_, x, self.per_series_, h0)[..., : self._n_model_outputs]
                for row, index in enumerate(group):
                    outputs[index] = result[row].double().numpy()
        return np.stack(outputs) if self.per_series_ else np.concatenate(outputs)


_PARAMETERS_DOC = """
    Parameters
    ----------
    units : int, default=64
        Units H of the cortical core.
    n_granule, n_purkinje : int, default=256, 64
        Granule (G) and Purkinje (P) cells of the cerebellar module.
    lr : float, default=1 / 1.5
        Leak rate α of the core, in (0, 1] (reservoirpy's ``lr``; the study's time constant τ = 1/α = 1.5).
    activation : str, default="tanh"
        Core nonlinearity. ``"leaky_relu"`` (slope 0.01) is the study's; ``"tanh"`` keeps the state
        bounded, so training on unscaled inputs and long series does not blow up.
    cerebellum : bool, default=True
        False builds the RNN-only baseline (same core and readout, no cerebellar module).
    core_epochs : int or None, default=None
        Epochs (passes over the data, as ``epochs``) the core learns before it is frozen. None trains
        everything end to end. An int k applies the frozen-core ("full reservoir") schedule: for the
        first k epochs the core and readout learn (cerebellum frozen); afterwards the core is frozen
        and the cerebellum and readout learn.
    optimizer : {"adam", "sgd"}, default="adam"
        The study used SGD (learning rate 0.01, momentum 0.1, Nesterov) over ~10^5 steps; Adam
        converges within the small epoch budgets of an estimator.
    learning_rate : float, default=0.01
    momentum : float, default=0.1
        SGD momentum (ignored by Adam).
    clip_norm : float or None, default=7.5
        Gradient-norm clipping.
    epochs : int, default=100
        Passes over the training series.
    batch_size : int, default=32
        Series per minibatch (minibatches hold series of equal length).
    random_state : int, RandomState or None, default=None
        Seeds the weight initialisation, the minibatch order and the training initial states.
    n_jobs : int or None, default=None
        torch threads used while fitting and predicting (None: torch's setting; -1: all CPUs).
    progress : bool, default=False
        Show a tqdm bar over epochs.
""" + LAYOUT_DOC + """    hidden_size : int, default="deprecated"
        Deprecated name of ``units`` (``fit`` warns ``FutureWarning``); removed in the next release.
    tau : float, default="deprecated"
        Deprecated: the leak as a time constant; set ``lr = 1/tau`` instead (``fit`` warns
        ``FutureWarning``); removed in the next release.
    frozen_core_after : int, default="deprecated"
        Deprecated name of ``core_epochs`` (``fit`` warns ``FutureWarning``); removed in the next release.

    Training draws each series' initial state h_0 ~ 0.1·U(0, 1) as in the study; prediction starts
    every series from the mean initial state 0.05, so outputs are deterministic and a series'
    prediction does not depend on the other series in X.
"""

_FITTED_DOC = """
    model_ : cbreservoir.models.CBRNN or ElmanRNN
        The trained torch model (float32).
    loss_curve_ : list of float
        Mean training loss of each epoch.
    n_iter_ : int
        Epochs run.
    per_series_ : bool
        Whether ``fit`` saw one target per series (else one per step). ``per_step_`` (its negation)
        is deprecated.
    n_features_in_ : int
        Features per time step (1 for a 2-D X, a univariate collection).
    layout_ : {"channels_last", "channels_first"}
        The order of the axes of the series of X in ``fit`` (``layout``, or read from the shapes).
"""


class CBRNNClassifier(SequenceClassifierMixin, _CBRNNBase):
    __doc__ = (
        """Sequence classifier: the cortico-cerebellar RNN trained by BPTT on cross-entropy.

    The readout reads the final state (one label per series, the study's setting) or every state
    (one label per step); ``predict_proba`` is the softmax of the logits.
"""
        + _PARAMETERS_DOC
        + """
    Attributes
    ----------
    classes_ : ndarray (n_classes,)
"""
        + _FITTED_DOC
    )


class CBRNNRegressor(SequenceRegressorMixin, _CBRNNBase):
    __doc__ = (
        """Sequence regressor: the cortico-cerebellar RNN trained by BPTT on the squared error.

    The linear readout of the final state (targets per series) or of every state (targets per step)
    gives the k outputs.
"""
        + _PARAMETERS_DOC
        + """
    Attributes
    ----------
    n_outputs_ : int
    scalar_targets_ : bool
        Whether the targets had no output axis (predictions then have none either).
"""
        + _FITTED_DOC
    )

    _regression = True

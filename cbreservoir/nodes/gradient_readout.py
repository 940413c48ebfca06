"""A linear readout trained by an optimiser (torch) instead of in closed form.

``y = x Wout + bias`` like :class:`~cbreservoir.nodes.Ridge`, fitted by full-batch gradient descent on a
mean-squared error (regression) or a cross-entropy (classification: integer labels, ``output_dim``
logits). Inside a graph compiled with :func:`cbreservoir.graph.compile_graph` the node is trained
jointly with the other nodes by backpropagation through time.

Examples
--------
>>> import numpy as np
>>> from cbreservoir.nodes import GradientReadout
>>> rng = np.random.default_rng(0)
>>> states, labels = rng.normal(size=(100, 5, 3)), rng.integers(0, 2, 100)
>>> readout = GradientReadout(loss="cross_entropy", n_steps=50).fit(states, labels)  # final steps
>>> readout.run(states).shape          # logits for every step
(100, 5, 2)
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from reservoirpy.node import TrainableNode

from cbreservoir.nodes._base import LOSSES, LinearReadoutMixin, infer_output_dim, stacked_training_rows
from cbreservoir.nodes.operators import ValidatedStepMixin
from cbreservoir.numerics.optim import OPTIMIZERS, build_optimizer, guarded_step
from cbreservoir.numerics.study import STUDY
from cbreservoir.utils.checks import (
    as_float_array,
    check_positive_int,
    check_real,
    check_series,
    check_targets,
    check_warmup,
    resolve_input_dim,
)

__all__ = ["GradientReadout", "infer_output_dim"]


class GradientReadout(LinearReadoutMixin, ValidatedStepMixin, TrainableNode):
    """Linear readout ``x Wout + bias`` trained by gradient descent.

    Parameters
    ----------
    output_dim : int, optional
        Outputs (the number of classes for ``loss="cross_entropy"``); inferred from the targets otherwise.
    loss : {"mse", "cross_entropy"}
    optimizer : {"adam", "sgd"}
        Adam, or plain SGD (no momentum), built by :func:`cbreservoir.numerics.optim.build_optimizer`.
    learning_rate : float
    n_steps : int
        Full-batch optimiser steps per :meth:`fit` (as ``n_steps`` of
        :func:`cbreservoir.training.train_graph`).
    weight_decay : float
        L2 penalty (the optimiser's ``weight_decay``).
    fit_bias : bool
        Learn ``bias`` (otherwise it stays zero).
    Wout : array (input_dim, output_dim), optional
        Initial weights (default zeros); :meth:`fit` continues from the current weights.
    bias : array (output_dim,), optional
    input_dim : int, optional
    name : str, optional

    Attributes
    ----------
    Wout : ndarray (input_dim, output_dim)
    bias : ndarray (output_dim,)
    loss_history : list of float
        Loss before each step of the last :meth:`fit`.
    """

    output_dim_from_loss = True

    def __init__(
        self,
        output_dim: int | None = None,
        loss: str = "mse",
        optimizer: str = "adam",
        learning_rate: float = STUDY.learning_rate,
        n_steps: int = 200,
        weight_decay: float = 0.0,
        fit_bias: bool = True,
        Wout: object | None = None,
        bias: object | None = None,
        input_dim: int | None = None,
        name: str | None = None,
    ) -> None:
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}; got {loss!r}")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}; got {optimizer!r}")
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = check_real(learning_rate, "learning_rate", minimum=0.0, strict=True)
        self.n_steps = check_positive_int(n_steps, "n_steps")
        self.weight_decay = check_real(weight_decay, "weight_decay", minimum=0.0)
        self.fit_bias = bool(fit_bias)
        self.name = name
        self.input_dim = None if input_dim is None else check_positive_int(input_dim, "input_dim")
        self.output_dim = None if output_dim is None else check_positive_int(output_dim, "output_dim")
        self.Wout = None if Wout is None else as_float_array(Wout, "Wout", dtype=np.float64)
        self.bias = None if bias is None else np.ravel(as_float_array(bias, "bias", dtype=np.float64))
        if self.Wout is not None:
            if self.Wout.ndim != 2:
                raise ValueError(f"Wout must have shape (input_dim, output_dim); got {self.Wout.shape}")
            self.input_dim, self.output_dim = self.Wout.shape
        self.loss_history: list[float] = []
        self.state = {}

    # ------------------------------------------------------------------ construction
    def initialize(self, x: object = None, y: object = None) -> None:
        """Set ``input_dim`` (from ``x``) and ``output_dim`` (from ``y`` unless given); zero weights.

        ``output_dim`` is inferred by :func:`infer_output_dim` with this node's ``loss``.
        """
        if x is not None:
            self.input_dim = resolve_input_dim(x, self.input_dim, owner=str(self))
        if self.output_dim is None and y is not None:
            self.output_dim = infer_output_dim(y, self.loss)
        if self.input_dim is None or self.output_dim is None:
            raise ValueError(f"{self} needs input_dim and output_dim (or data and targets) to initialize")
        if self.Wout is None:
            self.Wout = np.zeros((self.input_dim, self.output_dim))
        if self.bias is None:
            self.bias = np.zeros(self.output_dim)
        if self.Wout.shape != (self.input_dim, self.output_dim) or self.bias.shape != (self.output_dim,):
            raise ValueError(
                f"Wout must be ({self.input_dim}, {self.output_dim}) and bias ({self.output_dim},); "
                f"got {self.Wout.shape} and {self.bias.shape}"
            )
        self.state = {"out": np.zeros(self.output_dim)}
        self.initialized = True

    # ------------------------------------------------------------------ computation
    def _weights_or_raise(self) -> tuple[np.ndarray, np.ndarray]:
        """``(Wout, bias)``, for the outputs of :class:`~cbreservoir.nodes._base.LinearReadoutMixin`."""
        if not self.initialized:
            raise ValueError(f"{self} is not fitted: call fit(X, Y) or give Wout first")
        return self.Wout, self.bias

    # ------------------------------------------------------------------ training
    def _training_pairs(self, x: object, y: object, warmup: int) -> tuple[np.ndarray, np.ndarray]:
        """Feature rows (N, d) and target rows (N, k): final steps (per-series targets) or all steps."""
        series = check_series(x, n_features=self.input_dim, owner=str(self))
        targets = check_targets(series, y)
        if not targets.per_series:
            warmup = check_warmup(warmup, series.lengths)
        return stacked_training_rows(series, targets, warmup)

    def fit(self, x: object, y: object = None, warmup: int = 0) -> GradientReadout:
        """Fit by ``n_steps`` full-batch optimiser steps, starting from the current weights.

        Parameters
        ----------
        x : ndarray (T, d) or (S, T, d), or list of ndarray (T_i, d)
        y : targets per step (same layout as ``x``) or per series (S,) / (S, k) for the final step;
            integer class labels for ``loss="cross_entropy"``.
        warmup : int
            Steps discarded at the start of every series (per-step targets only).
        """
        if y is None:
            raise ValueError(f"{self} is supervised: fit needs targets y")
        if not self.initialized:
            self.initialize(x, y)
        features, targets = self._training_pairs(x, y, warmup)
        inputs = torch.from_numpy(features)
        if self.loss == "cross_entropy":
            labels = targets[:, 0]
            if targets.shape[1] != 1 or np.any(labels != np.round(labels)) or labels.min() < 0:
                raise ValueError(
                    f"cross_entropy needs integer class labels >= 0; got targets of shape {targets.shape}"
                )
            if labels.max() >= self.output_dim:
                raise ValueError(f"labels go up to {int(labels.max())} but output_dim is {self.output_dim}")
            target = torch.from_numpy(labels.astype(np.int64))
        else:
            if targets.shape[1] != self.output_dim:
                raise ValueError(
                    f"targets have {targets.shape[1]} outputs but output_dim is {self.output_dim}"
                )
            target = torch.from_numpy(targets)
        self._optimise(inputs, target)
        return self

    def _optimise(self, inputs: torch.Tensor, target: torch.Tensor) -> None:
        weight = torch.tensor(self.Wout, dtype=torch.float64, requires_grad=True)
        bias = torch.tensor(self.bias, dtype=torch.float64, requires_grad=self.fit_bias)
        parameters = [weight, bias] if self.fit_bias else [weight]
        optimizer = build_optimizer(
            [{"params": parameters}],
            name=self.optimizer,
            learning_rate=self.learning_rate,
            momentum=0.0,  # plain SGD: the node has no momentum setting
            weight_decay=self.weight_decay,
        )
        loss_function = F.cross_entropy if self.loss == "cross_entropy" else F.mse_loss
        self.loss_history = []
        for step in range(1, self.n_steps + 1):
            loss = loss_function(inputs @ weight + bias, target)
            guarded_step(optimizer, loss, step)  # raises TrainingDivergedError; the node keeps its weights
            self.loss_history.append(loss.item())
        self.Wout, self.bias = weight.detach().numpy().copy(), bias.detach().numpy().copy()

"""Sequence losses through the one trainer: :class:`SequenceTrainer` and :func:`sequence_outputs`.

:class:`~cbreservoir.training.GradientTrainer` trains final-step cross-entropy over a model's heads.
:class:`SequenceTrainer` overrides its hooks only, to train one readout on targets at the final step or at
every step, by cross-entropy on class indices or by squared error on real targets; optimiser, plasticity
schedule, clipping and divergence handling stay the trainer's. :func:`~cbreservoir.training.train_graph`
trains compiled graphs with it, and the CB-RNN estimators (:mod:`cbreservoir.estimators`) the torch models.

Examples
--------
>>> import torch
>>> from cbreservoir.models import build_model
>>> from cbreservoir.training import SequenceTrainer
>>> model = build_model("cbrnn", input_dim=1, n_classes=2, units=8, n_granule=16, n_purkinje=4, seed=0)
>>> trainer = SequenceTrainer(model, objective="mse", per_series=False, n_outputs=1, seed=0)
>>> x = torch.randn(4, 5, 1, generator=torch.Generator().manual_seed(0))
>>> loss = trainer.train_step(x, 0.5 * x)  # per-step targets (B, T, k)
>>> trainer.step_count
1
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from cbreservoir.graph.compile import CompiledGraph
from cbreservoir.nodes._base import LOSSES
from cbreservoir.training.trainer import GradientTrainer
from cbreservoir.utils.checks import check_bool, check_choice, check_int

__all__ = ["SequenceTrainer", "sequence_outputs"]


def sequence_outputs(model: nn.Module, x: torch.Tensor, per_series: bool, h0: torch.Tensor) -> torch.Tensor:
    """A model's first readout on ``x`` from ``h0``: at the final step (B, C), or at every step (B, T, C).

    Parameters
    ----------
    model : RecurrentNetwork
        A :mod:`cbreservoir.models` model (its ``forward`` and ``readouts``).
    x : tensor (B, T, d)
    per_series : bool
        The final step only (the model's ``forward``), else every step.
    h0 : tensor (B, state_size)
    """
    if per_series:
        return model(x, h0=h0)
    _, activity = model(x, h0=h0, return_activity=True)
    return model.readouts[0](activity["core"])


class SequenceTrainer(GradientTrainer):
    """:class:`GradientTrainer` with one readout at the final step or every step, and a choice of loss.

    Overrides the hooks :meth:`prepare_inputs`, :meth:`prepare_targets`, :meth:`outputs` and :meth:`loss`
    and :meth:`evaluate` (without ``mask`` or ``head``: a minibatch holds series of one length, scored on one
    readout); the optimiser, plasticity schedule, clipping and divergence handling are
    :class:`GradientTrainer`'s.

    A :class:`~cbreservoir.graph.CompiledGraph` runs from zero initial states (reservoirpy's, as the graph
    runs and predicts) and is scored on its single output node; a :mod:`cbreservoir.models` model runs
    from initial states drawn with :attr:`train_generator` (as :class:`GradientTrainer`) and is scored on
    its first readout (:func:`sequence_outputs`).

    Parameters
    ----------
    model : RecurrentNetwork or CompiledGraph
    objective : {"cross_entropy", "mse"}
        Cross-entropy on class indices, or mean squared error on real targets.
    per_series : bool
        Outputs and targets at the final step, ``(B, k)`` (class indices ``(B,)``), else at every step,
        ``(B, T, k)`` (class indices ``(B, T)``).
    warmup : int, default=0
        Leading steps left out of a per-step loss.
    n_outputs : int or None, default=None
        k, the readout units scored (a regression may use fewer than the readout holds); None: all.
    **kwargs
        As :class:`GradientTrainer`.

    Raises
    ------
    TypeError
        ``per_series`` not a bool.
    ValueError
        An unknown ``objective``, a negative ``warmup`` or ``n_outputs`` below 1.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        objective: str,
        per_series: bool,
        warmup: int = 0,
        n_outputs: int | None = None,
        **kwargs: Any,
    ) -> None:
        check_choice(objective, "objective", allowed=LOSSES)
        per_series = check_bool(per_series, "per_series")
        warmup = check_int(warmup, "warmup", minimum=0)
        n_outputs = None if n_outputs is None else check_int(n_outputs, "n_outputs", minimum=1)
        super().__init__(model, **kwargs)
        self.objective = objective
        self.per_series = per_series
        self.warmup = warmup
        self.n_outputs = n_outputs

    def prepare_inputs(
        self, x: torch.Tensor | Mapping[str, torch.Tensor]
    ) -> torch.Tensor | Mapping[str, torch.Tensor]:
        """A graph's inputs mapped to its input nodes (:meth:`CompiledGraph._map_inputs`) as given; else
        :meth:`GradientTrainer.prepare_inputs`."""
        if isinstance(x, Mapping):
            return x
        return super().prepare_inputs(x)

    def prepare_targets(self, y: torch.Tensor, head: int | None) -> torch.Tensor:
        """Targets on the trainer's device, a per-step target without its ``warmup`` steps.

        Parameters
        ----------
        y : tensor
            Float ``(B, k)`` / ``(B, T, k)`` for ``"mse"``; class indices ``(B,)`` / ``(B, T)`` for
            ``"cross_entropy"``.
        head : None
            One readout: no head to choose.

        Raises
        ------
        ValueError
            A ``head`` given.
        """
        if head is not None:
            raise ValueError(f"a SequenceTrainer trains one readout: head must be None, got {head!r}")
        y = y.to(self.device)
        return y if self.per_series or not self.warmup else y[:, self.warmup :]

    def outputs(
        self, x: torch.Tensor | Mapping[str, torch.Tensor], mask: object, generator: torch.Generator
    ) -> torch.Tensor:
        """The first ``n_outputs`` outputs at the final step (B, k), or at every step after ``warmup``
        (B, T - warmup, k).

        Raises
        ------
        ValueError
            A ``mask`` given (a minibatch holds series of one length).
        """
        if mask is not None:
            raise ValueError("a SequenceTrainer's minibatches hold series of one length: mask must be None")
        if isinstance(self.model, CompiledGraph):
            outputs = self.model(x)
            outputs = outputs[:, -1] if self.per_series else outputs
        else:
            h0 = self.model.initial_state(x.shape[0], generator)
            outputs = sequence_outputs(self.model, x, self.per_series, h0)
        if self.n_outputs is not None:
            outputs = outputs[..., : self.n_outputs]
        return outputs if self.per_series or not self.warmup else outputs[:, self.warmup :]

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy over every output row, or the mean squared error.

        Raises
        ------
        ValueError
            ``"mse"`` targets whose shape is not the outputs'.
        """
        if self.objective == "cross_entropy":
            return F.cross_entropy(outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1))
        if outputs.shape != targets.shape:
            raise ValueError(
                f"targets must match the outputs {tuple(outputs.shape)}; got {tuple(targets.shape)}"
            )
        return F.mse_loss(outputs, targets)

    @torch.inference_mode()
    def evaluate(
        self,
        x: torch.Tensor | Mapping[str, torch.Tensor],
        y: torch.Tensor,
        head: None = None,
        mask: None = None,
    ) -> dict[str, float]:
        """The loss on a batch without learning (initial states from :attr:`eval_generator`).

        Returns
        -------
        dict
            ``loss``: float; for ``"cross_entropy"`` also ``accuracy``: the fraction of output rows (series,
            or steps after ``warmup``) whose largest output is the target class.
        """
        self.model.eval()
        targets = self.prepare_targets(y, head)
        outputs = self.outputs(self.prepare_inputs(x), mask, self.eval_generator)
        result = {"loss": self.loss(outputs, targets).item()}
        if self.objective == "cross_entropy":
            result["accuracy"] = (outputs.argmax(dim=-1) == targets).double().mean().item()
        return result

"""The feedforward pipeline as a curriculum learner: core trained briefly then frozen >> cerebellum >> ridge.

Phase 1 (the first ``core_steps`` calls of :meth:`FeedforwardTrainer.train_step`): a leaky core and its
linear readout (e.g. :class:`~cbreservoir.models.ElmanRNN` with H = 64) train end to end through the
wrapped :class:`~cbreservoir.training.GradientTrainer` (BPTT, the study's optimiser); evaluation reads
that model's own readout. Then the core is frozen for good.

Phase 2 (every later step, no BPTT): the frozen core runs each sequence from a fresh initial state; its
final state h_T (B, H) is the mossy-fibre input of a fixed random granule layer
(:func:`~cbreservoir.numerics.functional.cerebellum_forward` through
:class:`~cbreservoir.models.blocks.CerebellarModule`, paper initialisation, seeded), whose code
g = ReLU(W_gc h_T) (B, G) feeds one linear readout per head learned in closed form by ridge regression
on one-hot targets. A training step only adds the batch to the sufficient statistics
(:class:`RidgeStatistics`: the :class:`~cbreservoir.nodes.Ridge` node's float64 statistics, centred per
chunk); the readout is solved by the node's solver path (Cholesky, falling back to the minimum-norm
eigendecomposition, bias from the means) when it is needed. The statistics restart whenever the
curriculum level changes: a readout serves one sequence length.
Reported losses in phase 2 are mean squared errors against the one-hot targets (summed over classes).

The object has the ``train_step`` / ``evaluate`` / ``set_level`` / ``state_dict`` / ``load_state_dict``
interface of :class:`~cbreservoir.training.GradientTrainer`, so
:class:`~cbreservoir.training.CurriculumTrainer` drives it, checkpoints it and resumes it unchanged.

Examples
--------
>>> from cbreservoir.models import ElmanRNN
>>> from cbreservoir.training import CurriculumTrainer, FeedforwardTrainer, GradientTrainer
>>> core = GradientTrainer(ElmanRNN(input_dim=1, units=64, seed=0), learning_rate=0.1, seed=0)
>>> learner = FeedforwardTrainer(core, core_steps=50, n_granule=256, seed=0)
>>> curriculum = CurriculumTrainer(learner, "dms", steps_per_epoch=50, test_batches=5, progress=False)
>>> history = curriculum.run(n_epochs=3)   # epoch 1: BPTT; epochs 2-3: frozen core, ridge readout
>>> learner.parameter_counts()["trainable"]  # (G + 1) x 2 classes
514
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cbreservoir.models import count_parameters
from cbreservoir.models.base import seeded_init
from cbreservoir.models.blocks import CerebellarModule
from cbreservoir.numerics.ridge import GramStatistics
from cbreservoir.numerics.study import STUDY
from cbreservoir.training.schedules import apply_plasticity
from cbreservoir.training.trainer import GradientTrainer, heads_accuracy
from cbreservoir.utils.checks import Integer, Real, check_params

__all__ = ["FeedforwardTrainer", "RidgeStatistics"]


class RidgeStatistics:
    """Ridge sufficient statistics of tensor batches: the Ridge node's statistics behind a torch interface.

    The rows are added to the statistics of the :class:`~cbreservoir.nodes.Ridge` node (float64,
    centred per chunk and merged pairwise, so a large common offset of the features costs no
    precision) and solved by the node's solver path (Cholesky, else the minimum-norm
    eigendecomposition); this class only converts tensors at the boundary.

    Parameters
    ----------
    n_inputs, n_outputs : int
        d (features) and k (targets).
    """

    def __init__(self, n_inputs: int, n_outputs: int) -> None:
        self._statistics = GramStatistics(n_inputs, n_outputs, centered=True)

    @property
    def count(self) -> int:
        """Rows added so far."""
        return self._statistics.count

    def update(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Add rows ``x`` (n, d) with targets ``y`` (n, k) (any dtype; accumulated in float64)."""
        self._statistics.update([(_float64_array(x), _float64_array(y))])

    def solve(self, ridge: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Readout ``(W (d, k), b (k,))`` minimising ``|x W + b - y|² + ridge |W|²`` over the rows added.

        Raises
        ------
        ValueError
            If no rows have been added.
        """
        if self.count == 0:
            raise ValueError("the ridge readout needs at least one training batch at this level; got none")
        weights, bias = self._statistics.solve(ridge)
        return torch.from_numpy(weights), torch.from_numpy(bias)

    def state_dict(self) -> dict[str, Any]:
        """The statistics with float64 tensors for arrays (``torch.load(weights_only=True)`` reads them).

        Keys: :data:`cbreservoir.numerics.ridge.STATISTICS_STATE_KEYS`.
        """
        return {
            key: torch.from_numpy(value) if isinstance(value, np.ndarray) else value
            for key, value in self._statistics.state_dict().items()
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`.

        Raises
        ------
        ValueError
            If ``state`` is of another format (e.g. the raw sums ``sum_x``, ``gram``, ... of before)
            or made for other dimensions.
        """
        if isinstance(state, dict):
            state = {key: _numpy_or_self(value) for key, value in state.items()}
        self._statistics.load_state_dict(state)


def _float64_array(tensor: torch.Tensor) -> np.ndarray:
    """A detached CPU tensor (n, m) as a float64 numpy array."""
    return tensor.detach().to(device="cpu", dtype=torch.float64).numpy()


def _numpy_or_self(value: Any) -> Any:
    """A tensor as a numpy array (CPU, its own dtype); anything else unchanged."""
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value


class FeedforwardTrainer:
    """Core trained briefly by BPTT, then frozen >> fixed granule layer >> ridge readout (see module doc).

    Parameters
    ----------
    core_trainer : GradientTrainer
        Trains the core model (one with ``return_activity`` giving ``"core"``, e.g. ``ElmanRNN``; no
        cerebellum in the loop) and its readout in phase 1; its train / eval generators draw the initial
        states in both phases.
    core_steps : int
        Training steps of phase 1 (the curriculum's ``steps_per_epoch`` x the epochs the core trains).
    n_granule : int
        G, granule cells of the expansion.
    ridge : float
        Ridge penalty of the readout (on the granule code, whose entries are ~1e-2 with the paper's
        W_gc ~ N(0, 0.01²)).
    seed : int, optional
        Seeds the granule weights (default: the core trainer's seed).

    Attributes
    ----------
    model : nn.Module
        The core model.
    cerebellum : CerebellarModule
        Its granule layer is the expansion (the Purkinje and nuclei layers are not used).
    step_count : int
        Training steps taken (both phases).
    level : int or None
        Curriculum level last given to :meth:`set_level`.
    """

    def __init__(
        self,
        core_trainer: GradientTrainer,
        core_steps: int,
        n_granule: int = STUDY.n_granule,
        ridge: float = 1e-6,
        seed: int | None = None,
    ) -> None:
        if not isinstance(core_trainer, GradientTrainer):
            raise TypeError(f"core_trainer must be a GradientTrainer, got {type(core_trainer).__name__}")
        check_params(
            dict(core_steps=core_steps, n_granule=n_granule, ridge=ridge),
            core_steps=Integer(0),
            n_granule=Integer(1),
            ridge=Real(0.0),
        )
        self.core_trainer = core_trainer
        self.model = core_trainer.model
        self.core_steps = int(core_steps)
        self.ridge = float(ridge)
        self.n_classes = [readout.out_features for readout in self.model.readouts]
        with seeded_init(core_trainer.seed if seed is None else seed):
            self.cerebellum = CerebellarModule(self.model.units, n_granule=int(n_granule))
        self.cerebellum.requires_grad_(False)
        self.step_count = 0
        self.level: int | None = None
        self._statistics = self._empty_statistics()
        self._readouts: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    # --- phases ------------------------------------------------------------------------------------------

    @property
    def core_frozen(self) -> bool:
        """Whether phase 1 is over (the next training step goes to the ridge readout)."""
        return self.step_count >= self.core_steps

    def _empty_statistics(self) -> list[RidgeStatistics]:
        return [RidgeStatistics(self.cerebellum.granule.out_features, classes) for classes in self.n_classes]

    def set_level(self, level: int) -> None:
        """Follow the curriculum: the core trainer's schedule; fresh readout statistics when N changes."""
        if level != self.level:
            self._statistics = self._empty_statistics()
            self._readouts = {}
        self.core_trainer.set_level(level)
        self.level = self.core_trainer.level
        if self.core_frozen:
            apply_plasticity(self.model, frozenset())  # nothing of the core model learns any more

    # --- phase 2 -----------------------------------------------------------------------------------------

    @torch.no_grad()
    def granule_code(self, x: Any, generator: torch.Generator) -> torch.Tensor:
        """Granule code of the core's final state: x (B, T, d) -> (B, G), h_0 drawn from ``generator``."""
        inputs = self.core_trainer.prepare_inputs(x)
        h0 = self.model.initial_state(inputs.shape[0], generator)
        _, activity = self.model(inputs, h0=h0, return_activity=True)
        return self.cerebellum(activity["core"][:, -1]).granule

    def _readout(self, head: int) -> tuple[torch.Tensor, torch.Tensor]:
        if head not in self._readouts:
            self._readouts[head] = self._statistics[head].solve(self.ridge)
        return self._readouts[head]

    def _scores(
        self, code: torch.Tensor, targets: list[tuple[int, torch.Tensor]]
    ) -> tuple[float, float | tuple[float, ...]]:
        """Summed mean squared error against one-hot targets, and :func:`heads_accuracy` of the readouts."""
        loss, outputs = 0.0, {}
        for head, labels in targets:
            weights, bias = self._readout(head)
            outputs[head] = code.to(torch.float64) @ weights + bias
            one_hot = torch.nn.functional.one_hot(labels, self.n_classes[head]).to(torch.float64)
            loss += ((outputs[head] - one_hot) ** 2).sum(dim=1).mean().item()
        return loss, heads_accuracy(outputs, targets)

    # --- the learner interface -----------------------------------------------------------------------------

    def train_step(self, x: Any, y: Any, head: int | None = None) -> float:
        """Phase 1: one BPTT step of the core trainer. Phase 2: add the batch to the readout statistics.

        Returns
        -------
        float
            Phase 1: the cross-entropy before the step. Phase 2: the squared error of the readout solved
            with this batch included.
        """
        if not self.core_frozen:
            loss = self.core_trainer.train_step(x, y, head=head)
            self.step_count += 1
            if self.core_frozen:
                apply_plasticity(self.model, frozenset())
            return loss
        targets = self.core_trainer.prepare_targets(y, head)
        code = self.granule_code(x, self.core_trainer.train_generator)
        for index, labels in targets:
            one_hot = torch.nn.functional.one_hot(labels, self.n_classes[index])
            self._statistics[index].update(code, one_hot)
            self._readouts.pop(index, None)
        self.step_count += 1
        return self._scores(code, targets)[0]

    def evaluate(self, x: Any, y: Any, head: int | None = None) -> dict[str, float | tuple[float, ...]]:
        """Accuracy and loss on a batch: the core model's readout until the first phase-2 step, then ridge.

        Raises
        ------
        ValueError
            In phase 2, if a head has no training data at the current level yet.
        """
        if self.step_count <= self.core_steps:
            return self.core_trainer.evaluate(x, y, head=head)
        targets = self.core_trainer.prepare_targets(y, head)
        loss, accuracy = self._scores(self.granule_code(x, self.core_trainer.eval_generator), targets)
        return {"accuracy": accuracy, "loss": loss}

    def parameter_counts(self) -> dict[str, int]:
        """Parameters of the final pipeline.

        Returns
        -------
        dict
            ``trainable``: the ridge readouts ((G + 1) x classes, summed over heads); ``frozen``: the core
            (trained in phase 1) and the fixed random granule layer (G x (H + 1)); ``total``: both. The
            phase-1 linear readout of the core model is discarded and not counted.
        """
        n_granule = self.cerebellum.granule.out_features
        readout_parameters = sum(count_parameters(readout) for readout in self.model.readouts)
        frozen = count_parameters(self.model) - readout_parameters + count_parameters(self.cerebellum.granule)
        trainable = sum((n_granule + 1) * classes for classes in self.n_classes)
        return {"trainable": trainable, "frozen": frozen, "total": trainable + frozen}

    def state_dict(self) -> dict[str, Any]:
        """What a resume needs: the core trainer's state, the granule layer, step count, level, statistics."""
        return {
            "core_trainer": self.core_trainer.state_dict(),
            "cerebellum": self.cerebellum.state_dict(),
            "core_steps": self.core_steps,
            "step_count": self.step_count,
            "level": self.level,
            "statistics": [statistics.state_dict() for statistics in self._statistics],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`.

        Raises
        ------
        ValueError
            If the checkpoint was made with another ``core_steps`` or number of heads, or holds readout
            statistics of another format (the raw sums of earlier versions): nothing is loaded then.
        """
        if state["core_steps"] != self.core_steps or len(state["statistics"]) != len(self._statistics):
            raise ValueError(
                f"checkpoint has core_steps={state['core_steps']} and {len(state['statistics'])} head(s); "
                f"this learner has core_steps={self.core_steps} and {len(self._statistics)}"
            )
        statistics = self._empty_statistics()
        for head_statistics, stored in zip(statistics, state["statistics"], strict=True):
            head_statistics.load_state_dict(stored)
        self.core_trainer.load_state_dict(state["core_trainer"])
        self.cerebellum.load_state_dict(state["cerebellum"])
        self.step_count = int(state["step_count"])
        self.level = state["level"]
        self._statistics, self._readouts = statistics, {}
        if self.core_frozen:
            apply_plasticity(self.model, frozenset())

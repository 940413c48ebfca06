"""The CB-RNN study's constants, in one frozen record read by every layer that defaults to them.

Here, at the math layer beside the network's specification (:mod:`.network`), because everything that
uses them sits above it: the nodes and models (sizes, leak), the trainers (optimiser), the reproduction
profiles, the estimators and the command line (defaults). Nothing here imports torch.

Examples
--------
>>> from cbreservoir.numerics.study import STUDY
>>> STUDY.units, STUDY.n_granule, STUDY.n_purkinje, STUDY.tau
(64, 256, 64, 1.5)
>>> STUDY.learning_rate, STUDY.momentum, STUDY.nesterov, STUDY.clip_norm
(0.01, 0.1, True, 7.5)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["STUDY", "Study"]


@dataclass(frozen=True)
class Study:
    """The study's protocol (docs: PAPER.md), one value each.

    Attributes
    ----------
    units : int
        Hidden size H of the cortical core.
    n_granule, n_purkinje : int
        Granule layer size G (the expansion) and Purkinje layer size P of the cerebellar module.
    tau : float
        Time constant τ of the leaky core; its leak rate α = 1/τ is :attr:`lr`.
    learning_rate, momentum : float
        SGD step size and momentum, the same for every module.
    nesterov : bool
        Nesterov momentum.
    clip_norm : float
        The global gradient norm is clipped to this value.
    batch_size : int
        Trials per training and test batch.
    steps_per_epoch : int
        SGD updates per curriculum epoch.
    test_batches : int
        Fresh test batches after each epoch.
    threshold : float
        Mean test accuracy that advances the curriculum from level N to N + 1.
    start_level : int
        First curriculum level N.
    n_epochs : int
        Curriculum epochs per network.
    n_networks : int
        Networks (seeds) per condition.
    granule_sizes : tuple of int
        Granule layer sizes G of the scaling sweep (each against an RNN-only of matched parameters).
    switching_window : int
        Epochs over which task switching's mean active N is reported (the first 650 of 1000).
    recovery_steps : int
        Readout-only SGD steps of the readout recovery after the cerebellum is switched off.
    dimensionality_batches : int
        Task batches (of ``batch_size`` trials) at a level N whose activity gives the dimensionality.
    """

    units: int = 64
    n_granule: int = 256
    n_purkinje: int = 64
    tau: float = 1.5
    learning_rate: float = 0.01
    momentum: float = 0.1
    nesterov: bool = True
    clip_norm: float = 7.5
    batch_size: int = 64
    steps_per_epoch: int = 100
    test_batches: int = 50
    threshold: float = 0.98
    start_level: int = 2
    n_epochs: int = 1000
    n_networks: int = 8
    granule_sizes: tuple[int, ...] = (64, 128, 256, 512)
    switching_window: int = 650
    recovery_steps: int = 100
    dimensionality_batches: int = 10

    @property
    def lr(self) -> float:
        """The leak rate α = 1/τ (reservoirpy's ``lr``), computed as ``1 / 1.5`` as in the study (bitwise)."""
        return 1 / self.tau


#: The study's constants.
STUDY = Study()

"""Gradient training: the optimiser loop, plasticity schedules, curriculum and ensembles.

The package's public names; the modules are its implementation.
"""

from cbreservoir.numerics.optim import TrainingDivergedError
from cbreservoir.training.continual import ContinualTrainer, make_curriculum
from cbreservoir.training.curriculum import CurriculumHistory, CurriculumTrainer, EpochRecord, run_curricula
from cbreservoir.training.ensemble import EnsembleCurriculumTrainer, EnsembleTrainer
from cbreservoir.training.feedforward import FeedforwardTrainer, RidgeStatistics
from cbreservoir.training.graph import GraphTrainingResult, train_core_then_freeze, train_graph
from cbreservoir.training.schedules import (
    EndToEnd,
    Fixed,
    FullReservoir,
    Interleaved,
    PlasticitySchedule,
    ReducedRecurrentPlasticity,
    frozen_parameters,
    frozen_phases,
    make_schedule,
)
from cbreservoir.training.sequence import SequenceTrainer
from cbreservoir.training.trainer import GradientTrainer

__all__ = [
    "ContinualTrainer",
    "CurriculumHistory",
    "CurriculumTrainer",
    "EndToEnd",
    "EnsembleCurriculumTrainer",
    "EnsembleTrainer",
    "EpochRecord",
    "FeedforwardTrainer",
    "Fixed",
    "FullReservoir",
    "GradientTrainer",
    "GraphTrainingResult",
    "Interleaved",
    "PlasticitySchedule",
    "ReducedRecurrentPlasticity",
    "RidgeStatistics",
    "SequenceTrainer",
    "TrainingDivergedError",
    "frozen_parameters",
    "frozen_phases",
    "make_curriculum",
    "make_schedule",
    "run_curricula",
    "train_core_then_freeze",
    "train_graph",
]

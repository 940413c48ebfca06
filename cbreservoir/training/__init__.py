"""Gradient training: the optimiser loop, plasticity schedules, curriculum and ensembles.

Each owner adds its public names to ``_EXPORTS`` (name -> submodule).
"""

from cbreservoir.utils.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "GradientTrainer": ".trainer",
    "TrainingDivergedError": "cbreservoir.numerics.optim",
    "PlasticitySchedule": ".schedules",
    "EndToEnd": ".schedules",
    "FullReservoir": ".schedules",
    "Interleaved": ".schedules",
    "ReducedRecurrentPlasticity": ".schedules",
    "Fixed": ".schedules",
    "make_schedule": ".schedules",
    "frozen_parameters": ".schedules",
    "frozen_phases": ".schedules",
    "CurriculumTrainer": ".curriculum",
    "CurriculumHistory": ".curriculum",
    "EpochRecord": ".curriculum",
    "ContinualTrainer": ".continual",
    "make_curriculum": ".continual",
    "EnsembleTrainer": ".ensemble",
    "EnsembleCurriculumTrainer": ".ensemble",
    "train_fixed_level": ".ensemble",
    "train_graph": ".graph",
    "train_core_then_freeze": ".graph",
    "GraphTrainingResult": ".graph",
    "FeedforwardTrainer": ".feedforward",
    "RidgeStatistics": ".feedforward",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

"""Ensembles: E networks of one architecture trained together as one batched model.

* :mod:`.trainer` — :class:`EnsembleTrainer`, the batched trainer (each member as its solo run);
* :mod:`.curriculum` — :class:`EnsembleCurriculumTrainer`, each member through its own curriculum, lock step.

The ``cbreservoir train --mode fixed_level --ensemble E`` experiment is
:func:`cbreservoir.experiments.fixed_level.train_fixed_level`.
"""

from .curriculum import EnsembleCurriculumTrainer
from .trainer import EnsembleTrainer

__all__ = ["EnsembleCurriculumTrainer", "EnsembleTrainer"]

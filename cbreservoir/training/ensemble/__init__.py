"""Ensembles: E networks of one architecture trained together as one batched model.

* :mod:`.trainer` — :class:`EnsembleTrainer`, the batched trainer (each member as its solo run);
* :mod:`.curriculum` — :class:`EnsembleCurriculumTrainer`, each member through its own curriculum, lock step;
* :mod:`.fixed_level` — :func:`train_fixed_level`, the ``cbreservoir train --ensemble E`` entry point.
"""

from .curriculum import EnsembleCurriculumTrainer
from .fixed_level import train_fixed_level
from .trainer import EnsembleTrainer

__all__ = ["EnsembleCurriculumTrainer", "EnsembleTrainer", "train_fixed_level"]

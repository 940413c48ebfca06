"""The fixed tables of what a cbreservoir file can hold: classes, named tuples, functions, generators.

A name read from a file only ever selects an entry of these tables; nothing is imported or looked up by
a name from a file. The tables are built from the objects themselves (a class's key is its
``module:qualname``), on first use, so that a file of plain arrays never imports torch or reservoirpy.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from cbreservoir.utils.fileformat import class_path

__all__ = [
    "DEFAULT_FACTORIES",
    "bit_generators",
    "classes",
    "function_path",
    "functions",
    "named_tuples",
    "torch_device",
]

#: Default factories a saved ``defaultdict`` may have, by name.
DEFAULT_FACTORIES: dict[str, type] = {factory.__name__: factory for factory in (dict, list, set, int, float)}

_DEVICE = re.compile(r"(cpu|cuda|mps|meta)(:[0-9]{1,3})?")


#: The class paths that files written before a class moved hold, and the class's path now.
MOVED_CLASSES = {
    "cbreservoir.nodes.model:Model": "cbreservoir.graph.model:Model",
    "cbreservoir.nodes.ridge:_Statistics": "cbreservoir.numerics.ridge:GramStatistics",
}


def current_class_path(path: str) -> str:
    """The path of the class a file names ``path`` (itself, or where it moved: :data:`MOVED_CLASSES`)."""
    return MOVED_CLASSES.get(path, path)


def function_path(function: Any) -> str:
    """``module:name`` of a module-level function."""
    return f"{function.__module__}:{function.__name__}"


@cache
def classes() -> dict[str, type]:
    """The classes whose objects are saved attribute by attribute, by :func:`class_path`.

    cbreservoir's nodes, compiled graphs, trainers (also curricula), schedules and estimators;
    reservoirpy's ``Model``, ``ESN`` and the nodes cbreservoir uses; the torch modules and optimisers
    these hold. Only these exact classes: a subclass is not one of them.
    """
    import torch
    from reservoirpy import ESN
    from reservoirpy.model import Model
    from reservoirpy.nodes import Input, Output
    from reservoirpy.nodes import Reservoir as PeerReservoir
    from reservoirpy.nodes import Ridge as PeerRidge

    from cbreservoir.estimators import (
        CBRNNClassifier,
        CBRNNRegressor,
        CerebellarReservoirClassifier,
        CerebellarReservoirRegressor,
    )
    from cbreservoir.graph.compile import (
        CompiledGraph,
        _CerebellumStep,
        _InputStep,
        _LinearReadoutStep,
        _ReservoirStep,
    )
    from cbreservoir.graph.model import Model as BatchedModel
    from cbreservoir.models.noise import Noise
    from cbreservoir.nodes import Cerebellum, GradientReadout, Reservoir, Ridge
    from cbreservoir.numerics.ridge import GramStatistics
    from cbreservoir.training import GradientTrainer
    from cbreservoir.training.curriculum import CurriculumHistory, CurriculumTrainer, EpochRecord
    from cbreservoir.training.ensemble import EnsembleTrainer
    from cbreservoir.training.schedules import (
        Adaptive,
        EndToEnd,
        Fixed,
        FullReservoir,
        Interleaved,
        ReducedRecurrentPlasticity,
    )

    nn = torch.nn
    listed = (
        Reservoir,
        Cerebellum,
        Ridge,
        GramStatistics,
        GradientReadout,
        CompiledGraph,
        _InputStep,
        _ReservoirStep,
        _CerebellumStep,
        _LinearReadoutStep,
        GradientTrainer,
        EnsembleTrainer,
        CurriculumTrainer,
        CurriculumHistory,
        EpochRecord,
        EndToEnd,
        Fixed,
        FullReservoir,
        Interleaved,
        ReducedRecurrentPlasticity,
        Adaptive,
        Noise,
        CBRNNClassifier,
        CBRNNRegressor,
        CerebellarReservoirClassifier,
        CerebellarReservoirRegressor,
        Model,
        BatchedModel,
        ESN,
        Input,
        Output,
        PeerReservoir,
        PeerRidge,
        nn.Sequential,
        nn.ModuleList,
        nn.ModuleDict,
        nn.Linear,
        nn.Tanh,
        nn.ReLU,
        nn.Sigmoid,
        nn.Identity,
        torch.optim.SGD,
        torch.optim.Adam,
    )
    return {class_path(cls): cls for cls in listed}


@cache
def named_tuples() -> dict[str, type]:
    """The named tuples a file may hold, by :func:`class_path`."""
    from cbreservoir.numerics.functional import CerebellarActivity

    return {class_path(cls): cls for cls in (CerebellarActivity,)}


@cache
def functions() -> dict[str, Callable[..., Any]]:
    """The functions a file may refer to (activations), by :func:`function_path`."""
    from cbreservoir.numerics.activations import NUMPY_ACTIVATIONS
    from cbreservoir.numerics.functional import ACTIVATIONS

    # reservoirpy's functions under their names, the paper's leaky_relu, np.tanh, and the torch twins
    listed = (*NUMPY_ACTIVATIONS.values(), np.tanh, *ACTIVATIONS.values())
    return {function_path(function): function for function in listed}


@cache
def bit_generators() -> dict[str, type]:
    """NumPy's bit generators, by class name (the ``"bit_generator"`` field of a generator's state)."""
    listed = (np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937, np.random.Philox, np.random.SFC64)
    return {cls.__name__: cls for cls in listed}


def torch_device(name: Any) -> Any:
    """The torch device called ``name`` (``"cpu"``, ``"cuda:1"``, ``"mps"``, ``"meta"``).

    Raises
    ------
    ValueError
        If ``name`` is not such a name.
    """
    import torch

    if not isinstance(name, str) or _DEVICE.fullmatch(name) is None:
        raise ValueError(f"a torch device must be 'cpu', 'cuda[:<index>]', 'mps' or 'meta', got {name!r}")
    return torch.device(name)

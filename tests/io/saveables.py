"""One small genuine object of every class a cbreservoir file can hold, a use of each, and mutations.

tests/io/test_declared.py and benchmarks/fuzz_declared.py craft files from them (issue 34): one field of
one object replaced or removed, or an attribute named after one of its class's methods injected, and the
file signed again. A loaded object must behave as a genuine one, so :data:`USES` runs each the way a user
would; anything a crafted file makes load or that use do must be a ``ValueError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cbreservoir.io import save
from tests.io import crafting

X = np.random.default_rng(0).normal(size=(6, 5, 2))
LABELS = (X[:, -1, 0] > 0).astype(int)


def _cbrnn(seed: int = 0) -> object:
    from cbreservoir.models import CBRNN

    return CBRNN(1, units=4, n_granule=8, n_purkinje=4, seed=seed)


def _batch() -> tuple:
    from cbreservoir.tasks import make_batch

    return make_batch("dms", 3, batch_size=4, seed=0)


def build() -> dict[str, object]:
    """Name -> a genuine object (fitted where it can be), one per saveable class, small."""
    import torch
    from reservoirpy import ESN
    from reservoirpy.nodes import Input, Output
    from reservoirpy.nodes import Reservoir as PeerReservoir
    from reservoirpy.nodes import Ridge as PeerRidge

    from cbreservoir.estimators import (
        CBRNNClassifier,
        CBRNNRegressor,
        CerebellarReservoirClassifier,
        CerebellarReservoirRegressor,
    )
    from cbreservoir.graph.compile import compile_graph
    from cbreservoir.models import Noise
    from cbreservoir.nodes import Cerebellum, GradientReadout, Reservoir, Ridge
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

    series, target = X[0], X[0][:, :1]
    graph = Input() >> Reservoir(4, seed=1) >> Cerebellum(6, n_purkinje=3, seed=2) >> Ridge(ridge=1e-3)
    graph.fit(series, target)
    readout = GradientReadout(n_steps=2).fit(series, target)
    batched = (Reservoir(3, seed=4) >> Ridge(ridge=1e-3)).fit(series, target)
    peer = Input() >> PeerReservoir(5, seed=0) >> PeerRidge(ridge=1e-3) >> Output()
    peer.fit(series, target)
    esn = ESN(units=6, ridge=1e-3, seed=0)
    esn.fit(series, target)
    small = {"epochs": 1, "units": 4, "n_granule": 6, "n_purkinje": 3, "random_state": 0}
    return {
        "graph": graph,
        "batched": batched,
        "reservoir": graph.nodes[1],
        "ridge": graph.nodes[3],
        "gradient_readout": readout,
        "peer_graph": peer,
        "esn": esn,
        "compiled": compile_graph(graph),
        "trainer": GradientTrainer(_cbrnn()),
        "adaptive_noisy_trainer": _observed(
            GradientTrainer(_cbrnn(), schedule=Adaptive(), noise=Noise(state=0.1))
        ),
        "curriculum": CurriculumTrainer(
            GradientTrainer(_cbrnn()), "dms", steps_per_epoch=1, test_batches=1, progress=False
        ),
        "history": CurriculumHistory("dms", 0.9, [EpochRecord(1, 2, 0.95, 0.3, 0.25, 1.5, True, (0.95,))]),
        "ensemble": EnsembleTrainer([_cbrnn(seed) for seed in range(2)], seeds=range(2)),
        "schedules": [
            EndToEnd(),
            FullReservoir(),
            Interleaved(k=3),
            ReducedRecurrentPlasticity(0.5),
            Adaptive(patience=3, plateau=None),
            Fixed(("readout",)),
        ],
        "reservoir_classifier": CerebellarReservoirClassifier(units=6, n_granule=8, random_state=0).fit(
            X, LABELS
        ),
        "reservoir_regressor": CerebellarReservoirRegressor(units=6, n_granule=8, random_state=0).fit(
            X, X[:, -1, 0]
        ),
        "cbrnn_classifier": CBRNNClassifier(**small).fit(X, LABELS),
        "cbrnn_regressor": CBRNNRegressor(**small).fit(X, X[:, -1, 0]),
        "torch": torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh()),
    }


def _train_step(trainer: object) -> object:
    return trainer.train_step(*_batch())


def _observed(trainer: object) -> object:
    """``trainer`` after an epoch at N = 3 that did not pass (an adaptive schedule's state moves)."""
    trainer.set_level(3)
    trainer.observe_epoch(level=3, solved=False, test_loss=0.5)
    return trainer


def _ensemble_step(ensemble: object) -> object:
    batches = [_batch() for _ in range(ensemble.n_members)]
    return ensemble.train_step([x for x, _ in batches], [y for _, y in batches])


def _schedules(schedules: list) -> object:
    return [
        (sorted(s.trainable_groups(level)), s.learning_rate_scales) for s in schedules for level in (0, 3, 9)
    ]


def _torch(module: object) -> object:
    import torch

    return module(torch.ones(1, 2))


#: Name -> how a user would use the loaded object (its result compares with the genuine one's).
USES: dict[str, Callable[[object], object]] = {
    "graph": lambda graph: graph.run(X[1]),
    "batched": lambda graph: graph.run(X),
    "reservoir": lambda node: node.run(X[1]),
    "ridge": lambda node: node.run(np.ones((3, node.input_dim))),
    "gradient_readout": lambda node: node.run(X[1]),
    "peer_graph": lambda graph: graph.run(X[1]),
    "esn": lambda graph: graph.run(X[1]),
    "compiled": lambda compiled: compiled(X[1:3]).detach().numpy(),
    "trainer": _train_step,
    "adaptive_noisy_trainer": lambda trainer: (_train_step(trainer), trainer.schedule_state),
    "curriculum": lambda curriculum: _train_step(curriculum.trainer),
    "ensemble": _ensemble_step,
    "history": lambda history: (history.levels, history.accuracies, history.losses),
    "schedules": _schedules,
    "reservoir_classifier": lambda estimator: estimator.predict_proba(X),
    "reservoir_regressor": lambda estimator: estimator.predict(X),
    "cbrnn_classifier": lambda estimator: estimator.predict_proba(X),
    "cbrnn_regressor": lambda estimator: estimator.predict(X),
    "torch": _torch,
}


# ------------------------------------------------------------------------------------------- mutations

#: Values injected into a crafted state: functions, a NumPy type (callable, does nothing), bombs, NaN.
INJECTED: list[Any] = [
    {"__type__": "function", "path": "reservoirpy.activationsfunc:identity"},
    {"__type__": "function", "path": "numpy:tanh"},
    {"__type__": "dtype", "name": "<f8", "as_type": True},
    0,
    -1,
    2**31 - 1,
    10**12,
    "x",
    None,
    True,
    [],
    {"__type__": "float", "value": "nan"},
]

#: ``choose(options, label)`` picks one of ``options`` (hypothesis draws, or a seeded generator).
Choose = Callable[[Sequence[Any], str], Any]


def objects(node: object, found: list | None = None) -> list[dict]:
    """Every ``object`` entry of a payload, outermost first."""
    found = [] if found is None else found
    if isinstance(node, dict):
        if node.get("__type__") == "object":
            found.append(node)
        for value in node.values():
            objects(value, found)
    elif isinstance(node, list):
        for item in node:
            objects(item, found)
    return found


def methods() -> dict[str, list[str]]:
    """Class path -> its methods and private checks (what an injected attribute would shadow)."""
    from cbreservoir.io._registry import classes

    return {
        path: sorted(
            name for name in dir(cls) if callable(getattr(cls, name, None)) and not name.startswith("__")
        )
        for path, cls in classes().items()
    }


def mutate(arrays: dict, header: dict, shadowed: dict[str, list[str]], choose: Choose) -> None:
    """One mutation of one object of ``header``: a method's name injected, a field replaced, removed or
    its integer moved by one, or one stored array one row shorter (its shape no longer fits)."""
    entries = objects(header["payload"])
    entry = entries[choose(range(len(entries)), "entry")]
    state = entry["state"]
    action = choose(["method", "replace", "delete", "nudge", "shorten"], "action")
    value = choose(INJECTED, "value")
    numbers = sorted(key for key, item in state.items() if type(item) is int)
    if action == "nudge" and numbers:
        field = choose(numbers, "field")
        state[field] += choose([-1, 1], "step")
    elif action == "shorten" and any(len(shape) and shape[0] for _, shape, _ in header["arrays"].values()):
        key = choose(
            sorted(k for k, (_, shape, _) in header["arrays"].items() if len(shape) and shape[0]), "array"
        )
        header["arrays"][key][1][0] -= 1
        arrays[key] = arrays[key][:-1].copy()
    elif action in ("method", "nudge", "shorten") or not state:
        state[choose(shadowed.get(entry["class"]) or ["run", "_check_invariants"], "method")] = value
    elif action == "replace":
        state[choose(sorted(state), "field")] = value
    else:
        del state[choose(sorted(state), "field")]


def saved(directory: Path) -> dict[str, tuple[object, tuple]]:
    """Name -> (a genuine object of :func:`build`, the parts of its saved file)."""
    return {
        name: (obj, crafting.parts(save(obj, directory / f"{name}.cbr"))) for name, obj in build().items()
    }


def crafted(path: Path, parts: tuple, edit: Callable[[dict, dict], None]) -> Path:
    """A signed copy of a saved file's ``parts`` after ``edit(arrays, header)``."""
    arrays, metadata, header = parts
    arrays, header = dict(arrays), json.loads(json.dumps(header))
    edit(arrays, header)
    return crafting.write(path, arrays, metadata, header)

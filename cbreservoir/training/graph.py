"""Gradient fits of a graph through the one trainer: :func:`train_graph` and :func:`train_core_then_freeze`.

:func:`train_graph` compiles a graph of cbreservoir nodes (:func:`~cbreservoir.graph.compile_graph`),
trains it with :class:`~cbreservoir.training.SequenceTrainer` (the
:class:`~cbreservoir.training.GradientTrainer` with final-step or per-step targets: its optimiser, clipping,
divergence handling and plasticity schedules) and writes the weights
back into the nodes, so the graph then runs and saves as usual. Which nodes learn is a plasticity schedule:
by default a :class:`~cbreservoir.training.schedules.Fixed` one made of the module groups whose nodes all
learn (frozen reservoirs, ``Reservoir(frozen=True)``, stay fixed; ``trainable=`` overrides per node).
:func:`train_core_then_freeze` is the :class:`~cbreservoir.training.FullReservoir` schedule's first phase
applied to a graph: core and readouts learn, the cerebellum is held, then the core node is frozen;
afterwards :func:`train_graph` trains the cerebellum and readouts, or — in the feedforward wiring —
:func:`~cbreservoir.graph.fit_ridge_readout` fits a Ridge readout in closed form.

Examples
--------
>>> import numpy as np
>>> from cbreservoir.nodes import Cerebellum, GradientReadout, Reservoir
>>> from cbreservoir.training import train_graph
>>> core = Reservoir(20, lr=0.5, sr=0.9, seed=0, frozen=True, name="core")
>>> graph = core >> Cerebellum(64, seed=0, name="cb") >> GradientReadout(loss="cross_entropy", name="out")
>>> x = np.random.default_rng(0).integers(0, 2, (64, 6, 1)).astype(float)
>>> y = (x[:, -2, 0] == x[:, -1, 0]).astype(int)
>>> result = train_graph(graph, x, y, n_steps=20, seed=0, progress=False)
>>> len(result.losses), result.graph.trainable_nodes()
(20, ['cb', 'out'])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from reservoirpy.model import Model
from reservoirpy.node import Node
from tqdm.auto import tqdm

from cbreservoir.graph.compile import CompiledGraph, compile_graph
from cbreservoir.graph.initialize import initialize_graph
from cbreservoir.nodes._base import LOSSES
from cbreservoir.nodes.reservoir import Reservoir
from cbreservoir.numerics.study import STUDY
from cbreservoir.training.schedules import (
    MODULE_GROUPS,
    Fixed,
    FullReservoir,
    PlasticitySchedule,
    apply_plasticity,
)
from cbreservoir.training.sequence import SequenceTrainer

__all__ = ["GraphTrainingResult", "train_core_then_freeze", "train_graph"]

@dataclass(kw_only=True)
class GraphTrainingResult:
    """What :func:`train_graph` returns: the compiled graph, the loss per step, steps actually taken."""

    graph: CompiledGraph
    losses: list[float] = field(default_factory=list)
    stopped_early: bool = False


def _compiled(
    graph: Model | Node | CompiledGraph, x: object, y: object, loss: str, device: str | torch.device = "cpu"
) -> CompiledGraph:
    """``graph`` itself when already compiled, else the graph initialized from the data and compiled."""
    if isinstance(graph, CompiledGraph):
        return graph
    initialize_graph(graph, x, y, loss=loss)
    return compile_graph(graph, device=device)


def _targets(y: object, loss: str, dtype: torch.dtype) -> torch.Tensor:
    array = np.asarray(y)
    if not np.all(np.isfinite(array)):
        raise ValueError("y must be finite; got NaN or inf")
    if loss == "cross_entropy":
        if array.dtype.kind not in "iub" and np.any(array != np.round(array)):
            raise ValueError(f"cross_entropy needs integer class labels; got dtype {array.dtype}")
        return torch.as_tensor(array.astype(np.int64))
    if array.ndim == 1:  # (S,): one output per series, as infer_output_dim reads it
        array = array[:, None]
    return torch.as_tensor(array, dtype=dtype)


def _node_groups(graph: CompiledGraph) -> dict[str, str]:
    """Node key -> its module group, for the nodes with learnable parameters."""
    owner = {id(p): group for group, parameters in graph.module_groups().items() for p in parameters}
    return {
        key: owner[id(parameters[0])]
        for key in graph.steps
        if (parameters := graph.node_parameters(key))
    }


def _per_group(graph: CompiledGraph, per_node: Mapping[str, Any], what: str) -> dict[str, Any]:
    """A per-node setting as a per-group one; every node of a group must share its value.

    Raises
    ------
    ValueError
        An unknown node, or nodes of one group given different values.
    """
    unknown = sorted(set(per_node) - set(graph.steps))
    if unknown:
        raise ValueError(f"{what} must name nodes of the graph {list(graph.steps)}, got {unknown}")
    groups = _node_groups(graph)
    values: dict[str, Any] = {}
    for key, group in groups.items():
        if key not in per_node:
            continue
        if group in values and values[group] != per_node[key]:
            raise ValueError(
                f"{what} must agree within a module group (plasticity is per group: core, cerebellum, "
                f"readout); the {group} nodes {sorted(k for k, g in groups.items() if g == group)} got "
                f"{values[group]!r} and {per_node[key]!r}"
            )
        values[group] = per_node[key]
    return values


def _plasticity_schedule(graph: CompiledGraph, trainable: Mapping[str, bool]) -> Fixed:
    """The :class:`Fixed` schedule of the learning groups: frozen reservoirs held, ``trainable`` overrides."""
    learns = {key: not getattr(node, "frozen", False) for key, node in graph.nodes.items()}
    learns.update({key: bool(value) for key, value in trainable.items()})
    per_group = _per_group(graph, learns, "trainable")
    groups = tuple(group for group in MODULE_GROUPS if per_group.get(group))
    if not groups:
        raise ValueError("no node is trainable: unfreeze a node or pass trainable={...}")
    return Fixed(groups)


def train_graph(
    graph: Model | Node | CompiledGraph,
    x: np.ndarray | torch.Tensor | Mapping[str, Any],
    y: np.ndarray | torch.Tensor,
    *,
    n_steps: int = 100,
    loss: str = "cross_entropy",
    batch_size: int | None = None,
    optimizer: str = "adam",
    learning_rate: float = STUDY.learning_rate,
    momentum: float = STUDY.momentum,
    nesterov: bool = STUDY.nesterov,
    clip_norm: float | None = STUDY.clip_norm,
    trainable: Mapping[str, bool] | None = None,
    schedule: PlasticitySchedule | str | None = None,
    level: int | None = None,
    node_learning_rates: Mapping[str, float] | None = None,
    warmup: int = 0,
    stop_when: Callable[[CompiledGraph], bool] | None = None,
    seed: int = 0,
    progress: bool = True,
    write_back: bool = True,
    device: str | torch.device = "cpu",
) -> GraphTrainingResult:
    """Train a graph of cbreservoir nodes by BPTT with :class:`SequenceTrainer`; write the weights back.

    Parameters
    ----------
    graph : reservoirpy Model, node or CompiledGraph
        Nodes must be initialized (run or fit once).
    x : array (S, T, d), or dict input-node name -> array
    y : targets. ``loss="cross_entropy"``: int labels (S,) read at the final step, or (S, T) per step;
        ``loss="mse"``: (S,) or (S, k) at the final step, or (S, T, k) per step.
    n_steps : int
        Optimiser steps (each on one minibatch).
    loss : {"cross_entropy", "mse"}
    batch_size : int, optional
        Minibatch size (series drawn without replacement with ``seed``); default: the whole batch.
    optimizer : {"adam", "sgd"}
        Adam by default (GradientTrainer's default is the study's SGD).
    learning_rate, momentum, nesterov, clip_norm
        As in :class:`GradientTrainer` (``clip_norm=None`` disables clipping).
    trainable : dict node name -> bool, optional
        Plasticity per node; default: frozen reservoirs (``frozen=True``) fixed, everything else learns.
        Plasticity is per module group (Reservoir nodes: core, Cerebellum nodes: cerebellum, readout
        nodes: readout), so the nodes of one group must agree; it becomes a :class:`Fixed` schedule.
    schedule : PlasticitySchedule or str, optional
        Instead of ``trainable``: any plasticity schedule, applied at curriculum ``level``.
    level : int, optional
        The level given to ``schedule`` (None: its first phase).
    node_learning_rates : dict node name -> float, optional
        Per-node learning rates (default ``learning_rate``); the nodes of one group must agree.
    warmup : int
        Steps ignored by a per-step loss.
    stop_when : callable, optional
        Called with the compiled graph after every step; training stops when it returns True.
    seed : int
        Draws the minibatches (and seeds the trainer).
    progress : bool
        Show a tqdm bar.
    write_back : bool
        Copy the trained weights into the nodes at the end (also after a divergence).
    device : str or torch.device
        Where the compiled graph runs (``"cuda"`` when available); the nodes stay numpy.

    Returns
    -------
    GraphTrainingResult

    Raises
    ------
    ValueError
        A bad ``loss``, ``trainable`` together with ``schedule``, per-node settings that disagree within a
        group, no trainable node, or targets that do not fit ``x``.
    TrainingDivergedError
        On a non-finite loss or gradient; the weights of the last good step are written back.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}; got {loss!r}")
    if trainable is not None and schedule is not None:
        raise ValueError("give trainable (per node) or schedule, not both")
    compiled = _compiled(graph, x, y, loss, device)
    if schedule is None:
        schedule = _plasticity_schedule(compiled, trainable or {})
    inputs = compiled._map_inputs(x)
    target = _targets(y, loss, compiled.dtype).to(compiled.device)
    n_series = next(iter(inputs.values())).shape[0]
    if target.shape[0] != n_series:
        raise ValueError(f"y holds {target.shape[0]} series but x holds {n_series}")
    trainer = SequenceTrainer(
        compiled,
        objective=loss,
        per_series=target.dim() == (1 if loss == "cross_entropy" else 2),
        warmup=warmup,
        optimizer=optimizer,
        learning_rate=learning_rate,
        momentum=momentum,
        nesterov=nesterov,
        clip_norm=clip_norm,
        schedule=schedule,
        module_learning_rates=_per_group(compiled, node_learning_rates or {}, "node_learning_rates"),
        device=compiled.device,
        seed=seed,
    )
    if level is not None:
        trainer.set_level(level)
    generator = np.random.default_rng(seed)
    result = GraphTrainingResult(graph=compiled)
    try:
        for _ in tqdm(range(n_steps), disable=not progress, desc="train_graph"):
            rows = (
                slice(None) if batch_size is None else generator.choice(n_series, batch_size, replace=False)
            )
            result.losses.append(trainer.train_step({k: v[rows] for k, v in inputs.items()}, target[rows]))
            if stop_when is not None and stop_when(compiled):
                result.stopped_early = True
                break
    finally:
        if write_back:
            compiled.write_back()
    return result


def train_core_then_freeze(
    graph: Model | CompiledGraph,
    x: np.ndarray | Mapping[str, Any],
    y: np.ndarray,
    *,
    core: str,
    n_steps: int,
    **train_kwargs: Any,
) -> GraphTrainingResult:
    """Phase 0 of the "full reservoir" regime on a graph: train the core with the readouts, then freeze it.

    :func:`train_graph` with the :class:`FullReservoir` schedule at its phase 0 (core and readout nodes
    learn, the cerebellum is held) for ``n_steps`` or until ``stop_when`` (in ``train_kwargs``) says so;
    the weights are written back and the core node is frozen (``core.freeze()``). Afterwards
    :func:`train_graph` trains the remaining nodes (the schedule's next phase), or
    :func:`~cbreservoir.graph.fit_ridge_readout` fits a Ridge readout in closed form.

    Parameters
    ----------
    graph : reservoirpy Model or CompiledGraph
    x, y : see :func:`train_graph`
    core : str
        Name of the :class:`Reservoir` node (the graph's core group).
    n_steps : int
    **train_kwargs
        Passed to :func:`train_graph` (but ``trainable``, ``schedule`` and ``level``).
    """
    compiled = _compiled(
        graph, x, y, train_kwargs.get("loss", "cross_entropy"), train_kwargs.get("device", "cpu")
    )
    if not isinstance(compiled.nodes.get(core), Reservoir):
        raise ValueError(
            f"core must name a Reservoir node of the graph; got {core!r} (nodes: {list(compiled.nodes)})"
        )
    schedule = FullReservoir()
    result = train_graph(
        compiled, x, y, n_steps=n_steps, schedule=schedule, level=schedule.phase0_level, **train_kwargs
    )
    compiled.nodes[core].freeze()
    apply_plasticity(compiled, schedule.trainable_groups(schedule.phase0_level + 1))  # the next phase
    return result

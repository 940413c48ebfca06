"""Gradient fits of a graph: :func:`train_graph` (BPTT on the compiled graph) and
:func:`train_core_then_freeze` (the frozen-core regime's first phase).

:func:`train_graph` trains a :class:`~cbreservoir.graph.compile.CompiledGraph` and writes the weights
back into the nodes, so the graph then runs and saves as usual. Frozen core, then the rest:
:func:`train_core_then_freeze` trains the core (and readouts) for a given number of steps or until a
criterion and freezes it; afterwards :func:`train_graph` trains only the cerebellum and readouts, or — in
the feedforward wiring — :func:`~cbreservoir.graph.fit.fit_ridge_readout` fits a Ridge readout in closed
form on states computed once (no backpropagation through time).

Examples
--------
>>> import numpy as np
>>> from cbreservoir.nodes import Cerebellum, GradientReadout, Reservoir
>>> from cbreservoir.graph import train_graph
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
import torch.nn.functional as F
from reservoirpy.model import Model
from reservoirpy.node import Node
from tqdm.auto import tqdm

from cbreservoir.graph.compile import CompiledGraph, compile_graph
from cbreservoir.graph.initialize import initialize_graph
from cbreservoir.nodes.reservoir import Reservoir
from cbreservoir.numerics.optim import guarded_step

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


def _graph_loss(outputs: torch.Tensor, target: torch.Tensor, loss: str, warmup: int) -> torch.Tensor:
    """Loss of (B, T, k) outputs: on the final step for per-series targets, else on steps >= warmup."""
    per_series = target.dim() == (1 if loss == "cross_entropy" else 2)
    prediction = outputs[:, -1] if per_series else outputs[:, warmup:]
    if not per_series:
        target = target[:, warmup:]
    if loss == "cross_entropy":
        return F.cross_entropy(prediction.reshape(-1, prediction.shape[-1]), target.reshape(-1))
    if prediction.shape != target.shape:
        raise ValueError(
            f"targets must match the outputs {tuple(prediction.shape)}; got {tuple(target.shape)}"
        )
    return F.mse_loss(prediction, target)


def _default_plasticity(graph: CompiledGraph) -> dict[str, bool]:
    """Frozen reservoirs stay fixed; every other node with weights learns."""
    return {key: not getattr(node, "frozen", False) for key, node in graph.nodes.items()}


def _optimizer(
    graph: CompiledGraph,
    name: str,
    learning_rate: float,
    node_learning_rates: Mapping[str, float],
    momentum: float,
    nesterov: bool,
) -> torch.optim.Optimizer:
    groups = [
        {"params": graph.node_parameters(key), "lr": node_learning_rates.get(key, learning_rate), "name": key}
        for key in graph.trainable_nodes()
    ]
    if not groups:
        raise ValueError("no node is trainable: unfreeze a node or pass trainable={...}")
    if name == "adam":
        return torch.optim.Adam(groups, lr=learning_rate)
    if name == "sgd":
        return torch.optim.SGD(
            groups, lr=learning_rate, momentum=momentum, nesterov=nesterov and momentum > 0
        )
    raise ValueError(f"optimizer must be 'sgd' or 'adam'; got {name!r}")


def train_graph(
    graph: Model | Node | CompiledGraph,
    x: np.ndarray | torch.Tensor | Mapping[str, Any],
    y: np.ndarray | torch.Tensor,
    *,
    n_steps: int = 100,
    loss: str = "cross_entropy",
    batch_size: int | None = None,
    optimizer: str = "adam",
    learning_rate: float = 0.01,
    momentum: float = 0.1,
    nesterov: bool = True,
    clip_norm: float | None = 7.5,
    trainable: Mapping[str, bool] | None = None,
    node_learning_rates: Mapping[str, float] | None = None,
    warmup: int = 0,
    stop_when: Callable[[CompiledGraph], bool] | None = None,
    seed: int = 0,
    progress: bool = True,
    write_back: bool = True,
    device: str | torch.device = "cpu",
) -> GraphTrainingResult:
    """Train a graph of cbreservoir nodes by BPTT and write the weights back into the nodes.

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
    learning_rate, momentum, nesterov, clip_norm
        As in :class:`~cbreservoir.training.GradientTrainer` (``clip_norm=None`` disables clipping).
    trainable : dict node name -> bool, optional
        Plasticity per node; default: frozen reservoirs (``frozen=True``) fixed, everything else learns.
    node_learning_rates : dict node name -> float, optional
        Per-node learning rates (default ``learning_rate``).
    warmup : int
        Steps ignored by a per-step loss.
    stop_when : callable, optional
        Called with the compiled graph after every step; training stops when it returns True.
    seed : int
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
    TrainingDivergedError
        On a non-finite loss or gradient; the weights of the last good step are written back.
    """
    if loss not in ("cross_entropy", "mse"):
        raise ValueError(f"loss must be 'cross_entropy' or 'mse'; got {loss!r}")
    compiled = _compiled(graph, x, y, loss, device)
    compiled.set_trainable({**_default_plasticity(compiled), **(trainable or {})})
    inputs = compiled._map_inputs(x)
    target = _targets(y, loss, compiled.dtype).to(compiled.device)
    n_series = next(iter(inputs.values())).shape[0]
    if target.shape[0] != n_series:
        raise ValueError(f"y holds {target.shape[0]} series but x holds {n_series}")
    opt = _optimizer(compiled, optimizer, learning_rate, node_learning_rates or {}, momentum, nesterov)
    generator = np.random.default_rng(seed)
    result = GraphTrainingResult(graph=compiled)
    try:
        for step in tqdm(range(1, n_steps + 1), disable=not progress, desc="train_graph"):
            rows = (
                slice(None) if batch_size is None else generator.choice(n_series, batch_size, replace=False)
            )
            value = _graph_loss(compiled({k: v[rows] for k, v in inputs.items()}), target[rows], loss, warmup)
            guarded_step(opt, value, step, clip_norm)
            result.losses.append(value.item())
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
    readouts: list[str] | None = None,
    **train_kwargs: Any,
) -> GraphTrainingResult:
    """Phase 0 of the "full reservoir" regime: train the core with the readouts, then freeze it.

    Only ``core`` and ``readouts`` learn (every other node is held fixed), for ``n_steps`` or until
    ``stop_when`` (in ``train_kwargs``) says so; the weights are written back and the core node is
    frozen (``core.freeze()``). Afterwards :func:`train_graph` trains the remaining nodes, or
    :func:`fit_ridge_readout` fits a Ridge readout in closed form.

    Parameters
    ----------
    graph : reservoirpy Model or CompiledGraph
    x, y : see :func:`train_graph`
    core : str
        Name of the :class:`Reservoir` node.
    n_steps : int
    readouts : list of str, optional
        Nodes trained with the core (default: the graph's output nodes).
    **train_kwargs
        Passed to :func:`train_graph`.
    """
    compiled = _compiled(
        graph, x, y, train_kwargs.get("loss", "cross_entropy"), train_kwargs.get("device", "cpu")
    )
    if not isinstance(compiled.nodes.get(core), Reservoir):
        raise ValueError(
            f"core must name a Reservoir node of the graph; got {core!r} (nodes: {list(compiled.nodes)})"
        )
    learners = {core, *(compiled.outputs if readouts is None else readouts)}
    plasticity = {key: key in learners for key in compiled.nodes}
    result = train_graph(compiled, x, y, n_steps=n_steps, trainable=plasticity, **train_kwargs)
    compiled.nodes[core].freeze()
    compiled.set_trainable({core: False})
    return result


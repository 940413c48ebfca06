"""Gradient training of reservoirpy graphs built from cbreservoir nodes.

:func:`compile_graph` turns a ``reservoirpy`` Model (or one node) made of ``reservoirpy.nodes.Input``,
:class:`~cbreservoir.nodes.Reservoir`, :class:`~cbreservoir.nodes.Cerebellum`,
:class:`~cbreservoir.nodes.Ridge` and :class:`~cbreservoir.nodes.GradientReadout` into a
:class:`CompiledGraph`, a ``torch.nn.Module`` that evaluates the same equations
(:mod:`cbreservoir.nn.functional`) on batches and can be trained by backpropagation through time.
:func:`train_graph` trains it and writes the weights back into the nodes, so the graph then runs and
saves as usual.

Execution follows ``reservoirpy.Model.run``: at every step the nodes run in the model's execution
order, and a node's input is the concatenation of the external input (input nodes only), the outputs
of its direct parents at this step, and the outputs of its delayed parents ``d`` steps ago (``>>d>>``
edges). Before the first step every node's output is its initial state (zeros unless given), so a
delayed edge first delivers that state — with zero initial states this is exactly reservoirpy.

The loop wiring of the paper (delayed edge core→cerebellum, immediate edge cerebellum→core) is what
:func:`graph_from_cbrnn` builds from a :class:`~cbreservoir.models.CBRNN`; both compute the same numbers.

Frozen core, then the rest: :func:`train_core_then_freeze` trains the core (and readouts) for a given
number of steps or until a criterion and freezes it; afterwards :func:`train_graph` trains only the
cerebellum and readouts, or — in the feedforward wiring — :func:`fit_ridge_readout` fits a Ridge readout
in closed form on states computed once (no backpropagation through time).

Examples
--------
>>> import numpy as np
>>> from reservoirpy.nodes import Input
>>> from cbreservoir.nodes import Cerebellum, GradientReadout, Reservoir
>>> from cbreservoir.nn.graph import train_graph
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
import scipy.sparse
import torch
import torch.nn.functional as F
from reservoirpy.model import Model
from reservoirpy.node import Node
from reservoirpy.nodes import Input
from torch import nn
from tqdm.auto import tqdm

from cbreservoir.nn import functional as CF
from cbreservoir.nodes.cerebellum import Cerebellum
from cbreservoir.nodes.gradient_readout import GradientReadout, infer_output_dim
from cbreservoir.nodes.reservoir import Reservoir
from cbreservoir.nodes.ridge import Ridge
from cbreservoir.training.trainer import guarded_step
from cbreservoir.validation import feature_dim

__all__ = [
    "CompiledGraph",
    "GraphTrainingResult",
    "compile_graph",
    "fit_ridge_readout",
    "graph_from_cbrnn",
    "initialize_graph",
    "train_core_then_freeze",
    "train_graph",
]


def _parameter(array: np.ndarray, dtype: torch.dtype) -> nn.Parameter:
    dense = array.toarray() if scipy.sparse.issparse(array) else np.asarray(array)  # a sparse W trains dense
    return nn.Parameter(torch.tensor(dense, dtype=dtype))


def _to_numpy(parameter: torch.Tensor, like: np.ndarray) -> np.ndarray:
    dtype = like.dtype if scipy.sparse.issparse(like) else np.asarray(like).dtype
    return parameter.detach().cpu().numpy().astype(dtype, copy=True)


class _InputStep(nn.Module):
    """``reservoirpy.nodes.Input``: passes its input through."""

    def __init__(self, node: Input, dtype: torch.dtype) -> None:
        super().__init__()
        self.output_dim = node.output_dim

    def forward(self, inputs: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        return inputs

    def write_back(self, node: Node) -> None:
        """Nothing to write: the node has no weights."""


class _ReservoirStep(nn.Module):
    """:class:`Reservoir`: ``h_t = (1 − lr) h_{t−1} + lr φ(Win x + bias + W h_{t−1} + c)``."""

    def __init__(self, node: Reservoir, dtype: torch.dtype) -> None:
        super().__init__()
        self.Win, self.W, self.bias = (
            _parameter(getattr(node, name), dtype) for name in ("Win", "W", "bias")
        )
        self.leak = torch.as_tensor(node.lr, dtype=dtype) if np.ndim(node.lr) else node.lr  # per unit: (H,)
        if node.activation_name not in CF.ACTIVATIONS:
            raise ValueError(
                f"{node}: activation {node.activation!r} has no torch equivalent, so the graph cannot be "
                f"compiled; use one of {sorted(CF.ACTIVATIONS)}"
            )
        self.activation = CF.get_activation(node.activation_name)
        self.n_inputs = self.Win.shape[1]
        self.cerebellar_bias = node.cerebellar_bias
        self.output_dim = node.units

    def forward(self, inputs: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        c_t = inputs[..., self.n_inputs :] if self.cerebellar_bias else None
        x_t = inputs[..., : self.n_inputs]
        return CF.core_step(x_t, previous, self.Win, self.W, self.bias, None, self.leak, self.activation, c_t)

    def write_back(self, node: Reservoir) -> None:
        for name in ("Win", "W", "bias"):
            setattr(node, name, _to_numpy(getattr(self, name), getattr(node, name)))


_CEREBELLUM_WEIGHTS = ("W_gc", "b_gc", "W_pc", "b_pc", "W_dcn", "b_dcn")


class _CerebellumStep(nn.Module):
    """:class:`Cerebellum`: granule → Purkinje → nuclei; emits the node's ``output`` choice."""

    def __init__(self, node: Cerebellum, dtype: torch.dtype) -> None:
        super().__init__()
        for name in _CEREBELLUM_WEIGHTS:
            setattr(self, name, _parameter(getattr(node, name), dtype))
        # with a granule in-degree K, the random mossy-fibre weights are fixed by construction
        self.fixed_parameters = ("W_gc",) if node.granule_degree is not None else ()
        self.W_gc.requires_grad_(node.granule_degree is None)
        threshold = node.granule_threshold
        self.register_buffer(
            "granule_threshold", None if threshold is None else torch.tensor(threshold, dtype=dtype)
        )
        self.output = node.output
        self.output_dim = node.output_dim

    def forward(self, inputs: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        weights = [getattr(self, name) for name in _CEREBELLUM_WEIGHTS]
        activity = CF.cerebellum_forward(inputs, *weights, granule_threshold=self.granule_threshold)
        return activity.select(self.output)

    def write_back(self, node: Cerebellum) -> None:
        for name in _CEREBELLUM_WEIGHTS:
            setattr(node, name, _to_numpy(getattr(self, name), getattr(node, name)))


class _LinearReadoutStep(nn.Module):
    """:class:`Ridge` / :class:`GradientReadout`: ``x Wout + bias``."""

    def __init__(self, node: Ridge | GradientReadout, dtype: torch.dtype) -> None:
        super().__init__()
        self.Wout, self.bias = _parameter(node.Wout, dtype), _parameter(node.bias, dtype)
        self.output_dim = node.output_dim

    def forward(self, inputs: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        return inputs @ self.Wout + self.bias

    def write_back(self, node: Ridge | GradientReadout) -> None:
        node.Wout, node.bias = _to_numpy(self.Wout, node.Wout), _to_numpy(self.bias, node.bias)


_STEPS: dict[type, type[nn.Module]] = {
    Input: _InputStep,
    Reservoir: _ReservoirStep,
    Cerebellum: _CerebellumStep,
    Ridge: _LinearReadoutStep,
    GradientReadout: _LinearReadoutStep,
}


def _step_module(node: Node, dtype: torch.dtype) -> nn.Module:
    for node_class, step_class in _STEPS.items():
        if type(node) is node_class:
            if not node.initialized:
                raise ValueError(
                    f"{node} is not initialized: call initialize_graph(graph, x) or run the graph once"
                )
            return step_class(node, dtype)
    names = ", ".join(cls.__name__ for cls in _STEPS)
    raise TypeError(f"compile_graph supports the nodes {names}; got {type(node).__name__}")


def _node_keys(nodes: list[Node]) -> list[str]:
    """Unique module names: the node's name (dots replaced) or ``<class><index>``."""
    keys: list[str] = []
    for index, node in enumerate(nodes):
        key = (node.name or f"{type(node).__name__.lower()}{index}").replace(".", "_")
        keys.append(key if key not in keys else f"{key}_{index}")
    return keys


class CompiledGraph(nn.Module):
    """A reservoirpy graph as a torch module (see the module docstring for the execution semantics).

    Attributes
    ----------
    steps : nn.ModuleDict
        One module per node, keyed by node name; parameters are named as the node's attributes
        (``Win``, ``W``, ``bias``; ``W_gc``, ...; ``Wout``, ``bias``).
    nodes : dict
        Key -> the reservoirpy node.
    order, inputs, outputs : list of str
        Execution order, input nodes (fed by the data) and output nodes.
    """

    def __init__(
        self, graph: Model, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"
    ) -> None:
        super().__init__()
        keys = _node_keys(graph.nodes)
        key_of = {id(node): key for node, key in zip(graph.nodes, keys, strict=True)}
        self._key_of = key_of
        self.nodes = dict(zip(keys, graph.nodes, strict=True))
        self.steps = nn.ModuleDict({key: _step_module(node, dtype) for key, node in self.nodes.items()})
        self.order = [key_of[id(node)] for node in graph.execution_order]
        self.inputs = [key_of[id(node)] for node in graph.inputs]
        self.outputs = [key_of[id(node)] for node in graph.outputs]
        self.parents = {
            key_of[id(node)]: [key_of[id(p)] for p in graph.parents[node]] for node in graph.nodes
        }
        self.delayed_parents: dict[str, list[tuple[str, int]]] = {key: [] for key in keys}
        for parent, delay, child in graph.edges:
            if delay > 0:
                self.delayed_parents[key_of[id(child)]].append((key_of[id(parent)], delay))
        self.max_delay = {key: 0 for key in keys}
        for edges in self.delayed_parents.values():
            for parent, delay in edges:
                self.max_delay[parent] = max(self.max_delay[parent], delay)
        self.dtype = dtype
        self.device = torch.device(device)
        self.to(self.device)

    def key(self, node: Node) -> str:
        """Module key of a node of the compiled graph."""
        if id(node) not in self._key_of:
            raise ValueError(f"{node} is not part of this graph")
        return self._key_of[id(node)]

    @property
    def has_loop(self) -> bool:
        """True when the graph has delayed edges (a recurrence across nodes)."""
        return any(self.delayed_parents.values())

    def node_parameters(self, key: str) -> list[nn.Parameter]:
        """Learnable parameters of node ``key`` (minus weights fixed by construction: sparse mossy fibres)."""
        step = self.steps[key]
        fixed = set(getattr(step, "fixed_parameters", ()))
        return [parameter for name, parameter in step.named_parameters() if name not in fixed]

    def trainable_nodes(self) -> list[str]:
        """Keys of the nodes whose parameters currently require gradients."""
        return [key for key in self.steps if any(p.requires_grad for p in self.steps[key].parameters())]

    def set_trainable(self, trainable: Mapping[str, bool]) -> None:
        """Switch nodes' plasticity on or off (``{"core": False, ...}``)."""
        for key, value in trainable.items():
            if key not in self.steps:
                raise ValueError(f"unknown node {key!r}; nodes are {list(self.steps)}")
            for parameter in self.node_parameters(key):
                parameter.requires_grad_(bool(value))

    def _map_inputs(self, x: torch.Tensor | np.ndarray | Mapping[str, Any]) -> dict[str, torch.Tensor]:
        if not isinstance(x, Mapping):
            x = {key: x for key in self.inputs}
        unknown = sorted(set(x) - set(self.inputs))
        missing = sorted(set(self.inputs) - set(x))
        if unknown or missing:
            raise ValueError(f"inputs must be given for the input nodes {self.inputs}; got {sorted(x)}")
        mapped = {
            key: torch.as_tensor(np.asarray(v) if not isinstance(v, torch.Tensor) else v)
            for key, v in x.items()
        }
        shapes = {tuple(v.shape[:2]) for v in mapped.values()}
        if any(v.dim() != 3 for v in mapped.values()) or len(shapes) != 1:
            raise ValueError(f"inputs must be (batch, time, features) arrays of one shape; got {shapes}")
        return {key: value.to(dtype=self.dtype, device=self.device) for key, value in mapped.items()}

    def forward(
        self,
        x: torch.Tensor | np.ndarray | Mapping[str, Any],
        initial_states: Mapping[str, torch.Tensor] | None = None,
        return_all: bool = False,
    ) -> torch.Tensor | dict[str, torch.Tensor]:
        """Run the graph on a batch.

        Parameters
        ----------
        x : tensor (B, T, d), or dict input-node key -> tensor (B, T, d_k)
        initial_states : dict key -> tensor (B, out) or (out,), optional
            Output of a node before the first step (default zeros): a reservoir's h_0.
        return_all : bool
            Return every node's outputs, not only the output nodes'.

        Returns
        -------
        tensor (B, T, out) for a single output node, else dict key -> tensor (B, T, out_k)
        """
        inputs = self._map_inputs(x)
        batch_size, n_steps = next(iter(inputs.values())).shape[:2]
        previous = {key: self._initial(key, batch_size, initial_states) for key in self.steps}
        history = {key: [previous[key]] * self.max_delay[key] for key in self.steps if self.max_delay[key]}
        kept = list(self.steps) if return_all else self.outputs
        records: dict[str, list[torch.Tensor]] = {key: [] for key in kept}
        for t in range(n_steps):
            current: dict[str, torch.Tensor] = {}
            for key in self.order:
                parts = [inputs[key][:, t]] if key in inputs else []
                parts += [current[parent] for parent in self.parents[key]]
                parts += [history[parent][-delay] for parent, delay in self.delayed_parents[key]]
                current[key] = self.steps[key](torch.cat(parts, dim=-1), previous[key])
            for key, past in history.items():
                past.append(current[key])
                del past[0]
            previous = current
            for key in kept:
                records[key].append(current[key])
        outputs = {key: torch.stack(values, dim=1) for key, values in records.items()}
        return outputs[self.outputs[0]] if len(outputs) == 1 and not return_all else outputs

    def _initial(
        self, key: str, batch_size: int, initial_states: Mapping[str, torch.Tensor] | None
    ) -> torch.Tensor:
        size = self.steps[key].output_dim
        if initial_states is not None and key in initial_states:
            state = torch.as_tensor(initial_states[key]).to(dtype=self.dtype, device=self.device)
            if state.shape[-1] != size:
                raise ValueError(
                    f"initial state of {key!r} must have {size} features; got {tuple(state.shape)}"
                )
            return state.expand(batch_size, size)
        return torch.zeros(batch_size, size, dtype=self.dtype, device=self.device)

    def write_back(self) -> None:
        """Copy the current torch weights into the reservoirpy nodes (in each node's dtype)."""
        for key, step in self.steps.items():
            step.write_back(self.nodes[key])


def _as_model(model_or_node: Model | Node) -> Model:
    return model_or_node if isinstance(model_or_node, Model) else Model([model_or_node], [])


def initialize_graph(
    model_or_node: Model | Node,
    x: np.ndarray | Mapping[str, Any],
    y: object = None,
    loss: str = "cross_entropy",
) -> None:
    """Initialize the graph's uninitialized nodes from the input width(s) (and the targets).

    Also readies a graph with delayed edges for ``Model.run`` (reservoirpy 0.4.2's own
    ``Model.initialize`` rejects delayed edges as a cycle): its feedback buffers start at zero.

    Node input widths follow the execution semantics (external input, direct parents, delayed
    parents). A :class:`GradientReadout` without ``output_dim`` takes it from ``y`` by
    :func:`~cbreservoir.nodes.gradient_readout.infer_output_dim` with ``loss``, the loss the graph is
    trained with (not the node's own ``loss``, which only :meth:`GradientReadout.fit` uses): the number
    of classes ``max(y) + 1`` for ``"cross_entropy"``; for ``"mse"`` 1 for ``y`` of shape ``(S,)``, else
    ``y.shape[-1]``.

    Raises
    ------
    ValueError
        When a width cannot be inferred (e.g. a readout without ``output_dim`` and without ``y``).
    """
    graph = _as_model(model_or_node)
    widths = {node: feature_dim(value) for node, value in _input_map(graph, x).items()}
    for node in graph.execution_order:
        if node.initialized:
            continue
        width = widths.get(node, 0) + sum(parent.output_dim for parent in graph.parents[node])
        width += sum(parent.output_dim for parent, delay, child in graph.edges if child is node and delay > 0)
        if isinstance(node, GradientReadout) and node.output_dim is None and y is not None:
            node.output_dim = infer_output_dim(y, loss)
        node.initialize(np.zeros((1, width)))
        if node.output_dim is None:
            raise ValueError(f"cannot infer the output size of {node}; give it explicitly")
    if not graph.initialized and any(delay > 0 for _, delay, _ in graph.edges):
        # reservoirpy 0.4.2's Model.initialize sorts delayed edges as if they were a cycle and fails;
        # with every node initialized, what it would set up is the (zero) feedback buffers
        graph.feedback_buffers = {(p, d, c): np.zeros((d, p.output_dim)) for p, d, c in graph.edges if d > 0}
        graph.initialized = True


def _input_map(graph: Model, x: np.ndarray | Mapping[str, Any]) -> dict[Node, Any]:
    if isinstance(x, Mapping):
        return {graph.named_nodes[name]: value for name, value in x.items()}
    return {node: x for node in graph.inputs}


def compile_graph(
    model_or_node: Model | Node, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"
) -> CompiledGraph:
    """Compile a reservoirpy Model (or a single node) of cbreservoir nodes into a :class:`CompiledGraph`.

    The nodes must be initialized (run or fit the graph once). The compiled module holds copies of
    the weights; :meth:`CompiledGraph.write_back` (called by :func:`train_graph`) copies them back.

    Raises
    ------
    TypeError
        For a node type other than Input, Reservoir, Cerebellum, Ridge, GradientReadout.
    ValueError
        For an uninitialized node.
    """
    return CompiledGraph(_as_model(model_or_node), dtype, device)


# --------------------------------------------------------------------------------------------- training


@dataclass
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
    initialize_graph(graph, x, y, loss)
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
    learning_rates: Mapping[str, float],
    momentum: float,
    nesterov: bool,
) -> torch.optim.Optimizer:
    groups = [
        {"params": graph.node_parameters(key), "lr": learning_rates.get(key, learning_rate), "name": key}
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
    n_steps: int = 100,
    loss: str = "cross_entropy",
    batch_size: int | None = None,
    optimizer: str = "adam",
    learning_rate: float = 0.01,
    momentum: float = 0.1,
    nesterov: bool = True,
    clip_norm: float | None = 7.5,
    trainable: Mapping[str, bool] | None = None,
    learning_rates: Mapping[str, float] | None = None,
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
    learning_rates : dict node name -> float, optional
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
    opt = _optimizer(compiled, optimizer, learning_rate, learning_rates or {}, momentum, nesterov)
    generator = np.random.default_rng(seed)
    result = GraphTrainingResult(compiled)
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


@torch.no_grad()
def fit_ridge_readout(
    graph: Model, x: np.ndarray | Mapping[str, Any], y: np.ndarray, warmup: int = 0
) -> np.ndarray:
    """Fit the Ridge output node of a feedforward graph in closed form on states computed once.

    Everything upstream of the Ridge runs once, batched and without gradients (with a frozen core
    there is nothing to backpropagate through time); the Ridge node's input (e.g. the granule code of
    ``Reservoir >> Cerebellum >> Ridge``) is collected and ``Ridge.fit`` solves for the readout.

    Parameters
    ----------
    graph : reservoirpy Model
        Without delayed edges, whose single output node is a :class:`Ridge` fed by other nodes.
    x : array (S, T, d) or dict input-node name -> array
    y : Ridge targets: (S,) / (S, k) per series (final step) or (S, T, k) per step
    warmup : int

    Returns
    -------
    ndarray (S, T, n_features)
        The Ridge node's input features (reuse them to refit, e.g. ``ridge.fit(features, y)``).
    """
    graph = _as_model(graph)
    if any(delay > 0 for _, delay, _ in graph.edges):
        raise ValueError(
            "fit_ridge_readout needs a feedforward graph; the loop wiring is trained by train_graph"
        )
    if (
        len(graph.outputs) != 1
        or not isinstance(graph.outputs[0], Ridge)
        or not graph.parents[graph.outputs[0]]
    ):
        raise ValueError(
            f"the graph must end in one Ridge node fed by other nodes; got outputs {graph.outputs}"
        )
    ridge = graph.outputs[0]
    upstream = Model(
        [node for node in graph.nodes if node is not ridge], [e for e in graph.edges if e[2] is not ridge]
    )
    initialize_graph(upstream, x)
    compiled = compile_graph(upstream)
    outputs = compiled(x, return_all=True)
    features = torch.cat([outputs[compiled.key(parent)] for parent in graph.parents[ridge]], dim=-1).numpy()
    ridge.fit(features, y, warmup=warmup)
    return features


def graph_from_cbrnn(model: nn.Module) -> Model:
    """The paper's loop wiring as a reservoirpy graph with the weights of a CB-RNN model.

    Nodes: ``"input"`` (Input), ``"core"`` (Reservoir with ``cerebellar_bias=True``, ``bias = b_x + b_h``),
    ``"cerebellum"`` (Cerebellum, ``output="nuclei"``, reading ``[x_t ; h_{t−1}]``; the columns of
    ``W_gc`` are reordered from the model's ``[h_{t−1}; x_t]``) and one GradientReadout per head
    (``"readout"``, or ``"readout0"``, ``"readout1"``, ... for several heads). Edges: input → cerebellum,
    input → core, cerebellum → core (immediate), core → cerebellum (delay 1), core → readouts. The core
    node's state plays h_0 (pass ``initial_states={"core": h0}`` to the compiled graph). The returned
    graph is initialized: ``graph.run(x)`` works (from zero states) and so does :func:`compile_graph`.
    """
    core, cerebellum = model.core, model.cerebellum
    hidden, n_inputs = core.hidden_size, model.input_size

    def numpy(tensor: torch.Tensor) -> np.ndarray:
        return tensor.detach().cpu().double().numpy()

    source = Input(name="input")
    source.initialize(np.zeros(n_inputs))
    reservoir = Reservoir(
        hidden,
        lr=core.leak,
        W=numpy(core.recurrent_layer.weight),
        Win=numpy(core.input_layer.weight),
        bias=numpy(core.input_layer.bias + core.recurrent_layer.bias),
        activation=core.activation_name,
        cerebellar_bias=True,
        name="core",
    )
    reservoir.initialize()
    cb = Cerebellum(
        cerebellum.granule.out_features,
        cerebellum.purkinje.out_features,
        n_out=hidden,
        output="nuclei",
        input_dim=hidden + n_inputs,
        name="cerebellum",
    )
    cb.initialize()
    granule_weight = numpy(cerebellum.granule.weight)
    cb.W_gc = np.concatenate([granule_weight[:, hidden:], granule_weight[:, :hidden]], axis=1)
    for name, layer in (("gc", cerebellum.granule), ("pc", cerebellum.purkinje), ("dcn", cerebellum.nuclei)):
        setattr(cb, f"b_{name}", numpy(layer.bias))
        if name != "gc":
            setattr(cb, f"W_{name}", numpy(layer.weight))
    heads = list(model.readouts)
    readouts = [
        GradientReadout(
            Wout=numpy(head.weight).T,
            bias=numpy(head.bias),
            name="readout" if len(heads) == 1 else f"readout{i}",
        )
        for i, head in enumerate(heads)
    ]
    for readout in readouts:
        readout.initialize()
    edges = [(source, 0, cb), (source, 0, reservoir), (cb, 0, reservoir), (reservoir, 1, cb)]
    edges += [(reservoir, 0, readout) for readout in readouts]
    graph = Model([source, cb, reservoir, *readouts], edges)
    initialize_graph(graph, np.zeros((1, n_inputs)))
    return graph

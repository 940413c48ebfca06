"""Graph -> torch: a reservoirpy graph of cbreservoir nodes as a ``torch.nn.Module`` (for BPTT).

:func:`compile_graph` turns a reservoirpy Model (or one node) made of ``reservoirpy.nodes.Input``,
:class:`~cbreservoir.nodes.Reservoir`, :class:`~cbreservoir.nodes.Cerebellum`,
:class:`~cbreservoir.nodes.Ridge` and :class:`~cbreservoir.nodes.GradientReadout` into a
:class:`CompiledGraph` that evaluates the same equations (:mod:`cbreservoir.numerics.functional`) on batches
and can be trained by backpropagation through time (:mod:`cbreservoir.graph.train`).

Execution follows ``reservoirpy.Model.run``: at every step the nodes run in the model's execution
order, and a node's input is the concatenation of the external input (input nodes only), the outputs
of its direct parents at this step, and the outputs of its delayed parents ``d`` steps ago (``>>d>>``
edges). Before the first step every node's output is its initial state (zeros unless given), so a
delayed edge first delivers that state — with zero initial states this is exactly reservoirpy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse
import torch
from reservoirpy.model import Model as ReservoirpyModel
from reservoirpy.node import Node
from reservoirpy.nodes import Input
from torch import nn

from cbreservoir.graph.model import as_model
from cbreservoir.nodes.cerebellum import Cerebellum
from cbreservoir.nodes.gradient_readout import GradientReadout
from cbreservoir.nodes.reservoir import Reservoir
from cbreservoir.nodes.ridge import Ridge
from cbreservoir.numerics import functional as CF

__all__ = ["CompiledGraph", "compile_graph"]


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

    @property
    def input_dim(self) -> int:
        """Features the step reads."""
        return self.output_dim

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

    @property
    def input_dim(self) -> int:
        """Features the step reads: the inputs, then the cerebellar bias c_t (units) if it takes one."""
        return self.n_inputs + (self.output_dim if self.cerebellar_bias else 0)

    def forward(self, inputs: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        c_t = inputs[..., self.n_inputs :] if self.cerebellar_bias else None
        x_t = inputs[..., : self.n_inputs]
        return CF.core_step(x_t, previous, self.Win, self.W, self.bias, None, self.leak, self.activation, c_t)

    def write_back(self, node: Reservoir) -> None:
        for name in ("Win", "W", "bias"):
            setattr(node, name, _to_numpy(getattr(self, name), getattr(node, name)))


_CEREBELLUM_WEIGHTS = ("W_gc", "b_gc", "W_pc", "b_pc", "W_dcn", "b_dcn")


def emitted(
    activity: CF.CerebellarActivity, mossy: torch.Tensor, output: str, input_gain: float
) -> torch.Tensor:
    """What a Cerebellum with ``output`` emits: ``[input_gain · u, g]`` for ``"input+granule"``, else
    ``activity.select(output)`` (the node's ``_emit``, in torch; a test holds the two equal).

    Parameters
    ----------
    activity : CerebellarActivity
        The layers for ``mossy``.
    mossy : Tensor (..., m)
        The mossy-fibre input u.
    """
    if output == "input+granule":
        return torch.cat([input_gain * mossy, activity.granule], dim=-1)
    return activity.select(output)


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
        self.output, self.input_gain = node.output, node.input_gain
        self.output_dim = node.output_dim

    @property
    def input_dim(self) -> int:
        """Features the step reads (the mossy fibres)."""
        return self.W_gc.shape[1]

    def forward(self, inputs: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        weights = [getattr(self, name) for name in _CEREBELLUM_WEIGHTS]
        activity = CF.cerebellum_forward(inputs, *weights, granule_threshold=self.granule_threshold)
        return emitted(activity, inputs, self.output, self.input_gain)

    def write_back(self, node: Cerebellum) -> None:
        for name in _CEREBELLUM_WEIGHTS:
            setattr(node, name, _to_numpy(getattr(self, name), getattr(node, name)))


class _LinearReadoutStep(nn.Module):
    """:class:`Ridge` / :class:`GradientReadout`: ``x Wout + bias``."""

    def __init__(self, node: Ridge | GradientReadout, dtype: torch.dtype) -> None:
        super().__init__()
        self.Wout, self.bias = _parameter(node.Wout, dtype), _parameter(node.bias, dtype)
        self.output_dim = node.output_dim

    @property
    def input_dim(self) -> int:
        """Features the step reads."""
        return self.Wout.shape[0]

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
        self,
        graph: ReservoirpyModel,
        *,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__()
        keys = _node_keys(graph.nodes)
        key_of = {id(node): key for node, key in zip(graph.nodes, keys, strict=True)}
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
        for key, held in self.nodes.items():
            if held is node:
                return key
        raise ValueError(f"{node} is not part of this graph")

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

    def input_widths(self) -> dict[str, int]:
        """Input node key -> the features the data must give it (what its step reads beyond its parents').

        Raises
        ------
        ValueError
            If a node's parents give more features than its step reads, or a node that is not an input
            node gets fewer (the graph's wiring and its weights disagree).
        """
        widths = {}
        for key, step in self.steps.items():
            wired = sum(self.steps[parent].output_dim for parent in self.parents[key])
            wired += sum(self.steps[parent].output_dim for parent, _ in self.delayed_parents[key])
            external = step.input_dim - wired
            if external < 0 or (external > 0) != (key in self.inputs):
                raise ValueError(
                    f"node {key!r} reads {step.input_dim} features, but its parents give {wired} and it "
                    f"{'is' if key in self.inputs else 'is not'} an input node"
                )
            if key in self.inputs:
                widths[key] = external
        return widths

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
        widths = self.input_widths()
        for key, value in mapped.items():
            if value.shape[-1] != widths[key]:
                raise ValueError(
                    f"the input of node {key!r} must have {widths[key]} features; got {value.shape[-1]}"
                )
            if value.is_floating_point() and not torch.isfinite(value).all():
                raise ValueError(f"the input of node {key!r} holds NaN or infinity")
        return {key: value.to(dtype=self.dtype, device=self.device) for key, value in mapped.items()}

    def forward(
        self,
        x: torch.Tensor | np.ndarray | Mapping[str, Any],
        *,
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


def compile_graph(
    model_or_node: ReservoirpyModel | Node,
    *,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
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
    return CompiledGraph(as_model(model_or_node), dtype=dtype, device=device)

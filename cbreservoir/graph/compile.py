"""Graph -> torch: a reservoirpy graph of cbreservoir nodes as a ``torch.nn.Module`` (for BPTT).

:func:`compile_graph` turns a reservoirpy Model (or one node) made of ``reservoirpy.nodes.Input``,
:class:`~cbreservoir.nodes.Reservoir`, :class:`~cbreservoir.nodes.Cerebellum`,
:class:`~cbreservoir.nodes.Ridge` and :class:`~cbreservoir.nodes.GradientReadout` into a
:class:`CompiledGraph` that evaluates the same equations (:mod:`cbreservoir.numerics.functional`) on batches
and can be trained by backpropagation through time (:func:`cbreservoir.training.train_graph`).

Execution follows ``reservoirpy.Model.run``: at every step the nodes run in the model's execution
order, and a node's input is the concatenation of the external input (input nodes only), the outputs
of its direct parents at this step, and the outputs of its delayed parents ``d`` steps ago (``>>d>>``
edges). Before the first step every node's output is its initial state (zeros unless given), so a
delayed edge first delivers that state — with zero initial states this is exactly reservoirpy.

A compiled graph also exposes the models' training interface, so that
:class:`~cbreservoir.training.GradientTrainer` and the plasticity schedules train graphs as they train
:mod:`cbreservoir.models`: :meth:`CompiledGraph.module_groups` (Reservoir nodes form group ``"core"``,
Cerebellum nodes ``"cerebellum"``, Ridge and GradientReadout nodes ``"readout"``),
:meth:`CompiledGraph.initial_state` (the Reservoir nodes' h_0, drawn as the models draw theirs),
:attr:`CompiledGraph.head_sizes` and :meth:`CompiledGraph.head_outputs` (each output node at the final
step: the models' heads).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

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
    """:class:`Reservoir`: ``h_t = (1 − lr) h_{t−1} + lr φ(Win x + bias + W h_{t−1} + recurrent_bias + c)``.

    A node's ``recurrent_bias`` (b_h) is a parameter of its own, registered after the others (a node
    without one compiles to the parameters ``Win``, ``W``, ``bias`` only).
    """

    def __init__(self, node: Reservoir, dtype: torch.dtype) -> None:
        super().__init__()
        self.Win, self.W, self.bias = (
            _parameter(getattr(node, name), dtype) for name in ("Win", "W", "bias")
        )
        if node.recurrent_bias is not None:
            self.recurrent_bias = _parameter(node.recurrent_bias, dtype)
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

    @property
    def b_rec(self) -> nn.Parameter | None:
        """The recurrent bias b_h (the node's ``recurrent_bias``), None when the node has none."""
        return self._parameters.get("recurrent_bias")

    def core_weights(self) -> tuple[nn.Parameter, ...]:
        """``(W_x, b_x, W_h, b_h)`` in the order of :func:`~cbreservoir.numerics.functional.leaky_sequence`
        (without a recurrent bias, b_h is zeros: the one bias plays b_x)."""
        b_rec = self.b_rec if self.b_rec is not None else torch.zeros_like(self.bias)
        return self.Win, self.bias, self.W, b_rec

    def forward(self, inputs: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        c_t = inputs[..., self.n_inputs :] if self.cerebellar_bias else None
        x_t = inputs[..., : self.n_inputs]
        return CF.core_step(
            x_t, previous, self.Win, self.W, self.bias, self.b_rec, self.leak, self.activation, c_t
        )

    def write_back(self, node: Reservoir) -> None:
        for name, parameter in self.named_parameters():
            setattr(node, name, _to_numpy(parameter, getattr(node, name)))


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


class CerebellarLoop(NamedTuple):
    """Where the CB-RNN's loop sits in a compiled graph (:meth:`CompiledGraph.cerebellar_loop`)."""

    core: str
    cerebellum: str
    activation: str


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
        (``Win``, ``W``, ``bias`` and a Reservoir's optional ``recurrent_bias``; ``W_gc``, ...; ``Wout``,
        ``bias``).
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
        h0: torch.Tensor | None = None,
        mask: torch.Tensor | np.ndarray | None = None,
        *,
        initial_states: Mapping[str, torch.Tensor] | None = None,
        return_all: bool = False,
    ) -> torch.Tensor | dict[str, torch.Tensor]:
        """Run the graph on a batch.

        Parameters
        ----------
        x : tensor (B, T, d), or dict input-node key -> tensor (B, T, d_k)
        h0 : tensor (B, :attr:`state_size`), optional
            The Reservoir nodes' initial states side by side, in node order (as :meth:`initial_state`
            draws them); the models' ``h0``. Give ``h0`` or ``initial_states``, not both.
        mask : None
            Only None: a graph runs every step of every series (the models' ``mask`` is refused).
        initial_states : dict key -> tensor (B, out) or (out,), optional
            Output of a node before the first step (default zeros): a reservoir's h_0.
        return_all : bool
            Return every node's outputs, not only the output nodes'.

        Returns
        -------
        tensor (B, T, out) for a single output node, else dict key -> tensor (B, T, out_k)

        Raises
        ------
        ValueError
            ``h0`` together with ``initial_states``, ``h0`` of the wrong shape, or a ``mask``.
        """
        if mask is not None:
            raise ValueError("a compiled graph runs every step of every series: mask must be None")
        if h0 is not None:
            if initial_states is not None:
                raise ValueError("give h0 or initial_states, not both")
            initial_states = self._reservoir_states(h0)
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

    # --- the models' training interface (GradientTrainer, plasticity schedules) -------------------------

    def module_groups(self, *, split_core: bool = False) -> dict[str, list[nn.Parameter]]:
        """Learnable parameters by module group, as the models give them (:meth:`node_parameters`).

        Reservoir nodes form ``"core"``, Cerebellum nodes ``"cerebellum"``, Ridge and GradientReadout
        nodes ``"readout"``; Input nodes hold no parameters.

        Parameters
        ----------
        split_core : bool
            Give the core as ``"core.input"`` (``Win`` and ``bias``, the input bias b_x) and
            ``"core.recurrent"`` (``W`` and, where the node has one, ``recurrent_bias`` b_h), which
            schedules may freeze apart.

        Returns
        -------
        dict group -> list of parameter
        """
        core = {"core.input": [], "core.recurrent": []} if split_core else {"core": []}
        groups: dict[str, list[nn.Parameter]] = {**core, "cerebellum": [], "readout": []}
        for key, step in self.steps.items():
            if isinstance(step, _ReservoirStep) and split_core:
                groups["core.input"] += [step.Win, step.bias]
                groups["core.recurrent"] += [step.W] if step.b_rec is None else [step.W, step.b_rec]
            elif isinstance(step, _ReservoirStep):
                groups["core"] += self.node_parameters(key)
            elif isinstance(step, _CerebellumStep):
                groups["cerebellum"] += self.node_parameters(key)
            elif isinstance(step, _LinearReadoutStep):
                groups["readout"] += self.node_parameters(key)
        return groups

    def _reservoir_keys(self) -> list[str]:
        return [key for key, step in self.steps.items() if isinstance(step, _ReservoirStep)]

    @property
    def state_size(self) -> int:
        """Units of all Reservoir nodes together: the width of :meth:`initial_state` and ``h0``."""
        return sum(self.steps[key].output_dim for key in self._reservoir_keys())

    @property
    def head_sizes(self) -> tuple[int, ...]:
        """Outputs of each output node (the graph's heads), in the order of :attr:`outputs`."""
        return tuple(self.steps[key].output_dim for key in self.outputs)

    def initial_state(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """The Reservoir nodes' h_0 side by side, (batch_size, :attr:`state_size`), in the graph's dtype.

        Drawn as every model draws its own (:func:`~cbreservoir.numerics.functional.initial_state`), from
        ``generator`` (torch's global RNG when None).
        """
        return CF.initial_state(
            batch_size, self.state_size, generator=generator, dtype=self.dtype, device=self.device
        )

    def _reservoir_states(self, h0: torch.Tensor) -> dict[str, torch.Tensor]:
        """``h0`` (B, :attr:`state_size`) split into each Reservoir node's initial state (B, units)."""
        h0 = torch.as_tensor(h0)
        if h0.dim() != 2 or h0.shape[1] != self.state_size:
            raise ValueError(f"h0 must have shape (batch, {self.state_size}), got {tuple(h0.shape)}")
        keys = self._reservoir_keys()
        columns = h0.split([self.steps[key].output_dim for key in keys], dim=1)
        return dict(zip(keys, columns, strict=True))

    def head_outputs(
        self,
        x: torch.Tensor | np.ndarray | Mapping[str, Any],
        h0: torch.Tensor | None = None,
        mask: torch.Tensor | np.ndarray | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """Each output node's output at the final step, (B, out_k) per head: what a model's forward gives.

        Parameters
        ----------
        x, h0, mask
            As for :meth:`forward`.
        """
        loop = self.cerebellar_loop()
        if loop is None or mask is not None:
            outputs = self(x, h0, mask)
            sequences = outputs if isinstance(outputs, dict) else {self.outputs[0]: outputs}
            return tuple(sequences[key][:, -1] for key in self.outputs)
        inputs = self._map_inputs(x)[self.inputs[0]]
        states = None if h0 is None else self._reservoir_states(h0)
        core_state = self._initial(loop.core, inputs.shape[0], states)
        core, cerebellum = self.steps[loop.core], self.steps[loop.cerebellum]
        h_final = CF.leaky_sequence(
            inputs,
            core_state,
            core.core_weights(),
            leak=float(core.leak),
            activation=loop.activation,
            cerebellum=tuple(getattr(cerebellum, name) for name in _CEREBELLUM_WEIGHTS),
        )
        return tuple(h_final @ self.steps[key].Wout + self.steps[key].bias for key in self.outputs)

    def cerebellar_loop(self) -> CerebellarLoop | None:
        """The CB-RNN's loop wiring in this graph, or None when the graph is wired otherwise.

        The wiring of :func:`~cbreservoir.graph.graph_from_cbrnn` and
        :func:`~cbreservoir.graph.cerebellar_loop`: one Input node feeding the cerebellum and the core; a
        Cerebellum (``output="nuclei"``, no granule threshold) reading ``[x_t ; h_{t−1}]`` (the input, then
        the core with delay 1); a Reservoir with ``cerebellar_bias`` reading ``[x_t ; c_t]``, a scalar leak
        and an activation of the fused kernel; and the readouts, reading the core only, as the output
        nodes. Such a graph's heads (:meth:`head_outputs`) run as the CB-RNN model runs: through the fused
        sequence kernel (:func:`~cbreservoir.numerics.functional.leaky_sequence`), whose numbers equal the
        step-by-step forward's up to float rounding.
        """
        kinds: dict[type, list[str]] = {}
        for key, step in self.steps.items():
            kinds.setdefault(type(step), []).append(key)
        inputs, cores = kinds.get(_InputStep, []), kinds.get(_ReservoirStep, [])
        cerebella, readouts = kinds.get(_CerebellumStep, []), kinds.get(_LinearReadoutStep, [])
        if len(inputs) != 1 or len(cores) != 1 or len(cerebella) != 1 or not readouts or len(kinds) != 4:
            return None
        (source,), (core,), (cerebellum,) = inputs, cores, cerebella
        core_step, cerebellum_step = self.steps[core], self.steps[cerebellum]
        activation = next((n for n, f in CF.ACTIVATIONS.items() if f is core_step.activation), None)
        wired = (
            self.inputs == [source]
            and sorted(self.outputs) == sorted(readouts)
            and self.parents[cerebellum] == [source]
            and self.delayed_parents[cerebellum] == [(core, 1)]
            and self.parents[core] == [source, cerebellum]
            and not self.delayed_parents[core]
            and all(self.parents[key] == [core] and not self.delayed_parents[key] for key in readouts)
        )
        fusable = (
            core_step.cerebellar_bias
            and not isinstance(core_step.leak, torch.Tensor)
            and activation is not None
            and cerebellum_step.output == "nuclei"
            and cerebellum_step.granule_threshold is None
        )
        return CerebellarLoop(core, cerebellum, activation) if wired and fusable else None


def compile_graph(
    model_or_node: ReservoirpyModel | Node,
    *,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> CompiledGraph:
    """Compile a reservoirpy Model (or a single node) of cbreservoir nodes into a :class:`CompiledGraph`.

    The nodes must be initialized (run or fit the graph once). The compiled module holds copies of
    the weights; :meth:`CompiledGraph.write_back` (called by :func:`~cbreservoir.training.train_graph`)
    copies them back.

    Raises
    ------
    TypeError
        For a node type other than Input, Reservoir, Cerebellum, Ridge, GradientReadout.
    ValueError
        For an uninitialized node.
    """
    return CompiledGraph(as_model(model_or_node), dtype=dtype, device=device)

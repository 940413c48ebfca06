"""The declared fields, rebuilding and invariants of each class a cbreservoir file can hold.

See :mod:`cbreservoir.io._declared` for the vocabulary. Each entry names every field a file may set; the
object is rebuilt through its constructor where one takes the fields (schedules, curriculum records,
Ridge nodes and their statistics, gradient readouts, graphs, estimators' parameters), else through the
class's own ``__setstate__`` check (Reservoir, Cerebellum, GradientTrainer, CurriculumTrainer) or by
setting exactly the declared fields; then its invariants are checked.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cbreservoir.io._declared import (
    ANY_STATE,
    BOOL,
    COUNT,
    MAX_DELAY,
    NAME,
    SIZE,
    TEXT,
    Declared,
    array,
    by_constructor,
    choice,
    dataclass_defaults,
    dataclass_fields,
    either,
    fail,
    generator,
    instance,
    integer,
    kind,
    mapping,
    n_jobs,
    optional,
    output_state,
    real,
    same,
    sequence,
    through_constructor,
)
from cbreservoir.utils.checks import MAX_COUNT, MAX_SEED, check_int, check_real
from cbreservoir.utils.resources import array_bytes

#: Largest step counter or epoch count a file may hold.
_MAX_STEPS = 2**62
#: Fields reservoirpy sets on a node's first initialisation (a class default until then).
_LAZY = frozenset({"initialized"})
#: Longest series the probe of a fitted estimator runs (beyond its pooling windows).
_PROBE_STEPS = 2


def table() -> dict[type, Declared]:
    """Every class of :func:`cbreservoir.io._registry.classes` but torch's own, with its declaration."""
    return {
        **_nodes(),
        **_graphs(),
        **_compiled(),
        **_training(),
        **_estimators(),
    }


# ------------------------------------------------------------------------------------------------- nodes


def _nodes() -> dict[type, Declared]:
    from reservoirpy.nodes import Input, Output
    from reservoirpy.nodes import Reservoir as PeerReservoir
    from reservoirpy.nodes import Ridge as PeerRidge

    from cbreservoir.nodes import Cerebellum, GradientReadout, Reservoir, Ridge
    from cbreservoir.nodes._base import LOSSES
    from cbreservoir.nodes.gradient_readout import OPTIMIZERS
    from cbreservoir.numerics.ridge import GRAM_DTYPES, GramStatistics

    constructor = dict.fromkeys(Reservoir._CONSTRUCTOR_ATTRIBUTES, by_constructor)
    weights = {
        "W": optional(_matrix),
        "Win": optional(_matrix),
        "bias": either(real(), array(1)),
    }  # no initializer
    reservoir = Declared(
        {
            **constructor,
            **weights,
            "rng": generator,
            "state": ANY_STATE,
            "initialized": BOOL,
            "output_dim": COUNT,
        },
        invariants=_reservoir,
        optional=_LAZY,
    )
    cerebellum_weights = dict.fromkeys(
        ("W_gc", "b_gc", "W_pc", "b_pc", "W_dcn", "b_dcn", "granule_threshold", "mossy_mask"),
        by_constructor,  # checked by Cerebellum.__setstate__ for their shapes, dtypes and finiteness
    )
    cerebellum = Declared(
        {
            **dict.fromkeys(Cerebellum._CONSTRUCTOR_ATTRIBUTES, by_constructor),
            **cerebellum_weights,
            "input_gain": real(0.0, strict=True),
            "rng": generator,
            "state": ANY_STATE,
            "initialized": BOOL,
            "output_dim": SIZE,
        },
        invariants=_cerebellum,
        optional=_LAZY,
    )
    statistics = Declared(
        {
            "centered": BOOL,
            "gram_dtype": choice(*GRAM_DTYPES),
            "count": integer(0, _MAX_STEPS),
            "n_inputs": COUNT,
            "mean_x": array(1),
            "mean_y": array(1),
            "products": array(2),
        },
        build=_statistics,
    )
    ridge = Declared(
        {
            "ridge": by_constructor,
            "fit_bias": BOOL,
            "gram_dtype": by_constructor,
            "name": NAME,
            "input_dim": by_constructor,
            "output_dim": by_constructor,
            "_statistics": optional(kind(GramStatistics)),
            "_solved": BOOL,
            "_Wout": optional(array(2)),
            "_bias": optional(array(1)),
            "_initializers": _empty_dict,
            "state": ANY_STATE,
            "initialized": BOOL,
        },
        build=_ridge,
        invariants=_ridge_invariants,
        optional=_LAZY,
    )
    gradient_readout = Declared(
        {
            "loss": choice(*LOSSES),
            "optimizer": choice(*OPTIMIZERS),
            "learning_rate": by_constructor,
            "n_steps": integer(1, MAX_COUNT),
            "weight_decay": by_constructor,
            "fit_bias": BOOL,
            "name": NAME,
            "input_dim": by_constructor,
            "output_dim": by_constructor,
            "Wout": optional(array(2)),
            "bias": optional(array(1)),
            "loss_history": sequence(real()),
            "state": ANY_STATE,
            "initialized": BOOL,
        },
        build=_gradient_readout,
        optional=_LAZY,
    )
    ends = Declared(
        {"name": NAME, "state": ANY_STATE, "input_dim": SIZE, "output_dim": SIZE, "initialized": BOOL},
        invariants=_input_output,
        optional=_LAZY,
    )
    peer_reservoir = Declared(
        {
            "lr": either(real(0.0, 1.0, strict=True), array(1)),
            "sr": optional(real()),
            "input_scaling": either(real(), array(1)),
            "input_connectivity": optional(real(0.0, 1.0)),
            "rc_connectivity": optional(real(0.0, 1.0)),
            "Win": _matrix,
            "W": _matrix,
            "bias": either(real(), array(1), _matrix),
            "activation": _function,
            "dtype": _float_dtype,
            "rng": generator,
            "name": NAME,
            "units": COUNT,
            "output_dim": COUNT,
            "input_dim": SIZE,
            "state": ANY_STATE,
            "initialized": BOOL,
        },
        invariants=_peer_reservoir,
        optional=_LAZY,
    )
    peer_ridge = Declared(
        {
            "ridge": real(0.0),
            "fit_bias": BOOL,
            "Wout": array(2),
            "bias": array(1),
            "name": NAME,
            "state": ANY_STATE,
            "input_dim": COUNT,
            "output_dim": COUNT,
            "initialized": BOOL,
        },
        invariants=_peer_ridge,
        optional=_LAZY,
    )
    return {
        Reservoir: reservoir,
        Cerebellum: cerebellum,
        GramStatistics: statistics,
        Ridge: ridge,
        GradientReadout: gradient_readout,
        Input: ends,
        Output: ends,
        PeerReservoir: peer_reservoir,
        PeerRidge: peer_ridge,
    }


def _empty_dict(value: Any, where: str) -> None:
    if value != {} or type(value) is not dict:
        raise ValueError(f"{where} must be empty (a file holds no initializer functions), got {value!r:.80}")


def _function(value: Any, where: str) -> None:
    """A function of the table (the decoder resolves only those)."""
    from cbreservoir.io._registry import functions

    if not any(value is known for known in functions().values()):
        raise ValueError(f"{where} must be one of the known activation functions, got {value!r:.80}")


def _matrix(value: Any, where: str) -> None:
    """A finite 2-d float array or SciPy sparse matrix."""
    import scipy.sparse

    if scipy.sparse.issparse(value):
        if value.ndim != 2 or value.dtype.kind != "f" or not np.isfinite(value.data).all():
            raise ValueError(f"{where} must be a finite 2-d float sparse matrix")
        return
    array(2)(value, where)


def _float_dtype(value: Any, where: str) -> None:
    """A NumPy float dtype, or its scalar type."""
    is_type = isinstance(value, type) and issubclass(value, np.generic)
    if not (isinstance(value, np.dtype) or is_type) or np.dtype(value).kind != "f":
        raise ValueError(f"{where} must be a NumPy float dtype, got {value!r:.40}")


def _shape(value: Any) -> tuple[int, ...]:
    return tuple(np.shape(value))


def _reservoir(node: Any, spend: Any) -> None:
    if node.output_dim != node.units:
        fail("Reservoir", f"output_dim {node.output_dim} must be its units {node.units}")
    if node.W is None or node.Win is None:  # initialize() draws them: charged before it may be asked to
        size = (node.units, node.units + (node.input_dim or 1))
        spend(
            array_bytes(size, node.dtype),
            f"the weights an uninitialized Reservoir(units={node.units}) will draw",
        )


def _cerebellum(node: Any, spend: Any) -> None:
    if node.output_dim != node._output_dim():
        fail(
            "Cerebellum", f"output_dim {node.output_dim} must be {node._output_dim()} (its output and sizes)"
        )
    if node.input_gain != 1.0 and node.output != "input+granule":
        fail("Cerebellum", "input_gain applies to output='input+granule' only")
    if (node.mossy_mask is None) != (node.granule_degree is None or not node.initialized):
        fail("Cerebellum", "an initialized cerebellum has a mossy mask exactly when it has a granule_degree")
    if node.mossy_mask is not None:
        if not (node.mossy_mask.sum(axis=1) == node.granule_degree).all():
            fail(
                "Cerebellum",
                f"every row of its mossy mask must hold granule_degree={node.granule_degree} inputs",
            )
        if (node.W_gc[~node.mossy_mask] != 0).any():
            fail("Cerebellum", "its granule weights outside the mossy mask must be 0")
    if not node.initialized:  # initialize() allocates these weights: charged before it may be asked to
        weights = node.n_granule * ((node.input_dim or 1) + node.n_purkinje) + node.n_out * node.n_purkinje
        spend(8 * weights, f"the weights an uninitialized Cerebellum(n_granule={node.n_granule}) will draw")


def _statistics(cls: type, values: dict[str, Any]) -> Any:
    n_inputs, mean_x, mean_y = values["n_inputs"], values["mean_x"], values["mean_y"]
    if len(mean_x) != n_inputs:
        fail("ridge statistics", f"mean_x has {len(mean_x)} entries for n_inputs={n_inputs}")
    statistics = cls(n_inputs, len(mean_y), values["centered"], values["gram_dtype"])
    statistics.load_state_dict(
        {key: values[key] for key in ("count", "mean_x", "mean_y", "products", "centered", "gram_dtype")}
    )
    return statistics


def _ridge(cls: type, values: dict[str, Any]) -> Any:
    node = cls(
        ridge=values["ridge"],
        fit_bias=values["fit_bias"],
        Wout=values["_Wout"],
        bias=values["_bias"],
        input_dim=values["input_dim"],
        output_dim=values["output_dim"],
        name=values["name"],
        gram_dtype=values["gram_dtype"],
    )
    node._statistics, node._solved = values["_statistics"], values["_solved"]
    node._Wout, node._bias = values["_Wout"], values["_bias"]  # the very arrays saved (bit for bit)
    node.state = values["state"]
    if "initialized" in values:
        node.initialized = values["initialized"]
    return node


def _ridge_invariants(node: Any, spend: Any) -> None:
    statistics = node._statistics
    if statistics is not None:
        if (statistics.n_inputs, len(statistics.mean_y)) != (node.input_dim, node.output_dim):
            fail("Ridge", "its statistics are not of its input_dim and output_dim")
        if statistics.centered != node.fit_bias:
            fail("Ridge", "its statistics must be centred exactly when it fits a bias")
    elif not node._solved:
        fail("Ridge", "an unsolved Ridge needs its statistics")
    if (node._Wout is None) != (node._bias is None) and node._solved:
        fail("Ridge", "Wout and bias must be both set or both unset")
    node._solve_pending()  # what the first use would solve, solved now (same numbers)
    output_state(node.output_dim or 0, node.state, "Ridge.state")


def _gradient_readout(cls: type, values: dict[str, Any]) -> Any:
    names = ("output_dim", "loss", "optimizer", "learning_rate", "n_steps", "weight_decay", "fit_bias")
    node = cls(
        **{name: values[name] for name in names},
        Wout=values["Wout"],
        bias=values["bias"],
        input_dim=values["input_dim"],
        name=values["name"],
    )
    if (values["Wout"] is None) != (values["bias"] is None):
        fail("GradientReadout", "Wout and bias must be both set or both unset")
    node.Wout, node.bias = values["Wout"], values["bias"]  # the very arrays saved (bit for bit)
    node.loss_history, node.state = values["loss_history"], values["state"]
    if values["state"]:
        output_state(node.output_dim, values["state"], "GradientReadout.state")
    if "initialized" in values:
        node.initialized = values["initialized"]
    if node.initialized and node.Wout is None:
        fail("GradientReadout", "an initialized readout has its weights")
    return node


def _input_output(node: Any, spend: Any) -> None:
    if node.input_dim is not None and node.output_dim is not None and node.input_dim != node.output_dim:
        fail(type(node).__name__, f"input_dim {node.input_dim} and output_dim {node.output_dim} must agree")
    if node.state:
        output_state(node.output_dim, node.state, f"{type(node).__name__}.state")


def _peer_reservoir(node: Any, spend: Any) -> None:
    units, inputs = node.units, node.input_dim
    if node.output_dim != units:
        fail("reservoirpy Reservoir", f"output_dim {node.output_dim} must be its units {units}")
    if _shape(node.W) != (units, units) or inputs is None or _shape(node.Win) != (units, inputs):
        fail("reservoirpy Reservoir", f"W must be ({units}, {units}) and Win ({units}, input_dim={inputs})")
    if np.ndim(node.bias) and _shape(node.bias) not in ((units,), (units, 1)):
        fail("reservoirpy Reservoir", f"bias must be a number or hold {units} values")
    leaks = np.asarray(node.lr)
    if (leaks.ndim and leaks.shape != (units,)) or not np.all((leaks > 0) & (leaks <= 1)):
        fail("reservoirpy Reservoir", "lr must be leak rates in (0, 1], one or one per unit")
    output_state(units, node.state, "reservoirpy Reservoir.state")


def _peer_ridge(node: Any, spend: Any) -> None:
    if _shape(node.Wout) != (node.input_dim, node.output_dim) or _shape(node.bias) != (node.output_dim,):
        fail(
            "reservoirpy Ridge",
            f"Wout must be ({node.input_dim}, {node.output_dim}), bias ({node.output_dim},)",
        )
    output_state(node.output_dim, node.state, "reservoirpy Ridge.state")


# ------------------------------------------------------------------------------------------------ graphs

#: A graph's fields that follow from its nodes and edges (recomputed; the file's must agree).
_DERIVED = (
    "inputs",
    "outputs",
    "named_nodes",
    "trainable_nodes",
    "is_trainable",
    "is_multi_input",
    "is_multi_output",
    "is_online",
    "is_parallel",
    "parents",
    "children",
    "execution_order",
)


def _graphs() -> dict[type, Declared]:
    from reservoirpy import ESN
    from reservoirpy.model import Model

    from cbreservoir.graph.model import Model as BatchedModel

    fields = {
        "nodes": sequence(_node),
        "edges": sequence(_edge),
        **dict.fromkeys(_DERIVED, by_constructor),
        "feedback_buffers": optional(kind(dict)),
        "initialized": BOOL,
        "pseudo_execution_order": sequence(_node),
    }
    graph = Declared(
        fields, build=_graph, invariants=_feedback_budget, optional=frozenset({"pseudo_execution_order"})
    )
    esn = Declared(
        {
            **fields,
            "reservoir": _node,
            "readout": _node,
            "feedback": BOOL,
            "input_to_readout": BOOL,
            "return_reservoir_activity": BOOL,
        },
        build=_esn,
        invariants=_feedback_budget,
        optional=frozenset({"pseudo_execution_order"}),
    )
    return {Model: graph, BatchedModel: graph, ESN: esn}


def _node(value: Any, where: str) -> None:
    from reservoirpy.node import Node

    from cbreservoir.io._registry import classes

    if not isinstance(value, Node) or type(value) not in classes().values():
        raise ValueError(f"{where} must be a node, got {type(value).__name__}")


def _edge(value: Any, where: str) -> None:
    if not (type(value) is tuple and len(value) == 3):
        raise ValueError(f"{where} must be a (parent, delay, child) tuple, got {value!r:.80}")
    _node(value[0], f"{where}[0]")
    integer(0, MAX_DELAY)(value[1], f"{where}[1] (a delay)")
    _node(value[2], f"{where}[2]")


def _graph(cls: type, values: dict[str, Any]) -> Any:
    nodes = values["nodes"]
    if not nodes or any(parent not in nodes or child not in nodes for parent, _, child in values["edges"]):
        fail("graph", "its edges must join its own nodes, and it must have nodes")
    graph = cls(nodes=nodes, edges=values["edges"])
    _restore_graph(graph, values)
    return graph


def _esn(cls: type, values: dict[str, Any]) -> Any:
    options = ("feedback", "input_to_readout", "return_reservoir_activity")
    graph = cls(
        reservoir=values["reservoir"], readout=values["readout"], **{key: values[key] for key in options}
    )
    if not (same(graph.nodes, values["nodes"]) and same(graph.edges, values["edges"])):
        fail("ESN", "its nodes and edges must be those of its reservoir, readout and options")
    _restore_graph(graph, values)
    return graph


def _feedback_budget(graph: Any, spend: Any) -> None:
    """An uninitialized graph's feedback buffers, which ``initialize`` allocates, charged to max_bytes."""
    if graph.feedback_buffers is None:
        delayed = [(parent, delay) for parent, delay, _ in graph.edges if delay > 0]
        spend(8 * sum(delay * (parent.output_dim or 1) for parent, delay in delayed), "its feedback buffers")


def _restore_graph(graph: Any, values: dict[str, Any]) -> None:
    """The derived tables must be what the constructor computed; then the run state is restored."""
    for key in _DERIVED:
        if not same(getattr(graph, key), values[key]):
            fail("graph", f"its {key} do not follow from its nodes and edges")
    delayed = [edge for edge in graph.edges if edge[1] > 0]
    buffers = values["feedback_buffers"]
    if buffers is not None:
        if set(buffers) != set(delayed):  # (parent, delay, child) keys: nodes compare by identity
            fail("graph", "its feedback buffers must be exactly one per delayed edge")
        for parent, delay, child in delayed:
            buffer = buffers[parent, delay, child]
            array(2)(buffer, "a feedback buffer")
            if buffer.shape != (delay, parent.output_dim):
                fail(
                    "graph",
                    f"a feedback buffer must have shape ({delay}, {parent.output_dim}), got {buffer.shape}",
                )
    if values["initialized"] and (buffers is None or not all(node.initialized for node in graph.nodes)):
        fail("graph", "an initialized graph has initialized nodes and its feedback buffers")
    order = values.get("pseudo_execution_order")
    if order is not None:
        if len(order) != len(graph.nodes) or {id(node) for node in order} != {
            id(node) for node in graph.nodes
        }:
            fail("graph", "its pseudo execution order must hold each of its nodes once")
        graph.pseudo_execution_order = order
    graph.feedback_buffers, graph.initialized = buffers, values["initialized"]


# --------------------------------------------------------------------------------------- compiled graphs


def _compiled() -> dict[type, Declared]:
    import torch

    from cbreservoir.graph.compile import (
        CompiledGraph,
        _CerebellumStep,
        _InputStep,
        _LinearReadoutStep,
        _ReservoirStep,
    )
    from cbreservoir.nodes.cerebellum import OUTPUTS

    module = _module_fields()
    graph = Declared(
        {
            **module,
            "_key_of": kind(dict),  # written by earlier releases (keyed by id()): not used, dropped
            "nodes": mapping(TEXT, _node),
            "order": sequence(TEXT),
            "inputs": sequence(TEXT),
            "outputs": sequence(TEXT),
            "parents": mapping(TEXT, sequence(TEXT)),
            "delayed_parents": mapping(TEXT, sequence(_delayed_parent)),
            "max_delay": mapping(TEXT, integer(0, MAX_DELAY)),
            "dtype": choice(torch.float32, torch.float64),
            "device": _cpu,
        },
        invariants=_compiled_graph,
        optional=frozenset({"_key_of"}),
    )
    activations = either(real(0.0, 1.0, strict=True), instance(torch.Tensor))
    return {
        CompiledGraph: graph,
        _InputStep: Declared({**module, "output_dim": COUNT}, invariants=_step),
        _ReservoirStep: Declared(
            {
                **module,
                "leak": activations,
                "activation": _function,
                "n_inputs": COUNT,
                "cerebellar_bias": BOOL,
                "output_dim": COUNT,
            },
            invariants=_step,
        ),
        _CerebellumStep: Declared(
            {
                **module,
                "fixed_parameters": choice((), ("W_gc",)),
                "output": choice(*OUTPUTS),
                "input_gain": real(0.0, strict=True),
                "output_dim": COUNT,
            },
            invariants=_step,
        ),
        _LinearReadoutStep: Declared({**module, "output_dim": COUNT}, invariants=_step),
    }


def _module_fields() -> dict[str, Any]:
    """The fields of a bare ``torch.nn.Module`` (checked by :func:`check_module_base` after building)."""
    import torch

    return dict.fromkeys(vars(torch.nn.Module()), by_constructor)


def _cpu(value: Any, where: str) -> None:
    import torch

    if type(value) is not torch.device or value.type != "cpu":
        raise ValueError(f"{where} must be the cpu device (files load on the CPU), got {value!r:.40}")


def _delayed_parent(value: Any, where: str) -> None:
    if not (type(value) is tuple and len(value) == 2 and type(value[0]) is str):
        raise ValueError(f"{where} must be a (node key, delay) tuple, got {value!r:.80}")
    integer(1, MAX_DELAY)(value[1], f"{where}[1] (a delay)")


def _step(step: Any, spend: Any) -> None:
    """A compiled node's step: its parameters finite and of the shapes its sizes imply."""
    import torch

    from cbreservoir.graph.compile import _CerebellumStep, _LinearReadoutStep, _ReservoirStep
    from cbreservoir.io._codec import check_module_base
    from cbreservoir.numerics.functional import ACTIVATIONS

    check_module_base(step)
    parameters = dict(step.named_parameters())
    if any(not torch.isfinite(p).all() for p in parameters.values() if not p.is_meta):
        fail(type(step).__name__, "its parameters must be finite")
    shapes: dict[str, tuple[int, ...]] = {}
    if type(step) is _ReservoirStep:
        units = step.output_dim
        shapes = {"Win": (units, step.n_inputs), "W": (units, units), "bias": (units,)}
        if step.activation not in ACTIVATIONS.values():
            fail("reservoir step", "its activation must be one of the torch activations")
        if isinstance(step.leak, torch.Tensor) and (
            tuple(step.leak.shape) != (units,) or not ((step.leak > 0) & (step.leak <= 1)).all()
        ):
            fail("reservoir step", f"its leak rates must be ({units},) in (0, 1]")
    elif type(step) is _CerebellumStep:
        granule, mossy = _shape(step.W_gc) if step.W_gc.ndim == 2 else (0, 0)
        purkinje, out = _shape(step.W_pc)[0], _shape(step.W_dcn)[0]
        shapes = {
            "W_gc": (granule, mossy),
            "b_gc": (granule,),
            "W_pc": (purkinje, granule),
            "b_pc": (purkinje,),
            "W_dcn": (out, purkinje),
            "b_dcn": (out,),
        }
        emitted = {"input+granule": mossy + granule, "granule": granule, "purkinje": purkinje, "nuclei": out}
        if step.output_dim != emitted.get(step.output, granule + purkinje + out):
            fail("cerebellum step", f"output_dim {step.output_dim} does not fit its output {step.output!r}")
        threshold = step.granule_threshold
        if threshold is not None and (
            tuple(threshold.shape) != (granule,) or not torch.isfinite(threshold).all()
        ):
            fail("cerebellum step", f"its granule threshold must be finite of shape ({granule},)")
        if set(step._buffers) != {"granule_threshold"}:
            fail("cerebellum step", "its only buffer is granule_threshold")
    elif type(step) is _LinearReadoutStep:
        inputs = _shape(step.Wout)[0] if step.Wout.ndim == 2 else 0
        shapes = {"Wout": (inputs, step.output_dim), "bias": (step.output_dim,)}
    if {name: tuple(p.shape) for name, p in parameters.items()} != shapes:
        fail(type(step).__name__, f"its parameters must have the shapes {shapes}")
    dtypes = {p.dtype for p in parameters.values()}
    if len(dtypes) > 1:
        fail(type(step).__name__, "its parameters must share one dtype")


def _compiled_graph(graph: Any, spend: Any) -> None:
    from torch import nn

    from cbreservoir.graph.compile import _STEPS
    from cbreservoir.io._codec import check_module_base

    check_module_base(graph)
    steps = graph._modules.get("steps")
    keys = list(graph.nodes)
    if set(graph._modules) != {"steps"} or type(steps) is not nn.ModuleDict or list(steps) != keys:
        fail("CompiledGraph", "its steps must be a ModuleDict with one step per node, in the nodes' order")
    for key, node in graph.nodes.items():
        if type(steps[key]) is not _STEPS.get(type(node)):
            fail("CompiledGraph", f"step {key!r} is not the step of its {type(node).__name__} node")
    position = {key: index for index, key in enumerate(graph.order)}
    if sorted(graph.order) != sorted(keys) or len(position) != len(keys):
        fail("CompiledGraph", "its order must hold each node key once")
    if not graph.outputs or not set(graph.inputs) | set(graph.outputs) <= set(keys) or not graph.inputs:
        fail("CompiledGraph", "its inputs and outputs must be node keys (at least one of each)")
    if set(graph.parents) != set(keys) or set(graph.delayed_parents) != set(keys):
        fail("CompiledGraph", "its parents and delayed parents must list every node")
    for key in keys:
        if any(parent not in position or position[parent] >= position[key] for parent in graph.parents[key]):
            fail("CompiledGraph", f"the parents of {key!r} must be nodes that run before it")
        if any(parent not in position for parent, _ in graph.delayed_parents[key]):
            fail("CompiledGraph", f"the delayed parents of {key!r} must be nodes of the graph")
    max_delay = dict.fromkeys(keys, 0)
    for edges in graph.delayed_parents.values():
        for parent, delay in edges:
            max_delay[parent] = max(max_delay[parent], delay)
    if graph.max_delay != max_delay:
        fail("CompiledGraph", "its max_delay must follow from its delayed parents")
    spend(64 * sum(max_delay.values()), "the delay lines of a CompiledGraph (per series batch)")
    if any(p.dtype != graph.dtype for p in graph.parameters()):
        fail("CompiledGraph", f"its parameters must be of its dtype {graph.dtype}")
    graph.__dict__.pop("_key_of", None)
    widths = graph.input_widths()  # the external features of each input node; refuses impossible wirings
    graph.forward(
        {key: np.zeros((1, 1, width)) for key, width in widths.items()}
    )  # one step: the wiring fits


# ---------------------------------------------------------------------------------------------- training


def _training() -> dict[type, Declared]:
    import torch

    from cbreservoir.models.noise import Noise
    from cbreservoir.training import GradientTrainer, schedules
    from cbreservoir.training.curriculum import (
        _STATE_FIELDS,
        CurriculumHistory,
        CurriculumTrainer,
        EpochRecord,
    )
    from cbreservoir.training.ensemble import EnsembleTrainer

    generator_field = kind(torch.Generator)
    trainer = Declared(
        {
            "device": _cpu,
            "model": instance(torch.nn.Module),
            "schedule": instance(schedules.PlasticitySchedule),
            "clip_norm": optional(real(0.0, strict=True)),
            "optimizer": kind(torch.optim.SGD, torch.optim.Adam),
            "seed": integer(0, MAX_SEED),
            "train_generator": generator_field,
            "eval_generator": generator_field,
            "step_count": integer(0, _MAX_STEPS),
            "level": optional(integer(0, MAX_COUNT)),
            "schedule_state": optional(kind(dict)),  # the schedule checks it (GradientTrainer.__setstate__)
            "noise": optional(kind(Noise)),
        },
        invariants=_trainer,
        optional=frozenset({"schedule_state", "noise"}),  # files from before adaptive schedules and noise
    )
    curriculum = Declared({**dict.fromkeys(_STATE_FIELDS, by_constructor), "trainer": kind(GradientTrainer)})
    history = Declared(
        {"task": TEXT, "threshold": real(0.0, 1.0), "records": sequence(kind(EpochRecord))},
        build=through_constructor,
        optional=dataclass_defaults(CurriculumHistory),
    )
    record = Declared(
        {
            **dataclass_fields(EpochRecord),
            "epoch": integer(1, MAX_COUNT),
            "level": integer(0, MAX_COUNT),
            "accuracy": real(0.0, 1.0),
            "loss": kind(float, int),
            "test_loss": kind(float, int),
            "seconds": kind(float, int),
            "solved": BOOL,
            "head_accuracies": sequence(real(0.0, 1.0), tuple),
            "active_head": optional(integer(0, 1)),
        },
        build=through_constructor,
        optional=dataclass_defaults(EpochRecord),
    )
    ensemble = Declared(
        {
            "trainers": sequence(kind(GradientTrainer)),
            "group_overhead": optional(real(0.0)),
            "n_members": COUNT,
            "step_count": integer(0, _MAX_STEPS),
            "_member_steps": sequence(integer(0, _MAX_STEPS)),
            "_base": instance(torch.nn.Module),
            "_group_of": kind(dict),
            "_params": kind(dict),
            "_buffers": kind(dict),
            "optimizer": kind(torch.optim.SGD, torch.optim.Adam),
        },
        invariants=_ensemble,
    )
    declared = {
        GradientTrainer: trainer,
        CurriculumTrainer: curriculum,
        CurriculumHistory: history,
        EpochRecord: record,
        EnsembleTrainer: ensemble,
    }
    for cls in (*schedules.SCHEDULES.values(), Noise):  # every field of each, through its constructor
        declared[cls] = Declared(
            dataclass_fields(cls), build=through_constructor, optional=dataclass_defaults(cls)
        )
    return declared


def _trainer(trainer: Any, spend: Any) -> None:
    from cbreservoir.io._codec import is_config_model

    if not is_config_model(trainer.model):  # what the constructor's optimizer groups come from
        fail("GradientTrainer", f"its model must be a built model, got {type(trainer.model).__name__}")
    if trainer.train_generator.device.type != "cpu" or trainer.eval_generator.device.type != "cpu":
        fail("GradientTrainer", "its generators must be CPU generators")
    built = sorted(id(p) for group in trainer.model.module_groups().values() for p in group)
    held = sorted(id(p) for group in trainer.optimizer.param_groups for p in group["params"])
    if held != built:  # the constructor gives the optimizer every parameter of the model's groups
        fail(
            "GradientTrainer",
            f"its optimizer must hold the model's {len(built)} parameters; it holds {len(held)}",
        )


def _ensemble(ensemble: Any, spend: Any) -> None:
    import torch

    from cbreservoir.io._codec import is_config_model
    from cbreservoir.training.ensemble.trainer import (
        _check_same_architecture,
        _check_same_optimizer,
    )

    trainers = ensemble.trainers
    if len(trainers) != ensemble.n_members or len(ensemble._member_steps) != ensemble.n_members:
        fail(
            "EnsembleTrainer", f"it must have n_members={ensemble.n_members} trainers and member step counts"
        )
    models = [trainer.model for trainer in trainers]
    if not all(is_config_model(model) for model in models):
        fail("EnsembleTrainer", "its members must be built models")
    _check_same_architecture(models)
    _check_same_optimizer(trainers)
    base = ensemble._base
    if type(base) is not type(models[0]) or base.config != models[0].config:
        fail("EnsembleTrainer", "its base model must be of its first member's class and config")
    if not all(parameter.is_meta for parameter in base.parameters()):
        fail("EnsembleTrainer", "its base model holds shapes only (on the meta device)")
    group_of = (
        ensemble._group_of
    )  # as the saving release named the groups (names may change between releases)
    names = [name for name, _ in models[0].named_parameters()]
    if list(group_of) != names or not all(type(group) is str for group in group_of.values()):
        fail("EnsembleTrainer", "its parameter groups must name a group for each of its members' parameters")
    size = ensemble.n_members
    for table, tensors in (
        ("_params", dict(models[0].named_parameters())),
        ("_buffers", dict(models[0].named_buffers())),
    ):
        stacked = getattr(ensemble, table)
        if list(stacked) != list(tensors):
            fail("EnsembleTrainer", f"its {table} must hold the members' {table[1:]} by name")
        for name, tensor in stacked.items():
            member = tensors[name]
            if (
                type(tensor) is not torch.Tensor
                or tuple(tensor.shape) != (size, *member.shape)
                or tensor.dtype != member.dtype
            ):
                fail(
                    "EnsembleTrainer",
                    f"{table}[{name!r}] must be a ({size}, *{list(member.shape)}) {member.dtype} tensor",
                )
    if type(ensemble.optimizer) is not type(trainers[0].optimizer):
        fail("EnsembleTrainer", "its optimizer must be of its members' kind")
    groups = ensemble.optimizer.param_groups
    held = {group.get("name"): [id(p) for p in group["params"]] for group in groups}
    expected = {name: [id(ensemble._params[key]) for key in ensemble._names_in_group(name)] for name in held}
    if len(held) != len(groups) or held != expected or sum(map(len, held.values())) != len(ensemble._params):
        fail(
            "EnsembleTrainer",
            "each optimizer group must hold its group's stacked parameters, all of them once",
        )


# -------------------------------------------------------------------------------------------- estimators


def _estimators() -> dict[type, Declared]:
    import torch

    from cbreservoir.estimators import (
        CBRNNClassifier,
        CBRNNRegressor,
        CerebellarReservoirClassifier,
        CerebellarReservoirRegressor,
    )
    from cbreservoir.nodes import Cerebellum, Reservoir, Ridge

    classifier = {"classes_": array(1, "biuUf")}
    regressor = {"n_outputs_": COUNT, "scalar_targets_": BOOL}
    common = {
        "n_features_in_": COUNT,
        "per_series_": BOOL,
        "layout_": choice("channels_last", "channels_first", "one_series"),
    }
    reservoir = {
        **common,
        "max_steps_": SIZE,
        "windows_": COUNT,
        "reading_errors_": optional(mapping(TEXT, real())),
        "pooling_": sequence(TEXT, tuple),
        "alphas_": sequence(real(0.0), tuple),
        "input_mean_": optional(array(1)),
        "input_scale_": optional(array(1)),
        "reservoir_": kind(Reservoir),
        "cerebellum_": kind(Cerebellum),
        "feature_mean_": array(1),
        "feature_scale_": array(1),
        "alpha_": real(0.0),
        "readout_": kind(Ridge),
    }
    cbrnn = {
        **common,
        "model_": instance(torch.nn.Module),
        "loss_curve_": sequence(kind(float)),
        "n_iter_": integer(0, MAX_COUNT),
    }
    return {
        cls: _estimator(cls, fitted)
        for cls, fitted in (
            (CerebellarReservoirClassifier, {**reservoir, **classifier}),
            (CerebellarReservoirRegressor, {**reservoir, **regressor}),
            (CBRNNClassifier, {**cbrnn, **classifier}),
            (CBRNNRegressor, {**cbrnn, **regressor}),
        )
    }


def _estimator(cls: type, fitted: dict[str, Any]) -> Declared:
    """Parameters through the constructor (``n_jobs`` bounded here; a parameter a file of an earlier release
    lacks takes its default); fitted attributes all or none."""
    parameters = dict.fromkeys(cls._get_param_names(), _parameter)
    parameters["n_jobs"] = n_jobs
    return Declared(
        {**parameters, **fitted},
        build=_build_estimator,
        invariants=_fitted_estimator,
        optional=frozenset(fitted) | frozenset(parameters),
    )


def _parameter(value: Any, where: str) -> None:
    """An estimator parameter (``fit`` checks it): an int at most :data:`MAX_COUNT` in size, a finite
    float, or anything else."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        check_int(value, where, minimum=-MAX_COUNT, maximum=MAX_COUNT)
    elif isinstance(value, float | np.floating):
        check_real(value, where)


#: Fitted attributes of later releases and what a file written before them means (from its parameters).
_LATER_FITTED: dict[str, Any] = {
    "layout_": lambda values: "channels_last",
    "max_steps_": lambda values: values["max_steps"],
    "windows_": lambda values: values["windows"],
    "reading_errors_": lambda values: None,
}


def _build_estimator(cls: type, values: dict[str, Any]) -> Any:
    names = cls._get_param_names()
    estimator = cls(**{name: values[name] for name in names if name in values})
    fitted = {key: value for key, value in values.items() if key not in names}
    expected = set(_declared_fitted(cls))
    if fitted:  # a file of an earlier release lacks the fitted attributes added since
        later = (expected - set(fitted)) & set(_LATER_FITTED)
        fitted.update({key: _LATER_FITTED[key](values) for key in later})
    if fitted and set(fitted) != expected:
        fail(
            cls.__name__,
            f"a fitted estimator holds all of {sorted(expected)}; missing {sorted(expected - set(fitted))}",
        )
    estimator.__dict__.update(fitted)
    return estimator


def _declared_fitted(cls: type) -> frozenset[str]:
    from cbreservoir.io._declared import declared

    return declared()[cls].optional - frozenset(cls._get_param_names())


def _fitted_estimator(estimator: Any, spend: Any) -> None:
    """A fitted estimator: its parameters pass ``fit``'s checks, and one probe series runs through it
    and gives one output per class (classifiers) or per target (regressors)."""
    if not hasattr(estimator, "n_features_in_"):
        return
    name = type(estimator).__name__
    if hasattr(estimator, "classes_"):
        classes = estimator.classes_
        if len(classes) < 2 or len(np.unique(classes)) != len(classes):
            fail(name, "classes_ must hold at least 2 distinct labels")
        outputs = len(classes)
    else:
        outputs = estimator.n_outputs_
    if hasattr(estimator, "model_"):
        _check_cbrnn(estimator, outputs, name)
        length = _PROBE_STEPS
    else:
        _check_reservoir_estimator(estimator, outputs, name)
        length = max(_PROBE_STEPS, estimator.windows)
    states = _node_states(estimator)
    try:
        batch = estimator._validated_input(np.zeros((1, length, estimator.n_features_in_)))
        rows = estimator._output_rows(batch)
    finally:
        _restore_states(estimator, states)
    if rows.ndim != 2 or rows.shape[1] != outputs:
        fail(name, f"its model gives {rows.shape[-1]} outputs; its classes or targets need {outputs}")


def _check_cbrnn(estimator: Any, outputs: int, name: str) -> None:
    from cbreservoir.io._codec import is_config_model

    estimator._check_training_parameters()
    config = estimator.model_.config if is_config_model(estimator.model_) else {}
    if config.get("input_dim") != estimator.n_features_in_ or config.get("n_classes") != max(outputs, 2):
        fail(
            name,
            f"its model must read {estimator.n_features_in_} features and have {max(outputs, 2)} outputs",
        )


def _check_reservoir_estimator(estimator: Any, outputs: int, name: str) -> None:
    from cbreservoir.estimators._choice import reading_candidates

    reading, alphas = (estimator.max_steps_, estimator.windows_, estimator.pooling_), estimator.alphas_
    estimator._check_parameters()  # the parameters' reading and penalties
    allowed = [(estimator.max_steps_, estimator.windows_, estimator.pooling_)]
    if estimator.auto and estimator.reading_errors_ is not None:  # fit chose among these
        candidates = reading_candidates(*allowed[0], longest=MAX_COUNT)
        allowed = [(r.max_steps, r.windows, r.pooling) for r in candidates]
    estimator.max_steps_, estimator.windows_, estimator.pooling_ = reading
    if estimator.alphas_ != alphas or reading not in allowed or estimator.alpha_ not in alphas:
        fail(name, "its reading (max_steps_, windows_, pooling_) and penalties must follow its parameters")
    width = estimator.n_features_in_ * (2 if estimator.differences else 1)
    if (estimator.input_mean_ is None) != (not estimator.standardize) or (estimator.input_mean_ is None) != (
        estimator.input_scale_ is None
    ):
        fail(name, "input_mean_ and input_scale_ are set exactly when it standardizes")
    if estimator.input_mean_ is not None and (len(estimator.input_mean_), len(estimator.input_scale_)) != (
        width,
        width,
    ):
        fail(name, f"input_mean_ and input_scale_ must hold {width} values")
    reservoir, cerebellum, readout = estimator.reservoir_, estimator.cerebellum_, estimator.readout_
    if reservoir.input_dim != width or cerebellum.input_dim != reservoir.units or not cerebellum.initialized:
        fail(name, "its reservoir must read its inputs and its cerebellum the reservoir")
    if cerebellum.output != "granule" or readout.Wout is None:
        fail(name, "its cerebellum must emit the granule code and its readout be fitted")
    columns = readout.input_dim
    if (len(estimator.feature_mean_), len(estimator.feature_scale_)) != (columns, columns):
        fail(name, f"feature_mean_ and feature_scale_ must hold the readout's {columns} inputs")
    if readout.output_dim != outputs:
        fail(name, f"its readout has {readout.output_dim} outputs; its classes or targets need {outputs}")


def _node_states(estimator: Any) -> list[tuple[Any, Any]]:
    """What a probe run changes: the nodes' states and the model's train/eval mode."""
    held = [getattr(estimator, name, None) for name in ("reservoir_", "cerebellum_", "readout_")]
    saved = [(node, dict(node.state)) for node in held if node is not None]
    model = getattr(estimator, "model_", None)
    return saved + ([(model, model.training)] if model is not None else [])


def _restore_states(estimator: Any, states: list[tuple[Any, Any]]) -> None:
    for holder, state in states:
        if isinstance(state, bool):
            holder.train(state)
        else:
            holder.state = state

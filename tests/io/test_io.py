"""cbreservoir.io: the pickle-free save/load format, its round trips and its error handling."""

from __future__ import annotations

import json
import os
import pickle
import stat
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
import scipy.sparse
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reservoirpy.nodes import Reservoir as RpyReservoir
from reservoirpy.nodes import Ridge as RpyRidge
from safetensors import safe_open

import cbreservoir
from cbreservoir.io import FORMAT_NAME, FORMAT_VERSION, HEADER_KEY, load, read_header, save
from cbreservoir.utils.fileformat import MAX_NESTING


def _series(seed: int, length: int = 40, features: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(length, features))


def _fitted_loop_graph():
    """A reservoirpy graph with a delayed feedback edge (readout -> reservoir, delay 1), fitted."""
    reservoir = RpyReservoir(12, sr=0.9, seed=3, name="core")
    readout = RpyRidge(ridge=1e-4, name="readout")
    graph = (reservoir >> readout) & (readout >> 1 >> reservoir)
    graph.fit(_series(0), _series(1)[:, :1])
    graph.run(_series(2, length=7))  # leave non-zero states and feedback buffers behind
    return graph


# ------------------------------------------------------------------------------------------ round trips


def test_public_names_are_exported():
    assert cbreservoir.save is save
    assert cbreservoir.load is load


def test_graph_with_delayed_feedback_round_trip_is_bit_exact(tmp_path):
    graph = _fitted_loop_graph()
    path = save(graph, tmp_path / "graph.cbr")
    loaded = load(path)

    assert [type(node) for node in loaded.nodes] == [type(node) for node in graph.nodes]
    assert [(graph.nodes.index(a), d, graph.nodes.index(b)) for a, d, b in graph.edges] == [
        (loaded.nodes.index(a), d, loaded.nodes.index(b)) for a, d, b in loaded.edges
    ]
    x = _series(4, length=25)
    np.testing.assert_array_equal(loaded.run(x), graph.run(x))  # continues from the saved states
    assert read_header(path)["object_type"] == "graph"


def test_fitted_reservoirpy_esn_round_trip_is_bit_exact(tmp_path):
    from reservoirpy import ESN

    esn = ESN(units=10, ridge=1e-4, seed=1)
    esn.fit(_series(0), _series(1)[:, :1])
    loaded = load(save(esn, tmp_path / "esn.cbr"))
    x = _series(2, length=9)
    np.testing.assert_array_equal(loaded.run(x), esn.run(x))


def test_shared_nodes_stay_shared(tmp_path):
    graph = _fitted_loop_graph()
    loaded = load(save(graph, tmp_path / "graph.cbr"))
    reservoir = loaded.named_nodes["core"]
    assert reservoir is loaded.nodes[0]
    assert all(reservoir in edge for edge in loaded.edges)


def test_node_round_trip_keeps_sparse_weights_and_generator(tmp_path):
    node = RpyReservoir(20, seed=5, rc_connectivity=0.2)
    node.run(_series(6))
    loaded = load(save(node, tmp_path / "node.cbr"))

    assert scipy.sparse.issparse(loaded.W) and loaded.W.format == node.W.format
    np.testing.assert_array_equal(loaded.W.toarray(), node.W.toarray())
    assert loaded.activation is node.activation
    assert loaded.rng.random() == node.rng.random()
    x = _series(7)
    np.testing.assert_array_equal(loaded.run(x), node.run(x))
    assert read_header(tmp_path / "node.cbr")["object_type"] == "node"


def test_cbreservoir_pipeline_round_trip_is_bit_exact(tmp_path):
    """Reservoir >> Cerebellum (degree-limited, coding-level threshold) >> Ridge, fitted, float32 core."""
    from cbreservoir.nodes import Cerebellum, Reservoir, Ridge

    reservoir = Reservoir(15, lr=0.5, sr=0.9, dtype="float32", seed=2)
    cerebellum = Cerebellum(n_granule=40, granule_degree=4, coding_level=0.2, seed=3)
    pipeline = reservoir >> cerebellum >> Ridge(ridge=1e-4)
    x = np.random.default_rng(2).normal(size=(4, 30, 1))
    pipeline.fit(x, np.random.default_rng(3).normal(size=(4, 30, 2)))
    loaded = load(save(pipeline, tmp_path / "pipeline.cbr"))

    assert [type(node) for node in loaded.nodes] == [type(node) for node in pipeline.nodes]
    assert loaded.nodes[0].W.dtype == np.float32
    np.testing.assert_array_equal(loaded.nodes[1].granule_threshold, cerebellum.granule_threshold)
    x_test = np.random.default_rng(4).normal(size=(3, 20, 1))
    np.testing.assert_array_equal(loaded.run(x_test), pipeline.run(x_test))


def test_cbrnn_loop_graph_round_trip_is_bit_exact(tmp_path):
    """The paper's loop wiring (core -> cerebellum delayed, cerebellum -> core immediate) as a graph."""
    from cbreservoir.graph import graph_from_cbrnn
    from cbreservoir.models import CBRNN

    graph = graph_from_cbrnn(CBRNN(1, units=6, n_granule=12, n_purkinje=4, n_classes=(2, 3), seed=0))
    graph.run(_series(13, length=5, features=1))  # leave states and feedback buffers behind
    path = save(graph, tmp_path / "loop.cbr")
    loaded = load(path)

    delays = sorted((a.name, d, b.name) for a, d, b in loaded.edges)
    assert delays == sorted((a.name, d, b.name) for a, d, b in graph.edges)
    assert ("core", 1, "cerebellum") in delays and ("cerebellum", 0, "core") in delays
    x = _series(14, length=12, features=1)
    outputs, expected = loaded.run(x), graph.run(x)
    assert outputs.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(outputs[name], expected[name])


def test_gradient_trained_graph_and_its_compiled_module_round_trip(tmp_path):
    from cbreservoir.nodes import Cerebellum, GradientReadout, Reservoir
    from cbreservoir.training import train_graph

    core = Reservoir(10, lr=0.5, sr=0.9, seed=0, frozen=True, name="core")
    graph = core >> Cerebellum(16, seed=0, name="cb") >> GradientReadout(loss="cross_entropy", name="out")
    x = np.random.default_rng(0).integers(0, 2, (16, 5, 1)).astype(float)
    result = train_graph(
        graph, x, (x[:, -2, 0] == x[:, -1, 0]).astype(int), n_steps=3, seed=0, progress=False
    )

    loaded_graph = load(save(graph, tmp_path / "graph.cbr"))
    np.testing.assert_array_equal(loaded_graph.run(x), graph.run(x))
    compiled = load(save(result.graph, tmp_path / "compiled.cbr"))  # a torch module without a config
    assert torch.equal(compiled(x), result.graph(x))


def test_cbreservoir_nodes_round_trip_with_their_states(tmp_path):
    from cbreservoir.nodes import Cerebellum, Reservoir

    core = Reservoir(10, lr=0.3, cerebellar_bias=True, seed=0, input_dim=2 + 10).freeze()
    cerebellum = Cerebellum(n_granule=20, n_purkinje=5, output="all", seed=1)
    core.run(_series(9, features=12))
    cerebellum.run(_series(10, features=3))
    loaded_core, loaded_cerebellum = load(save([core, cerebellum], tmp_path / "nodes.cbr"))

    assert loaded_core.frozen and loaded_core.cerebellar_bias and loaded_core.activation == core.activation
    np.testing.assert_array_equal(loaded_core.state["out"], core.state["out"])
    x, u = _series(11, features=12), _series(12, features=3)
    np.testing.assert_array_equal(loaded_core.run(x), core.run(x))
    np.testing.assert_array_equal(loaded_cerebellum.run(u), cerebellum.run(u))
    for name in ("granule", "purkinje", "nuclei"):
        np.testing.assert_array_equal(loaded_cerebellum.activity(u)[name], cerebellum.activity(u)[name])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_plain_torch_module_round_trip(tmp_path, dtype):
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)).to(dtype)
    module[0].weight.requires_grad_(False)
    module.eval()
    loaded = load(save(module, tmp_path / "module.cbr"))

    x = torch.randn(4, 3, dtype=dtype)
    assert torch.equal(loaded(x), module(x))
    assert loaded[2].weight.dtype == dtype
    assert not loaded[0].weight.requires_grad and loaded[2].weight.requires_grad
    assert isinstance(loaded[2].weight, torch.nn.Parameter)
    assert not loaded.training


def _logits(model, x: torch.Tensor):
    h0 = model.initial_state(x.shape[0], generator=torch.Generator().manual_seed(0))
    return model(x, h0=h0.to(x.dtype))


@pytest.mark.parametrize(
    ("kind", "kwargs"),
    [
        ("cbrnn", {"units": 8, "n_granule": 16, "n_purkinje": 4}),
        ("rnn", {"units": 6, "n_classes": (2, 3)}),
        ("lstm_cb", {"units": 5}),
    ],
)
def test_built_model_round_trip_is_bit_exact(tmp_path, kind, kwargs):
    from cbreservoir.models import build_model

    model = build_model(kind, input_dim=2, seed=1, **kwargs)
    with torch.no_grad():  # move away from the seeded initialisation: weights must come from the file
        for parameter in model.parameters():
            parameter.add_(0.01 * torch.randn_like(parameter))
    path = save(model, tmp_path / "model.cbr")
    loaded = load(path)

    assert type(loaded) is type(model) and loaded.config == model.config
    x = torch.randn(3, 6, 2)
    assert all(
        torch.equal(a, b) for a, b in zip(_flat(_logits(loaded, x)), _flat(_logits(model, x)), strict=True)
    )
    header = read_header(path)
    assert header["object_type"] == "torch_model"
    assert header["class"] == f"{type(model).__module__}:{type(model).__qualname__}"


def _flat(logits) -> tuple[torch.Tensor, ...]:
    return logits if isinstance(logits, tuple) else (logits,)


def test_built_model_keeps_dtype_frozen_weights_mode_and_cerebellum_switch(tmp_path):
    from cbreservoir.models import CBRNN

    model = CBRNN(1, units=6, n_granule=12, n_purkinje=4, seed=2).double().eval()
    for parameter in model.core.parameters():
        parameter.requires_grad_(False)
    model.cerebellum_enabled = False
    loaded = load(save(model, tmp_path / "model.cbr"))

    assert all(parameter.dtype == torch.float64 for parameter in loaded.parameters())
    assert [p.requires_grad for p in loaded.parameters()] == [p.requires_grad for p in model.parameters()]
    assert not loaded.training and loaded.cerebellum_enabled is False
    x = torch.randn(2, 4, 1, dtype=torch.float64)
    assert torch.equal(_logits(loaded, x), _logits(model, x))


def test_built_model_inside_a_container_is_shared_not_copied(tmp_path):
    from cbreservoir.models import build_model

    model = build_model("rnn", input_dim=1, units=4, seed=0)
    loaded = load(save({"a": model, "b": [model]}, tmp_path / "pair.cbr"))
    assert loaded["a"] is loaded["b"][0]


def test_pickle_still_works_for_built_models():
    from cbreservoir.models import build_model

    model = build_model("cbrnn", input_dim=1, units=4, n_granule=8, n_purkinje=4, seed=0)
    copy = pickle.loads(pickle.dumps(model))
    x = torch.randn(2, 5, 1)
    assert torch.equal(_logits(copy, x), _logits(model, x))


def _tiny_cbrnn(seed: int):
    from cbreservoir.models import CBRNN

    return CBRNN(1, units=6, n_granule=12, n_purkinje=4, seed=seed)


def test_trainer_round_trip_continues_training_identically(tmp_path):
    """Optimizer state, schedule, random streams: the loaded trainer takes the very same next steps."""
    from cbreservoir.tasks import make_batch
    from cbreservoir.training import GradientTrainer

    trainer = GradientTrainer(_tiny_cbrnn(0), schedule="interleaved", momentum=0.5)
    trainer.set_level(3)
    x, y = make_batch("parity", 3, batch_size=8, seed=0)
    trainer.train_step(x, y)
    loaded = load(save(trainer, tmp_path / "trainer.cbr"))

    assert loaded.optimizer.param_groups[0]["params"][0] is next(loaded.model.parameters())
    assert [loaded.train_step(x, y) for _ in range(3)] == [trainer.train_step(x, y) for _ in range(3)]
    assert loaded.evaluate(x, y) == trainer.evaluate(x, y)


def test_curriculum_round_trip_continues_identically(tmp_path):
    from cbreservoir.training import GradientTrainer
    from cbreservoir.training.curriculum import CurriculumTrainer

    curriculum = CurriculumTrainer(
        GradientTrainer(_tiny_cbrnn(0)),
        "parity",
        steps_per_epoch=2,
        test_batches=1,
        batch_size=4,
        progress=False,
    )
    curriculum.run(1)
    loaded = load(save(curriculum, tmp_path / "curriculum.cbr"))

    assert loaded.history.to_dict() == curriculum.history.to_dict()
    assert loaded.run(1).to_dict() == curriculum.run(1).to_dict()


def test_ensemble_round_trip_continues_training_identically(tmp_path):
    from cbreservoir.tasks import make_batch
    from cbreservoir.training.ensemble import EnsembleTrainer

    ensemble = EnsembleTrainer([_tiny_cbrnn(seed) for seed in range(3)], seeds=range(3))
    batches = [make_batch("dms", 3, batch_size=8, seed=seed) for seed in range(3)]
    xs, ys = [x for x, _ in batches], [y for _, y in batches]
    ensemble.train_step(xs, ys)
    loaded = load(save(ensemble, tmp_path / "ensemble.cbr"))

    assert loaded.train_step(xs, ys) == ensemble.train_step(xs, ys)
    assert loaded.evaluate(xs, ys) == ensemble.evaluate(xs, ys)
    ensemble.sync_members()
    loaded.sync_members()
    for original, copy in zip(ensemble.members, loaded.members, strict=True):
        assert all(torch.equal(a, b) for a, b in zip(original.parameters(), copy.parameters(), strict=True))


def test_fitted_estimators_round_trip(tmp_path):
    from cbreservoir.estimators import CBRNNRegressor, CerebellarReservoirClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 6, 2))
    labels = (x[:, -1, 0] > 0).astype(int)
    classifier = CerebellarReservoirClassifier(units=10, n_granule=20, random_state=0).fit(x, labels)
    regressor = CBRNNRegressor(units=5, n_granule=10, n_purkinje=3, epochs=2, random_state=0)
    regressor.fit(x, x[:, -1, :1].sum(axis=1))
    path = save({"classifier": classifier, "regressor": regressor}, tmp_path / "estimators.cbr")
    loaded = load(path)

    np.testing.assert_array_equal(loaded["classifier"].predict_proba(x), classifier.predict_proba(x))
    np.testing.assert_array_equal(loaded["regressor"].predict(x), regressor.predict(x))
    assert loaded["regressor"].get_params() == regressor.get_params()
    assert read_header(save(classifier, tmp_path / "one.cbr"))["object_type"] == "estimator"


def test_meta_device_models_and_tensors_keep_shape_and_dtype(tmp_path):
    model = _tiny_cbrnn(0).double().to("meta")
    loaded = load(save([model, torch.empty(2, 3, device="meta")], tmp_path / "meta.cbr"))
    assert all(p.is_meta and p.dtype == torch.float64 for p in loaded[0].parameters())
    assert loaded[1].is_meta and loaded[1].shape == (2, 3)


def test_unsupported_tensor_dtype_is_refused_with_its_location(tmp_path):
    with pytest.raises(TypeError, match=r"cannot save obj\['w'\]"):
        save({"w": torch.ones(2, dtype=torch.bfloat16)}, tmp_path / "bf16.cbr")


def test_values_of_every_supported_kind_round_trip(tmp_path):
    values = {
        "none": None,
        "flags": [True, False],
        "numbers": (1, -(2**70), 0.1, float("inf"), float("-inf")),
        "text": "héllo",
        "numpy_scalars": [np.float32(1.25), np.int16(-3), np.bool_(True)],
        "arrays": [np.arange(6, dtype=np.int8).reshape(2, 3), np.asfortranarray(np.eye(3)), np.array(2.5)],
        "dtypes": [np.dtype("float32"), np.float64],
        "sets": ({1, 2}, frozenset({"a"})),
        "defaults": defaultdict(list, {"a": [1]}),
        7: "non-string key",
        ("tuple", "key"): {"nested": [1, [2, [3]]]},
        "sparse": [
            scipy.sparse.random(5, 4, density=0.4, format=f, random_state=1) for f in ("csr", "csc", "coo")
        ],
        "torch": [
            torch.arange(3.0),
            torch.tensor([1, 2], dtype=torch.int64),
            torch.float16,
            torch.Size([2, 3]),
        ],
    }
    loaded = load(save(values, tmp_path / "values.cbr"))

    assert loaded.keys() == values.keys()
    assert loaded["defaults"].default_factory is list and loaded["defaults"] == values["defaults"]
    for key in ("none", "flags", "numbers", "text", "dtypes", "sets", 7, ("tuple", "key")):
        assert loaded[key] == values[key]
    for original, copy in zip(values["numpy_scalars"], loaded["numpy_scalars"], strict=True):
        assert type(copy) is type(original) and copy == original
    for original, copy in zip(values["arrays"], loaded["arrays"], strict=True):
        assert copy.dtype == original.dtype
        np.testing.assert_array_equal(copy, original)
    for original, copy in zip(values["sparse"], loaded["sparse"], strict=True):
        assert type(copy) is type(original) and copy.format == original.format
        np.testing.assert_array_equal(copy.toarray(), original.toarray())
    assert torch.equal(loaded["torch"][0], values["torch"][0])
    assert loaded["torch"][1].dtype == torch.int64
    assert loaded["torch"][2] is torch.float16
    assert loaded["torch"][3] == torch.Size([2, 3]) and type(loaded["torch"][3]) is torch.Size


def test_named_tuples_round_trip(tmp_path):
    from cbreservoir.numerics.functional import CerebellarActivity

    activity = CerebellarActivity(torch.ones(2, 4), torch.zeros(2, 3), torch.arange(4.0).reshape(2, 2))
    loaded = load(save(activity, tmp_path / "activity.cbr"))
    assert type(loaded) is CerebellarActivity
    assert all(torch.equal(a, b) for a, b in zip(loaded, activity, strict=True))


def test_shared_arrays_and_tensors_stay_shared(tmp_path):
    array, tensor = np.arange(3.0), torch.arange(3.0)
    loaded = load(save({"a": array, "b": array, "t": [tensor, tensor]}, tmp_path / "shared.cbr"))
    assert loaded["a"] is loaded["b"] and loaded["t"][0] is loaded["t"][1]


_ARRAYS = st.sampled_from(["float64", "float32", "int64", "int8", "uint16", "bool", "complex128"]).flatmap(
    lambda dtype: st.integers(0, 3).flatmap(
        lambda ndim: st.lists(st.integers(0, 3), min_size=ndim, max_size=ndim).map(
            lambda shape: np.random.default_rng(sum(shape) + ndim).normal(size=shape).astype(dtype)
        )
    )
)
_LEAVES = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8) | _ARRAYS
)
_VALUES = st.recursive(
    _LEAVES,
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=5) | st.integers(), children, max_size=3)
    ),
    max_leaves=12,
)


def _identical(a, b) -> bool:
    """Equal values of the same types; arrays with the same dtype, shape and bits."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_identical(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_identical(a[key], b[key]) for key in a)
    return a == b


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_VALUES)
def test_any_nested_value_round_trips_identically(tmp_path, value):
    assert _identical(load(save(value, tmp_path / "value.cbr")), value)


def test_nan_survives_and_random_generators_continue_identically(tmp_path):
    numpy_rng = np.random.default_rng(11)
    legacy_rng = np.random.RandomState(12)
    torch_rng = torch.Generator().manual_seed(13)
    numpy_rng.random(3)  # advance away from the seed
    loaded = load(save([float("nan"), numpy_rng, legacy_rng, torch_rng], tmp_path / "rngs.cbr"))

    assert np.isnan(loaded[0])
    np.testing.assert_array_equal(loaded[1].random(5), numpy_rng.random(5))
    np.testing.assert_array_equal(loaded[2].rand(5), legacy_rng.rand(5))
    assert torch.equal(torch.rand(5, generator=loaded[3]), torch.rand(5, generator=torch_rng))


def test_functions_are_saved_by_a_name_that_loads_back(tmp_path):
    from cbreservoir.numerics.functional import get_activation

    functions = [np.tanh, torch.tanh, torch.relu, get_activation("leaky_relu")]
    assert load(save(functions, tmp_path / "functions.cbr")) == functions


def test_pickle_still_works_for_graphs():
    graph = _fitted_loop_graph()
    copy = pickle.loads(pickle.dumps(graph))
    x = _series(8)
    np.testing.assert_array_equal(copy.run(x), graph.run(x))


def test_header_describes_the_file(tmp_path):
    path = save(np.zeros(3), tmp_path / "array.cbr")
    header = read_header(path)
    assert header["format"] == FORMAT_NAME
    assert header["format_version"] == FORMAT_VERSION
    assert header["package_version"] == cbreservoir.__version__
    assert header["class"] == "numpy:ndarray"
    assert header["arrays"] == {"a0": ["<f8", [3], False]}
    assert len(header["sha256"]) == 64


def test_file_is_a_safetensors_file_and_save_leaves_no_temporary_files(tmp_path):
    path = save(_fitted_loop_graph(), tmp_path / "graph.cbr")
    assert path == tmp_path / "graph.cbr"  # no suffix appended
    with safe_open(str(path), framework="numpy") as archive:
        assert archive.metadata()["format"] == FORMAT_NAME
        assert all(archive.get_tensor(key).dtype != object for key in archive.keys())  # noqa: SIM118 (not a dict)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.cbr"]


def test_files_are_written_with_the_users_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        path = save([1, 2], tmp_path / "list.cbr")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_text_complex_zero_d_and_fortran_arrays_keep_dtype_shape_order_and_bits(tmp_path):
    values = [
        np.array(["ab", "", "héllo"]),
        np.array([b"x", b"yz"]),
        np.array([1 + 2j, np.nan], dtype=np.complex64),
        np.array(3.5, dtype=np.float16),
        np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        np.zeros((0, 3), dtype=np.complex128),
    ]
    loaded = load(save(values, tmp_path / "arrays.cbr"))
    for original, copy in zip(values, loaded, strict=True):
        assert copy.dtype == original.dtype and copy.shape == original.shape
        assert copy.tobytes() == original.tobytes() and copy.flags.f_contiguous == original.flags.f_contiguous
        assert copy.flags.writeable


def test_unsupported_objects_are_refused_at_save_time_with_their_location(tmp_path):
    from sklearn.utils import Bunch

    from cbreservoir.nodes import Reservoir

    class MyReservoir(Reservoir):
        pass

    cases = [
        ({"activation": lambda z: z}, r"obj\['activation'\].*<lambda>.*not one of the functions"),
        ([Path("x")], r"obj\[0\].*pathlib.*not among the types"),
        (np.array([None]), "unsupported array dtype '\\|O'"),
        (np.arange(3, dtype=">f8"), "unsupported array dtype '>f8'"),
        (np.array(["2020-01-01"], dtype="datetime64[D]"), "unsupported array dtype '<M8"),
        (Bunch(a=1), r"cannot save obj: objects of type sklearn.*Bunch"),
        (MyReservoir(3), r"cannot save obj: objects of type .*MyReservoir"),  # a subclass is not registered
        (np.ma.masked_array([1.0]), r"numpy.*MaskedArray"),
        (scipy.sparse.random(3, 3, format="lil", random_state=0), r"format 'lil'.*\.tocsr\(\)"),
        (_nested(70), "nested more than 60 levels"),
    ]
    for value, match in cases:
        with pytest.raises(TypeError, match=match):
            save(value, tmp_path / "bad.cbr")
    assert list(tmp_path.iterdir()) == []


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def test_the_deepest_value_save_accepts_loads_back(tmp_path):
    value: object = 0
    for _ in range(MAX_NESTING - 1):  # dicts: the deepest JSON per level
        value = {"k": value}
    assert load(save(value, tmp_path / "deep.cbr")) == value


def test_max_bytes_is_checked_and_limits_the_file(tmp_path):
    path = save(np.zeros(1000), tmp_path / "zeros.cbr")
    for bad, error in (
        (0, ValueError),
        (-5, ValueError),
        (1.5, TypeError),
        (True, TypeError),
        ("9", TypeError),
    ):
        with pytest.raises(error, match="max_bytes"):
            load(path, max_bytes=bad)
    with pytest.raises(ValueError, match=r"more than max_bytes=1,000"):
        load(path, max_bytes=1000)
    np.testing.assert_array_equal(load(path, max_bytes=path.stat().st_size), np.zeros(1000))


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.cbr"):
        load(tmp_path / "missing.cbr")


def test_truncated_file_raises_value_error(tmp_path):
    path = save(_fitted_loop_graph(), tmp_path / "graph.cbr")
    data = path.read_bytes()
    for size in (0, 10, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:size])
        with pytest.raises(ValueError, match="truncated or corrupted"):
            load(path)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fraction=st.floats(0, 1, exclude_max=True), flip=st.integers(1, 255))
def test_flipped_byte_never_gives_a_broken_object(tmp_path, fraction, flip):
    """A corrupted byte raises ValueError, unless it hit bytes zip ignores (then it loads exactly)."""
    source = tmp_path / "source.npz"
    if not source.exists():
        save({"weights": np.linspace(-1, 1, 64), "name": "w"}, source)
    data = bytearray(source.read_bytes())
    data[int(fraction * len(data))] ^= flip
    corrupted = tmp_path / "corrupted.npz"
    corrupted.write_bytes(bytes(data))
    try:
        loaded = load(corrupted)
    except ValueError:
        return
    np.testing.assert_array_equal(loaded["weights"], np.linspace(-1, 1, 64))
    assert loaded["name"] == "w"


def test_format_version_1_files_are_refused_with_how_to_resave(tmp_path):
    path = tmp_path / "old.npz"
    header = {"format": FORMAT_NAME, "format_version": 1, "payload": [1]}
    np.savez(path, **{HEADER_KEY: np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)})
    with pytest.raises(
        ValueError, match=r"format version 1 wrote.*load it with the cbreservoir that wrote it"
    ):
        load(path)


def test_foreign_files_raise_value_error(tmp_path):
    plain = tmp_path / "plain.safetensors"
    safetensors.numpy.save_file({"x": np.ones(2)}, plain)
    with pytest.raises(ValueError, match="not a cbreservoir file"):
        load(plain)
    text = tmp_path / "text.cbr"
    text.write_text("hello world")
    with pytest.raises(ValueError, match="truncated or corrupted"):
        load(text)
    with pytest.raises(ValueError, match="not a regular file"):
        load(tmp_path)

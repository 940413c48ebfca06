"""cbreservoir.io against hostile files: each is refused with ValueError, runs no code, allocates little.

Most files are written as an attacker would: the payload or the array table is changed and the file is
signed again with a valid checksum (the checksum detects corruption, not forgery), so that every check
behind the checksum is reached. The signature follows docs/save-load.md: SHA-256 over the metadata
fields but ``sha256``, sorted by name, each as ``name NUL value NUL``, then every stored byte.
"""

from __future__ import annotations

import json
import re
import struct
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cbreservoir
import cbreservoir.utils.fileformat
from cbreservoir.io import HEADER_KEY, MAX_HEADER_DEPTH, load
from tests.io.crafting import parts, signature

#: Peak Python/NumPy allocation allowed while loading one hostile file (measured with tracemalloc).
PEAK_LIMIT = 50 * 1024**2
#: Growth of the process's peak resident memory allowed while loading one (sees torch's allocations too).
RSS_LIMIT = 50 * 1024**2
#: The corpus must keep at least this many files.
MIN_CORPUS = 40

#: The saved files the hostile ones are made from, and their classes.
ORIGINALS = {"model": "CBRNN", "node": "Reservoir", "data": "dict", "meta": "CBRNN"}

_POPEN = "torch.distributed.elastic.multiprocessing.subprocess_handler.subprocess_handler:Popen"
_OPEN_FILE = "torch.serialization:_open_file"
_PROC = Path("/proc/self")


# ----------------------------------------------------------------------------------------- file crafting


def _write(
    path: Path,
    arrays: dict[str, np.ndarray],
    metadata: dict[str, str],
    header: dict | None = None,
    *,
    header_text: str | None = None,
    sign: bool = True,
) -> None:
    metadata = dict(metadata)
    if header is not None:
        metadata[HEADER_KEY] = json.dumps(header)
    if header_text is not None:
        metadata[HEADER_KEY] = header_text
    if sign:
        metadata["sha256"] = signature(metadata, arrays)
    path.write_bytes(safetensors.numpy.save(arrays, metadata=metadata))


def _raw(path: Path, table: str, data: bytes = b"", length: int | None = None) -> None:
    """A safetensors file written byte by byte: 8-byte header length, the JSON table, the data."""
    text = table.encode()
    path.write_bytes(struct.pack("<Q", len(text) if length is None else length) + text + data)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


class _Corpus:
    """Saved originals, and the hostile files made from them with the reason each must be refused for."""

    def __init__(self, directory: Path) -> None:
        from cbreservoir.models import CBRNN
        from cbreservoir.nodes import Reservoir

        self.directory = directory
        self.marker = directory / "code-ran.marker"
        self.victim = directory / "victim.txt"
        self.victim.write_text("must survive")
        cbreservoir.save(CBRNN(1, units=4, n_granule=8, n_purkinje=4, seed=0), directory / "model.cbr")
        cbreservoir.save(Reservoir(5, seed=0), directory / "node.cbr")
        cbreservoir.save({"w": np.arange(4.0), "values": [1, 2.5, "text"]}, directory / "data.cbr")
        cbreservoir.save(CBRNN(1, units=4, n_granule=8, n_purkinje=4).to("meta"), directory / "meta.cbr")
        self.expected: dict[str, tuple[Path, str]] = {}

    def original(self, name: str) -> tuple[dict[str, np.ndarray], dict[str, str], dict]:
        return parts(self.directory / f"{name}.cbr")

    def path(self, name: str, expect: str) -> Path:
        """A new file ``name`` that :func:`load` must refuse with a message matching ``expect``."""
        assert name not in self.expected, name
        path = self.directory / f"{name}.hostile"
        self.expected[name] = (path, expect)
        return path

    def payload(self, name: str, expect: str, payload: object, *, cls: str, base: str = "data") -> None:
        """A file of ``base`` whose payload and declared class are replaced, signed again."""
        arrays, metadata, header = self.original(base)
        header.update(payload=payload, **{"class": cls})
        _write(self.path(name, expect), arrays, metadata, header)

    def header(self, name: str, expect: str, change: Callable[[dict], object], *, base: str = "data") -> None:
        arrays, metadata, header = self.original(base)
        change(header)
        _write(self.path(name, expect), arrays, metadata, header)

    def metadata(self, name: str, expect: str, **fields: str | None) -> None:
        arrays, metadata, _ = self.original("data")
        for key, value in fields.items():
            if value is None:
                del metadata[key]
            else:
                metadata[key] = value
        _write(self.path(name, expect), arrays, metadata)

    def model(self, name: str, expect: str, change: Callable[[dict, dict], object]) -> None:
        """A file of the saved CBRNN whose payload (``header["payload"]``) and arrays ``change`` edits."""
        arrays, metadata, header = self.original("model")
        change(header["payload"], arrays)
        if "arrays" in header["payload"]:  # a change of the table travels in the payload dict
            header["arrays"] = header["payload"].pop("arrays")
        _write(self.path(name, expect), arrays, metadata, header)

    def config(self, name: str, expect: str, index: int, pair: list) -> None:
        """The saved CBRNN with its config's ``index``-th ``[key, value]`` pair replaced."""
        self.model(name, expect, lambda payload, _: payload["config"]["pairs"].__setitem__(index, pair))

    def sparse(self, name: str, expect: str, shape: list[int], form: str, indices: tuple = (0, 1)) -> None:
        """A tiny sparse entry (2 values) claiming ``shape``; its index pointers fit a 2 x 2 matrix."""
        data = np.ones(2)
        if form == "coo":
            arrays = {"a0": data, "a1": np.array(indices, np.int32), "a2": np.array([0, 1], np.int32)}
            parts = {"data": "a0", "row": "a1", "col": "a2"}
        else:
            arrays = {"a0": data, "a1": np.array(indices, np.int32), "a2": np.array([0, 1, 2], np.int32)}
            parts = {"data": "a0", "indices": "a1", "indptr": "a2"}
        header = {
            "object_type": "object",
            "class": f"scipy.sparse._{form}:{form}_array",
            "arrays": {key: [array.dtype.str, list(array.shape), False] for key, array in arrays.items()},
            "payload": {"__type__": "sparse", "format": form, "matrix": False, "shape": shape, **parts},
        }
        _write(self.path(name, expect), arrays, self.original("data")[1], header)


def _meta_tensor(shape: list[int], dtype: str) -> dict:
    return {
        "__type__": "tensor",
        "id": 0,
        "parameter": False,
        "requires_grad": False,
        "meta": True,
        "shape": shape,
        "dtype": dtype,
    }


# ------------------------------------------------------------------------------------------------ corpus


def _code_by_name(corpus: _Corpus) -> None:
    """The two exploits of issue 19 (today's format and the old .npz one), and every other named hook."""
    shell = [["sh", "-c", f"touch {corpus.marker}"]]
    popen = {"__type__": "namedtuple", "class": _POPEN, "items": shell}
    open_file = {"__type__": "namedtuple", "class": _OPEN_FILE, "items": [str(corpus.victim), "w"]}
    corpus.payload("exploit_popen", "unknown named tuple", popen, cls="builtins:tuple")
    corpus.payload("exploit_open_file", "unknown named tuple", open_file, cls="builtins:tuple")
    for name, entry in (("npz_v1_exploit_popen", popen), ("npz_v1_exploit_open_file", open_file)):
        header = {"format": "cbreservoir", "format_version": 1, "arrays_sha256": "", "payload": entry}
        with corpus.path(name, "format version 1").open("wb") as stream:
            np.savez(stream, __header__=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    for name, path in (
        ("function_os_system", "os:system"),
        ("function_through_a_module", "torch:os.system"),
        ("function_builtins_eval", "builtins:eval"),
    ):
        corpus.payload(
            name,
            "refusing to load the function",
            [{"__type__": "function", "path": path}],
            cls="builtins:list",
        )
    for name, cls in (
        ("object_subprocess_popen", "subprocess:Popen"),
        ("object_allowed_package_popen", _POPEN),
        ("object_unknown_class", "reservoirpy.nodes:NodeFromTheFuture"),
    ):
        entry = {"__type__": "object", "id": 0, "class": cls, "state": {"args": shell[0]}}
        corpus.payload(name, "refusing to load an object of class", entry, cls=cls)
    schedule = "cbreservoir.training.schedules:EndToEnd"
    dunder = {"__type__": "object", "id": 0, "class": schedule, "state": {"__class__": 1}}
    corpus.payload("object_dunder_state", "undeclared fields", dunder, cls=schedule)
    corpus.payload(
        "class_entry",
        "unknown entry type 'class'",
        {"__type__": "class", "path": "os:system"},
        cls="os:system",
    )
    factory = {"__type__": "dict", "ordered": False, "pairs": [], "default_factory": "eval"}
    corpus.payload(
        "defaultdict_factory_eval", "unknown defaultdict factory", factory, cls="collections:defaultdict"
    )
    state = {"__type__": "dict", "ordered": False, "pairs": [["bit_generator", "os.system"]]}
    corpus.payload(
        "bit_generator_by_name",
        "unknown NumPy bit generator",
        {"__type__": "np_generator", "state": state},
        cls="numpy.random._generator:Generator",
    )
    corpus.payload(
        "numpy_object_dtype",
        "unsupported array dtype '\\|O'",
        {"__type__": "dtype", "name": "|O", "as_type": False},
        cls="numpy:dtype",
    )
    corpus.payload(
        "torch_dtype_by_attribute",
        "unknown torch dtype",
        {"__type__": "torch_dtype", "name": "__class__"},
        cls="torch:dtype",
    )
    corpus.payload(
        "torch_device_injection",
        "a torch device must be",
        {"__type__": "torch_device", "name": "cpu; rm -rf /"},
        cls="torch:device",
    )
    corpus.config("model_kind_unknown", "kind must be one of", 0, ["kind", "os.system"])


def _huge_sizes(corpus: _Corpus) -> None:
    """Small files claiming sizes no stored bytes back."""
    budget = "left of max_bytes"
    corpus.payload(
        "meta_tensor_1e12_squared", budget, _meta_tensor([10**12, 10**12], "float32"), cls="torch:Tensor"
    )
    corpus.payload("meta_tensor_8_gib", budget, _meta_tensor([2**30], "float64"), cls="torch:Tensor")

    def huge_meta_model(payload: dict, _: dict) -> None:
        payload.update(meta=True, state_dict={})
        payload["config"]["pairs"][2] = ["units", 40_000]  # 1.6e9 recurrent weights

    corpus.model("meta_model_huge_config", f"{budget}|would need about", huge_meta_model)
    corpus.config(
        "model_config_bigger_than_its_weights",
        "needs shape \\[1000, 1\\] and dtype <f4",
        2,
        ["units", 1000],
    )
    corpus.sparse("sparse_csr_1e9_rows", budget, [10**9, 1], "csr")
    corpus.sparse("sparse_coo_1e18_square", budget, [10**18, 10**18], "coo")
    corpus.sparse("sparse_csr_1e8_rows", "needs 100000001 index pointers, the file has 3", [10**8, 1], "csr")
    corpus.sparse("sparse_csc_1e8_columns", "needs 100000001 index pointers", [1, 10**8], "csc")
    unreadable = "not a readable cbreservoir file"
    table = '{"a0":{"dtype":"F64","shape":%s,"data_offsets":[0,24]}}'
    _raw(corpus.path("table_shape_1e9", unreadable), table % "[1000000000]", bytes(24))
    _raw(corpus.path("table_shape_overflow", unreadable), table % "[1000000000000,1000000000000]", bytes(24))
    _raw(corpus.path("table_length_1e15", unreadable), "{}", length=10**15)
    corpus.header(
        "declared_shape_1e9",
        "but the file stores F64 of shape \\[4\\]",
        lambda h: h["arrays"]["a0"].__setitem__(1, [10**9]),
    )
    with (
        zipfile.ZipFile(
            corpus.path("zip_bomb_64_mib", "format version 1"), "w", zipfile.ZIP_DEFLATED
        ) as archive,
        archive.open("__header__.npy", "w", force_zip64=True) as member,
    ):
        for _ in range(64):
            member.write(bytes(1 << 20))


def _mismatches(corpus: _Corpus) -> None:
    """Declared classes that are not what the payload holds; state dicts that do not fit the model."""
    arrays, metadata, header = corpus.original("node")
    header["class"] = "cbreservoir.models.leaky:CBRNN"
    _write(
        corpus.path(
            "class_node_declared_cbrnn",
            "declares a cbreservoir.models.leaky:CBRNN \\(node\\), but the payload holds a .*Reservoir",
        ),
        arrays,
        metadata,
        header,
    )
    corpus.header(
        "class_dict_declared_list", "declares a builtins:list", lambda h: h.update({"class": "builtins:list"})
    )
    corpus.header(
        "object_type_declared_graph",
        "declares a builtins:dict \\(graph\\), but the payload holds a builtins:dict \\(object\\)",
        lambda h: h.update(object_type="graph"),
    )
    corpus.model(
        "class_config_builds_gru",
        "the payload says cbreservoir.models.leaky:CBRNN, but its config builds a .*GRUModel",
        lambda payload, _: payload["config"].update(
            pairs=[["kind", "gru"], ["input_dim", 1], ["units", 4], ["seed", 0]]
        ),
    )
    corpus.model(
        "state_dict_missing_key",
        "missing keys \\['readouts.0.bias'\\], unexpected keys \\[\\]",
        lambda payload, _: payload["state_dict"].pop("readouts.0.bias"),
    )
    corpus.model(
        "state_dict_extra_key",
        "missing keys \\[\\], unexpected keys \\['extra.weight'\\]",
        lambda payload, _: payload["state_dict"].update({"extra.weight": "a0"}),
    )

    def retype(dtype: type, shape: tuple[int, ...]) -> Callable[[dict, dict], None]:
        def change(payload: dict, arrays: dict) -> None:
            arrays["a2"] = np.zeros(shape, dtype=dtype)
            table = parts(corpus.directory / "model.cbr")[2]["arrays"]
            table["a2"] = [np.dtype(dtype).str, list(shape), False]
            payload["arrays"] = table

        return change

    corpus.model(
        "state_dict_wrong_shape",
        "'core.recurrent_layer.weight' .* has shape \\[4, 3\\]",
        retype(np.float32, (4, 3)),
    )
    corpus.model("state_dict_wrong_dtype", "has shape \\[4, 4\\] and dtype <f8", retype(np.float64, (4, 4)))
    corpus.model(
        "state_dict_unknown_array",
        "refers to the array 'a999', which the file does not hold",
        lambda payload, _: payload["state_dict"].update({"readouts.0.bias": "a999"}),
    )
    corpus.config(
        "model_nan_in_config",
        "tau must be a finite number",
        6,
        ["tau", {"__type__": "float", "value": "nan"}],
    )


def _malformed(corpus: _Corpus) -> None:
    """Deep nesting, versions, truncation, corruption, malformed headers, tables and payload entries."""
    arrays, metadata, header = corpus.original("data")
    text = json.dumps({**header, "payload": None}).replace(
        '"payload": null', f'"payload": {_nested(100_000)}'
    )
    _write(
        corpus.path("payload_nested_100000", "nests 100001 levels deep"), arrays, metadata, header_text=text
    )
    _raw(corpus.path("table_nested_100000", "not a readable"), _nested(100_000))
    corpus.metadata("version_1", "format version '1'", format_version="1")
    corpus.metadata("version_6", "format version '6'", format_version="6")
    corpus.metadata("version_garbage", "format version 'two'", format_version="two")
    corpus.metadata("format_foreign", "not a cbreservoir file", format="pickle")
    corpus.metadata("metadata_without_header", "lacks \\['__header__'\\]", **{HEADER_KEY: None})

    data = (corpus.directory / "model.cbr").read_bytes()
    for size in (0, 7, 100, len(data) // 2, len(data) - 1):
        corpus.path(f"truncated_to_{size}", "truncated or corrupted").write_bytes(data[:size])
    changed = dict(arrays, a0=arrays["a0"] * 2)
    _write(corpus.path("changed_array_not_signed_again", "sha256 checksum"), changed, metadata, sign=False)
    text = json.dumps(header)
    for name, expect, edited in (
        ("header_nan_literal", "NaN is not allowed", text[:-1] + ', "x": NaN}'),
        ("header_duplicate_keys", "duplicate keys \\['class'\\]", text[:-1] + ', "class": "x"}'),
        ("header_not_json", "not valid JSON", text[:-5]),
        ("header_integer_of_5000_digits", "not valid JSON", text[:-1] + f', "x": {"9" * 5000}}}'),
    ):
        _write(corpus.path(name, expect), arrays, metadata, header_text=edited)
    corpus.header("header_without_payload", "must hold exactly", lambda h: h.pop("payload"))

    def entry(key: str, index: int, value: object) -> Callable[[dict], None]:
        return lambda h: h["arrays"][key].__setitem__(index, value)

    corpus.header("array_dtype_object", "unsupported array dtype '\\|O'", entry("a0", 0, "|O"))
    corpus.header("array_dtype_datetime", "unsupported array dtype '<M8", entry("a0", 0, "<M8[D]"))
    corpus.header("array_dtype_big_endian", "unsupported array dtype '>f8'", entry("a0", 0, ">f8"))
    corpus.header("array_dtype_not_stored", "but the file stores F64", entry("a0", 0, "<i8"))
    corpus.header("array_shape_negative", "non-negative integers", entry("a0", 1, [-4]))
    corpus.header(
        "array_declared_not_stored",
        "declares arrays \\['a7'\\] the file lacks",
        lambda h: h["arrays"].update(a7=["<f8", [1], False]),
    )
    _raw(
        corpus.path("table_duplicate_members", "not a readable"),
        '{"a0":{"dtype":"F64","shape":[3],"data_offsets":[0,24]},"a0":{"dtype":"F64","shape":[3],"data_offsets":[24,48]}}',
        bytes(48),
    )
    listed = "builtins:list"
    tensor = {"__type__": "tensor", "id": 0, "key": "a0", "parameter": "yes", "requires_grad": False}
    meta = _meta_tensor([1], "float32")
    for name, expect, payload in (
        ("ref_to_unknown_id", "refers to id 7", [{"__type__": "ref", "id": 7}]),
        ("id_used_twice", "id 0 is used by two", [{"__type__": "ndarray", "id": 0, "key": "a0"}, meta]),
        (
            "array_used_twice",
            "refers to the array 'a0' twice",
            [{"__type__": "ndarray", "id": index, "key": "a0"} for index in range(10_000)],
        ),
        ("float_not_special", "'nan', 'inf' or '-inf'", [{"__type__": "float", "value": "1e999"}]),
        ("field_of_wrong_type", "'parameter' field .* must be bool", [tensor]),
        ("unknown_entry_type", "unknown entry type 'pickle'", [{"__type__": "pickle", "data": "gASV"}]),
        (
            "unhashable_dict_key",
            "unhashable",
            [{"__type__": "dict", "ordered": False, "pairs": [[[1, 2], 3]]}],
        ),
        ("torch_generator_bad_state", "malformed payload", [{"__type__": "torch_generator", "key": "a0"}]),
        ("scalar_of_a_vector", "0-d array", [{"__type__": "npscalar", "key": "a0"}]),
    ):
        corpus.payload(name, expect, payload, cls=listed)
    corpus.sparse("sparse_index_out_of_range", "index", [2, 2], "csr", indices=(0, 5))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> _Corpus:
    corpus = _Corpus(tmp_path_factory.mktemp("hostile"))
    for build in (_code_by_name, _huge_sizes, _mismatches, _malformed):
        build(corpus)
    for name in ORIGINALS:  # the imports a first load triggers (torch._dynamo: ~40 MB) are not the file's
        load(corpus.directory / f"{name}.cbr")
    return corpus


# ------------------------------------------------------------------------------------------------- tests


def _peak_rss_reset() -> bool:
    """Reset the process's peak resident memory (Linux ``clear_refs``); False where that is not possible."""
    try:
        (_PROC / "clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_rss() -> int:
    for line in (_PROC / "status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/self/status")


def test_the_corpus_is_large_and_its_originals_load(corpus):
    assert len(corpus.expected) >= MIN_CORPUS
    loaded = {name: load(corpus.directory / f"{name}.cbr") for name in ORIGINALS}
    assert {name: type(value).__name__ for name, value in loaded.items()} == ORIGINALS


def test_every_hostile_file_is_refused_for_its_reason_without_running_code_in_bounded_memory(corpus):
    problems, peaks, rss_growth = [], {}, {}
    for name, (path, expect) in sorted(corpus.expected.items()):
        rss = _peak_rss() if _peak_rss_reset() else None
        tracemalloc.start()
        try:
            load(path)
        except ValueError as error:
            if not re.search(expect, str(error)):
                problems.append(f"{name}: refused for another reason than {expect!r}: {error}")
        except Exception as error:  # noqa: BLE001 (anything but ValueError is a failure to report)
            problems.append(f"{name}: {type(error).__name__}: {error}")
        else:
            problems.append(f"{name}: loaded")
        finally:
            peaks[name] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        if rss is not None:
            rss_growth[name] = _peak_rss() - rss
    assert not problems, "\n".join(problems)
    assert not corpus.marker.exists(), "a payload ran a shell command"
    assert corpus.victim.read_text() == "must survive", "a payload truncated a file"
    worst = max(peaks, key=peaks.get)
    assert peaks[worst] < PEAK_LIMIT, f"{worst} allocated {peaks[worst]:,} bytes"
    if rss_growth:
        worst = max(rss_growth, key=rss_growth.get)
        assert rss_growth[worst] < RSS_LIMIT, (
            f"{worst} grew the peak resident memory by {rss_growth[worst]:,} bytes"
        )


_TAGS = [
    "float",
    "ndarray",
    "npscalar",
    "dtype",
    "tuple",
    "set",
    "frozenset",
    "namedtuple",
    "dict",
    "np_generator",
    "np_randomstate",
    "sparse",
    "tensor",
    "torch_dtype",
    "torch_size",
    "torch_device",
    "torch_generator",
    "function",
    "ref",
    "object",
    "torch_model",
    "class",
    "pickle",
]
_FIELDS = [
    "id",
    "key",
    "items",
    "pairs",
    "ordered",
    "default_factory",
    "state",
    "class",
    "name",
    "as_type",
    "value",
    "format",
    "matrix",
    "shape",
    "data",
    "indices",
    "indptr",
    "row",
    "col",
    "parameter",
    "requires_grad",
    "meta",
    "dtype",
    "path",
    "config",
    "state_dict",
]
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.sampled_from(["a0", "a1", "a9", "nan", "os:system"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.fixed_dictionaries(
            {"__type__": st.sampled_from(_TAGS)}, optional=dict.fromkeys(_FIELDS, children)
        )
    ),
    max_leaves=10,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payload=_JSON, cls=st.sampled_from(["builtins:list", "builtins:dict", "torch:Tensor", "numpy:ndarray"])
)
def test_random_signed_payloads_load_or_raise_value_error(corpus, payload, cls):
    """Any tree of known tags and fields, validly signed: ValueError, or an object of the declared class."""
    arrays, metadata, header = corpus.original("data")
    header.update(payload=payload, **{"class": cls})
    path = corpus.directory / "fuzz.hostile"
    _write(path, arrays, metadata, header)
    try:
        loaded = load(path)
    except ValueError:
        return
    finally:
        assert not corpus.marker.exists()
    assert f"{type(loaded).__module__}:{type(loaded).__qualname__}" == cls


def test_payload_nesting_at_the_limit_loads_and_one_level_more_is_refused(corpus):
    """The depth check is exact, and the decoder's own recursion stays far from Python's limit there."""
    arrays, metadata, header = corpus.original("data")
    levels = MAX_HEADER_DEPTH - 1  # the header object is one level
    for depth, refused in ((levels, False), (levels + 1, True)):
        text = json.dumps({**header, "class": "builtins:list", "payload": None})
        path = corpus.directory / f"nested_{depth}.cbr"
        _write(
            path,
            arrays,
            metadata,
            header_text=text.replace('"payload": null', f'"payload": {_nested(depth)}'),
        )
        if refused:
            with pytest.raises(
                ValueError, match=f"nests {depth + 1} levels deep, more than {MAX_HEADER_DEPTH}"
            ):
                load(path)
        else:
            value = load(path)
            for _ in range(depth - 1):
                (value,) = value
            assert value == []


def test_headers_longer_than_the_limit_are_refused_at_save_and_at_load(corpus, monkeypatch):
    values = list(range(300))
    path = cbreservoir.save(values, corpus.directory / "long.cbr")
    monkeypatch.setattr(cbreservoir.utils.fileformat, "MAX_HEADER_BYTES", 1000)  # the one format's limit
    with pytest.raises(ValueError, match="takes 1,.* bytes of JSON, more than 1,000; hold long lists"):
        cbreservoir.save(values, corpus.directory / "longer.cbr")
    with pytest.raises(ValueError, match="the header has 1,.* characters, more than 1,000"):
        load(path)

"""Crafting hostile cbreservoir files as an attacker would: change the header or arrays and sign again.

The signature follows docs/save-load.md: SHA-256 over the metadata fields but ``sha256`` (sorted by
name, each as ``name NUL value NUL``), then every stored byte. The checksum detects corruption, not
forgery, so every check behind it is reached. :data:`CASES` are the files of issue 26, each built by a
function ``build(directory) -> (path, max_bytes)``; tests/io/test_untrusted.py and
benchmarks/untrusted_files.py load them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import safetensors.numpy
from safetensors import safe_open

import cbreservoir
from cbreservoir.io import DEFAULT_MAX_BYTES, HEADER_KEY

MiB = 1024**2


def parts(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str], dict]:
    """The stored arrays, the metadata and the parsed header of a saved file."""
    with safe_open(str(path), framework="numpy") as archive:
        arrays = {key: archive.get_tensor(key) for key in archive.keys()}  # noqa: SIM118 (not a dict)
        metadata = archive.metadata()
    return arrays, metadata, json.loads(metadata[HEADER_KEY])


def signature(metadata: dict[str, str], arrays: dict[str, np.ndarray]) -> str:
    blob = safetensors.numpy.save(arrays)
    digest = hashlib.sha256()
    for key in sorted(metadata):
        if key != "sha256":
            digest.update(f"{key}\0{metadata[key]}\0".encode())
    digest.update(blob[8 + int.from_bytes(blob[:8], "little") :])
    return digest.hexdigest()


def write(
    path: Path,
    arrays: dict[str, np.ndarray],
    metadata: dict[str, str],
    header: dict | None = None,
    *,
    header_text: str | None = None,
) -> Path:
    """Write a signed file: ``header`` (or the raw ``header_text``) replaces the metadata's header."""
    metadata = dict(metadata)
    if header is not None:
        metadata[HEADER_KEY] = json.dumps(header, separators=(",", ":"))
    if header_text is not None:
        metadata[HEADER_KEY] = header_text
    metadata["sha256"] = signature(metadata, arrays)
    path.write_bytes(safetensors.numpy.save(arrays, metadata=metadata))
    return path


def add_array(arrays: dict, header: dict, values: np.ndarray) -> str:
    """Store one more array (C order) in a crafted file; its key."""
    key = f"a{len(arrays)}"
    while key in arrays:
        key += "x"
    arrays[key] = np.ascontiguousarray(values).reshape(values.shape or (1,))
    header["arrays"][key] = [values.dtype.str, list(values.shape), False]
    return key


def _saved(directory: Path, name: str, obj: object) -> tuple[dict, dict, dict]:
    return parts(cbreservoir.save(obj, directory / f"{name}.original"))


def _state(node: dict, key: str) -> object:
    return node["state"][key]


def _pairs_get(entry: dict, key: str) -> object:
    return next(value for name, value in entry["pairs"] if name == key)


def _cbrnn(**options: object) -> object:
    from cbreservoir.models import CBRNN

    return CBRNN(1, units=4, n_granule=8, n_purkinje=4, seed=0, **options)


# --------------------------------------------------------------------------------------------- the cases


def quadratic_header(directory: Path) -> tuple[Path, int]:
    """1. A 120 KB header ``'"' + '\\"' * 30000``: one unterminated string full of escaped quotes."""
    arrays, metadata, _ = _saved(directory, "data", {"w": np.arange(4.0)})
    return write(
        directory / "quadratic.cbr", arrays, metadata, header_text='"' + '\\"' * 30000
    ), DEFAULT_MAX_BYTES


def _many(directory: Path, name: str, item: str, count: int) -> tuple[Path, int]:
    _, metadata, _ = _saved(directory, "data", [])
    text = (
        '{"object_type":"object","class":"builtins:list","arrays":{},"payload":['
        + ",".join([item] * count)
        + "]}"
    )
    path = write(directory / f"{name}.cbr", {}, metadata, header_text=text)
    return path, 16 * MiB


def many_lists(directory: Path) -> tuple[Path, int]:
    """2. A signed 9 MB payload of 3 million ``[]``, loaded with max_bytes = 16 MiB."""
    return _many(directory, "lists", "[]", 3_000_000)


def many_dicts(directory: Path) -> tuple[Path, int]:
    """2. 3 million ``{}`` (max_bytes = 16 MiB)."""
    return _many(directory, "dicts", "{}", 3_000_000)


def many_floats(directory: Path) -> tuple[Path, int]:
    """2. 3 million floats (max_bytes = 16 MiB)."""
    return _many(directory, "floats", "1.5", 3_000_000)


def many_heads(directory: Path) -> tuple[Path, int]:
    """2. A meta CBRNN whose config's ``n_classes`` is a tuple of 100k heads (a 300 KB file)."""
    arrays, metadata, header = _saved(directory, "meta", _cbrnn().to("meta"))
    config = header["payload"]["config"]
    pairs = [pair for pair in config["pairs"] if pair[0] != "n_classes"]
    config["pairs"] = [*pairs, ["n_classes", {"__type__": "tuple", "items": [2] * 100_000}]]
    return write(directory / "heads.cbr", arrays, metadata, header), DEFAULT_MAX_BYTES


def big_metadata(directory: Path, megabytes: int = 95) -> tuple[Path, int]:
    """2. A metadata field (``package_version``) of 95 MB; max_bytes is the file's size."""
    arrays, metadata, header = _saved(directory, "data", {"w": np.arange(4.0)})
    metadata["package_version"] = "0" * (megabytes * 10**6)
    path = write(directory / "metadata.cbr", arrays, metadata, header)
    return path, path.stat().st_size


def fortran_array(directory: Path, megabytes: int = 64) -> tuple[Path, int]:
    """2. A Fortran-order float64 array of 64 MB; max_bytes is the file's size."""
    rows = megabytes * 10**6 // (8 * 1000)
    path = cbreservoir.save(np.asfortranarray(np.ones((rows, 1000))), directory / "fortran.cbr")
    return path, path.stat().st_size


def linear_parameters_tensor(directory: Path) -> tuple[Path, int]:
    """3. An ``nn.Linear`` whose ``_parameters`` is a tensor."""
    import torch

    arrays, metadata, header = _saved(directory, "linear", torch.nn.Linear(2, 3))
    state = header["payload"]["state"]
    weight = _pairs_get(state["_parameters"], "weight")
    state["_parameters"] = weight
    del arrays["a1"], header["arrays"]["a1"]
    return write(directory / "linear.cbr", arrays, metadata, header), DEFAULT_MAX_BYTES


def _generator_file(directory: Path, name: str, generator: object, edit: Callable[[dict], None]) -> Path:
    arrays, metadata, header = _saved(directory, name, generator)
    edit(header["payload"]["state"])
    return write(directory / f"{name}.cbr", arrays, metadata, header)


def _set_field(entry: dict, path: tuple[str, ...], value: object) -> None:
    for key in path[:-1]:
        entry = _pairs_get(entry, key)
    entry["pairs"] = [[name, value if name == path[-1] else item] for name, item in entry["pairs"]]


def mt19937_position(directory: Path) -> tuple[Path, int]:
    """4. A Generator(MT19937) whose state has ``pos = 2**30``."""
    generator = np.random.Generator(np.random.MT19937(0))
    return _generator_file(
        directory, "mt", generator, lambda s: _set_field(s, ("state", "pos"), 2**30)
    ), DEFAULT_MAX_BYTES


def philox_buffer_position(directory: Path) -> tuple[Path, int]:
    """4. A Generator(Philox) whose state has ``buffer_pos = -2**31``."""
    generator = np.random.Generator(np.random.Philox(0))
    return _generator_file(
        directory, "philox", generator, lambda s: _set_field(s, ("buffer_pos",), -(2**31))
    ), DEFAULT_MAX_BYTES


def randomstate_position(directory: Path) -> tuple[Path, int]:
    """4. A RandomState whose state has ``pos = 2**30``."""
    random_state = np.random.RandomState(0)
    return _generator_file(
        directory, "randomstate", random_state, lambda s: _set_field(s, ("state", "pos"), 2**30)
    ), DEFAULT_MAX_BYTES


def _curriculum() -> object:
    from cbreservoir.training import GradientTrainer
    from cbreservoir.training.curriculum import CurriculumTrainer

    return CurriculumTrainer(
        GradientTrainer(_cbrnn()), "dms", steps_per_epoch=1, test_batches=1, progress=False
    )


def curriculum_rng(directory: Path) -> tuple[Path, int]:
    """4. A CurriculumTrainer whose data generator is an MT19937 with ``pos = 2**30``."""
    arrays, metadata, header = _saved(directory, "curriculum", _curriculum())
    _, _, mt = _saved(directory, "mt-original", np.random.Generator(np.random.MT19937(0)))
    rng = mt["payload"]
    _set_field(rng["state"], ("state", "pos"), 2**30)
    key_entry = _pairs_get(_pairs_get(rng["state"], "state"), "key")  # the MT19937 key array
    mt_arrays, _, _ = parts(directory / "mt-original.original")
    key_entry["key"] = add_array(arrays, header, mt_arrays[key_entry["key"]])
    key_entry["id"] = 99_999
    header["payload"]["state"]["_rng"] = rng
    return write(directory / "curriculum-rng.cbr", arrays, metadata, header), DEFAULT_MAX_BYTES


def reservoir_nan(directory: Path) -> tuple[Path, int]:
    """4. A Reservoir with a NaN in ``W`` and ``lr = 5``."""
    from cbreservoir.nodes import Reservoir

    reservoir = Reservoir(4, W=np.eye(4), Win=np.ones((4, 1)), seed=0)
    arrays, metadata, header = _saved(directory, "reservoir", reservoir)
    state = header["payload"]["state"]
    state["lr"] = 5.0
    key = state["W"]["key"]
    arrays[key] = arrays[key].copy()
    arrays[key][0, 0] = np.nan
    return write(directory / "reservoir-nan.cbr", arrays, metadata, header), DEFAULT_MAX_BYTES


def reservoir_units(directory: Path) -> tuple[Path, int]:
    """4. A Reservoir with ``units = 1000`` and a 4x4 ``W``."""
    from cbreservoir.nodes import Reservoir

    arrays, metadata, header = _saved(directory, "reservoir", Reservoir(4, W=np.eye(4), Win=np.ones((4, 1))))
    header["payload"]["state"]["units"] = 1000
    return write(directory / "reservoir-units.cbr", arrays, metadata, header), DEFAULT_MAX_BYTES


def trainer_copies(directory: Path) -> tuple[Path, int]:
    """4. A GradientTrainer whose optimizer holds copies of the model's parameters."""
    from cbreservoir.training import GradientTrainer

    arrays, metadata, header = _saved(directory, "trainer", GradientTrainer(_cbrnn()))
    sgd = header["payload"]["state"]["optimizer"]
    next_id = 10_000
    for group in sgd["state"]["param_groups"]:
        params = _pairs_get(group, "params")
        for index, _ in enumerate(params):
            copy = add_array(arrays, header, np.zeros(1, dtype=np.float32))
            params[index] = {
                "__type__": "tensor",
                "id": next_id,
                "parameter": True,
                "requires_grad": True,
                "key": copy,
            }
            next_id += 1
    return write(directory / "trainer-copies.cbr", arrays, metadata, header), DEFAULT_MAX_BYTES


def complex_model(directory: Path) -> tuple[Path, int]:
    """4. A CBRNN declared complex64 (a meta model, so that its stored state dict needs no bytes)."""
    arrays, metadata, header = _saved(directory, "meta", _cbrnn().to("meta"))
    header["payload"]["dtype"] = "complex64"
    return write(directory / "complex.cbr", arrays, metadata, header), DEFAULT_MAX_BYTES


def float64_shared_parameter(directory: Path) -> tuple[Path, int]:
    """4. A float32 CBRNN whose first parameter is shared with a float64 parameter decoded before it."""
    model = _cbrnn()
    arrays, metadata, header = _saved(directory, "model", [model])
    name, weight = next(iter(model.named_parameters()))
    key = add_array(arrays, header, weight.detach().double().numpy())
    payload = header["payload"]
    tensor = {"__type__": "tensor", "id": 99_999, "parameter": True, "requires_grad": True, "key": key}
    entry = payload[0]
    entry["parameters"][name] = ["shared", 99_999]
    header["payload"] = [tensor, entry]
    return write(directory / "shared64.cbr", arrays, metadata, header), DEFAULT_MAX_BYTES


#: The issue's files that :func:`cbreservoir.load` is given, by name: ``(item of the issue, builder)``.
CASES: dict[str, tuple[str, Callable[[Path], tuple[Path, int]]]] = {
    "quadratic_header": ("1", quadratic_header),
    "3M_empty_lists": ("2", many_lists),
    "3M_empty_dicts": ("2", many_dicts),
    "3M_floats": ("2", many_floats),
    "100k_heads": ("2", many_heads),
    "95MB_metadata": ("2", big_metadata),
    "fortran_64MB": ("2", fortran_array),
    "linear_parameters_tensor": ("3", linear_parameters_tensor),
    "mt19937_pos": ("4", mt19937_position),
    "philox_buffer_pos": ("4", philox_buffer_position),
    "randomstate_pos": ("4", randomstate_position),
    "curriculum_rng_pos": ("4", curriculum_rng),
    "reservoir_nan_W_lr5": ("4", reservoir_nan),
    "reservoir_units_1000_W_4x4": ("4", reservoir_units),
    "trainer_optimizer_copies": ("4", trainer_copies),
    "complex64_model": ("4", complex_model),
    "float64_shared_parameter": ("4", float64_shared_parameter),
}


# ------------------------------------------------------------------------------------------------ fuzzing

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
    "parameter",
    "nope",
]
_VALUES: list[object] = [
    0,
    -1,
    1,
    2,
    3,
    4,
    624,
    625,
    2**31,
    -(2**31),
    2**63,
    2**64 + 1,
    -(2**63),
    10**6,
    3_000_000,
    10**30,
    0.5,
    -0.0,
    1e308,
    5.0,
    "",
    "a0",
    "a1",
    "x",
    "os:system",
    "builtins:eval",
    "../../etc/passwd",
    "\x00",
    "float64",
    "complex64",
    "<f8",
    ">f8",
    "|O",
    "<U99999999",
    "nan",
    "cpu",
    "cuda:9",
    "csr",
    "coo",
    "dia",
    "own",
    "shared",
    "MT19937",
    "Philox",
    "PCG64",
    "cbrnn",
    "torch.nn.modules.linear:Linear",
    None,
    True,
    False,
    [],
    {},
    [0],
    [2**40, 2**40],
    [-1],
    [[]],
    {"__type__": "ref", "id": 0},
    {"__type__": "float", "value": "nan"},
    {
        "__type__": "tensor",
        "meta": True,
        "shape": [2**20, 2**20],
        "dtype": "float32",
        "parameter": False,
        "requires_grad": False,
    },
]


def _locations(node: object, found: list) -> list:
    """Every ``(container, key)`` of a JSON tree, the root's children first."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        found.append((node, key))
        _locations(value, found)
    return found


def _random_value(rng: np.random.Generator, strings: list[str]) -> object:
    choice = rng.integers(4)
    if choice == 0 and strings:
        return strings[rng.integers(len(strings))]
    if choice == 1:
        return {"__type__": _TAGS[rng.integers(len(_TAGS))]}
    return json.loads(json.dumps(_VALUES[rng.integers(len(_VALUES))]))


def _mutate_tree(rng: np.random.Generator, root: dict) -> None:
    locations = _locations(root, [])
    strings = [value for container, key in locations if isinstance(value := container[key], str)]
    container, key = locations[rng.integers(len(locations))]
    value = container[key]
    action = rng.integers(7)
    if action == 0 and isinstance(container, dict):
        del container[key]
    elif action == 0:
        container.pop(key)
    elif action == 1 and isinstance(container, list):
        container.insert(key, json.loads(json.dumps(value)))  # a duplicate (shared ids, arrays used twice)
    elif action == 2 and isinstance(container, dict):
        container[strings[rng.integers(len(strings))] if strings else "extra"] = _random_value(rng, strings)
    elif action == 3 and type(value) is int:
        container[key] = int([value + 1, value - 1, -value, value * 1000, value * 2**32][rng.integers(5)])
    elif action == 4 and isinstance(value, list) and value:
        container[key] = value[::-1] if rng.integers(2) else value[: rng.integers(len(value))]
    elif action == 5:
        container[key] = [value] if rng.integers(2) else {"__type__": "tuple", "items": [value]}
    else:
        container[key] = _random_value(rng, strings)


def _mutate_arrays(rng: np.random.Generator, arrays: dict[str, np.ndarray], header: dict) -> None:
    if not arrays or not isinstance(header.get("arrays"), dict):
        return
    key = sorted(arrays)[rng.integers(len(arrays))]
    values = arrays[key]
    action = rng.integers(4)
    if action == 0 and values.size:  # flip bytes
        raw = values.copy().reshape(-1).view(np.uint8)
        raw[rng.integers(raw.size, size=min(4, raw.size))] ^= np.uint8(rng.integers(1, 256))
        arrays[key] = raw.view(values.dtype).reshape(values.shape)
    elif action == 1:  # another length, declared to match
        arrays[key] = np.resize(values.reshape(-1), int(rng.integers(0, 2 * values.size + 2)))
        entry = header["arrays"].get(key)
        if isinstance(entry, list) and len(entry) == 3:
            entry[1] = [int(arrays[key].size)]
    elif action == 2:  # another dtype of the same bytes
        raw = values.reshape(-1).view(np.uint8)
        dtype = [np.uint8, np.int32, np.float64, np.float32, np.bool_][rng.integers(5)]
        count = raw.size // np.dtype(dtype).itemsize
        arrays[key] = raw[: count * np.dtype(dtype).itemsize].view(dtype).copy()
        if dtype is np.bool_:
            arrays[key] = arrays[key].astype(bool)
        if rng.integers(2) and isinstance(header["arrays"].get(key), list):
            header["arrays"][key] = [np.dtype(dtype).str, [count], bool(rng.integers(2))]
    elif isinstance(header["arrays"].get(key), list) and len(header["arrays"][key]) == 3:
        header["arrays"][key][2] = not header["arrays"][key][2]


def fuzz_originals(directory: Path) -> dict[str, tuple[dict, dict, dict]]:
    """The saved files the fuzzed ones are made from: one of each kind of value the format holds."""
    import scipy.sparse
    import torch

    from cbreservoir.nodes import Reservoir, Ridge
    from cbreservoir.training import GradientTrainer

    reservoir = Reservoir(5, seed=0)
    reservoir.run(np.ones((3, 2)))
    originals = {
        "data": {
            "w": np.arange(4.0),
            "f": np.asfortranarray(np.ones((2, 3))),
            "c": np.ones(2, np.complex64),
            "t": np.array(["ab"]),
            "v": [1, 2.5, "s", None, True, {"__type__": 1}],
            ("k", 1): {1, 2},
        },
        "generators": [
            np.random.Generator(cls(0))
            for cls in (
                np.random.PCG64,
                np.random.PCG64DXSM,
                np.random.MT19937,
                np.random.Philox,
                np.random.SFC64,
            )
        ]
        + [np.random.RandomState(0), torch.Generator().manual_seed(0)],
        "sparse": [
            scipy.sparse.random_array((5, 4), density=0.5, format=form, random_state=0)
            for form in ("csr", "csc", "coo")
        ],
        "model": _cbrnn(),
        "meta": _cbrnn().to("meta"),
        "multihead": _cbrnn(n_classes=(2, 3)),
        "reservoir": reservoir,
        "graph": Reservoir(4, seed=1) >> Ridge(ridge=1e-3),
        "torch": [
            torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh()),
            torch.ones(2, dtype=torch.float64),
            torch.empty(3, 2, device="meta"),
            torch.float32,
            torch.device("cpu"),
            torch.Size([2, 3]),
        ],
        "trainer": GradientTrainer(_cbrnn()),
        "curriculum": _curriculum(),
    }
    return {name: _saved(directory, f"fuzz-{name}", obj) for name, obj in originals.items()}


def fuzzed(
    rng: np.random.Generator, originals: dict[str, tuple[dict, dict, dict]], path: Path
) -> tuple[str, Path]:
    """Write one signed, mutated file (1 to 3 mutations of one original); its original's name and path."""
    names = sorted(originals)
    name = names[rng.integers(len(names))]
    arrays, metadata, header = originals[name]
    arrays = {key: value.copy() for key, value in arrays.items()}
    header = json.loads(json.dumps(header))
    for _ in range(int(rng.integers(1, 4))):
        if rng.random() < 0.8:
            _mutate_tree(rng, header)
        else:
            _mutate_arrays(rng, arrays, header)
    try:
        text = json.dumps(header, separators=(",", ":"))
    except (TypeError, ValueError):
        text = "{}"
    return name, write(path, arrays, metadata, header_text=text)


# ------------------------------------------------------------------------------------- version 2 files

#: The state-dict keys (version 3 names) of the layers that read the mossy fibres.
MOSSY_KEYS = ("cerebellum.granule.weight", "auxiliary.recurrent.input_layer.weight")


def torch_learning_rates(node: object) -> object:
    """A payload with every ``learning_rate`` key of a dict entry as torch's ``lr`` (before version 5)."""
    if isinstance(node, list):
        return [torch_learning_rates(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: torch_learning_rates(value) for key, value in node.items()}
    if node.get("__type__") == "dict":
        node["pairs"] = [["lr" if key == "learning_rate" else key, value] for key, value in node["pairs"]]
    return node


def as_version_4(path: Path, out: Path) -> Path:
    """The file at ``path`` (version 5) as cbreservoir's format version 4 wrote it, signed: optimisers'
    learning rates under torch's ``lr``."""
    arrays, metadata, header = parts(path)
    header["payload"] = torch_learning_rates(header["payload"])
    return write(out, arrays, {**metadata, "format_version": "4"}, header)


def as_version_2(path: Path, out: Path) -> Path:
    """The file at ``path`` (version 5) as cbreservoir's format version 2 wrote it, signed.

    Optimisers' learning rates are torch's ``lr``; models' mossy-fibre weights, an ensemble's stacked
    copies of them and the optimizer moments of both get columns ``[h ; x]``, model configs say
    ``hidden_size``/``input_size``, and RecurrentAuxRNN's keys say ``cerebellum.*``.
    """
    arrays, metadata, header = parts(path)
    header["payload"] = torch_learning_rates(header["payload"])
    moved: dict[int, int] = {}  # tensor id -> d, the number of leading x columns
    shared: dict[int, int] = {}  # the same, for parameters first met outside their model

    def state_first(key: str, n_inputs: int) -> None:
        weight = arrays[key]
        arrays[key] = np.ascontiguousarray(
            np.concatenate([weight[..., n_inputs:], weight[..., :n_inputs]], -1)
        )

    def old_key(key: str) -> str:
        return "cerebellum." + key.removeprefix("auxiliary.") if key.startswith("auxiliary.") else key

    def models(node: object) -> None:
        if isinstance(node, list):
            for item in node:
                models(item)
        elif isinstance(node, dict):
            if node.get("__type__") == "torch_model":
                config = node["config"]
                n_inputs = next(value for name, value in config["pairs"] if name == "input_dim")
                renamed = {"units": "hidden_size", "input_dim": "input_size"}
                config["pairs"] = [[renamed.get(name, name), value] for name, value in config["pairs"]]
                for key in MOSSY_KEYS:
                    if key in node["state_dict"]:
                        state_first(node["state_dict"][key], n_inputs)
                        claim, identifier = node["parameters"][key]
                        moved[identifier] = n_inputs
                        if claim == "shared":  # an earlier tensor entry is the parameter
                            shared[identifier] = n_inputs
                for field in ("state_dict", "parameters"):
                    node[field] = {old_key(key): value for key, value in node[field].items()}
                node["frozen"] = [old_key(key) for key in node["frozen"]]
            for value in node.values():
                models(value)

    def shared_tensors(node: object) -> None:
        if isinstance(node, list):
            for item in node:
                shared_tensors(item)
        elif isinstance(node, dict):
            if node.get("__type__") == "tensor" and node.get("id") in shared:
                state_first(node["key"], shared[node["id"]])
            for value in node.values():
                shared_tensors(value)

    def stacked(node: object) -> None:  # an ensemble's (E, n, d + H) copies, under the weights' keys
        if isinstance(node, list):
            if len(node) == 2 and node[0] in MOSSY_KEYS and isinstance(node[1], dict):
                key = node[1].get("key")
                if node[1].get("__type__") == "tensor" and np.ndim(arrays.get(key)) == 3 and moved:
                    n_inputs = next(iter(moved.values()))
                    state_first(key, n_inputs)
                    moved[node[1]["id"]] = n_inputs
            for item in node:
                stacked(item)
        elif isinstance(node, dict):
            for value in node.values():
                stacked(value)

    def moments(node: object) -> None:
        if isinstance(node, list):
            if len(node) == 2 and isinstance(node[0], dict) and node[0].get("__type__") in ("ref", "tensor"):
                n_inputs = moved.get(node[0]["id"])
                if n_inputs is not None and isinstance(node[1], dict) and node[1].get("__type__") == "dict":
                    for _, value in node[1]["pairs"]:
                        if isinstance(value, dict) and np.ndim(arrays.get(value.get("key"))) >= 2:
                            state_first(value["key"], n_inputs)
            for item in node:
                moments(item)
        elif isinstance(node, dict):
            for value in node.values():
                moments(value)

    models(header["payload"])
    shared_tensors(header["payload"])
    stacked(header["payload"])
    moments(header["payload"])
    return write(out, arrays, {**metadata, "format_version": "2"}, header)

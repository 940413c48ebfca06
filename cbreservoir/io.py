"""Save and load cbreservoir objects in a versioned, pickle-free file format.

One file is a NumPy ``.npz`` archive: every array of the object is a member of its own, and one more
member, ``__header__``, holds a UTF-8 JSON header (a ``uint8`` array)::

    {"format": "cbreservoir", "format_version": 1, "package_version": "0.1.0",
     "object_type": "torch_model", "class": "cbreservoir.models.cbrnn:CBRNN",
     "arrays_sha256": "…", "payload": {…}}

``payload`` describes the object as a tree of JSON values; arrays appear in it as references to archive
members. Loading uses ``np.load(allow_pickle=False)`` and ``json`` only: no pickle, and classes are only
ever looked up in the packages ``cbreservoir``, ``reservoirpy``, ``sklearn`` and ``torch`` (functions, such as
activations, also in ``numpy`` and ``scipy``). What can be saved:

* torch models with a ``config`` dict holding ``"kind"`` (cbreservoir's models): saved as the config plus the
  ``state_dict``; loading calls :func:`cbreservoir.models.build_model` ``(**config)`` and loads the weights;
* reservoirpy nodes (cbreservoir's and reservoirpy's own) and reservoirpy ``Model`` graphs, including
  feedback loops and delayed edges, with their current states and feedback buffers;
* ensembles, estimators and other objects of those packages, attribute by attribute, made of arrays,
  tensors, numbers, strings, lists, tuples, dicts, sets, random generators, sparse matrices and the above.

The round trip is exact: arrays and tensors keep their dtype and every bit, so outputs after loading equal
outputs before saving. A truncated or corrupted file, or one written by an unknown format version, raises a
:class:`ValueError` that says so. Pickle keeps working for all of these objects as well.

Examples
--------
>>> import cbreservoir
>>> from cbreservoir.models import build_model
>>> model = build_model("cbrnn", input_size=1, seed=0)  # doctest: +SKIP
>>> cbreservoir.save(model, "cbrnn.npz")  # doctest: +SKIP
>>> same = cbreservoir.load("cbrnn.npz")  # doctest: +SKIP
>>> cbreservoir.io.read_header("cbrnn.npz")["object_type"]  # doctest: +SKIP
'torch_model'
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
import sys
import tempfile
from collections import OrderedDict, defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load", "read_header", "save"]

#: Value of the header's ``"format"`` field.
FORMAT_NAME = "cbreservoir"
#: Version of the file format written by :func:`save`; :func:`load` reads this version only.
FORMAT_VERSION = 1
#: Name of the archive member holding the JSON header.
HEADER_KEY = "__header__"

_CLASS_PACKAGES = ("cbreservoir", "reservoirpy", "sklearn", "torch")
_FUNCTION_PACKAGES = (*_CLASS_PACKAGES, "numpy", "scipy")

PathLike = str | os.PathLike

#: Default factories a saved ``defaultdict`` may have (looked up by name on load).
_DEFAULT_FACTORIES: dict[str, type] = {factory.__name__: factory for factory in (dict, list, set, int, float)}


# ----------------------------------------------------------------------------------------------- public API


def save(obj: Any, path: PathLike) -> Path:
    """Save ``obj`` to ``path`` in the cbreservoir format (an ``.npz`` archive with a JSON header).

    Parameters
    ----------
    obj : object
        A torch model built by :func:`cbreservoir.models.build_model`, a reservoirpy node or ``Model`` graph,
        an ensemble, an estimator, or any object of cbreservoir, reservoirpy or scikit-learn made of arrays,
        tensors, numbers, strings and containers of them (see the module docstring).
    path : str or path-like
        Destination file; written as given (no suffix is appended; ``.npz`` is the usual one). The file is
        written to a temporary name first and moved into place, so a crash never leaves half a file.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        If ``obj`` holds something that cannot be saved; the message names where it sits in ``obj``
        (e.g. ``obj.nodes[0].activation``) and its type.
    """
    path = Path(path)
    encoder = _Encoder()
    payload = encoder.encode(obj, "obj")
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "package_version": _package_version(),
        "object_type": _object_type(obj),
        "class": _class_path(type(obj)),
        "arrays_sha256": _arrays_digest(encoder.arrays),
        "payload": payload,
    }
    header_bytes = json.dumps(header, allow_nan=False).encode("utf-8")
    members = {**encoder.arrays, HEADER_KEY: np.frombuffer(header_bytes, dtype=np.uint8)}
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **members)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def load(path: PathLike) -> Any:
    """Load an object written by :func:`save`.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.

    Returns
    -------
    object
        An object equal to the one saved: same class, same arrays bit for bit, same states, so that its
        outputs equal the saved object's. Tensors are loaded on the CPU.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a cbreservoir file, is truncated or corrupted (a checksum does not match), or was
        written in a format version this cbreservoir does not read.
    """
    header, arrays = _read(path, with_arrays=True)
    digest = _arrays_digest(arrays)
    if digest != header.get("arrays_sha256"):
        raise ValueError(f"{path}: corrupted file: the arrays' sha256 checksum does not match its header")
    try:
        return _Decoder(arrays).decode(header["payload"])
    except (KeyError, TypeError, IndexError) as error:
        raise ValueError(f"{path}: corrupted file: malformed payload ({error!r})") from error
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error


def read_header(path: PathLike) -> dict[str, Any]:
    """Return the JSON header of a file written by :func:`save`, without building the object.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    dict
        ``format``, ``format_version``, ``package_version``, ``object_type`` (``"torch_model"``,
        ``"node"``, ``"graph"``, ``"estimator"`` or ``"object"``), ``class``, ``arrays_sha256``, ``payload``.

    Raises
    ------
    ValueError
        As :func:`load`, for a file that is not a readable cbreservoir file of a known version.
    """
    header, _ = _read(path, with_arrays=False)
    return header


# ------------------------------------------------------------------------------------------- file access


def _read(path: PathLike, with_arrays: bool) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and check the header (and, if asked, every array) of the file at ``path``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if HEADER_KEY not in archive.files:
                raise ValueError(f"{path}: not a cbreservoir file (no {HEADER_KEY!r} member)")
            header = json.loads(archive[HEADER_KEY].tobytes().decode("utf-8"))
            _check_header(header, path)
            arrays = (
                {name: archive[name] for name in archive.files if name != HEADER_KEY} if with_arrays else {}
            )
    except Exception as error:  # zip, npy and json readers fail in many ways on damaged bytes
        if isinstance(error, ValueError) and str(error).startswith(str(path)):
            raise  # one of ours, already clear
        raise _unreadable(path, error) from error
    return header, arrays


def _unreadable(path: Path, error: Exception) -> ValueError:
    return ValueError(f"{path}: not a readable cbreservoir file (truncated or corrupted?): {error!r}")


def _check_header(header: Any, path: Path) -> None:
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ValueError(f"{path}: not a cbreservoir file (header format is not {FORMAT_NAME!r})")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{path}: unsupported cbreservoir file format version {version!r} (written by cbreservoir "
            f"{header.get('package_version')}); cbreservoir {_package_version()} reads "
            f"version {FORMAT_VERSION}"
        )


def _arrays_digest(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over every array's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = arrays[name]
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _package_version() -> str:
    from cbreservoir import __version__

    return __version__


# ----------------------------------------------------------------------------------------------- helpers


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _top_package(module_name: str) -> str:
    return module_name.split(".", 1)[0]


def _resolve(path: str, packages: tuple[str, ...]) -> Any:
    """Look up ``"module:qualname"``, importing only modules of ``packages`` and never leaving the module.

    Raises
    ------
    ValueError
        If the module is outside ``packages``, the path crosses into another module, or the name does
        not exist (e.g. a file written by a newer cbreservoir).
    """
    module_name, _, qualname = path.partition(":")
    if _top_package(module_name) not in packages or not qualname:
        raise ValueError(f"refusing to load {path!r}: only names from {list(packages)} can be loaded")
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
            if isinstance(found, ModuleType):
                raise ValueError(f"refusing to load {path!r}: {part!r} is a module")
    except (ImportError, AttributeError) as error:
        raise ValueError(f"cannot load {path!r}: {error}") from error
    return found


def _resolves_to(path: str, value: Any) -> bool:
    try:
        return _resolve(path, _FUNCTION_PACKAGES) is value
    except ValueError:
        return False


def _object_type(obj: Any) -> str:
    """A short label for the header: what kind of object the file holds.

    reservoirpy is not imported for this (it is slow to import): an object cannot be an instance of a class
    whose module was never imported.
    """
    if _is_config_model(obj):
        return "torch_model"
    for module, name, label in (
        ("reservoirpy.model", "Model", "graph"),
        ("reservoirpy.node", "Node", "node"),
    ):
        if module in sys.modules and isinstance(obj, getattr(sys.modules[module], name)):
            return label
    if hasattr(obj, "get_params") and hasattr(obj, "fit"):
        return "estimator"
    return "object"


def _is_config_model(obj: Any) -> bool:
    """True for torch modules that :func:`cbreservoir.models.build_model` can rebuild from ``obj.config``."""
    torch = _torch()
    return (
        torch is not None
        and isinstance(obj, torch.nn.Module)
        and isinstance(getattr(obj, "config", None), dict)
        and "kind" in obj.config
    )


def _torch() -> ModuleType | None:
    """torch, if something already imported it (an object without tensors never needs it)."""
    return sys.modules.get("torch")


# ---------------------------------------------------------------------------------------------- encoding


class _Encoder:
    """Turn an object into a JSON tree, collecting its arrays in :attr:`arrays`."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self._ids: dict[int, int] = {}
        self._alive: list[Any] = []  # keeps encoded objects alive so that their ids stay unique

    def add_array(self, array: np.ndarray, where: str) -> str:
        if array.dtype.hasobject:
            raise TypeError(f"cannot save {where}: arrays of dtype object are not supported")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = array
        return key

    def encode(self, value: Any, where: str) -> Any:
        torch = _torch()
        if value is None or isinstance(value, (bool, str)):
            return value
        if type(value) is int:
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"__type__": "float", "value": repr(value)}
        if isinstance(value, np.ndarray):
            return self._memoized(value, where, self._encode_ndarray)
        if isinstance(value, np.generic):
            return {"__type__": "npscalar", "key": self.add_array(np.asarray(value), where)}
        if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
            return {"__type__": "dtype", "name": np.dtype(value).str, "as_type": isinstance(value, type)}
        if type(value) in (list, tuple, set, frozenset) or _is_namedtuple(value):
            return self._encode_sequence(value, where)
        if type(value) in (dict, OrderedDict, defaultdict):
            return self._encode_dict(value, where)
        if isinstance(value, np.random.Generator):
            state = value.bit_generator.state
            return {"__type__": "np_generator", "state": self.encode(state, f"{where}.bit_generator.state")}
        if isinstance(value, np.random.RandomState):
            return {"__type__": "np_randomstate", "state": self.encode(value.get_state(legacy=False), where)}
        if _is_sparse(value):
            return self._encode_sparse(value, where)
        if torch is not None:
            encoded = self._encode_torch(value, where, torch)
            if encoded is not None:
                return encoded
        if callable(value) and not isinstance(value, type) and hasattr(value, "__name__"):
            return self._encode_function(value, where)
        if isinstance(value, type):
            return {"__type__": "class", "path": self._checked_class_path(value, where)}
        return self._encode_object(value, where)

    def _encode_sequence(self, value: Any, where: str) -> Any:
        items = [self.encode(item, f"{where}[{index}]") for index, item in enumerate(value)]
        if type(value) is list:
            return items
        if _is_namedtuple(value):
            return {
                "__type__": "namedtuple",
                "class": self._checked_class_path(type(value), where),
                "items": items,
            }
        return {"__type__": type(value).__name__, "items": items}

    def _encode_dict(self, value: dict, where: str) -> dict[str, Any]:
        pairs = [
            [self.encode(key, f"{where} key"), self.encode(item, f"{where}[{key!r}]")]
            for key, item in value.items()
        ]
        entry = {"__type__": "dict", "ordered": type(value) is OrderedDict, "pairs": pairs}
        if type(value) is defaultdict:
            factory = value.default_factory
            if factory is not None and factory not in _DEFAULT_FACTORIES.values():
                raise TypeError(f"cannot save {where}: a defaultdict whose default factory is {factory!r}")
            entry["default_factory"] = None if factory is None else factory.__name__
        return entry

    def _encode_ndarray(self, value: np.ndarray, where: str) -> dict[str, Any]:
        return {"__type__": "ndarray", "key": self.add_array(value, where)}

    def _encode_sparse(self, value: Any, where: str) -> dict[str, Any]:
        import scipy.sparse

        csr = scipy.sparse.csr_array(value) if value.format not in ("csr", "csc") else value
        return {
            "__type__": "sparse",
            "format": value.format,
            "stored_format": csr.format,
            "matrix": isinstance(value, scipy.sparse.spmatrix),
            "shape": list(csr.shape),
            "data": self.add_array(csr.data, where),
            "indices": self.add_array(csr.indices, where),
            "indptr": self.add_array(csr.indptr, where),
        }

    def _encode_torch(self, value: Any, where: str, torch: ModuleType) -> dict[str, Any] | None:
        if isinstance(value, torch.Tensor):
            return self._memoized(value, where, self._encode_tensor)
        if isinstance(value, torch.dtype):
            return {"__type__": "torch_dtype", "name": str(value).removeprefix("torch.")}
        if isinstance(value, torch.device):
            return {"__type__": "torch_device", "name": str(value)}
        if isinstance(value, torch.Size):
            return {"__type__": "torch_size", "items": list(value)}
        if isinstance(value, torch.Generator):
            return {"__type__": "torch_generator", "key": self.add_array(value.get_state().numpy(), where)}
        if isinstance(value, torch.nn.Module) and _is_config_model(value):
            return self._memoized(value, where, self._encode_config_model)
        return None

    def _encode_tensor(self, tensor: Any, where: str) -> dict[str, Any]:
        import torch

        entry = {
            "__type__": "tensor",
            "parameter": isinstance(tensor, torch.nn.Parameter),
            "requires_grad": tensor.requires_grad,
        }
        if tensor.is_meta:  # no values: keep shape and dtype
            return {
                **entry,
                "meta": True,
                "shape": list(tensor.shape),
                "dtype": _torch_dtype_name(tensor.dtype),
            }
        return {**entry, "key": self.add_array(_tensor_values(tensor, where), where)}

    def _encode_config_model(self, model: Any, where: str) -> dict[str, Any]:
        parameters = dict(model.named_parameters())
        float_dtypes = {parameter.dtype for parameter in parameters.values() if parameter.is_floating_point()}
        meta = any(parameter.is_meta for parameter in parameters.values())
        return {
            "__type__": "torch_model",
            "config": self.encode(model.config, f"{where}.config"),
            "dtype": _torch_dtype_name(float_dtypes.pop()) if len(float_dtypes) == 1 else None,
            "meta": meta,
            "state_dict": {}
            if meta
            else {
                name: self.add_array(_tensor_values(tensor, f"{where}.{name}"), f"{where}.{name}")
                for name, tensor in model.state_dict().items()
            },
            "parameters": {name: self._claim(parameter) for name, parameter in parameters.items()},
            "frozen": [name for name, parameter in parameters.items() if not parameter.requires_grad],
            "training": model.training,
            "cerebellum_enabled": getattr(model, "cerebellum_enabled", None),
        }

    def _claim(self, parameter: Any) -> list:
        """``["own", id]`` for a parameter seen first here, ``["shared", id]`` for one seen before.

        An optimizer or an ensemble elsewhere in the object may hold the same parameter objects; after
        loading they must again be the very parameters of the rebuilt model.
        """
        if id(parameter) in self._ids:
            return ["shared", self._ids[id(parameter)]]
        self._ids[id(parameter)] = len(self._ids)
        self._alive.append(parameter)
        return ["own", self._ids[id(parameter)]]

    def _encode_function(self, value: Any, where: str) -> dict[str, Any]:
        """A module-level function by name; ``__qualname__`` first, then ``__name__`` (torch builtins)."""
        module = getattr(value, "__module__", None) or ""
        names = dict.fromkeys([getattr(value, "__qualname__", value.__name__), value.__name__])
        for name in names:
            path = f"{module}:{name}"
            if "<" not in name and _top_package(module) in _FUNCTION_PACKAGES and _resolves_to(path, value):
                return {"__type__": "function", "path": path}
        raise TypeError(
            f"cannot save {where}: the function {module}.{value.__name__} is not a module-level function of "
            f"{list(_FUNCTION_PACKAGES)}"
        )

    def _checked_class_path(self, cls: type, where: str) -> str:
        if _top_package(cls.__module__) not in _CLASS_PACKAGES or "<" in cls.__qualname__:
            raise TypeError(
                f"cannot save {where}: objects of type {cls.__module__}.{cls.__qualname__} are not supported "
                "(expected arrays, tensors, numbers, strings, containers, or objects of "
                f"{list(_CLASS_PACKAGES)})"
            )
        return _class_path(cls)

    def _encode_object(self, value: Any, where: str) -> dict[str, Any]:
        self._checked_class_path(type(value), where)
        return self._memoized(value, where, self._encode_state)

    def _encode_state(self, value: Any, where: str) -> dict[str, Any]:
        if isinstance(value, (list, tuple, set, frozenset, dict)):  # their items are not in their state
            raise TypeError(f"cannot save {where}: subclasses of built-in containers are not supported")
        getstate = getattr(value, "__getstate__", None)
        state = getstate() if getstate is not None else vars(value)
        if state is None:
            state = {}
        if not isinstance(state, dict):
            raise TypeError(f"cannot save {where}: the state of {type(value).__qualname__} is not a dict")
        return {
            "__type__": "object",
            "class": _class_path(type(value)),
            "state": {
                name: self.encode(item, f"{where}.{name}")
                for name, item in state.items()
                if isinstance(name, str)
            },
        }

    def _memoized(self, value: Any, where: str, encode: Any) -> dict[str, Any]:
        """Encode an object once; later occurrences (shared nodes, graph edges) become references."""
        if id(value) in self._ids:
            return {"__type__": "ref", "id": self._ids[id(value)]}
        self._ids[id(value)] = len(self._ids)
        self._alive.append(value)
        return {"id": self._ids[id(value)], **encode(value, where)}


def _torch_dtype_name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")


def _tensor_values(tensor: Any, where: str) -> np.ndarray:
    """A CPU numpy copy of ``tensor``'s values (dtypes numpy lacks, like bfloat16, are refused)."""
    try:
        return tensor.detach().cpu().numpy()
    except TypeError as error:
        raise TypeError(f"cannot save {where}: {error}") from error


def _is_namedtuple(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def _is_sparse(value: Any) -> bool:
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(value)


# ---------------------------------------------------------------------------------------------- decoding


class _Decoder:
    """Rebuild an object from the JSON tree and the arrays written by :class:`_Encoder`."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays
        self._objects: dict[int, Any] = {}

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(item) for item in node]
        kind = node["__type__"]
        decoder = getattr(self, f"_decode_{kind}", None)
        if decoder is None:
            raise ValueError(f"unknown entry type {kind!r} in the payload")
        value = decoder(node)
        if "id" in node:
            self._objects[node["id"]] = value  # later "ref" entries resolve to this very object
        return value

    def _array(self, key: str) -> np.ndarray:
        return self.arrays[key]

    def _decode_float(self, node: dict) -> float:
        return float(node["value"])

    def _decode_ndarray(self, node: dict) -> np.ndarray:
        return self._array(node["key"])

    def _decode_npscalar(self, node: dict) -> np.generic:
        return self._array(node["key"])[()]

    def _decode_dtype(self, node: dict) -> Any:
        dtype = np.dtype(node["name"])
        return dtype.type if node["as_type"] else dtype

    def _decode_tuple(self, node: dict) -> tuple:
        return tuple(self.decode(item) for item in node["items"])

    def _decode_namedtuple(self, node: dict) -> tuple:
        return self._decode_class({"path": node["class"]})(*(self.decode(item) for item in node["items"]))

    def _decode_set(self, node: dict) -> set:
        return {self.decode(item) for item in node["items"]}

    def _decode_frozenset(self, node: dict) -> frozenset:
        return frozenset(self.decode(item) for item in node["items"])

    def _decode_dict(self, node: dict) -> dict:
        items = ((self.decode(key), self.decode(value)) for key, value in node["pairs"])
        if "default_factory" in node:
            factory = node["default_factory"]
            return defaultdict(None if factory is None else _DEFAULT_FACTORIES[factory], items)
        return OrderedDict(items) if node["ordered"] else dict(items)

    def _decode_np_generator(self, node: dict) -> np.random.Generator:
        state = self.decode(node["state"])
        bit_generator = _resolve(f"numpy.random:{state['bit_generator']}", ("numpy",))()
        bit_generator.state = state
        return np.random.Generator(bit_generator)

    def _decode_np_randomstate(self, node: dict) -> np.random.RandomState:
        random_state = np.random.RandomState()
        random_state.set_state(self.decode(node["state"]))
        return random_state

    def _decode_sparse(self, node: dict) -> Any:
        import scipy.sparse

        parts = (self._array(node["data"]), self._array(node["indices"]), self._array(node["indptr"]))
        constructor = {
            ("csr", False): scipy.sparse.csr_array,
            ("csc", False): scipy.sparse.csc_array,
            ("csr", True): scipy.sparse.csr_matrix,
            ("csc", True): scipy.sparse.csc_matrix,
        }[node["stored_format"], node["matrix"]]
        return constructor(parts, shape=tuple(node["shape"])).asformat(node["format"])

    def _decode_tensor(self, node: dict) -> Any:
        import torch

        if node.get("meta"):
            tensor = torch.empty(node["shape"], dtype=self._decode_torch_dtype(node), device="meta")
        else:
            tensor = torch.from_numpy(np.array(self._array(node["key"])))
        if node["parameter"]:
            return torch.nn.Parameter(tensor, requires_grad=node["requires_grad"])
        return tensor.requires_grad_(node["requires_grad"])

    def _decode_torch_dtype(self, node: dict) -> Any:
        import torch

        name = node.get("dtype", node.get("name"))
        dtype = getattr(torch, name, None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"{name!r} is not a torch dtype")
        return dtype

    def _decode_torch_size(self, node: dict) -> Any:
        import torch

        return torch.Size(node["items"])

    def _decode_torch_device(self, node: dict) -> Any:
        import torch

        return torch.device(node["name"])

    def _decode_torch_generator(self, node: dict) -> Any:
        import torch

        generator = torch.Generator()
        generator.set_state(torch.from_numpy(np.array(self._array(node["key"]))))
        return generator

    def _decode_function(self, node: dict) -> Any:
        function = _resolve(node["path"], _FUNCTION_PACKAGES)
        if not callable(function) or isinstance(function, type):
            raise ValueError(f"{node['path']!r} is not a function")
        return function

    def _decode_class(self, node: dict) -> type:
        cls = _resolve(node["path"], _CLASS_PACKAGES)
        if not isinstance(cls, type):
            raise ValueError(f"{node['path']!r} is not a class")
        return cls

    def _decode_ref(self, node: dict) -> Any:
        return self._objects[node["id"]]

    def _decode_object(self, node: dict) -> Any:
        cls = self._decode_class({"path": node["class"]})
        obj = cls.__new__(cls)
        self._objects[node["id"]] = obj  # registered before its state: cycles resolve to it
        state = {name: self.decode(value) for name, value in node["state"].items()}
        if hasattr(obj, "__setstate__"):
            obj.__setstate__(state)
        else:
            obj.__dict__.update(state)
        return obj

    def _decode_torch_model(self, node: dict) -> Any:
        import torch

        from cbreservoir.models import build_model

        model = build_model(**self.decode(node["config"]))
        if node["dtype"] is not None:
            model = model.to(self._decode_torch_dtype({"dtype": node["dtype"]}))
        if node["meta"]:
            model = model.to("meta")
        else:
            state_dict = {
                name: torch.from_numpy(np.array(self._array(key))) for name, key in node["state_dict"].items()
            }
            model.load_state_dict(state_dict, strict=True)
        for name, (ownership, identifier) in node["parameters"].items():
            if ownership == "own":
                self._objects[identifier] = model.get_parameter(name)
            else:  # the same parameter object was decoded earlier: make the model hold it again
                module_name, _, leaf = name.rpartition(".")
                setattr(model.get_submodule(module_name), leaf, self._objects[identifier])
        frozen = set(node["frozen"])
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(name not in frozen)
        model.train(node["training"])
        if node["cerebellum_enabled"] is not None:
            model.cerebellum_enabled = node["cerebellum_enabled"]
        return model

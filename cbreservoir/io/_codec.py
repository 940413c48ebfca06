"""Objects to and from the payload: a JSON tree whose arrays are references to stored arrays.

:class:`Encoder` and :class:`Decoder` extend the data codec of the one format
(:class:`~cbreservoir.utils.fileformat.DataEncoder`, :class:`~cbreservoir.utils.fileformat.DataDecoder`:
JSON values, lists, tuples, dicts, arrays, tensors) with the objects of the tables. :class:`Encoder`
refuses, at save time, anything the tables of :mod:`cbreservoir.io._registry` cannot describe.
:class:`Decoder` builds only what those tables list; every field it reads is checked first,
objects are rebuilt from the fields their class declares (:mod:`cbreservoir.io._declared`), and sizes that
are not backed by stored bytes (meta tensors, models rebuilt from their config, sparse shapes, weights
and delay lines still to be drawn) are charged to a byte budget before anything is allocated.
"""

from __future__ import annotations

import inspect
import sys
from collections import defaultdict
from types import ModuleType
from typing import Any

import numpy as np

from cbreservoir.io._declared import Declared, by_constructor, declared
from cbreservoir.io._registry import (
    DEFAULT_FACTORIES,
    bit_generators,
    classes,
    current_class_path,
    functions,
    named_tuples,
    torch_device,
)
from cbreservoir.utils.checks import check_bit_generator_state, check_real
from cbreservoir.utils.fileformat import (
    Contents,
    DataDecoder,
    DataEncoder,
    array_layout,
    class_path,
    get_field,
    get_shape,
    optimizer_state,
    tensor_values,
    torch_dtype_name,
    torch_dtypes,
)

__all__ = ["Decoder", "Encoder", "is_config_model"]

_SPARSE_FORMATS = ("csr", "csc", "coo")


def _torch() -> ModuleType | None:
    """torch, if something already imported it (an object without tensors never needs it)."""
    return sys.modules.get("torch")


def is_config_model(obj: Any) -> bool:
    """True for the models :func:`cbreservoir.models.build_model` rebuilds from ``obj.config``."""
    torch = _torch()
    if torch is None or not isinstance(obj, torch.nn.Module):
        return False
    from cbreservoir.models.registry import MODEL_KINDS

    config = getattr(obj, "config", None)
    return (
        isinstance(config, dict)
        and config.get("kind") in MODEL_KINDS
        and type(obj) is MODEL_KINDS[config["kind"]][0]
    )


def _numpy_dtype_of(torch_dtype: Any) -> str:
    """The ``dtype.str`` of the NumPy dtype holding a torch dtype's values ('' if numpy has none)."""
    try:
        return np.dtype(torch_dtype_name(torch_dtype)).str
    except TypeError:
        return ""


# ---------------------------------------------------------------------------------------------- encoding


class Encoder(DataEncoder):
    """Turn an object into a JSON tree, collecting its arrays: data, and the objects of the tables."""

    def _encode_other(self, value: Any, where: str) -> Any:
        if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
            return self._encode_dtype(value, where)
        if type(value) in (set, frozenset) or class_path(type(value)) in _named_tuple_keys(value):
            return self._encode_sequence(value, where)
        if type(value) is defaultdict:
            return self._encode_defaultdict(value, where)
        if type(value) is np.random.Generator:
            state = value.bit_generator.state
            return {"__type__": "np_generator", "state": self.encode(state, f"{where}.bit_generator.state")}
        if type(value) is np.random.RandomState:
            return {"__type__": "np_randomstate", "state": self.encode(value.get_state(legacy=False), where)}
        if _is_sparse(value):
            return self._encode_sparse(value, where)
        torch = _torch()
        if torch is not None:
            encoded = self._encode_torch(value, where, torch)
            if encoded is not None:
                return encoded
        if _is_registered_object(value):
            return self._memoized(value, where, self._encode_state)
        if inspect.isroutine(value) or isinstance(value, np.ufunc):
            return self._encode_function(value, where)
        return super()._encode_other(value, where)

    def _encode_dtype(self, value: Any, where: str) -> dict[str, Any]:
        name = np.dtype(value).str
        try:
            array_layout(name)
        except ValueError as error:
            raise TypeError(f"cannot save {where}: {error}") from error
        return {"__type__": "dtype", "name": name, "as_type": isinstance(value, type)}

    def _encode_defaultdict(self, value: defaultdict, where: str) -> dict[str, Any]:
        entry = self._encode_dict(value, where)
        factory = value.default_factory
        if factory is not None and factory not in DEFAULT_FACTORIES.values():
            raise TypeError(f"cannot save {where}: a defaultdict whose default factory is {factory!r}")
        entry["default_factory"] = None if factory is None else factory.__name__
        return entry

    def _encode_sparse(self, value: Any, where: str) -> dict[str, Any]:
        import scipy.sparse

        if value.format not in _SPARSE_FORMATS or type(value) not in _sparse_classes().values():
            raise TypeError(
                f"cannot save {where}: sparse {type(value).__name__} (format {value.format!r}); "
                f"convert it to one of {list(_SPARSE_FORMATS)} first (e.g. .tocsr())"
            )
        if value.format == "coo":
            parts = {"data": value.data, "row": value.row, "col": value.col}
        else:
            parts = {"data": value.data, "indices": value.indices, "indptr": value.indptr}
        return {
            "__type__": "sparse",
            "format": value.format,
            "matrix": isinstance(value, scipy.sparse.spmatrix),
            "shape": list(value.shape),
            **{name: self.add_array(part, where) for name, part in parts.items()},
        }

    def _encode_torch(self, value: Any, where: str, torch: ModuleType) -> dict[str, Any] | None:
        if isinstance(value, torch.dtype):
            name = torch_dtype_name(value)
            if name not in torch_dtypes():
                raise TypeError(f"cannot save {where}: torch dtype {value} is not supported")
            return {"__type__": "torch_dtype", "name": name}
        if type(value) is torch.device:
            return {"__type__": "torch_device", "name": str(value)}
        if type(value) is torch.Size:
            return {"__type__": "torch_size", "items": list(value)}
        if type(value) is torch.Generator:
            return {"__type__": "torch_generator", "key": self.add_array(value.get_state().numpy(), where)}
        if is_config_model(value):
            return self._memoized(value, where, self._encode_config_model)
        return None

    def _encode_config_model(self, model: Any, where: str) -> dict[str, Any]:
        parameters = dict(model.named_parameters())
        float_dtypes = {parameter.dtype for parameter in parameters.values() if parameter.is_floating_point()}
        meta = any(parameter.is_meta for parameter in parameters.values())
        return {
            "__type__": "torch_model",
            "class": class_path(type(model)),
            "config": self.encode(model.config, f"{where}.config"),
            "dtype": torch_dtype_name(float_dtypes.pop()) if len(float_dtypes) == 1 else None,
            "meta": meta,
            "state_dict": {}
            if meta
            else {
                name: self.add_array(tensor_values(tensor, f"{where}.{name}"), f"{where}.{name}")
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
        for path, function in functions().items():
            if function is value:
                return {"__type__": "function", "path": path}
        name = getattr(value, "__qualname__", getattr(value, "__name__", type(value).__qualname__))
        raise TypeError(
            f"cannot save {where}: the function {getattr(value, '__module__', '?')}.{name} is not one of the "
            f"functions a cbreservoir file can name ({sorted(functions())})"
        )

    def _encode_state(self, value: Any, where: str) -> dict[str, Any]:
        getstate = getattr(value, "__getstate__", None)
        state = getstate() if getstate is not None else vars(value)
        if state is None:
            state = {}
        if not isinstance(state, dict):
            raise TypeError(f"cannot save {where}: the state of {type(value).__qualname__} is not a dict")
        if _is_optimizer(type(value)):  # its learning rate as ``learning_rate``: ``lr`` in a file is a leak
            try:
                state = optimizer_state(state, to_file=True)
            except ValueError as error:
                raise TypeError(f"cannot save {where}: {error}") from error
        for name in state:
            if not _is_attribute_name(name):
                raise TypeError(
                    f"cannot save {where}: its state holds the key {name!r}, not an attribute name"
                )
        return {
            "__type__": "object",
            "class": class_path(type(value)),
            "state": {name: self.encode(item, f"{where}.{name}") for name, item in state.items()},
        }

def _is_optimizer(cls: type) -> bool:
    """True for a torch optimiser class (whose learning rate a file names ``learning_rate``)."""
    torch = _torch()
    return torch is not None and issubclass(cls, torch.optim.Optimizer)


def _named_tuple_keys(value: Any) -> dict[str, type] | tuple[()]:
    """The named-tuple table, for tuples only (so that other values never build it)."""
    return named_tuples() if isinstance(value, tuple) and hasattr(type(value), "_fields") else ()


def _is_registered_object(value: Any) -> bool:
    """True for objects of the class table (whose packages are checked first, so others never build it)."""
    if type(value).__module__.partition(".")[0] not in ("cbreservoir", "reservoirpy", "torch"):
        return False
    return classes().get(class_path(type(value))) is type(value)


def _is_attribute_name(name: Any) -> bool:
    return (
        isinstance(name, str) and name.isidentifier() and not (name.startswith("__") and name.endswith("__"))
    )


def _is_sparse(value: Any) -> bool:
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(value)


def _sparse_classes() -> dict[tuple[str, bool], type]:
    """SciPy's sparse classes of :data:`_SPARSE_FORMATS`, by ``(format, is_matrix)``."""
    import scipy.sparse as sparse

    return {
        ("csr", False): sparse.csr_array,
        ("csc", False): sparse.csc_array,
        ("coo", False): sparse.coo_array,
        ("csr", True): sparse.csr_matrix,
        ("csc", True): sparse.csc_matrix,
        ("coo", True): sparse.coo_matrix,
    }


# ---------------------------------------------------------------------------------------------- decoding


class Decoder(DataDecoder):
    """Rebuild an object from the JSON tree written by :class:`Encoder`: data, and the objects of the tables.

    Parameters
    ----------
    contents : cbreservoir.utils.fileformat.Contents
        The file read and checked: its arrays, their declared dtypes and shapes, the loading budget
        (charged, before anything is allocated, for sizes that no stored bytes back: meta tensors, models
        rebuilt from their config, index arrays of sparse conversions), in the current version's layout
        (an older file's brought there by :func:`cbreservoir.utils.fileformat.migrate` first:
        :mod:`cbreservoir.io._migrations`).
    """

    def __init__(self, contents: Contents) -> None:
        super().__init__(contents)
        self._decoders.update(
            {
                "dtype": self._decode_dtype,
                "set": self._decode_set,
                "frozenset": self._decode_frozenset,
                "namedtuple": self._decode_namedtuple,
                "np_generator": self._decode_np_generator,
                "np_randomstate": self._decode_np_randomstate,
                "sparse": self._decode_sparse,
                "torch_size": self._decode_torch_size,
                "torch_device": self._decode_torch_device,
                "torch_generator": self._decode_torch_generator,
                "function": self._decode_function,
                "object": self._decode_object,
                "torch_model": self._decode_torch_model,
            }
        )

    def _decode_dtype(self, node: dict) -> Any:
        dtype = array_layout(get_field(node, "name", str))[0]
        return dtype.type if get_field(node, "as_type", bool) else dtype

    def _decode_set(self, node: dict) -> set:
        return set(self._items(node))

    def _decode_frozenset(self, node: dict) -> frozenset:
        return frozenset(self._items(node))

    def _decode_namedtuple(self, node: dict) -> tuple:
        name = get_field(node, "class", str)
        if name not in named_tuples():
            raise ValueError(f"unknown named tuple {name!r} (known: {sorted(named_tuples())})")
        cls = named_tuples()[name]
        items = self._items(node)
        if len(items) != len(cls._fields):
            raise ValueError(f"{name} has {len(cls._fields)} fields, the file gives {len(items)}")
        return cls(*items)

    def _decode_dict(self, node: dict) -> dict:
        if "default_factory" not in node:
            return super()._decode_dict(node)
        items = self._pairs(node)
        factory = get_field(node, "default_factory", str, None)
        if factory is not None and factory not in DEFAULT_FACTORIES:
            raise ValueError(f"unknown defaultdict factory {factory!r} (known: {sorted(DEFAULT_FACTORIES)})")
        return defaultdict(None if factory is None else DEFAULT_FACTORIES[factory], items)

    def _decode_np_generator(self, node: dict) -> np.random.Generator:
        state = self.decode(get_field(node, "state", dict))
        state = check_bit_generator_state(state, "a NumPy generator's state")
        bit_generator = bit_generators()[state["bit_generator"]]()
        bit_generator.state = state
        return np.random.Generator(bit_generator)

    def _decode_np_randomstate(self, node: dict) -> np.random.RandomState:
        state = self.decode(get_field(node, "state", dict))
        random_state = np.random.RandomState()
        random_state.set_state(check_bit_generator_state(state, "a RandomState's state", legacy=True))
        return random_state

    def _decode_sparse(self, node: dict) -> Any:
        form = get_field(node, "format", str)
        if form not in _SPARSE_FORMATS:
            raise ValueError(f"sparse format must be one of {list(_SPARSE_FORMATS)}, got {form!r:.80}")
        shape = get_shape(get_field(node, "shape", list), "a sparse shape")
        if len(shape) != 2:
            raise ValueError(f"a sparse shape has 2 sizes, got {shape}")
        # csr/csc/coo conversions allocate index arrays as long as the shape: bound them first
        self._spend(8 * (shape[0] + shape[1] + 2), f"a sparse matrix of shape {shape}")
        names = ("data", "row", "col") if form == "coo" else ("data", "indices", "indptr")
        parts = {name: self._stored(node, name) for name in names}
        if any(part.ndim != 1 for part in parts.values()) or any(
            parts[name].dtype.kind not in "iu" for name in names[1:]
        ):
            raise ValueError("a sparse matrix's parts must be 1-d arrays, with integer indices")
        cls = _sparse_classes()[form, get_field(node, "matrix", bool)]
        if form == "coo":
            row, col = parts["row"], parts["col"]
            if not len(row) == len(col) == len(parts["data"]):
                raise ValueError("a coo matrix needs as many rows and columns as values")
            if len(row) and (
                row.min() < 0 or col.min() < 0 or row.max() >= shape[0] or col.max() >= shape[1]
            ):
                raise ValueError(f"a coo matrix has indices outside its shape {shape}")
            return cls((parts["data"], (row, col)), shape=shape)
        major = shape[0] if form == "csr" else shape[1]
        if len(parts["indptr"]) != major + 1:
            raise ValueError(
                f"a {form} matrix of shape {shape} needs {major + 1} index pointers, the file has "
                f"{len(parts['indptr'])}"
            )
        matrix = cls((parts["data"], parts["indices"], parts["indptr"]), shape=shape)
        matrix.check_format(full_check=True)
        return matrix

    def _decode_torch_size(self, node: dict) -> Any:
        import torch

        return torch.Size(get_shape(get_field(node, "items", list), "a torch.Size"))

    def _decode_torch_device(self, node: dict) -> Any:
        return torch_device(get_field(node, "name", str))

    def _decode_torch_generator(self, node: dict) -> Any:
        import torch

        generator = torch.Generator()
        generator.set_state(torch.from_numpy(self._stored(node)))
        return generator

    def _decode_function(self, node: dict) -> Any:
        path = get_field(node, "path", str)
        if path not in functions():
            raise ValueError(f"refusing to load the function {path!r:.120}: not one of {sorted(functions())}")
        return functions()[path]

    def _decode_object(self, node: dict) -> Any:
        """An object of the class table, rebuilt from exactly the fields its class declares.

        Keys that are not declared fields (a method's name, a private check) are refused before anything
        is decoded; each decoded field is checked for its type and range; the object is rebuilt through
        its constructor or its declared fields, and its invariants are checked
        (:mod:`cbreservoir.io._declared`). The object is registered only once it is complete, so no entry
        inside its own state can refer to it.
        """
        name = current_class_path(get_field(node, "class", str))
        if name not in classes():
            raise ValueError(
                f"refusing to load an object of class {name!r:.120}: not one of the classes a cbreservoir "
                "file can hold (see docs/save-load.md)"
            )
        cls = classes()[name]
        state = get_field(node, "state", dict)
        declaration = _declaration(cls, state)
        unknown = sorted(set(state) - set(declaration.fields), key=str)
        missing = sorted(set(declaration.fields) - declaration.optional - set(state))
        if unknown or missing:
            raise ValueError(
                f"a {name} is rebuilt from the fields its class declares; the file's state has "
                f"undeclared fields {unknown[:5]!r:.200} and lacks {missing[:5]}"
            )
        values = {key: self.decode(value) for key, value in state.items()}
        if _is_optimizer(cls) and type(values.get("param_groups")) is list:
            values = optimizer_state(values, to_file=False)  # torch's names: ``lr``
        for key, value in values.items():
            try:
                declaration.fields[key](value, f"{cls.__qualname__}.{key}")
            except TypeError as error:  # a field of the wrong type: a file the format refuses
                raise ValueError(str(error)) from error
        if declaration.build is not None:
            obj = declaration.build(cls, values)
        else:
            obj = cls.__new__(cls)
            if hasattr(obj, "__setstate__"):  # cbreservoir's classes check their state there
                obj.__setstate__(values)
            else:
                obj.__dict__.update(values)
        if cls.__module__.partition(".")[0] == "torch":
            check_torch_object(obj)
        if declaration.invariants is not None:
            declaration.invariants(obj, self._spend)
        self._register(node, obj)
        return obj

    def _decode_torch_model(self, node: dict) -> Any:
        import torch

        from cbreservoir.models import build_model

        name = current_class_path(get_field(node, "class", str))
        config = self.decode(get_field(node, "config", dict))
        if not isinstance(config, dict) or not all(isinstance(key, str) for key in config):
            raise ValueError(f"the config of a {name} must be a dict with string keys")
        dtype_name = get_field(node, "dtype", str, None)
        if dtype_name is not None and dtype_name not in _MODEL_DTYPES:
            raise ValueError(
                f"the dtype of a {name} must be one of {list(_MODEL_DTYPES)}, got {dtype_name!r:.40}"
            )
        dtype = None if dtype_name is None else self._decode_torch_dtype({"name": dtype_name})
        meta = get_field(node, "meta", bool)
        state_dict = get_field(node, "state_dict", dict)
        with torch.device("meta"):  # shapes only: nothing is allocated for a config of any size
            model = build_model(**config)
        if class_path(type(model)) != name:
            raise ValueError(f"the payload says {name}, but its config builds a {class_path(type(model))}")
        if dtype is not None:
            model = model.to(dtype)
        expected = model.state_dict()
        self._spend(  # a meta model's sizes, or the real model the stored arrays are copied into
            sum(tensor.numel() * tensor.element_size() for tensor in expected.values()),
            f"the {'meta ' if meta else ''}{name}",
        )
        if not meta:
            self._check_state_dict(name, expected, state_dict)
            model = build_model(**config)
            if dtype is not None:
                model = model.to(dtype)
            model.load_state_dict(
                {key: torch.from_numpy(self._stored(state_dict, key)) for key in state_dict}, strict=True
            )
        self._restore_model_details(model, node)
        self._register(node, model)
        return model

    def _check_state_dict(self, name: str, expected: dict, state_dict: dict) -> None:
        """The stored state dict has exactly the keys, shapes and dtypes of the model its config builds."""
        missing, extra = sorted(set(expected) - set(state_dict)), sorted(set(state_dict) - set(expected))
        if missing or extra:
            raise ValueError(
                f"the state dict of the {name} does not match its config: missing keys {missing}, "
                f"unexpected keys {extra}"
            )
        for key, tensor in expected.items():
            array_key = get_field(state_dict, key, str)
            if array_key not in self._declared:
                raise ValueError(
                    f"the payload refers to the array {array_key!r}, which the file does not hold"
                )
            dtype, shape = self._declared[array_key]
            if shape != tuple(tensor.shape) or dtype != _numpy_dtype_of(tensor.dtype):
                raise ValueError(
                    f"the state dict entry {key!r} of the {name} has shape {list(shape)} and dtype {dtype}; "
                    f"its config needs shape {list(tensor.shape)} and dtype {_numpy_dtype_of(tensor.dtype)}"
                )

    def _restore_model_details(self, model: Any, node: dict) -> None:
        """Shared parameter objects, frozen parameters, train/eval mode and the cerebellum switch."""
        own = dict(model.named_parameters())
        for key, claim in get_field(node, "parameters", dict).items():
            if not (type(claim) is list and len(claim) == 2 and claim[0] in ("own", "shared")):
                raise ValueError(
                    f"parameter {key!r}: expected ['own', id] or ['shared', id], got {claim!r:.80}"
                )
            if key not in own:
                raise ValueError(f"the model has no parameter {key!r}")
            entry = {"__type__": "parameter", "id": claim[1]}
            if claim[0] == "own":
                self._register(entry, own[key])
                continue
            shared = self._decode_ref(entry)  # the same parameter object was decoded earlier
            if (
                type(shared) is not type(own[key])
                or shared.shape != own[key].shape
                or shared.dtype != own[key].dtype
            ):
                raise ValueError(
                    f"parameter {key!r} is shared with an object that is not a parameter of its shape "
                    f"{list(own[key].shape)} and dtype {own[key].dtype}"
                )
            module_name, _, leaf = key.rpartition(".")
            setattr(model.get_submodule(module_name), leaf, shared)
        frozen = get_field(node, "frozen", list)
        for key, parameter in model.named_parameters():
            parameter.requires_grad_(key not in frozen)
        model.train(get_field(node, "training", bool))
        enabled = get_field(node, "cerebellum_enabled", bool, None)
        if enabled is not None:
            model.cerebellum_enabled = enabled


# ------------------------------------------------------------------------------- torch objects after loading


def _declaration(cls: type, state: dict) -> Declared:
    """The declared fields of ``cls``: its table entry, or for torch's own classes the attributes of a
    freshly built object (and the ``_warned*`` flags torch sets lazily)."""
    if cls.__module__.partition(".")[0] != "torch":
        return declared()[cls]
    names = set(vars(_torch_reference(cls))) | _lazy(key for key in state if isinstance(key, str))
    # torch's __getstate__ leaves some out and its __setstate__ restores them: check_torch_object then
    # checks that the object has exactly the attributes of a fresh one
    return Declared(dict.fromkeys(names, by_constructor), optional=frozenset(names))


#: A fresh object of each torch class of the table (on the meta device): the attributes loaded ones need.
_TORCH_REFERENCES: dict[type, Any] = {}
_MODEL_DTYPES = ("float16", "float32", "float64")


def _torch_reference(cls: type) -> Any:
    import torch

    if cls not in _TORCH_REFERENCES:
        if issubclass(cls, torch.optim.Optimizer):
            _TORCH_REFERENCES[cls] = cls([torch.nn.Parameter(torch.empty(1, device="meta"))])
        elif cls is torch.nn.Linear:
            _TORCH_REFERENCES[cls] = cls(1, 1, device="meta")
        else:
            _TORCH_REFERENCES[cls] = cls()
    return _TORCH_REFERENCES[cls]


def check_torch_object(obj: Any) -> None:
    """Refuse a loaded torch module or optimizer whose attributes torch's own constructor could not produce.

    Exactly the attributes of a freshly built object of its class, each of the same container type;
    hooks empty; ``_parameters``, ``_buffers`` and ``_modules`` mapping names to parameters, tensors and
    modules; a ``Linear``'s weight and bias of its declared shape and one floating dtype; an optimizer's
    groups holding distinct parameters, exactly the hyperparameters of its defaults, its state keyed by them.

    Raises
    ------
    ValueError
        Naming the attribute that is wrong.
    """
    import torch

    reference = _torch_reference(type(obj))
    _check_attributes(obj, reference, set(vars(obj)))
    if isinstance(obj, torch.nn.Module):
        _check_module_tables(obj, type(obj).__name__, torch)
    else:
        _check_optimizer(obj, type(obj).__name__, reference, torch)


def check_module_base(module: Any) -> None:
    """:func:`check_torch_object` for the ``torch.nn.Module`` attributes of one of cbreservoir's modules
    (its own fields are declared and checked apart)."""
    import torch

    reference = _torch_reference(torch.nn.Module)
    _check_attributes(module, reference, set(vars(module)) & (set(vars(reference)) | _lazy(vars(module))))
    _check_module_tables(module, type(module).__name__, torch)


def _lazy(names: Any) -> set[str]:
    return {key for key in names if key.startswith("_warned")}


def _check_attributes(obj: Any, reference: Any, found: set[str]) -> None:
    name = type(obj).__name__
    optional = _lazy(found | set(vars(reference)))  # set lazily
    expected = set(vars(reference)) - optional
    if expected != found - optional or not all(type(getattr(obj, key)) is bool for key in found & optional):
        raise ValueError(
            f"a loaded {name} must have exactly the attributes {sorted(expected)}; it lacks "
            f"{sorted(expected - found)} and has {sorted(found - expected)[:5]}"
        )
    for key, value in vars(reference).items():
        if key in optional:
            continue
        loaded = getattr(obj, key)
        if isinstance(value, (dict, set, list)) and type(loaded) is not type(value):
            raise ValueError(f"{name}.{key} must be a {type(value).__name__}, got {type(loaded).__name__}")
        if key.endswith("hooks") or key.endswith("hooks_with_kwargs") or key.endswith("always_called"):
            if loaded:
                raise ValueError(f"{name}.{key} must be empty (a file cannot hold hooks)")
        elif type(value) in (bool, str, int) and type(loaded) is not type(value):
            raise ValueError(f"{name}.{key} must be a {type(value).__name__}, got {loaded!r:.80}")


def _check_module_tables(module: Any, name: str, torch: ModuleType) -> None:
    for table, kinds in (
        ("_parameters", (torch.nn.Parameter,)),
        ("_buffers", (torch.Tensor,)),
        ("_modules", (torch.nn.Module,)),
    ):
        for key, value in vars(module)[table].items():
            if not (isinstance(key, str) and key and "." not in key):
                raise ValueError(f"{name}.{table} has the key {key!r:.80}, not a name")
            if value is not None and not isinstance(value, kinds):
                raise ValueError(
                    f"{name}.{table}[{key!r}] must be a {kinds[0].__name__}, got {type(value).__name__}"
                )
    if type(module) is torch.nn.Linear:
        shapes = {"weight": (module.out_features, module.in_features), "bias": (module.out_features,)}
        parameters = vars(module)["_parameters"]
        if set(parameters) != set(shapes) or parameters["weight"] is None:
            raise ValueError(f"a Linear must have a weight and a bias (or None), got {sorted(parameters)}")
        for key, parameter in parameters.items():
            if parameter is None:
                continue
            if tuple(parameter.shape) != shapes[key] or parameter.dtype != parameters["weight"].dtype:
                raise ValueError(
                    f"Linear.{key} must have shape {list(shapes[key])} and the weight's dtype; got "
                    f"{list(parameter.shape)} {parameter.dtype}"
                )
        if str(parameters["weight"].dtype).removeprefix("torch.") not in _MODEL_DTYPES:
            raise ValueError(
                f"a Linear's weight must be one of {_MODEL_DTYPES}, got {parameters['weight'].dtype}"
            )


def _check_optimizer(optimizer: Any, name: str, reference: Any, torch: ModuleType) -> None:
    if set(optimizer.defaults) != set(reference.defaults):
        raise ValueError(f"{name}.defaults must hold exactly {sorted(reference.defaults)}")
    seen: set[int] = set()
    for index, group in enumerate(optimizer.param_groups):
        if type(group) is not dict or not {"params", *reference.defaults} <= set(group):
            raise ValueError(
                f"{name}.param_groups[{index}] must be a dict with params and {sorted(reference.defaults)}"
            )
        params = group["params"]
        if type(params) is not list or not all(isinstance(p, torch.Tensor) for p in params):
            raise ValueError(f"{name}.param_groups[{index}]['params'] must be a list of tensors")
        if any(id(p) in seen for p in params):
            raise ValueError(f"{name}: a parameter appears twice in its param_groups")
        seen.update(id(p) for p in params)
        for key in ("lr", "weight_decay", "momentum", "dampening", "eps"):
            if key in group:
                check_real(group[key], f"{name}.param_groups[{index}][{key!r}]", minimum=0.0)
    if not all(id(key) in seen for key in optimizer.state):
        raise ValueError(f"{name}.state is keyed by tensors that are not among its parameters")

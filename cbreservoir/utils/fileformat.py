"""The one persisted format of cbreservoir: its container, its digest, its versions and its data codec.

Everything cbreservoir writes to keep (objects saved by :func:`cbreservoir.io.save`, curriculum
checkpoints, sweep run records) is a *document*: four metadata strings and a JSON header::

    format="cbreservoir"  format_version="5"  package_version="0.1.0"  sha256="…"
    __header__={"object_type": "checkpoint", "class": "…", "arrays": {"a0": ["<f4", [64, 1], false], …},
                "payload": {…}}

``payload`` describes the content as a tree of JSON values whose arrays are references to stored arrays
(:class:`DataEncoder`, :class:`DataDecoder`; :mod:`cbreservoir.io` extends them with the objects of its
tables). A document is stored in one of two layouts:

* binary (:func:`write_binary`, :func:`read_binary`): a safetensors file whose metadata holds the four
  strings and the header as JSON text, one tensor per array;
* text (:func:`write_text`, :func:`text_document`): for documents without arrays whose payload is plain JSON
  (the run records, which stay readable and diffable): one JSON object holding the four strings and the
  header's fields but ``arrays`` (:data:`TEXT_FIELDS`).

The one digest (:func:`digest`): SHA-256 over every metadata field but ``sha256`` (sorted by name, each
as ``name NUL value NUL``; the header as its JSON text, canonical in the text layout), then every stored
byte. It detects corruption, not forgery: whoever can write the file can write a matching digest.

The one version table (:data:`VERSIONS`) says what each version changed; a file of an older version is
brought to the current one by :func:`migrate`, which applies the converters the owners of each object
type register (:func:`register_migration`), one version step at a time. What a converter receives is its
owner's choice: the decoded payload of a data document (curriculum checkpoints, run records), the
:class:`Contents` read from the file for the objects :mod:`cbreservoir.io` rebuilds (converted before any
object is built). Files of the layouts before version 4 (``torch.save`` checkpoints, run records with a
``checksum``) are read by their owners' legacy readers into the version they correspond to, and then
migrate the same way.

Names in a file mean one thing: ``lr`` is a leak rate (reservoirpy's name, in models' configs and nodes),
and an optimiser's learning rate, which torch calls ``lr`` too, is stored as ``learning_rate`` (since
version 5: :data:`OPTIMIZER_FIELDS`, :func:`optimizer_fields`, :func:`optimizer_state`).

This module sits in the lowest layer (it imports torch only when a tensor is written or read), so that
training writes its checkpoints through it while :mod:`cbreservoir.io` keeps the tables of the types it
rebuilds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import stat
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from cbreservoir.utils.checks import check_int
from cbreservoir.utils.files import atomic_write_bytes, canonical_json

__all__ = [
    "ARRAY_DTYPES",
    "DEFAULT_MAX_BYTES",
    "FILE_SUFFIX",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "HEADER_KEY",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_DEPTH",
    "MAX_NESTING",
    "OPTIMIZER_FIELDS",
    "READ_VERSIONS",
    "VERSIONS",
    "Contents",
    "DataDecoder",
    "DataEncoder",
    "array_layout",
    "check_max_bytes",
    "class_path",
    "digest",
    "get_field",
    "get_shape",
    "header",
    "migrate",
    "optimizer_fields",
    "optimizer_state",
    "optimizer_states",
    "package_version",
    "read_binary",
    "read_data",
    "register_migration",
    "TEXT_FIELDS",
    "tensor_values",
    "text_document",
    "torch_dtype_name",
    "torch_dtypes",
    "write_binary",
    "write_data",
    "write_text",
]

#: Value of the ``format`` metadata field.
FORMAT_NAME = "cbreservoir"
#: Suffix of a cbreservoir file: ``cbreservoir train --save`` requires it (``save`` writes any path).
FILE_SUFFIX = ".cbr"
#: Every version of the format and what it changed (the converters of :func:`migrate` follow it).
VERSIONS: dict[int, str] = {
    1: "zip (.npz) archives; no longer read (their decoder could be made to run code)",
    2: "safetensors container; torch models' mossy-fibre weights read [h_{t-1} ; x_t], version 2 names "
    "(hidden_size, input_size, RecurrentAuxRNN's cerebellum.*); curriculum checkpoints of 'format' 3",
    3: "mossy-fibre weights read [x_t ; h_{t-1}] (cbreservoir.numerics.network.MOSSY_ORDER), version 3 "
    "names; curriculum checkpoints of 'format' 4 and run records with a 'checksum' correspond to it",
    4: "curriculum checkpoints (object_type 'checkpoint') and run records ('run_record', text layout) are "
    "documents of this format, with its digest",
    5: "an optimiser's learning rate is stored as 'learning_rate' (torch's 'lr'), so that 'lr' in a file is "
    "always a leak rate (a model's config, a node's)",
}
#: Version of the documents written.
FORMAT_VERSION = max(VERSIONS)
#: The versions read (version 1 is refused with an explanation).
READ_VERSIONS = tuple(version for version in VERSIONS if version >= 2)
#: Name of the metadata field holding the JSON header.
HEADER_KEY = "__header__"
#: How deeply containers and objects may nest inside a payload.
MAX_NESTING = 60
#: Default of ``max_bytes``: the largest file, and the most bytes its declared sizes may add up to.
DEFAULT_MAX_BYTES = 4 * 1024**3
#: Deepest nesting of the JSON header: what :data:`MAX_NESTING` levels of objects can produce.
MAX_HEADER_DEPTH = 3 * MAX_NESTING + 4
#: Longest JSON header (its parsed form takes about ten times as many bytes).
MAX_HEADER_BYTES = 64 * 1024**2

PathLike = str | os.PathLike

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_CHUNK = 1 << 20
_HEADER_FIELDS = ["arrays", "class", "object_type", "payload"]
#: The fields of a document in the text layout.
TEXT_FIELDS = ("format", "format_version", "package_version", "object_type", "class", "payload", "sha256")


# -------------------------------------------------------------------------------------------- dtypes

#: NumPy dtypes of arrays, as ``dtype.str``, stored as they are (safetensors dtype names).
ARRAY_DTYPES: dict[str, str] = {
    "|b1": "BOOL",
    "|i1": "I8",
    "|u1": "U8",
    "<i2": "I16",
    "<u2": "U16",
    "<i4": "I32",
    "<u4": "U32",
    "<i8": "I64",
    "<u8": "U64",
    "<f2": "F16",
    "<f4": "F32",
    "<f8": "F64",
}
#: NumPy dtypes stored as a view with one more, trailing axis: complex as (real, imag), text as characters.
_VIEWED = {"<c8": ("<f4", 2), "<c16": ("<f8", 2)}
_TEXT = re.compile(r"(<U|\|S)([1-9][0-9]{0,5})")


def array_layout(dtype: str) -> tuple[np.dtype, str, int]:
    """How an array of NumPy dtype ``dtype`` (a ``dtype.str``) is stored.

    Returns
    -------
    tuple
        ``(dtype, stored, extra)``: the array's dtype, the stored NumPy dtype (a key of
        :data:`ARRAY_DTYPES`) and the length of the extra trailing axis of the stored view (0: none).

    Raises
    ------
    ValueError
        If ``dtype`` is not one of the supported dtypes (bool, integers, floats, complex, fixed-width text).
    """
    if not isinstance(dtype, str):
        raise ValueError(f"an array dtype must be a string such as '<f8', got {dtype!r}")
    if dtype in ARRAY_DTYPES:
        return np.dtype(dtype), dtype, 0
    if dtype in _VIEWED:
        stored, extra = _VIEWED[dtype]
        return np.dtype(dtype), stored, extra
    match = _TEXT.fullmatch(dtype)
    if match is None:
        raise ValueError(
            f"unsupported array dtype {dtype!r} "
            f"(expected one of {[*ARRAY_DTYPES, *_VIEWED]}, '<U<n>' or '|S<n>')"
        )
    return np.dtype(dtype), "<u4" if match[1] == "<U" else "|u1", int(match[2])


@cache
def torch_dtypes() -> dict[str, Any]:
    """torch dtypes, by name without the ``torch.`` prefix."""
    import torch

    listed = (
        torch.bool,
        torch.uint8,
        torch.int8,
        torch.int16,
        torch.int32,
        torch.int64,
        torch.float16,
        torch.bfloat16,
        torch.float32,
        torch.float64,
        torch.complex64,
        torch.complex128,
    )
    return {str(dtype).removeprefix("torch."): dtype for dtype in listed}


# -------------------------------------------------------------------------------------- versions


#: ``{object_type: {version: converter}}``: each converter takes a decoded payload of ``version`` to
#: ``version + 1``; a version without a converter changed nothing for that object type.
_MIGRATIONS: dict[str, dict[int, Callable[[Any], Any]]] = {}


def register_migration(object_type: str, version: int, converter: Callable[[Any], Any]) -> None:
    """Register how a decoded payload of ``object_type`` goes from ``version`` to ``version + 1``.

    Called by the module that owns the object type, where its types are known (a lower layer cannot
    import them).

    Raises
    ------
    ValueError
        ``version`` is not an older version of :data:`VERSIONS`, or a converter is already registered.
    """
    if version not in VERSIONS or version >= FORMAT_VERSION:
        raise ValueError(f"expected one of the older versions {sorted(VERSIONS)[:-1]}, got {version!r}")
    table = _MIGRATIONS.setdefault(object_type, {})
    if table.get(version, converter) is not converter:
        raise ValueError(f"a converter from version {version} of {object_type!r} is already registered")
    table[version] = converter


def migrate(object_type: str, version: int, payload: Any) -> Any:
    """``payload`` (decoded, of format ``version``) as the current version holds it.

    Applies the registered converters of ``object_type`` from ``version`` up to :data:`FORMAT_VERSION`,
    one step at a time.

    Raises
    ------
    ValueError
        ``version`` is not one of :data:`READ_VERSIONS`.
    """
    if version not in READ_VERSIONS:
        raise ValueError(f"expected a format version in {list(READ_VERSIONS)}, got {version!r}")
    for step in range(version, FORMAT_VERSION):
        converter = _MIGRATIONS.get(object_type, {}).get(step)
        if converter is not None:
            payload = converter(payload)
    return payload


#: torch's names of optimiser hyperparameters that a file stores under another name (since version 5).
OPTIMIZER_FIELDS = {"lr": "learning_rate"}


def optimizer_fields(table: Mapping[str, Any], *, to_file: bool) -> dict[str, Any]:
    """An optimiser's hyperparameters (a param group or its defaults) under a file's names or torch's.

    Parameters
    ----------
    table : mapping of str to object
        ``{"lr": 0.01, "momentum": 0.1, "params": [...], ...}`` (torch's names; ``to_file=True``) or
        ``{"learning_rate": 0.01, ...}`` (a file's names; ``to_file=False``). Other keys keep their place.
    to_file : bool
        Rename torch's names to a file's (:data:`OPTIMIZER_FIELDS`), or back.

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        ``table`` already holds a name a rename gives (torch's ``learning_rate``, a file's ``lr``).
    """
    renames = OPTIMIZER_FIELDS if to_file else {new: old for old, new in OPTIMIZER_FIELDS.items()}
    clashes = sorted(set(renames.values()) & set(table))
    if clashes:
        names = "a file's" if not to_file else "torch's"
        raise ValueError(
            f"expected an optimiser's hyperparameters under {names} names {sorted(renames)}, got {clashes}"
        )
    return {renames.get(key, key): value for key, value in table.items()}


def optimizer_state(state: Mapping[str, Any], *, to_file: bool) -> dict[str, Any]:
    """An optimiser's state (its ``state_dict()``, or its attributes) under a file's names or torch's.

    Each group of its ``param_groups`` list, and its ``defaults`` if it has them, is renamed by
    :func:`optimizer_fields`; the other entries are kept as they are (the same objects).

    Raises
    ------
    ValueError
        A group holds both a name and the name it becomes.
    """
    renamed = dict(state)
    renamed["param_groups"] = [
        optimizer_fields(group, to_file=to_file) if isinstance(group, Mapping) else group
        for group in state["param_groups"]
    ]
    if isinstance(state.get("defaults"), Mapping):
        renamed["defaults"] = optimizer_fields(state["defaults"], to_file=to_file)
    return renamed


def optimizer_states(value: Any, *, to_file: bool) -> Any:
    """``value`` (data: dicts, lists, tuples) with every optimiser state inside it renamed.

    An optimiser state is a dict with a ``param_groups`` list (``torch.optim.Optimizer.state_dict()``),
    renamed by :func:`optimizer_state`, wherever it sits. Dicts and ``OrderedDict`` s, lists and tuples
    are rebuilt with their type; anything else is returned as it is.
    """
    if type(value) in (dict, OrderedDict):
        renamed = type(value)((key, optimizer_states(item, to_file=to_file)) for key, item in value.items())
        if type(value.get("param_groups")) is list:
            return type(value)(optimizer_state(renamed, to_file=to_file))
        return renamed
    if type(value) in (list, tuple):
        return type(value)(optimizer_states(item, to_file=to_file) for item in value)
    return value


def package_version() -> str:
    """The version of the installed cbreservoir (written into every document)."""
    from cbreservoir import __version__

    return __version__


# ------------------------------------------------------------------------------------------ digest


def digest(metadata: Mapping[str, str], chunks: Any = ()) -> str:
    """The one digest: SHA-256 over every metadata field but ``sha256`` (sorted by name), then ``chunks``.

    Parameters
    ----------
    metadata : mapping of str to str
        The document's metadata fields, the header among them as its JSON text.
    chunks : iterable of bytes-like
        The stored bytes, in file order (none for a text document).

    Returns
    -------
    str
        64 hex digits.
    """
    hasher = _metadata_hasher(metadata)
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.hexdigest()


def _metadata_hasher(metadata: Mapping[str, str]) -> Any:
    hasher = hashlib.sha256()
    for key in sorted(metadata):
        if key != "sha256":
            hasher.update(f"{key}\0{metadata[key]}\0".encode())
    return hasher


def header(object_type: str, class_name: str, arrays: dict[str, list], payload: Any) -> dict[str, Any]:
    """The header of a document: what it holds, the arrays' table and the payload."""
    return {"object_type": object_type, "class": class_name, "arrays": arrays, "payload": payload}


def _metadata(text: str) -> dict[str, str]:
    return {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "package_version": package_version(),
        HEADER_KEY: text,
    }


# -------------------------------------------------------------------------------------------- writing


def write_binary(path: PathLike, document: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    """Write a document with arrays as a safetensors file, atomically; returns the path.

    Parameters
    ----------
    path : str or path-like
        A file in an existing directory (check it with :func:`cbreservoir.utils.files.check_destination`
        before the work whose result goes there).
    document : dict
        A :func:`header`.
    arrays : dict of str to numpy.ndarray
        The stored arrays (:attr:`DataEncoder.arrays`).

    Raises
    ------
    ValueError
        The header's JSON is longer than :data:`MAX_HEADER_BYTES`.
    """
    import safetensors.numpy

    text = json.dumps(document, allow_nan=False, separators=(",", ":"))
    if len(text) > MAX_HEADER_BYTES:
        raise ValueError(
            f"its description takes {len(text):,} bytes of JSON, more than {MAX_HEADER_BYTES:,}; hold long "
            "lists of numbers in arrays"
        )
    metadata = _metadata(text)
    unsigned = safetensors.numpy.save(arrays)  # the stored bytes do not depend on the metadata
    metadata["sha256"] = digest(
        metadata, [memoryview(unsigned)[8 + int.from_bytes(unsigned[:8], "little") :]]
    )
    return atomic_write_bytes(path, safetensors.numpy.save(arrays, metadata=metadata))


def write_text(path: PathLike, object_type: str, value: Any) -> Path:
    """Write ``value`` (plain JSON) as a text document of ``object_type``: one JSON object, atomically.

    The object holds the metadata fields but the header, and the header's ``object_type``, ``class`` and
    ``payload`` (:data:`TEXT_FIELDS`; no arrays); the digest reads the header as its canonical JSON text
    (:func:`cbreservoir.utils.files.canonical_json`).

    Raises
    ------
    TypeError
        ``value`` is not plain JSON.
    """
    document = header(object_type, class_path(type(value)), {}, value)
    metadata = _metadata(canonical_json(document))
    signed = {
        **{key: item for key, item in metadata.items() if key != HEADER_KEY},
        **{key: document[key] for key in ("object_type", "class", "payload")},
        "sha256": digest(metadata),
    }
    text = json.dumps(signed, indent=1, sort_keys=True)  # no newline after it: any cut is not JSON
    return atomic_write_bytes(path, text.encode())


def text_document(signed: Any) -> tuple[int, dict[str, Any]]:
    """``(version, header)`` of a text document, parsed from its JSON (:func:`write_text`), checked.

    Raises
    ------
    ValueError
        Not a text document (other fields), not of a version read, or its digest does not match.
    """
    if not isinstance(signed, dict) or set(signed) != set(TEXT_FIELDS):
        found = sorted(signed)[:10] if isinstance(signed, dict) else type(signed).__name__
        raise ValueError(
            f"not a cbreservoir text document (expected the fields {list(TEXT_FIELDS)}, got {found})"
        )
    document = header(signed["object_type"], signed["class"], {}, signed["payload"])
    _check_header(document)
    metadata = {key: signed[key] for key in _METADATA_FIELDS}
    if not all(isinstance(value, str) for value in metadata.values()):
        raise ValueError("corrupted file: its metadata fields must be strings")
    metadata[HEADER_KEY] = canonical_json(document)
    _check_metadata(metadata)
    if digest(metadata) != metadata["sha256"]:
        raise ValueError("corrupted file: its content does not match its sha256 digest")
    return int(metadata["format_version"]), document


# -------------------------------------------------------------------------------------------- reading

#: Bytes charged per JSON value before a header is parsed: the parsed value and the decoded object that
#: stands for it (an empty list parses to 64 bytes and decodes to 64 more; a one-key dict takes 184).
_VALUE_BYTES = 256
#: Bytes charged per character of JSON text before it is parsed (the decoded text and its strings).
_CHAR_BYTES = 4
#: Bytes any file may allocate beyond ``max_bytes`` (so that small limits still parse small headers).
_ALLOWANCE = 1024**2
#: Safetensors dtype names and the NumPy dtypes of their elements.
_TENSOR_DTYPES = {name: np.dtype(dtype) for dtype, name in ARRAY_DTYPES.items()}
#: The metadata fields of a document, and the longest each may be (the header is bounded apart).
_METADATA_FIELDS = {"format": 64, "format_version": 64, "package_version": 64, "sha256": 64}


def check_max_bytes(max_bytes: Any) -> None:
    """``max_bytes`` is a positive int (``TypeError``/``ValueError`` otherwise)."""
    check_int(max_bytes, "max_bytes (a number of bytes)", minimum=1)


class _Budget:
    """Bytes that loading may allocate beyond the file's own (``max_bytes``); charged before allocating."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def spend(self, nbytes: int, what: str) -> None:
        if nbytes > self.left:
            raise ValueError(
                f"{what} would need {nbytes:,} bytes, more than the {self.left:,} left of max_bytes"
            )
        self.left -= nbytes


class Contents:
    """A binary document read once and checked: its metadata, header, stored arrays and loading budget.

    Attributes
    ----------
    metadata : dict of str to str
    header : dict
        The parsed header (:func:`header`).
    version : int
        The document's format version.
    declared : dict of str to tuple
        ``(dtype, shape)`` of every stored array, as the header declares it (checked against the file).
    """

    def __init__(
        self, metadata: dict[str, str], header: dict[str, Any], stored: dict[str, np.ndarray], budget: _Budget
    ) -> None:
        self.metadata = metadata
        self.header = header
        self.version = int(metadata["format_version"])
        self._stored = stored
        self._budget = budget
        self.declared = {key: (entry[0], tuple(entry[1])) for key, entry in header["arrays"].items()}

    def spend(self, nbytes: int, what: str) -> None:
        """Charge an allocation no stored bytes back to the loading budget (``ValueError`` when spent)."""
        self._budget.spend(nbytes, what)

    def replace_array(self, key: str, values: np.ndarray) -> None:
        """Store ``values`` as the array ``key`` (a converter of :func:`migrate` changing an old layout).

        Raises
        ------
        ValueError
            ``values`` differ from the array in dtype or shape, or the dtype is stored as a view.
        """
        dtype, shape, _ = self.header["arrays"][key]
        if dtype not in ARRAY_DTYPES or values.dtype.str != dtype or list(values.shape) != shape:
            raise ValueError(
                f"expected a {dtype} array of shape {shape} for {key!r}, "
                f"got {values.dtype.str} {list(values.shape)}"
            )
        self._stored[key] = np.ascontiguousarray(values).reshape(self._stored[key].shape)

    def array(self, key: str) -> np.ndarray:
        """The array ``key`` as saved: the bytes that were hashed, in the saved dtype, shape and order."""
        dtype, shape, fortran = self.header["arrays"][key]
        numpy_dtype, _, extra = array_layout(dtype)
        values = self._stored[key]
        if extra:
            values = values.view(numpy_dtype)
        values = values.reshape(shape)
        if fortran and not values.flags.f_contiguous:
            self.spend(values.nbytes, f"array {key!r} in Fortran order")
            values = np.asfortranarray(values)
        return values


def read_binary(path: PathLike, max_bytes: int = DEFAULT_MAX_BYTES) -> Contents:
    """Read the binary document at ``path`` once and check everything that needs no array, in order.

    Size and kind; the safetensors table (offsets, dtypes, shapes) and the metadata; every stored byte,
    read once into the arrays it will be decoded from and hashed there (a file changed meanwhile cannot
    hand over other bytes than those checked); the digest; the header's length, depth and JSON; the
    array table against the stored tensors. Parsing JSON text is charged to the budget before it starts.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        Anything else; the message starts with ``path`` and names the reason.
    """
    path = Path(path)
    budget = _Budget(max_bytes + _ALLOWANCE)
    with _regular_file(path, max_bytes) as (stream, size):
        head = _read_exactly(stream, min(size, 8), path)
        if head[:4] in _ZIP_MAGIC:
            raise ValueError(_version_1_refusal(path))
        length = int.from_bytes(head, "little")
        try:
            if size < 8 or length > size - 8:
                raise ValueError(f"the file has {size:,} bytes; its header length field says {length:,} + 8")
            metadata, tensors = _safetensors_table(
                _read_exactly(stream, length, path), size - 8 - length, budget
            )
        except ValueError as error:
            raise ValueError(
                f"{path}: not a readable cbreservoir file (truncated or corrupted?): {error}"
            ) from error
        try:
            _check_metadata(metadata)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error
        hasher = _metadata_hasher(metadata)
        stored = {}
        for key, (dtype, shape, _) in sorted(tensors.items(), key=lambda item: item[1][2]):
            stored[key] = np.empty(shape, dtype=dtype)
            _read_into(stream, stored[key], path)
            hasher.update(stored[key].data)
        if stream.read(1):
            raise ValueError(f"{path}: the file grew while it was read")
    try:
        if hasher.hexdigest() != metadata["sha256"]:
            raise ValueError(
                "corrupted file: the sha256 checksum over its metadata and arrays does not match"
            )
        document = _checked_header(metadata[HEADER_KEY], tensors, budget)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    return Contents(metadata, document, stored, budget)


def _version_1_refusal(path: Path) -> str:
    return (
        f"{path}: not a cbreservoir file this version reads: a zip (.npz) archive, as cbreservoir file "
        "format version 1 wrote. Version 1 files are no longer read, because their decoder could be made "
        f"to run code from the file; this cbreservoir ({package_version()}) reads version "
        f"{FORMAT_VERSION}. If you trust the file, load it with the cbreservoir that wrote it and save "
        "it again with this one."
    )


@contextlib.contextmanager
def _regular_file(path: Path, max_bytes: int) -> Iterator[tuple[Any, int]]:
    """``(stream, size)`` of ``path`` if it is a regular file of at most ``max_bytes`` bytes.

    Opened without blocking (a FIFO does not wait for a writer) and checked on the open descriptor, so
    that what is read is the file that was checked, not another one swapped in under its name.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {path}") from None
    except OSError as error:
        raise ValueError(f"{path}: cannot be read: {error.strerror}") from None
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode) or status.st_size > max_bytes:
        os.close(descriptor)
        if stat.S_ISREG(status.st_mode):
            raise ValueError(
                f"{path}: the file has {status.st_size:,} bytes, more than max_bytes={max_bytes:,}"
            )
        raise ValueError(f"{path}: not a cbreservoir file (not a regular file)")
    with os.fdopen(descriptor, "rb", buffering=0) as stream:
        yield stream, status.st_size


def _read_exactly(stream: Any, count: int, path: Path) -> bytes:
    data = stream.read(count)
    if len(data) != count:
        raise ValueError(f"{path}: the file was truncated while it was read")
    return data


def _read_into(stream: Any, array: np.ndarray, path: Path) -> None:
    view, done = memoryview(array.reshape(-1).view(np.uint8)), 0
    while done < len(view):
        count = stream.readinto(view[done:])
        if not count:
            raise ValueError(f"{path}: the file was truncated while it was read")
        done += count


def _safetensors_table(
    table_bytes: bytes, data_bytes: int, budget: _Budget
) -> tuple[dict[str, str], dict[str, tuple[np.dtype, list[int], int]]]:
    """The metadata and ``{key: (dtype, shape, offset)}`` of a safetensors table, every offset checked.

    The tensors must fill the ``data_bytes`` after the table exactly, without gaps or overlaps.
    """
    table = _parse_json(table_bytes, "the safetensors header", budget, max_depth=3)
    if not isinstance(table, dict):
        raise ValueError("the safetensors header is not a JSON object")
    metadata = table.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(value, str) for value in metadata.values()):
        raise ValueError("the safetensors metadata must map names to strings")
    tensors: dict[str, tuple[np.dtype, list[int], int]] = {}
    for key, entry in table.items():
        if not (isinstance(entry, dict) and sorted(entry) == ["data_offsets", "dtype", "shape"]):
            raise ValueError(f"tensor {key!r:.80}: expected dtype, shape and data_offsets")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _TENSOR_DTYPES:
            raise ValueError(f"tensor {key!r:.80}: unsupported dtype {dtype!r:.40}")
        if not (type(shape) is list and all(type(size) is int and size >= 0 for size in shape)):
            raise ValueError(f"tensor {key!r:.80}: its shape must be non-negative integers")
        if not (type(offsets) is list and len(offsets) == 2 and all(type(value) is int for value in offsets)):
            raise ValueError(f"tensor {key!r:.80}: its data_offsets must be two integers")
        if offsets[1] - offsets[0] != math.prod(shape) * _TENSOR_DTYPES[dtype].itemsize:
            raise ValueError(f"tensor {key!r:.80}: its offsets {offsets} do not hold its shape {shape}")
        tensors[key] = (_TENSOR_DTYPES[dtype], shape, offsets[0])
    end = 0
    for key, (dtype, shape, begin) in sorted(tensors.items(), key=lambda item: item[1][2]):
        if begin != end:
            raise ValueError(
                f"the tensors' bytes are not contiguous ({key!r:.80} starts at {begin}, not {end})"
            )
        end = begin + math.prod(shape) * dtype.itemsize
    if end != data_bytes:
        raise ValueError(f"the tensors hold {end:,} bytes, the file {data_bytes:,} after its header")
    return metadata, tensors


def _check_metadata(metadata: dict[str, str]) -> None:
    if metadata.get("format") != FORMAT_NAME:
        raise ValueError(f"not a cbreservoir file (its metadata format is not {FORMAT_NAME!r})")
    version = metadata.get("format_version")
    if version not in {str(known) for known in READ_VERSIONS}:
        raise ValueError(
            f"unsupported cbreservoir file format version {version!r:.40} (written by cbreservoir "
            f"{metadata.get('package_version')!r:.40}); cbreservoir {package_version()} reads versions "
            f"{', '.join(map(str, READ_VERSIONS))}"
        )
    expected = {*_METADATA_FIELDS, HEADER_KEY}
    if set(metadata) != expected:
        raise ValueError(
            f"corrupted file: the metadata must hold exactly {sorted(expected)}; it lacks "
            f"{sorted(expected - set(metadata))} and has {sorted(set(metadata) - expected)[:5]!r:.120}"
        )
    for key, longest in _METADATA_FIELDS.items():
        if len(metadata[key]) > longest:
            raise ValueError(f"corrupted file: the metadata field {key} is longer than {longest} characters")
    if len(metadata[HEADER_KEY]) > MAX_HEADER_BYTES:
        raise ValueError(
            f"the header has {len(metadata[HEADER_KEY]):,} characters, more than {MAX_HEADER_BYTES:,}"
        )


def _checked_header(text: str, tensors: dict, budget: _Budget) -> dict[str, Any]:
    try:
        document = _parse_json(text, "the header", budget, max_depth=MAX_HEADER_DEPTH)
    except ValueError as error:
        raise ValueError(f"corrupted file: {error}") from error
    _check_header(document)
    _check_table(tensors, document["arrays"])
    return document


def _check_header(document: Any) -> None:
    if not isinstance(document, dict) or sorted(document) != _HEADER_FIELDS:
        raise ValueError(
            "corrupted file: the header must hold exactly object_type, class, arrays and payload"
        )
    if not isinstance(document["class"], str) or not isinstance(document["object_type"], str):
        raise ValueError("corrupted file: the header's class and object_type must be strings")


def _parse_json(text: str | bytes, what: str, budget: _Budget, *, max_depth: int) -> Any:
    """Parse ``text`` strictly (no NaN, no duplicate keys) after checking its depth and charging its size."""
    budget.spend(_CHAR_BYTES * len(text), f"parsing {what} ({len(text):,} characters)")
    depth, values = _json_shape(text)
    if depth > max_depth:
        raise ValueError(f"{what} nests {depth} levels deep, more than {max_depth}")
    budget.spend(_VALUE_BYTES * values, f"parsing {what} ({values:,} values)")
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as error:  # json.JSONDecodeError, duplicates, NaN, long integers
        raise ValueError(f"{what} is not valid JSON: {error}") from error


def _check_table(tensors: dict[str, tuple[np.dtype, list[int], int]], table: Any) -> None:
    """The declared arrays ``{key: [dtype, shape, fortran]}`` are exactly the stored tensors, as stored."""
    if not isinstance(table, dict):
        raise ValueError("corrupted file: the header's arrays must be a table")
    if set(tensors) != set(table):
        raise ValueError(
            f"corrupted file: the header declares arrays {sorted(set(table) - set(tensors))[:10]} the file "
            f"lacks, and the file holds arrays {sorted(set(tensors) - set(table))[:10]} the header does not "
            "declare"
        )
    for key, entry in table.items():
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[2], bool)):
            raise ValueError(
                f"corrupted file: array {key!r}: expected [dtype, shape, fortran], got {entry!r:.80}"
            )
        dtype, shape = entry[0], entry[1]
        if not (isinstance(shape, list) and all(type(size) is int and size >= 0 for size in shape)):
            raise ValueError(
                f"corrupted file: array {key!r}: its shape must be non-negative integers, got {shape!r:.80}"
            )
        _, kept, extra = array_layout(dtype)
        stored_dtype, stored_shape, _ = tensors[key]
        expected = (ARRAY_DTYPES[kept], [*shape, extra] if extra else shape or [1])  # 0-d: stored as [1]
        if (ARRAY_DTYPES[stored_dtype.str], stored_shape) != expected:
            raise ValueError(
                f"corrupted file: array {key!r} is declared {dtype} of shape {shape} (stored as "
                f"{expected[0]} {expected[1]}), but the file stores {ARRAY_DTYPES[stored_dtype.str]} of "
                f"shape {stored_shape}"
            )


def _json_shape(text: str | bytes) -> tuple[int, int]:
    """How deeply the JSON text nests, and how many values it holds (at most); linear time, no recursion.

    Escaped backslashes and then escaped quotes are removed (each a single left-to-right pass, as JSON
    reads them); the quotes left delimit strings, and the brackets and separators outside them are the
    structure. Works on chunks of NumPy codes, so that it needs little memory beyond one copy of the text.
    """
    raw = text.encode("utf-8", "replace") if isinstance(text, str) else text
    codes = np.frombuffer(raw.replace(b"\\\\", b"").replace(b'\\"', b""), dtype=np.uint8)
    depth = peak = inside = 0
    values = 1
    for begin in range(0, len(codes), _CHUNK):
        chunk = codes[begin : begin + _CHUNK]
        quotes = chunk == ord('"')
        parity = (inside + np.cumsum(quotes, dtype=np.int64)) & 1  # 1 inside a string (after its quote)
        inside = int(parity[-1])
        structure = chunk[(parity == 0) & ~quotes]
        opens = (structure == ord("[")) | (structure == ord("{"))
        closes = (structure == ord("]")) | (structure == ord("}"))
        values += int(opens.sum()) + int(np.isin(structure, (ord(","), ord(":"))).sum())
        if len(structure):
            levels = depth + np.cumsum(opens.astype(np.int64) - closes)
            peak, depth = max(peak, int(levels.max())), int(levels[-1])
    return peak, values


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        raise ValueError(f"duplicate keys {duplicates[:5]}")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in the header")


# ----------------------------------------------------------------------------------------- the codec


def _torch() -> Any:
    """torch, if something already imported it (a value without tensors never needs it)."""
    return sys.modules.get("torch")


def class_path(cls: type) -> str:
    """``module:qualname`` of ``cls``: its key in a header and in the tables of :mod:`cbreservoir.io`."""
    return f"{cls.__module__}:{cls.__qualname__}"


def torch_dtype_name(dtype: Any) -> str:
    """A torch dtype's name without the ``torch.`` prefix (a key of :func:`torch_dtypes`)."""
    return str(dtype).removeprefix("torch.")


def tensor_values(tensor: Any, where: str) -> np.ndarray:
    """A CPU numpy copy of ``tensor``'s values (dtypes numpy lacks, like bfloat16, are refused)."""
    try:
        return tensor.detach().cpu().numpy()
    except TypeError as error:
        raise TypeError(f"cannot save {where}: {error}") from error


class DataEncoder:
    """Turn data into a payload (a JSON tree), collecting its arrays.

    Data are JSON values, non-finite floats, lists, tuples, dicts (any keys of these types, in order, and
    ``OrderedDict``), NumPy arrays and scalars, and torch tensors and parameters. :mod:`cbreservoir.io`'s
    encoder extends :meth:`_encode_other` with the objects of its tables. An array or tensor met twice is
    stored once; later occurrences are ``ref`` entries.

    Attributes
    ----------
    arrays : dict of str to numpy.ndarray
        The arrays to store, C-contiguous, each in its stored layout (see :func:`array_layout`).
    table : dict of str to list
        For each stored array, ``[dtype, shape, fortran]`` of the array it stands for.
    """

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.table: dict[str, list] = {}
        self._ids: dict[int, int] = {}
        self._alive: list[Any] = []  # keeps encoded objects alive so that their ids stay unique
        self._depth = 0

    def add_array(self, array: np.ndarray, where: str) -> str:
        """Store ``array``; its key."""
        try:
            dtype, stored, extra = array_layout(array.dtype.str)
        except ValueError as error:
            raise TypeError(f"cannot save {where}: {error}") from error
        fortran = array.ndim > 1 and array.flags.f_contiguous and not array.flags.c_contiguous
        values = np.ascontiguousarray(array)
        if extra:
            values = values.reshape(-1).view(stored).reshape(*array.shape, extra)
        elif array.ndim == 0:
            values = values.reshape(1)  # safetensors' numpy writer stores 0-d arrays with shape [1]
        key = f"a{len(self.arrays)}"
        self.arrays[key] = values
        self.table[key] = [dtype.str, list(array.shape), fortran]
        return key

    def encode(self, value: Any, where: str) -> Any:
        """The payload entry of ``value``; ``where`` names it in errors (e.g. ``obj.trainer``).

        Raises
        ------
        TypeError
            Naming where a value the format cannot hold sits, and its type.
        """
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                raise TypeError(f"cannot save {where}: nested more than {MAX_NESTING} levels deep")
            return self._encode(value, where)
        finally:
            self._depth -= 1

    def _encode(self, value: Any, where: str) -> Any:
        if value is None or type(value) in (bool, int, str):
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"__type__": "float", "value": repr(value)}
        if type(value) is np.ndarray:
            return self._memoized(value, where, self._encode_ndarray)
        if isinstance(value, np.generic):
            return {"__type__": "npscalar", "key": self.add_array(np.asarray(value), where)}
        if type(value) in (list, tuple):
            return self._encode_sequence(value, where)
        if type(value) in (dict, OrderedDict):
            return self._encode_dict(value, where)
        torch = _torch()
        if torch is not None and type(value) in (torch.Tensor, torch.nn.Parameter):
            return self._memoized(value, where, self._encode_tensor)
        return self._encode_other(value, where)

    def _encode_other(self, value: Any, where: str) -> Any:
        """A value none of the data types above: refused here (extended by :mod:`cbreservoir.io`)."""
        raise TypeError(
            f"cannot save {where}: objects of type {type(value).__module__}.{type(value).__qualname__} are "
            "not among the types a cbreservoir file can hold (see docs/save-load.md)"
        )

    def _encode_sequence(self, value: Any, where: str) -> Any:
        """A list as a JSON list; a tuple, set or frozenset as its type's entry; a named tuple by class."""
        items = [self.encode(item, f"{where}[{index}]") for index, item in enumerate(value)]
        if type(value) is list:
            return items
        if type(value) in (tuple, set, frozenset):
            return {"__type__": type(value).__name__, "items": items}
        return {"__type__": "namedtuple", "class": class_path(type(value)), "items": items}

    def _encode_dict(self, value: dict, where: str) -> dict[str, Any]:
        pairs = [
            [self.encode(key, f"{where}.keys()"), self.encode(item, f"{where}[{key!r}]")]
            for key, item in value.items()
        ]
        return {"__type__": "dict", "ordered": type(value) is OrderedDict, "pairs": pairs}

    def _encode_ndarray(self, value: np.ndarray, where: str) -> dict[str, Any]:
        return {"__type__": "ndarray", "key": self.add_array(value, where)}

    def _encode_tensor(self, tensor: Any, where: str) -> dict[str, Any]:
        entry = {
            "__type__": "tensor",
            "parameter": isinstance(tensor, _torch().nn.Parameter),
            "requires_grad": tensor.requires_grad,
        }
        if tensor.is_meta:  # no values: keep shape and dtype
            return {
                **entry,
                "meta": True,
                "shape": list(tensor.shape),
                "dtype": torch_dtype_name(tensor.dtype),
            }
        return {**entry, "key": self.add_array(tensor_values(tensor, where), where)}

    def _memoized(self, value: Any, where: str, encode: Callable[[Any, str], dict]) -> dict[str, Any]:
        """Encode an object once; later occurrences (shared nodes, graph edges) become references."""
        if id(value) in self._ids:
            return {"__type__": "ref", "id": self._ids[id(value)]}
        self._ids[id(value)] = len(self._ids)
        self._alive.append(value)
        return {"id": self._ids[id(value)], **encode(value, where)}


def get_field(node: dict, name: str, *kinds: type | None) -> Any:
    """``node[name]``, checked to be exactly one of the JSON types ``kinds`` (``None`` for null).

    Raises
    ------
    ValueError
        The field is missing or of another type.
    """
    if name not in node:
        raise ValueError(f"a {node.get('__type__')!r} entry has no {name!r} field")
    value = node[name]
    if not any(value is None if kind is None else type(value) is kind for kind in kinds):
        names = ["null" if kind is None else kind.__name__ for kind in kinds]
        raise ValueError(
            f"the {name!r} field of a {node.get('__type__')!r} entry must be {' or '.join(names)}, "
            f"got {value!r:.80}"
        )
    return value


def get_shape(value: Any, what: str) -> tuple[int, ...]:
    """``value`` as a shape: a list of non-negative ints (``ValueError`` otherwise)."""
    if type(value) is not list or not all(type(size) is int and size >= 0 for size in value):
        raise ValueError(f"{what} must be a list of non-negative integers, got {value!r:.80}")
    return tuple(value)


class DataDecoder:
    """Rebuild data from the payload written by :class:`DataEncoder`, every entry checked first.

    Parameters
    ----------
    contents : Contents
        The document read by :func:`read_binary`: its arrays (each built once; sharing goes through
        ``ref`` entries), their declared dtypes and shapes, and the loading budget, charged for sizes no
        stored bytes back (meta tensors) before anything is allocated.
    """

    def __init__(self, contents: Contents) -> None:
        self._contents = contents
        self._declared = contents.declared
        self._spend = contents.spend
        self._objects: dict[int, Any] = {}
        self._used: set[str] = set()
        self._decoders: dict[str, Callable[[dict], Any]] = {
            "float": self._decode_float,
            "ndarray": self._decode_ndarray,
            "npscalar": self._decode_npscalar,
            "tuple": self._decode_tuple,
            "dict": self._decode_dict,
            "tensor": self._decode_tensor,
            "torch_dtype": self._decode_torch_dtype,
            "ref": self._decode_ref,
        }

    def decode(self, node: Any) -> Any:
        """The value a payload entry stands for (``ValueError`` naming what is wrong)."""
        if node is None or type(node) in (bool, int, float, str):
            return node
        if type(node) is list:
            return [self.decode(item) for item in node]
        if type(node) is not dict:
            raise ValueError(f"unexpected payload entry {node!r:.80}")
        kind = get_field(node, "__type__", str)
        if kind not in self._decoders:
            raise ValueError(f"unknown entry type {kind!r} in the payload (known: {sorted(self._decoders)})")
        return self._decoders[kind](node)

    def _register(self, node: dict, value: Any) -> None:
        """Remember an object under its ``id``: later ``ref`` entries resolve to this very object."""
        identifier = get_field(node, "id", int)
        if identifier in self._objects:
            raise ValueError(f"the id {identifier} is used by two payload entries")
        self._objects[identifier] = value

    def _stored(self, node: dict, field: str = "key") -> np.ndarray:
        """The stored array named by ``node[field]``; each is built once (sharing goes through ``ref``)."""
        key = get_field(node, field, str)
        if key not in self._declared:
            raise ValueError(f"the payload refers to the array {key!r}, which the file does not hold")
        if key in self._used:
            raise ValueError(f"the payload refers to the array {key!r} twice (a shared array is a 'ref')")
        self._used.add(key)
        return self._contents.array(key)

    def _decode_float(self, node: dict) -> float:
        value = get_field(node, "value", str)
        if value not in ("nan", "inf", "-inf"):
            raise ValueError(f"a 'float' entry holds 'nan', 'inf' or '-inf', got {value!r:.80}")
        return float(value)

    def _decode_ndarray(self, node: dict) -> np.ndarray:
        array = self._stored(node)
        self._register(node, array)
        return array

    def _decode_npscalar(self, node: dict) -> np.generic:
        array = self._stored(node)
        if array.ndim != 0:
            raise ValueError(f"a NumPy scalar must be stored as a 0-d array, got shape {array.shape}")
        return array[()]

    def _items(self, node: dict) -> list:
        return [self.decode(item) for item in get_field(node, "items", list)]

    def _decode_tuple(self, node: dict) -> tuple:
        return tuple(self._items(node))

    def _pairs(self, node: dict) -> list[tuple[Any, Any]]:
        """The decoded ``(key, value)`` pairs of a ``dict`` entry."""
        pairs = get_field(node, "pairs", list)
        if not all(type(pair) is list and len(pair) == 2 for pair in pairs):
            raise ValueError("the 'pairs' of a 'dict' entry must be [key, value] lists")
        return [(self.decode(key), self.decode(value)) for key, value in pairs]

    def _decode_dict(self, node: dict) -> dict:
        items = self._pairs(node)
        return OrderedDict(items) if get_field(node, "ordered", bool) else dict(items)

    def _decode_tensor(self, node: dict) -> Any:
        import torch

        if "meta" in node and get_field(node, "meta", bool):
            shape = get_shape(get_field(node, "shape", list), "a tensor shape")
            dtype = self._decode_torch_dtype({"__type__": "tensor", "name": get_field(node, "dtype", str)})
            self._spend(math.prod(shape) * dtype.itemsize, f"a meta tensor of shape {list(shape)}")
            tensor = torch.empty(shape, dtype=dtype, device="meta")
        else:
            tensor = torch.from_numpy(self._stored(node))
        requires_grad = get_field(node, "requires_grad", bool)
        if get_field(node, "parameter", bool):
            tensor = torch.nn.Parameter(tensor, requires_grad=requires_grad)
        else:
            tensor.requires_grad_(requires_grad)
        self._register(node, tensor)
        return tensor

    def _decode_torch_dtype(self, node: dict) -> Any:
        name = get_field(node, "name", str)
        if name not in torch_dtypes():
            raise ValueError(f"unknown torch dtype {name!r:.80} (known: {sorted(torch_dtypes())})")
        return torch_dtypes()[name]

    def _decode_ref(self, node: dict) -> Any:
        identifier = get_field(node, "id", int)
        if identifier not in self._objects:
            raise ValueError(f"a 'ref' entry refers to id {identifier}, which no earlier entry has")
        return self._objects[identifier]


# ------------------------------------------------------------------------------------- data documents


def write_data(path: PathLike, object_type: str, value: Any) -> Path:
    """Write ``value`` (data: see :class:`DataEncoder`) as a binary document of ``object_type``, atomically.

    Raises
    ------
    TypeError
        ``value`` holds something that is not data (the message names where).
    """
    encoder = DataEncoder()
    payload = encoder.encode(value, object_type)
    document = header(object_type, class_path(type(value)), encoder.table, payload)
    return write_binary(path, document, encoder.arrays)


def read_data(path: PathLike, object_type: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """The data of a binary document of ``object_type`` written by :func:`write_data`, migrated to the
    current version (:func:`migrate`).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file is not such a document, is damaged, or its payload is malformed or decodes to another
        class than its header declares (the message says which).
    """
    contents = read_binary(path, max_bytes)
    declared = contents.header["object_type"], contents.header["class"]
    if declared[0] != object_type:
        raise ValueError(f"{path}: holds a {declared[0]!r:.40}, not a {object_type!r}")
    try:
        value = DataDecoder(contents).decode(contents.header["payload"])
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    except Exception as error:  # numpy/torch refusing a malformed value
        raise ValueError(f"{path}: malformed payload: {error!r}") from error
    if class_path(type(value)) != declared[1]:
        raise ValueError(
            f"{path}: the header declares a {declared[1]!r:.80}, but the payload holds a "
            f"{class_path(type(value))}"
        )
    return migrate(object_type, contents.version, value)

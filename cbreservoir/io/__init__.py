"""Save and load cbreservoir objects in a versioned file format that runs no code when read.

A file is a safetensors file (https://huggingface.co/docs/safetensors): every array of the object is a
tensor of its own, and the safetensors metadata holds five strings::

    format="cbreservoir"  format_version="3"  package_version="0.1.0"  sha256="…"
    __header__='{"object_type": "torch_model", "class": "cbreservoir.models.leaky:CBRNN",
                 "arrays": {"a0": ["<f4", [64, 1], false], …}, "payload": {…}}'

``payload`` describes the object as a tree of JSON values whose arrays are references to the stored
tensors. Loading builds only the types of fixed tables (cbreservoir's models, nodes, trainers, ensembles
and estimators, reservoirpy's ``Model`` and nodes, the torch modules and optimisers they hold, NumPy,
SciPy sparse and torch values, and the activation functions by a fixed name table); a name read from a
file never selects code outside those tables. Each object is rebuilt through its constructor or from the
fields its class declares (never by copying attributes from the file: a file cannot name a method), each
field checked, then the object's invariants (:mod:`cbreservoir.io._declared`). What the tables cannot
describe is refused by :func:`save`, with a ``TypeError`` naming where it sits.

Before anything is built, :func:`load` checks the file against its own size and ``max_bytes``, the
header's nesting depth, the declared dtype and shape of every array against the stored bytes, and a
SHA-256 over the metadata and every stored byte; any failure is a :class:`ValueError` that names the
reason. The round trip is exact: arrays and tensors keep their dtype and every bit.

Examples
--------
>>> import cbreservoir
>>> from cbreservoir.models import build_model
>>> model = build_model("cbrnn", input_dim=1, seed=0)  # doctest: +SKIP
>>> cbreservoir.save(model, "cbrnn.cbr")  # doctest: +SKIP
>>> same = cbreservoir.load("cbrnn.cbr")  # doctest: +SKIP
>>> cbreservoir.io.read_header("cbrnn.cbr")["object_type"]  # doctest: +SKIP
'torch_model'
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from cbreservoir.io._codec import MAX_NESTING, Decoder, Encoder, is_config_model
from cbreservoir.io._registry import ARRAY_DTYPES, array_layout, class_path
from cbreservoir.utils.checks import check_int
from cbreservoir.utils.files import atomic_write_bytes, check_destination

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "HEADER_KEY",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_DEPTH",
    "load",
    "read_header",
    "save",
]

#: Value of the ``format`` metadata field.
FORMAT_NAME = "cbreservoir"
#: Version of the file format written by :func:`save`. Version 3: the models' mossy-fibre layers read
#: ``[x_t ; h_{t−1}]`` (:data:`cbreservoir.numerics.network.MOSSY_ORDER`) and RecurrentAuxRNN's module is
#: ``auxiliary``.
FORMAT_VERSION = 3
#: The versions :func:`load` reads: version 2 files (models reading ``[h ; x]``, RecurrentAuxRNN keys
#: ``cerebellum.*``, model configs with ``hidden_size``/``input_size``) are converted as they load.
READ_VERSIONS = (2, 3)
#: Name of the metadata field holding the JSON header.
HEADER_KEY = "__header__"
#: Default of ``max_bytes``: the largest file, and the most bytes its declared sizes may add up to.
DEFAULT_MAX_BYTES = 4 * 1024**3
#: Deepest nesting of the JSON header: what :data:`MAX_NESTING` levels of objects can produce.
MAX_HEADER_DEPTH = 3 * MAX_NESTING + 4
#: Longest JSON header (its parsed form takes about ten times as many bytes).
MAX_HEADER_BYTES = 64 * 1024**2

PathLike = str | os.PathLike

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_CHUNK = 1 << 20


# ----------------------------------------------------------------------------------------------- public API


def save(obj: Any, path: PathLike) -> Path:
    """Save ``obj`` to ``path`` in the cbreservoir format.

    Parameters
    ----------
    obj : object
        A torch model built by :func:`cbreservoir.models.build_model`, a node or graph (cbreservoir's or
        reservoirpy's), a compiled graph, a trainer, an ensemble, an estimator, or arrays, tensors,
        numbers, strings, containers and random generators (see docs/save-load.md for the full list).
    path : str or path-like
        Destination file; written as given (no suffix is appended). The file is written to a unique
        temporary name first and moved into place, so a crash never leaves half a file. An existing
        ``path`` must be a regular file (a device, FIFO or directory is never replaced), in an existing
        directory; this is checked before anything else.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        If ``obj`` holds something a cbreservoir file cannot describe; the message names where it sits in
        ``obj`` (e.g. ``obj.nodes[0].activation``) and its type. Nothing is written then.
    ValueError
        If ``path`` exists and is not a regular file or its directory does not exist, or if the JSON
        description of ``obj`` (everything but its arrays) exceeds :data:`MAX_HEADER_BYTES`.
    """
    import safetensors.numpy

    try:
        path = check_destination(path, "the destination")
    except ValueError as error:
        raise ValueError(f"cannot save obj: {error}") from None
    encoder = Encoder()
    payload = encoder.encode(obj, "obj")
    header = {
        "object_type": _object_type(obj),
        "class": class_path(type(obj)),
        "arrays": encoder.table,
        "payload": payload,
    }
    text = json.dumps(header, allow_nan=False, separators=(",", ":"))
    if len(text) > MAX_HEADER_BYTES:
        raise ValueError(
            f"cannot save obj: its description takes {len(text):,} bytes of JSON, more than "
            f"{MAX_HEADER_BYTES:,}; hold long lists of numbers in arrays"
        )
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "package_version": _package_version(),
        HEADER_KEY: text,
    }
    unsigned = safetensors.numpy.save(encoder.arrays)  # the stored bytes do not depend on the metadata
    data = memoryview(unsigned)[8 + int.from_bytes(unsigned[:8], "little") :]
    metadata["sha256"] = _digest(metadata, [data])
    atomic_write_bytes(path, safetensors.numpy.save(encoder.arrays, metadata=metadata))
    return path


def load(path: PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Load an object written by :func:`save`.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    max_bytes : int, default DEFAULT_MAX_BYTES (4 GiB)
        The largest file accepted, and the most bytes the file's declared sizes may add up to (its
        arrays, plus the sizes of meta tensors and meta models and the index arrays of sparse shapes,
        which no stored bytes back). A file beyond it is refused before anything is read.

    Returns
    -------
    object
        An object equal to the one saved: same class, same arrays bit for bit, same states, so that its
        outputs equal the saved object's. Tensors are loaded on the CPU.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    TypeError, ValueError
        If ``max_bytes`` is not a positive integer.
    ValueError
        If the file is not a cbreservoir file of a version this cbreservoir reads, is truncated or
        corrupted (the checksum does not match), declares more than ``max_bytes`` or more than its bytes
        hold, or describes something other than what the format can hold: a field a class does not
        declare, a value its check refuses, an object whose invariants do not hold. The message says
        which.
    """
    _check_max_bytes(max_bytes)
    contents = _contents(path, max_bytes)
    header = contents.header
    try:
        version = int(contents.metadata["format_version"])
        decoder = Decoder(contents.array, contents.declared, contents.budget.spend, format_version=version)
        obj = decoder.decode(header["payload"])
        decoder.finish()
        kind = (class_path(type(obj)), _object_type(obj))
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    except Exception as error:  # a registered class or numpy/torch/scipy refusing a malformed value
        raise ValueError(f"{path}: malformed payload: {error!r}") from error
    if kind != (header["class"], header["object_type"]):
        raise ValueError(
            f"{path}: the header declares a {header['class']} ({header['object_type']}), but the payload "
            f"holds a {kind[0]} ({kind[1]})"
        )
    return obj


def read_header(path: PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """The header of a file written by :func:`save`, checked as by :func:`load`; builds nothing.

    Parameters
    ----------
    path : str or path-like
    max_bytes : int, default DEFAULT_MAX_BYTES
        As for :func:`load`.

    Returns
    -------
    dict
        ``format``, ``format_version`` (an int), ``package_version``, ``sha256``, ``object_type``
        (``"torch_model"``, ``"node"``, ``"graph"``, ``"estimator"`` or ``"object"``), ``class``
        (``module:qualname``), ``arrays`` (``{key: [dtype, shape, fortran]}``) and ``payload``.

    Raises
    ------
    FileNotFoundError, TypeError, ValueError
        As :func:`load`, for a file that is not a readable cbreservoir file of a known version.
    """
    _check_max_bytes(max_bytes)
    contents = _contents(path, max_bytes)
    metadata = contents.metadata
    return {
        "format": metadata["format"],
        "format_version": int(metadata["format_version"]),
        "package_version": metadata["package_version"],
        "sha256": metadata["sha256"],
        **contents.header,
    }


# ------------------------------------------------------------------------------------------- file access

#: Bytes charged per JSON value before a header is parsed: the parsed value and the decoded object that
#: stands for it (an empty list parses to 64 bytes and decodes to 64 more; a one-key dict takes 184).
_VALUE_BYTES = 256
#: Bytes charged per character of JSON text before it is parsed (the decoded text and its strings).
_CHAR_BYTES = 4
#: Bytes any file may allocate beyond ``max_bytes`` (so that small limits still parse small headers).
_ALLOWANCE = 1024**2
#: Safetensors dtype names and the NumPy dtypes of their elements.
_TENSOR_DTYPES = {name: np.dtype(dtype) for dtype, name in ARRAY_DTYPES.items()}
#: The metadata fields of a cbreservoir file, and the longest each may be (the header is bounded apart).
_METADATA_FIELDS = {"format": 64, "format_version": 64, "package_version": 64, "sha256": 64}


def _check_max_bytes(max_bytes: Any) -> None:
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


class _Contents:
    """A file read once and checked: its metadata, header, stored arrays and the loading budget."""

    def __init__(
        self, metadata: dict[str, str], header: dict[str, Any], stored: dict[str, np.ndarray], budget: _Budget
    ) -> None:
        self.metadata = metadata
        self.header = header
        self.stored = stored
        self.budget = budget
        self.declared = {key: (entry[0], tuple(entry[1])) for key, entry in header["arrays"].items()}

    def array(self, key: str) -> np.ndarray:
        """The array ``key`` as saved: the bytes that were hashed, in the saved dtype, shape and order."""
        dtype, shape, fortran = self.header["arrays"][key]
        numpy_dtype, _, extra = array_layout(dtype)
        values = self.stored[key]
        if extra:
            values = values.view(numpy_dtype)
        values = values.reshape(shape)
        if fortran and not values.flags.f_contiguous:
            self.budget.spend(values.nbytes, f"array {key!r} in Fortran order")
            values = np.asfortranarray(values)
        return values


def _contents(path: PathLike, max_bytes: int) -> _Contents:
    """Read the file at ``path`` once and check everything that needs no array, in order.

    Size and kind; the safetensors table (offsets, dtypes, shapes) and the metadata; every stored byte,
    read once into the arrays it will be decoded from and hashed there (a file changed meanwhile cannot
    hand over other bytes than those checked); the checksum; the header's length, depth and JSON; the
    array table against the stored tensors. Parsing JSON text is charged to the budget before it starts.
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
        digest = _metadata_digest(metadata)
        stored = {}
        for key, (dtype, shape, _) in sorted(tensors.items(), key=lambda item: item[1][2]):
            stored[key] = np.empty(shape, dtype=dtype)
            _read_into(stream, stored[key], path)
            digest.update(stored[key].data)
        if stream.read(1):
            raise ValueError(f"{path}: the file grew while it was read")
    try:
        if digest.hexdigest() != metadata["sha256"]:
            raise ValueError(
                "corrupted file: the sha256 checksum over its metadata and arrays does not match"
            )
        header = _checked_header(metadata[HEADER_KEY], tensors, budget)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    return _Contents(metadata, header, stored, budget)


def _version_1_refusal(path: Path) -> str:
    return (
        f"{path}: not a cbreservoir file this version reads: a zip (.npz) archive, as cbreservoir file "
        "format version 1 wrote. Version 1 files are no longer read, because their decoder could be made "
        f"to run code from the file; this cbreservoir ({_package_version()}) reads version "
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
            f"{metadata.get('package_version')!r:.40}); cbreservoir {_package_version()} reads versions "
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
        header = _parse_json(text, "the header", budget, max_depth=MAX_HEADER_DEPTH)
    except ValueError as error:
        raise ValueError(f"corrupted file: {error}") from error
    if not isinstance(header, dict) or sorted(header) != ["arrays", "class", "object_type", "payload"]:
        raise ValueError(
            "corrupted file: the header must hold exactly object_type, class, arrays and payload"
        )
    if not isinstance(header["class"], str) or not isinstance(header["object_type"], str):
        raise ValueError("corrupted file: the header's class and object_type must be strings")
    _check_table(tensors, header["arrays"])
    return header


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


def _metadata_digest(metadata: dict[str, str]) -> Any:
    """A SHA-256 over every metadata field but ``sha256`` (sorted by name); the stored bytes follow."""
    digest = hashlib.sha256()
    for key in sorted(metadata):
        if key != "sha256":
            digest.update(f"{key}\0{metadata[key]}\0".encode())
    return digest


def _digest(metadata: dict[str, str], chunks: Any) -> str:
    """SHA-256 over every metadata field but ``sha256`` (sorted by name) and then the stored bytes."""
    digest = _metadata_digest(metadata)
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def _package_version() -> str:
    from cbreservoir import __version__

    return __version__


def _object_type(obj: Any) -> str:
    """A short label for the header: what kind of object the file holds.

    reservoirpy is not imported for this (it is slow to import): an object cannot be an instance of a class
    whose module was never imported.
    """
    if is_config_model(obj):
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

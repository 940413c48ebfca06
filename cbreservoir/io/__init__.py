"""Save and load cbreservoir objects in a versioned file format that runs no code when read.

A file is a safetensors file (https://huggingface.co/docs/safetensors): every array of the object is a
tensor of its own, and the safetensors metadata holds five strings::

    format="cbreservoir"  format_version="2"  package_version="0.1.0"  sha256="…"
    __header__='{"object_type": "torch_model", "class": "cbreservoir.models.leaky:CBRNN",
                 "arrays": {"a0": ["<f4", [64, 1], false], …}, "payload": {…}}'

``payload`` describes the object as a tree of JSON values whose arrays are references to the stored
tensors. Loading builds only the types of fixed tables (cbreservoir's models, nodes, trainers, ensembles
and estimators, reservoirpy's ``Model`` and nodes, the torch modules and optimisers they hold, NumPy,
SciPy sparse and torch values, and the activation functions by a fixed name table); a name read from a
file never selects code outside those tables. What the tables cannot describe is refused by
:func:`save`, with a ``TypeError`` naming where it sits.

Before anything is built, :func:`load` checks the file against its own size and ``max_bytes``, the
header's nesting depth, the declared dtype and shape of every array against the stored bytes, and a
SHA-256 over the metadata and every stored byte; any failure is a :class:`ValueError` that names the
reason. The round trip is exact: arrays and tensors keep their dtype and every bit.

Examples
--------
>>> import cbreservoir
>>> from cbreservoir.models import build_model
>>> model = build_model("cbrnn", input_size=1, seed=0)  # doctest: +SKIP
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
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from cbreservoir.io._codec import MAX_NESTING, Decoder, Encoder, is_config_model
from cbreservoir.io._registry import ARRAY_DTYPES, array_layout, class_path
from cbreservoir.utils.files import atomic_write_bytes
from cbreservoir.utils.validation import check_int

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
#: Version of the file format written by :func:`save`; :func:`load` reads this version only.
FORMAT_VERSION = 2
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
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


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
        temporary name first and moved into place, so a crash never leaves half a file.

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
        If the JSON description of ``obj`` (everything but its arrays) exceeds :data:`MAX_HEADER_BYTES`.
    """
    import safetensors.numpy

    path = Path(path)
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
        hold, or describes something other than what the format can hold. The message says which.
    """
    _check_max_bytes(max_bytes)
    with _opened(path, max_bytes) as (archive, header, declared):
        stored = sum(math.prod(shape) * np.dtype(dtype).itemsize for dtype, shape in declared.values())

        def array(key: str) -> np.ndarray:
            return _array(archive, key, header["arrays"][key])

        try:
            obj = Decoder(array, declared, max_bytes - stored).decode(header["payload"])
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error
        except Exception as error:  # a registered class or numpy/torch/scipy refusing a malformed value
            raise ValueError(f"{path}: malformed payload: {error!r}") from error
    if (class_path(type(obj)), _object_type(obj)) != (header["class"], header["object_type"]):
        raise ValueError(
            f"{path}: the header declares a {header['class']} ({header['object_type']}), but the payload "
            f"holds a {class_path(type(obj))} ({_object_type(obj)})"
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
    with _opened(path, max_bytes) as (archive, header, _):
        metadata = archive.metadata()
    return {
        "format": metadata["format"],
        "format_version": int(metadata["format_version"]),
        "package_version": metadata["package_version"],
        "sha256": metadata["sha256"],
        **header,
    }


# ------------------------------------------------------------------------------------------- file access


def _check_max_bytes(max_bytes: Any) -> None:
    check_int(max_bytes, "max_bytes (a number of bytes)", minimum=1)


@contextlib.contextmanager
def _opened(path: PathLike, max_bytes: int) -> Iterator[tuple[Any, dict[str, Any], dict[str, tuple]]]:
    """Open and check the file at ``path``; yield the safetensors handle, the header and the array table.

    Every check that needs no array is done here, in order: size, kind, metadata, header depth and JSON,
    the array table against the stored tensors, the checksum over every stored byte.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if not path.is_file():
        raise ValueError(f"{path}: not a cbreservoir file (not a regular file)")
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"{path}: the file has {size:,} bytes, more than max_bytes={max_bytes:,}")
    with open(path, "rb") as stream:
        magic = stream.read(8)
    if magic[:4] in _ZIP_MAGIC:
        raise ValueError(
            f"{path}: not a cbreservoir file this version reads: a zip (.npz) archive, as cbreservoir file "
            "format version 1 wrote. Version 1 files are no longer read, because their decoder could be made "
            f"to run code from the file; this cbreservoir ({_package_version()}) reads version "
            f"{FORMAT_VERSION}. If you trust the file, load it with the cbreservoir that wrote it and save "
            "it again with this one."
        )
    try:
        archive = safe_open(str(path), framework="numpy")
    except Exception as error:  # safetensors refuses bad headers, offsets and sizes with SafetensorError
        raise ValueError(
            f"{path}: not a readable cbreservoir file (truncated or corrupted?): {error}"
        ) from error
    with archive:
        try:
            header, declared = _checked_contents(
                archive, path, 8 + int.from_bytes(magic, "little"), max_bytes
            )
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error
        yield archive, header, declared


def _checked_contents(
    archive: Any, path: Path, data_start: int, max_bytes: int
) -> tuple[dict[str, Any], dict[str, tuple]]:
    metadata = archive.metadata() or {}
    if metadata.get("format") != FORMAT_NAME:
        raise ValueError(f"not a cbreservoir file (its metadata format is not {FORMAT_NAME!r})")
    version = metadata.get("format_version")
    if version != str(FORMAT_VERSION):
        raise ValueError(
            f"unsupported cbreservoir file format version {version!r:.40} (written by cbreservoir "
            f"{metadata.get('package_version')!r:.40}); cbreservoir {_package_version()} reads version "
            f"{FORMAT_VERSION}"
        )
    missing = [key for key in ("package_version", HEADER_KEY, "sha256") if key not in metadata]
    if missing:
        raise ValueError(f"corrupted file: the metadata lacks {missing}")
    text = metadata[HEADER_KEY]
    if len(text) > MAX_HEADER_BYTES:
        raise ValueError(f"the header has {len(text):,} characters, more than {MAX_HEADER_BYTES:,}")
    depth = _json_depth(text)
    if depth > MAX_HEADER_DEPTH:
        raise ValueError(
            f"corrupted file: the header nests {depth} levels deep, more than {MAX_HEADER_DEPTH}"
        )
    try:
        header = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except ValueError as error:  # json.JSONDecodeError, duplicate keys, NaN, integers too long
        raise ValueError(f"corrupted file: the header is not valid JSON: {error}") from error
    if not isinstance(header, dict) or sorted(header) != ["arrays", "class", "object_type", "payload"]:
        raise ValueError(
            "corrupted file: the header must hold exactly object_type, class, arrays and payload"
        )
    if not isinstance(header["class"], str) or not isinstance(header["object_type"], str):
        raise ValueError("corrupted file: the header's class and object_type must be strings")
    declared = _checked_table(archive, header["arrays"], max_bytes)
    with open(path, "rb") as stream:
        stream.seek(data_start)
        digest = _digest(metadata, iter(lambda: stream.read(_CHUNK), b""))
    if digest != metadata["sha256"]:
        raise ValueError("corrupted file: the sha256 checksum over its metadata and arrays does not match")
    return header, declared


def _checked_table(archive: Any, table: Any, max_bytes: int) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``{key: (dtype, shape)}`` of the declared arrays, each checked against the stored tensor."""
    if not isinstance(table, dict):
        raise ValueError("corrupted file: the header's arrays must be a table")
    stored = set(archive.keys())
    if stored != set(table):
        raise ValueError(
            f"corrupted file: the header declares arrays {sorted(set(table) - stored)[:10]} the file lacks, "
            f"and the file holds arrays {sorted(stored - set(table))[:10]} the header does not declare"
        )
    declared: dict[str, tuple[str, tuple[int, ...]]] = {}
    total = 0
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
        numpy_dtype, kept, extra = array_layout(dtype)
        view = archive.get_slice(key)
        expected = (ARRAY_DTYPES[kept], [*shape, extra] if extra else shape or [1])  # 0-d: stored as [1]
        if (view.get_dtype(), view.get_shape()) != expected:
            raise ValueError(
                f"corrupted file: array {key!r} is declared {dtype} of shape {shape} (stored as "
                f"{expected[0]} {expected[1]}), but the file stores {view.get_dtype()} of shape "
                f"{view.get_shape()}"
            )
        total += math.prod(shape) * numpy_dtype.itemsize
        declared[key] = (dtype, tuple(shape))
    if total > max_bytes:
        raise ValueError(f"the arrays declare {total:,} bytes, more than max_bytes={max_bytes:,}")
    return declared


def _array(archive: Any, key: str, entry: list) -> np.ndarray:
    """The array ``key`` as saved: its dtype (viewing the stored layout), shape and memory order."""
    dtype, stored, extra = array_layout(entry[0])
    values = archive.get_tensor(key).reshape(-1)  # a fresh buffer of its own: copied only if F-ordered
    if extra:
        values = values.view(dtype)
    return np.require(values.reshape(entry[1]), requirements=["A", "W", "F" if entry[2] else "C"])


def _json_depth(text: str) -> int:
    """How deeply the JSON document ``text`` nests (brackets inside strings do not count); no recursion."""
    codes = np.frombuffer(_JSON_STRING.sub("", text).encode("utf-8", "replace"), dtype=np.uint8)
    depth = peak = 0
    for start in range(0, len(codes), _CHUNK):
        chunk = codes[start : start + _CHUNK]
        steps = np.isin(chunk, (ord("["), ord("{"))).astype(np.int64) - np.isin(chunk, (ord("]"), ord("}")))
        levels = depth + np.cumsum(steps)
        peak, depth = max(peak, int(levels.max())), int(levels[-1])
    return peak


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        raise ValueError(f"duplicate keys {duplicates[:5]}")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in the header")


def _digest(metadata: dict[str, str], chunks: Any) -> str:
    """SHA-256 over every metadata field but ``sha256`` (sorted by name) and then the stored bytes."""
    digest = hashlib.sha256()
    for key in sorted(metadata):
        if key != "sha256":
            digest.update(f"{key}\0{metadata[key]}\0".encode())
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

"""Save and load cbreservoir objects in a versioned file format that runs no code when read.

A file is a document of the one cbreservoir format (:mod:`cbreservoir.utils.fileformat`, which curriculum
checkpoints and run records share) in its binary layout, a safetensors file
(https://huggingface.co/docs/safetensors): every array of the object is a tensor of its own, and the
safetensors metadata holds five strings::

    format="cbreservoir"  format_version="5"  package_version="0.1.0"  sha256="…"
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

import os
import sys
from pathlib import Path
from typing import Any

from cbreservoir.io._codec import Decoder, Encoder, is_config_model
from cbreservoir.io._migrations import OBJECT_TYPES
from cbreservoir.io._registry import current_class_path
from cbreservoir.utils.fileformat import (
    DEFAULT_MAX_BYTES,
    FILE_SUFFIX,
    FORMAT_NAME,
    FORMAT_VERSION,
    HEADER_KEY,
    MAX_HEADER_BYTES,
    MAX_HEADER_DEPTH,
    check_max_bytes,
    class_path,
    header,
    migrate,
    read_binary,
    write_binary,
)
from cbreservoir.utils.files import check_destination

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FILE_SUFFIX",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "HEADER_KEY",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_DEPTH",
    "load",
    "read_header",
    "save",
]

PathLike = str | os.PathLike
#: Documents of the format that :func:`load` does not rebuild, and their readers.
_READERS = {"checkpoint": "cbreservoir.training.curriculum.load_checkpoint"}


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
        Destination file; written as given (no suffix is appended; :data:`FILE_SUFFIX`, ``.cbr``, is the
        conventional one, required by ``cbreservoir train --save``). The file is written to a unique
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
    try:
        path = check_destination(path, "the destination")
    except ValueError as error:
        raise ValueError(f"cannot save obj: {error}") from None
    encoder = Encoder()
    payload = encoder.encode(obj, "obj")
    document = header(_object_type(obj), class_path(type(obj)), encoder.table, payload)
    try:
        return write_binary(path, document, encoder.arrays)
    except ValueError as error:
        raise ValueError(f"cannot save obj: {error}") from None


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
    check_max_bytes(max_bytes)
    contents = read_binary(path, max_bytes)
    document = contents.header
    if document["object_type"] in _READERS:
        raise ValueError(
            f"{path}: a {document['object_type']} document of the cbreservoir format; read it with "
            f"{_READERS[document['object_type']]}"
        )
    if document["object_type"] not in OBJECT_TYPES:
        raise ValueError(
            f"{path}: expected a document of one of the object types {list(OBJECT_TYPES)}, got "
            f"{document['object_type']!r:.40}"
        )
    try:
        contents = migrate(document["object_type"], contents.version, contents)
        decoder = Decoder(contents)
        obj = decoder.decode(document["payload"])
        kind = (class_path(type(obj)), _object_type(obj))
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    except Exception as error:  # a registered class or numpy/torch/scipy refusing a malformed value
        raise ValueError(f"{path}: malformed payload: {error!r}") from error
    if kind != (current_class_path(document["class"]), document["object_type"]):
        raise ValueError(
            f"{path}: the header declares a {document['class']} ({document['object_type']}), but the payload "
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
    check_max_bytes(max_bytes)
    contents = read_binary(path, max_bytes)
    metadata = contents.metadata
    return {
        "format": metadata["format"],
        "format_version": int(metadata["format_version"]),
        "package_version": metadata["package_version"],
        "sha256": metadata["sha256"],
        **contents.header,
    }


# ------------------------------------------------------------------------------------------- helpers


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

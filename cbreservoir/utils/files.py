"""The one home of file mechanics: atomic writes, the sha256 content hash, config files, directory locks.

* :func:`atomic_write_bytes` / :func:`atomic_write_text` / :func:`atomic_writer`: the data go to a
  temporary file with a unique name in the target's directory (``tempfile.mkstemp``), are synced
  (``fsync``) and renamed over the target (``os.replace``), and the rename is synced too. A reader sees
  the old file or the new one, never a half-written one, and any number of writers can write into one
  directory at once. Files get the permissions ``open()`` would give them (``0o666`` less the umask),
  not ``mkstemp``'s ``0o600``.
* :func:`content_sha256`: the sha256 of a value's canonical bytes, which names a value by its content (a
  sweep cell's id). A JSON value hashes as its :func:`canonical_json` text; a numpy array or torch tensor
  inside a value hashes as its dtype, shape and raw bytes. Files written before format version 4 carry it
  as their checksum; files are now signed by the one digest of :mod:`cbreservoir.utils.fileformat`.
* :func:`read_config`: the one reader of YAML (``.yaml``/``.yml``, the safe loader, without aliases or
  duplicate keys) and JSON config files (without duplicate keys).
* :func:`check_destination`: a path a file may be written to (never a device, FIFO or directory), checked
  before the work whose result goes there.
* :func:`directory_lock`: an exclusive lock on an output or checkpoint directory, held for the duration
  of a run. A second process gets :class:`DirectoryInUseError` naming the holder's PID; the lock of a
  process that died (even by ``kill -9``) is free again (the operating system drops it).

Examples
--------
>>> import tempfile, pathlib
>>> from cbreservoir.utils.files import atomic_write_text, content_sha256, directory_lock
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with directory_lock(folder):
...     path = atomic_write_text(folder / "result.json", '{"x": 1}')
>>> content_sha256({"b": 1, "a": [2, 3]}) == content_sha256({"a": [2, 3], "b": 1})   # key order is free
True
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = [
    "LOCK_NAME",
    "MAX_SMALL_FILE_BYTES",
    "DirectoryInUseError",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_writer",
    "canonical_json",
    "check_destination",
    "content_sha256",
    "directory_lock",
    "read_config",
    "read_small_file",
]

#: Name of the lock file :func:`directory_lock` keeps in a locked directory (the holder's PID beside it).
LOCK_NAME = ".cbreservoir.lock"

_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:  # elsewhere: set and restore (another thread creating a file meanwhile is rare)
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a binary stream whose content replaces ``path`` atomically when the block ends without error.

    Parameters
    ----------
    path : str or Path
        The target file; its directory must exist.

    Yields
    ------
    binary file object
        Write the whole content to it. If the block raises, the temporary file is removed and
        ``path`` is left as it was.
    """
    target = Path(path)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            os.fchmod(stream.fileno(), 0o666 & ~_umask())
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(target.parent)


def check_destination(path: str | os.PathLike[str], name: str = "path") -> Path:
    """Check, before any work, that a file can be written to ``path``; return it as a ``Path``.

    An existing ``path`` must be a regular file (a device, a FIFO, a directory, or a symlink to one, is
    never replaced); its directory must exist and be a directory.

    Raises
    ------
    TypeError
        ``path`` is not a path.
    ValueError
        ``path`` exists and is not a regular file, or its directory does not exist (the message says which).
    """
    from cbreservoir.utils.checks import check_path

    target = Path(check_path(path, name))
    try:
        mode = os.stat(target).st_mode  # follows a symlink: what it points at would be replaced
    except FileNotFoundError:
        mode = None
    except OSError as error:
        raise ValueError(f"{name} {str(target)!r:.200} cannot be written: {error.strerror}") from None
    if mode is not None and not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a device, FIFO or socket)"
        raise ValueError(f"{name} {str(target)!r:.200} exists and is {kind}; give the path of a file")
    if not target.parent.is_dir():
        raise ValueError(
            f"{name} {str(target)!r:.200}: its directory {str(target.parent)!r:.200} does not exist"
        )
    return target


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`) and return the path."""
    with atomic_writer(path) as stream:
        stream.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_writer`) and return the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


# ------------------------------------------------------------------------------------------- checksums


def _to_builtin(value: Any) -> Any:
    """JSON fallback for numpy scalars and arrays (so ``np.int64(3)`` and ``3`` hash the same)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"expected JSON-serialisable values (numbers, strings, lists, dicts), got {type(value)}")


def canonical_json(obj: Any) -> str:
    """Return the canonical JSON text of ``obj``: sorted keys, no whitespace, numpy values as Python values.

    Parameters
    ----------
    obj : Any
        A JSON-serialisable object (numpy scalars and arrays are converted).

    Returns
    -------
    str
        The same text for equal objects, whatever their key order.
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_to_builtin)


def _array_bytes(value: Any) -> tuple[str, tuple[int, ...], bytes] | None:
    """``(dtype, shape, raw bytes)`` of a numpy array or a torch tensor, else None."""
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        return str(array.dtype), tuple(array.shape), array.tobytes()
    torch = sys.modules.get("torch")  # a tensor can only exist once torch is imported
    if torch is not None and isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous().reshape(-1)
        return str(value.dtype), tuple(value.shape), tensor.view(torch.uint8).numpy().tobytes()
    return None


def _digestible(value: Any) -> Any:
    """``value`` with every array/tensor replaced by a small JSON description holding its bytes' sha256."""
    if isinstance(value, Mapping):
        return {str(key): _digestible(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_digestible(item) for item in value]
    described = _array_bytes(value)
    if described is None:
        return value
    dtype, shape, raw = described
    return {"__array__": {"dtype": dtype, "shape": list(shape), "sha256": hashlib.sha256(raw).hexdigest()}}


def content_sha256(value: Any) -> str:
    """The sha256 hex digest of ``value``'s canonical content (a sweep cell's id; the checksum of files
    written before format version 4).

    Parameters
    ----------
    value : JSON value, possibly holding numpy arrays or torch tensors
        Dicts (keys taken as strings, in sorted order), lists and tuples (both as lists), strings,
        numbers, bools, None, numpy scalars, arrays and tensors.

    Returns
    -------
    str
        64 hex digits. For a plain JSON value, ``sha256(canonical_json(value).encode())``.
    """
    return hashlib.sha256(canonical_json(_digestible(value)).encode()).hexdigest()


# --------------------------------------------------------------------------------------------- configs

#: Largest settings, result or config file read (they hold a few kilobytes of JSON or YAML).
MAX_SMALL_FILE_BYTES = 16 * 1024**2


def read_small_file(path: str | os.PathLike[str], *, max_bytes: int = MAX_SMALL_FILE_BYTES) -> bytes:
    """The bytes of the regular file ``path``, checked to be one, and small, before anything is read.

    Opened without blocking (a FIFO does not wait for a writer) and checked on the open descriptor
    (a symlink to ``/dev/zero`` is not a regular file); at most ``max_bytes`` bytes are read.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        Not a regular file, larger than ``max_bytes``, or unreadable (the message says which).
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror}") from None
    with os.fdopen(descriptor, "rb", buffering=0) as stream:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise ValueError(f"{path} is not a regular file")
        if status.st_size > max_bytes:
            raise ValueError(f"{path} has {status.st_size:,} bytes, more than the {max_bytes:,} read")
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"{path} grew beyond {max_bytes:,} bytes while it was read")
    return data


_CONFIG_SUFFIXES = {".json": "json", ".yaml": "yaml", ".yml": "yaml"}


def read_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML (``.yaml``/``.yml``, safe loader) or JSON (``.json``) mapping from ``path``.

    Raises
    ------
    ValueError
        The file is missing or unreadable, not a regular file or larger than
        :data:`MAX_SMALL_FILE_BYTES`, has another suffix, is not UTF-8 text (e.g. a binary file), does
        not parse, holds a YAML alias (``*name``) or a duplicate key, or does not hold a mapping.
    """
    path = Path(path)
    kind = _CONFIG_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ValueError(
            f"config file {path} must end in one of {sorted(_CONFIG_SUFFIXES)}, got {path.suffix!r}"
        )
    try:
        text = read_small_file(path).decode("utf-8")
    except OSError as error:
        raise ValueError(f"cannot read config file {path}: {error}") from error
    except UnicodeDecodeError as error:
        raise ValueError(f"config file {path} must be UTF-8 text; got undecodable bytes ({error})") from error
    try:
        config = json.loads(text, object_pairs_hook=_unique_pairs) if kind == "json" else _strict_yaml(text)
    except (ValueError, RecursionError) as error:  # json.JSONDecodeError is a ValueError
        raise ValueError(f"config file {path} does not parse: {error}") from error
    except Exception as error:  # yaml.YAMLError and its subclasses
        raise ValueError(f"config file {path} does not parse: {error}") from error
    if not isinstance(config, dict):
        raise ValueError(f"config file {path} must hold a mapping of settings, got {type(config).__name__}")
    return config


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different."""
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate key {next(k for k in keys if keys.count(k) > 1)!r:.80}")
    return dict(pairs)


def _strict_yaml(text: str) -> Any:
    """YAML by the safe loader, without aliases (``*name``: what makes a few bytes expand without end) and
    without duplicate keys; errors name the line."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    "aliases (*name) are not allowed in config files",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen = []
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r:.80}", key_node.start_mark
                    )
                seen.append(key)
            return super().construct_mapping(node, deep)

    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 (a SafeLoader subclass)


# ----------------------------------------------------------------------------------------------- locks


class DirectoryInUseError(RuntimeError):
    """Another process (or run) holds the lock of a directory."""


def _holder(pid_file: Path) -> str:
    try:
        return f"PID {int(pid_file.read_text().strip())}"
    except (OSError, ValueError):
        return "a process whose PID is not recorded"


@contextlib.contextmanager
def directory_lock(directory: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold an exclusive lock on ``directory`` (created if missing) for the duration of the block.

    The lock is ``filelock.FileLock`` on ``<directory>/.cbreservoir.lock``; the holder writes its PID to
    ``.cbreservoir.lock.pid`` beside it. A lock left by a process that died is taken over.

    Parameters
    ----------
    directory : str or Path

    Yields
    ------
    Path
        The directory.

    Raises
    ------
    DirectoryInUseError
        Another process (or another run in this process) holds the lock; the message names its PID.
    """
    from filelock import FileLock, Timeout

    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    pid_file = folder / f"{LOCK_NAME}.pid"
    lock = FileLock(folder / LOCK_NAME, timeout=0, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        raise DirectoryInUseError(
            f"directory {folder} is in use by {_holder(pid_file)} (lock file {folder / LOCK_NAME}); "
            "wait for that run to finish, or use another directory"
        ) from None
    try:
        atomic_write_text(pid_file, f"{os.getpid()}\n")
        yield folder
    finally:
        with contextlib.suppress(FileNotFoundError):
            pid_file.unlink()
        lock.release()

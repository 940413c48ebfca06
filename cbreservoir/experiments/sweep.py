"""Seeded, resumable parameter sweeps over joblib (``loky`` locally, ``dask`` on a cluster).

A sweep is a list of *cells* (JSON-serialisable dicts such as ``{"condition": "cbrnn", "task": "dms",
"seed": 3}``) and a picklable, top-level run function ``fn(cell) -> dict``. Every cell gets a stable id
(a hash of its canonical JSON) and every finished run is written atomically to its own file
``<output_dir>/<cell_id>.json`` (temporary file, ``fsync``, ``os.replace``): a run record, a document of
the one cbreservoir file format in its text layout (:mod:`cbreservoir.utils.fileformat`, object type
``"run_record"``, payload ``{"cell_id", "cell", "result"}``) with its sha256 digest; a half-written,
truncated or edited file fails the check on read and its cell runs again. Records of earlier releases
(``{"cell_id", "cell", "result", "checksum"}``, format version 3) still read. Re-running the same sweep
skips the finished cells, so killing the process (even with ``kill -9``) loses only the runs that were in
progress. Results are written by the coordinating process as they arrive, so a dask cluster needs no file
system shared with the workers.

Examples
--------
>>> from cbreservoir.experiments.sweep import run_sweep
>>> def square(cell):  # must be importable by the workers (defined at module top level)
...     return {"value": cell["x"] ** 2}
>>> cells = [{"x": x, "seed": 0} for x in range(4)]
>>> results = run_sweep(  # doctest: +SKIP
...     cells, square, output_dir="sweep-out", backend="sequential", progress=False
... )
>>> [r["value"] for r in results]  # doctest: +SKIP
[0, 1, 4, 9]

On a dask cluster, the same call with ``backend="dask", scheduler="tcp://HOST:8786"`` sends the cells to
the cluster's workers through joblib's dask backend; a scheduler that does not answer within
``SCHEDULER_TIMEOUT_S`` seconds is a ``ConnectionError`` naming its address.

Cells that can run together (e.g. networks of one architecture trained as one batched ensemble) are
grouped with ``group_by``: ``fn`` then receives a list of up to ``group_size`` pending cells with equal
keys and returns one result per cell. Results are still written cell by cell, so a resumed sweep
regroups only the cells that are left.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import warnings
from collections.abc import Callable, Hashable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
from tqdm.auto import tqdm

from cbreservoir.utils.checks import check_choice, check_n_jobs, check_path, check_positive_int
from cbreservoir.utils.fileformat import migrate, text_document, write_text
from cbreservoir.utils.files import canonical_json, content_sha256, directory_lock, read_small_file

if TYPE_CHECKING:
    import distributed

__all__ = [
    "BACKENDS",
    "RUN_RECORD",
    "BadResultWarning",
    "canonical_json",
    "cell_id",
    "check_backend",
    "group_cells",
    "read_record",
    "read_result",
    "result_path",
    "run_sweep",
    "write_result",
]

BACKENDS = ("loky", "threading", "sequential", "dask")
"""Backends accepted by :func:`run_sweep`."""

#: The object type of run records in the one file format.
RUN_RECORD = "run_record"
_RECORD_KEYS = {"cell_id", "cell", "result"}
#: The fields of a record of earlier releases, and the format version it corresponds to.
_LEGACY_RECORD_KEYS = {*_RECORD_KEYS, "checksum"}
_LEGACY_RECORD_VERSION = 3

#: Seconds between two looks of a worker's watchdog at its parent process.
_WATCHDOG_PERIOD = 0.5

#: Seconds a dask sweep waits for its scheduler to answer before it gives up (dask's own default is 30).
SCHEDULER_TIMEOUT_S = 10


class BadResultWarning(UserWarning):
    """A result file of a sweep was unreadable or inconsistent; it was moved aside and its cell runs again."""


def check_backend(backend: object, scheduler: object = None) -> str:
    """Return ``backend`` if it is one of :data:`BACKENDS` and ``scheduler`` (an address, or None) fits it.

    Raises
    ------
    TypeError
        ``scheduler`` neither None nor a string.
    ValueError
        An unknown backend, or a scheduler with a backend other than ``"dask"``.
    """
    check_choice(backend, "backend", allowed=BACKENDS)
    if scheduler is not None:
        if not isinstance(scheduler, str):
            raise TypeError(f"scheduler must be an address 'tcp://HOST:PORT'; got {scheduler!r}")
        if backend != "dask":
            raise ValueError(f"scheduler applies to backend 'dask' only; got backend {backend!r}")
    return backend


def cell_id(cell: dict) -> str:
    """Return the stable id of a sweep cell: the first 16 hex digits of the SHA-256 of its canonical JSON.

    Parameters
    ----------
    cell : dict
        The cell, with string keys and JSON-serialisable values.

    Returns
    -------
    str
        16 lowercase hex digits; equal cells (any key order) get equal ids.
    """
    if not isinstance(cell, dict):
        raise TypeError(f"expected a sweep cell as a dict, got {type(cell).__name__}")
    if not all(isinstance(key, str) for key in cell):
        raise TypeError(f"expected a sweep cell with string keys, got keys {list(cell)!r}")
    return content_sha256(_as_json(cell))[:16]


def result_path(output_dir: str | os.PathLike, cell: dict) -> Path:
    """Return the path of the result file of ``cell`` in ``output_dir``."""
    return Path(output_dir) / f"{cell_id(cell)}.json"


def _as_json(value: Any) -> Any:
    """``value`` as it reads back from JSON (numpy scalars and arrays become numbers and lists)."""
    return json.loads(canonical_json(value))


def _legacy_checksum(cell: Any, result: Any) -> str:
    """The ``checksum`` of a record of an earlier release."""
    return content_sha256({"cell": cell, "result": result})


def _disagreements(cell: dict, result: dict) -> list[str]:
    """Keys a result repeats from its cell with another value (e.g. a record of another task)."""
    return sorted(key for key in cell if key in result and result[key] != cell[key])


def write_result(output_dir: str | os.PathLike, cell: dict, *, result: dict) -> Path:
    """Write the result of one run atomically, as a run record (:mod:`cbreservoir.utils.fileformat`).

    Parameters
    ----------
    output_dir : path
        The sweep's directory (created if missing).
    cell : dict
        The cell that was run.
    result : dict
        What the run function returned (JSON-serialisable). A key it shares with the cell must hold
        the cell's value.

    Returns
    -------
    Path
        The result file, ``<output_dir>/<cell_id>.json``.

    Raises
    ------
    TypeError
        ``result`` is not a dict.
    ValueError
        ``result`` repeats a key of ``cell`` with another value.
    """
    if not isinstance(result, dict):
        raise TypeError(f"expected the sweep function to return a dict, got {type(result).__name__}")
    directory = Path(output_dir)
    directory.mkdir(parents=True, exist_ok=True)
    # Round-trip through JSON so that the stored record and its checksum describe the same values.
    cell, result = _as_json(cell), _as_json(result)
    differing = _disagreements(cell, result)
    if differing:
        raise ValueError(
            f"the result of cell {cell!r:.200} disagrees with it on {differing}: "
            + ", ".join(f"{key}: cell {cell[key]!r} vs result {result[key]!r}" for key in differing)
        )
    record = {"cell_id": cell_id(cell), "cell": cell, "result": result}
    path = directory / f"{record['cell_id']}.json"
    return write_text(path, RUN_RECORD, record)


class _BadResult(ValueError):
    """A result file that exists but cannot be trusted (the reason is the message)."""


def read_record(path: str | os.PathLike) -> dict:
    """The run record stored at ``path``, checked: ``{"cell_id", "cell", "result"}``.

    Reads run records and the records of earlier releases alike (the one migration path,
    :func:`cbreservoir.utils.fileformat.migrate`).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file is not a regular file, does not parse, is not a run record, fails its digest, or holds a
        result that is not a dict or disagrees with its cell on a key they share (the message says which).
    """
    path = Path(path)
    if not os.path.lexists(path):
        raise FileNotFoundError(f"no such file: {path}")
    if not path.is_file():
        raise ValueError("not a regular file")
    try:
        stored = json.loads(read_small_file(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:  # JSONDecodeError: ValueError
        raise ValueError(f"unreadable JSON ({type(error).__name__})") from None
    record = migrate(RUN_RECORD, *_record(stored))
    if not isinstance(record, dict) or set(record) != _RECORD_KEYS:
        raise ValueError(f"not a result record (expected the keys {sorted(_RECORD_KEYS)})")
    if not isinstance(record["cell"], dict) or not isinstance(record["result"], dict):
        raise ValueError("its cell and its result must be dicts")
    differing = _disagreements(record["cell"], record["result"])
    if differing:
        raise ValueError(f"its result disagrees with its cell on {differing}")
    return record


def _load_result(path: Path, cell: dict) -> dict | None:
    """The stored result at ``path``; None if there is no file; :class:`_BadResult` if it is bad."""
    if not os.path.lexists(path):
        return None
    try:
        record = read_record(path)
    except ValueError as error:
        raise _BadResult(str(error)) from None
    if record["cell_id"] != cell_id(cell) or record["cell"] != _as_json(cell):
        raise _BadResult("it records another cell")
    return record["result"]


def _record(stored: Any) -> tuple[int, Any]:
    """``(format version, payload)`` of a parsed record file: a run record, or one of an earlier release.

    Raises
    ------
    ValueError
        Neither, or its digest (checksum) does not match.
    """
    if isinstance(stored, dict) and set(stored) == _LEGACY_RECORD_KEYS:
        if stored["checksum"] != _legacy_checksum(stored["cell"], stored["result"]):
            raise ValueError("its content does not match its checksum")
        return _LEGACY_RECORD_VERSION, {key: stored[key] for key in _RECORD_KEYS}
    version, document = text_document(stored)
    if document["object_type"] != RUN_RECORD:
        raise ValueError(f"not a result record but a {document['object_type']!r:.40}")
    return version, document["payload"]


def read_result(output_dir: str | os.PathLike, cell: dict) -> dict | None:
    """Return the stored result of ``cell``, or ``None`` when it is missing or bad.

    A bad result file is one that is not a regular file, does not parse (including JSON nested too
    deeply), is not a result record, records another cell, fails its checksum, or holds a result that
    disagrees with its cell on a key they share. :func:`run_sweep` moves such files aside and reruns
    their cells; this function only reads.

    Parameters
    ----------
    output_dir : path
        The sweep's directory.
    cell : dict
        The cell whose result to read.

    Returns
    -------
    dict or None
        The run function's result as stored (after a JSON round trip), or ``None`` if the cell must run.
    """
    try:
        return _load_result(result_path(output_dir, cell), cell)
    except _BadResult:
        return None


def _set_aside(path: Path, reason: str) -> Path:
    """Rename a bad result file to ``<name>.bad-<n>`` (the first free n) and warn."""
    number = 1
    while os.path.lexists(path.with_name(f"{path.name}.bad-{number}")):
        number += 1
    aside = path.with_name(f"{path.name}.bad-{number}")
    os.rename(path, aside)
    warnings.warn(
        f"sweep result {path} is bad ({reason}); moved to {aside.name}, its cell runs again",
        BadResultWarning,
        stacklevel=4,
    )
    return aside


def _stored_results(output_dir: Path, ids: list[str], cells: list[dict]) -> dict[str, dict]:
    """Results already in ``output_dir`` by cell id; bad files are set aside (their cells rerun)."""
    results: dict[str, dict] = {}
    for identifier, cell in zip(ids, cells, strict=True):
        path = output_dir / f"{identifier}.json"
        try:
            stored = _load_result(path, cell)
        except _BadResult as error:
            _set_aside(path, str(error))
            continue
        if stored is not None:
            results[identifier] = stored
    return results


_watchdog_started = False
_watchdog_guard = threading.Lock()


def _stop_with_parent(parent: int) -> None:
    """In a worker process started by ``parent``: exit as soon as ``parent`` is gone (e.g. ``kill -9``).

    A no-op in the coordinating process itself (threading, sequential) and in processes ``parent`` did
    not start (dask workers). The watchdog is one daemon thread per worker process.
    """
    global _watchdog_started
    if os.getpid() == parent or os.getppid() != parent:
        return
    with _watchdog_guard:
        if _watchdog_started:
            return
        _watchdog_started = True

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_WATCHDOG_PERIOD)
        os._exit(1)  # the parent died: its results can no longer be written, stop computing

    threading.Thread(target=watch, name="cbreservoir-parent-watchdog", daemon=True).start()


def _run_cells(fn: Callable, cells: list[dict], grouped: bool, parent: int) -> list[tuple[str, dict]]:
    """Worker side: run one cell (``fn(cell)``) or a group (``fn(cells)``); return (id, result) pairs.

    ``parent`` is the coordinating process's PID: a worker process exits when it dies.
    """
    _stop_with_parent(parent)
    if not grouped:
        return [(cell_id(cells[0]), fn(cells[0]))]
    results = fn(cells)
    if not isinstance(results, (list, tuple)) or len(results) != len(cells):
        raise TypeError(
            f"expected the group run function to return a list of {len(cells)} results, got {results!r:.200}"
        )
    return [(cell_id(cell), result) for cell, result in zip(cells, results, strict=True)]


def group_cells(
    cells: Sequence[dict], *, group_by: Callable[[dict], Hashable | None], group_size: int
) -> list[list[dict]]:
    """Split ``cells`` into runs of cells with equal ``group_by`` keys, at most ``group_size`` each.

    Cells keep their order within a group; groups come in the order of their first cell. A cell whose
    key is None runs alone.

    Parameters
    ----------
    cells : sequence of dict
    group_by : callable
        ``group_by(cell)``: a hashable key, or None for a cell that cannot share a run.
    group_size : int
        The most cells in one group (>= 1).

    Returns
    -------
    list of list of dict
    """
    group_size = check_positive_int(group_size, "group_size")
    groups: list[list[dict]] = []
    open_group: dict[Hashable, list[dict]] = {}
    for cell in cells:
        key = group_by(cell)
        if key is None:
            groups.append([cell])
            continue
        if key not in open_group or len(open_group[key]) == group_size:
            open_group[key] = []
            groups.append(open_group[key])
        open_group[key].append(cell)
    return groups


def _check_cells(cells: Sequence[dict]) -> list[str]:
    ids = [cell_id(cell) for cell in cells]
    seen: dict[str, dict] = {}
    for identifier, cell in zip(ids, cells, strict=True):
        if identifier in seen:
            raise ValueError(f"expected distinct sweep cells, got {cell!r} twice")
        seen[identifier] = cell
    return ids


@contextlib.contextmanager
def _backend_context(backend: str, scheduler: str | None) -> Iterator[None]:
    """Activate the joblib backend; for dask, connect a ``distributed.Client`` to ``scheduler``."""
    if backend != "dask":
        yield
        return
    try:
        import distributed
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("backend='dask' needs the 'distributed' package (cbreservoir[dask])") from error
    if scheduler is None:
        try:
            distributed.get_client()
        except ValueError as error:
            raise ValueError(
                "expected scheduler='tcp://HOST:PORT' (or an active distributed.Client) with backend='dask', "
                "got scheduler=None and no client"
            ) from error
        with joblib.parallel_config(backend="dask"):
            yield
        return
    with _connect(scheduler) as client, joblib.parallel_config(backend="dask", client=client):
        yield


def _connect(scheduler: str) -> distributed.Client:
    """A client of the scheduler at ``scheduler``; ConnectionError if none answers in SCHEDULER_TIMEOUT_S."""
    import distributed

    try:
        return distributed.Client(scheduler, set_as_default=False, timeout=SCHEDULER_TIMEOUT_S)
    except OSError as error:  # refused, unreachable or silent: distributed retries until the timeout
        raise ConnectionError(
            f"expected a dask scheduler at {scheduler!r}, got no answer within {SCHEDULER_TIMEOUT_S} s "
            f"({error}); start one there (`dask scheduler`, then `dask worker {scheduler}` on each worker "
            "machine) or pass the address that `dask scheduler` prints"
        ) from error


def _default_n_jobs(backend: str, n_pending: int) -> int:
    if backend == "dask":
        return -1
    if backend == "sequential":
        return 1
    return max(1, min(n_pending, os.cpu_count() or 1))


def run_sweep(
    cells: Sequence[dict],
    fn: Callable[[dict], dict],
    *,
    output_dir: str | os.PathLike,
    backend: str = "loky",
    n_jobs: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    group_by: Callable[[dict], Hashable | None] | None = None,
    group_size: int = 8,
) -> list[dict]:
    """Run ``fn`` on every cell not finished yet in ``output_dir`` and return all results in cell order.

    Parameters
    ----------
    cells : sequence of dict
        Distinct, JSON-serialisable cells. Each cell should carry its own seed: ``fn`` must be a
        deterministic function of the cell for resumed and fresh sweeps to agree.
    fn : callable
        ``fn(cell) -> dict`` (JSON-serialisable), picklable (a module-level function) for process backends.
        With ``group_by``: ``fn(cells) -> list of dict``, one result per cell of the group, in order.
    output_dir : path
        Directory of the per-cell result files (one sweep per directory).
    backend : {"loky", "threading", "sequential", "dask"}
        joblib backend. ``"dask"`` runs on a ``distributed`` cluster.
    n_jobs : int, optional
        Parallel runs. Default: one per CPU (at most one per pending cell) for loky/threading, all
        workers for dask.
    scheduler : str, optional
        Address of a running dask scheduler (``"tcp://HOST:PORT"``); only with ``backend="dask"``. If
        omitted there, the active ``distributed.Client`` is used.
    progress : bool
        Show a tqdm bar over cells (finished cells count from the start).
    group_by : callable, optional
        ``group_by(cell)``: cells with equal keys may run together in one ``fn`` call
        (:func:`group_cells`); None runs a cell alone.
    group_size : int
        The most cells in one call with ``group_by``.

    Returns
    -------
    list of dict
        ``results[i]`` is the result of ``cells[i]`` as stored in its JSON file (so fresh and resumed
        sweeps return identical values).

    Raises
    ------
    ValueError
        Unknown backend, n_jobs 0, a scheduler with a non-dask backend, or duplicate cells (all before
        any cell runs); a result disagreeing with its cell on a key they share.
    TypeError
        A cell that is not a dict with string keys, an output_dir that is not a path, or ``fn``
        returning something other than a dict.
    cbreservoir.utils.files.DirectoryInUseError
        Another process is running a sweep in ``output_dir`` (the message names its PID).
    ConnectionError
        No dask scheduler answers at ``scheduler`` within ``SCHEDULER_TIMEOUT_S`` seconds (before any cell
        runs; the message names the address and how to start one).

    Warns
    -----
    BadResultWarning
        For each bad result file found (see :func:`read_result`): it is renamed ``<name>.bad-<n>``
        and its cell runs again.
    """
    check_backend(backend, scheduler)
    if not callable(fn):
        raise TypeError(f"expected a callable run function, got {type(fn).__name__}")
    if n_jobs is not None:
        check_n_jobs(n_jobs)
    group_size = check_positive_int(group_size, "group_size")
    check_path(output_dir, "output_dir")
    cells = list(cells)
    ids = _check_cells(cells)
    output = Path(output_dir)
    with directory_lock(output):
        results = _stored_results(output, ids, cells)
        pending = [cell for identifier, cell in zip(ids, cells, strict=True) if identifier not in results]
        cell_by_id = dict(zip(ids, cells, strict=True))
        grouped = group_by is not None
        if grouped:
            calls = group_cells(pending, group_by=group_by, group_size=group_size)
        else:
            calls = [[cell] for cell in pending]
        total, done = len(cells), len(results)
        with tqdm(total=total, initial=done, disable=not progress, desc="sweep", unit="run") as bar:
            if calls:
                jobs = n_jobs if n_jobs is not None else _default_n_jobs(backend, len(calls))
                with _backend_context(backend, scheduler):
                    parallel_backend = None if backend == "dask" else backend
                    runner = joblib.Parallel(
                        n_jobs=jobs, backend=parallel_backend, batch_size=1, return_as="generator_unordered"
                    )
                    parent = os.getpid()
                    tasks = (joblib.delayed(_run_cells)(fn, call, grouped, parent) for call in calls)
                    for finished in runner(tasks):
                        for identifier, result in finished:
                            write_result(output, cell_by_id[identifier], result=result)
                            results[identifier] = read_result(output, cell_by_id[identifier])
                        bar.update(len(finished))
    return [results[identifier] for identifier in ids]


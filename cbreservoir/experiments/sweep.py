"""Seeded, resumable parameter sweeps over joblib (``loky`` locally, ``dask`` on a cluster).

A sweep is a list of *cells* (JSON-serialisable dicts such as ``{"condition": "cbrnn", "task": "dms",
"seed": 3}``) and a picklable, top-level run function ``fn(cell) -> dict``. Every cell gets a stable id
(a hash of its canonical JSON) and every finished run is written atomically to its own file
``<output_dir>/<cell_id>.json`` (temporary file, ``fsync``, ``os.replace``). Each file carries a
checksum of its content; a half-written, truncated or edited file fails the check on read and its
cell runs again. Re-running the same sweep skips the finished cells, so killing the process (even with
``kill -9``) loses only the runs that were in progress. Results are written by the coordinating process
as they arrive, so a dask cluster needs no file system shared with the workers.

Examples
--------
>>> from cbreservoir.experiments.sweep import run_sweep
>>> def square(cell):  # must be importable by the workers (defined at module top level)
...     return {"value": cell["x"] ** 2}
>>> cells = [{"x": x, "seed": 0} for x in range(4)]
>>> results = run_sweep(cells, square, "sweep-out", backend="sequential", progress=False)  # doctest: +SKIP
>>> [r["value"] for r in results]  # doctest: +SKIP
[0, 1, 4, 9]

On a dask cluster, the same call with ``backend="dask", scheduler="tcp://HOST:8786"`` sends the cells to
the cluster's workers through joblib's dask backend.

Cells that can run together (e.g. networks of one architecture trained as one batched ensemble) are
grouped with ``group_by``: ``fn`` then receives a list of up to ``group_size`` pending cells with equal
keys and returns one result per cell. Results are still written cell by cell, so a resumed sweep
regroups only the cells that are left.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Hashable, Iterator, Sequence
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from tqdm.auto import tqdm

from cbreservoir.utils.validation import check_positive_int

__all__ = [
    "BACKENDS",
    "canonical_json",
    "cell_id",
    "group_cells",
    "read_result",
    "result_path",
    "run_sweep",
    "write_result",
]

BACKENDS = ("loky", "threading", "sequential", "dask")
"""Backends accepted by :func:`run_sweep`."""

_RECORD_KEYS = {"cell_id", "cell", "result", "checksum"}


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
    return hashlib.sha256(canonical_json(cell).encode()).hexdigest()[:16]


def result_path(output_dir: str | os.PathLike, cell: dict) -> Path:
    """Return the path of the result file of ``cell`` in ``output_dir``."""
    return Path(output_dir) / f"{cell_id(cell)}.json"


def _checksum(cell: dict, result: dict) -> str:
    return hashlib.sha256(canonical_json({"cell": cell, "result": result}).encode()).hexdigest()


def write_result(output_dir: str | os.PathLike, cell: dict, result: dict) -> Path:
    """Write the result of one run atomically: temporary file, ``fsync``, ``os.replace``, directory ``fsync``.

    Parameters
    ----------
    output_dir : path
        The sweep's directory (created if missing).
    cell : dict
        The cell that was run.
    result : dict
        What the run function returned (JSON-serialisable).

    Returns
    -------
    Path
        The result file, ``<output_dir>/<cell_id>.json``.
    """
    if not isinstance(result, dict):
        raise TypeError(f"expected the sweep function to return a dict, got {type(result).__name__}")
    directory = Path(output_dir)
    directory.mkdir(parents=True, exist_ok=True)
    # Round-trip through JSON so that the stored record and its checksum describe the same values.
    cell, result = json.loads(canonical_json(cell)), json.loads(canonical_json(result))
    record = {"cell_id": cell_id(cell), "cell": cell, "result": result, "checksum": _checksum(cell, result)}
    target = directory / f"{record['cell_id']}.json"
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{record['cell_id']}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(record, stream, indent=1, sort_keys=True)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)
    return target


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (no-op where directories cannot be opened, e.g. Windows)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_result(output_dir: str | os.PathLike, cell: dict) -> dict | None:
    """Return the stored result of ``cell``, or ``None`` when it is missing, unreadable or fails its checksum.

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
    path = result_path(output_dir, cell)
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict) or set(record) != _RECORD_KEYS:
        return None
    if record["cell_id"] != cell_id(cell) or record["cell"] != json.loads(canonical_json(cell)):
        return None
    result = record["result"]
    if not isinstance(result, dict) or record["checksum"] != _checksum(record["cell"], result):
        return None
    return result


def _run_cells(fn: Callable, cells: list[dict], grouped: bool) -> list[tuple[str, dict]]:
    """Worker side: run one cell (``fn(cell)``) or a group (``fn(cells)``); return (id, result) pairs."""
    if not grouped:
        return [(cell_id(cells[0]), fn(cells[0]))]
    results = fn(cells)
    if not isinstance(results, (list, tuple)) or len(results) != len(cells):
        raise TypeError(
            f"expected the group run function to return a list of {len(cells)} results, got {results!r:.200}"
        )
    return [(cell_id(cell), result) for cell, result in zip(cells, results, strict=True)]


def group_cells(
    cells: Sequence[dict], group_by: Callable[[dict], Hashable | None], group_size: int
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
        if scheduler is not None:
            raise ValueError(f"expected scheduler=None with backend={backend!r}, got scheduler={scheduler!r}")
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
    with distributed.Client(scheduler, set_as_default=False) as client, joblib.parallel_config(
        backend="dask", client=client
    ):
        yield


def _default_n_jobs(backend: str, n_pending: int) -> int:
    if backend == "dask":
        return -1
    if backend == "sequential":
        return 1
    return max(1, min(n_pending, os.cpu_count() or 1))


def run_sweep(
    cells: Sequence[dict],
    fn: Callable[[dict], dict],
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
        Unknown backend, a scheduler with a non-dask backend, or duplicate cells.
    TypeError
        A cell that is not a dict with string keys, or ``fn`` returning something other than a dict.
    """
    if backend not in BACKENDS:
        raise ValueError(f"expected backend in {BACKENDS}, got {backend!r}")
    if not callable(fn):
        raise TypeError(f"expected a callable run function, got {type(fn).__name__}")
    cells = list(cells)
    ids = _check_cells(cells)
    results: dict[str, dict] = {}
    for identifier, cell in zip(ids, cells, strict=True):
        stored = read_result(output_dir, cell)
        if stored is not None:
            results[identifier] = stored
    pending = [cell for identifier, cell in zip(ids, cells, strict=True) if identifier not in results]
    cell_by_id = dict(zip(ids, cells, strict=True))
    grouped = group_by is not None
    calls = group_cells(pending, group_by, group_size) if grouped else [[cell] for cell in pending]
    with tqdm(total=len(cells), initial=len(results), disable=not progress, desc="sweep", unit="run") as bar:
        if calls:
            jobs = n_jobs if n_jobs is not None else _default_n_jobs(backend, len(calls))
            with _backend_context(backend, scheduler):
                parallel_backend = None if backend == "dask" else backend
                runner = joblib.Parallel(
                    n_jobs=jobs, backend=parallel_backend, batch_size=1, return_as="generator_unordered"
                )
                for finished in runner(joblib.delayed(_run_cells)(fn, call, grouped) for call in calls):
                    for identifier, result in finished:
                        write_result(output_dir, cell_by_id[identifier], result)
                        results[identifier] = read_result(output_dir, cell_by_id[identifier])
                    bar.update(len(finished))
    return [results[identifier] for identifier in ids]

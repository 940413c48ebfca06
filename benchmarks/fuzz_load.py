"""Fuzz :func:`cbreservoir.load` with signed, mutated files: only ValueError/TypeError, bounded time, memory.

Every file is one of ``tests/io/crafting.py:fuzz_originals`` (arrays of every dtype, generators of every
bit generator, sparse matrices, models, a meta model, nodes, a graph, torch modules, a trainer, a
curriculum) with 1 to 3 random mutations of its header tree or its arrays, signed again (a valid
checksum, so that every check behind it is reached). Each is loaded with ``max_bytes``; the process's
peak resident memory is reset before each load (Linux ``clear_refs``) and its growth recorded.

Usage::

    PYTHONPATH=$PWD python benchmarks/fuzz_load.py --count 10000 --seed 0 --max-bytes 33554432

Prints the count of each outcome, the slowest load and the largest peak-memory growth, and exits with
status 1 if any load raised another exception, took 1 s or more, or grew the peak memory by
``2 * max_bytes`` or more.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_PROC = Path("/proc/self")


def _memory(field: str) -> int:
    for line in (_PROC / "status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def main() -> int:
    import cbreservoir
    from tests.io.crafting import fuzz_originals, fuzzed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-bytes", type=int, default=32 * 1024**2)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="fuzz-"))
    originals = fuzz_originals(directory)
    for name in originals:  # warm up: the tables, torch, reservoirpy
        cbreservoir.load(directory / f"fuzz-{name}.original")
    rng = np.random.default_rng(args.seed)
    outcomes: collections.Counter = collections.Counter()
    failures: list[str] = []
    slowest = (0.0, "")
    largest = (0, "")
    start = time.perf_counter()
    for index in range(args.count):
        name, path = fuzzed(rng, originals, directory / "fuzzed.cbr")
        (_PROC / "clear_refs").write_text("5")
        base = _memory("VmRSS:")
        began = time.perf_counter()
        try:
            cbreservoir.load(path, max_bytes=args.max_bytes)
            outcome = "loaded"
        except (ValueError, TypeError) as error:
            outcome = type(error).__name__
        except Exception as error:  # noqa: BLE001 (what the fuzz is looking for)
            outcome = f"OTHER {type(error).__name__}"
            failures.append(f"#{index} ({name}): {error!r:.300}")
        seconds, growth = time.perf_counter() - began, _memory("VmHWM:") - base
        outcomes[outcome] += 1
        slowest = max(slowest, (seconds, f"#{index} ({name})"))
        largest = max(largest, (growth, f"#{index} ({name})"))
        if seconds >= 1.0 or growth >= 2 * args.max_bytes:
            failures.append(f"#{index} ({name}): {seconds:.2f} s, +{growth / 2**20:.1f} MiB")
    print(
        f"{args.count} signed, mutated files, seed {args.seed}, max_bytes {args.max_bytes:,}: "
        f"{time.perf_counter() - start:.1f} s in all"
    )
    for outcome, count in sorted(outcomes.items()):
        print(f"  {outcome}: {count}")
    print(f"  slowest load: {slowest[0] * 1000:.1f} ms ({slowest[1]})")
    print(
        f"  largest peak-memory growth: {largest[0] / 2**20:.1f} MiB ({largest[1]}); "
        f"bound 2 x max_bytes = {2 * args.max_bytes / 2**20:.0f} MiB"
    )
    for failure in failures[:20]:
        print("  FAILED", failure)
    print(f"  failures: {len(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

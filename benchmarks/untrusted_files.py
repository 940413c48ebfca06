"""Issue 26's hostile files loaded by two versions of cbreservoir, side by side: seconds, memory, outcome.

Each file of ``tests/io/crafting.py:CASES`` is loaded in a fresh process per version (a crash or a hang
takes only that process), after the file-format tables are built; the process's peak resident memory is
reset first (Linux ``clear_refs``), so the growth is what loading (and one use of the object) costs. A
loaded object is used once as a caller would: a generator draws a number, a reservoir runs three steps.

Usage::

    PYTHONPATH=$PWD python benchmarks/untrusted_files.py --before /path/to/old/checkout [--timeout 120]

``--before`` is a directory holding another version's ``cbreservoir`` package (e.g. ``git archive <commit>
cbreservoir | tar -x -C DIR``); the current one is this checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, sys, time
from pathlib import Path
import numpy as np
import cbreservoir
from cbreservoir.io import _registry
_registry.classes(); _registry.functions()
def hwm():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmHWM:", "VmRSS:")):
            yield line.split()[0], int(line.split()[1]) * 1024
Path("/proc/self/clear_refs").write_text("5")
base = dict(hwm())["VmRSS:"]
start = time.perf_counter()
try:
    obj = cbreservoir.load(sys.argv[1], max_bytes=int(sys.argv[2]))
    outcome = "loaded " + type(obj).__name__
    if isinstance(obj, np.random.Generator): obj.random()
    elif isinstance(obj, np.random.RandomState): obj.random_sample()
    elif hasattr(obj, "_rng"): obj._rng.random()
    elif type(obj).__name__ == "Reservoir":
        out = obj.run(np.ones((3, 1)))
        outcome += " (runs: NaN output)" if np.isnan(out).any() else " (runs)"
except Exception as error:
    outcome = type(error).__name__
print(json.dumps({"seconds": time.perf_counter() - start, "mib": (dict(hwm())["VmHWM:"] - base) / 2**20,
                  "outcome": outcome}))
"""


def measure(package: Path, path: Path, max_bytes: int, timeout: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(package)}
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(path), str(max_bytes)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=tempfile.gettempdir(),
        )
    except subprocess.TimeoutExpired:
        return {"seconds": timeout, "mib": float("nan"), "outcome": f"timeout (> {timeout:.0f} s)"}
    if done.returncode < 0:
        return {"seconds": float("nan"), "mib": float("nan"), "outcome": f"crash (signal {-done.returncode})"}
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return {"seconds": float("nan"), "mib": float("nan"), "outcome": f"exit {done.returncode}"}
    return json.loads(lines[-1])


def main() -> None:
    from tests.io.crafting import CASES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="untrusted-"))
    print("| item | case | file MB | max_bytes MB | before: s | MiB | outcome | after: s | MiB | outcome |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, (item, build) in CASES.items():
        if args.only and name not in args.only:
            continue
        path, max_bytes = build(directory)
        before = measure(args.before, path, max_bytes, args.timeout)
        after = measure(ROOT, path, max_bytes, args.timeout)
        cells = [f"{side['seconds']:.2f} | {side['mib']:.0f} | {side['outcome']}" for side in (before, after)]
        print(
            f"| {item} | {name} | {path.stat().st_size / 1e6:.1f} | {max_bytes / 1e6:.0f} | "
            f"{cells[0]} | {cells[1]} |",
            flush=True,
        )
        path.unlink()


if __name__ == "__main__":
    main()

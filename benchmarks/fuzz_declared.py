"""Fuzz the declared fields of every saveable class (issue 34): refused at load, or a usable object.

Every file is one genuine object of ``tests/io/saveables.py`` (one of every class a cbreservoir file can
hold) with one mutation (``saveables.mutate``): an attribute named after one of its class's methods
injected, or a field replaced or removed, with a function, a NumPy type, a bomb count, NaN, ...; signed
again. Each is loaded with ``max_bytes``; a loaded object is then used as a user would
(``saveables.USES``: run, predict, a training step).

Usage::

    PYTHONPATH=$PWD python benchmarks/fuzz_declared.py --count 2000 --seed 0

Prints the count of each outcome and the slowest load, and exits with status 1 if a load or a use raised
anything but ValueError.
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


def main() -> int:
    import cbreservoir
    from tests.io import saveables

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-bytes", type=int, default=32 * 1024**2)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="fuzz-declared-"))
    originals = saveables.saved(directory)
    shadowed = saveables.methods()
    rng = np.random.default_rng(args.seed)

    def choose(options, label):
        options = list(options)
        return options[rng.integers(len(options))]

    outcomes: collections.Counter = collections.Counter()
    failures: list[str] = []
    slowest = (0.0, "")
    for index in range(args.count):
        name = choose(sorted(originals), "class")
        path = saveables.crafted(
            directory / "fuzzed.cbr",
            originals[name][1],
            lambda arrays, header: saveables.mutate(arrays, header, shadowed, choose),
        )
        began = time.perf_counter()
        try:
            loaded = cbreservoir.load(path, max_bytes=args.max_bytes)
            outcome = "loaded"
        except ValueError:
            outcome = "refused at load (ValueError)"
        except Exception as error:  # noqa: BLE001 (what the fuzz is looking for)
            outcome = f"OTHER at load: {type(error).__name__}"
            failures.append(f"#{index} ({name}) load: {error!r:.300}")
        slowest = max(slowest, (time.perf_counter() - began, f"#{index} ({name})"))
        if outcome == "loaded":
            try:
                saveables.USES[name](loaded)
                outcome = "loaded, used"
            except ValueError:
                outcome = "loaded, use refused (ValueError)"
            except Exception as error:  # noqa: BLE001
                outcome = f"OTHER at use: {type(error).__name__}"
                failures.append(f"#{index} ({name}) use: {error!r:.300}")
        outcomes[outcome] += 1
    print(f"{args.count} crafted files of {len(originals)} genuine objects, seed {args.seed}:")
    for outcome, count in sorted(outcomes.items()):
        print(f"  {outcome}: {count}")
    print(f"  slowest load: {slowest[0] * 1000:.1f} ms ({slowest[1]})")
    for failure in failures[:20]:
        print("  FAILED", failure)
    print(f"  failures: {len(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Do two code trees train the same networks? Short study-profile runs whose every number is written to JSON.

Runs 3 study-profile epochs of a DMS full reservoir, a multitask interleaved run, a switching CB-RNN, a parity
RNN-only and a DMS ensemble of a CB-RNN and a full reservoir, and writes every epoch's training loss, test
accuracy and test loss. Run it once per tree and compare the files: a change that keeps trajectories gives
identical files (on one machine and one environment).

    PYTHONPATH=/path/to/old/tree python benchmarks/trajectory_check.py old.json
    python benchmarks/trajectory_check.py new.json && cmp old.json new.json
"""

from __future__ import annotations

import json
import sys

from cbreservoir.experiments.reproduce import get_profile
from cbreservoir.experiments.reproduce.run import make_cell, run_cell, run_ensemble


def _numbers(run: dict) -> list:
    return [(r["loss"], r["accuracy"], r["test_loss"]) for r in run["history"]["records"]]


def main() -> None:
    profile = get_profile("study").replace(n_epochs=3)
    cells = [
        ("dms", "full_reservoir"),
        ("multitask", "interleaved"),
        ("switching", "cbrnn"),
        ("parity", "rnn"),
    ]
    numbers = {
        f"{task}/{condition}": _numbers(run_cell(make_cell(task, condition, seed=1, profile=profile)))
        for task, condition in cells
    }
    ensemble = [
        make_cell("dms", condition, seed=2, profile=profile) for condition in ("cbrnn", "full_reservoir")
    ]
    for cell, run in zip(ensemble, run_ensemble(ensemble), strict=True):
        numbers[f"ensemble/{cell['condition']}"] = _numbers(run)
    with open(sys.argv[1], "w") as stream:
        json.dump(numbers, stream, indent=1)


if __name__ == "__main__":
    main()

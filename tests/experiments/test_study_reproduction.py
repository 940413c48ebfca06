"""The committed study-profile reproduction (docs/results/study) is what the code computes today.

Each committed run file holds its cell (task, condition, seed, every profile setting); running the same
cell again for its first epochs must give the same levels, the same test accuracies (to a trial or two of
3,200) and the same training losses to float rounding (the committed runs were trained as batched
ensembles of 4 members through the autograd path; today's solo run uses the fused kernel).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cbreservoir.experiments.reproduce.run import run_cell
from cbreservoir.experiments.sweep import read_record

RUNS = Path(__file__).resolve().parents[2] / "docs" / "results" / "study" / "runs"
EPOCHS = 2


def _committed(condition: str, task: str) -> dict:
    for path in sorted(RUNS.glob("*.json")):
        record = read_record(path)  # either record layout (the first, or the one file format's)
        if (record["cell"]["condition"], record["cell"]["task"]) == (condition, task):
            return record
    pytest.fail(f"no committed study run of {condition} on {task} in {RUNS}")


CELLS = [("cbrnn", "dms"), ("rnn", "parity"), ("interleaved", "parity")]


@pytest.mark.parametrize(("condition", "task"), CELLS)
def test_first_epochs_of_a_committed_run_are_reproduced(condition, task):
    record = _committed(condition, task)
    assert record["cell"]["profile"]["name"] == "study"
    cell = {**record["cell"], "profile": {**record["cell"]["profile"], "n_epochs": EPOCHS}}
    fresh = run_cell(cell)
    stored = record["result"]["history"]["records"][:EPOCHS]
    assert fresh["levels"] == record["result"]["levels"][:EPOCHS]
    records = fresh["history"]["records"]
    trials = cell["profile"]["test_batches"] * cell["profile"]["batch_size"]
    # float rounding of today's fused kernel may flip a trial or two of the 3,200 near the decision boundary
    assert [r["accuracy"] for r in records] == pytest.approx([r["accuracy"] for r in stored], abs=2 / trials)
    assert [r["loss"] for r in records] == pytest.approx([r["loss"] for r in stored], rel=1e-6)

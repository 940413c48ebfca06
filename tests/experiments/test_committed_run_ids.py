"""Committed runs stay addressable after the renames of issue 25.

The run-cell ids (hashes of the settings, :func:`~cbreservoir.experiments.sweep.cell_id`) hold no renamed
key, so a resumed reproduction finds the committed runs under docs/results by the ids recomputed from
their recorded settings; their records (``hidden_size``, older model configs) still read.
"""

import json
from pathlib import Path

import pytest

from cbreservoir.experiments.reproduce.pipeline import build_cells, read_settings
from cbreservoir.experiments.reproduce.profiles import Profile
from cbreservoir.experiments.reproduce.run import make_cell
from cbreservoir.experiments.reproduce.summary import record_units, summarize_task
from cbreservoir.experiments.sweep import cell_id, read_result

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"
STUDY = RESULTS / "study"
REPRODUCE_RUNS = sorted((RESULTS / "reproduce").glob("**/runs/*.json"))


STUDY_DIRS = [STUDY, *sorted(path.parent for path in STUDY.glob("*/settings.json"))]
# directories whose reproduction is complete and committed as such (the others may hold a run in progress:
# benchmarks/study_runs.sh adds runs to them, every committed one must still be addressable)
RUN_COUNTS = {"parity300": 16, "reduced": 16}


@pytest.mark.parametrize("directory", STUDY_DIRS, ids=lambda path: path.name)
def test_study_ids_recomputed_from_the_recorded_settings_are_the_committed_file_names(directory):
    settings = read_settings(directory)
    cells = build_cells(
        settings["tasks"],
        settings["conditions"],
        seeds=settings["seeds"],
        profile=Profile(**settings["profile"]),
        granule_sizes=settings["granule_sizes"],
    )
    committed = {path.stem for path in (directory / "runs").glob("*.json")}
    ids = {cell_id(cell) for cell in cells}
    assert committed <= ids
    if directory.name in RUN_COUNTS:
        assert len(committed) == RUN_COUNTS[directory.name] and committed == ids
    for cell in [cell for cell in cells if cell_id(cell) in committed][::8]:  # resume reads them back
        assert read_result(directory / "runs", cell) is not None


@pytest.mark.parametrize("path", REPRODUCE_RUNS[::9], ids=lambda path: path.stem)
def test_reproduce_ids_recomputed_from_the_recorded_cell_settings_are_the_file_names(path):
    cell = json.loads(path.read_text())["cell"]
    rebuilt = make_cell(
        cell["task"], cell["condition"], seed=cell["seed"], profile=Profile(**cell["profile"]),
        n_granule=cell["n_granule"],
    )  # fmt: skip
    assert rebuilt == cell
    assert cell_id(rebuilt) == path.stem
    assert read_result(path.parent, rebuilt) is not None


def test_committed_records_with_hidden_size_still_summarise():
    documents = [json.loads(path.read_text()) for path in sorted((STUDY / "runs").glob("*.json"))]
    runs = [document["result"] for document in documents if "result" in document]  # the first layout
    runs = [run for run in runs if run["seed"] < 4]  # seeds 0-3: written before the rename
    assert len(runs) == 32 and all("hidden_size" in run and "units" not in run for run in runs)
    parity = [run for run in runs if run["task"] == "parity"]
    summary = summarize_task("parity", parity, n_epochs=parity[0]["profile"]["n_epochs"])
    rnn = next(row for row in summary["rows"] if row["condition"] == "rnn")
    assert rnn["units"] == record_units(next(run for run in parity if run["condition"] == "rnn"))
    assert rnn["label"].endswith(f"(H = {rnn['units']})")


def test_record_units_reads_either_key_and_names_both_when_missing():
    assert record_units({"units": 64}) == record_units({"hidden_size": 64}) == 64
    with pytest.raises(KeyError, match="'units' \\(or the older 'hidden_size'\\)"):
        record_units({"n_granule": 256})

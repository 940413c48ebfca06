"""The reproduce settings are declared once (``REPRODUCE_SETTINGS``): ``reproduce``'s keywords, the sweep
config's keys and the command line's flags come from there, and the committed settings records still read."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cbreservoir.cli import build_parser
from cbreservoir.experiments.reproduce import CONFIG_KEYS, build_cells, check_arguments, pipeline, reproduce
from cbreservoir.experiments.reproduce.pipeline import read_settings, settings_record
from cbreservoir.experiments.reproduce.profiles import Profile, get_profile
from cbreservoir.experiments.reproduce_settings import (
    PARALLEL_SETTINGS,
    REPRODUCE_DEFAULTS,
    REPRODUCE_SETTINGS,
    SEEDS,
)
from cbreservoir.experiments.sweep import cell_id
from cbreservoir.utils.checks import MAX_SEED

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"
SETTINGS_FILES = sorted(RESULTS.glob("**/settings.json"))


def _subparser(name: str):
    return build_parser()._subparsers._group_actions[0].choices[name]


def _flags(parser) -> dict[str, object]:
    return {action.dest: action for action in parser._actions}


def test_reproduce_keywords_are_the_declared_settings_with_their_defaults():
    parameters = inspect.signature(reproduce).parameters
    declared = {name: parameters[name].default for name in REPRODUCE_DEFAULTS if name != "task"}
    assert declared == {name: value for name, value in REPRODUCE_DEFAULTS.items() if name != "task"}
    run_only = set(parameters) - set(REPRODUCE_DEFAULTS)
    assert run_only == {"progress", "keep_checkpoints"}  # how it runs, not what: no config key
    assert set(CONFIG_KEYS) == {"tasks", *REPRODUCE_DEFAULTS} - {"task"}


def test_the_command_line_flags_come_from_the_declared_settings():
    flags = _flags(_subparser("reproduce"))
    for setting in REPRODUCE_SETTINGS:
        dest = {"granule_sizes": "scaling"}.get(setting.name, setting.name)
        assert flags[dest].help == setting.help
        if setting.name not in ("granule_sizes",):
            assert flags[dest].metavar == setting.metavar
        assert flags[dest].default in (None, [], False)  # absent flags leave the setting's default
    sweep = _flags(_subparser("sweep"))
    assert {name for name in REPRODUCE_DEFAULTS if name in sweep} == {*PARALLEL_SETTINGS, "output_dir"}
    for name in PARALLEL_SETTINGS:
        assert sweep[name].help == flags[name].help


def test_defaults_apply_when_nothing_is_given(tmp_path):
    arguments = check_arguments("dms", output_dir=tmp_path / "o")
    assert arguments["profile"] == get_profile(REPRODUCE_DEFAULTS["profile"])
    assert arguments["seeds"] == list(range(arguments["profile"].n_seeds))
    assert arguments["backend"] == REPRODUCE_DEFAULTS["backend"]
    assert arguments["ensemble"] == REPRODUCE_DEFAULTS["ensemble"]
    assert "overrides" not in arguments  # applied to the profile


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"profile": 3}, TypeError, r"profile must be a profile name or a Profile; got 3"),
        ({"task": None}, TypeError, r"task must be a name or a list of names; got None"),
        ({"conditions": 5}, TypeError, r"conditions must be a name or a list of names; got 5"),
        ({"conditions": []}, ValueError, r"conditions must be among \[.*\]; got \[\]"),
        ({"seeds": [1, 1]}, ValueError, r"seeds must be distinct; got \[1, 1\]"),
        ({"seeds": 2.0}, TypeError, r"seeds must be a count in \[1, .*got 2.0"),
        ({"n_jobs": "2"}, TypeError, r"n_jobs must be an int in .*got '2'"),
        ({"scheduler": 5}, TypeError, r"scheduler must be an address 'tcp://HOST:PORT'; got 5"),
        ({"backend": 5}, TypeError, r"backend must be a string; got 5"),
    ],
)
def test_each_setting_is_checked_by_its_declared_constraint(tmp_path, arguments, error, message):
    arguments = {"task": "dms", "output_dir": tmp_path / "o", **arguments}
    with pytest.raises(error, match=message):
        check_arguments(arguments.pop("task"), **arguments)
    assert not (tmp_path / "o").exists()


@settings(max_examples=25, deadline=None)
@given(st.one_of(st.integers(1, 50), st.lists(st.integers(0, MAX_SEED), min_size=1, max_size=6, unique=True)))
def test_seeds_are_a_count_or_distinct_seeds(seeds):
    checked = SEEDS(seeds, "seeds")
    assert checked == (list(range(seeds)) if isinstance(seeds, int) else seeds)
    assert SEEDS(tuple(checked), "seeds") == checked


@pytest.mark.parametrize("path", SETTINGS_FILES, ids=lambda path: str(path.parent.relative_to(RESULTS)))
def test_a_committed_settings_record_reads_back_to_the_same_record_and_runs(tmp_path, path):
    stored = read_settings(path.parent)
    profile = Profile(**stored["profile"])
    base = get_profile(profile.name)
    changed = {key: value for key, value in stored["profile"].items() if getattr(base, key) != value}
    arguments = check_arguments(
        stored["tasks"],
        profile=profile.name,
        overrides={key: tuple(value) if key == "granule_sizes" else value for key, value in changed.items()},
        seeds=stored["seeds"],
        conditions=stored["conditions"],
        granule_sizes=stored["granule_sizes"] or None,
        output_dir=tmp_path / "out",
    )
    assert arguments["profile"] == profile  # the --set route gives the recorded profile
    record = settings_record(arguments)
    assert json.dumps(record, indent=1, sort_keys=True) == path.read_text()  # written bitwise the same
    cells = build_cells(
        arguments["task"],
        arguments["conditions"],
        seeds=arguments["seeds"],
        profile=arguments["profile"],
        granule_sizes=arguments["granule_sizes"],
    )
    committed = {run.stem for run in (path.parent / "runs").glob("*.json")}
    assert committed <= {cell_id(cell) for cell in cells}


class _Submitted(Exception):
    """Raised by the stand-in sweep once it has seen what would be submitted."""


def test_checkpoints_are_resolved_where_the_sweep_is_submitted(tmp_path, monkeypatch):
    """A dask worker resolves a relative path from its own working directory: the runner gets an absolute
    one, the launching process's ``<output_dir>/checkpoints``."""
    seen = {}

    def submitted(cells, runner, **options):
        seen.update(runner.keywords)
        raise _Submitted

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pipeline, "run_sweep", submitted)
    with pytest.raises(_Submitted):
        reproduce("dms", output_dir="relative/out", seeds=1, conditions=["rnn"], progress=False)
    root = Path(seen["checkpoint_root"])
    assert root.is_absolute() and root == tmp_path / "relative" / "out" / "checkpoints"

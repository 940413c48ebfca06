"""Bad input to the command line (exit code 2 and a message, before any work), run_sweep and load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import cbreservoir
from cbreservoir.cli import main
from cbreservoir.experiments.sweep import run_sweep
from cbreservoir.io import FORMAT_NAME, FORMAT_VERSION, HEADER_KEY
from cbreservoir.models import build_model
from tests.support import assert_rejected, count

HYPOTHESIS = settings(max_examples=25, deadline=None)


def _square(cell: dict) -> dict:
    return {"value": cell["x"] ** 2}


def _exits_with_usage_error(argv: list[str], capsys: pytest.CaptureFixture, match: str) -> None:
    count("cli.main")
    code = main(argv)
    error = capsys.readouterr().err
    assert code == 2, f"{argv}: exit code {code}, stderr {error!r}"
    assert match.lower() in error.lower(), f"{argv}: {error!r} does not mention {match!r}"
    assert "Traceback" not in error


def _config(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# ------------------------------------------------------------------------------------------------ CLI

CLI_BAD = [
    (["nonsense"], "invalid choice"),
    (["train", "--n", "0"], "--n"),
    (["train", "--n", "x"], "--n"),
    (["train", "--steps", "-1"], "--steps"),
    (["train", "--learning-rate", "nan"], "--learning-rate"),
    (["train", "--learning-rate", "-1"], "--learning-rate"),
    (["train", "--seed", "1.5"], "--seed"),
    (["train", "--ensemble", "0"], "--ensemble"),
    (["train", "--model", "transformer"], "model"),
    (["train", "--model", "gru", "--ensemble", "2"], "model"),
    (["train", "--schedule", "never", "--epochs", "1"], "schedule"),
    (["reproduce", "--profile", "huge"], "profile"),
    (["reproduce", "--task", "chess"], "task"),
    (["reproduce", "--set", "n_epochs"], "KEY=VALUE"),
    (["reproduce", "--set", "nope=3"], "nope"),
    (["reproduce", "--set", "n_epochs=-2"], "n_epochs"),
    (["reproduce", "--conditions", "magic"], "conditions"),
    (["reproduce", "--seeds", "0"], "--seeds"),
    (["reproduce", "--n-jobs", "0"], "--n-jobs"),
    (["demo", "--seed", "x"], "--seed"),
    (["train", "--seed", "-1"], "seed"),
    (["train", "--device", "abacus"], "device"),
    (["train", "--task", "dms", "--n", "1"], "n"),
    (["reproduce", "--backend", "mpi"], "backend"),
    (["bench", "--device", "abacus"], "device"),
    (["train", "--task", "dms", "--n", "1", "--epochs", "1"], "n (the task level n)"),
    (["analyze", "--seed", "-3"], "--seed"),
    (["sweep", "missing.yaml", "--backend", "mpi"], "missing.yaml"),
]


@pytest.mark.parametrize(
    "argv, match",
    CLI_BAD,
)
def test_cli_refuses_bad_options(argv: list[str], match: str, capsys: pytest.CaptureFixture) -> None:
    small = ["--steps", "1", "--test-batches", "1", "--batch-size", "2"] if argv[0] == "train" else []
    if argv[0] == "train" and "--epochs" not in argv:
        small += ["--mode", "fixed_level"]
    _exits_with_usage_error(argv + small + ["--quiet"], capsys, match)


@pytest.mark.parametrize(
    "command, name, text, match",
    [
        ("train", "missing.json", None, "cannot read"),
        ("train", "task.json", '{"model": "cbrnn", "task": "chess"}', "task"),
        ("train", "key.json", '{"modell": "cbrnn"}', "modell"),
        ("train", "n.json", '{"n": -3}', "'n'"),
        ("train", "seed.json", '{"seed": -1}', "'seed'"),
        ("train", "device.json", '{"device": "abacus"}', "'device'"),
        ("train", "list.json", "[1, 2]", "mapping"),
        ("train", "truncated.json", '{"n": ', "parse"),
        ("train", "broken.yaml", "model: [cbrnn\n", "broken.yaml"),
        ("sweep", "missing.yaml", None, "cannot read"),
        ("sweep", "empty.json", "{}", "tasks"),
        ("sweep", "truncated.json", '{"tasks": ', "parse"),
        ("sweep", "list.json", "[1]", "mapping"),
    ],
)
def test_cli_refuses_bad_config_files(
    command: str, name: str, text: str | None, match: str, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    path = str(tmp_path / name) if text is None else _config(tmp_path, name, text)
    argv = ["train", "--mode", "fixed_level", "--config", path] if command == "train" else ["sweep", path]
    _exits_with_usage_error(argv + ["--quiet"], capsys, match)


@HYPOTHESIS
@given(
    flag=st.sampled_from(["--n", "--steps", "--batch-size", "--test-batches", "--n-granule", "--ensemble"]),
    value=st.one_of(st.integers(max_value=0), st.text(alphabet="abc.-", min_size=1, max_size=4)),
)
def test_cli_refuses_any_non_positive_size(flag: str, value: object) -> None:
    count("cli.main")
    assert main(["train", flag, str(value), "--quiet"]) == 2


# ---------------------------------------------------------------------------------------------- sweep


@pytest.mark.parametrize(
    "cells, fn, kwargs, match",
    [
        ([{"x": 1}, {"x": 1}], _square, {}, "distinct"),
        ([{"x": 1}, 3], _square, {}, "dict"),
        ([{1: 2}], _square, {}, "string keys"),
        ([{"x": object()}], _square, {}, "JSON"),
        ([{"x": 1}], "not callable", {}, "callable"),
        ([{"x": 1}], _square, {"backend": "mpi"}, "backend"),
        ([{"x": 1}], _square, {"backend": "loky", "scheduler": "tcp://x:1"}, "scheduler"),
        ([{"x": 1}], lambda cell: [cell["x"]], {"backend": "sequential"}, "dict"),
    ],
)
def test_run_sweep_rejects_bad_arguments(
    cells: list, fn: object, kwargs: dict, match: str, tmp_path: Path
) -> None:
    call = lambda: run_sweep(cells, fn, output_dir=tmp_path / "sweep", progress=False, **kwargs)  # noqa: E731
    assert_rejected("run_sweep", call, match=match)
    assert not list((tmp_path / "sweep").glob("*.json")) if (tmp_path / "sweep").exists() else True


# ----------------------------------------------------------------------------------------------- load


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    model = build_model("cbrnn", input_dim=1, units=4, n_granule=8, n_purkinje=4, seed=0)
    path = tmp_path_factory.mktemp("saved") / "model.npz"
    cbreservoir.save(model, path)
    return path, model


@HYPOTHESIS
@given(data=st.data())
def test_load_detects_any_corruption(saved_model, data: st.DataObject, tmp_path_factory) -> None:
    """Flipped bytes or a truncation: load raises ValueError, or returns an object equal to the saved one."""
    path, model = saved_model
    raw = bytearray(path.read_bytes())
    if data.draw(st.booleans(), label="truncate"):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1), label="length")]
    else:
        for position in data.draw(
            st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=4), label="flips"
        ):
            raw[position] ^= data.draw(st.integers(1, 255), label="mask")
    damaged = tmp_path_factory.mktemp("damaged") / "model.npz"
    damaged.write_bytes(bytes(raw))
    count("load")
    try:
        loaded = cbreservoir.load(damaged)
    except ValueError as error:
        assert str(damaged) in str(error)
        return
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


@pytest.mark.parametrize(
    "content, error, match",
    [
        (None, FileNotFoundError, "no such file"),
        (b"", ValueError, "not a readable"),
        (b"hello world", ValueError, "not a readable"),
        ("npz_without_header", ValueError, "not a cbreservoir file"),
        ("wrong_version", ValueError, "version"),
    ],
)
def test_load_rejects_files_that_are_not_cbreservoir_files(
    content, error: type, match: str, tmp_path: Path
) -> None:
    count("load")
    path = tmp_path / "file.npz"
    if content == "npz_without_header":
        np.savez(path, a=np.zeros(3))
    elif content == "wrong_version":
        header = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION + 1}
        np.savez(path, **{HEADER_KEY: np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)})
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(error, match=match):
        cbreservoir.load(path)

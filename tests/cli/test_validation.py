"""Issue 19, part 5: every bad config/CLI value is refused (exit 2 / ValueError or TypeError) before any work.

Each case names the key, the allowed range and the value; "before any work" is checked by the absence of
any output directory or checkpoint after the refusal and by the run function never being called.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cbreservoir.cli import EXIT_USAGE, main
from cbreservoir.experiments.reproduce import (
    check_arguments,
    config_arguments,
    get_profile,
    reproduce,
    run_config_sweep,
)
from cbreservoir.experiments.sweep import run_sweep
from cbreservoir.utils.checks import (
    MAX_SEED,
    SettingsMismatchError,
    check_int,
    check_n_jobs,
    check_resume_settings,
    check_writable_directory,
)

#: (config key or override, value, what the message must hold: the key, the range, the value)
SWEEP_CONFIG_CASES = [
    ({"seeds": [-1]}, r"seeds\[0\] must be an int in \[0, 4294967295\]; got -1"),
    ({"seeds": 0}, r"seeds must be an int in \[1, 2147483647\]; got 0"),
    ({"seeds": "three"}, r"seeds must be a count in \[1, .*got 'three'"),
    ({"n_jobs": 0}, r"n_jobs must be an int >= 1 .*got 0"),
    ({"n_jobs": 1.5}, r"n_jobs must be an int in .*got 1.5"),
    ({"output_dir": 5}, r"output_dir must be a path .*got 5"),
    ({"backend": "foo"}, r"backend must be one of \['loky', 'threading', 'sequential', 'dask'\]; got 'foo'"),
    ({"ensemble": 0}, r"ensemble must be an int in \[1, 2147483647\]; got 0"),
    ({"granule_sizes": [-5]}, r"granule_sizes\[0\] must be an int in \[1, 2147483647\]; got -5"),
    ({"granule_sizes": 64}, r"granule_sizes must be a list of ints in \[1, 2147483647\]; got 64"),
    ({"scheduler": "tcp://h:1"}, r"scheduler applies to backend 'dask' only; got backend 'loky'"),
    ({"tasks": 5}, r"task must be a name or a list of names; got 5"),
    ({"tasks": ["nope"]}, r"task must be among .*got \['nope'\]"),
    ({"conditions": ["nope"]}, r"conditions must be among .*got \['nope'\]"),
    ({"profile": "huge"}, r"profile must be one of .*got 'huge'"),
    ({"overrides": [1]}, r"overrides must be a dict of profile settings; got \[1\]"),
    ({"overrides": {"learning_rate": float("nan")}}, r"Profile.learning_rate must be .* > 0.0; got nan"),
    ({"overrides": {"learning_rate": "abc"}}, r"Profile.learning_rate must be a real .* > 0.0; got 'abc'"),
    ({"overrides": {"clip_norm": 0}}, r"Profile.clip_norm must be a finite number > 0.0; got 0"),
    ({"overrides": {"momentum": -0.5}}, r"Profile.momentum must be a finite number in \[0, 1\); got -0.5"),
    ({"overrides": {"momentum": 1.0}}, r"Profile.momentum must be a finite number in \[0, 1\); got 1.0"),
    ({"overrides": {"start_level": 0}}, r"Profile.start_level must be an int in \[1, 2147483647\]; got 0"),
    (
        {"overrides": {"start_level": 1}},
        r"Profile.start_level \(the task level N\) for task 'dms' must be an int in \[2, inf\]; got 1",
    ),
    ({"overrides": {"granule_sizes": [-5]}}, r"Profile.granule_sizes\[0\] must be an int in \[1, .*got -5"),
    ({"overrides": {"switching_window": -3}}, r"Profile.switching_window must be an int in \[0, .*got -3"),
    ({"overrides": {"feedforward_core_epochs": -1}}, r"Profile.feedforward_core_epochs .*\[0, .*got -1"),
    ({"overrides": {"name": None}}, r"Profile.name must be a non-empty string; got None"),
    ({"overrides": {"threshold": 1.5}}, r"Profile.threshold must be a finite number in \(0, 1\]; got 1.5"),
    ({"overrides": {"n_epochs": True}}, r"Profile.n_epochs must be an int in \[1, .*got True"),
    ({"overrides": {"batch_size": 10**20}}, r"Profile.batch_size must be an int in \[1, 2147483647\]; got 1"),
    ({"overrides": {"nope": 1}}, r"unknown profile setting\(s\) \['nope'\]"),
    ({"nope": 1}, r"unknown config key\(s\) \['nope'\]"),
]


def _never_called(cell: dict) -> dict:
    raise AssertionError("the run function must not be called for a refused configuration")


@pytest.mark.parametrize(("change", "message"), SWEEP_CONFIG_CASES)
def test_sweep_config_values_are_refused_before_any_run(tmp_path, capsys, change, message):
    config = {"tasks": ["dms"], "output_dir": str(tmp_path / "out"), "seeds": 1, **change}
    with pytest.raises((ValueError, TypeError), match=message):
        run_config_sweep(config, progress=False)
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(config, allow_nan=True))
    assert main(["sweep", str(path), "--quiet"]) == EXIT_USAGE
    error = capsys.readouterr().err
    assert f"config file {path}" in error and "error:" in error
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["learning_rate=NaN"], r"Profile.learning_rate must be a finite number > 0.0; got nan"),
        (["learning_rate=abc"], r"Profile.learning_rate must be a real number > 0.0; got 'abc'"),
        (["switching_window=-3"], r"Profile.switching_window must be an int in \[0, .*got -3"),
        (["feedforward_core_epochs=-1"], r"Profile.feedforward_core_epochs must be an int in \[0, .*got -1"),
        (["name=null"], r"Profile.name must be a non-empty string; got None"),
        (["clip_norm=-1"], r"Profile.clip_norm must be a finite number > 0.0; got -1"),
    ],
)
def test_reproduce_overrides_are_refused_before_any_run(tmp_path, capsys, overrides, message):
    out = tmp_path / "out"
    argv = ["reproduce", "--task", "dms", "--output-dir", str(out), "--quiet"]
    assert main(argv + [item for override in overrides for item in ("--set", override)]) == EXIT_USAGE
    assert __import__("re").search(message, capsys.readouterr().err)
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--steps", "99999999999999999999"], r"--steps: expected an integer in \[1, 2147483647\], got '9+'"),
        (["--seed", "18446744073709551617"], r"--seed: expected an integer in \[0, 4294967295\], got '1844"),
        (["--seed", "-1"], r"--seed: expected an integer in \[0, 4294967295\], got '-1'"),
        (["--learning-rate", "nan"], r"--learning-rate: expected a finite number > 0, got 'nan'"),
        (["--learning-rate", "1e999"], r"--learning-rate: expected a finite number > 0, got '1e999'"),
        (["--ensemble", "0"], r"--ensemble: expected an integer in \[1, 2147483647\], got '0'"),
        (["--device", "meta"], r"--device: expected a device of type cpu, cuda or mps, got 'meta'"),
        (["--device", "nonsense"], r"--device: expected a torch device such as cpu .*got 'nonsense'"),
        (["--seed", str(MAX_SEED), "--ensemble", "2"], r"'seed' \+ 'ensemble' - 1 .* must be <= 4294967295"),
        (["--ensemble", "100000", "--steps", "1"], r"'ensemble' = 100000 is too large for this machine"),
        (["--epochs", "1", "--save", "model.npz"], r"'save' must name a \.cbr file .*got 'model\.npz'"),
        (["--epochs", "1", "--save", "model"], r"'save' must name a \.cbr file .*got 'model'"),
        (["--epochs", "1", "--save", "/proc/self/no/model.cbr"], r"'save' \(its directory\) must be a dir"),
        (["--epochs", "1", "--save", "/etc/hostname/model.cbr"], r"is not a directory"),
        (["--epochs", "1", "--checkpoint-dir", "/proc/self/no"], r"'checkpoint_dir' must be a directory"),
    ],
)
def test_train_values_are_refused_before_any_run(capsys, argv, message):
    mode = [] if "--epochs" in argv else ["--mode", "fixed_level"]
    assert main(["train", "--quiet", *mode, *argv]) == EXIT_USAGE
    assert __import__("re").search(message, capsys.readouterr().err)


def test_cuda_without_cuda_is_a_clean_usage_error(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["train", "--quiet", "--device", "cuda"]) == EXIT_USAGE
    assert "device 'cuda' is not available on this machine (0 cuda device(s))" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("run.yaml", bytes(range(256)), "must be UTF-8 text"),
        ("run.json", b"[" * 100_000, "does not parse"),
        ("run.yaml", b"steps: 99999999999999999999\n", r"'steps' in config file .*\[1, 2147483647\]"),
        ("run.yaml", b"seed: 18446744073709551617\n", r"'seed' in config file .*\[0, 4294967295\]"),
        ("run.yaml", b"ensemble: [1]\n", r"'ensemble' in config file"),
    ],
)
def test_bad_train_config_files_exit_2(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    assert main(["train", "--quiet", "--mode", "fixed_level", "--config", str(path)]) == EXIT_USAGE
    assert __import__("re").search(message, capsys.readouterr().err)


def test_binary_sweep_config_exits_2(tmp_path, capsys):
    path = tmp_path / "grid.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    assert main(["sweep", str(path), "--quiet"]) == EXIT_USAGE
    assert "must be UTF-8 text" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n_jobs": 0}, ValueError, "n_jobs must be an int >= 1"),
        ({"output_dir": 5}, TypeError, "output_dir must be a path"),
        ({"backend": "foo"}, ValueError, "backend must be one of"),
        ({"group_size": 0}, ValueError, "group_size must be a positive int"),
    ],
)
def test_run_sweep_checks_its_arguments_before_any_run(tmp_path, kwargs, error, message):
    arguments = {"output_dir": tmp_path / "out", **kwargs}
    with pytest.raises(error, match=message):
        run_sweep([{"seed": 0}], _never_called, progress=False, **arguments)
    assert not (tmp_path / "out").exists()


def test_check_arguments_normalises_valid_values(tmp_path):
    arguments = check_arguments("dms", seeds=[3, 1], output_dir=tmp_path / "o", granule_sizes=(64,))
    assert arguments["task"] == ("dms",) and arguments["seeds"] == [3, 1]
    assert arguments["granule_sizes"] == [64] and arguments["output_dir"] == str(tmp_path / "o")
    assert config_arguments({"tasks": "dms", "overrides": {"n_epochs": 2}})["profile"].n_epochs == 2
    assert not (tmp_path / "o").exists()


def test_reproduce_takes_the_set_overrides_with_the_same_checks(tmp_path):
    from cbreservoir.cli.options import _parse_overrides

    given = check_arguments("dms", profile="quick", overrides={"n_epochs": 40, "threshold": 0.9})
    through_set = check_arguments("dms", overrides=_parse_overrides(["n_epochs=40", "threshold=0.9"]))
    expected = get_profile("quick").replace(n_epochs=40, threshold=0.9)
    assert given["profile"] == through_set["profile"] == expected
    with pytest.raises(ValueError, match=r"unknown profile setting\(s\) \['n_epoch'\]"):
        reproduce("dms", overrides={"n_epoch": 40}, output_dir=tmp_path / "o")
    with pytest.raises(TypeError, match="Profile.n_epochs must be an int"):
        reproduce("dms", overrides={"n_epochs": "many"}, output_dir=tmp_path / "o")
    with pytest.raises(TypeError, match=r"unknown reproduce argument\(s\) \['epochs'\]"):
        check_arguments("dms", epochs=3)
    assert not (tmp_path / "o").exists()


def test_check_int_names_the_range_and_the_value():
    assert check_int(3, "k", minimum=1, maximum=5) == 3
    with pytest.raises(ValueError, match=r"k must be an int in \[1, 5\]; got 6"):
        check_int(6, "k", minimum=1, maximum=5)
    with pytest.raises(TypeError, match=r"k must be an int in \[-inf, inf\]; got '3'"):
        check_int("3", "k")
    assert check_n_jobs(-1) == -1


def test_check_writable_directory_needs_no_existing_directory(tmp_path):
    assert check_writable_directory(tmp_path / "a" / "b", "d") == str(tmp_path / "a" / "b")
    assert not (tmp_path / "a").exists()
    assert [path.name for path in tmp_path.iterdir()] == []  # the probe is gone


def test_check_resume_settings_lists_every_difference_and_lets_the_budget_grow():
    stored = {"profile": {"n_epochs": 5, "learning_rate": 0.01}, "tasks": ["dms"]}
    check_resume_settings(stored, {"profile": {"n_epochs": 9, "learning_rate": 0.01}, "tasks": ["dms"]},
                          where="d", may_grow=("profile.n_epochs",))
    with pytest.raises(SettingsMismatchError) as caught:
        check_resume_settings(stored, {"profile": {"n_epochs": 4, "learning_rate": 0.5}, "tasks": ["parity"]},
                              where="d", may_grow=("profile.n_epochs",))
    message = str(caught.value)
    for difference in ("profile.n_epochs: 5 -> 4", "profile.learning_rate: 0.01 -> 0.5",
                       "tasks: ['dms'] -> ['parity']"):
        assert difference in message
    assert isinstance(caught.value, ValueError)


def test_profile_checks_live_in_validation():
    profile = get_profile("quick")
    assert profile.replace(momentum=0.0).momentum == 0.0
    with pytest.raises(TypeError, match="Profile.granule_sizes must be a list of ints"):
        profile.replace(granule_sizes="64")


def test_refused_sweep_config_leaves_no_directory(tmp_path, capsys):
    out = tmp_path / "never"
    path = Path(tmp_path / "grid.yaml")
    path.write_text(f"tasks: [dms]\noutput_dir: {out}\nseeds: [-1]\n")
    assert main(["sweep", str(path), "--quiet"]) == EXIT_USAGE
    assert not out.exists()


def test_the_save_suffix_is_the_io_one(tmp_path, capsys):
    """``train --save`` checks the suffix cbreservoir.io documents (``cbreservoir.save`` writes any)."""
    import cbreservoir.io

    path = tmp_path / f"model{cbreservoir.io.FILE_SUFFIX.upper()}"
    assert main(["train", "--quiet", "--epochs", "1", "--save", str(path)]) == EXIT_USAGE
    assert f"must name a {cbreservoir.io.FILE_SUFFIX} file" in capsys.readouterr().err
    assert not path.exists()

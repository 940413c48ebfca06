"""The ``cbreservoir`` command line: help, exit codes, usage and config errors, JSON output, subcommands."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import pytest

import cbreservoir
from cbreservoir.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from cbreservoir.experiments.sweep import read_record

SUBCOMMANDS = ["demo", "train", "reproduce", "sweep", "analyze", "bench"]

#: Tiny curriculum settings shared by the training tests (seconds, not minutes).
TINY_TRAIN = ["--steps", "2", "--test-batches", "1", "--batch-size", "8", "--n-granule", "16"]
TINY_PROFILE = ["--set", "n_epochs=1", "--set", "steps_per_epoch=2", "--set", "test_batches=1",
                "--set", "batch_size=8"]  # fmt: skip


def run_json(capsys, argv: list[str]) -> tuple[int, dict]:
    """Run ``main(argv + ["--json"])`` and parse stdout, which must be exactly one JSON document."""
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


# ----------------------------------------------------------------------------------------- help, usage


def test_help_lists_every_subcommand_with_examples(capsys):
    assert main(["--help"]) == EXIT_OK
    out = capsys.readouterr().out
    for command in SUBCOMMANDS:
        assert command in out
    assert "cbreservoir train --mode fixed_level --model cbrnn --task dms --n 5 --steps 200" in out


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_each_subcommand_has_help_with_an_example(capsys, command):
    assert main([command, "--help"]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"cbreservoir {command}" in out and "--json" in out and "--quiet" in out


def test_version(capsys):
    assert main(["--version"]) == EXIT_OK
    assert capsys.readouterr().out.strip() == f"cbreservoir {cbreservoir.__version__}"


def test_help_imports_no_subcommand_implementation():
    code = (
        "import sys; from cbreservoir.cli import main; main(['--help']); main(['train', '--help']); "
        "heavy = [m for m in ('torch', 'reservoirpy', 'cbreservoir.experiments.reproduce', "
        "'cbreservoir.models') "
        "if m in sys.modules]; print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_process_exit_codes():
    """``python -m cbreservoir.cli`` (what the console script runs) exits with main's code."""
    for argv, code in [(["--version"], EXIT_OK), (["train", "--steps", "x"], EXIT_USAGE)]:
        done = subprocess.run(
            [sys.executable, "-m", "cbreservoir.cli", *argv], capture_output=True, text=True
        )
        assert done.returncode == code


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required: COMMAND"),
        (["fly"], "invalid choice: 'fly'"),
        (["train", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        (["train", "--steps", "zero"], "expected an integer in [1, 2147483647], got 'zero'"),
        (["train", "--steps", "0"], "expected an integer in [1, 2147483647], got '0'"),
        (["train", "--learning-rate", "nan"], "expected a finite number > 0, got 'nan'"),
        (["sweep"], "the following arguments are required: config"),
    ],
)
def test_bad_usage_exits_2_with_a_message(capsys, argv, message):
    assert main(argv) == EXIT_USAGE
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        ("--model", "transformer", "['cbrnn', 'rnn', 'gru', 'gru_cb', 'lstm', 'lstm_cb', 'rnn_aux']"),
        ("--task", "chess", "['dms', 'parity', 'mod3', 'multitask', 'switching']"),
        (
            "--schedule",
            "sometimes",
            "['adaptive', 'end_to_end', 'full_reservoir', 'interleaved', 'reduced_recurrent']",
        ),
    ],
)
def test_bad_choice_exits_2_naming_the_allowed_values(capsys, option, value, allowed):
    assert main(["train", option, value, "--epochs", "1"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"{option[2:]} must be one of {allowed}; got '{value}'" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "gru"], "model must be one of ['cbrnn', 'rnn']; got 'gru'"),
        (["--task", "multitask"], "task must be one of ['dms', 'parity', 'mod3']; got 'multitask'"),
        (["--save", "x.npz"], "'save' applies to curriculum training (mode 'curriculum'), got 'x.npz'"),
        (["--schedule", "full_reservoir"], "'schedule' applies to curriculum training"),
        (["--epochs", "2"], "'epochs' applies to curriculum training (mode 'curriculum'), got 2"),
    ],
)
def test_fixed_level_usage_errors(capsys, argv, message):
    assert main(["train", "--mode", "fixed_level", *argv]) == EXIT_USAGE
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- configs


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "run.yaml",
            "model: cbrnn\nepoch: 3\n",
            "unknown key 'epoch' in config file run.yaml; allowed keys: [",
        ),
        (
            "run.json",
            '{"steps": "many"}',
            "'steps' in config file run.json: expected an integer in [1, 2147483647], got 'many'",
        ),
        (
            "run.json",
            '{"seed": [1, 2]}',
            "'seed' in config file run.json: expected an integer in [0, 4294967295], got [1, 2]",
        ),
        ("run.yaml", "model: [unclosed\n", "config file run.yaml does not parse"),
        ("run.json", "[1, 2]", "config file run.json must hold a mapping of settings, got list"),
        ("run.toml", "model = 'cbrnn'", "must end in one of ['.json', '.yaml', '.yml'], got '.toml'"),
        ("run.yaml", "model: transformer\nepochs: 1\n", "model must be one of ['cbrnn', 'rnn'"),
    ],
)
def test_config_errors_exit_2_naming_the_key(capsys, tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    assert main(["train", "--config", name]) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_missing_config_file_is_a_usage_error(capsys):
    assert main(["train", "--config", "absent.yaml"]) == EXIT_USAGE
    assert "cannot read config file absent.yaml" in capsys.readouterr().err


def test_flags_override_the_config_file_which_overrides_defaults(capsys, tmp_path):
    (tmp_path / "run.yaml").write_text("model: rnn\ntask: parity\nepochs: 1\nbatch-size: 8\nseed: 5\n")
    code, result = run_json(capsys, ["train", "--config", "run.yaml", "--seed", "7", *TINY_TRAIN[:4]])
    assert code == EXIT_OK
    settings = result["settings"]
    assert (settings["model"], settings["task"], settings["epochs"]) == ("rnn", "parity", 1)
    assert (settings["batch_size"], settings["seed"], settings["steps"]) == (8, 7, 2)
    assert settings["learning_rate"] == 0.01  # default


# ------------------------------------------------------------------------------------------------ train


FIXED = ["--mode", "fixed_level", "--n", "3", "--steps", "2", "--batch-size", "8", "--test-batches", "1"]


def test_train_fixed_level_ensemble_json(capsys):
    """The issue's command, on tiny settings: E members at a fixed level, each member's test accuracy."""
    code, result = run_json(capsys, ["train", "--model", "cbrnn", "--task", "dms", *FIXED, "--ensemble", "3"])
    assert code == EXIT_OK
    assert result["mode"] == "fixed_level" and result["ensemble"] == 3 and result["seeds"] == [0, 1, 2]
    assert len(result["accuracy"]) == 3 and all(0 <= accuracy <= 1 for accuracy in result["accuracy"])
    assert result["parameters"] == 41922 and result["seconds"] > 0


def test_train_fixed_level_single_rnn_is_the_matched_baseline(capsys):
    code, result = run_json(capsys, ["train", "--model", "rnn", "--task", "parity", *FIXED, "--seed", "4"])
    assert code == EXIT_OK
    assert (result["ensemble"], result["units"], result["parameters"]) == (1, 202, 41816)
    assert result["seeds"] == [4]


def test_ensemble_curriculum_member_equals_the_solo_run(capsys, tmp_path):
    base = ["train", "--model", "cbrnn", "--epochs", "2", *TINY_TRAIN, "--seed", "5"]
    _, ensemble = run_json(capsys, [*base, "--ensemble", "2", "--save", "ensemble.cbr"])
    _, solo = run_json(capsys, base)
    assert ensemble["seeds"] == [5, 6]
    assert ensemble["levels"][0] == solo["levels"] and ensemble["accuracy"][0] == solo["accuracy"]
    assert len(ensemble["max_level"]) == 2
    assert len(cbreservoir.load(tmp_path / "ensemble.cbr").members) == 2


def test_train_curriculum_json_and_save(capsys, tmp_path):
    argv = ["train", "--model", "cbrnn", "--task", "dms", "--epochs", "2", *TINY_TRAIN, "--save", "m.cbr"]
    code, result = run_json(capsys, argv)
    assert code == EXIT_OK
    assert result["mode"] == "curriculum"
    assert len(result["levels"]) == len(result["accuracy"]) == 2
    assert result["max_level"] == max(result["levels"]) >= 2
    assert all(0.0 <= accuracy <= 1.0 for accuracy in result["accuracy"])
    assert result["wall_seconds"] > 0

    model = cbreservoir.load(tmp_path / "m.cbr")
    assert model.config["kind"] == "cbrnn" and model.config["n_granule"] == 16
    assert result["n_parameters"] == sum(p.numel() for p in model.parameters())


def test_train_rnn_is_the_parameter_matched_baseline(capsys):
    _, cbrnn = run_json(capsys, ["train", "--model", "cbrnn", "--epochs", "1", *TINY_TRAIN])
    _, rnn = run_json(capsys, ["train", "--model", "rnn", "--epochs", "1", *TINY_TRAIN])
    assert rnn["units"] > cbrnn["units"] == 64
    assert abs(rnn["n_parameters"] - cbrnn["n_parameters"]) / cbrnn["n_parameters"] < 0.02


def test_train_is_seeded(capsys):
    argv = ["train", "--model", "rnn", "--epochs", "2", *TINY_TRAIN, "--seed", "3"]
    first, second = run_json(capsys, argv)[1], run_json(capsys, argv)[1]
    assert first["accuracy"] == second["accuracy"]


def test_train_resumes_from_its_checkpoints(capsys, tmp_path):
    base = ["train", "--model", "rnn", *TINY_TRAIN, "--checkpoint-dir", "ckpt"]
    _, straight = run_json(capsys, ["train", "--model", "rnn", *TINY_TRAIN, "--epochs", "3"])
    run_json(capsys, [*base, "--epochs", "2"])
    _, resumed = run_json(capsys, [*base, "--epochs", "3"])
    assert resumed["accuracy"] == straight["accuracy"]
    assert resumed["levels"] == straight["levels"]


def test_human_output_and_failure_exit_code(capsys):
    assert main(["train", "--model", "rnn", "--epochs", "1", *TINY_TRAIN, "--quiet"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "mode: curriculum" in out and "max_level: " in out

    # a level whose batches cannot fit in memory: the work fails (exit 1), the usage was fine
    code, result = run_json(capsys, ["train", "--epochs", "1", *TINY_TRAIN, "--n", "1000000000"])
    assert code == EXIT_FAILED
    assert result["ok"] is False and result["exit_code"] == EXIT_FAILED
    assert "failed: InsufficientMemoryError" in result["error"]


# ------------------------------------------------------------------------------------ reproduce, sweep


def test_reproduce_on_tiny_settings(capsys, tmp_path):
    argv = ["reproduce", "--task", "dms", "--conditions", "cbrnn", "rnn", "--seeds", "1", *TINY_PROFILE,
            "--backend", "sequential", "--output-dir", "repro"]  # fmt: skip
    code, report = run_json(capsys, argv)
    assert code == EXIT_OK
    assert report["n_runs"] == 2 and report["profile"]["n_epochs"] == 1
    assert "| dms" in report["table"]
    assert (tmp_path / "repro" / "summary.md").is_file()
    # the same runs, the two seeds of each condition trained as one ensemble
    code, grouped = run_json(capsys, [*argv[:7], "2", *argv[8:-1], "grouped", "--ensemble", "2"])
    assert code == EXIT_OK and grouped["n_runs"] == 4
    runs = [read_record(path)["result"] for path in (tmp_path / "grouped" / "runs").glob("*.json")]
    assert sorted(run["ensemble_size"] for run in runs) == [2, 2, 2, 2]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--task", "chess"], "chess"),
        (["--profile", "slow"], "profile must be one of ['paper', 'quick', 'study']"),
        (["--set", "n_epoch=3"], "unknown profile setting(s) ['n_epoch']"),
        (["--set", "n_epochs"], "expected KEY=VALUE, got 'n_epochs'"),
        (["--conditions", "magic"], "magic"),
    ],
)
def test_reproduce_usage_errors(capsys, argv, message):
    assert main(["reproduce", *argv]) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_sweep_on_tiny_settings_resumes(capsys, tmp_path):
    config = {
        "tasks": ["parity"],
        "conditions": ["rnn"],
        "seeds": 1,
        "overrides": {"n_epochs": 1, "steps_per_epoch": 2, "test_batches": 1, "batch_size": 8},
        "backend": "sequential",
    }
    (tmp_path / "grid.json").write_text(json.dumps(config))
    code, first = run_json(capsys, ["sweep", "grid.json", "--output-dir", "grid"])
    assert code == EXIT_OK and first["n_runs"] == 1
    assert len(list((tmp_path / "grid" / "runs").glob("*.json"))) == 1
    _, again = run_json(capsys, ["sweep", "grid.json", "--output-dir", "grid"])
    assert again["summaries"] == first["summaries"]  # read back from the stored run


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"tasks": ["dms"], "epochs": 3},
            "config file grid.json: unknown config key(s) ['epochs']; allowed keys: [",
        ),
        ({"profile": "quick"}, "config key 'tasks' is required"),
        ({"tasks": ["chess"]}, "chess"),
        ({"tasks": ["dms"], "overrides": {"n_epoch": 1}}, "unknown profile setting(s) ['n_epoch']"),
        ({"tasks": ["dms"], "conditions": ["magic"]}, "magic"),
    ],
)
def test_sweep_config_errors_exit_2(capsys, tmp_path, config, message):
    (tmp_path / "grid.json").write_text(json.dumps(config))
    assert main(["sweep", "grid.json"]) == EXIT_USAGE
    assert message in capsys.readouterr().err
    assert not (tmp_path / "cbreservoir-sweep").exists()  # nothing ran


def test_json_output_is_strict_json(capsys):
    """NaN statistics (one network has no SD) come out as null, so any JSON parser reads the output."""
    argv = ["reproduce", "--task", "dms", "--conditions", "rnn", "--seeds", "1", *TINY_PROFILE,
            "--backend", "sequential", "--output-dir", "repro"]  # fmt: skip
    main([*argv, "--json"])
    out = capsys.readouterr().out
    assert "NaN" not in out
    json.loads(out, parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"))


# ------------------------------------------------------------------------------------------------ bench


def test_bench_quick_prints_the_speed_table(capsys, monkeypatch):
    from cbreservoir.experiments import bench

    tiny = {
        "reservoir": {"n_series": 2, "length": 20, "n_features": 2, "units": 10, "repeat": 1},
        "ridge": {"n_samples": 200, "n_features": 10, "n_outputs": 2, "n_chunks": 2},
        "ridge_accuracy": {"n_samples": 100, "n_features": 5},
        "ensemble": {"n_members": 2, "n": 2, "batch_size": 4, "steps": 1},
    }
    monkeypatch.setitem(bench.SIZES, "quick", tiny)  # the real benchmarks, on smaller sizes than --quick's
    code, result = run_json(capsys, ["bench", "--quick", "--quiet"])
    assert code == EXIT_OK
    assert result["sizes"] == tiny and result["device"] == "cpu"
    assert len(result["rows"]) == result["table"].count("\n| ")
    assert all(row["cbreservoir_seconds"] > 0 for row in result["rows"])
    assert "Machine: " in result["table"]


def test_bench_sections_and_threads(capsys, monkeypatch):
    """``--sections`` keeps only those row groups, ``--threads`` sets torch's threads for the run alone;
    the table is what a human reads."""
    import torch

    from cbreservoir.experiments import bench

    tiny = {
        "ridge_accuracy": {"n_samples": 100, "n_features": 5},
        "ridge": {"n_samples": 200, "n_features": 10, "n_outputs": 2, "n_chunks": 2},
    }
    monkeypatch.setitem(bench.SIZES, "quick", tiny)
    threads = torch.get_num_threads()
    argv = ["bench", "--quick", "--quiet", "--sections", "ridge_accuracy"]
    code, result = run_json(capsys, [*argv, "--threads", "1"])
    assert code == EXIT_OK and result["sizes"] == {"ridge_accuracy": tiny["ridge_accuracy"]}
    assert torch.get_num_threads() == threads
    assert main(argv) == EXIT_OK
    assert capsys.readouterr().out.startswith("| operation | cbreservoir | peer |")


def test_bench_unknown_section_is_a_usage_error(capsys):
    assert main(["bench", "--sections", "everything"]) == EXIT_USAGE
    assert "--sections must be among" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- analyze

TINY_SIZES = ("test_batches=1", "batch_size=8", "recovery_steps=2", "dimensionality_batches=1",
              "drive_trials=2", "drive_steps=30", "drive_warmup=2", "population_max_lag=6", "unit_max_lag=5",
              "fit_units=false")  # fmt: skip
TINY_ANALYSIS = [item for setting in TINY_SIZES for item in ("--analysis", setting)]


def test_analyze_on_tiny_settings(capsys, tmp_path):
    argv = ["analyze", "--task", "dms", "--conditions", "cbrnn", *TINY_PROFILE, "--set", "n_epochs=2",
            *TINY_ANALYSIS, "--output-dir", "analysis"]  # fmt: skip
    code, summary = run_json(capsys, argv)
    assert code == EXIT_OK
    assert list(summary["models"]) == ["cbrnn"] and len(summary["models"]["cbrnn"]["levels"]) == 2
    assert summary["settings"]["recovery_steps"] == 2 and summary["settings"]["fit_units"] is False
    assert (tmp_path / "analysis" / "summary.json").is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--task", "continual"], "must be one of ['dms', 'parity', 'multitask', 'switching', 'mod3']; got"),
        (["--analysis", "recovery=3"], "unknown analysis setting(s) ['recovery']; allowed: ["),
        (["--set", "epochs=3"], "unknown profile setting(s) ['epochs']"),
        (["--conditions", "magic"], "magic"),
        (["--runs", "repro", "--set", "n_epochs=3"], "expected no --set, no --checkpoint-dir"),
        (["--runs", "repro", "--checkpoint-dir", "c"], "expected no --set, no --checkpoint-dir"),
        (["--seeds", "1"], "--seeds expects at least 2 distinct seeds, got [1]"),
        (["--seeds", "1", "1"], "--seeds expects at least 2 distinct seeds, got [1, 1]"),
        (["--seed", "0", "--seeds", "1", "2"], "not allowed with argument"),
    ],
)
def test_analyze_usage_errors(capsys, argv, message):
    assert main(["analyze", *argv]) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_analyze_works_after_a_plain_reproduce(capsys, tmp_path):
    argv = ["reproduce", "--task", "parity", "--conditions", "cbrnn", "--seeds", "1", *TINY_PROFILE,
            "--backend", "sequential", "--output-dir", "repro"]  # fmt: skip
    assert run_json(capsys, argv)[0] == EXIT_OK
    assert not list((tmp_path / "repro").glob("checkpoints/*/*.pt"))  # a plain reproduce keeps nothing
    argv = ["analyze", "--task", "parity", "--conditions", "cbrnn", "--runs", "repro", *TINY_ANALYSIS,
            "--output-dir", "analysis"]  # fmt: skip
    code, summary = run_json(capsys, argv)
    assert code == EXIT_OK
    assert summary["models"]["cbrnn"]["checkpoints_source"] == "retrained"
    assert summary["models"]["cbrnn"]["levels_match_record"] is True
    # a run the reproduction did not do: the error names the command that does it, and that command works
    argv = ["analyze", "--task", "parity", "--conditions", "rnn", "--runs", "repro", *TINY_ANALYSIS,
            "--output-dir", "analysis-rnn"]  # fmt: skip
    assert main(argv) not in (EXIT_OK, EXIT_USAGE)
    step = re.search(r"run it with 'cbreservoir ([^']*)'", capsys.readouterr().err).group(1)
    assert step.startswith("reproduce --task parity --conditions cbrnn rnn --seeds 1 --profile quick --set ")
    assert main([*shlex.split(step), "--backend", "sequential", "--quiet"]) == EXIT_OK
    capsys.readouterr()
    code, summary = run_json(capsys, argv)
    assert code == EXIT_OK and summary["models"]["rnn"]["checkpoints_source"] == "retrained"


def test_analyze_runs_of_a_directory_that_is_no_reproduction_fails_before_work(capsys, tmp_path):
    assert main(["analyze", "--runs", "missing-dir", "--output-dir", "out"]) not in (EXIT_OK, EXIT_USAGE)
    assert "expected a reproduction output directory" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------------- demo


def test_demo_json_and_table(capsys, tmp_path):
    code, result = run_json(capsys, ["demo", "--output-dir", "demo", "--seed", "1"])
    assert code == EXIT_OK
    assert (tmp_path / "demo" / "demo.png").is_file() and result["figure"].endswith("demo.png")
    scores = {(row["model"], row["task"]): row["test_r2"] for row in result["rows"]}
    product = [score for (model, task), score in scores.items() if task.startswith("product")]
    assert max(product) > 0.9 > min(product)  # only the cerebellar expansion forms the product


# ------------------------------------------------------------------------------------- explicit mode


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "'mode' is required: 'fixed_level' (--mode fixed_level"),
        (["--mode", "sometimes"], "mode must be one of ['curriculum', 'fixed_level']; got 'sometimes'"),
        (["--mode", "curriculum"], "'epochs' is required with mode 'curriculum' (--epochs K), got none"),
        (["--mode", "fixed_level", "--epochs", "3"], "'epochs' applies to curriculum training"),
    ],
)
def test_train_mode_is_explicit(capsys, argv, message):
    assert main(["train", *argv, *TINY_TRAIN[:2]]) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_old_config_without_epochs_fails_naming_the_new_key(capsys, tmp_path):
    (tmp_path / "run.yaml").write_text("model: rnn\ntask: parity\nn: 3\n")
    assert main(["train", "--config", "run.yaml"]) == EXIT_USAGE
    assert "'mode' is required" in capsys.readouterr().err
    (tmp_path / "run.yaml").write_text("model: rnn\ntask: parity\nn: 3\nmode: fixed_level\nsteps: 1\n")
    code, result = run_json(capsys, ["train", "--config", "run.yaml", "--test-batches", "1"])
    assert code == EXIT_OK and result["mode"] == result["settings"]["mode"] == "fixed_level"


def test_epochs_alone_means_curriculum(capsys):
    argv = ["train", "--model", "rnn", "--epochs", "1", *TINY_TRAIN]
    _, implicit = run_json(capsys, argv)
    _, explicit = run_json(capsys, [*argv, "--mode", "curriculum"])
    assert implicit["settings"]["mode"] == "curriculum"
    assert implicit["accuracy"] == explicit["accuracy"] and implicit["levels"] == explicit["levels"]


@pytest.mark.parametrize("mode", ["curriculum", "fixed_level"])
def test_train_through_the_cli_equals_the_experiments_function(capsys, mode):
    from cbreservoir.experiments.train import TRAIN_DEFAULTS, check_train, run_train

    tiny = {"steps": 2, "test_batches": 1, "batch_size": 8, "seed": 3, "model": "rnn", "n": 2}
    extra = {"epochs": 2, "n_granule": 16} if mode == "curriculum" else {}
    settings = check_train({**TRAIN_DEFAULTS, **tiny, **extra, "mode": mode})
    direct, _ = run_train(settings)
    argv = ["train", "--mode", mode, "--model", "rnn", "--n", "2", "--seed", "3", *TINY_TRAIN[:6]]
    argv += ["--epochs", "2", "--n-granule", "16"] if mode == "curriculum" else []
    code, through_cli = run_json(capsys, argv)
    assert code == EXIT_OK and through_cli["settings"] == settings
    assert through_cli["accuracy"] == direct["accuracy"]
    if mode == "curriculum":
        assert through_cli["levels"] == direct["levels"]
    else:
        assert through_cli["final_train_loss"] == direct["final_train_loss"]


def test_train_flags_config_keys_and_defaults_come_from_the_one_settings_record():
    from cbreservoir.cli.options import TRAIN_OPTIONS
    from cbreservoir.experiments.train import TRAIN_DEFAULTS, TRAIN_SETTINGS

    assert [option.name for option in TRAIN_OPTIONS] == [setting.name for setting in TRAIN_SETTINGS]
    assert {option.name: option.default for option in TRAIN_OPTIONS} == TRAIN_DEFAULTS
    assert [option.help for option in TRAIN_OPTIONS] == [setting.help for setting in TRAIN_SETTINGS]


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"n": 2.5}, TypeError, r"^n must be an int in \[1, \d+\]; got 2.5$"),
        ({"seed": -1}, ValueError, r"^seed must be an int in \[0, \d+\]; got -1$"),
        ({"learning_rate": "fast"}, TypeError, r"^learning_rate must be a real number > 0.0; got 'fast'$"),
        ({"noise_state": -0.5}, ValueError, r"^noise_state must be a finite number >= 0.0; got -0.5$"),
        ({"epochs": 0}, ValueError, r"^epochs must be an int in \[1, \d+\]; got 0$"),
        ({"bogus": 1}, ValueError, r"expected the parameters \[.*'batch_size'.*\]; got \[.*'bogus'.*\]"),
    ],
)
def test_check_train_applies_the_settings_constraints_to_api_callers(change, error, match):
    from cbreservoir.experiments.train import TRAIN_DEFAULTS, check_train

    with pytest.raises(error, match=match):
        check_train({**TRAIN_DEFAULTS, "mode": "fixed_level", **change})

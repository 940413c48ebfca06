"""``cbreservoir noise``: accuracy-vs-noise curves of a reproduction's kept networks."""

from __future__ import annotations

import json

import pytest

from cbreservoir.analysis.noise import noise_accuracy
from cbreservoir.cli import main
from cbreservoir.experiments.noise import run_noise
from cbreservoir.experiments.reproduce import get_profile, reproduce
from cbreservoir.experiments.reproduce.conditions import build_condition_model
from cbreservoir.experiments.reproduce.run import make_cell
from cbreservoir.experiments.sweep import cell_id
from cbreservoir.training.curriculum import level_checkpoint, load_checkpoint

LEVELS = {"input_flip": (0.0, 0.5), "state": (0.0, 1.0), "cerebellum": (0.0, 1.0)}


@pytest.fixture(scope="module")
def reproduction(tmp_path_factory):
    output = tmp_path_factory.mktemp("kept")
    # a tiny threshold: every epoch passes its level, so the runs keep the weights that passed N = 2, 3 and 4
    profile = get_profile("quick").replace(n_epochs=3, steps_per_epoch=2, test_batches=1, batch_size=8)
    profile = profile.replace(threshold=1e-6)
    reproduce(
        "dms",
        profile=profile,
        output_dir=output,
        seeds=[0, 1],
        conditions=["cbrnn", "full_reservoir", "rnn"],
        backend="sequential",
        keep_checkpoints=True,
        progress=False,
    )
    return output, profile


def test_curves_pool_the_networks_with_intervals_and_the_cerebellum_off(reproduction, tmp_path):
    reproduction, _ = reproduction
    result = run_noise(reproduction, tmp_path, noise_levels=LEVELS, n_batches=2, batch_size=8, progress=False)
    assert result["networks"] == {"cbrnn": [0, 1], "full_reservoir": [0, 1], "rnn": [0, 1]}
    cbrnn = result["curves"]["cbrnn"]["state"]
    assert cbrnn["n"] == 2 and cbrnn["noise"] == [0.0, 1.0]
    intact = cbrnn["intact"]
    bounds = zip(intact["low"], intact["mean"], intact["high"], strict=True)
    assert all(low <= mean <= high for low, mean, high in bounds)
    assert result["curves"]["rnn"]["state"]["ablated"] is None  # no cerebellum to switch off
    rows = result["per_network"]["cbrnn"]["0"]["cerebellum"]
    assert rows[1]["ablated"] == rows[0]["ablated"]  # cerebellar noise does nothing with it switched off
    assert json.loads((tmp_path / "summary.json").read_text())["level"] == result["level"]
    assert "## state" in (tmp_path / "summary.md").read_text()
    assert (tmp_path / "noise_dms.png").read_bytes()[:4] == b"\x89PNG"


def test_each_network_is_tested_with_the_weights_that_passed_the_level(reproduction, tmp_path):
    reproduction, profile = reproduction
    levels = {"state": (0.0, 1.0)}
    result = run_noise(reproduction, tmp_path, conditions=["cbrnn"], level=3, noise_levels=levels,
                       n_batches=2, batch_size=8, progress=False)  # fmt: skip
    assert result["level"] == 3
    checkpoints = reproduction / "checkpoints" / cell_id(make_cell("dms", "cbrnn", seed=1, profile=profile))
    model = build_condition_model("cbrnn", "dms", seed=1)
    model.load_state_dict(load_checkpoint(checkpoints / level_checkpoint(3))["trainer"]["model"])
    expected = noise_accuracy(model.eval(), "dms", level=3, kind="state", noise_levels=levels["state"],
                              n_batches=2, batch_size=8)  # fmt: skip
    assert result["per_network"]["cbrnn"]["1"]["state"] == expected
    only = run_noise(reproduction, tmp_path, conditions=["cbrnn"], seeds=[1], level=3, noise_levels=levels,
                     n_batches=2, batch_size=8, progress=False)  # fmt: skip
    assert only["networks"] == {"cbrnn": [1]} and only["per_network"]["cbrnn"]["1"]["state"] == expected
    with pytest.raises(TypeError, match="seed"):
        run_noise(reproduction, tmp_path, seeds=[1.5], progress=False)
    with pytest.raises(ValueError, match="passed N = 9.*seed 0, which passed up to N = 4"):
        run_noise(reproduction, tmp_path, conditions=["cbrnn"], level=9, progress=False)


def test_the_command_runs_and_refuses_a_directory_without_networks(reproduction, tmp_path, capsys):
    reproduction, _ = reproduction
    arguments = [
        "noise",
        "--runs",
        str(reproduction),
        "--conditions",
        "cbrnn",
        "--batches",
        "1",
        "--seeds",
        "1",
        "--level",
        "2",
    ]
    assert main([*arguments, "--output-dir", str(tmp_path / "out"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["level"] == 2
    assert main(["noise", "--runs", str(tmp_path), "--output-dir", str(tmp_path / "x")]) == 1
    assert "no settings.json" in capsys.readouterr().err
    assert main(["noise", "--runs", str(reproduction), "--task", "multitask"]) == 2

"""Issue 19, part 3: a resume with other settings is refused, listing them (old -> new); budgets may grow."""

from __future__ import annotations

import json
import os

import pytest
import torch
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from cbreservoir.cli import EXIT_OK, EXIT_USAGE, main
from cbreservoir.experiments.reproduce import reproduce
from cbreservoir.models import build_model
from cbreservoir.training import CurriculumTrainer, GradientTrainer
from cbreservoir.training.curriculum import LAST_CHECKPOINT, load_checkpoint, trainer_signature
from cbreservoir.utils.checks import SettingsMismatchError, check_resume_settings

TRAIN = ["train", "--task", "dms", "--steps", "5", "--test-batches", "2", "--quiet", "--json"]


def _train(capsys, *argv: str) -> tuple[int, dict | None, str]:
    code = main([*TRAIN, *argv])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else None, captured.err


def test_cli_resume_with_another_learning_rate_is_refused(capsys, tmp_path):
    checkpoints = str(tmp_path / "ck")
    assert _train(capsys, "--model", "cbrnn", "--epochs", "2", "--checkpoint-dir", checkpoints)[0] == EXIT_OK
    code, _, error = _train(
        capsys, "--model", "cbrnn", "--epochs", "3", "--learning-rate", "0.5", "--checkpoint-dir", checkpoints
    )
    assert code == EXIT_USAGE
    assert "written with other settings" in error
    assert "settings.learning_rate: 0.01 -> 0.5" in error
    assert "trainer.optimizer.param_groups.0.lr: 0.01 -> 0.5" in error
    records = load_checkpoint(tmp_path / "ck" / LAST_CHECKPOINT)["history"]["records"]
    assert records[-1]["epoch"] == 2  # the checkpoint is untouched


def test_cli_resume_with_another_model_is_the_same_clean_error(capsys, tmp_path):
    checkpoints = str(tmp_path / "ck")
    assert _train(capsys, "--model", "cbrnn", "--epochs", "2", "--checkpoint-dir", checkpoints)[0] == EXIT_OK
    code, _, error = _train(capsys, "--model", "rnn", "--epochs", "3", "--checkpoint-dir", checkpoints)
    assert code == EXIT_USAGE
    assert "RuntimeError" not in error
    assert "settings.model: 'cbrnn' -> 'rnn'" in error
    weight = "trainer.model.core.recurrent_layer.weight"
    assert f"{weight}: 'torch.float32[64, 64]' -> 'torch.float32[202, 202]'" in error


def test_cli_resume_with_a_larger_budget_continues_the_same_run(capsys, tmp_path):
    checkpoints = str(tmp_path / "ck")
    first = _train(capsys, "--model", "rnn", "--epochs", "2", "--checkpoint-dir", checkpoints)[1]
    resumed = _train(capsys, "--model", "rnn", "--epochs", "3", "--checkpoint-dir", checkpoints)[1]
    fresh = _train(capsys, "--model", "rnn", "--epochs", "3")[1]
    assert resumed["accuracy"][:2] == first["accuracy"]
    assert resumed["accuracy"] == fresh["accuracy"]


def _curriculum(directory, learning_rate=0.01, hidden=8, settings=None) -> CurriculumTrainer:
    model = build_model("rnn", input_dim=1, units=hidden, seed=0)
    trainer = GradientTrainer(model, learning_rate=learning_rate, seed=0)
    return CurriculumTrainer(
        trainer,
        "parity",
        steps_per_epoch=2,
        test_batches=1,
        batch_size=8,
        checkpoint_dir=directory,
        progress=False,
        settings=settings,
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"learning_rate": 0.2}, "trainer.optimizer.param_groups.0.lr: 0.01 -> 0.2"),
        ({"hidden": 9}, "recurrent_layer.weight: 'torch.float32[8, 8]' -> 'torch.float32[9, 9]'"),
        ({"settings": {"note": "b"}}, "settings.note: 'a' -> 'b'"),
    ],
)
def test_api_resume_with_other_settings_raises_value_error(tmp_path, change, expected):
    _curriculum(tmp_path, settings={"note": "a"}).run(1)
    other = {"settings": {"note": "a"}, **change}
    with pytest.raises(SettingsMismatchError, match="Differing settings") as caught:
        _curriculum(tmp_path, **other).run(2)
    assert expected in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_api_resume_with_the_same_settings_continues(tmp_path):
    _curriculum(tmp_path, settings={"note": "a"}).run(1)
    resumed = _curriculum(tmp_path, settings={"note": "a"}).run(3)
    assert [record.epoch for record in resumed.records] == [1, 2, 3]
    assert [record.accuracy for record in resumed.records] == _curriculum(None).run(3).accuracies


def test_settings_must_be_json_ready():
    with pytest.raises(TypeError, match="settings must hold JSON-ready values"):
        _curriculum(None, settings={"model": object()})


def test_checkpoint_records_the_settings(tmp_path):
    _curriculum(tmp_path, settings={"model": "rnn", "learning_rate": 0.01}).run(1)
    payload = load_checkpoint(tmp_path / LAST_CHECKPOINT)
    assert payload["settings"] == {"model": "rnn", "learning_rate": 0.01}
    assert payload["config"]["task"] == "parity"


def test_older_checkpoint_format_is_refused_with_advice(tmp_path):
    from cbreservoir.utils.files import content_sha256

    _curriculum(tmp_path).run(1)
    payload = load_checkpoint(tmp_path / LAST_CHECKPOINT)
    old = {key: value for key, value in payload.items() if key != "settings"}
    old["format"] = 2
    torch.save({**old, "sha256": content_sha256(old)}, tmp_path / LAST_CHECKPOINT)
    with pytest.raises(ValueError, match="older format 2, which does not record the run's settings"):
        _curriculum(tmp_path).run(2)


def test_trainer_signature_holds_shapes_and_hyperparameters_not_counters():
    trainer = GradientTrainer(build_model("rnn", input_dim=1, units=4, seed=0), seed=0)
    before = trainer_signature(trainer.state_dict())
    assert before["model.core.recurrent_layer.weight"] == "torch.float32[4, 4]"
    assert before["optimizer.param_groups.0.lr"] == 0.01
    assert not [key for key in before if "step_count" in key or key.startswith("optimizer.state")]
    from cbreservoir.tasks import make_batch

    # counters move, momentum buffers appear
    trainer.train_step(*make_batch("parity", 2, batch_size=8, seed=0))
    after = trainer_signature(trainer.state_dict())
    assert {key: after[key] for key in before} == before


def test_ensemble_member_checkpoints_record_the_settings(capsys, tmp_path):
    checkpoints = str(tmp_path / "ck")
    argv = ["--model", "rnn", "--epochs", "1", "--ensemble", "2", "--checkpoint-dir", checkpoints]
    assert _train(capsys, *argv)[0] == EXIT_OK
    member = load_checkpoint(tmp_path / "ck" / "member_01" / LAST_CHECKPOINT)
    assert member["settings"]["model"] == "rnn" and member["config"]["seed"] == 1
    code, _, error = _train(
        capsys, *argv[:3], "2", "--ensemble", "2", "--checkpoint-dir", checkpoints, "--learning-rate", "0.3"
    )
    assert code == EXIT_USAGE and "settings.learning_rate: 0.01 -> 0.3" in error


def test_reproduce_output_directory_refuses_other_settings(tmp_path):
    from cbreservoir.experiments.reproduce import get_profile

    profile = get_profile("quick").replace(n_epochs=1, steps_per_epoch=1, test_batches=1, batch_size=4)
    options = {"output_dir": tmp_path, "backend": "sequential", "progress": False, "conditions": ["rnn"]}
    reproduce("dms", profile=profile, seeds=1, **options)
    recorded = json.loads((tmp_path / "settings.json").read_text())
    assert recorded["profile"]["n_epochs"] == 1 and recorded["tasks"] == ["dms"]
    with pytest.raises(SettingsMismatchError) as caught:
        reproduce("dms", profile=profile.replace(learning_rate=0.5), seeds=1, **options)
    assert "profile.learning_rate: 0.1 -> 0.5" in str(caught.value)
    with pytest.raises(SettingsMismatchError, match=r"seeds: \[0\] -> \[1\]"):
        reproduce("dms", profile=profile, seeds=[1], **options)
    report = reproduce("dms", profile=profile.replace(n_epochs=2), seeds=1, **options)  # the budget may grow
    assert report["profile"]["n_epochs"] == 2
    assert json.loads((tmp_path / "settings.json").read_text())["profile"]["n_epochs"] == 2
    # more networks and more rows may be added after the old ones; the finished run is not trained again
    first = json.loads(next((tmp_path / "runs").glob("*.json")).read_text())
    report = reproduce(
        "dms", profile=profile.replace(n_epochs=2), seeds=2, **{**options, "conditions": ["rnn", "cbrnn"]}
    )
    assert report["n_runs"] == 4 and report["seeds"] == [0, 1]
    assert first in [json.loads(path.read_text()) for path in (tmp_path / "runs").glob("*.json")]
    with pytest.raises(SettingsMismatchError, match=r"conditions: \['rnn', 'cbrnn'\] -> \['cbrnn', 'rnn'\]"):
        reproduce(
            "dms", profile=profile.replace(n_epochs=2), seeds=2, **{**options, "conditions": ["cbrnn", "rnn"]}
        )


def test_checkpoints_follow_the_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        _curriculum(tmp_path).run(1)
    finally:
        os.umask(previous)
    assert (tmp_path / LAST_CHECKPOINT).stat().st_mode & 0o777 == 0o640


_LEAVES = st.one_of(st.integers(-5, 5), st.floats(allow_nan=False), st.text(max_size=3), st.booleans())
_SETTINGS = st.dictionaries(
    st.text("abc", min_size=1, max_size=2),
    st.one_of(_LEAVES, st.dictionaries(st.text("xyz", min_size=1, max_size=2), _LEAVES, max_size=3)),
    min_size=1,
    max_size=4,
)


@given(settings=_SETTINGS, data=st.data())
@hypothesis_settings(max_examples=60, deadline=None)
def test_check_resume_settings_names_exactly_the_changed_key(settings, data):
    check_resume_settings(settings, json.loads(json.dumps(settings)), where="x")  # equal settings pass
    key = data.draw(st.sampled_from(sorted(settings)))
    changed = {**settings, key: ["changed"]}
    with pytest.raises(SettingsMismatchError) as caught:
        check_resume_settings(settings, changed, where="x")
    assert f"{key}" in str(caught.value) and "-> ['changed']" in str(caught.value)

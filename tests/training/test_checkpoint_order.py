"""Checkpoints of earlier releases (torch.save, formats 3 and 4) load converted and resume identically."""

import json

import pytest
import torch

import cbreservoir
from cbreservoir.models import build_model
from cbreservoir.training import CurriculumTrainer, GradientTrainer
from cbreservoir.training.curriculum import LAST_CHECKPOINT, load_checkpoint, trainer_signature
from cbreservoir.utils import fileformat
from cbreservoir.utils.files import content_sha256

D = 1  # input features of the parity task
MOSSY = {"cbrnn": "cerebellum.granule.weight", "rnn_aux": "auxiliary.recurrent.input_layer.weight"}


def _curriculum(directory, kind: str, optimizer: str) -> CurriculumTrainer:
    sizes = {"n_granule": 8, "n_purkinje": 3} if kind == "cbrnn" else {"n_aux": 5}
    model = build_model(kind, input_dim=D, units=4, seed=0, **sizes)
    trainer = GradientTrainer(model, optimizer=optimizer, seed=0)
    return CurriculumTrainer(
        trainer, "parity", steps_per_epoch=2, test_batches=1, batch_size=8, checkpoint_dir=directory,
        progress=False,
    )  # fmt: skip


def _state_first(weight: torch.Tensor) -> torch.Tensor:
    """[x ; h] columns -> [h ; x], as format 3 stored them."""
    return torch.cat([weight[:, D:], weight[:, :D]], 1)


def _as_format_3(path, kind: str, old_names: bool = False) -> None:
    """The checkpoint as format 3 wrote it (``old_names``: RecurrentAuxRNN's ``cerebellum.*`` keys)."""
    payload = load_checkpoint(path)
    trainer = payload["trainer"]
    key = MOSSY[kind]
    index = list(trainer["model"]).index(key)  # the optimizer's parameters follow the model's order
    trainer["model"][key] = _state_first(trainer["model"][key])
    if old_names:
        trainer["model"] = {
            name.replace("auxiliary.", "cerebellum.", 1): v for name, v in trainer["model"].items()
        }
    moments = trainer["optimizer"]["state"].get(index, {})
    for name, value in moments.items():
        if value.dim() == 2:
            moments[name] = _state_first(value)
    old = {**payload, "format": 3}
    torch.save({**old, "sha256": content_sha256(old)}, path)


@pytest.mark.parametrize(
    ("kind", "optimizer", "old_names"),
    [("cbrnn", "adam", False), ("cbrnn", "sgd", False), ("rnn_aux", "adam", False), ("rnn_aux", "sgd", True)],
)
def test_a_format_3_checkpoint_loads_as_the_format_4_one(tmp_path, kind, optimizer, old_names):
    _curriculum(tmp_path, kind, optimizer).run(1)
    path = tmp_path / LAST_CHECKPOINT
    expected = load_checkpoint(path)
    _as_format_3(path, kind, old_names)
    converted = load_checkpoint(path)
    assert set(converted) == set(expected)
    model, optimizer_state = converted["trainer"]["model"], converted["trainer"]["optimizer"]["state"]
    for key, tensor in expected["trainer"]["model"].items():
        assert torch.equal(model[key], tensor), key
    for index, entry in expected["trainer"]["optimizer"]["state"].items():
        for name, value in entry.items():
            assert torch.equal(optimizer_state[index][name], value), (index, name)


@pytest.mark.parametrize(("kind", "old_names"), [("cbrnn", False), ("rnn_aux", True)])
def test_a_run_resumed_from_a_format_3_checkpoint_continues_as_the_uninterrupted_one(
    tmp_path, kind, old_names
):
    straight = _curriculum(tmp_path / "straight", kind, "adam")
    straight.run(2)
    _curriculum(tmp_path / "resumed", kind, "adam").run(1)
    _as_format_3(tmp_path / "resumed" / LAST_CHECKPOINT, kind, old_names)
    resumed = _curriculum(tmp_path / "resumed", kind, "adam")
    resumed.run(2)
    for key, tensor in straight.trainer.model.state_dict().items():
        assert torch.equal(resumed.trainer.model.state_dict()[key], tensor), key


def _as_torch_save(path, version: int = 4) -> None:
    """The checkpoint as the ``torch.save`` writer of earlier releases wrote it (format 3 or 4)."""
    old = {**load_checkpoint(path), "format": version}
    torch.save({**old, "sha256": content_sha256(old)}, path)


def test_a_checkpoint_is_a_document_of_the_one_file_format(tmp_path):
    from cbreservoir.io import read_header

    _curriculum(tmp_path, "cbrnn", "sgd").run(1)
    header = read_header(tmp_path / LAST_CHECKPOINT)
    fields = [header[key] for key in ("format", "format_version", "object_type")]
    assert fields == ["cbreservoir", 5, "checkpoint"]
    with pytest.raises(ValueError, match="load_checkpoint"):
        cbreservoir.load(tmp_path / LAST_CHECKPOINT)


def _resumes_as_uninterrupted(tmp_path, optimizer, rewrite):
    """Stop a run after 2 epochs, ``rewrite(last checkpoint)``, resume to 3: as 3 straight epochs."""
    straight = _curriculum(tmp_path / "straight", "cbrnn", optimizer)
    straight.run(3)
    _curriculum(tmp_path / "resumed", "cbrnn", optimizer).run(2)
    path = tmp_path / "resumed" / LAST_CHECKPOINT
    rewrite(path)
    resumed = _curriculum(tmp_path / "resumed", "cbrnn", optimizer)
    resumed.run(3)
    assert resumed.history.losses == straight.history.losses
    assert resumed.history.levels == straight.history.levels
    for key, tensor in straight.trainer.model.state_dict().items():
        assert torch.equal(resumed.trainer.model.state_dict()[key], tensor), key
    return path, resumed


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_run_resumed_from_a_torch_save_checkpoint_continues_as_the_uninterrupted_one(tmp_path, optimizer):
    def rewrite(path):
        expected = load_checkpoint(path)
        _as_torch_save(path)
        assert path.read_bytes()[:4] == b"PK\x03\x04"  # torch's zip
        assert set(load_checkpoint(path)) == set(expected)

    path, resumed = _resumes_as_uninterrupted(tmp_path, optimizer, rewrite)
    assert load_checkpoint(path)["level"] == resumed.level  # written again, in the one format
    assert path.read_bytes()[:4] != b"PK\x03\x04"


def test_a_damaged_torch_save_checkpoint_is_refused(tmp_path):
    _curriculum(tmp_path, "cbrnn", "sgd").run(1)
    path = tmp_path / LAST_CHECKPOINT
    old = {**load_checkpoint(path), "format": 4}
    torch.save({**old, "level": 3, "sha256": content_sha256(old)}, path)
    with pytest.raises(ValueError, match="is corrupted: its content does not match its sha256 digest"):
        load_checkpoint(path)


def test_a_checkpoint_names_the_learning_rate_learning_rate(tmp_path):
    from cbreservoir.io import read_header

    _curriculum(tmp_path, "cbrnn", "sgd").run(1)
    text = json.dumps(read_header(tmp_path / LAST_CHECKPOINT)["payload"])
    assert '["learning_rate", 0.01]' in text and '"lr"' not in text
    groups = load_checkpoint(tmp_path / LAST_CHECKPOINT)["trainer"]["optimizer"]["param_groups"]
    assert all(group["lr"] == 0.01 and "learning_rate" not in group for group in groups)  # torch's names


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_run_resumed_from_a_version_4_checkpoint_continues_as_the_uninterrupted_one(tmp_path, optimizer):
    from tests.io.crafting import as_version_4

    def rewrite(path):
        expected = load_checkpoint(path)
        as_version_4(path, path)
        assert '"lr"' in json.dumps(fileformat.read_binary(path).header["payload"])
        assert fileformat.read_binary(path).version == 4
        assert trainer_signature(load_checkpoint(path)["trainer"]) == trainer_signature(expected["trainer"])

    path, _ = _resumes_as_uninterrupted(tmp_path, optimizer, rewrite)
    assert fileformat.read_binary(path).version == fileformat.FORMAT_VERSION  # written again, as version 5

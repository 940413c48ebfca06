"""Format version 5 (issue 33): ``lr`` in a file is a leak rate; optimisers store ``learning_rate``.

Files of version 4 (optimisers' learning rates under torch's ``lr``) load through the one migration path
to the same objects, which continue training as the originals.
"""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cbreservoir
from cbreservoir.io import read_header
from cbreservoir.models import CBRNN
from cbreservoir.tasks import make_batch
from cbreservoir.training import GradientTrainer
from cbreservoir.training.ensemble import EnsembleTrainer
from tests.io.crafting import as_version_4, parts, torch_learning_rates, write


def _pairs_named(node: object, name: str) -> list:
    """The values of every ``dict`` entry pair keyed ``name`` in a payload."""
    if isinstance(node, list):
        return [value for item in node for value in _pairs_named(item, name)]
    if not isinstance(node, dict):
        return []
    pairs = node.get("pairs", []) if node.get("__type__") == "dict" else []
    found = [value for key, value in pairs if key == name]
    return found + [value for item in node.values() for value in _pairs_named(item, name)]


def _trainer(optimizer: str = "adam") -> GradientTrainer:
    trainer = GradientTrainer(CBRNN(1, 4, 8, 3, seed=0), optimizer=optimizer, learning_rate=0.02, seed=0)
    x, y = make_batch("parity", 3, batch_size=4, seed=0)
    trainer.train_step(x, y)  # the optimiser holds moments
    return trainer


def _same_trainers(a: GradientTrainer, b: GradientTrainer) -> None:
    batch = make_batch("parity", 3, batch_size=4, seed=1)
    assert a.train_step(*batch) == b.train_step(*batch)
    for key, tensor in a.model.state_dict().items():
        assert torch.equal(b.model.state_dict()[key], tensor), key


def test_a_saved_trainer_names_the_learning_rate_learning_rate_and_the_leak_lr(tmp_path):
    header = read_header(cbreservoir.save(_trainer(), tmp_path / "t.cbr"))
    assert header["format_version"] == 5
    payload = header["payload"]
    groups = len(_trainer().optimizer.param_groups)
    assert _pairs_named(payload, "learning_rate") == [0.02] * (1 + groups)  # the defaults and each group
    assert _pairs_named(payload, "lr") == [pytest.approx(2 / 3)]  # the model config's leak rate only


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_version_4_trainer_loads_equal_and_continues_as_the_original(tmp_path, optimizer):
    trainer = _trainer(optimizer)
    path = as_version_4(cbreservoir.save(trainer, tmp_path / "new.cbr"), tmp_path / "old.cbr")
    assert read_header(path)["format_version"] == 4
    assert _pairs_named(read_header(path)["payload"], "learning_rate") == []
    loaded = cbreservoir.load(path)
    assert loaded.optimizer.defaults == trainer.optimizer.defaults
    groups = zip(trainer.optimizer.param_groups, loaded.optimizer.param_groups, strict=True)
    for group, loaded_group in groups:
        assert list(loaded_group) == list(group)  # torch's names, in torch's order
        assert {k: v for k, v in loaded_group.items() if k != "params"} == {
            k: v for k, v in group.items() if k != "params"
        }
    _same_trainers(trainer, loaded)


def test_a_version_4_model_with_its_optimizer_continues_as_the_original(tmp_path):
    model = CBRNN(2, 5, 8, 3, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.randn(4, 6, 2, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1, 0, 1])

    def step(model, optimizer):
        optimizer.zero_grad()
        F.cross_entropy(model(x, h0=torch.zeros(4, model.state_size)), labels).backward()
        optimizer.step()

    step(model, optimizer)
    saved = cbreservoir.save({"model": model, "optimizer": optimizer}, tmp_path / "new.cbr")
    loaded = cbreservoir.load(as_version_4(saved, tmp_path / "old.cbr"))
    assert loaded["optimizer"].param_groups[0]["lr"] == 1e-2
    step(model, optimizer)
    step(loaded["model"], loaded["optimizer"])
    for key, tensor in model.state_dict().items():
        assert torch.equal(loaded["model"].state_dict()[key], tensor), key


def test_a_version_4_ensemble_continues_as_the_original(tmp_path):
    ensemble = EnsembleTrainer([CBRNN(1, 4, 8, 3, seed=seed) for seed in range(2)], seeds=range(2))
    rng = np.random.default_rng(0)
    batches = [[make_batch("parity", 3, batch_size=4, seed=rng) for _ in range(2)] for _ in range(2)]

    def step(trainer, batch):
        return trainer.train_step([x for x, _ in batch], [y for _, y in batch])

    step(ensemble, batches[0])
    saved = cbreservoir.save(ensemble, tmp_path / "e.cbr")
    loaded = cbreservoir.load(as_version_4(saved, tmp_path / "o.cbr"))
    assert step(loaded, batches[1]) == step(ensemble, batches[1])


def test_user_data_keep_their_names(tmp_path):
    """Only optimisers' own tables are renamed: a dict a user saves comes back as it was."""
    data = {"lr": 0.5, "param_groups": [{"lr": 0.1}], "learning_rate": 0.2}
    path = cbreservoir.save(data, tmp_path / "d.cbr")
    assert cbreservoir.load(path) == data
    assert cbreservoir.load(as_version_4(path, tmp_path / "o.cbr")) != data  # the crafted file renames all
    assert _pairs_named(read_header(path)["payload"], "lr") == [0.5, 0.1]


def test_a_version_5_optimiser_under_torch_names_is_refused(tmp_path):
    arrays, metadata, header = parts(cbreservoir.save(_trainer(), tmp_path / "t.cbr"))
    header["payload"] = torch_learning_rates(header["payload"])  # 'lr' in a version 5 file
    path = write(tmp_path / "bad.cbr", arrays, metadata, header)
    with pytest.raises(ValueError, match=r"under a file's names \['learning_rate'\], got \['lr'\]"):
        cbreservoir.load(path)


def test_a_version_4_optimiser_holding_both_names_is_refused(tmp_path):
    saved = cbreservoir.save(_trainer(), tmp_path / "t.cbr")
    arrays, metadata, header = parts(as_version_4(saved, tmp_path / "o.cbr"))
    text = json.dumps(header).replace('["lr", 0.02]', '["lr", 0.02], ["learning_rate", 0.5]')
    path = write(tmp_path / "bad.cbr", arrays, metadata, json.loads(text))
    with pytest.raises(ValueError, match="got \\['lr'\\]"):
        cbreservoir.load(path)


def test_an_optimiser_whose_group_already_holds_learning_rate_cannot_be_saved(tmp_path):
    trainer = _trainer()
    trainer.optimizer.param_groups[0]["learning_rate"] = 0.3
    with pytest.raises(TypeError, match=r"cannot save obj.optimizer: .*got \['learning_rate'\]"):
        cbreservoir.save(trainer, tmp_path / "t.cbr")
    assert not list(tmp_path.iterdir())

"""Files of format version 2 (models reading ``[h ; x]``, old config and state-dict names) load converted."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cbreservoir
from cbreservoir.io import FORMAT_VERSION, read_header
from cbreservoir.models import CBRNN, GRUModel, RecurrentAuxRNN
from cbreservoir.training.ensemble import EnsembleTrainer
from cbreservoir.utils.fileformat import migrate, read_binary
from tests.io.crafting import as_version_2, as_version_4

MODELS = {
    "cbrnn": lambda: CBRNN(2, 5, 8, 3, seed=0),
    "rnn_aux": lambda: RecurrentAuxRNN(2, 5, 4, seed=0),
    "gru_cb": lambda: GRUModel(2, 5, 8, 3, cerebellum=True, seed=0),
}


def _step(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """One optimizer step on a fixed batch."""
    optimizer.zero_grad()
    x = torch.randn(4, 6, 2, generator=torch.Generator().manual_seed(0))
    F.cross_entropy(model(x, h0=torch.zeros(4, model.state_size)), torch.tensor([0, 1, 0, 1])).backward()
    optimizer.step()


def _version_2_file(tmp_path, obj):
    return as_version_2(cbreservoir.save(obj, tmp_path / "new.cbr"), tmp_path / "old.cbr")


def test_this_release_writes_version_5(tmp_path):
    assert FORMAT_VERSION == 5
    assert read_header(cbreservoir.save(MODELS["cbrnn"](), tmp_path / "m.cbr"))["format_version"] == 5


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_a_version_2_model_loads_equal_to_the_original_without_warnings(tmp_path, kind):
    model = MODELS[kind]()
    path = _version_2_file(tmp_path, model)
    assert read_header(path)["format_version"] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # old names in a file are not the user's to fix
        loaded = cbreservoir.load(path)
    assert loaded.config == model.config
    assert loaded.state_dict().keys() == model.state_dict().keys()
    for key, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], tensor), key
    x = torch.randn(3, 7, 2, generator=torch.Generator().manual_seed(1))
    h0 = torch.zeros(3, model.state_size)
    assert torch.equal(loaded(x, h0=h0), model(x, h0=h0))


def test_the_crafted_file_really_holds_the_old_layout(tmp_path):
    from tests.io.crafting import parts

    model = MODELS["rnn_aux"]()
    arrays, _, header = parts(_version_2_file(tmp_path, model))
    node = header["payload"]
    assert dict(node["config"]["pairs"])["hidden_size"] == 5
    stored = arrays[node["state_dict"]["cerebellum.recurrent.input_layer.weight"]]
    weight = model.auxiliary.recurrent.input_layer.weight.detach().numpy()
    np.testing.assert_array_equal(stored, np.concatenate([weight[:, 2:], weight[:, :2]], 1))


@pytest.mark.parametrize("kind", ["cbrnn", "rnn_aux"])
def test_a_version_2_model_and_optimizer_continue_training_as_the_original(tmp_path, kind):
    model = MODELS[kind]()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    _step(model, optimizer)  # the moments are not zero
    loaded = cbreservoir.load(_version_2_file(tmp_path, {"model": model, "optimizer": optimizer}))
    new_model, new_optimizer = loaded["model"], loaded["optimizer"]
    for parameter, new_parameter in zip(model.parameters(), new_model.parameters(), strict=True):
        for name, value in optimizer.state[parameter].items():
            assert torch.equal(new_optimizer.state[new_parameter][name], value), name
    _step(model, optimizer)
    _step(new_model, new_optimizer)
    for key, tensor in model.state_dict().items():
        assert torch.equal(new_model.state_dict()[key], tensor), key


def test_a_version_2_ensemble_continues_training_as_the_original(tmp_path):
    from cbreservoir.tasks import make_batch

    def members():
        return [CBRNN(1, 4, 8, 3, seed=seed) for seed in range(2)]

    ensemble = EnsembleTrainer(members(), seeds=range(2), optimizer="adam")
    rng = np.random.default_rng(0)
    batches = [[make_batch("parity", 3, batch_size=4, seed=rng) for _ in range(2)] for _ in range(2)]

    def step(trainer, batch):
        return trainer.train_step([x for x, _ in batch], [y for _, y in batch])

    step(ensemble, batches[0])
    loaded = cbreservoir.load(_version_2_file(tmp_path, ensemble))
    assert step(loaded, batches[1]) == step(ensemble, batches[1])
    for member, loaded_member in zip(ensemble.members, loaded.members, strict=True):
        for key, tensor in member.state_dict().items():
            assert torch.equal(loaded_member.state_dict()[key], tensor), key


def _saveables():
    model = MODELS["rnn_aux"]()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    _step(model, optimizer)
    ensemble = EnsembleTrainer([CBRNN(1, 4, 8, 3, seed=seed) for seed in range(2)], seeds=range(2))
    return {
        "cbrnn": MODELS["cbrnn"](),
        "optimizer_first": {"optimizer": optimizer, "model": model},  # the model's parameters are shared
        "ensemble": ensemble,
    }


@pytest.mark.parametrize("name", ["cbrnn", "optimizer_first", "ensemble"])
@pytest.mark.parametrize("old", [as_version_2, as_version_4])
def test_the_one_migration_path_brings_an_old_file_to_exactly_what_this_release_writes(tmp_path, name, old):
    """The converters chain (2 -> 3 -> 4 -> 5): the payload and every array as version 5 writes them."""
    new = cbreservoir.save(_saveables()[name], tmp_path / "new.cbr")
    contents = read_binary(old(new, tmp_path / "old.cbr"))
    assert contents.version < FORMAT_VERSION
    migrated = migrate(contents.header["object_type"], contents.version, contents)
    expected = read_binary(new)
    assert migrated.header["payload"] == expected.header["payload"]
    for key in expected.declared:
        np.testing.assert_array_equal(migrated.array(key), expected.array(key), err_msg=key)


def test_the_decoder_reads_the_current_layout_only(tmp_path):
    """A version 2 payload decoded without the migration path keeps its old layout: no conversion hides in
    the decoder."""
    from cbreservoir.io._codec import Decoder

    model = MODELS["cbrnn"]()
    contents = read_binary(_version_2_file(tmp_path, model))
    with pytest.warns(FutureWarning, match="hidden_size is deprecated"):  # the model's own old keywords
        decoded = Decoder(contents).decode(contents.header["payload"])
    weight = model.cerebellum.granule.weight
    assert not torch.equal(decoded.cerebellum.granule.weight, weight)  # columns still [h ; x]
    assert torch.equal(decoded.cerebellum.granule.weight, torch.cat([weight[:, 2:], weight[:, :2]], 1))

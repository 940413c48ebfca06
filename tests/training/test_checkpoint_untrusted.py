"""Issue 26, item 5: every field of a checkpoint is checked; its digest (anyone can recompute it) is no proof.

A crafted ``last.pt`` is written as an attacker would: the payload is changed and its digest computed
again (the digest detects corruption, not forgery).
"""

from __future__ import annotations

import resource

import pytest
import torch

from cbreservoir.models import CBRNN
from cbreservoir.training import CurriculumTrainer, GradientTrainer
from cbreservoir.training.curriculum import LAST_CHECKPOINT, load_checkpoint, write_checkpoint
from cbreservoir.utils.checks import SettingsMismatchError


def _curriculum(directory, **trainer_options) -> CurriculumTrainer:
    model = CBRNN(1, units=4, n_granule=8, n_purkinje=4, seed=0)
    trainer = GradientTrainer(model, **trainer_options)
    return CurriculumTrainer(
        trainer,
        "dms",
        steps_per_epoch=2,
        test_batches=1,
        batch_size=4,
        checkpoint_dir=directory,
        progress=False,
    )


def _forge(directory, edit) -> None:
    """Change ``last.pt`` in ``directory`` with ``edit(payload)`` and sign it again."""
    path = directory / LAST_CHECKPOINT
    payload = load_checkpoint(path)
    edit(payload)
    write_checkpoint(payload, path)


def test_a_forged_level_is_refused_before_anything_is_allocated(tmp_path):
    """Before: level = 3_000_000 with a recomputed digest was accepted and tried to allocate 25.8 GB."""
    _curriculum(tmp_path).run(2)
    _forge(tmp_path, lambda payload: payload.update(level=3_000_000))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ValueError, match="the next level must be 2"):
        _curriculum(tmp_path).run(3)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 100 * 1024  # KiB: < 100 MiB


def test_a_forged_history_that_no_run_writes_is_refused(tmp_path):
    _curriculum(tmp_path).run(2)

    def solve_everything(payload):
        for record in payload["history"]["records"]:
            record["solved"] = True

    _forge(tmp_path, solve_everything)
    with pytest.raises(ValueError, match="do not agree with"):
        _curriculum(tmp_path).run(3)


def test_a_forged_data_generator_is_refused(tmp_path):
    _curriculum(tmp_path).run(1)
    _forge(tmp_path, lambda payload: payload["data_rng"]["state"].update(state=-1))
    with pytest.raises(ValueError, match=r"data_rng\['state'\]\['state'\] must be an int"):
        _curriculum(tmp_path).run(2)


def test_a_param_groups_entry_cannot_hide_the_optimizer_from_the_signature(tmp_path):
    """Before: a top-level trainer["param_groups"] = [] stopped the walk; lr 100, momentum 0.99 resumed."""
    _curriculum(tmp_path).run(1)

    def hostile(payload):
        payload["trainer"]["param_groups"] = []
        for group in payload["trainer"]["optimizer"]["param_groups"]:
            group.update(lr=100.0, momentum=0.99)

    _forge(tmp_path, hostile)
    with pytest.raises(SettingsMismatchError) as refused:
        _curriculum(tmp_path).run(2)
    assert "trainer.optimizer.param_groups.0.lr: 100.0 -> 0.01" in str(refused.value)
    assert "trainer.optimizer.param_groups.0.momentum: 0.99 -> 0.1" in str(refused.value)


def test_hyperparameters_missing_from_a_checkpoint_are_a_difference(tmp_path):
    _curriculum(tmp_path).run(1)
    _forge(tmp_path, lambda payload: payload["trainer"]["optimizer"].update(param_groups=[]))
    with pytest.raises(SettingsMismatchError, match=r"param_groups.0.lr: '<absent>' -> 0.01"):
        _curriculum(tmp_path).run(2)


def test_an_honest_checkpoint_still_resumes_identically(tmp_path):
    first = _curriculum(tmp_path / "a")
    first.run(3)
    resumed = _curriculum(tmp_path / "b")
    resumed.run(2)
    resumed = _curriculum(tmp_path / "b")
    resumed.run(3)
    assert resumed.history.levels == first.history.levels
    assert resumed.history.losses == first.history.losses
    assert torch.equal(next(resumed.trainer.model.parameters()), next(first.trainer.model.parameters()))

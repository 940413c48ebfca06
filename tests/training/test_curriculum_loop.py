"""The one curriculum loop: run_curricula / run_epochs drive one curriculum or many in lock step."""

import pytest
import torch

from cbreservoir.models import CBRNN, ElmanRNN
from cbreservoir.training import CurriculumTrainer, GradientTrainer, run_curricula
from cbreservoir.training.curriculum import run_epochs
from cbreservoir.training.ensemble import EnsembleCurriculumTrainer, EnsembleTrainer
from cbreservoir.utils.files import DirectoryInUseError, directory_lock

SETTINGS = {"steps_per_epoch": 3, "test_batches": 2, "batch_size": 8, "threshold": 0.6, "progress": False}


def solo(seed, checkpoint_dir=None, **kwargs):
    trainer = GradientTrainer(ElmanRNN(1, 8, seed=seed), seed=seed)
    return CurriculumTrainer(
        trainer, "dms", seed=seed, checkpoint_dir=checkpoint_dir, **{**SETTINGS, **kwargs}
    )


def assert_same_run(got, want):
    assert got.history.to_dict()["records"] == [
        {**record, "seconds": got_record["seconds"]}
        for record, got_record in zip(
            want.history.to_dict()["records"], got.history.to_dict()["records"], strict=True
        )
    ]  # everything but the wall times, bitwise
    for a, b in zip(got.trainer.model.parameters(), want.trainer.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_curricula_run_together_are_each_their_own_run():
    together = [solo(0), solo(1)]
    histories = run_curricula(together, 3, progress=False)
    assert histories == [curriculum.history for curriculum in together]
    for seed, curriculum in enumerate(together):
        alone = solo(seed)
        alone.run(3)
        assert_same_run(curriculum, alone)


def test_a_batched_call_gets_every_running_curriculums_requests_of_one_kind():
    curricula = {0: solo(0), 2: solo(2)}
    for curriculum in curricula.values():
        curriculum.begin()
    rounds = []

    def call(kind, calls):
        rounds.append((kind, sorted(calls)))
        return {index: curricula[index]._call(kind, arguments) for index, arguments in calls.items()}

    records = run_epochs(curricula, call)
    assert rounds == [("train_step", [0, 2])] * 3 + [("evaluate_batches", [0, 2])]
    assert sorted(records) == [0, 2] and all(record.epoch == 1 for record in records.values())


def test_curricula_that_ask_for_different_calls_at_once_are_refused():
    curricula = {0: solo(0), 1: solo(1, steps_per_epoch=4)}
    for curriculum in curricula.values():
        curriculum.begin()
    with pytest.raises(RuntimeError, match=r"fell out of step: calls \['evaluate_batches', 'train_step'\]"):
        run_epochs(curricula)


def test_a_curriculum_ahead_sits_out_until_the_others_catch_up(tmp_path):
    solo(1, tmp_path / "one").run(2)
    ahead, behind = solo(1, tmp_path / "one"), solo(0)
    run_curricula([ahead, behind], 3, progress=False)
    assert [len(ahead.history), len(behind.history)] == [3, 3]
    alone = solo(1)
    alone.run(3)
    assert_same_run(ahead, alone)  # resumed after 2 epochs, it trained epoch 3 only, as a solo resume would


def test_the_ensemble_loop_locks_its_members_directories(tmp_path):
    ensemble = EnsembleTrainer([CBRNN(1, units=8, n_granule=16, n_purkinje=4, seed=s) for s in (0, 1)])
    curriculum = EnsembleCurriculumTrainer(ensemble, "dms", checkpoint_dir=tmp_path, **SETTINGS)
    with directory_lock(tmp_path / "member_01"), pytest.raises(DirectoryInUseError, match="member_01"):
        curriculum.run(1)
    assert not (tmp_path / "member_00" / "last.pt").exists()  # refused before anything trained
    assert [len(history) for history in curriculum.run(1)] == [1, 1]


def test_the_progress_bar_lists_every_curriculums_last_epoch(capsys):
    run_curricula([solo(0), solo(1)], 1, progress=True)
    err = capsys.readouterr().err
    assert "epoch=[1, 1]" in err and "N=[2, 2]" in err and "acc=[" in err


@pytest.mark.parametrize("n_epochs", [0, -1])
def test_a_budget_below_one_is_refused(n_epochs):
    with pytest.raises(ValueError, match=f"n_epochs must be a positive int; got {n_epochs}"):
        run_curricula([solo(0)], n_epochs)


def test_the_loop_needs_curricula_and_refuses_one_directory_twice(tmp_path):
    with pytest.raises(TypeError, match=r"curricula\[0\] must be a CurriculumTrainer; got <"):
        run_curricula([solo(0).trainer], 1)
    with pytest.raises(ValueError, match="at least one CurriculumTrainer, got none"):
        run_curricula([], 1)
    with pytest.raises(DirectoryInUseError):
        run_curricula([solo(0, tmp_path), solo(1, tmp_path)], 1, progress=False)

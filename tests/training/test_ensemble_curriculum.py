"""Ensemble curriculum (each member at its own level) and fixed-level ensemble training."""

import re

import numpy as np
import pytest

from cbreservoir.experiments.fixed_level import train_fixed_level
from cbreservoir.models import CBRNN
from cbreservoir.training import CurriculumTrainer, GradientTrainer
from cbreservoir.training.ensemble import EnsembleCurriculumTrainer, EnsembleTrainer

SEEDS = (0, 1, 2)
CURRICULUM = {"steps_per_epoch": 4, "test_batches": 2, "batch_size": 8, "threshold": 0.6}


def small_cbrnn(seed):
    return CBRNN(1, units=8, n_granule=16, n_purkinje=4, seed=seed)


def solo_history(seed, n_epochs, checkpoint_dir=None):
    trainer = GradientTrainer(small_cbrnn(seed), seed=seed, schedule="full_reservoir")
    curriculum = CurriculumTrainer(
        trainer, "parity", seed=seed, checkpoint_dir=checkpoint_dir, progress=False, **CURRICULUM
    )
    return curriculum.run(n_epochs), trainer


def ensemble_curriculum(checkpoint_dir=None):
    ensemble = EnsembleTrainer([small_cbrnn(s) for s in SEEDS], seeds=SEEDS, schedule="full_reservoir")
    return EnsembleCurriculumTrainer(
        ensemble, "parity", checkpoint_dir=checkpoint_dir, progress=False, **CURRICULUM
    )


def assert_same_history(got, want):
    assert got.levels == want.levels
    assert got.accuracies == want.accuracies
    np.testing.assert_allclose(got.losses, want.losses, rtol=1e-5)


def test_each_member_follows_its_solo_curriculum():
    histories = ensemble_curriculum().run(4)
    solos = [solo_history(seed, 4)[0] for seed in SEEDS]
    for history, solo in zip(histories, solos, strict=True):
        assert_same_history(history, solo)
    assert len({tuple(history.levels) for history in histories}) > 1  # members really are at own levels


def test_interrupted_ensemble_curriculum_resumes_exactly_and_members_resume_solo(tmp_path):
    ensemble_curriculum(tmp_path).run(2)
    resumed = ensemble_curriculum(tmp_path).run(3)
    solos = [solo_history(seed, 3)[0] for seed in SEEDS]
    for history, solo in zip(resumed, solos, strict=True):
        assert_same_history(history, solo)
    solo_resumed, _ = solo_history(1, 4, checkpoint_dir=tmp_path / "member_01")
    assert_same_history(solo_resumed, solo_history(1, 4)[0])


def test_a_failing_member_stops_the_ensemble_with_its_error(tmp_path):
    ensemble_curriculum(tmp_path).run(1)
    (tmp_path / "member_01" / "last.pt").write_bytes(b"broken")
    with pytest.raises(Exception) as solo_error:
        solo_history(1, 2, checkpoint_dir=tmp_path / "member_01")
    with pytest.raises(solo_error.type, match=re.escape(str(solo_error.value))):
        ensemble_curriculum(tmp_path).run(2)


def test_train_fixed_level_reports_every_member():
    result = train_fixed_level("cbrnn", "dms", n=2, steps=3, ensemble=2, batch_size=8, test_batches=2)
    assert result["ensemble"] == 2 and len(result["accuracy"]) == 2 and len(result["test_loss"]) == 2
    assert result["parameters"] == 41922 and result["seeds"] == [0, 1]
    assert all(0.0 <= accuracy <= 1.0 for accuracy in result["accuracy"])
    assert result["updates_per_second"] == pytest.approx(3 / result["seconds"])
    assert result["member_updates_per_second"] == pytest.approx(2 * result["updates_per_second"])


def test_train_fixed_level_rnn_is_the_parameter_matched_baseline():
    result = train_fixed_level("rnn", "parity", n=2, steps=1, ensemble=1, batch_size=4, test_batches=1)
    assert result["units"] == 202 and result["parameters"] == 41816


def test_train_fixed_level_member_is_the_solo_run():
    from cbreservoir.tasks import make_batch

    result = train_fixed_level("cbrnn", "dms", n=3, steps=2, ensemble=2, seed=5, batch_size=8, test_batches=1)
    trainer = GradientTrainer(CBRNN(1, seed=6), seed=6)
    rng = np.random.default_rng(6)
    losses = [trainer.train_step(*make_batch("dms", 3, batch_size=8, seed=rng)) for _ in range(2)]
    assert result["final_train_loss"][1] == pytest.approx(losses[-1], rel=1e-5)
    assert (
        result["accuracy"][1] == trainer.evaluate(*make_batch("dms", 3, batch_size=8, seed=rng))["accuracy"]
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"model": "gru"}, "model must be"), ({"task": "narma"}, "task must be"), ({"steps": 0}, "steps")],
)
def test_train_fixed_level_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        train_fixed_level(**{"steps": 1, "ensemble": 1, "batch_size": 4, **kwargs})


def test_members_resumed_at_different_epochs_each_finish_their_own_curriculum(tmp_path):
    # member 2's solo run got further (epoch 3) than the ensemble (epoch 1) before both stopped
    ensemble_curriculum(tmp_path).run(1)
    ahead, _ = solo_history(SEEDS[2], 3, checkpoint_dir=tmp_path / "member_02")
    resumed = ensemble_curriculum(tmp_path).run(4)
    for history, seed in zip(resumed, SEEDS, strict=True):
        assert_same_history(history, solo_history(seed, 4)[0])
    # member 2 did not train its first 3 epochs again: their records (wall times included) are the solo run's
    assert resumed[2].to_dict()["records"][:3] == ahead.to_dict()["records"]


def test_running_again_continues_in_lock_step(monkeypatch):
    curriculum = ensemble_curriculum()
    curriculum.run(1)
    sizes = []
    original = curriculum.ensemble.train_step
    monkeypatch.setattr(
        curriculum.ensemble, "train_step", lambda xs, *a, **k: sizes.append(len(xs)) or original(xs, *a, **k)
    )
    histories = curriculum.run(2)
    assert sizes and set(sizes) == {len(SEEDS)}  # every update batches all members again
    for history, seed in zip(histories, SEEDS, strict=True):
        assert_same_history(history, solo_history(seed, 2)[0])

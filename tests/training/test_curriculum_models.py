"""Curriculum with tiny real models and B's GradientTrainer: runs, schedules follow levels, exact resume."""

import torch

from cbreservoir.models import CBRNN, ElmanRNN
from cbreservoir.training import CurriculumTrainer, GradientTrainer

SMALL = {"steps_per_epoch": 3, "test_batches": 2, "batch_size": 8, "progress": False}


def _tiny_cbrnn(input_dim=1, n_classes=2):
    return CBRNN(input_dim, units=8, n_granule=16, n_purkinje=8, n_classes=n_classes, seed=0)


def test_a_tiny_cbrnn_runs_two_epochs():
    trainer = GradientTrainer(_tiny_cbrnn(), seed=0)
    history = CurriculumTrainer(trainer, "parity", **SMALL).run(2)
    assert len(history) == 2 and history.levels[0] == 2
    assert all(0.0 <= record.accuracy <= 1.0 and record.loss > 0 for record in history.records)
    assert trainer.step_count == 6


def test_multitask_and_switching_with_two_heads():
    multitask = GradientTrainer(_tiny_cbrnn(n_classes=(2, 2)), seed=0)
    assert len(CurriculumTrainer(multitask, "multitask", **SMALL).run(1).records[0].head_accuracies) == 2
    switching = GradientTrainer(_tiny_cbrnn(input_dim=2, n_classes=(2, 2)), seed=0)
    record = CurriculumTrainer(switching, "switching", **SMALL).run(1).records[0]
    assert record.active_head == 0 and len(record.head_accuracies) == 2


def test_the_plasticity_schedule_follows_the_level():
    # threshold 0.01: every epoch passes, so the level rises by one per epoch
    trainer = GradientTrainer(ElmanRNN(1, 6, seed=0), schedule="full_reservoir", seed=0)
    curriculum = CurriculumTrainer(trainer, "dms", threshold=0.01, **SMALL)
    curriculum.run(2)
    assert curriculum.level == 4 and trainer.level == 4
    assert "core" not in trainer.trainable_groups


def test_an_interrupted_run_resumes_to_identical_weights(tmp_path):
    def fresh():
        return GradientTrainer(_tiny_cbrnn(), seed=0)

    reference = fresh()
    expected = CurriculumTrainer(reference, "dms", threshold=0.5, **SMALL).run(3)
    assert len(set(expected.levels)) > 1  # the level changes across the interruption

    CurriculumTrainer(fresh(), "dms", threshold=0.5, checkpoint_dir=tmp_path, **SMALL).run(1)
    resumed = fresh()
    history = CurriculumTrainer(resumed, "dms", threshold=0.5, checkpoint_dir=tmp_path, **SMALL).run(3)
    assert history.levels == expected.levels and history.accuracies == expected.accuracies
    assert history.losses == expected.losses
    for name, tensor in reference.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name

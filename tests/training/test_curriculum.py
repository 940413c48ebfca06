"""Curriculum trainer with fake trainers: an oracle that reads the true labels off the inputs."""

import json
import zlib

import numpy as np
import pytest

from cbreservoir.tasks import MULTITASK_TASKS, labels
from cbreservoir.training.curriculum import (
    CurriculumHistory,
    CurriculumTrainer,
    checkpoint_level,
    level_checkpoint,
)


class OracleTrainer:
    """Answers every test trial correctly from the bits, up to a per-head level cap (then always wrong).

    It checks that the batches it receives belong to the level it was told with ``set_level`` and keeps
    a checksum of every training input, so two runs that saw the same data end with the same state.
    """

    def __init__(self, tasks=("parity",), caps=None, crash_at_step=None):
        self.tasks = tasks
        self.caps = caps or {}
        self.crash_at_step = crash_at_step
        self.level = None
        self.levels_set = []
        self.heads_trained = []
        self.steps = 0
        self.checksum = 0

    def set_level(self, n):
        self.level = n
        self.levels_set.append(n)

    def _check_length(self, x):
        assert self.level + 2 <= x.shape[1] <= 4 * self.level + 1

    def train_step(self, x, y, head=None):
        if self.steps == self.crash_at_step:
            raise KeyboardInterrupt
        self._check_length(x)
        self.steps += 1
        self.heads_trained.append(head)
        self.checksum = zlib.crc32(x.tobytes(), self.checksum)
        return 1.0 / self.steps

    def evaluate(self, x, y, head=None):
        self._check_length(x)
        targets = y if isinstance(y, tuple) else (y,)
        bits = x[:, :, 0].astype(np.uint8)
        accuracies = []
        for task, target in zip(self.tasks, targets, strict=True):
            predicted = labels(task, bits, n=self.level)
            if self.level > self.caps.get(task, np.inf):
                predicted = (predicted + 1) % 2
            accuracies.append(float(np.mean(predicted == target)))
        return {"accuracy": tuple(accuracies) if len(accuracies) > 1 else accuracies[0], "loss": 0.5}

    def state_dict(self):
        return {"steps": self.steps, "checksum": self.checksum, "level": self.level}

    def load_state_dict(self, state):
        self.steps, self.checksum, self.level = state["steps"], state["checksum"], state["level"]


class ConstantTrainer(OracleTrainer):
    """Reports a fixed accuracy."""

    def __init__(self, accuracy):
        super().__init__()
        self.accuracy = accuracy

    def evaluate(self, x, y, head=None):
        return {"accuracy": self.accuracy, "loss": 0.1}


def _curriculum(trainer, task="parity", **kwargs):
    settings = {"steps_per_epoch": 3, "test_batches": 2, "batch_size": 8, "progress": False, **kwargs}
    return CurriculumTrainer(trainer, task, **settings)


@pytest.mark.parametrize("task", ["dms", "parity", "mod3"])
def test_an_always_right_model_advances_every_epoch(task):
    trainer = OracleTrainer(tasks=(task,))
    history = _curriculum(trainer, task).run(5)
    assert history.levels == [2, 3, 4, 5, 6]
    assert trainer.levels_set == [2, 3, 4, 5, 6, 7]
    assert trainer.steps == 15 and set(trainer.heads_trained) == {None}
    assert all(record.solved and record.accuracy == 1.0 for record in history.records)
    assert [record.epoch for record in history.records] == [1, 2, 3, 4, 5]


def test_the_level_stays_until_the_test_passes():
    history = _curriculum(OracleTrainer(caps={"parity": 4})).run(6)
    assert history.levels == [2, 3, 4, 5, 5, 5]
    assert history.accuracies[3:] == [0.0, 0.0, 0.0]


def test_threshold_is_inclusive_and_start_level_is_used():
    assert _curriculum(ConstantTrainer(0.98), start_level=7).run(3).levels == [7, 8, 9]
    assert _curriculum(ConstantTrainer(0.979)).run(3).levels == [2, 2, 2]


def test_record_contents():
    history = _curriculum(OracleTrainer()).run(2)
    record = history.records[0]
    assert record.loss == pytest.approx(np.mean([1, 1 / 2, 1 / 3]))
    assert record.test_loss == 0.5 and record.seconds >= 0.0
    assert record.head_accuracies == (1.0,) and record.active_head is None
    assert history.seconds == [r.seconds for r in history.records]
    assert history.losses == [r.loss for r in history.records]


def test_multitask_advances_only_when_both_heads_pass():
    trainer = OracleTrainer(tasks=MULTITASK_TASKS, caps={"parity": 3})
    history = _curriculum(trainer, "multitask").run(5)
    assert history.levels == [2, 3, 4, 4, 4]
    assert history.records[-1].head_accuracies == (1.0, 0.0)
    assert history.records[-1].accuracy == 0.0
    assert set(trainer.heads_trained) == {None}


def test_switching_trains_and_judges_only_the_active_head():
    # the DMS head fails from N = 5 on, but parity is active for 5..9, so the run advances to 10
    trainer = OracleTrainer(tasks=MULTITASK_TASKS, caps={"dms": 4})
    history = _curriculum(trainer, "switching").run(10)
    assert history.levels == list(range(2, 10)) + [10, 10]
    assert [r.active_head for r in history.records] == [0, 0, 0] + [1] * 5 + [0, 0]
    assert history.records[4].head_accuracies == (0.0, 1.0) and history.records[4].solved
    assert not history.records[-1].solved
    assert trainer.heads_trained == [0] * 9 + [1] * 15 + [0] * 6


def test_switching_batches_carry_the_pulse_channel():
    seen = []

    class Recorder(OracleTrainer):
        def train_step(self, x, y, head=None):
            seen.append(x)
            return super().train_step(x, y, head)

    _curriculum(Recorder(tasks=MULTITASK_TASKS), "switching").run(1)
    assert all(x.shape[2] == 2 and np.all(x[:, :3, 1] == 1) and np.all(x[:, 3:, 1] == 0) for x in seen)


def test_same_seed_same_data_other_seed_other_data():
    checksums = []
    for seed in (0, 0, 1):
        trainer = OracleTrainer()
        _curriculum(trainer, seed=seed).run(3)
        checksums.append(trainer.checksum)
    assert checksums[0] == checksums[1] != checksums[2]


def test_checkpoints_per_solved_level_and_per_epoch(tmp_path):
    _curriculum(OracleTrainer(caps={"parity": 3}), checkpoint_dir=tmp_path).run(4)
    assert sorted(path.name for path in tmp_path.glob("*.pt")) == ["last.pt", "level_002.pt", "level_003.pt"]


def test_a_level_checkpoint_name_reads_back_as_its_level():
    assert [checkpoint_level(level_checkpoint(level)) for level in (2, 38, 1000)] == [2, 38, 1000]
    assert [checkpoint_level(name) for name in ("last.pt", "level_2.pt.bak", "xlevel_002.pt")] == [None] * 3


def _comparable(history):
    return [{**record, "seconds": 0.0} for record in history.to_dict()["records"]]


def test_resume_after_a_finished_shorter_run_continues_identically(tmp_path):
    reference = OracleTrainer(caps={"parity": 5})
    expected = _curriculum(reference).run(6)

    _curriculum(OracleTrainer(caps={"parity": 5}), checkpoint_dir=tmp_path).run(2)
    resumed_trainer = OracleTrainer(caps={"parity": 5})
    resumed = _curriculum(resumed_trainer, checkpoint_dir=tmp_path).run(6)
    assert _comparable(resumed) == _comparable(expected)
    assert resumed_trainer.state_dict() == reference.state_dict()


def test_resume_after_an_interrupt_mid_epoch_continues_identically(tmp_path):
    reference = OracleTrainer()
    expected = _curriculum(reference).run(4)

    with pytest.raises(KeyboardInterrupt):
        _curriculum(OracleTrainer(crash_at_step=7), checkpoint_dir=tmp_path).run(4)
    assert not list(tmp_path.glob("*.tmp"))
    resumed_trainer = OracleTrainer()
    resumed = _curriculum(resumed_trainer, checkpoint_dir=tmp_path).run(4)
    assert _comparable(resumed) == _comparable(expected)
    assert resumed_trainer.state_dict() == reference.state_dict()
    assert resumed_trainer.levels_set[0] == 4  # the level was re-applied after loading


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path):
    _curriculum(OracleTrainer(), checkpoint_dir=tmp_path).run(1)
    with pytest.raises(ValueError, match="other settings.*curriculum.threshold: 0.98 -> 0.9"):
        _curriculum(OracleTrainer(), checkpoint_dir=tmp_path, threshold=0.9).run(2)


def test_history_round_trips_through_json():
    history = _curriculum(OracleTrainer(tasks=MULTITASK_TASKS), "switching").run(2)
    restored = CurriculumHistory.from_dict(json.loads(json.dumps(history.to_dict())))
    assert restored == history


def test_progress_bar_shows_epoch_level_and_accuracy(capsys):
    _curriculum(OracleTrainer(), progress=True).run(2)
    err = capsys.readouterr().err
    assert "epoch=2" in err and "N=3" in err and "acc=1.000" in err


def test_a_model_with_the_wrong_number_of_heads_is_reported():
    with pytest.raises(ValueError, match="needs a model with 2 head"):
        _curriculum(ConstantTrainer(1.0), "multitask").run(1)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"task": "copy"}, ValueError, "task must be one of"),
        (
            {"task": "dms", "start_level": 1},
            ValueError,
            r"start_level \(the task level N\) for task 'dms' must be an int in \[2, inf\]; got 1",
        ),
        ({"task": "dms", "start_level": 2.0}, TypeError, r"start_level .* an int in \[2, inf\]; got 2.0"),
        ({"steps_per_epoch": 0}, ValueError, "steps_per_epoch must be a positive int; got 0"),
        ({"threshold": 1.5}, ValueError, r"threshold must be a finite number in \(0, 1\]; got 1.5"),
        ({"seed": 0.5}, TypeError, r"seed must be an int in \[0, 4294967295\]; got 0.5"),
        ({"seed": -1}, ValueError, r"seed must be an int in \[0, 4294967295\]; got -1"),
    ],
)
def test_bad_settings(kwargs, error, message):
    with pytest.raises(error, match=message):
        _curriculum(OracleTrainer(), **kwargs)


def test_bad_budget():
    with pytest.raises(ValueError, match="n_epochs must be a positive int; got 0"):
        _curriculum(OracleTrainer()).run(0)

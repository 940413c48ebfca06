"""The continual plan DMS -> parity -> DMS: data, phases, plasticity warm-up, metrics, resume, ensembles."""

import numpy as np
import pytest

from cbreservoir.analysis.metrics import continual_metrics
from cbreservoir.tasks import CONTINUAL_PLAN, MULTITASK_TASKS, labels, make_continual_batch, task_spec
from cbreservoir.training import ContinualTrainer, make_curriculum
from cbreservoir.training.continual import WARMUP_LEVEL


def test_continual_batch_carries_bits_cue_and_pulse_and_both_labels():
    x, (y_dms, y_parity) = make_continual_batch("parity", 4, batch_size=16, seed=0)
    assert x.shape[0] == 16 and x.shape[2] == task_spec("continual").input_size == 4 and x.dtype == np.float32
    bits = x[:, :, 0].astype(np.uint8)
    np.testing.assert_array_equal(y_dms, labels("dms", bits, n=4))
    np.testing.assert_array_equal(y_parity, labels("parity", bits, n=4))
    assert (x[:, :, 1] == 0).all() and (x[:, :, 2] == 1).all()  # one-hot cue of parity, every step
    assert (x[:, :3, 3] == 1).all() and (x[:, 3:, 3] == 0).all()  # the 3-step pulse
    same_bits, _ = make_continual_batch("dms", 4, batch_size=16, seed=0)
    np.testing.assert_array_equal(same_bits[:, :, 0], x[:, :, 0])  # the cue does not change the draw
    with pytest.raises(ValueError, match=r"task must be one of \['dms', 'parity'\]; got 'mod3'"):
        make_continual_batch("mod3", 4, batch_size=4, seed=0)


class CueLearner:
    """Knows a task after ``learn`` training steps on it (``relearn`` when it knew it before) and forgets
    the other task after ``forget`` steps of training the other; a known task scores 1, another 0.5."""

    def __init__(self, learn=4, relearn=2, forget=2):
        self.learn, self.relearn, self.forget = learn, relearn, forget
        self.steps = {0: 0, 1: 0}
        self.known, self.knew = {0: False, 1: False}, {0: False, 1: False}
        self.levels_set, self.heads = [], []

    def set_level(self, n):
        self.levels_set.append(n)

    def train_step(self, x, y, head=None):
        assert x.shape[2] == 4 and (x[:, :, 1 + head] == 1).all()  # trained on its own cue
        self.heads.append(head)
        other = 1 - head
        self.steps[head] += 1
        self.steps[other] = 0 if self.known[other] else self.steps[other]
        if self.steps[head] >= (self.relearn if self.knew[head] else self.learn):
            self.known[head] = self.knew[head] = True
        if self.known[other] and len(self.heads) >= self.forget and set(self.heads[-self.forget :]) == {head}:
            self.known[other] = False
        return 0.1

    def evaluate(self, x, y, head=None):
        return {"accuracy": tuple(1.0 if self.known[h] else 0.5 for h in (0, 1)), "loss": 0.3}

    def state_dict(self):
        return {"steps": dict(self.steps), "known": dict(self.known), "knew": dict(self.knew)}

    def load_state_dict(self, state):
        self.steps, self.known, self.knew = dict(state["steps"]), dict(state["known"]), dict(state["knew"])


def _continual(trainer, **kwargs):
    settings = {"start_level": 4, "phase_epochs": 3, "steps_per_epoch": 2, "test_batches": 2, "batch_size": 8}
    return ContinualTrainer(trainer, progress=False, **{**settings, **kwargs})


def test_phases_follow_the_plan_at_one_level_and_the_schedule_leaves_its_warm_up_at_the_first_criterion():
    learner = CueLearner()
    run = _continual(learner)
    history = run.run(run.n_epochs)
    assert run.n_epochs == 9 and len(CONTINUAL_PLAN) == 3
    assert [record.active_head for record in history.records] == [0] * 3 + [1] * 3 + [0] * 3
    assert set(history.levels) == {4} and run.level == 4  # the level never advances
    assert [record.solved for record in history.records] == [False, True, True, False, True, True,
                                                              True, True, True]  # fmt: skip
    assert learner.levels_set == [WARMUP_LEVEL, 4]  # frozen-core schedules train their core until then
    assert history.records[5].head_accuracies == (0.5, 1.0)  # DMS forgotten while parity trained
    metrics = continual_metrics([{**vars(r), "head_accuracies": list(r.head_accuracies)}
                                 for r in history.records], phase_epochs=3)  # fmt: skip
    assert metrics["epochs_to_criterion"] == [2, 2, 1] and metrics["savings"] == 0.5
    assert metrics["final_accuracy"] == [1.0, 1.0, 1.0] and metrics["final_inactive_accuracy"] == [
        0.5,
        0.5,
        0.5,
    ]


def test_continual_metrics_censor_a_repeated_phase_that_never_reaches_the_criterion():
    def record(solved, head):
        return {"solved": solved, "active_head": head, "head_accuracies": [0.5, 0.5]}

    records = [record(i == 1, 0) for i in range(4)] + [record(False, 1)] * 4 + [record(False, 0)] * 4
    metrics = continual_metrics(records, phase_epochs=4)
    assert metrics["epochs_to_criterion"] == [2, None, None]
    assert metrics["savings"] == (2 - 5) / 2 and metrics["savings_censored"]
    assert continual_metrics([record(False, 0)] * 2, phase_epochs=1)["savings"] is None
    with pytest.raises(ValueError, match="expected whole phases of 4 epochs, got 6 epoch records"):
        continual_metrics(records[:6], phase_epochs=4)


def test_interrupted_continual_run_resumes_exactly(tmp_path):
    whole = _continual(CueLearner())
    expected = whole.run(whole.n_epochs)
    first = _continual(CueLearner(), checkpoint_dir=tmp_path)
    first.run(4)  # stops inside the parity phase
    resumed = _continual(CueLearner(), checkpoint_dir=tmp_path)
    history = resumed.run(resumed.n_epochs)
    assert [(r.solved, r.head_accuracies, r.active_head) for r in history.records] == [
        (r.solved, r.head_accuracies, r.active_head) for r in expected.records
    ]
    with pytest.raises(ValueError, match="phase_epochs: 3 -> 2"):
        _continual(CueLearner(), checkpoint_dir=tmp_path, phase_epochs=2).run(6)


def test_bad_continual_settings_are_refused_before_any_work():
    with pytest.raises(ValueError, match=r"start_level \(the continual plan's fixed level N\) must be"):
        _continual(CueLearner(), start_level=2)
    with pytest.raises(ValueError, match="phase_epochs must be"):
        _continual(CueLearner(), phase_epochs=0)
    with pytest.raises(ValueError, match=r"task must be one of \['continual'\]; got 'dms'"):
        ContinualTrainer(CueLearner(), "dms", start_level=4)
    with pytest.raises(ValueError, match="phase_epochs belongs to the continual plan, got it for task 'dms'"):
        make_curriculum(CueLearner(), "dms", phase_epochs=3)
    assert MULTITASK_TASKS == ("dms", "parity")


def test_continual_cells_run_alone_and_as_an_ensemble_with_the_same_numbers():
    from cbreservoir.experiments.reproduce import get_profile
    from cbreservoir.experiments.reproduce.run import make_cell, run_cell, run_ensemble

    profile = get_profile("quick").replace(n_epochs=1, steps_per_epoch=2, test_batches=1, batch_size=8)
    cells = [
        make_cell("continual", condition, seed=0, profile=profile)
        for condition in ("cbrnn", "full_reservoir")
    ]
    assert cells[0]["continual"] == {"level": 3, "phase_epochs": 1}
    together = run_ensemble(cells)
    for cell, run in zip(cells, together, strict=True):
        alone = run_cell(cell)
        assert [r["head_accuracies"] for r in run["history"]["records"]] == [
            r["head_accuracies"] for r in alone["history"]["records"]
        ]
        assert len(run["levels"]) == 3 and run["continual"] == cell["continual"]
    assert together[1]["frozen"][-1]["frozen"] == ["core.recurrent_layer.weight", "core.recurrent_layer.bias"]


def test_continual_summary_compares_each_condition_with_rnn_only_per_phase():
    from cbreservoir.experiments.reproduce.summary import markdown_table, summarize_task

    def run(condition, seed, first_solved):
        records = [
            {"solved": epoch >= first_solved[epoch // 2], "active_head": (epoch // 2) % 2,
             "head_accuracies": [0.5, 0.5]}
            for epoch in range(6)
        ]  # fmt: skip
        return {"condition": condition, "seed": seed, "n_granule": 256, "units": 64, "n_parameters": 10,
                "continual": {"level": 3, "phase_epochs": 2}, "history": {"records": records}}  # fmt: skip

    runs = [run("cbrnn", s, (0, 2, 4)) for s in range(2)] + [run("rnn", s, (1, 3, 9)) for s in range(2)]
    summary = summarize_task("continual", runs, n_epochs=6)
    (comparison,) = summary["comparisons"]
    assert comparison["condition"] == "cbrnn" and len(comparison["epochs_to_criterion"]) == 3
    # E per phase: CB-RNN 1, 1, 1; RNN-only 2, 2 and never (counted as 3)
    assert [r["ratio"] for r in comparison["epochs_to_criterion"]] == pytest.approx([0.5, 0.5, 1 / 3])
    assert "phase 2 (parity)" in markdown_table([summary])

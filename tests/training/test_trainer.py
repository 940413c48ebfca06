"""Tests of GradientTrainer and the plasticity schedules."""

import numpy as np
import pytest
import torch

from cbreservoir.models import CBRNN, ElmanRNN
from cbreservoir.tasks import make_batch, make_multitask_batch
from cbreservoir.training import (
    EndToEnd,
    FullReservoir,
    GradientTrainer,
    Interleaved,
    ReducedRecurrentPlasticity,
    TrainingDivergedError,
    frozen_parameters,
    frozen_phases,
    make_schedule,
)


def _snapshot(module):
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def _changed(before, module):
    return {name for name, p in module.named_parameters() if not torch.equal(before[name], p)}


def test_schedules_plasticity_and_config_round_trip():
    assert EndToEnd().trainable_groups(7) == {"core", "cerebellum", "readout"}
    full = FullReservoir()
    assert full.trainable_groups(None) == full.trainable_groups(2) == {"core", "readout"}
    assert full.trainable_groups(3) == full.trainable_groups(40) == {"cerebellum", "readout"}
    interleaved = Interleaved(k=5)
    unfrozen = [n for n in range(2, 30) if "core" in interleaved.trainable_groups(n)]
    assert unfrozen == [2] + [n for n in range(3, 30) if (n - 2) % 5 == 0]  # phase 0, then 7, 12, ...
    assert all("cerebellum" in interleaved.trainable_groups(n) for n in range(3, 30))
    assert ReducedRecurrentPlasticity(0.25).learning_rate_scales == {"core": 0.25}
    for schedule in (EndToEnd(), full, interleaved, ReducedRecurrentPlasticity(0.5)):
        assert make_schedule(**schedule.config) == schedule
    with pytest.raises(ValueError, match="schedule name must be one of"):
        make_schedule("sometimes")
    with pytest.raises(ValueError, match="bad arguments"):
        make_schedule("interleaved", period=3)
    with pytest.raises(ValueError, match="k must be a positive int"):
        Interleaved(k=0)


def test_full_reservoir_freezes_core_after_phase0_while_cerebellum_learns():
    trainer = GradientTrainer(
        CBRNN(1, 8, 32, 8, seed=0), schedule="full_reservoir", learning_rate=0.1, seed=0
    )
    model = trainer.model
    x, y = make_batch("dms", 2, batch_size=32, seed=0)
    trainer.set_level(2)
    core, cerebellum = _snapshot(model.core), _snapshot(model.cerebellum)
    trainer.train_step(x, y)
    assert _changed(core, model.core) == set(core)
    assert not _changed(cerebellum, model.cerebellum)
    trainer.set_level(3)
    core, cerebellum, readout = _snapshot(model.core), _snapshot(model.cerebellum), _snapshot(model.readouts)
    for seed in range(3):
        trainer.train_step(*make_batch("dms", 3, batch_size=32, seed=seed))
    assert not _changed(core, model.core)
    assert _changed(cerebellum, model.cerebellum) == set(cerebellum)
    assert _changed(readout, model.readouts) == set(readout)


def test_frozen_core_recurrent_freezes_only_the_recurrent_layer():
    # the study's multitask / task-switching regime: after phase 0 W_h and b_h stay, W_x, b_x learn
    schedule = FullReservoir(frozen_core="recurrent")
    assert schedule.trainable_groups(2) == {"core", "readout"}
    assert schedule.trainable_groups(3) == {"core.input", "cerebellum", "readout"}
    assert Interleaved(k=2, frozen_core="recurrent").trainable_groups(4) == {"core", "cerebellum", "readout"}
    assert make_schedule(**schedule.config) == schedule
    with pytest.raises(ValueError, match=r"frozen_core must be one of \['all', 'recurrent'\]; got 'input'"):
        FullReservoir(frozen_core="input")
    trainer = GradientTrainer(
        CBRNN(1, 8, 32, 8, n_classes=(2, 2), seed=0), schedule=schedule, learning_rate=0.1
    )
    trainer.set_level(3)
    before = _snapshot(trainer.model)
    for seed in range(2):
        x, y = make_multitask_batch(3, batch_size=16, seed=seed)
        trainer.train_step(x, y)
    changed = _changed(before, trainer.model)
    assert {"core.recurrent_layer.weight", "core.recurrent_layer.bias"}.isdisjoint(changed)
    assert {"core.input_layer.weight", "core.input_layer.bias", "cerebellum.granule.weight"} <= changed
    assert frozen_parameters(trainer.model, schedule, 3) == [
        "core.recurrent_layer.weight",
        "core.recurrent_layer.bias",
    ]
    assert frozen_parameters(trainer.model, FullReservoir(), 3) == [
        name for name, _ in trainer.model.core.named_parameters(prefix="core")
    ]


def test_frozen_phases_group_consecutive_levels():
    model = CBRNN(1, 4, 8, 4, seed=0)
    phases = frozen_phases(model, Interleaved(k=3), range(2, 9))
    assert [phase["levels"] for phase in phases] == [[2, 2], [3, 4], [5, 5], [6, 7], [8, 8]]
    assert phases[0]["frozen"] == [name for name, _ in model.cerebellum.named_parameters(prefix="cerebellum")]
    assert phases[2]["frozen"] == [] and phases[1]["frozen"] == phases[3]["frozen"]
    assert frozen_phases(model, EndToEnd(), range(2, 6)) == [{"levels": [2, 5], "frozen": []}]


def test_interleaved_trainer_unfreezes_core_at_period():
    trainer = GradientTrainer(CBRNN(1, 6, 16, 4, seed=0), schedule=Interleaved(k=3), learning_rate=0.1)
    x, y = make_batch("dms", 5, batch_size=16, seed=0)
    for level, core_learns in [(3, False), (4, False), (5, True), (6, False), (8, True)]:
        trainer.set_level(level)
        before = _snapshot(trainer.model.core)
        trainer.train_step(x, y)
        assert bool(_changed(before, trainer.model.core)) == core_learns, level


def test_module_learning_rates_and_reduced_recurrent_plasticity():
    trainer = GradientTrainer(
        CBRNN(1, 4, 8, 4), schedule=ReducedRecurrentPlasticity(0.1), module_learning_rates={"readout": 0.5}
    )
    rates = {group["name"]: group["lr"] for group in trainer.optimizer.param_groups}
    assert rates == pytest.approx({"core": 0.001, "cerebellum": 0.01, "readout": 0.5})
    assert (
        trainer.optimizer.param_groups[0]["nesterov"] and trainer.optimizer.param_groups[0]["momentum"] == 0.1
    )
    adam = GradientTrainer(ElmanRNN(1, 4), optimizer="adam", learning_rate=0.003)
    assert isinstance(adam.optimizer, torch.optim.Adam)
    assert [g["name"] for g in adam.optimizer.param_groups] == ["core", "readout"]


def test_cbrnn_learns_dms_at_level_3():
    torch.manual_seed(0)
    trainer = GradientTrainer(CBRNN(1, 32, 128, 32, seed=0), optimizer="adam", learning_rate=0.003, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(300):
        trainer.train_step(*make_batch("dms", 3, batch_size=64, seed=rng))
    x, y = make_batch("dms", 3, batch_size=1024, seed=12345)
    assert trainer.evaluate(x, y)["accuracy"] >= 0.95


def _run(trainer, n_steps, first_seed=0):
    return [
        trainer.train_step(*make_batch("parity", 3, batch_size=16, seed=first_seed + s))
        for s in range(n_steps)
    ]


def test_same_seed_same_trajectory_and_state_dict_resume():
    losses = [_run(GradientTrainer(CBRNN(1, 8, 16, 4, seed=1), seed=7), 6) for _ in range(2)]
    assert losses[0] == losses[1]
    first = GradientTrainer(CBRNN(1, 8, 16, 4, seed=1), seed=7)
    _run(first, 3)
    state = first.state_dict()
    resumed = GradientTrainer(CBRNN(1, 8, 16, 4, seed=99), seed=0)
    resumed.load_state_dict(state)
    assert resumed.step_count == 3
    assert _run(resumed, 3, first_seed=3) == losses[0][3:]
    other_seed = GradientTrainer(CBRNN(1, 8, 16, 4, seed=1), seed=8)
    assert _run(other_seed, 6) != losses[0]


def test_evaluation_does_not_change_the_training_trajectory():
    plain = GradientTrainer(CBRNN(1, 8, 16, 4, seed=1), seed=3)
    interleaved = GradientTrainer(CBRNN(1, 8, 16, 4, seed=1), seed=3)
    x, y = make_batch("dms", 2, batch_size=16, seed=0)
    losses = []
    for step in range(4):
        losses.append(plain.train_step(x, y))
        interleaved.evaluate(x, y)
        assert interleaved.train_step(x, y) == losses[-1], step


def test_divergence_stops_with_last_good_weights():
    trainer = GradientTrainer(CBRNN(1, 8, 16, 4, seed=0), learning_rate=1e30, clip_norm=None, momentum=0.0)
    x, y = make_batch("dms", 2, batch_size=16, seed=0)
    with pytest.raises(TrainingDivergedError, match="at step [12]") as info:
        for _ in range(5):
            good = _snapshot(trainer.model)
            trainer.train_step(x, y)
    assert isinstance(info.value, ValueError)
    assert not _changed(good, trainer.model)
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_multi_head_targets_and_evaluation():
    trainer = GradientTrainer(CBRNN(1, 4, 8, 4, n_classes=(2, 3), seed=0))
    x = np.random.default_rng(0).random((8, 5, 1))
    y_a, y_b = np.arange(8) % 2, np.arange(8) % 3
    readout_b = _snapshot(trainer.model.readouts[1])
    trainer.train_step(x, y_a, head=0)
    assert not _changed(readout_b, trainer.model.readouts[1])
    trainer.train_step(x, (y_a, y_b))
    assert _changed(readout_b, trainer.model.readouts[1])
    result = trainer.evaluate(x, (y_a, y_b))
    assert isinstance(result["accuracy"], tuple) and len(result["accuracy"]) == 2
    assert isinstance(trainer.evaluate(x, y_b, head=1)["accuracy"], float)
    with pytest.raises(ValueError, match="tuple of 2 label arrays"):
        trainer.train_step(x, y_a)
    with pytest.raises(ValueError, match=r"head must be an int in \[0, 1\]; got 2"):
        trainer.train_step(x, y_a, head=2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"optimizer": "rmsprop"}, "optimizer must be one of"),
        ({"learning_rate": float("nan")}, "learning_rate must be a finite number"),
        ({"module_learning_rates": {"cortex": 0.1}}, "keys must be among"),
        ({"schedule": 3}, "schedule must be a PlasticitySchedule"),
    ],
)
def test_bad_trainer_arguments(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        GradientTrainer(ElmanRNN(1, 4), **kwargs)


def test_bad_batches():
    trainer = GradientTrainer(ElmanRNN(1, 4))
    with pytest.raises(ValueError, match="x must be finite"):
        trainer.train_step(np.full((2, 3, 1), np.nan), np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match="labels must be a 1-D integer array"):
        trainer.train_step(np.zeros((2, 3, 1)), np.zeros(2))


class _RecordingTrainer(GradientTrainer):
    """Records the extension points in call order and scales the loss."""

    def __init__(self, *args, loss_scale=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls, self.loss_scale = [], loss_scale

    def prepare_inputs(self, x):
        self.calls.append("inputs")
        return super().prepare_inputs(x)

    def prepare_targets(self, y, head):
        self.calls.append("targets")
        return super().prepare_targets(y, head)

    def outputs(self, x, mask, generator):
        self.calls.append("train outputs" if generator is self.train_generator else "eval outputs")
        return super().outputs(x, mask, generator)

    def loss(self, outputs, targets):
        self.calls.append("loss")
        return self.loss_scale * super().loss(outputs, targets)


def test_train_step_and_evaluate_go_through_the_extension_points():
    x, y = make_batch("dms", 2, batch_size=16, seed=0)
    plain = GradientTrainer(CBRNN(1, 8, 16, 8, seed=0), seed=0)
    recording = _RecordingTrainer(CBRNN(1, 8, 16, 8, seed=0), seed=0, loss_scale=2.0)
    assert recording.evaluate(x, y)["loss"] == pytest.approx(2 * plain.evaluate(x, y)["loss"], rel=1e-6)
    assert recording.calls == ["inputs", "targets", "eval outputs", "loss"]
    recording.calls.clear()
    assert recording.train_step(x, y) == pytest.approx(2 * plain.train_step(x, y), rel=1e-6)
    assert recording.calls == ["inputs", "targets", "train outputs", "loss"]

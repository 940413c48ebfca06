"""Multiply-adds counted from shapes equal those of a counted run (``FlopCounterMode``: 2 FLOPs each)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from cbreservoir.analysis import ablate_cerebellum
from cbreservoir.models import build_model
from cbreservoir.models.compute import multiply_adds
from cbreservoir.numerics.compute import leaky_sequence_multiply_adds
from cbreservoir.tasks import make_batch
from cbreservoir.training import GradientTrainer, make_schedule
from cbreservoir.training.ensemble import EnsembleTrainer
from cbreservoir.training.schedules import learning_parts

KINDS = ("cbrnn", "rnn", "gru", "gru_cb", "lstm", "lstm_cb", "rnn_aux")
#: (schedule, options, level): everything learns; phase 0; frozen core; only W_h frozen; interleaved reopened
REGIMES = [
    ("end_to_end", {}, 2),
    ("full_reservoir", {}, 2),
    ("full_reservoir", {}, 3),
    ("full_reservoir", {"frozen_core": "recurrent"}, 3),
    ("interleaved", {"k": 1}, 3),
    ("adaptive", {}, 3),
]


def _model(kind, n_classes=2):
    sizes = {"cbrnn": {"n_granule": 7, "n_purkinje": 3}, "rnn_aux": {"n_aux": 4}}
    sizes["gru_cb"] = sizes["lstm_cb"] = sizes["cbrnn"]
    return build_model(kind, input_dim=1, units=5, n_classes=n_classes, seed=0, **sizes.get(kind, {}))


def _counted(call):
    with FlopCounterMode(display=False) as counter:
        call()
    assert counter.get_total_flops() % 2 == 0
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("schedule", "options", "level"), REGIMES)
def test_an_update_and_an_evaluation_compute_what_the_shapes_say(kind, schedule, options, level):
    trainer = GradientTrainer(_model(kind), schedule=make_schedule(schedule, **options), seed=0)
    trainer.set_level(level)
    x, y = make_batch("parity", 3, batch_size=4, seed=level)
    learns = learning_parts(trainer.trainable_groups)
    assert (
        _counted(lambda: trainer.train_step(x, y))
        == multiply_adds(trainer.model, 4, x.shape[1], learns).total
    )
    inference = multiply_adds(trainer.model, 4, x.shape[1])
    assert inference.backward == 0
    assert _counted(lambda: trainer.evaluate(x, y)) == inference.forward


@pytest.mark.parametrize("kind", ["cbrnn", "gru_cb", "rnn_aux"])
def test_a_switched_off_cerebellum_one_step_and_two_heads_are_counted_too(kind):
    model = _model(kind, n_classes=(2, 3))
    trainer = GradientTrainer(model, schedule="full_reservoir", seed=0)
    trainer.set_level(3)
    x = torch.rand(3, 1, 1).round()
    y = (torch.tensor([0, 1, 1]), torch.tensor([2, 0, 1]))
    learns = learning_parts(trainer.trainable_groups)
    with ablate_cerebellum(model):
        assert _counted(lambda: trainer.train_step(x, y)) == multiply_adds(model, 3, 1, learns).total
    assert _counted(lambda: trainer.train_step(x, y)) == multiply_adds(model, 3, 1, learns).total
    one_head = multiply_adds(model, 3, 1, learns, head=1).total
    assert _counted(lambda: trainer.train_step(x, y, head=1)) == one_head  # task switching: the active head


def test_ensemble_members_each_compute_a_solo_update():
    models = [_model("cbrnn") for _ in range(3)]
    ensemble = EnsembleTrainer(models, schedule=["end_to_end", "full_reservoir", "full_reservoir"])
    ensemble.set_level([2, 2, 3])
    batches = [make_batch("dms", 3, batch_size=4, seed=0) for _ in range(3)]
    lengths = {x.shape[1] for x, _ in batches}
    assert len(lengths) == 1
    counted = _counted(lambda: ensemble.train_step([x for x, _ in batches], [y for _, y in batches]))
    # the stacked tensors learn where any member learns: every member computes the union's gradients
    union = {part: any(learning_parts(t.trainable_groups)[part] for t in ensemble.trainers)
             for part in learning_parts(frozenset())}  # fmt: skip
    assert counted == 3 * multiply_adds(models[0], 4, lengths.pop(), union).total


def test_a_frozen_core_still_backpropagates_through_its_dynamics():
    everything = dict.fromkeys(["core.input", "core.recurrent", "cerebellum", "readout"], True)
    frozen = {"cerebellum": True, "readout": True}
    full = leaky_sequence_multiply_adds(64, 20, 1, 64, 256, 64, everything)
    reservoir = leaky_sequence_multiply_adds(64, 20, 1, 64, 256, 64, frozen)
    loop = 64 * 20 * (320 * 64 + 256 * 64 + 64 * 64)  # the backward recursion alone
    assert full.forward == reservoir.forward
    assert loop < reservoir.backward < full.backward
    assert full.backward - reservoir.backward == 64 * 64 * 20 * (64 + 1)  # only the core's weight gradients
    assert leaky_sequence_multiply_adds(64, 20, 1, 64, 256, 64, {"readout": True}).backward == 0
    with pytest.raises(ValueError, match="parts"):
        leaky_sequence_multiply_adds(1, 1, 1, 1, learns={"core": True})
    with pytest.raises(ValueError, match="n_steps"):
        leaky_sequence_multiply_adds(1, -1, 1, 1)

"""Training on the fused kernel follows the stepped autograd path; batched evaluation; the step API."""

import numpy as np
import pytest
import torch

from cbreservoir.experiments.fixed_level import train_fixed_level
from cbreservoir.models import CBRNN, ElmanRNN
from cbreservoir.models.base import RecurrentNetwork
from cbreservoir.tasks import make_batch
from cbreservoir.training import CurriculumTrainer, GradientTrainer
from cbreservoir.training.ensemble import EnsembleCurriculumTrainer, EnsembleTrainer
from cbreservoir.training.trainer import resolve_device


def small(kind, seed):
    if kind == "rnn":
        return ElmanRNN(1, 12, seed=seed)
    return CBRNN(1, units=8, n_granule=16, n_purkinje=4, seed=seed)


def curriculum(model, schedule, seed=0, epochs=5):
    # a fast learning rate so that the levels (and the schedules' phases) move within a few epochs
    trainer = GradientTrainer(model, schedule=schedule, seed=seed, learning_rate=0.2, momentum=0.9)
    run = CurriculumTrainer(
        trainer,
        "dms",
        steps_per_epoch=15,
        test_batches=4,
        batch_size=16,
        threshold=0.55,
        seed=seed,
        progress=False,
    )
    return run.run(epochs), trainer


@pytest.mark.parametrize("kind", ["cbrnn", "rnn"])
@pytest.mark.parametrize("schedule", ["end_to_end", "full_reservoir"])
def test_fused_training_follows_the_stepped_autograd_path(kind, schedule, monkeypatch):
    fused, fused_trainer = curriculum(small(kind, 0), schedule)
    # the same model class stepping core_step / cerebellum_forward under autograd
    monkeypatch.setattr(type(fused_trainer.model), "_final_state", RecurrentNetwork._final_state)
    stepped, stepped_trainer = curriculum(small(kind, 0), schedule)
    assert fused.levels == stepped.levels
    assert max(fused.levels) > 2  # the levels moved, so every schedule phase was exercised
    np.testing.assert_allclose(fused.losses, stepped.losses, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        [r.test_loss for r in fused.records], [r.test_loss for r in stepped.records], rtol=1e-4, atol=1e-6
    )
    for a, b in zip(fused_trainer.model.parameters(), stepped_trainer.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5)


def test_ensemble_member_follows_its_solo_curriculum():
    solo, _ = curriculum(small("cbrnn", 1), "end_to_end", seed=1)
    ensemble = EnsembleTrainer(
        [small("cbrnn", s) for s in (0, 1)], seeds=[0, 1], learning_rate=0.2, momentum=0.9
    )
    histories = EnsembleCurriculumTrainer(
        ensemble, "dms", steps_per_epoch=15, test_batches=4, batch_size=16, threshold=0.55, progress=False
    ).run(5)
    assert histories[1].levels == solo.levels
    np.testing.assert_allclose(histories[1].losses, solo.losses, rtol=1e-4, atol=1e-6)


def test_evaluate_batches_equals_one_batch_at_a_time():
    rng = np.random.default_rng(0)
    batches = [
        make_batch("dms", 3, batch_size=8, seed=rng) for _ in range(7)
    ]  # several lengths, some repeated
    assert len({x.shape[1] for x, _ in batches}) < len(batches)
    one, many = (GradientTrainer(small("cbrnn", 0), seed=0) for _ in range(2))
    expected = [one.evaluate(x, y) for x, y in batches]
    for got, want in zip(many.evaluate_batches(batches), expected, strict=True):
        assert got["accuracy"] == pytest.approx(want["accuracy"])
        assert got["loss"] == pytest.approx(want["loss"], rel=1e-5)
    assert torch.equal(one.eval_generator.get_state(), many.eval_generator.get_state())


def test_run_is_begin_then_run_epoch_and_epoch_steps_asks_for_the_calls():
    def make():
        trainer = GradientTrainer(small("rnn", 0), seed=0)
        return CurriculumTrainer(
            trainer, "dms", steps_per_epoch=3, test_batches=2, batch_size=8, progress=False
        )

    whole = make().run(2)
    stepwise = make()
    stepwise.begin()
    records = [stepwise.run_epoch() for _ in range(2)]
    assert [r.loss for r in records] == whole.losses and stepwise.history.levels == whole.levels
    driven = make()
    driven.begin()
    steps = driven.epoch_steps()
    kinds = []
    request, result = next(steps), None
    while True:
        kind, arguments = request
        kinds.append(kind)
        result = (
            driven.trainer.train_step(*arguments)
            if kind == "train_step"
            else driven.trainer.evaluate_batches(*arguments)
        )
        try:
            request = steps.send(result)
        except StopIteration as stop:
            record = stop.value
            break
    assert kinds == ["train_step"] * 3 + ["evaluate_batches"]
    assert record.loss == whole.losses[0] and driven.history.records == [record]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without CUDA")
def test_cuda_without_cuda_is_a_clean_value_error():
    with pytest.raises(ValueError, match="needs CUDA"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="needs CUDA"):
        GradientTrainer(small("rnn", 0), device="cuda")
    with pytest.raises(ValueError, match="needs CUDA"):
        train_fixed_level("cbrnn", "dms", n=3, steps=1, ensemble=2, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_training_follows_the_cpu_run():
    cpu, _ = curriculum(small("cbrnn", 0), "end_to_end", epochs=2)
    model = small("cbrnn", 0)
    trainer = GradientTrainer(model, seed=0, device="cuda", learning_rate=0.2, momentum=0.9)
    gpu = CurriculumTrainer(
        trainer, "dms", steps_per_epoch=15, test_batches=4, batch_size=16, threshold=0.55, progress=False
    ).run(2)
    assert len(gpu) == 2 and np.isfinite(gpu.losses).all()
    assert gpu.levels[0] == cpu.levels[0]

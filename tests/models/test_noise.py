"""Noise on the input bits, the cortical state and the cerebellar output: level 0 is the clean run."""

from __future__ import annotations

import pytest
import torch

from cbreservoir.analysis import ablate_cerebellum
from cbreservoir.models import Noise, build_model
from cbreservoir.tasks import make_batch
from cbreservoir.training import CurriculumTrainer, GradientTrainer
from cbreservoir.training.ensemble import EnsembleTrainer

KINDS = ("cbrnn", "rnn", "gru", "gru_cb", "lstm", "lstm_cb", "rnn_aux")


def _model(kind):
    sizes = {"n_granule": 9, "n_purkinje": 4} if kind in ("cbrnn", "gru_cb", "lstm_cb") else {}
    return build_model(kind, input_dim=1, units=6, seed=0, **({"n_aux": 5} if kind == "rnn_aux" else sizes))


def _run(model, x, noise=None, seed=0, **options):
    return model(x, generator=torch.Generator().manual_seed(seed), noise=noise, **options)


@pytest.mark.parametrize("kind", KINDS)
def test_noise_at_level_zero_is_the_clean_run_bit_for_bit_and_noise_changes_it(kind):
    model, x = _model(kind), torch.as_tensor(make_batch("dms", 3, batch_size=8, seed=0)[0])
    clean = _run(model, x)
    assert torch.equal(_run(model, x, Noise()), clean)
    assert torch.equal(_run(model, x, Noise(input_flip=0.0, state=0.0, cerebellum=0.0)), clean)
    for noise in (Noise(state=0.5), Noise(input_flip=0.3)):
        assert not torch.equal(_run(model, x, noise), clean)
        assert torch.equal(_run(model, x, noise), _run(model, x, noise))  # the generator decides
    # the step-by-step path with vanishing noise is the fused pass up to rounding
    torch.testing.assert_close(_run(model, x, Noise(state=1e-30)), clean, rtol=1e-5, atol=1e-6)
    logits, activity = _run(model, x, Noise(state=0.5), return_activity=True)
    assert torch.equal(logits, _run(model, x, Noise(state=0.5)))
    assert activity["core"].shape == (8, x.shape[1], 6)


def test_every_bit_flips_at_probability_one_and_cerebellar_noise_needs_a_cerebellum():
    model, x = _model("cbrnn"), torch.as_tensor(make_batch("parity", 3, batch_size=8, seed=1)[0])
    h0 = model.initial_state(8, torch.Generator().manual_seed(0))
    flipped = model(x, h0=h0, noise=Noise(input_flip=1.0), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(flipped, model(1 - x, h0=h0), rtol=1e-5, atol=1e-6)
    noisy = Noise(cerebellum=1.0)
    assert not torch.equal(_run(model, x, noisy), _run(model, x))
    with ablate_cerebellum(model):
        torch.testing.assert_close(_run(model, x, noisy), _run(model, x), rtol=1e-5, atol=1e-6)
    rnn = _model("rnn")
    torch.testing.assert_close(_run(rnn, x, noisy), _run(rnn, x), rtol=1e-5, atol=1e-6)


def test_bad_noise_is_refused():
    with pytest.raises(ValueError, match="input_flip"):
        Noise(input_flip=1.5)
    with pytest.raises(ValueError, match="state"):
        Noise(state=-0.1)
    with pytest.raises(TypeError, match="cerebellum"):
        Noise(cerebellum="a")
    with pytest.raises(ValueError, match="kind"):
        Noise.of("output", 0.1)
    with pytest.raises(TypeError, match="Noise or None"):
        _model("rnn")(torch.zeros(2, 3, 1), noise={"state": 0.1})
    with pytest.raises(ValueError, match="solo"):
        EnsembleTrainer([_model("cbrnn")], noise=Noise(state=0.1))


SMALL = {"steps_per_epoch": 2, "test_batches": 2, "batch_size": 8, "progress": False}


def test_training_with_noise_level_zero_is_the_clean_run_and_noisy_runs_resume_exactly(tmp_path):
    def run(noise, n_epochs=3, checkpoint_dir=None):
        trainer = GradientTrainer(_model("cbrnn"), seed=0, noise=noise)
        history = CurriculumTrainer(trainer, "dms", threshold=0.5, checkpoint_dir=checkpoint_dir, **SMALL)
        return trainer, [(r.level, r.loss, r.test_loss) for r in history.run(n_epochs).records]

    clean, zero = run(None), run(Noise())
    assert clean[1] == zero[1]
    noisy = run(Noise(state=0.2, input_flip=0.05))
    assert noisy[1] != clean[1]
    run(Noise(state=0.2, input_flip=0.05), n_epochs=1, checkpoint_dir=tmp_path)
    assert run(Noise(state=0.2, input_flip=0.05), checkpoint_dir=tmp_path)[1] == noisy[1]
    with pytest.raises(ValueError, match="noise"):
        run(Noise(state=0.3), checkpoint_dir=tmp_path)


def test_the_train_command_trains_under_noise_solo_and_records_it(tmp_path):
    from cbreservoir.experiments.train import TRAIN_DEFAULTS, check_train, run_train

    tiny = {**TRAIN_DEFAULTS, "epochs": 1, "steps": 2, "test_batches": 1, "batch_size": 8}
    clean = run_train(check_train(tiny))[0]
    noisy = run_train(check_train({**tiny, "noise_state": 0.5, "checkpoint_dir": str(tmp_path)}))[0]
    assert clean["accuracy"] != noisy["accuracy"]
    with pytest.raises(ValueError, match="noise_state"):  # a resume with other noise is refused
        run_train(check_train({**tiny, "epochs": 2, "noise_state": 0.1, "checkpoint_dir": str(tmp_path)}))
    with pytest.raises(ValueError, match="solo"):
        check_train({**tiny, "noise_state": 0.5, "ensemble": 2})

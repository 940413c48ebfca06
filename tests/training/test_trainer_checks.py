"""The trainers' values are checked by the declared checks (``utils.checks``): ``TypeError`` for a wrong type,
``ValueError`` for a wrong value, each naming what was expected and what was received, before any work."""

from __future__ import annotations

import numpy as np
import pytest

from cbreservoir.models import ElmanRNN
from cbreservoir.training import GradientTrainer
from cbreservoir.training.ensemble import EnsembleTrainer


def _model(seed: int = 0) -> ElmanRNN:
    return ElmanRNN(1, 4, seed=seed)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"learning_rate": "fast"}, TypeError, r"^learning_rate must be a real number >= 0.0; got 'fast'$"),
        ({"learning_rate": -0.1}, ValueError, r"^learning_rate must be a finite number >= 0.0; got -0.1$"),
        ({"momentum": float("inf")}, ValueError, r"^momentum must be a finite number >= 0.0; got inf$"),
        ({"weight_decay": True}, TypeError, r"^weight_decay must be a real number >= 0.0; got True$"),
        ({"clip_norm": 0}, ValueError, r"^clip_norm must be a finite number > 0.0; got 0$"),
        (
            {"module_learning_rates": {"cortex": 0.1}},
            ValueError,
            r"^module_learning_rates keys must be among \[.*\]; got \['cortex'\]$",
        ),
        ({"module_learning_rates": {"core": "x"}}, TypeError, r"^learning rate must be a real number"),
    ],
)
def test_gradient_trainer_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        GradientTrainer(_model(), **kwargs)


def test_a_valid_learning_rate_is_kept_exactly():
    trainer = GradientTrainer(_model(), learning_rate=np.float64(0.01), clip_norm=7.5)
    assert [group["lr"] for group in trainer.optimizer.param_groups] == [0.01] * 2
    assert all(type(group["lr"]) is float for group in trainer.optimizer.param_groups)


@pytest.mark.parametrize(
    ("head", "error", "message"),
    [(1, ValueError, r"^head must be an int in \[0, 0\]; got 1$"), ("0", TypeError, r"^head must be an int")],
)
def test_a_head_outside_the_model_is_refused_before_the_step(head, error, message):
    trainer = GradientTrainer(_model())
    with pytest.raises(error, match=message):
        trainer.train_step(np.zeros((2, 3, 1)), np.zeros(2, dtype=int), head=head)
    assert trainer.step_count == 0


def test_a_restored_step_count_is_checked():
    trainer = GradientTrainer(_model())
    state = trainer.__getstate__() if hasattr(trainer, "__getstate__") else dict(vars(trainer))
    with pytest.raises(ValueError, match=r"^step_count must be an int in \[0, inf\]; got -1$"):
        GradientTrainer.__new__(GradientTrainer).__setstate__({**state, "step_count": -1})


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"seeds": [0, 1.5]}, TypeError, r"^seeds\[1\] must be an int in \[0, 4294967295\]; got 1.5$"),
        ({"seeds": [0, -1]}, ValueError, r"^seeds\[1\] must be an int in \[0, 4294967295\]; got -1$"),
        ({"group_overhead": -1.0}, ValueError, r"^group_overhead must be a finite number >= 0.0; got -1.0$"),
        ({"group_overhead": "2"}, TypeError, r"^group_overhead must be a real number >= 0.0; got '2'$"),
    ],
)
def test_ensemble_trainer_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        EnsembleTrainer([_model(0), _model(1)], **kwargs)


def test_ensemble_seeds_accept_numpy_integers():
    ensemble = EnsembleTrainer([_model(0), _model(1)], seeds=np.array([3, 4]))
    assert [trainer.seed for trainer in ensemble.trainers] == [3, 4]

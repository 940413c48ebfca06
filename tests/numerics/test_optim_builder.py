"""The one optimiser builder: the study's defaults, its inverse, and its users."""

import numpy as np
import pytest
import torch

from cbreservoir.models import CBRNN
from cbreservoir.nodes import GradientReadout
from cbreservoir.numerics.optim import DEFAULT_OPTIMIZER, build_optimizer, optimizer_settings
from cbreservoir.training import GradientTrainer
from cbreservoir.training.ensemble import EnsembleTrainer


def _groups():
    return [{"params": [torch.nn.Parameter(torch.ones(3))], "name": "readout"}]


def test_defaults_are_the_study_sgd():
    optimizer = build_optimizer(_groups())
    assert type(optimizer) is torch.optim.SGD
    assert optimizer.defaults["foreach"] is True
    settings = optimizer_settings(optimizer)
    assert settings == DEFAULT_OPTIMIZER == {
        "name": "sgd", "learning_rate": 0.01, "momentum": 0.1, "nesterov": True, "weight_decay": 0.0
    }  # fmt: skip


@pytest.mark.parametrize(
    "settings",
    [
        {"name": "adam", "learning_rate": 0.003, "weight_decay": 0.1},
        {"name": "sgd", "learning_rate": 0.5, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0},
    ],
)
def test_optimizer_settings_inverts_build_optimizer(settings):
    optimizer = build_optimizer(_groups(), **settings)
    recovered = {key: value for key, value in optimizer_settings(optimizer).items() if value is not None}
    assert recovered == settings


def test_nesterov_needs_momentum_and_names_are_checked():
    assert build_optimizer(_groups(), momentum=0.0).defaults["nesterov"] is False
    with pytest.raises(ValueError, match=r"optimizer must be one of \('sgd', 'adam'\), got 'rmsprop'"):
        build_optimizer(_groups(), name="rmsprop")
    with pytest.raises(ValueError, match="at least one parameter group"):
        build_optimizer([])
    with pytest.raises(TypeError, match="must be a torch.optim.SGD or Adam, got RMSprop"):
        optimizer_settings(torch.optim.RMSprop(_groups()[0]["params"]))


def test_trainer_ensemble_and_readout_build_through_it():
    model = CBRNN(1, 4, 8, 4, seed=0)
    trainer = GradientTrainer(model, learning_rate=0.02, module_learning_rates={"core": 0.1})
    assert optimizer_settings(trainer.optimizer)["learning_rate"] == 0.02
    assert [group["lr"] for group in trainer.optimizer.param_groups] == [0.1, 0.02, 0.02]
    ensemble = EnsembleTrainer([CBRNN(1, 4, 8, 4, seed=s) for s in range(2)], optimizer="adam")
    assert optimizer_settings(ensemble.optimizer) == optimizer_settings(ensemble.trainers[0].optimizer)
    assert ensemble.optimizer.defaults["foreach"] is True
    rng = np.random.default_rng(0)
    readout = GradientReadout(optimizer="sgd", learning_rate=0.1, n_steps=3).fit(rng.normal(size=(9, 2)),
                                                                                   rng.normal(size=(9, 1)))
    assert len(readout.loss_history) == 3 and readout.loss_history[-1] < readout.loss_history[0]

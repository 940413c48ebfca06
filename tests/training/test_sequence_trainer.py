"""SequenceTrainer: the one sequence-loss trainer of graphs (train_graph) and models (CB-RNN estimators)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cbreservoir.estimators import CBRNNClassifier, CBRNNRegressor
from cbreservoir.graph import compile_graph
from cbreservoir.models import CBRNN
from cbreservoir.nodes import Cerebellum, GradientReadout, Reservoir
from cbreservoir.training import GradientTrainer, SequenceTrainer, train_graph
from cbreservoir.training.sequence import sequence_outputs

X = torch.randn(4, 6, 1, generator=torch.Generator().manual_seed(0))


def _model(n_classes: int = 3) -> CBRNN:
    return CBRNN(1, n_classes=n_classes, units=6, n_granule=8, n_purkinje=4, seed=0)


def _graph(loss: str):
    graph = Reservoir(6, seed=0, name="core") >> Cerebellum(8, seed=0) >> GradientReadout(2, loss=loss)
    graph.run(X[0].double().numpy())
    return compile_graph(graph)


def test_is_a_gradient_trainer_and_exported():
    trainer = SequenceTrainer(_model(), objective="cross_entropy", per_series=True)
    assert isinstance(trainer, GradientTrainer)
    assert (trainer.objective, trainer.per_series, trainer.warmup, trainer.n_outputs) == (
        "cross_entropy",
        True,
        0,
        None,
    )


@pytest.mark.parametrize(
    ("settings_", "error", "match"),
    [
        ({"objective": "hinge", "per_series": True}, ValueError, "objective"),
        ({"objective": "mse", "per_series": 1}, TypeError, "per_series must be True or False; got 1"),
        ({"objective": "mse", "per_series": False, "warmup": -1}, ValueError, "warmup"),
        ({"objective": "mse", "per_series": True, "n_outputs": 0}, ValueError, "n_outputs"),
    ],
)
def test_rejects_bad_settings_before_building_the_optimiser(settings_, error, match):
    model = _model()
    with pytest.raises(error, match=match):
        SequenceTrainer(model, **settings_)


@pytest.mark.parametrize("per_series", [True, False])
def test_model_loss_is_the_mse_of_the_first_readout_units_after_warmup(per_series):
    model, warmup, k = _model(), 2, 2
    reference = copy.deepcopy(model)
    trainer = SequenceTrainer(
        model, objective="mse", per_series=per_series, warmup=warmup, n_outputs=k, seed=5
    )
    y = torch.randn(4, 6, k, generator=torch.Generator().manual_seed(1))
    y = y[:, -1] if per_series else y
    h0 = reference.initial_state(4, torch.Generator().manual_seed(5))  # the trainer's train_generator
    outputs = sequence_outputs(reference, X, per_series, h0)[..., :k]
    expected = F.mse_loss(outputs, y) if per_series else F.mse_loss(outputs[:, warmup:], y[:, warmup:])
    assert trainer.train_step(X, y) == expected.item()


def test_graph_runs_from_zero_states_and_reads_its_output_node():
    compiled = _graph("cross_entropy")
    labels = torch.tensor([0, 1, 1, 0])
    expected = F.cross_entropy(compiled(X.double())[:, -1], labels).item()
    trainer = SequenceTrainer(compiled, objective="cross_entropy", per_series=True, optimizer="adam")
    assert trainer.train_step({"core": X.double()}, labels) == expected


@settings(max_examples=10, deadline=None)
@given(warmup=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_targets_inside_the_warmup_do_not_move_training(warmup, seed):
    """Per-step targets of the first ``warmup`` steps are left out: changing them changes nothing."""
    y = torch.randn(4, 6, 1, generator=torch.Generator().manual_seed(seed))
    changed = y.clone()
    changed[:, :warmup] = 1e3
    losses = []
    for targets in (y, changed):
        trainer = SequenceTrainer(_model(), objective="mse", per_series=False, warmup=warmup, n_outputs=1)
        losses.append([trainer.train_step(X, targets) for _ in range(2)])
    assert losses[0] == losses[1]


def test_mse_targets_of_another_shape_are_refused():
    trainer = SequenceTrainer(_model(), objective="mse", per_series=False, n_outputs=1)
    with pytest.raises(ValueError, match=r"targets must match the outputs \(4, 6, 1\); got \(4, 6\)"):
        trainer.train_step(X, torch.zeros(4, 6))
    assert trainer.step_count == 0


def test_train_graph_and_the_estimators_train_through_it(monkeypatch):
    """Every sequence fit of the package goes through SequenceTrainer.train_step."""
    calls: list[str] = []
    original = SequenceTrainer.train_step

    def counted(self, x, y, *args):
        calls.append(type(self.model).__name__)
        return original(self, x, y, *args)

    monkeypatch.setattr(SequenceTrainer, "train_step", counted)
    x = np.random.default_rng(0).normal(size=(8, 5, 1))
    graph = Reservoir(6, seed=0) >> Cerebellum(8, seed=0) >> GradientReadout(loss="mse")
    train_graph(graph, x, x[:, -1, 0], loss="mse", n_steps=2, progress=False)
    small = {"units": 4, "n_granule": 6, "n_purkinje": 3, "epochs": 1, "batch_size": 8, "random_state": 0}
    CBRNNClassifier(**small).fit(x, (x[:, -1, 0] > 0).astype(int))
    CBRNNRegressor(**small).fit(x, x[:, -1, 0])
    assert calls == ["CompiledGraph", "CompiledGraph", "CBRNN", "CBRNN"]


@pytest.mark.parametrize("per_series", [True, False])
def test_evaluate_scores_without_learning(per_series):
    model = _model()
    trainer = SequenceTrainer(model, objective="cross_entropy", per_series=per_series, warmup=1, seed=2)
    labels = torch.randint(0, 3, (4,) if per_series else (4, 6), generator=torch.Generator().manual_seed(3))
    before = copy.deepcopy(model.state_dict())
    result = trainer.evaluate(X, labels)
    h0 = model.initial_state(4, torch.Generator().manual_seed(3))  # the trainer's eval_generator (seed + 1)
    with torch.no_grad():
        outputs = sequence_outputs(model, X, per_series, h0)
    outputs, expected = (outputs, labels) if per_series else (outputs[:, 1:], labels[:, 1:])
    assert result["loss"] == F.cross_entropy(outputs.reshape(-1, 3), expected.reshape(-1)).item()
    assert result["accuracy"] == (outputs.argmax(-1) == expected).double().mean().item()
    assert all(torch.equal(before[key], value) for key, value in model.state_dict().items())
    assert trainer.step_count == 0


def test_evaluate_of_mse_gives_the_loss_only():
    trainer = SequenceTrainer(_model(), objective="mse", per_series=True, n_outputs=2)
    assert set(trainer.evaluate(X, torch.zeros(4, 2))) == {"loss"}


@pytest.mark.parametrize(("head", "mask"), [(0, None), (None, torch.ones(4, 6, dtype=torch.bool))])
def test_head_and_mask_are_refused(head, mask):
    trainer = SequenceTrainer(_model(), objective="cross_entropy", per_series=True)
    with pytest.raises(ValueError, match="head must be None" if head is not None else "mask must be None"):
        trainer.train_step(X, torch.zeros(4, dtype=torch.int64), head, mask)
    assert trainer.step_count == 0

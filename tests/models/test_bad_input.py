"""Bad input to the torch side: models (construction, forward), GradientTrainer, curriculum, tasks.

Every bad call must raise ValueError/TypeError from cbreservoir's own checks (never torch's or
numpy's internals), name the problem, and leave the model's weights and the trainer's step count
as they were.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cbreservoir.models import build_model
from cbreservoir.tasks import (
    mackey_glass,
    make_batch,
    make_multitask_batch,
    make_switching_batch,
    memory_capacity,
    narma10,
)
from cbreservoir.training import CurriculumTrainer, GradientTrainer
from tests.support import assert_rejected, count

HYPOTHESIS = settings(max_examples=20, deadline=None)
KINDS = ["cbrnn", "rnn", "gru", "gru_cb", "lstm", "lstm_cb", "rnn_aux"]
SMALL = {"cbrnn": {"n_granule": 8, "n_purkinje": 4}}


def _model(kind: str = "cbrnn", n_classes: int | tuple[int, ...] = 2) -> torch.nn.Module:
    return build_model(kind, input_dim=1, units=4, n_classes=n_classes, seed=0, **SMALL.get(kind, {}))


def _batch(batch_size: int = 3, steps: int = 5) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).integers(0, 2, (batch_size, steps, 1)).astype(np.float32)
    return x, np.arange(batch_size, dtype=np.int64) % 2


# ------------------------------------------------------------------------------------------- models


MODEL_BAD = [
    ({"units": 0}, "units"),
    ({"units": -3}, "units"),
    ({"units": 2.5}, "units"),
    ({"input_dim": 0}, "input_dim"),
    ({"input_dim": True}, "input_dim"),
    ({"n_classes": 1}, "classes"),
    ({"n_classes": ()}, "n_classes"),
    ({"seed": "a"}, "seed"),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("kwargs, match", MODEL_BAD)
def test_build_model_rejects_bad_sizes(kind: str, kwargs: dict, match: str) -> None:
    parameters = {"input_dim": 1, "units": 4, **kwargs}
    assert_rejected(f"build_model({kind})", lambda: build_model(kind, **parameters), match=match)


@pytest.mark.parametrize(
    "kind, kwargs, match",
    [
        ("cbrnn", {"n_granule": 0}, "n_granule"),
        ("cbrnn", {"n_purkinje": -1}, "n_purkinje"),
        ("cbrnn", {"tau": 0.5}, "tau"),
        ("rnn", {"tau": float("nan")}, "tau"),
        ("rnn", {"activation": "softsign"}, "activation"),
        ("gru", {"activation": "tanh"}, "activation"),
        ("nope", {}, "kind"),
        ("rnn", {"tau": float("inf")}, "tau"),
    ],
)
def test_build_model_rejects_bad_hyperparameters(kind: str, kwargs: dict, match: str) -> None:
    parameters = {"input_dim": 1, "units": 4, **kwargs}
    assert_rejected(f"build_model({kind})", lambda: build_model(kind, **parameters), match=match)


@st.composite
def bad_model_input(draw: st.DrawFn) -> tuple[str, object]:
    """Model input that is not a non-empty finite real (B, T, 1) array or tensor."""
    kind = draw(st.sampled_from(["ndim", "features", "steps", "dtype", "torch_dtype"]))
    if kind == "ndim":
        return "shape", np.zeros(
            tuple(draw(st.integers(1, 3)) for _ in range(draw(st.sampled_from([1, 2, 4]))))
        )
    if kind == "features":
        return "shape", np.zeros((2, 3, draw(st.integers(2, 4))))
    if kind == "steps":
        return "shape", np.zeros((2, 0, 1)) if draw(st.booleans()) else np.zeros((0, 3, 1))
    if kind == "dtype":
        return "dtype|numbers", np.zeros((2, 3, 1), dtype=draw(st.sampled_from([complex, object, "U2"])))
    return "dtype|numbers", torch.zeros(
        2, 3, 1, dtype=draw(st.sampled_from([torch.complex64, torch.complex128]))
    )


@st.composite
def nonfinite_model_input(draw: st.DrawFn) -> tuple[str, object]:
    x = np.zeros((draw(st.integers(1, 3)), draw(st.integers(1, 4)), 1))
    x[tuple(draw(st.integers(0, size - 1)) for size in x.shape)] = draw(
        st.sampled_from([np.nan, np.inf, -np.inf, 1e300])  # 1e300 overflows float32
    )
    return "finite", torch.from_numpy(x) if draw(st.booleans()) else x


@pytest.mark.parametrize("kind", ["cbrnn", "gru_cb", "lstm"])
@HYPOTHESIS
@given(bad=st.one_of(bad_model_input(), nonfinite_model_input()))
def test_forward_rejects_malformed_input(kind: str, bad: tuple[str, object]) -> None:
    match, x = bad
    model = _model(kind)
    assert_rejected(f"{kind}.forward", lambda: model(x), match=match, unchanged=[model])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda m, x: m(x, h0=torch.zeros(2, 4)), "h0"),
        (lambda m, x: m(x, mask=np.ones((3, 5), dtype=int)), "mask"),
        (lambda m, x: m(x, mask=np.ones((3, 4), dtype=bool)), "mask"),
        (lambda m, x: m(x, h0=torch.full((3, 4), float("nan"))), "h0"),
        (lambda m, x: m(x, h0=np.zeros((3, 4), dtype=object)), "h0"),
        (lambda m, x: m([[[0.0]], [[0.0], [1.0]]]), "rectangular"),
    ],
)
def test_forward_rejects_bad_state_and_mask(call, match: str) -> None:
    model = _model()
    x, _ = _batch()
    assert_rejected("cbrnn.forward", lambda: call(model, x), match=match, unchanged=[model])


@pytest.mark.parametrize("dtype", [np.float16, np.float64, np.int64, np.bool_])
def test_forward_of_other_dtypes_equals_float32(dtype: type) -> None:
    count("cbrnn.forward")
    model = _model()
    x, _ = _batch()
    generator = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    expected = model(x, generator=generator())
    torch.testing.assert_close(model(x.astype(dtype), generator=generator()), expected, rtol=0, atol=0)


# ------------------------------------------------------------------------------------------ trainer

TRAINER_BAD = [
    ({"learning_rate": -1.0}, "learning_rate"),
    ({"learning_rate": float("nan")}, "learning_rate"),
    ({"learning_rate": "fast"}, "learning_rate"),
    ({"momentum": -0.1}, "momentum"),
    ({"clip_norm": 0.0}, "clip_norm"),
    ({"clip_norm": -1.0}, "clip_norm"),
    ({"weight_decay": -1.0}, "weight_decay"),
    ({"optimizer": "rmsprop"}, "optimizer"),
    ({"schedule": "sometimes"}, "schedule"),
    ({"schedule": 3}, "schedule"),
    ({"module_learning_rates": {"hippocampus": 1.0}}, "module_learning_rates"),
    ({"module_learning_rates": {"core": -1.0}}, "learning rate"),
    ({"seed": 1.5}, "seed"),
]


@pytest.mark.parametrize(
    "kwargs, match",
    TRAINER_BAD + [({"device": "abacus"}, "device")],
)
def test_trainer_rejects_bad_hyperparameters(kwargs: dict, match: str) -> None:
    model = _model()
    assert_rejected(
        "GradientTrainer()", lambda: GradientTrainer(model, **kwargs), match=match, unchanged=[model]
    )


@st.composite
def bad_labels(draw: st.DrawFn) -> tuple[str, object]:
    """(message fragment, labels) that do not fit a batch of 3 sequences of a 2-class head."""
    kind = draw(st.sampled_from(["float", "bool", "ndim", "length", "range", "dtype", "none"]))
    if kind == "float":
        return "integer", np.zeros(3)
    if kind == "bool":
        return "integer", np.zeros(3, dtype=bool)
    if kind == "ndim":
        return "1-D", np.zeros(draw(st.sampled_from([(), (3, 1), (1, 3)])), dtype=np.int64)
    if kind == "length":
        return "3 sequences", np.zeros(draw(st.sampled_from([1, 2, 4, 7])), dtype=np.int64)
    if kind == "range":
        bad = draw(st.one_of(st.integers(-(2**63), -1), st.integers(2, 2**63 - 1)))
        return "class indices", np.array([0, 1, bad])
    if kind == "dtype":
        return "labels", np.array(["0", "1", "0"], dtype=draw(st.sampled_from([object, "U1"])))
    return "labels", None


def _trainer() -> GradientTrainer:
    trainer = GradientTrainer(_model(), seed=0)
    trainer.train_step(*_batch())
    return trainer


@pytest.mark.parametrize("method", ["train_step", "evaluate"])
@HYPOTHESIS
@given(case=bad_labels())
def test_trainer_rejects_bad_labels_and_keeps_weights(method: str, case: tuple[str, object]) -> None:
    match, y = case
    trainer = _trainer()
    x, _ = _batch()
    steps = trainer.step_count
    call = lambda: getattr(trainer, method)(x, y)  # noqa: E731
    assert_rejected(f"GradientTrainer.{method}", call, match=match, unchanged=[trainer.model])
    assert trainer.step_count == steps


@pytest.mark.parametrize("method", ["train_step", "evaluate"])
@HYPOTHESIS
@given(bad=st.one_of(nonfinite_model_input(), bad_model_input()))
def test_trainer_rejects_bad_inputs_and_keeps_weights(method: str, bad: tuple[str, object]) -> None:
    match, x = bad
    trainer = _trainer()
    y = np.zeros(len(x) if np.ndim(x) else 1, dtype=np.int64)
    steps = trainer.step_count
    call = lambda: getattr(trainer, method)(x, y)  # noqa: E731
    assert_rejected(f"GradientTrainer.{method}", call, match=match, unchanged=[trainer.model])
    assert trainer.step_count == steps


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda t, x, y: t.train_step(x, y, head=1), "head"),
        (lambda t, x, y: t.train_step(x, y, head=-1), "head"),
        (lambda t, x, y: t.set_level(2.0), "level"),
        (lambda t, x, y: t.train_step(x.astype(str), y), "real numbers"),
        (lambda t, x, y: t.train_step(x[:0], y[:0]), "batch >= 1"),
        (lambda t, x, y: t.set_level(-1), "level"),
    ],
)
def test_trainer_rejects_bad_calls(call, match: str) -> None:
    trainer = _trainer()
    x, y = _batch()
    assert_rejected(
        "GradientTrainer.train_step", lambda: call(trainer, x, y), match=match, unchanged=[trainer.model]
    )


def test_multi_head_trainer_rejects_single_labels() -> None:
    trainer = GradientTrainer(_model(n_classes=(2, 2)), seed=0)
    x, y = _batch()
    assert_rejected(
        "GradientTrainer.train_step",
        lambda: trainer.train_step(x, y),
        match="tuple",
        unchanged=[trainer.model],
    )
    assert_rejected(
        "GradientTrainer.train_step",
        lambda: trainer.train_step(x, (y,)),
        match="tuple",
        unchanged=[trainer.model],
    )


# ------------------------------------------------------------------------------------------ curriculum


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"task": "chess"}, "task"),
        ({"start_level": 1}, "start_level"),
        ({"start_level": 2.0}, "start_level"),
        ({"threshold": 0.0}, "threshold"),
        ({"threshold": 1.5}, "threshold"),
        ({"batch_size": 0}, "batch_size"),
        ({"steps_per_epoch": -1}, "steps_per_epoch"),
        ({"test_batches": 0}, "test_batches"),
        ({"seed": "x"}, "seed"),
    ],
)
def test_curriculum_rejects_bad_settings(kwargs: dict, match: str) -> None:
    trainer = GradientTrainer(_model(), seed=0)
    parameters = {"task": "dms", "progress": False, **kwargs}
    assert_rejected("CurriculumTrainer()", lambda: CurriculumTrainer(trainer, **parameters), match=match)


# ------------------------------------------------------------------------------------------ tasks


@HYPOTHESIS
@given(
    task=st.sampled_from(["dms", "parity", "mod3"]),
    n=st.one_of(st.integers(-5, 0), st.floats(1, 5), st.booleans(), st.just("3")),
)
def test_make_batch_rejects_bad_levels(task: str, n: object) -> None:
    assert_rejected("make_batch", lambda: make_batch(task, n, batch_size=4, seed=0), match="n")


@HYPOTHESIS
@given(batch_size=st.one_of(st.integers(-5, 0), st.floats(1, 5), st.booleans()))
def test_task_generators_reject_bad_batch_sizes(batch_size: object) -> None:
    assert_rejected(
        "make_batch", lambda: make_batch("parity", 3, batch_size=batch_size, seed=0), match="batch_size"
    )
    assert_rejected(
        "make_multitask_batch",
        lambda: make_multitask_batch(3, batch_size=batch_size, seed=0),
        match="batch_size",
    )
    assert_rejected(
        "make_switching_batch",
        lambda: make_switching_batch(3, batch_size=batch_size, seed=0),
        match="batch_size",
    )


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: make_batch("chess", 3, batch_size=4, seed=0), "task"),
        (lambda: make_multitask_batch(3, batch_size=4, seed=0, tasks=()), "tasks"),
        (lambda: make_multitask_batch(3, batch_size=4, seed=0, tasks=("dms", "go")), "task"),
        (lambda: make_multitask_batch(3, batch_size=4, seed=0, pulse_steps=-1), "pulse_steps"),
        (lambda: make_multitask_batch(3, batch_size=4, seed=0, pulse_steps=99), "pulse_steps"),
        (lambda: make_switching_batch(1, batch_size=4, seed=0), "n"),
    ],
)
def test_task_generators_reject_bad_arguments(call, match: str) -> None:
    assert_rejected("make_batch", call, match=match)


@pytest.mark.parametrize("seed", ["a", -1, 1.5, None, [1, "x"]])
def test_task_generators_reject_bad_seeds(seed: object) -> None:
    assert_rejected("make_batch", lambda: make_batch("parity", 3, batch_size=4, seed=seed), match="seed")


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: narma10(100, seed=-1), "seed"),
        (lambda: narma10(100, seed="a"), "seed"),
        (lambda: narma10(5), "n_timesteps"),
        (lambda: narma10(100, u=np.zeros(7)), "u"),
        (lambda: memory_capacity(100, max_delay=20, seed=1.5), "seed"),
        (lambda: memory_capacity(10, max_delay=20), "max_delay"),
        (lambda: mackey_glass(100, dt=0.0), "dt"),
        (lambda: mackey_glass(100, tau=-1.0), "tau"),
    ],
)
def test_classic_tasks_reject_bad_arguments(call, match: str) -> None:
    assert_rejected("classic tasks", call, match=match)

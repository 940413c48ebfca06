"""The feedforward condition: core trained briefly then frozen >> granule layer >> ridge readout."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cbreservoir.experiments.reproduce.conditions import CONDITIONS, EXTRA_CONDITIONS, FEEDFORWARD_TASKS
from cbreservoir.experiments.reproduce.profiles import get_profile
from cbreservoir.experiments.reproduce.run import build_curriculum, make_cell, run_cell
from cbreservoir.experiments.reproduce.summary import markdown_table, summarize_task
from cbreservoir.models import ElmanRNN, count_parameters
from cbreservoir.nodes import Ridge
from cbreservoir.tasks import make_batch
from cbreservoir.training import FeedforwardTrainer, GradientTrainer, RidgeStatistics

TINY = get_profile("quick").replace(n_epochs=4, steps_per_epoch=10, test_batches=3, batch_size=32)


def _learner(core_steps: int = 3, n_granule: int = 16, seed: int = 0) -> FeedforwardTrainer:
    core = GradientTrainer(ElmanRNN(input_dim=1, units=8, seed=seed), learning_rate=0.1, seed=seed)
    return FeedforwardTrainer(core, core_steps=core_steps, n_granule=n_granule, seed=seed)


def _records(history) -> list[tuple]:
    return [(r.level, r.accuracy, r.loss, r.test_loss, r.head_accuracies) for r in history.records]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), n_batches=st.integers(1, 4), ridge=st.sampled_from([1e-6, 1e-2, 1.0]))
def test_ridge_statistics_batchwise_equals_the_ridge_node(seed: int, n_batches: int, ridge: float) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n_batches * 20, 5)), rng.normal(size=(n_batches * 20, 2))
    statistics = RidgeStatistics(5, 2)
    for rows in np.array_split(np.arange(len(x)), n_batches):
        statistics.update(torch.from_numpy(x[rows]), torch.from_numpy(y[rows]))
    weights, bias = statistics.solve(ridge)
    node = Ridge(ridge=ridge).fit(x, y)
    np.testing.assert_allclose(weights.numpy(), node.Wout, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(bias.numpy(), node.bias, rtol=1e-6, atol=1e-9)


def test_ridge_statistics_without_rows_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one training batch"):
        RidgeStatistics(3, 2).solve(1e-6)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), n_batches=st.integers(2, 6), offset=st.sampled_from([0.0, 1e3]))
def test_streamed_statistics_solve_to_the_ridge_node_fit_on_all_rows(
    seed: int, n_batches: int, offset: float
) -> None:
    rng = np.random.default_rng(seed)
    x = offset + rng.normal(size=(97, 6)).astype(np.float32)  # float32 rows, as the granule code
    y = x @ rng.normal(size=(6, 2)) + rng.normal(size=(97, 2))
    statistics = RidgeStatistics(6, 2)
    for rows in np.array_split(rng.permutation(97), n_batches):  # uneven batches, shuffled rows
        statistics.update(torch.from_numpy(x[rows]), torch.from_numpy(y[rows]))
    weights, bias = statistics.solve(1e-3)
    node = Ridge(ridge=1e-3).fit(x.astype(np.float64), y)
    np.testing.assert_allclose(weights.numpy(), node.Wout, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(bias.numpy(), node.bias, rtol=1e-10, atol=1e-10 * max(offset, 1.0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_large_offset_states_match_lstsq(seed: int) -> None:
    # States 1e4 + 1e-2·noise: centring per chunk keeps the weights within ~4e-11 (relative) of lstsq.
    # The raw sums Σx, xᵀx centred at solve time (RidgeStatistics before it used the node's statistics)
    # were off by 6.5e-4, 5.2e-4 and 2.0e-4 (relative, seeds 0, 1, 2) on these very rows.
    rng = np.random.default_rng(seed)
    x = 1e4 + 1e-2 * rng.normal(size=(600, 4))
    y = (x - 1e4) @ rng.normal(size=(4, 2)) * 100 + 0.01 * rng.normal(size=(600, 2))
    statistics = RidgeStatistics(4, 2)
    for rows in np.array_split(np.arange(600), 3):
        statistics.update(torch.from_numpy(x[rows]), torch.from_numpy(y[rows]))
    weights, bias = statistics.solve(0.0)
    expected = np.linalg.lstsq(np.hstack([x, np.ones((600, 1))]), y, rcond=None)[0]
    for solved, exact in ((weights, expected[:-1]), (bias, expected[-1])):
        np.testing.assert_allclose(solved.numpy(), exact, rtol=0, atol=1e-9 * np.abs(exact).max())


def test_state_dict_round_trip_solves_bit_identically() -> None:
    rng = np.random.default_rng(0)
    x, y = torch.from_numpy(rng.normal(size=(50, 5))), torch.from_numpy(rng.normal(size=(50, 3)))
    statistics = RidgeStatistics(5, 3)
    statistics.update(x[:30], y[:30])
    buffer = io.BytesIO()
    torch.save(statistics.state_dict(), buffer)
    buffer.seek(0)
    restored = RidgeStatistics(5, 3)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    for solved, solved_restored in zip(statistics.solve(1e-2), restored.solve(1e-2), strict=True):
        assert torch.equal(solved, solved_restored)
    for accumulating in (statistics, restored):  # and they keep accumulating identically
        accumulating.update(x[30:], y[30:])
    assert restored.count == 50
    for solved, solved_restored in zip(statistics.solve(1e-2), restored.solve(1e-2), strict=True):
        assert torch.equal(solved, solved_restored)


def test_old_format_statistics_are_refused_and_nothing_is_loaded() -> None:
    old_format = {
        "count": 16,
        "sum_x": torch.zeros(16),
        "sum_y": torch.zeros(2),
        "gram": torch.zeros(16, 16),
        "cross": torch.zeros(16, 2),
    }
    expected_keys = r"keys \['centered', 'count', 'gram_dtype', 'mean_x', 'mean_y', 'products'\]"
    with pytest.raises(ValueError, match=expected_keys + r"; got \['count', 'cross', 'gram', 'sum_x'"):
        RidgeStatistics(16, 2).load_state_dict(old_format)
    learner = _learner(core_steps=0)
    learner.set_level(2)
    learner.train_step(*make_batch("dms", 2, batch_size=16, seed=0))
    state = learner.state_dict()
    fresh = _learner(core_steps=0)
    with pytest.raises(ValueError, match=expected_keys):
        fresh.load_state_dict({**state, "statistics": [old_format]})
    assert fresh.step_count == 0 and fresh.level is None
    wrong_width = {**state["statistics"][0], "mean_x": torch.zeros(15)}
    with pytest.raises(ValueError, match=r"mean_x must have shape \(16,\); got \(15,\)"):
        fresh.load_state_dict({**state, "statistics": [wrong_width]})


def test_core_trains_in_phase_one_only_and_parameters_are_counted() -> None:
    learner = _learner(core_steps=3, n_granule=16)
    learner.set_level(2)
    rng = np.random.default_rng(0)
    snapshots = []
    for _ in range(6):
        snapshots.append([p.detach().clone() for p in learner.model.parameters()])
        learner.train_step(*make_batch("dms", 2, batch_size=16, seed=rng))
    changed = [
        any(not torch.equal(a, b) for a, b in zip(s, t, strict=True))
        for s, t in zip(snapshots, snapshots[1:], strict=False)
    ]
    assert changed == [True, True, True, False, False]
    assert learner.core_frozen and not any(p.requires_grad for p in learner.model.parameters())
    counts = learner.parameter_counts()
    core = count_parameters(learner.model) - count_parameters(learner.model.readouts)
    assert counts == {"trainable": 17 * 2, "frozen": core + 16 * 9, "total": 17 * 2 + core + 16 * 9}


def test_statistics_restart_only_when_the_level_changes() -> None:
    learner = _learner(core_steps=0)
    learner.set_level(2)
    learner.train_step(*make_batch("dms", 2, batch_size=16, seed=0))
    learner.set_level(2)
    assert learner._statistics[0].count == 16
    learner.set_level(3)
    assert learner._statistics[0].count == 0
    with pytest.raises(ValueError, match="at least one training batch"):
        learner.evaluate(*make_batch("dms", 3, batch_size=16, seed=1))


def test_feedforward_learns_dms_above_chance() -> None:
    cell = make_cell(
        "dms", "feedforward", seed=0, profile=TINY.replace(n_epochs=3, steps_per_epoch=20), n_granule=64
    )
    curriculum = build_curriculum(cell)
    history = curriculum.run(3)
    assert isinstance(curriculum.trainer, FeedforwardTrainer)
    assert curriculum.trainer.model.units == 64
    # phase 1 (20 BPTT steps) leaves the core's own readout near chance; the ridge readout on the
    # frozen core's granule code passes N = 2 and then N = 3
    assert history.levels == [2, 2, 3] and history.accuracies[0] < 0.7
    assert min(history.accuracies[1:]) >= TINY.threshold


def test_resume_gives_identical_numbers(tmp_path) -> None:
    cell = make_cell("parity", "feedforward", seed=1, profile=TINY, n_granule=32)
    uninterrupted = build_curriculum(cell).run(4)
    build_curriculum(cell, tmp_path).run(2)
    resumed = build_curriculum(cell, tmp_path).run(4)
    assert _records(resumed) == _records(uninterrupted)


def test_run_record_fits_the_summary_table() -> None:
    runs = [
        run_cell(make_cell("dms", "feedforward", seed=seed, profile=TINY.replace(n_epochs=2), n_granule=16))
        for seed in (0, 1)
    ]
    assert runs[0]["n_parameters"] == runs[0]["parameter_counts"]["total"]
    summary = summarize_task("dms", runs, n_epochs=2)
    (row,) = summary["rows"]
    assert row["label"] == CONDITIONS["feedforward"].label and row["max_level"]["n"] == 2
    assert CONDITIONS["feedforward"].label in markdown_table([summary])


def test_multitask_trains_one_readout_per_head() -> None:
    learner = FeedforwardTrainer(
        GradientTrainer(ElmanRNN(input_dim=1, units=8, n_classes=(2, 2), seed=0), seed=0), core_steps=0
    )
    learner.set_level(2)
    x, y = make_batch("dms", 2, batch_size=16, seed=0)
    learner.train_step(x, (y, y))
    accuracy = learner.evaluate(x, (y, y))["accuracy"]
    assert isinstance(accuracy, tuple) and accuracy[0] == accuracy[1]


def test_condition_is_registered_and_refuses_task_switching() -> None:
    assert "feedforward" in EXTRA_CONDITIONS and "switching" not in FEEDFORWARD_TASKS
    with pytest.raises(ValueError, match="feedforward condition runs tasks"):
        build_curriculum(make_cell("switching", "feedforward", seed=0, profile=TINY))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"core_steps": -1}, ValueError, r"core_steps must be an int in \[0, inf\]; got -1"),
        ({"core_steps": 1.5}, TypeError, r"core_steps must be an int in \[0, inf\]; got 1.5"),
        ({"core_steps": 1, "n_granule": 0}, ValueError, "n_granule must be a positive int; got 0"),
        ({"core_steps": 1, "ridge": -1.0}, ValueError, "ridge must be a finite number >= 0.0; got -1.0"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, error: type, message: str) -> None:
    core = GradientTrainer(ElmanRNN(input_dim=1, units=4, seed=0))
    with pytest.raises(error, match=message):
        FeedforwardTrainer(core, **kwargs)


def test_wrong_trainer_and_foreign_checkpoint_are_refused() -> None:
    with pytest.raises(TypeError, match="core_trainer must be a GradientTrainer, got ElmanRNN"):
        FeedforwardTrainer(ElmanRNN(input_dim=1, units=4), core_steps=1)
    with pytest.raises(ValueError, match="checkpoint has core_steps=3"):
        _learner(core_steps=5).load_state_dict(_learner(core_steps=3).state_dict())

"""DMS / parity / mod-3, multitask and switching batches: labels recomputed independently."""

from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cbreservoir.tasks import (
    make_batch,
    make_multitask_batch,
    make_switching_batch,
    make_task_batch,
    switching_plan,
    task_spec,
)


def _reference_label(task: str, sequence: list[int], n: int) -> int:
    """Labels from the task definitions, one trial at a time, in plain Python."""
    last = sequence[-1]
    if task == "dms":
        return int(sequence[len(sequence) - 1 - (n - 1)] == last)
    total = sum(sequence[len(sequence) - n :])
    return total % (2 if task == "parity" else 3)


@pytest.mark.parametrize("task", ["dms", "parity", "mod3"])
@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 25), batch_size=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_labels_shapes_and_lengths(task, n, batch_size, seed):
    x, y = make_batch(task, n, batch_size=batch_size, seed=seed)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert x.shape[0] == batch_size and x.shape[2] == 1 and y.shape == (batch_size,)
    assert n + 2 <= x.shape[1] <= 4 * n + 1
    assert set(np.unique(x)) <= {0.0, 1.0}
    expected = [_reference_label(task, [int(b) for b in row], n) for row in x[:, :, 0]]
    assert y.tolist() == expected


def test_every_length_of_the_range_occurs_uniformly():
    n, draws = 3, 1800
    rng = np.random.default_rng(0)
    lengths = np.array([make_batch("parity", n, batch_size=1, seed=rng)[0].shape[1] for _ in range(draws)])
    counts = np.bincount(lengths, minlength=4 * n + 2)[n + 2 :]
    assert lengths.min() == n + 2 and lengths.max() == 4 * n + 1
    expected = draws / (3 * n)  # 9 possible lengths
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))


@pytest.mark.parametrize("task", ["dms", "parity"])
def test_binary_labels_are_balanced(task):
    _, y = make_batch(task, 6, batch_size=20000, seed=1)
    assert abs(y.mean() - 0.5) < 0.015


@pytest.mark.parametrize("n", [1, 2, 4])
def test_mod3_label_frequencies_match_binomial_law(n):
    _, y = make_batch("mod3", n, batch_size=30000, seed=2)
    for residue in range(3):
        exact = sum(comb(n, k) for k in range(residue, n + 1, 3)) / 2**n
        assert abs(np.mean(y == residue) - exact) < 0.012


def test_bits_are_fair_and_independent_over_time():
    x, _ = make_batch("parity", 10, batch_size=5000, seed=3)
    bits = x[:, :, 0]
    assert abs(bits.mean() - 0.5) < 0.01
    lag_one = np.corrcoef(bits[:, :-1].ravel(), bits[:, 1:].ravel())[0, 1]
    assert abs(lag_one) < 0.01


def test_same_seed_same_batch_and_generator_advances():
    x1, y1 = make_batch("dms", 5, batch_size=16, seed=7)
    x2, y2 = make_batch("dms", 5, batch_size=16, seed=7)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    rng = np.random.default_rng(7)
    first, _ = make_batch("dms", 5, batch_size=16, seed=rng)
    second, _ = make_batch("dms", 5, batch_size=16, seed=rng)
    np.testing.assert_array_equal(first, x1)
    assert first.shape != second.shape or not np.array_equal(first, second)


def test_multitask_labels_both_tasks_on_the_same_sequences():
    x, (y_dms, y_parity) = make_multitask_batch(6, batch_size=32, seed=4)
    x_single, y_single = make_batch("dms", 6, batch_size=32, seed=4)
    np.testing.assert_array_equal(x, x_single)
    np.testing.assert_array_equal(y_dms, y_single)
    np.testing.assert_array_equal(y_parity, make_batch("parity", 6, batch_size=32, seed=4)[1])


def test_switching_batch_adds_a_three_step_pulse():
    x, labels = make_switching_batch(4, batch_size=8, seed=5)
    x_plain, labels_plain = make_multitask_batch(4, batch_size=8, seed=5)
    assert x.shape[2] == 2
    np.testing.assert_array_equal(x[:, :, :1], x_plain)
    np.testing.assert_array_equal(x[:, :3, 1], 1.0)
    np.testing.assert_array_equal(x[:, 3:, 1], 0.0)
    for got, expected in zip(labels, labels_plain, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_switching_plan_alternates_every_five_levels():
    plan = {level: switching_plan(level).task for level in range(2, 21)}
    assert [plan[n] for n in (2, 3, 4)] == ["dms"] * 3
    assert [plan[n] for n in range(5, 10)] == ["parity"] * 5
    assert [plan[n] for n in range(10, 15)] == ["dms"] * 5
    assert [plan[n] for n in range(15, 20)] == ["parity"] * 5
    assert switching_plan(20).head == 0 and switching_plan(7).head == 1


def test_task_spec():
    assert task_spec("dms") == (1, 2)
    assert task_spec("mod3") == (1, 3)
    assert task_spec("multitask") == (1, (2, 2))
    assert task_spec("switching") == (2, (2, 2))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_batch("xor", 3, batch_size=4, seed=0), "task must be one of"),
        (
            lambda: make_batch("dms", 1, batch_size=4, seed=0),
            r"for task .dms. must be an int in \[2, inf\]; got 1",
        ),
        (
            lambda: make_batch("parity", 0, batch_size=4, seed=0),
            r"for task .parity. must be a positive int; got 0",
        ),
        (lambda: make_batch("parity", 3, batch_size=0, seed=0), "batch_size must be a positive int; got 0"),
        (lambda: make_multitask_batch(3, batch_size=4, seed=0, tasks=()), "at least one task"),
        (lambda: switching_plan(0), "level must be a positive int; got 0"),
        (lambda: task_spec("copy"), "task must be one of"),
    ],
)
def test_errors_name_expected_and_received(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_non_integer_level_is_a_type_error():
    with pytest.raises(TypeError, match=r"level N\) for task .parity. must be a positive int; got 2.5"):
        make_batch("parity", 2.5, batch_size=4, seed=0)


@pytest.mark.parametrize("task", ["dms", "parity", "mod3", "multitask", "switching"])
def test_make_task_batch_is_the_tasks_own_batch_maker(task):
    own = {"multitask": make_multitask_batch, "switching": make_switching_batch}
    x, y = make_task_batch(task, 4, batch_size=8, seed=3)
    if task in own:
        x_own, y_own = own[task](4, batch_size=8, seed=3)
    else:
        x_own, y_own = make_batch(task, 4, batch_size=8, seed=3)
    np.testing.assert_array_equal(x, x_own)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(y_own))


def test_make_task_batch_refuses_the_continual_plan_and_unknown_tasks():
    for task in ("continual", "xor"):
        with pytest.raises(ValueError, match=r"task must be one of \['dms', 'parity', 'mod3', 'multitask'"):
            make_task_batch(task, 4, batch_size=8, seed=0)

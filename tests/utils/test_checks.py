"""Bad input: clear ValueErrors naming expected vs received, raised before any state changes."""

import numpy as np
import pytest
import torch

from cbreservoir.nodes import Cerebellum, Reservoir, Ridge
from cbreservoir.utils.checks import (
    as_float_array,
    check_series,
    check_targets,
    check_warmup,
    resolve_input_dim,
)


def test_layouts_are_recognised():
    assert check_series(np.zeros((5, 2))).layout == "single"
    batch = check_series(np.zeros((3, 5, 2), dtype=np.int64))
    assert batch.layout == "batch" and batch.data.dtype == np.float64
    ragged = check_series([np.zeros((5, 2)), np.zeros((7, 2))])
    assert ragged.layout == "ragged" and ragged.lengths == [5, 7] and ragged.n_features == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.zeros(5), r"\(time, features\) array.*got an array of shape \(5,\)"),
        (np.zeros((2, 3, 4, 5)), r"got an array of shape \(2, 3, 4, 5\)"),
        (np.zeros((0, 3)), r"at least one time step.*got shape \(0, 3\)"),
        (np.zeros((4, 0)), r"at least one time step and one feature.*got shape \(4, 0\)"),
        ([], "at least one series"),
        ([np.zeros((3, 2)), np.zeros((3, 4))], r"same number of features; got \[2, 4\]"),
        ([np.zeros(3)], r"X\[0\] must be a \(time, features\) array; got shape \(3,\)"),
        (np.array([[1.0, np.nan]]), r"X must be finite; got nan at index \(0, 1\)"),
        ([np.zeros((2, 2)), np.array([[0.0, np.inf]])], r"X\[1\] must be finite; got inf"),
    ],
)
def test_bad_series_are_rejected(data, message):
    with pytest.raises(ValueError, match=message):
        check_series(data)


def test_non_numeric_input_is_a_type_error():
    with pytest.raises(TypeError, match="real numbers"):
        check_series(np.array([["a", "b"]]))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (np.zeros((2, 2, 2)), r"A must be 1-D or 2-D; got an array of shape \(2, 2, 2\)"),
        (np.zeros((3, 0)), r"A must not be empty; got shape \(3, 0\)"),
        (np.array([0.0, np.inf]), r"A must be finite; got inf at index \(1,\)"),
    ],
)
def test_as_float_array_checks_dimensions_emptiness_and_finiteness(values, message):
    with pytest.raises(ValueError, match=message):
        as_float_array(values, "A", ndims=(1, 2), finite=True)


def test_as_float_array_takes_tensors_that_need_gradients_and_keeps_float_dtypes():
    tensor = torch.arange(4.0, requires_grad=True)
    np.testing.assert_array_equal(
        as_float_array(tensor, "A", dtype=np.float64, ndims=(1,)), [0.0, 1.0, 2.0, 3.0]
    )
    assert as_float_array(np.zeros(2, dtype=np.float32)).dtype == np.float32
    assert as_float_array([1, 2]).dtype == np.float64


def test_feature_count_is_checked():
    with pytest.raises(ValueError, match="X has 3 features per step but the node expects 2"):
        check_series(np.zeros((4, 3)), n_features=2)


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (np.zeros((3, 5, 2)), np.zeros((3, 4, 1)), "series 0: Y has 4 time steps but X has 5"),
        (np.zeros((3, 5, 2)), np.zeros((2, 5, 1)), "Y holds 2 series but X holds 3"),
        (np.zeros((3, 5, 2)), np.zeros(4), "Y holds 4 per-series targets but X holds 3 series"),
        (np.zeros((5, 2)), np.zeros((6, 1)), "Y has 6 time steps but X has 5"),
        ([np.zeros((5, 2))], [np.zeros((4, 1))], "series 0: Y has 4 time steps but X has 5"),
        (np.zeros((3, 5, 2)), np.full((3, 1), np.nan), "Y must be finite"),
    ],
)
def test_bad_targets_are_rejected(x, y, message):
    with pytest.raises(ValueError, match=message):
        check_targets(check_series(x), y)


def test_warmup_bounds():
    assert check_warmup(3, [5, 4]) == 3
    with pytest.raises(ValueError, match=r"shortest series \(4 steps\); got 4"):
        check_warmup(4, [5, 4])
    with pytest.raises(ValueError, match="got -1"):
        check_warmup(-1, [5])


def test_nodes_raise_before_their_state_changes():
    core = Reservoir(10, seed=0)
    core.run(np.ones((5, 2)))
    state = core.state["out"].copy()
    for bad, message in (
        (np.ones((5, 3)), "X has 3 features per step but Reservoir"),
        (np.array([[1.0, np.nan]]), "finite"),
        (np.ones(4), "got an array of shape"),
    ):
        with pytest.raises(ValueError, match=message):
            core.run(bad)
        np.testing.assert_array_equal(core.state["out"], state)
    with pytest.raises(ValueError, match="x has 3 features per step"):
        core.step(np.ones(3))
    cb = Cerebellum(8, seed=0, input_dim=4)
    with pytest.raises(ValueError, match="X has 5 features per step but Cerebellum"):
        cb.run(np.ones((3, 5)))


def test_ridge_keeps_its_fit_when_new_data_is_bad():
    readout = Ridge(1e-3).fit(np.random.default_rng(0).normal(size=(20, 3)), np.ones((20, 1)))
    weights = readout.Wout.copy()
    for x, y, message in (
        (np.ones((20, 4)), np.ones((20, 1)), "X has 4 features per step but Ridge"),
        (np.ones((20, 3)), np.ones((20, 2)), "Y has 2 outputs but 1 are expected"),
        (np.ones((20, 3)), np.full((20, 1), np.inf), "Y must be finite"),
        (np.ones((2, 10, 3)), np.ones((2, 10, 1)), r"warmup must be >= 0 and smaller than the shortest"),
    ):
        with pytest.raises(ValueError, match=message):
            readout.fit(x, y, warmup=10)
        np.testing.assert_array_equal(readout.Wout, weights)
    with pytest.raises(ValueError, match="needs targets"):
        readout.fit(np.ones((20, 3)))


def test_resolve_input_dim_reads_data_and_checks_it_against_the_known_dimension():
    assert resolve_input_dim(np.zeros((4, 10, 3)), None) == 3
    assert resolve_input_dim([np.zeros((5, 2)), np.zeros((7, 2))], 2) == 2
    assert resolve_input_dim(None, 6) == 6
    with pytest.raises(ValueError, match="Node expects 2 input features; got 3"):
        resolve_input_dim(np.zeros(3), 2, owner="Node")
    with pytest.raises(ValueError, match="at least one feature; got 0"):
        resolve_input_dim(np.zeros((5, 0)), None)
    with pytest.raises(ValueError, match="needs input_dim or data"):
        resolve_input_dim(None, None)

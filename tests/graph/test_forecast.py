"""Forecasting pairs and closed-loop generation, for cbreservoir and reservoirpy models."""

import numpy as np
import pytest
import reservoirpy.nodes as rpn

from cbreservoir.graph.forecast import forecast_pairs, generate
from cbreservoir.nodes import Cerebellum, Reservoir, Ridge


def test_forecast_pairs_one_and_several_horizons():
    series = np.arange(24.0).reshape(12, 2)
    X, Y = forecast_pairs(series)
    np.testing.assert_array_equal(X, series[:-1])
    np.testing.assert_array_equal(Y, series[1:])
    X, Y = forecast_pairs(series, horizon=[1, 4])
    assert X.shape == (8, 2) and Y.shape == (8, 4)
    np.testing.assert_array_equal(Y[:, :2], series[1:9])
    np.testing.assert_array_equal(Y[:, 2:], series[4:12])
    np.testing.assert_array_equal(forecast_pairs(series, horizon=3)[1], series[3:])


def test_closed_loop_of_a_linear_map_is_its_matrix_powers():
    """y = A u fed back: the k-th forecast after the warm-up's last value x is A^k x."""
    angle, radius = 0.3, 0.98
    A = radius * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    model = Ridge(Wout=A.T, bias=np.zeros(2))
    warmup = np.random.default_rng(0).normal(size=(5, 2))
    forecast = generate(model, warmup, 40)
    expected = [np.linalg.matrix_power(A, k) @ warmup[-1] for k in range(1, 41)]
    np.testing.assert_allclose(forecast, expected, rtol=1e-12, atol=1e-14)


def _sine(n=600):
    t = np.arange(n) * 0.1
    return np.column_stack([np.sin(t), np.cos(1.3 * t)])


def test_generation_equals_a_step_by_step_loop_over_the_nodes():
    series = _sine()
    core, cb, readout = Reservoir(40, lr=0.5, sr=0.9, seed=0), Cerebellum(60, seed=1), Ridge(1e-6)
    model = core >> cb >> readout
    X, Y = forecast_pairs(series[:500])
    model.fit(X, Y, warmup=50)
    state = core.state["out"].copy()
    forecast = generate(model, series[500:520], 30)
    core.state["out"] = state
    for u in series[500:520]:
        value = readout.step(cb.step(core.step(u)))
    reference = [value]
    for _ in range(29):
        reference.append(readout.step(cb.step(core.step(reference[-1]))))
    np.testing.assert_allclose(forecast, reference, rtol=0, atol=1e-10)
    assert np.abs(forecast[:10] - series[520:530]).max() < 0.05  # it did learn the sines


def test_generation_with_reservoirpy_equals_ours_on_the_same_reservoir():
    series = _sine()
    X, Y = forecast_pairs(series[:500])
    ours = Reservoir(50, lr=0.3, sr=0.9, input_scaling=0.5, seed=3) >> Ridge(1e-6)
    theirs = rpn.Reservoir(50, lr=0.3, sr=0.9, input_scaling=0.5, seed=3) >> rpn.Ridge(1e-6)
    forecasts = []
    for model in (ours, theirs):
        model.fit(X, Y, warmup=50)
        forecasts.append(generate(model, series[480:500], 50))
    np.testing.assert_allclose(forecasts[0], forecasts[1], rtol=0, atol=1e-6)


def test_bad_input_errors():
    model = Ridge(Wout=np.ones((2, 1)), bias=np.zeros(1))  # 2 inputs -> 1 output: cannot be fed back
    with pytest.raises(ValueError, match=r"one \(time, 2\) array for a \(time, 2\) input.*got \(3, 1\)"):
        generate(model, np.ones((3, 2)), 5)
    with pytest.raises(TypeError, match="model must have a run"):
        generate(object(), np.ones((3, 2)), 5)
    with pytest.raises(ValueError, match=r"one non-empty \(time, features\) series; got shape \(3,\)"):
        generate(model, np.ones(3), 5)
    with pytest.raises(ValueError, match="n_steps"):
        generate(model, np.ones((3, 2)), 0)
    with pytest.raises(ValueError, match="horizon 5 needs a series longer than 5 steps; got 5"):
        forecast_pairs(np.ones((5, 1)), horizon=5)
    with pytest.raises(ValueError, match="horizon"):
        forecast_pairs(np.ones((5, 1)), horizon=[])
    with pytest.raises(ValueError, match="horizon"):
        forecast_pairs(np.ones((5, 1)), horizon=[1, 0])


def _step_by_step(model, warmup, n_steps):
    """The reference closed loop: one ``run`` call of the whole graph per generated step."""
    forecast = [model.run(warmup)[-1]]
    for _ in range(n_steps - 1):
        forecast.append(model.run(forecast[-1][None])[-1])
    return np.array(forecast)


def _graphs():
    """Fitted one-step forecasters: a chain without and with a Cerebellum, a graph that is not a chain
    (the input beside the reservoir states into the readout), a per-unit leak, and a lone node."""
    t = np.arange(700) * 0.07
    series = np.stack([np.sin(t), np.cos(1.7 * t)], axis=1)
    X, Y = forecast_pairs(series[:600])
    reservoir = {"sr": 0.9, "lr": 0.4, "seed": 3}
    source = rpn.Input()
    graphs = {
        "reservoir-ridge": Reservoir(60, **reservoir) >> Ridge(1e-6),
        "reservoir-cerebellum-ridge": Reservoir(60, **reservoir) >> Cerebellum(80, seed=4) >> Ridge(1e-6),
        "nuclei-output": Reservoir(60, **reservoir) >> Cerebellum(80, output="all", seed=4) >> Ridge(1e-6),
        "not-a-chain": [source, source >> Reservoir(60, **reservoir)] >> Ridge(1e-6),
        "per-unit-leak": Reservoir(60, sr=0.9, lr=np.linspace(0.1, 1.0, 60), seed=3) >> Ridge(1e-6),
        "dense-relu": Reservoir(60, sr=0.9, rc_connectivity=0.9, activation="relu", seed=3) >> Ridge(1e-2),
    }
    for model in graphs.values():
        model.fit(X, Y, warmup=20)
    graphs["node"] = Ridge(Wout=np.array([[0.9, 0.1], [-0.2, 0.95]]), bias=np.zeros(2))
    return graphs, series


@pytest.mark.parametrize("name", [
    "reservoir-ridge", "reservoir-cerebellum-ridge", "nuclei-output", "not-a-chain", "per-unit-leak",
    "dense-relu", "node",
])
def test_the_compiled_closed_loop_equals_one_run_per_step(name):
    """generate's compiled loop over the nodes' steppers gives the numbers of one full run per step
    (float64, 1e-10) and leaves every node in the same state (issue 35)."""
    graphs, series = _graphs()
    model = graphs[name]
    model.reset()
    fast = generate(model, series[600:650], 120)
    states = [np.copy(node.state["out"]) for node in getattr(model, "nodes", [model])]
    model.reset()
    reference = _step_by_step(model, series[600:650], 120)
    np.testing.assert_allclose(fast, reference, rtol=0, atol=1e-10)
    for node, state in zip(getattr(model, "nodes", [model]), states, strict=True):
        np.testing.assert_allclose(state, node.state["out"], rtol=0, atol=1e-10)

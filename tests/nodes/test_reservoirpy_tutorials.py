"""reservoirpy-tutorial-style code runs unchanged with cbreservoir's Reservoir and Ridge (issue 15).

Each snippet is written once, in reservoirpy's idioms (``rpy.set_seed``, ``>>``, ``<<``, ``&``, lists of
nodes, ``Input``, ``ESN``, ``node(x)`` steps, generative loops), and run twice: with reservoirpy's
``Reservoir``/``Ridge`` and with ours. The outputs must agree.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import reservoirpy as rpy
from reservoirpy import ESN
from reservoirpy.datasets import mackey_glass
from reservoirpy.nodes import Input
from reservoirpy.nodes import Reservoir as PeerReservoir
from reservoirpy.nodes import Ridge as PeerRidge

from cbreservoir.nodes import Reservoir, Ridge

#: (Reservoir, Ridge) classes: reservoirpy's and ours.
PAIRS = {"reservoirpy": (PeerReservoir, PeerRidge), "cbreservoir": (Reservoir, Ridge)}


@pytest.fixture(scope="module")
def series() -> np.ndarray:
    return mackey_glass(500)


def _both(snippet: Callable[..., object], *args: object) -> tuple[object, object]:
    """``snippet(Reservoir, Ridge, *args)`` with reservoirpy's classes, then with ours."""
    return tuple(snippet(*PAIRS[name], *args) for name in ("reservoirpy", "cbreservoir"))


def _assert_same(theirs: object, ours: object, rtol: float = 1e-7, atol: float = 1e-9) -> None:
    if isinstance(theirs, dict):
        assert set(theirs) == set(ours)
        for key in theirs:
            _assert_same(theirs[key], ours[key], rtol, atol)
        return
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=rtol, atol=atol)


def test_getting_started_forecast(series: np.ndarray) -> None:
    def snippet(Reservoir, Ridge, X):  # noqa: N803 (tutorial names)
        rpy.set_seed(42)
        X_train, Y_train, X_test = X[:300], X[1:301], X[300:-1]  # noqa: N806
        reservoir = Reservoir(100, lr=0.5, sr=0.9)
        ridge = Ridge(ridge=1e-7)
        states = reservoir.run(X_train[:50])
        reservoir.reset()
        esn_model = reservoir >> ridge
        esn_model = esn_model.fit(X_train, Y_train, warmup=10)
        return {"states": states, "prediction": esn_model.run(X_test), "Wout": ridge.Wout}

    theirs, ours = _both(snippet, series)
    _assert_same(theirs["states"], ours["states"], rtol=0, atol=1e-13)
    _assert_same(theirs["prediction"], ours["prediction"], rtol=1e-6, atol=1e-8)


def test_step_by_step_and_generative_loop(series: np.ndarray) -> None:
    def snippet(Reservoir, Ridge, X):  # noqa: N803
        rpy.set_seed(1)
        reservoir, readout = Reservoir(60, lr=0.3, sr=1.1), Ridge(ridge=1e-5)
        first = reservoir(X[0])  # Node.__call__: one step
        stepped = np.stack([reservoir(x) for x in X[1:20]])
        esn = reservoir >> readout
        esn.fit(X[:300], X[1:301], warmup=20)
        warm = esn.run(X[300:350])
        x, generated = warm[-1], []
        for _ in range(30):  # feed each prediction back as the next input
            x = esn(x)
            generated.append(x)
        return {"first": first, "stepped": stepped, "generated": np.stack(generated)}

    theirs, ours = _both(snippet, series)
    _assert_same(theirs["first"], ours["first"], rtol=0, atol=1e-14)
    _assert_same(theirs["stepped"], ours["stepped"], rtol=0, atol=1e-13)
    _assert_same(theirs["generated"], ours["generated"], rtol=1e-6, atol=1e-7)


def test_custom_weights_and_esn_class(series: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    W_matrix = rng.normal(size=(80, 80)) * (rng.random((80, 80)) < 0.1) * 0.4  # noqa: N806
    bias_vector = np.ones(80) * 0.1

    def snippet(Reservoir, Ridge, X):  # noqa: N803
        reservoir = Reservoir(W=W_matrix, bias=bias_vector, seed=3)
        states = reservoir.run(X[:100])
        model = ESN(reservoir=Reservoir(80, sr=0.9, seed=4), readout=Ridge(ridge=1e-6))
        model.fit(X[:300], X[1:301], warmup=10)
        return {"states": states, "esn": model.run(X[300:-1])}

    theirs, ours = _both(snippet, series)
    _assert_same(theirs["states"], ours["states"], rtol=0, atol=1e-13)
    _assert_same(theirs["esn"], ours["esn"], rtol=1e-6, atol=1e-8)


def test_feedback_operator(series: np.ndarray) -> None:
    def snippet(Reservoir, Ridge, X):  # noqa: N803
        reservoir, readout = Reservoir(50, lr=0.5, sr=0.9, seed=5), Ridge(ridge=1e-4)
        model = (reservoir >> readout) & (reservoir << readout)  # readout feeds back with a delay of 1
        model.fit(X[:300], X[1:301], warmup=10)
        return model.run(X[300:-1])

    theirs, ours = _both(snippet, series)
    _assert_same(theirs, ours, rtol=1e-6, atol=1e-8)


def test_deep_esn_with_merge_and_lists(series: np.ndarray) -> None:
    def snippet(Reservoir, Ridge, X):  # noqa: N803
        reservoir1 = Reservoir(40, name="res1", seed=11)
        reservoir2 = Reservoir(40, name="res2", seed=12)
        reservoir3 = Reservoir(40, name="res3", seed=13)
        readout = Ridge(ridge=1e-5, name="readout")
        data = Input(name="data")
        model = (
            reservoir1 >> reservoir2 >> reservoir3 & data >> [reservoir1, reservoir2, reservoir3] >> readout
        )
        model.fit(X[:300], X[1:301], warmup=10)
        return model.run(X[300:-1])

    theirs, ours = _both(snippet, series)
    _assert_same(theirs, ours, rtol=1e-6, atol=1e-8)


def test_parallel_readouts_multi_output(series: np.ndarray) -> None:
    def snippet(Reservoir, Ridge, X):  # noqa: N803
        reservoir = Reservoir(60, sr=0.9, seed=21)
        model = reservoir >> [Ridge(ridge=1e-6, name="one"), Ridge(ridge=1e-3, name="two")]
        model.fit(X[:300], {"one": X[1:301], "two": X[2:302]}, warmup=10)
        return model.run(X[300:-2])

    theirs, ours = _both(snippet, series)
    _assert_same(theirs, ours, rtol=1e-6, atol=1e-8)


def test_classification_from_last_states() -> None:
    rng = np.random.default_rng(7)
    lengths, labels = rng.integers(8, 20, 30), np.arange(30) % 2
    X = [rng.normal(size=(int(n), 3)) + label for n, label in zip(lengths, labels, strict=True)]  # noqa: N806
    Y = [np.eye(2)[[i % 2]] for i in range(30)]  # noqa: N806

    def snippet(Reservoir, Ridge):  # noqa: N803
        reservoir, readout = Reservoir(50, sr=0.9, lr=0.1, seed=31), Ridge(ridge=1e-6)
        states_train = []
        for x in X:
            states = reservoir.run(x)
            reservoir.reset()
            states_train.append(states[-1, np.newaxis])
        readout.fit(np.concatenate(states_train), np.concatenate(Y))
        return readout.run(np.concatenate(states_train))

    theirs, ours = _both(snippet)
    _assert_same(theirs, ours, rtol=1e-6, atol=1e-8)


def test_multi_series_fit_with_unsupervised_steps(series: np.ndarray) -> None:
    X = np.stack([series[:200], series[200:400]])  # noqa: N806
    Y = np.stack([series[1:201], series[201:401]])  # noqa: N806
    Y[:, :30] = np.nan  # no target during the first steps of every series

    def snippet(Reservoir, Ridge):  # noqa: N803
        model = Reservoir(50, lr=0.5, sr=0.9, seed=41) >> Ridge(ridge=1e-6)
        model.fit(X, Y)
        return model.run(X)

    theirs, ours = _both(snippet)
    _assert_same(theirs, ours, rtol=1e-6, atol=1e-8)

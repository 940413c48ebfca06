"""Bad input to the reservoirpy nodes (Reservoir, Cerebellum, Ridge) and graphs built from them.

Every bad call must raise ValueError/TypeError from cbreservoir's own checks, name the problem and
leave the node exactly as it was; odd-but-valid input (ints, bools, float16, torch tensors, one-step
series) must give the same numbers as its float64 equivalent.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cbreservoir.nodes import Cerebellum, Reservoir, Ridge
from tests.support import FEATURES, assert_rejected, count, malformed_series, nonfinite_series
from tests.support import random_data as _data

HYPOTHESIS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])



def _reservoir() -> Reservoir:
    node = Reservoir(6, lr=0.5, sr=0.9, seed=0)
    node.run(_data((5, FEATURES)))
    return node


def _cerebellum() -> Cerebellum:
    node = Cerebellum(n_granule=8, n_purkinje=4, seed=0)
    node.run(_data((5, FEATURES)))
    return node


def _ridge() -> Ridge:
    return Ridge(ridge=1e-3).fit(_data((20, FEATURES)), _data((20, 1), 1))


NODES = {"Reservoir": _reservoir, "Cerebellum": _cerebellum, "Ridge": _ridge}


# ------------------------------------------------------------------------------------------ run / step


@pytest.mark.parametrize("name", sorted(NODES))
@HYPOTHESIS
@given(bad=st.one_of(nonfinite_series(), malformed_series()))
def test_run_rejects_bad_series_and_keeps_state(name: str, bad: tuple[str, object]) -> None:
    match, x = bad
    node = NODES[name]()
    assert_rejected(f"{name}.run", lambda: node.run(x), match=match, unchanged=[node])


@pytest.mark.parametrize("name", sorted(NODES))
@HYPOTHESIS
@given(
    features=st.integers(1, 6).filter(lambda d: d != FEATURES),
    layout=st.sampled_from(["single", "batch", "ragged"]),
)
def test_run_rejects_other_feature_count(name: str, features: int, layout: str) -> None:
    node = NODES[name]()
    x = {"single": _data((4, features)), "batch": _data((2, 4, features)), "ragged": [_data((4, features))]}[
        layout
    ]
    assert_rejected(f"{name}.run", lambda: node.run(x), match=f"{features} features", unchanged=[node])


@pytest.mark.parametrize("name", ["Reservoir", "Cerebellum"])
@pytest.mark.parametrize(
    "x, match",
    [
        (np.ones(FEATURES + 1), "features"),
        (np.ones((2, FEATURES)), "one time step"),
        (np.array([1.0, np.nan, 0.0]), "finite"),
        (np.array(["a", "b", "c"]), "real numbers"),
        (None, "0 features"),  # None: a step without features (reservoirpy's free-running step)
    ],
)
def test_step_rejects_bad_timestep(name: str, x: object, match: str) -> None:
    node = NODES[name]()
    assert_rejected(f"{name}.step", lambda: node.step(x), match=match, unchanged=[node])


def test_run_of_empty_batch_is_rejected() -> None:
    node = _reservoir()
    assert_rejected(
        "Reservoir.run", lambda: node.run(np.zeros((0, 4, FEATURES))), match="series", unchanged=[node]
    )


@pytest.mark.parametrize("name", sorted(NODES))
@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.float16, np.float32, "torch"])
def test_other_numeric_dtypes_equal_their_float64_values(name: str, dtype: object) -> None:
    count(f"{name}.run")
    values = np.round(_data((2, 5, FEATURES)) * 2)
    if dtype is np.bool_:
        values = values > 0
    cast = torch.as_tensor(values) if dtype == "torch" else values.astype(dtype)
    reference = np.asarray(cast.numpy() if dtype == "torch" else cast, dtype=np.float64)
    np.testing.assert_array_equal(NODES[name]().run(cast), NODES[name]().run(reference))


@pytest.mark.parametrize("name", ["Reservoir", "Cerebellum"])
def test_one_step_series_equals_step(name: str) -> None:
    count(f"{name}.run")
    x = _data((1, FEATURES))
    by_run, by_step = NODES[name](), NODES[name]()
    np.testing.assert_allclose(by_run.run(x)[0], by_step.step(x[0]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(by_run.state["out"], by_step.state["out"], rtol=0, atol=1e-12)


# --------------------------------------------------------------------------------------- hyperparameters

RESERVOIR_BAD = [
    ({"units": 0}, "units"),
    ({"units": -4}, "units"),
    ({"units": 2.5}, "units"),
    ({"units": True}, "units"),
    ({"lr": 0.0}, "lr"),
    ({"lr": 1.5}, "lr"),
    ({"lr": -0.2}, "lr"),
    ({"lr": float("nan")}, "lr"),
    ({"activation": "softsign"}, "activation"),
    ({"dtype": "float16"}, "dtype"),
    ({"dtype": "int64"}, "dtype"),
    ({"bias": [1.0, 2.0]}, "bias"),
    ({"W": np.ones((4, 4))}, "W"),
    ({"Win": np.ones((5, FEATURES))}, "Win"),
    ({"W": np.ones((6, 6), dtype=complex)}, "W"),
    ({"input_dim": FEATURES + 1}, "features"),
    ({"input_dim": 0}, "input_dim"),
    ({"sr": -1.0}, "sr"),
    ({"sr": float("nan")}, "sr"),
    ({"rc_connectivity": 0.0}, "rc_connectivity"),
    ({"rc_connectivity": 1.5}, "rc_connectivity"),
    ({"input_connectivity": -0.1}, "input_connectivity"),
    ({"input_connectivity": 0.0}, "input_connectivity"),
    ({"input_scaling": float("inf")}, "input_scaling"),
    ({"W": np.full((6, 6), np.nan)}, "W"),
    ({"Win": np.full((6, FEATURES), np.inf)}, "Win"),
    ({"bias": np.nan}, "bias"),
    ({"seed": "a"}, "seed"),
    ({"seed": -1}, "seed"),
]


@pytest.mark.parametrize(
    "kwargs, match",
    RESERVOIR_BAD,
)
def test_reservoir_rejects_bad_hyperparameters(kwargs: dict, match: str) -> None:
    parameters = {"units": 6, "seed": 0, **kwargs}
    assert_rejected("Reservoir()", lambda: Reservoir(**parameters).run(_data((5, FEATURES))), match=match)


@HYPOTHESIS
@given(lr=st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0, exclude_min=True)))
def test_reservoir_rejects_any_leak_outside_unit_interval(lr: float) -> None:
    assert_rejected("Reservoir()", lambda: Reservoir(5, lr=lr), match="lr")


CEREBELLUM_BAD = [
    ({"n_granule": 0}, "n_granule"),
    ({"n_granule": -3}, "n_granule"),
    ({"n_granule": 2.0}, "n_granule"),
    ({"n_purkinje": 0}, "n_purkinje"),
    ({"n_out": -1}, "n_out"),
    ({"output": "cortex"}, "output"),
    ({"granule_degree": 0}, "granule_degree"),
    ({"granule_degree": FEATURES + 1}, "granule_degree"),
    ({"coding_level": 0.0}, "coding_level"),
    ({"coding_level": 1.0}, "coding_level"),
    ({"coding_level": float("nan")}, "coding_level"),
    ({"input_dim": 0}, "input_dim"),
    ({"seed": "a"}, "seed"),
    ({"seed": -2}, "seed"),
]


@pytest.mark.parametrize(
    "kwargs, match",
    CEREBELLUM_BAD,
)
def test_cerebellum_rejects_bad_hyperparameters(kwargs: dict, match: str) -> None:
    parameters = {"n_granule": 8, "n_purkinje": 4, "seed": 0, **kwargs}
    assert_rejected("Cerebellum()", lambda: Cerebellum(**parameters).run(_data((5, FEATURES))), match=match)


@HYPOTHESIS
@given(
    sizes=st.tuples(st.integers(-5, 4), st.integers(-5, 4), st.integers(-5, 4)).filter(lambda s: min(s) <= 0)
)
def test_cerebellum_rejects_non_positive_sizes(sizes: tuple[int, int, int]) -> None:
    n_granule, n_purkinje, n_out = sizes
    assert_rejected(
        "Cerebellum()",
        lambda: Cerebellum(n_granule=n_granule, n_purkinje=n_purkinje, n_out=n_out),
        match="must be a positive int",
    )


RIDGE_BAD = [
    ({"ridge": -1.0}, "ridge"),
    ({"ridge": float("nan")}, "ridge"),
    ({"ridge": float("inf")}, "ridge"),
    ({"Wout": np.ones(FEATURES)}, "Wout"),
    ({"input_dim": 0}, "input_dim"),
    ({"ridge": "a"}, "ridge"),
    ({"ridge": None}, "ridge"),
    ({"Wout": np.full((FEATURES, 1), np.nan)}, "Wout"),
    ({"output_dim": -1}, "output_dim"),
]


@pytest.mark.parametrize(
    "kwargs, match",
    RIDGE_BAD,
)
def test_ridge_rejects_bad_hyperparameters(kwargs: dict, match: str) -> None:
    def fit_and_run() -> None:
        Ridge(**kwargs).fit(_data((10, FEATURES)), _data((10, 1), 1)).run(_data((10, FEATURES)))

    assert_rejected("Ridge()", fit_and_run, match=match)


@HYPOTHESIS
@given(ridge=st.one_of(st.floats(max_value=0.0, exclude_max=True), st.just(float("inf"))))
def test_ridge_rejects_any_negative_penalty(ridge: float) -> None:
    assert_rejected("Ridge()", lambda: Ridge(ridge=ridge), match="ridge")


# ----------------------------------------------------------------------------------------- Ridge.fit


@st.composite
def mismatched_targets(draw: st.DrawFn) -> tuple[str, object, object]:
    """(message fragment, X, Y) with targets that do not fit the inputs."""
    kind = draw(
        st.sampled_from(["steps", "series", "ragged_steps", "ragged_count", "nonfinite", "dtype", "ndim"])
    )
    steps = draw(st.integers(2, 6))
    if kind == "steps":
        other = draw(st.integers(1, 8).filter(lambda t: t != steps))
        return "time steps", _data((steps, FEATURES)), _data((other, 1))
    if kind == "series":
        series = draw(st.integers(1, 4))
        other = draw(st.integers(1, 6).filter(lambda s: s != series))
        return "series", _data((series, steps, FEATURES)), _data((other, 1))
    if kind == "ragged_steps":
        return (
            "time steps",
            [_data((steps, FEATURES)), _data((steps + 1, FEATURES))],
            [_data((steps, 1)), _data((steps, 1))],
        )
    if kind == "ragged_count":
        return "series", [_data((steps, FEATURES))] * 2, [_data((steps, 1))] * 3
    if kind == "nonfinite":
        y = _data((steps, 1))
        y[draw(st.integers(0, steps - 1)), 0] = draw(st.sampled_from([np.inf, -np.inf]))  # NaN: unsupervised
        return "finite", _data((steps, FEATURES)), y
    if kind == "dtype":
        return (
            "real numbers",
            _data((steps, FEATURES)),
            _data((steps, 1)).astype(draw(st.sampled_from([complex, object]))),
        )
    return "must be", _data((2, steps, FEATURES)), np.zeros((2, steps, 1, 1))


@HYPOTHESIS
@given(case=mismatched_targets())
def test_ridge_fit_rejects_mismatched_targets_and_keeps_weights(case: tuple[str, object, object]) -> None:
    match, x, y = case
    node = _ridge()
    assert_rejected("Ridge.fit", lambda: node.fit(x, y), match=match, unchanged=[node])
    assert_rejected("Ridge.partial_fit", lambda: node.partial_fit(x, y), match=match, unchanged=[node])


@pytest.mark.parametrize(
    "warmup, match", [(-1, "warmup"), (5, "warmup"), (1.0, "warmup"), (True, "warmup"), ("2", "warmup")]
)
def test_ridge_fit_rejects_bad_warmup(warmup: object, match: str) -> None:
    node = _ridge()
    call = lambda: node.fit(_data((5, FEATURES)), _data((5, 1)), warmup=warmup)  # noqa: E731
    assert_rejected("Ridge.fit", call, match=match, unchanged=[node])


def test_ridge_rejects_missing_targets_and_unfitted_run() -> None:
    node = _ridge()
    assert_rejected("Ridge.fit", lambda: node.fit(_data((5, FEATURES))), match="targets", unchanged=[node])
    assert_rejected("Ridge.run", lambda: Ridge().run(_data((5, FEATURES))), match="not fitted")


# ------------------------------------------------------------------------------------------ graphs


def _pipeline(fitted: bool = True) -> tuple[object, tuple[Reservoir, Ridge]]:
    reservoir, readout = Reservoir(6, sr=0.9, seed=0), Ridge(ridge=1e-3)
    model = reservoir >> readout
    if fitted:
        model.fit(_data((3, 8, FEATURES)), _data((3, 8, 1), 1))
    return model, (reservoir, readout)


def _not_empty(bad: tuple[str, object]) -> bool:
    return not (isinstance(bad[1], (list, tuple)) and len(bad[1]) == 0)


GRAPH_BAD_SERIES = st.one_of(nonfinite_series(), malformed_series()).filter(_not_empty)


@HYPOTHESIS
@given(bad=GRAPH_BAD_SERIES)
def test_graph_run_rejects_bad_series(bad: tuple[str, object]) -> None:
    _, x = bad
    model, nodes = _pipeline()
    # reservoirpy's own shape checks come first for some layouts, with their own wording
    assert_rejected("Model.run", lambda: model.run(x), unchanged=nodes, origins=("reservoirpy",))


@HYPOTHESIS
@given(bad=GRAPH_BAD_SERIES, bad_targets=st.booleans())
def test_graph_fit_rejects_bad_series(bad: tuple[str, object], bad_targets: bool) -> None:
    kind, x = bad
    if kind == "finite" and bad_targets:  # a NaN target row is valid (unsupervised, as reservoirpy): inf only
        values = np.concatenate([np.ravel(item) for item in x]) if isinstance(x, list) else np.ravel(x)
        assume(np.isinf(values).any())
    model, _ = _pipeline(fitted=False)
    good = _data((5, FEATURES))
    call = (lambda: model.fit(good, x)) if bad_targets else (lambda: model.fit(x, _data((5, 1))))
    assert_rejected("Model.fit", call, origins=("reservoirpy",))


def test_graph_run_rejects_empty_list() -> None:
    model, nodes = _pipeline()
    assert_rejected("Model.run", lambda: model.run([]), match="series", unchanged=nodes)


@pytest.mark.parametrize("x, y", [(_data((5, FEATURES)), [])])  # (5, 0) inputs are valid: free running
def test_graph_fit_rejects_empty_data_by_name(x: object, y: object) -> None:
    model, _ = _pipeline(fitted=False)
    assert_rejected("Model.fit", lambda: model.fit(x, y), match="at least one", origins=("reservoirpy",))

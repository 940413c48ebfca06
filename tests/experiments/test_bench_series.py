"""The one-thread speed rows (one series, model fit, batch against the bare loop) measure equal outputs."""

import numpy as np
import pytest
import scipy.sparse

from cbreservoir.experiments import bench
from cbreservoir.experiments.bench import _reservoir  # the rows, one by one
from cbreservoir.nodes import Reservoir


def test_series_rows_run_reservoirpys_weights_to_1e9():
    rows = _reservoir.bench_reservoir_series(length=60, units=(20,), repeat=1)
    assert [row.target for row in rows] == [None] * 4  # targets only for the 100 and 500 units
    float64, float32, dense, per_unit = (row.notes["max_abs_diff_vs_peer"] for row in rows)
    assert max(float64, dense, per_unit) < 1e-9 and float32 < 1e-4
    assert all(row.cbreservoir_seconds > 0 and row.peer_seconds > 0 for row in rows)


def test_model_fit_row_fits_reservoirpys_readout():
    row = _reservoir.bench_model_fit(length=300, units=20, repeat=1)
    assert row.target == 2.0
    assert row.notes["max_rel_diff_Wout"] < 1e-6 and row.notes["max_rel_diff_prediction"] < 1e-9


@pytest.mark.parametrize("sparse", [False, True])
def test_bare_loop_is_the_reservoir_equation(sparse):
    rng = np.random.default_rng(0)
    W = rng.normal(size=(15, 15)) * (rng.random((15, 15)) < 0.3) * 0.3
    Win, bias, X = rng.normal(size=(15, 2)), rng.normal(size=15), rng.normal(size=(3, 20, 2))
    matrix = scipy.sparse.csr_array(W) if sparse else W
    expected = Reservoir(15, lr=0.4, W=W, Win=Win, bias=bias).run(X)
    looped = _reservoir.bare_reservoir_loop(matrix, Win, bias, 0.4, X)
    np.testing.assert_allclose(looped, expected, atol=1e-12)


def test_batch_rows_and_sections():
    rows = _reservoir.bench_reservoir_batch(n_series=3, length=20, units=20, repeat=1)
    assert all(row.notes["max_abs_diff_vs_peer"] < 1e-12 for row in rows)
    assert rows[0].target == pytest.approx(1 / 1.15)
    with pytest.raises(ValueError, match="sections must be keys"):
        bench.run_speed_benchmarks(quick=True, sections=["no such rows"])

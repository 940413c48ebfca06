"""Tests for cbreservoir.bench: the timing harness, the matmul peak, benchmark helpers."""

import numpy as np
import pytest

from cbreservoir import bench


def test_time_call_counts_warmup_and_timed_calls():
    calls = []
    timing = bench.time_call(lambda: calls.append(1), repeat=4, warmup=2)
    assert len(calls) == 6
    assert timing.repeats == 4
    assert 0.0 <= timing.best <= timing.median


@pytest.mark.parametrize(("kwargs", "message"), [({"repeat": 0}, "repeat"), ({"warmup": -1}, "warmup")])
def test_time_call_rejects_bad_counts(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bench.time_call(lambda: None, **kwargs)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_matmul_peak_is_a_positive_rate(dtype):
    assert bench.matmul_peak_gflops(size=128, dtype=dtype, repeat=2) > 0.0


def test_matmul_peak_rejects_unknown_dtype():
    with pytest.raises(ValueError, match="dtype must be one of"):
        bench.matmul_peak_gflops(size=8, dtype="int8")


def test_machine_description_names_cores_and_torch():
    line = bench.machine_description()
    assert "cores" in line and "torch" in line


def test_random_reservoir_weights_have_the_asked_spectral_radius_and_are_seeded():
    W, Win, bias = bench.random_reservoir_weights(60, 3, spectral_radius=0.8, seed=1)
    assert W.shape == (60, 60) and Win.shape == (60, 3) and bias.shape == (60,)
    assert np.max(np.abs(np.linalg.eigvals(W))) == pytest.approx(0.8)
    assert np.array_equal(W, bench.random_reservoir_weights(60, 3, spectral_radius=0.8, seed=1)[0])


def test_bench_row_ratio_is_peer_over_cbreservoir():
    row = bench.BenchRow("op", cbreservoir_seconds=0.5, peer_seconds=2.0, peer="peer", target=3.0)
    assert row.ratio == pytest.approx(4.0)
    assert row.to_dict()["ratio"] == pytest.approx(4.0)
    assert bench.BenchRow("op", 1.0, None, "none").ratio is None

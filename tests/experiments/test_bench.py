"""Tests for cbreservoir.experiments.bench: the timing harness, the matmul peak, benchmark helpers."""

import time

import numpy as np
import pytest
import torch

from cbreservoir.experiments import bench, reference
from cbreservoir.experiments.bench import _reservoir, _ridge, _training  # the rows, one by one


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
    W, Win, bias = _reservoir.random_reservoir_weights(60, 3, spectral_radius=0.8, seed=1)
    assert W.shape == (60, 60) and Win.shape == (60, 3) and bias.shape == (60,)
    assert np.max(np.abs(np.linalg.eigvals(W))) == pytest.approx(0.8)
    assert np.array_equal(W, _reservoir.random_reservoir_weights(60, 3, spectral_radius=0.8, seed=1)[0])


def test_time_alternating_calls_the_sides_in_turn_and_returns_medians():
    calls = []
    seconds = bench.time_alternating(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b") or time.sleep(0.05)}, repeat=3
    )
    assert calls == ["a", "b"] * 3
    assert set(seconds) == {"a", "b"} and seconds["b"] >= 0.05 and seconds["b"] > seconds["a"] >= 0


def test_bench_row_ratio_is_peer_over_cbreservoir():
    row = bench.BenchRow("op", cbreservoir_seconds=0.5, peer_seconds=2.0, peer="peer", target=3.0)
    assert row.ratio == pytest.approx(4.0)
    assert row.to_dict()["ratio"] == pytest.approx(4.0)
    assert bench.BenchRow("op", 1.0, None, "none").ratio is None


def test_reference_loop_trains_the_same_network_as_cbreservoir():
    # the peer is written independently from PAPER.md; with the same seed it must be the same network
    # and take the same SGD steps as a GradientTrainer on cbreservoir's CBRNN
    from cbreservoir.models import CBRNN
    from cbreservoir.tasks import make_batch
    from cbreservoir.training import GradientTrainer

    peer = reference.ReferenceCBRNN(hidden_size=8, n_granule=16, n_purkinje=4, seed=3)
    optimizer = reference.make_optimizer(peer)
    generator = torch.Generator().manual_seed(3)
    trainer = GradientTrainer(CBRNN(1, 8, 16, 4, seed=3), seed=3)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, y = make_batch("dms", 3, batch_size=8, seed=rng)
        expected = trainer.train_step(x, y)
        assert reference.train_step(peer, optimizer, torch.from_numpy(x), torch.from_numpy(y), generator) == (
            pytest.approx(expected, rel=1e-5)
        )
    ours = trainer.model
    pairs = [
        (peer.input_layer, ours.core.input_layer),
        (peer.recurrent_layer, ours.core.recurrent_layer),
        (peer.granule, ours.cerebellum.granule),
        (peer.purkinje, ours.cerebellum.purkinje),
        (peer.nuclei, ours.cerebellum.nuclei),
        (peer.readout, ours.readouts[0]),
    ]
    for peer_layer, our_layer in pairs:
        ours_weight = our_layer.weight
        if peer_layer is peer.granule:  # the peer reads [h ; x] as the paper writes it, cbreservoir [x ; h]
            ours_weight = torch.cat([ours_weight[:, 1:], ours_weight[:, :1]], 1)
        torch.testing.assert_close(peer_layer.weight, ours_weight, rtol=1e-5, atol=1e-6)


def test_reservoir_benchmark_matches_reservoirpy():
    peak = {"float64": 1.0}
    rows = _reservoir.bench_reservoir_run(n_series=2, length=30, units=20, repeat=1, peak_gflops=peak)
    float64, float32 = rows
    assert float64.notes["max_abs_diff"] < 1e-10
    assert float32.notes["max_abs_diff"] < 1e-4
    assert float64.notes["fraction_of_peak"] == pytest.approx(float64.notes["gflops"])
    assert float64.peer_seconds == float32.peer_seconds > 0


def test_ridge_benchmarks_agree_with_peer_streamed_fit_and_lstsq():
    in_memory, streamed, float32_gram = bench.bench_ridge_fit(
        n_samples=600, n_features=20, n_outputs=2, n_chunks=3
    )
    assert in_memory.notes["max_rel_diff_vs_peer"] < 1e-8
    assert streamed.notes["max_rel_diff_vs_in_memory"] < 1e-10
    assert 0 < float32_gram.notes["max_rel_diff_vs_float64"] < 1e-5
    accuracy = _ridge.bench_ridge_accuracy(n_samples=400, n_features=10, condition=1e6)
    assert accuracy.notes["cbreservoir_rel_error_vs_lstsq"] < 1e-8


def test_ill_conditioned_states_have_the_asked_condition_number():
    X, Y = bench.ill_conditioned_states(2000, 10, n_outputs=2, condition=1e4, seed=0)
    assert Y.shape == (2000, 2)
    centred = X - X.mean(axis=0)
    assert 1e3 < np.linalg.cond(centred) < 1e5


@pytest.mark.parametrize("shared_data", [True, False])
def test_ensemble_benchmark_row(shared_data):
    row = _training.bench_ensemble_update(
        n_members=2, n=2, batch_size=4, steps=1, shared_data=shared_data, repeat=2
    )
    assert row.cbreservoir_seconds > 0 and row.peer_seconds > 0 and row.target == 4.0
    assert row.notes["member_updates_per_second"] == pytest.approx(2 / row.cbreservoir_seconds)
    assert row.notes["max_final_loss_diff_vs_peer"] < 1e-5


def test_format_table_has_one_line_per_row_and_the_machine():
    rows = [
        bench.BenchRow("op a", 0.5, 2.0, "peer", 3.0, {"x": 0.25}),
        bench.BenchRow("op b", 2.0, None, "none"),
    ]
    table = bench.format_table(
        {"rows": rows, "machine": "M", "device": "cpu", "peak_gflops": {"float64": 9.0}}
    )
    lines = table.splitlines()
    assert lines[2] == "| op a | 500.0 ms | 2.00 s (peer) | 4.00× | ≥ 3× | x 0.25 |"
    assert lines[3].startswith("| op b | 2.00 s | — (none) | — | — |")
    assert lines[-1] == "Machine: M; device cpu; matmul peak GFLOP/s: float64 9.0."

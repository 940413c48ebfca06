"""Determinism and state semantics.

* The same seed gives bit-identical results in two separate processes (different hash seeds) for the
  ridge pipeline, gradient training, ensembles and loky and dask sweeps; another seed gives other results.
* The nodes' state and reset semantics documented in docs/graph-guide.md ("State and reset policy").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from cbreservoir.graph import predict_final
from cbreservoir.models import build_model
from cbreservoir.nodes import Cerebellum, Reservoir, Ridge
from tests.support import count

#: Prints {pipeline: {seed: sha256 of its results}} for the seeds given on the command line.
DIGESTS_SCRIPT = textwrap.dedent(
    """
    import hashlib, json, sys, tempfile, warnings
    import numpy as np
    import torch
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)

    def digest(*arrays):
        h = hashlib.sha256()
        for a in arrays:
            a = np.ascontiguousarray(a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a))
            h.update(f"{a.dtype}{a.shape}".encode())
            h.update(a.tobytes())
        return h.hexdigest()

    def ridge_pipeline(seed):
        from cbreservoir.nodes import Cerebellum, Reservoir, Ridge
        from cbreservoir.tasks.nonlinear_memory import nonlinear_memory_task
        u, y = nonlinear_memory_task(8, 60, seed=seed)
        model = Reservoir(30, lr=0.5, sr=0.9, seed=seed) >> Cerebellum(64, seed=seed + 1) >> Ridge(1e-4)
        model.fit(u[:6], y[:6], warmup=5)
        return digest(model.run(u[6:]))

    def small_model(seed):
        from cbreservoir.models import build_model
        return build_model("cbrnn", input_dim=1, units=6, n_granule=16, n_purkinje=4, seed=seed)

    def gradient_training(seed):
        from cbreservoir.tasks import make_batch
        from cbreservoir.training import GradientTrainer
        trainer = GradientTrainer(small_model(seed), seed=seed)
        batches = [make_batch("dms", 3, batch_size=16, seed=seed + step) for step in range(3)]
        losses = [trainer.train_step(*batch) for batch in batches]
        accuracy = trainer.evaluate(*make_batch("dms", 3, batch_size=16, seed=seed + 99))["accuracy"]
        return digest(np.array(losses + [accuracy]), *trainer.model.state_dict().values())

    def ensemble(seed):
        from cbreservoir.tasks import make_batch
        from cbreservoir.training.ensemble import EnsembleTrainer
        trainer = EnsembleTrainer([small_model(seed + i) for i in range(2)], seeds=[seed, seed + 1])
        for step in range(2):
            batches = [make_batch("parity", 2, batch_size=8, seed=seed + 10 * step + i) for i in range(2)]
            trainer.train_step([x for x, _ in batches], [y for _, y in batches])
        return digest(*[v for member in trainer.members for v in member.state_dict().values()])

    def seeded_cell(cell):  # numpy only, so that the loky workers start fast
        draws = np.random.default_rng(cell["seed"]).normal(size=4) * cell["x"]
        return {"draws": draws.tolist()}

    def loky_sweep(seed):
        from cbreservoir.experiments.sweep import run_sweep
        cells = [{"x": x, "seed": seed + x} for x in range(3)]
        with tempfile.TemporaryDirectory() as directory:
            results = run_sweep(
                cells, seeded_cell, output_dir=directory, backend="loky", n_jobs=2, progress=False
            )
        return digest(np.array([r["draws"] for r in results]))

    def dask_sweep(seed):
        import distributed
        from cbreservoir.experiments.sweep import run_sweep
        cells = [{"x": x, "seed": seed + x} for x in range(3)]
        options = dict(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None)
        with tempfile.TemporaryDirectory() as out, distributed.LocalCluster(**options) as cluster:
            where = cluster.scheduler_address
            results = run_sweep(
                cells, seeded_cell, output_dir=out, backend="dask", scheduler=where, progress=False
            )
        return digest(np.array([r["draws"] for r in results]))

    pipelines = [ridge_pipeline, gradient_training, ensemble, loky_sweep, dask_sweep]
    seeds = [int(seed) for seed in sys.argv[1:]]
    print(json.dumps({f.__name__: {str(s): f(s) for s in seeds} for f in pipelines}))
    """
)


def _digests_in_new_process(hash_seed: str, seeds: list[int]) -> subprocess.Popen:
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-c", DIGESTS_SCRIPT, *map(str, seeds)]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    )


def test_same_seed_same_bits_across_processes() -> None:
    processes = [_digests_in_new_process(hash_seed, [3, 4]) for hash_seed in ("1", "2")]
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr[-2000:]
        outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    first, second = outputs
    for pipeline, digests in first.items():
        count(f"determinism: {pipeline}")
        assert digests == second[pipeline], f"{pipeline} differs between processes"
        assert digests["3"] != digests["4"], f"{pipeline} ignores its seed"
    assert first["dask_sweep"] == first["loky_sweep"], "dask and loky sweeps differ"


# ------------------------------------------------------------------------------ state and reset


def _series(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


def test_reservoir_run_continues_from_its_state_and_reset_restarts() -> None:
    core = Reservoir(12, lr=0.6, sr=0.9, seed=0)
    u = _series(40, 2)
    first, second = core.run(u[:15]), core.run(u[15:])
    core.reset()
    np.testing.assert_allclose(np.concatenate([first, second]), core.run(u), rtol=0, atol=1e-13)
    np.testing.assert_array_equal(core.state["out"], second[-1])


def test_batch_series_start_from_the_same_state_and_leave_the_last_final_state() -> None:
    core = Reservoir(12, lr=0.6, sr=0.9, seed=0)
    core.run(_series(7, 2, seed=1))
    start = core.state["out"].copy()
    batch = _series(3, 9, 2, seed=2)
    states = core.run(batch)
    for series, expected in zip(batch, states, strict=True):
        single = Reservoir(12, lr=0.6, sr=0.9, seed=0)
        single.run(_series(7, 2, seed=1))
        np.testing.assert_array_equal(single.state["out"], start)
        np.testing.assert_allclose(single.run(series), expected, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(core.state["out"], states[-1, -1])


def test_ragged_series_each_start_from_the_current_state() -> None:
    core = Reservoir(10, sr=0.9, seed=0)
    series = [_series(length, 2, seed=length) for length in (5, 11, 3)]
    outputs = core.run(series)
    for x, out in zip(series, outputs, strict=True):
        np.testing.assert_allclose(Reservoir(10, sr=0.9, seed=0).run(x), out, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(core.state["out"], outputs[-1][-1])


def test_cerebellum_and_ridge_outputs_do_not_depend_on_earlier_calls() -> None:
    x = _series(6, 3)
    for node in (Cerebellum(16, 4, seed=0), Ridge(1e-3).fit(_series(30, 3, seed=1), _series(30, 2, seed=2))):
        fresh = node.run(x).copy()
        node.run(_series(4, 3, seed=5))
        np.testing.assert_array_equal(node.run(x), fresh)


def test_fit_leaves_the_reservoir_in_the_last_training_state_and_predict_final_resets() -> None:
    reservoir, readout = Reservoir(10, sr=0.9, seed=0), Ridge(1e-4)
    model = reservoir >> readout
    u, y = _series(4, 12, 2), _series(4, 12, 1, seed=1)
    model.fit(u, y)
    np.testing.assert_allclose(
        reservoir.state["out"], Reservoir(10, sr=0.9, seed=0).run(u[-1])[-1], atol=1e-13
    )
    first = predict_final(model, u)
    model.run(_series(5, 2, seed=3))
    np.testing.assert_array_equal(predict_final(model, u), first)


def test_ridge_fit_replaces_the_previous_fit() -> None:
    x_a, y_a, x_b, y_b = (
        _series(30, 3),
        _series(30, 1, seed=1),
        _series(25, 3, seed=2),
        _series(25, 1, seed=3),
    )
    refitted = Ridge(1e-3).fit(x_a, y_a).fit(x_b, y_b)
    fresh = Ridge(1e-3).fit(x_b, y_b)
    np.testing.assert_array_equal(refitted.Wout, fresh.Wout)
    np.testing.assert_array_equal(refitted.bias, fresh.bias)
    streamed = Ridge(1e-3).partial_fit(x_a, y_a).partial_fit(x_b, y_b, reset=True)
    np.testing.assert_allclose(streamed.Wout, fresh.Wout, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["cbrnn", "lstm_cb"])
def test_torch_models_draw_a_fresh_initial_state_per_call_unless_seeded(kind: str) -> None:
    model = build_model(kind, input_dim=1, units=4, seed=0)
    x = torch.ones(2, 5, 1)
    generator = lambda: torch.Generator().manual_seed(7)  # noqa: E731
    assert torch.equal(model(x, generator=generator()), model(x, generator=generator()))
    h0 = model.initial_state(2, generator())
    assert torch.equal(model(x, h0=h0), model(x, h0=h0.clone()))
    assert not torch.equal(
        model(x, generator=generator()), model(x, generator=torch.Generator().manual_seed(8))
    )

"""Faults: damaged checkpoints, diverging curriculum training, sweeps killed at random moments."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cbreservoir.experiments.sweep import BadResultWarning, cell_id, read_result, run_sweep
from cbreservoir.models import build_model
from cbreservoir.numerics.optim import TrainingDivergedError
from cbreservoir.training import CurriculumTrainer, GradientTrainer
from cbreservoir.training.curriculum import LAST_CHECKPOINT, load_checkpoint
from cbreservoir.utils.files import LOCK_NAME
from tests.support import count, same, snapshot

TESTS_DIR = Path(__file__).resolve().parent
CURRICULUM = {"steps_per_epoch": 2, "test_batches": 1, "batch_size": 4, "progress": False}


def _trainer(**kwargs) -> GradientTrainer:
    model = build_model("cbrnn", input_dim=1, units=4, n_granule=8, n_purkinje=4, seed=0)
    return GradientTrainer(model, seed=0, **kwargs)


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("curriculum")
    CurriculumTrainer(_trainer(), "dms", checkpoint_dir=directory, **CURRICULUM).run(1)
    return directory


# ------------------------------------------------------------------------------------ checkpoints


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_a_damaged_curriculum_checkpoint_never_loads_as_something_else(checkpoint_dir: Path, data) -> None:
    """Flipped bytes or a truncation: ``load_checkpoint`` raises ValueError or returns the same content."""
    path = checkpoint_dir / LAST_CHECKPOINT
    raw = bytearray(path.read_bytes())
    if data.draw(st.booleans(), label="truncate"):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1), label="length")]
    else:
        for position in data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=3), label="at"):
            raw[position] ^= data.draw(st.integers(1, 255), label="mask")
    damaged = checkpoint_dir / "damaged.pt"
    damaged.write_bytes(bytes(raw))
    count("load_checkpoint")
    try:
        loaded = load_checkpoint(damaged)
    except ValueError as error:
        assert str(damaged) in str(error)
        return
    assert same(loaded, load_checkpoint(path))


def test_resume_from_a_damaged_checkpoint_is_refused_and_leaves_the_model_alone(tmp_path: Path) -> None:
    CurriculumTrainer(_trainer(), "dms", checkpoint_dir=tmp_path, **CURRICULUM).run(1)
    path = tmp_path / LAST_CHECKPOINT
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    trainer = _trainer()
    before = snapshot(trainer.model)
    count("CurriculumTrainer.run")
    with pytest.raises(ValueError, match=f"checkpoint {path}"):
        CurriculumTrainer(trainer, "dms", checkpoint_dir=tmp_path, **CURRICULUM).run(2)
    assert same(snapshot(trainer.model), before)


# ------------------------------------------------------------------------------------- divergence


def test_a_diverging_curriculum_stops_with_the_last_good_weights_on_disk(tmp_path: Path) -> None:
    """The curriculum raises TrainingDivergedError; the model and last.pt hold the last good weights."""
    trainer = _trainer(learning_rate=1e30, clip_norm=None, momentum=0.0)
    curriculum = CurriculumTrainer(
        trainer, "dms", checkpoint_dir=tmp_path, **{**CURRICULUM, "steps_per_epoch": 1}
    )
    count("CurriculumTrainer.run")
    with pytest.raises(TrainingDivergedError, match="step"):
        curriculum.run(20)
    assert all(torch.isfinite(parameter).all() for parameter in trainer.model.parameters())
    stored = load_checkpoint(tmp_path / LAST_CHECKPOINT)
    assert len(stored["history"]["records"]) == len(curriculum.history) >= 1
    for name, value in stored["trainer"]["model"].items():
        assert torch.equal(value, trainer.model.state_dict()[name]), name


# ------------------------------------------------------------------------------------------ sweeps


#: The run function of the killed sweep; the killed processes define it from this source so that they
#: start without importing torch (this module does).
SLOW_SQUARE = textwrap.dedent(
    """
    import time
    from pathlib import Path
    from cbreservoir.experiments.sweep import cell_id

    def slow_logged_square(cell):
        Path(cell["log"], f"{cell_id(cell)}-{time.monotonic_ns()}").touch()
        time.sleep(cell["sleep"])
        return {"value": cell["x"] ** 2}
    """
)


def _calls(log: Path) -> list[str]:
    """Cell ids of every call of ``slow_logged_square`` so far (one per started run)."""
    return [path.name.split("-")[0] for path in log.iterdir()]


def test_a_sweep_killed_at_random_moments_loses_no_finished_run(tmp_path: Path) -> None:
    log, out = tmp_path / "log", tmp_path / "out"
    log.mkdir()
    cells = [{"x": x, "log": str(log), "sleep": 0.05} for x in range(24)]  # more than 3 kills can finish
    script = SLOW_SQUARE + textwrap.dedent(
        f"""
        from cbreservoir.experiments.sweep import run_sweep
        print("ready", flush=True)
        run_sweep(
            {cells!r}, slow_logged_square, output_dir={str(out)!r}, backend="sequential", progress=False
        )
        """
    )
    moments = random.Random(0)
    finished: set[str] = set()
    for _ in range(3):
        process = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        try:
            assert process.stdout.readline().strip() == "ready"
            time.sleep(moments.uniform(0.05, 0.3))
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            process.stdout.close()
        now_finished = {cell_id(cell) for cell in cells if read_result(out, cell) is not None}
        assert finished <= now_finished, "a finished run was lost"
        finished = now_finished
        count("run_sweep (kill -9)")
    assert len(finished) < len(cells)
    calls_before = _calls(log)
    namespace: dict = {}
    exec(SLOW_SQUARE, namespace)

    results = run_sweep(
        cells, namespace["slow_logged_square"], output_dir=out, backend="sequential", progress=False
    )

    assert results == [{"value": cell["x"] ** 2} for cell in cells]
    calls_after = _calls(log)
    rerun = {
        identifier
        for identifier in set(calls_after)
        if calls_after.count(identifier) > calls_before.count(identifier)
    }
    assert rerun == {cell_id(cell) for cell in cells} - finished, (
        "a finished run ran again, or a pending one did not"
    )
    leftovers = [path for path in out.iterdir() if path.suffix != ".json" and not path.name.endswith(".tmp")]
    assert [path.name for path in leftovers] == [LOCK_NAME]  # the free lock file stays


def test_a_half_written_result_file_is_not_accepted(tmp_path: Path) -> None:
    cells = [{"x": x} for x in range(3)]
    run_sweep(cells, _square, output_dir=tmp_path, backend="sequential", progress=False)
    path = tmp_path / f"{cell_id(cells[1])}.json"
    text = path.read_text()
    for cut in np.linspace(1, len(text) - 1, 6).astype(int):
        path.write_text(text[:cut])
        count("read_result")
        assert read_result(tmp_path, cells[1]) is None
    with pytest.warns(BadResultWarning):
        assert run_sweep(cells, _square, output_dir=tmp_path, backend="sequential", progress=False)[1] == {
            "value": 1
        }


def _square(cell: dict) -> dict:
    return {"value": cell["x"] ** 2}

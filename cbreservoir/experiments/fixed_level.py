"""Fixed-level ensemble training: the ``cbreservoir train --ensemble E`` entry point.

Examples
--------
>>> result = train_fixed_level("cbrnn", "dms", n=3, steps=2, ensemble=2, test_batches=1)
>>> len(result["accuracy"])
2
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from cbreservoir.numerics.study import STUDY
from cbreservoir.training.ensemble.trainer import EnsembleTrainer
from cbreservoir.training.trainer import resolve_device
from cbreservoir.utils.checks import check_choice, check_positive_int


def train_fixed_level(
    model: str = "cbrnn",
    task: str = "dms",
    n: int = 5,
    steps: int = 200,
    ensemble: int = 8,
    seed: int = 0,
    batch_size: int = STUDY.batch_size,
    test_batches: int = 10,
    device: str | torch.device = "cpu",
    progress: bool = False,
    **trainer_kwargs: Any,
) -> dict[str, Any]:
    """Train ``ensemble`` independent networks at task level ``n`` for ``steps`` updates, as one batch.

    Member i is ``build_model(model, seed=seed + i)`` trained by ``GradientTrainer(..., seed=seed + i)``
    (the study's optimiser unless ``trainer_kwargs`` say otherwise) on its own batches from
    ``make_batch(task, n, batch_size=batch_size, seed=numpy.random.default_rng(seed + i))``, then tested on
    ``test_batches`` further batches of that stream.

    Parameters
    ----------
    model : {"cbrnn", "rnn"}
        The paper's CB-RNN (H = 64, G = 256, P = 64) or the RNN-only baseline with the hidden size that
        matches its parameter count (H = 202 for one input and two classes).
    task : {"dms", "parity", "mod3"}
    n : int
        Task level N.
    steps : int
        Training updates.
    ensemble : int
        Number of members E.
    seed : int
    batch_size : int
    test_batches : int
    device : str or torch.device
    progress : bool
        Show a tqdm bar over the updates.
    **trainer_kwargs
        Further :class:`GradientTrainer` arguments.

    Returns
    -------
    dict
        ``model``, ``task``, ``n``, ``steps``, ``ensemble``, ``seed``, ``batch_size``, ``units``,
        ``parameters`` (per member), ``seeds``, ``accuracy`` and ``test_loss`` (lists, one per member),
        ``final_train_loss`` (list), ``seconds`` (training time), ``updates_per_second`` (ensemble updates)
        and ``member_updates_per_second`` (E × updates per second).
    """
    from cbreservoir.models import build_model, count_parameters, match_units
    from cbreservoir.tasks import N_CLASSES, make_batch, task_spec

    check_choice(task, "task", allowed=sorted(N_CLASSES))
    for name, value in [
        ("steps", steps),
        ("ensemble", ensemble),
        ("batch_size", batch_size),
        ("test_batches", test_batches),
    ]:
        check_positive_int(value, name)
    spec = task_spec(task)
    architecture = {"input_dim": spec.input_size, "n_classes": spec.n_classes}
    if model == "rnn":
        reference = count_parameters(build_model("cbrnn", **architecture))
        architecture["units"] = match_units(reference, kind="rnn", **architecture)
    elif model != "cbrnn":
        raise ValueError(f"model must be 'cbrnn' or 'rnn', got {model!r}")
    device = resolve_device(device)
    seeds = [seed + member for member in range(ensemble)]
    members = [build_model(model, seed=member_seed, **architecture).to(device) for member_seed in seeds]
    trainer = EnsembleTrainer(members, seeds=seeds, device=device, **trainer_kwargs)
    rngs = [np.random.default_rng(member_seed) for member_seed in seeds]

    def draw() -> tuple[list[np.ndarray], list[np.ndarray]]:
        batches = [make_batch(task, n, batch_size=batch_size, seed=rng) for rng in rngs]
        return [x for x, _ in batches], [y for _, y in batches]

    start = time.perf_counter()
    for _ in tqdm(range(steps), disable=not progress, unit="update"):
        losses = trainer.train_step(*draw())
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    tests = [trainer.evaluate(*draw()) for _ in range(test_batches)]
    return {
        "model": model,
        "task": task,
        "n": n,
        "steps": steps,
        "ensemble": ensemble,
        "seed": seed,
        "batch_size": batch_size,
        "units": members[0].units,
        "parameters": count_parameters(members[0]),
        "seeds": seeds,
        "accuracy": [float(np.mean([test[i]["accuracy"] for test in tests])) for i in range(ensemble)],
        "test_loss": [float(np.mean([test[i]["loss"] for test in tests])) for i in range(ensemble)],
        "final_train_loss": losses,
        "seconds": seconds,
        "updates_per_second": steps / seconds,
        "member_updates_per_second": steps * ensemble / seconds,
    }

"""Training rows: one update of E CB-RNNs as an EnsembleTrainer against the plain per-network PyTorch loop
(:mod:`cbreservoir.experiments.reference`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cbreservoir.experiments import reference
from cbreservoir.experiments.bench._timing import (
    BenchRow,
    device_synchronizer,
    time_alternating,
)
from cbreservoir.numerics.study import STUDY


def bench_ensemble_update(
    n_members: int = 8,
    n: int = 5,
    batch_size: int = STUDY.batch_size,
    steps: int = 20,
    shared_data: bool = True,
    repeat: int = 3,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> BenchRow:
    """Seconds per training update of ``n_members`` CB-RNNs (DMS level ``n``): ensemble vs reference loop.

    Both sides train on the same batches with the study's optimiser; the ``steps`` updates are timed
    ``repeat`` times, alternating the sides, and the medians are reported. With ``shared_data`` every
    member gets the same batch at a step (one length, no padding); otherwise each member draws its own
    batches (independent lengths: the ensemble left-pads and masks).

    Returns
    -------
    BenchRow
        Target 4×; notes hold the mean sequence length and the ensemble's member updates per second.
    """
    from cbreservoir.models import CBRNN
    from cbreservoir.tasks import make_batch
    from cbreservoir.training.ensemble import EnsembleTrainer

    device = torch.device(device)
    seeds = [seed + member for member in range(n_members)]
    rngs = [np.random.default_rng(seed if shared_data else member_seed) for member_seed in seeds]
    batches = []
    for _ in range(steps + 1):  # the first update of each side is an untimed warm-up
        drawn = [make_batch("dms", n, batch_size=batch_size, seed=rngs[0])] * n_members if shared_data else []
        drawn = drawn or [make_batch("dms", n, batch_size=batch_size, seed=rng) for rng in rngs]
        batches.append([(torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)) for x, y in drawn])

    ensemble = EnsembleTrainer([CBRNN(1, seed=s).to(device) for s in seeds], seeds=seeds, device=device)
    last_losses: dict[str, list[float]] = {}

    def ensemble_updates(steps_batches: list) -> None:
        for drawn in steps_batches:
            last_losses["ensemble"] = ensemble.train_step([x for x, _ in drawn], [y for _, y in drawn])

    networks = [reference.ReferenceCBRNN(seed=s).to(device) for s in seeds]
    optimizers = [reference.make_optimizer(network) for network in networks]
    generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]

    def reference_updates(steps_batches: list) -> None:
        last_losses["reference"] = [
            [reference.train_step(network, optimizer, *drawn[member], generator) for drawn in steps_batches][
                -1
            ]
            for member, (network, optimizer, generator) in enumerate(
                zip(networks, optimizers, generators, strict=True)
            )
        ]

    sides = {"ensemble": ensemble_updates, "reference": reference_updates}
    for updates in sides.values():
        updates(batches[:1])
    timings = time_alternating(
        {name: lambda updates=updates: updates(batches[1:]) for name, updates in sides.items()},
        repeat=repeat,
        synchronize=device_synchronizer(device),
    )
    # both sides train the same networks (same seeds, same initialisation) on the same data
    loss_difference = float(np.max(np.abs(np.subtract(last_losses["ensemble"], last_losses["reference"]))))
    seconds = timings["ensemble"] / steps
    data = "same batch for all members" if shared_data else "own batches per member, lengths differ"
    return BenchRow(
        operation=f"train update of {n_members} CB-RNNs, DMS N={n}, batch {batch_size} ({data})",
        cbreservoir_seconds=seconds,
        peer_seconds=timings["reference"] / steps,
        peer="reference loop (cbreservoir.experiments.reference), one network after another",
        target=4.0,
        notes={
            "mean_length": float(np.mean([x.shape[1] for drawn in batches[1:] for x, _ in drawn])),
            "member_updates_per_second": n_members / seconds,
            "max_final_loss_diff_vs_peer": loss_difference,
        },
    )


def bench_training_rows(sizes: dict[str, Any], *, device: str | torch.device = "cpu") -> list[BenchRow]:
    """The training rows of the table: :func:`bench_ensemble_update` with one batch for all members and
    with each member's own batches (``sizes``: its keyword arguments)."""
    return [
        bench_ensemble_update(**sizes, device=device),
        bench_ensemble_update(**sizes, shared_data=False, device=device),
    ]

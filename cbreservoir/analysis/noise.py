"""Robustness to noise: test accuracy of trained networks against a noise level, cerebellum on and off.

:func:`noise_accuracy` tests one network at one curriculum level N under increasing levels of one kind of
noise (:class:`~cbreservoir.models.Noise`: input bit flips, Gaussian noise on the cortical state or on the
cerebellar output), each level on the same test batches and from the same seed, with the cerebellum on
and switched off (:func:`~cbreservoir.analysis.ablation.ablate_cerebellum`). :func:`noise_curves` pools
networks: mean accuracy per noise level with a 95 % t-interval over networks.

Examples
--------
>>> from cbreservoir.models import CBRNN
>>> model = CBRNN(1, units=16, n_granule=32, n_purkinje=8, seed=0)
>>> rows = noise_accuracy(model, "dms", level=2, kind="state", noise_levels=[0.0, 0.5], n_batches=2)
>>> [sorted(row) for row in rows][0]
['ablated', 'intact', 'noise']
>>> curves = noise_curves([rows, rows])
>>> curves["intact"]["mean"] == [row["intact"] for row in rows]
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy import stats
from torch import nn

from cbreservoir.analysis.ablation import ablate_cerebellum
from cbreservoir.analysis.activity import seeded_generator
from cbreservoir.models.noise import NOISE_KINDS, Noise
from cbreservoir.numerics.study import STUDY
from cbreservoir.tasks import N_CLASSES, make_batch
from cbreservoir.utils.checks import check_choice, check_positive_int

__all__ = ["noise_accuracy", "noise_curves"]


@torch.no_grad()
def _noisy_accuracy(model: nn.Module, batches: list, noise: Noise, seed: int) -> float:
    """Mean accuracy over ``batches``; initial states and noise drawn from one generator seeded ``seed``."""
    generator = seeded_generator(model, seed)
    correct = total = 0
    for x, y in batches:
        predictions = model(x, generator=generator, noise=noise).argmax(dim=-1).cpu().numpy()
        correct += int(np.sum(predictions == y))
        total += y.size
    return correct / total


def noise_accuracy(
    model: nn.Module,
    task: str,
    *,
    level: int,
    kind: str,
    noise_levels: Sequence[float],
    n_batches: int = 20,
    batch_size: int = STUDY.batch_size,
    seed: int = 0,
) -> list[dict[str, float | None]]:
    """Test accuracy of ``model`` at task level ``level`` under each noise level, cerebellum on and off.

    Parameters
    ----------
    model : RecurrentNetwork
        A single-head model of a :data:`~cbreservoir.tasks.N_CLASSES` task.
    task : str
        ``"dms"``, ``"parity"`` or ``"mod3"``.
    level : int
        The task level N of the test batches.
    kind : str
        ``"input_flip"``, ``"state"`` or ``"cerebellum"`` (:data:`~cbreservoir.models.noise.NOISE_KINDS`).
    noise_levels : sequence of float
        Flip probabilities or standard deviations; 0 gives the clean accuracy.
    n_batches, batch_size : int
        The test batches, drawn once from ``seed`` and N and shared by every noise level.
    seed : int
        Seeds the test batches and (per noise level, afresh) the initial states and noise draws.

    Returns
    -------
    list of dict
        One ``{"noise", "intact", "ablated"}`` per noise level (``ablated`` None for a model without a
        cerebellum).

    Raises
    ------
    ValueError
        Not a single-head task or model, an unknown kind, a bad level or count.
    """
    if task not in N_CLASSES or len(model.readouts) != 1:
        raise ValueError(
            f"task must be a single-head task among {sorted(N_CLASSES)} for a one-head model, got {task!r} "
            f"with {len(model.readouts)} heads"
        )
    check_choice(kind, "kind", allowed=NOISE_KINDS)
    noises = [Noise.of(kind, value) for value in noise_levels]
    check_positive_int(n_batches, "n_batches")
    check_positive_int(batch_size, "batch_size")
    rng = np.random.default_rng([seed, level])
    batches = [make_batch(task, level, batch_size=batch_size, seed=rng) for _ in range(n_batches)]
    has_cerebellum = model.bias_module is not None
    rows = []
    for noise in noises:
        intact = _noisy_accuracy(model, batches, noise, seed)
        ablated = None
        if has_cerebellum:
            with ablate_cerebellum(model):
                ablated = _noisy_accuracy(model, batches, noise, seed)
        rows.append({"noise": getattr(noise, kind), "intact": intact, "ablated": ablated})
    return rows


def noise_curves(networks: Sequence[Sequence[dict]], confidence: float = 0.95) -> dict[str, dict | None]:
    """Pool :func:`noise_accuracy` rows of several networks (same noise levels) into curves with intervals.

    Parameters
    ----------
    networks : sequence of row lists
        One :func:`noise_accuracy` result per network.
    confidence : float
        Level of the t-interval of the mean over networks.

    Returns
    -------
    dict
        ``noise`` (the levels), ``n`` (networks), and for ``"intact"`` and ``"ablated"`` (None when the
        networks have no cerebellum): ``mean``, ``low``, ``high`` per level (``low = high = mean`` for one
        network).

    Raises
    ------
    ValueError
        No networks, or networks tested at different noise levels.
    """
    if not networks:
        raise ValueError("networks must hold at least one network's rows, got none")
    noise = [row["noise"] for row in networks[0]]
    if any([row["noise"] for row in rows] != noise for rows in networks):
        raise ValueError(f"every network must be tested at the noise levels {noise}")
    result: dict = {"noise": noise, "n": len(networks)}
    for key in ("intact", "ablated"):
        values = np.array([[row[key] for row in rows] for rows in networks], dtype=object)
        if any(value is None for value in values.ravel()):
            result[key] = None
            continue
        values = values.astype(float)
        mean = values.mean(axis=0)
        if len(networks) > 1:
            sem = values.std(axis=0, ddof=1) / np.sqrt(len(networks))
            half = stats.t.ppf(0.5 + confidence / 2, len(networks) - 1) * sem
        else:
            half = np.zeros_like(mean)
        result[key] = {"mean": mean.tolist(), "low": (mean - half).tolist(), "high": (mean + half).tolist()}
    return result

"""The compute of a reproduction run: multiply-adds per epoch, to half of the global max N, what trains.

An epoch of the curriculum is ``steps_per_epoch`` updates and ``test_batches`` evaluations (of each task in
the continual plan) at its level N, every batch of ``batch_size`` sequences of one length
M ~ U{N + 2, …, 4N + 1}. The multiply-adds of a batch are affine in M (:mod:`cbreservoir.models.compute`),
so an epoch's expected count is that of the mean length: the mean of the shortest and the longest. What
learns in an update follows the run's schedule epoch by epoch (:func:`~cbreservoir.training.schedules.replay`:
an adaptive schedule's decisions included). FLOPs are twice the multiply-adds (the convention of
``torch.utils.flop_counter``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

__all__ = ["run_compute", "schedule_epochs"]

#: Model settings under the names older records use.
_RENAMED = {"input_size": "input_dim", "hidden_size": "units"}


def _record_model(record: Mapping[str, Any]) -> Any:
    from cbreservoir.models import build_model

    config = {_RENAMED.get(key, key): value for key, value in record["model_config"].items()}
    if isinstance(config.get("n_classes"), list):  # JSON holds the heads' tuple as a list
        config["n_classes"] = tuple(config["n_classes"])
    return build_model(**config)


def schedule_epochs(task: str, epochs: Sequence[tuple[int, bool, float]]) -> list[tuple[int, bool, float]]:
    """``(level, solved, test_loss)`` of every epoch with the level the run's schedule saw.

    The curriculum's level, except in the continual plan, whose schedule sees the warm-up level until the
    first criterion (:func:`~cbreservoir.training.continual.plasticity_levels`). What
    :func:`~cbreservoir.training.schedules.replay` needs.
    """
    if task != "continual":
        return list(epochs)
    from cbreservoir.training.continual import plasticity_levels

    seen = plasticity_levels(epochs[0][0], [solved for _, solved, _ in epochs]) if epochs else []
    return [(level, solved, loss) for level, (_, solved, loss) in zip(seen, epochs, strict=True)]


def run_compute(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a run computed, epoch by epoch, and what learned.

    Parameters
    ----------
    record : mapping
        A :func:`~cbreservoir.experiments.reproduce.run.run_cell` record (``model_config``, ``condition``,
        ``task``, ``profile``, ``history``).

    Returns
    -------
    dict or None
        ``epoch_multiply_adds`` (expected multiply-adds of each epoch: its updates and test batches),
        ``core_learned`` (per epoch, whether the core's recurrent weights learned in it:
        :func:`~cbreservoir.training.schedules.core_recurrent_learns`) and ``learning_parameters``
        (``{"first_level": ..., "afterwards": ...}``: parameters that learn at the first level and at the
        next, an adaptive schedule's while its core is frozen); None for the feedforward condition (its
        readout is solved in closed form; its record has ``parameter_counts``).
    """
    from cbreservoir.experiments.reproduce.conditions import CONDITIONS, build_condition_schedule
    from cbreservoir.models.compute import multiply_adds
    from cbreservoir.tasks import length_range
    from cbreservoir.training.schedules import (
        core_recurrent_learns,
        frozen_parameters,
        learning_parts,
        replay,
    )

    if CONDITIONS[record["condition"]].feedforward:
        return None
    model = _record_model(record)
    profile = record["profile"]
    batch = profile["batch_size"]
    schedule = build_condition_schedule(record["condition"], record["task"])
    records = record["history"]["records"]
    epochs = [(entry["level"], entry["solved"], entry["test_loss"]) for entry in records]
    groups = replay(schedule, schedule_epochs(record["task"], epochs))
    tested_heads = len(model.head_sizes) if record["task"] == "continual" else 1  # each task's test batches

    @cache
    def cost(level: int, learns: tuple[tuple[str, bool], ...], head: int | None) -> float:
        lengths = length_range(level)
        update = sum(multiply_adds(model, batch, m, dict(learns), head).total for m in lengths) / 2
        test = sum(multiply_adds(model, batch, m).total for m in lengths) / 2
        return profile["steps_per_epoch"] * update + tested_heads * profile["test_batches"] * test

    sizes = {name: parameter.numel() for name, parameter in model.named_parameters()}
    first = profile["start_level"]
    return {
        "epoch_multiply_adds": [
            cost(int(level), tuple(sorted(learning_parts(learning).items())), entry.get("active_head"))
            for (level, _, _), learning, entry in zip(epochs, groups, records, strict=True)
        ],
        "core_learned": [core_recurrent_learns(learning) for learning in groups],
        "learning_parameters": {
            key: sum(sizes.values()) - sum(sizes[name] for name in frozen_parameters(model, schedule, level))
            for key, level in (("first_level", first), ("afterwards", first + 1))
        },
    }

"""Curriculum checkpoints of earlier releases: the legacy reader and the converter of the one migration path.

Before format version 4 (:data:`cbreservoir.utils.fileformat.VERSIONS`) a checkpoint was a
``torch.save`` file whose ``"format"`` field said its version (3: models reading ``[h ; x]``, format
version 2; 4: ``[x ; h]``, format version 3) and whose ``"sha256"`` field held
:func:`~cbreservoir.utils.files.content_sha256` of the rest. :func:`read_legacy_checkpoint` reads one
(``weights_only=True``: data only) and checks that digest; :func:`cbreservoir.utils.fileformat.migrate`
then brings it to the current version.

The converter from format version 2 (registered for the object type :data:`CHECKPOINT`): format 2
models read ``[h_{t−1} ; x_t]``; later ones read ``[x_t ; h_{t−1}]``
(:data:`cbreservoir.numerics.network.MOSSY_ORDER`).
Every GradientTrainer state inside a checkpoint's trainer state (a solo trainer, a feedforward learner's
core trainer) gets the H state columns of its mossy-fibre weights moved last, and so do those parameters'
optimizer state tensors (momentum, Adam's moments), so the run continues exactly as it would have.

The converter from format version 4: the optimiser states inside the trainer state hold the learning rate
as ``learning_rate`` (:func:`cbreservoir.utils.fileformat.optimizer_states`), as version 5 writes them;
:func:`cbreservoir.training.curriculum.load_checkpoint` gives them back under torch's ``lr``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from cbreservoir.models.blocks import state_columns_last
from cbreservoir.numerics.network import MOSSY_WEIGHT_KEYS
from cbreservoir.utils.fileformat import optimizer_states, register_migration
from cbreservoir.utils.files import content_sha256

__all__ = ["CHECKPOINT", "mossy_inputs_first", "read_legacy_checkpoint"]

#: The object type of curriculum checkpoints in the one file format.
CHECKPOINT = "checkpoint"
#: The ``"format"`` field of a ``torch.save`` checkpoint, and the format version it corresponds to.
_LEGACY_VERSIONS = {3: 2, 4: 3}

#: RecurrentAuxRNN's input layer under its module's name before ``auxiliary`` (renamed here, so that the
#: model's load hook, which also reorders the columns of such old keys, does not run on converted ones).
_OLD_AUXILIARY = "cerebellum.recurrent.input_layer.weight"
#: Keys of the core's input weights (H·gates, d), by core: leaky, then gated.
_INPUT_WEIGHTS = ("core.input_layer.weight", "core.cell.weight_ih")


def mossy_inputs_first(state: Any) -> Any:
    """``state`` (a checkpoint's trainer state) with every GradientTrainer state inside it converted.

    Raises
    ------
    ValueError
        A trainer state whose optimizer does not list one parameter per model tensor (nothing to map
        its moments by).
    """
    if isinstance(state, Mapping):
        if isinstance(state.get("model"), Mapping) and isinstance(state.get("optimizer"), Mapping):
            return {**state, **_trainer_state(state["model"], state["optimizer"])}
        return {key: mossy_inputs_first(value) for key, value in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(mossy_inputs_first(value) for value in state)
    return state


def _trainer_state(model: Mapping[str, Any], optimizer: Mapping[str, Any]) -> dict[str, Any]:
    """``{"model": ..., "optimizer": ...}`` of one GradientTrainer state, mossy-fibre columns moved."""
    if _OLD_AUXILIARY in model:  # keys in the same order: the optimizer's indices follow it
        model = {
            "auxiliary." + key.removeprefix("cerebellum.") if key.startswith("cerebellum.") else key: value
            for key, value in model.items()
        }
    n_inputs = next((model[key].shape[1] for key in _INPUT_WEIGHTS if key in model), None)
    moved = [key for key in MOSSY_WEIGHT_KEYS if n_inputs is not None and key in model]
    if not moved:
        return {"model": model, "optimizer": optimizer}
    indices = [index for group in optimizer["param_groups"] for index in group["params"]]
    if len(indices) != len(model):
        raise ValueError(
            f"cannot convert the trainer state: its optimizer lists {len(indices)} parameters, its model "
            f"{len(model)} tensors"
        )
    by_key = dict(zip(model, indices, strict=True))  # the trainer's groups follow the model's order
    model, states = dict(model), dict(optimizer["state"])
    for key in moved:
        units = model[key].shape[1] - n_inputs
        model[key] = state_columns_last(model[key], units)
        entry = states.get(by_key[key], {})
        states[by_key[key]] = {
            name: state_columns_last(value, units)
            if isinstance(value, torch.Tensor) and value.shape == model[key].shape
            else value
            for name, value in entry.items()
        }
    return {"model": model, "optimizer": {**optimizer, "state": states}}


def _converted_from_version_2(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "trainer": mossy_inputs_first(payload["trainer"])}


def _converted_from_version_4(payload: dict[str, Any]) -> dict[str, Any]:
    return optimizer_states(payload, to_file=True)


register_migration(CHECKPOINT, 2, _converted_from_version_2)
register_migration(CHECKPOINT, 4, _converted_from_version_4)


def read_legacy_checkpoint(path: str | os.PathLike[str]) -> tuple[int, dict[str, Any]]:
    """``(format version, payload)`` of a ``torch.save`` checkpoint, its digest checked.

    Raises
    ------
    ValueError
        The file is unreadable, not a checkpoint of format 3 or 4 (a format 2 one is refused with advice),
        or its content does not match its digest.
    """
    try:
        payload = torch.load(path, weights_only=True)
    except Exception as error:  # torch's zip and unpickling readers fail in many ways on damaged bytes
        raise ValueError(f"checkpoint {path} is unreadable (truncated or corrupted?): {error!r}") from error
    stored = payload.pop("sha256", None) if isinstance(payload, dict) else None
    old = payload.get("format") if stored is not None else None
    if type(old) is int and old < min(_LEGACY_VERSIONS):
        raise ValueError(
            f"{path} is a curriculum checkpoint of the older format {old}, which does not record the run's "
            "settings (later ones do); delete its directory to start the run over"
        )
    if stored is None or type(old) is not int or old not in _LEGACY_VERSIONS:
        raise ValueError(f"{path} is not a curriculum checkpoint")
    try:
        digest = content_sha256(payload)
    except (TypeError, ValueError) as error:  # content that no checkpoint writer produces
        raise ValueError(f"checkpoint {path} holds content of unexpected types: {error}") from error
    if stored != digest:
        raise ValueError(f"checkpoint {path} is corrupted: its content does not match its sha256 digest")
    return _LEGACY_VERSIONS[old], {key: value for key, value in payload.items() if key != "format"}

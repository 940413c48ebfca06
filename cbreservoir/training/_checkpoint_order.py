"""Curriculum checkpoints of format 3 in format 4: mossy-fibre weight columns ``[h ; x]`` -> ``[x ; h]``.

Format 3 models read ``[h_{t−1} ; x_t]``; format 4 models read ``[x_t ; h_{t−1}]``
(:data:`cbreservoir.numerics.network.MOSSY_ORDER`). Every GradientTrainer state inside a checkpoint's
trainer state (a solo trainer, a feedforward learner's core trainer) gets the H state columns of its
mossy-fibre weights moved last, and so do those parameters' optimizer state tensors (momentum, Adam's
moments), so the run continues exactly as it would have.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from cbreservoir.models.blocks import state_columns_last
from cbreservoir.numerics.network import MOSSY_WEIGHT_KEYS

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

"""Reading version 2 files: the old vocabulary and the old mossy-fibre column order, converted as they load.

Version 2 wrote the torch models' configs with ``hidden_size`` / ``input_size``, stored RecurrentAuxRNN's
auxiliary RNN under ``cerebellum.*``, and kept the mossy-fibre weights' columns as ``[h ; x]``. Version 3
uses the one specification of :mod:`cbreservoir.numerics.network`. The conversion is quiet (no deprecation
warning): the file, not the user, holds the old names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cbreservoir.numerics.network import MOSSY_WEIGHT_KEYS

__all__ = ["mossy_weight_keys", "move_state_columns_last", "version_2_model"]

#: Model config keys of version 2 files and their names since version 3.
_RENAMED_CONFIG_KEYS = {"hidden_size": "units", "input_size": "input_dim"}


def version_2_model(config: dict, node: dict) -> tuple[dict, dict]:
    """A version 2 model entry in version 3 names: config keys, and RecurrentAuxRNN's ``auxiliary.*`` keys.

    The weights' columns move later, in :func:`move_state_columns_last`, once the whole payload (and so
    every optimizer and ensemble holding them) is decoded.

    Parameters
    ----------
    config : dict
        The model's decoded config.
    node : dict
        The model's payload entry (``state_dict``, ``parameters``, ``frozen`` are renamed).

    Returns
    -------
    (dict, dict)
        The config and the entry in version 3 names; the inputs are not modified.
    """
    config = {_RENAMED_CONFIG_KEYS.get(key, key): value for key, value in config.items()}
    if config.get("kind") != "rnn_aux":
        return config, node

    def renamed(key: object) -> object:
        old = isinstance(key, str) and key.startswith("cerebellum.")
        return "auxiliary." + key.removeprefix("cerebellum.") if old else key

    node = dict(node)
    for field in ("state_dict", "parameters"):
        if type(node.get(field)) is dict:
            node[field] = {renamed(key): value for key, value in node[field].items()}
    if type(node.get("frozen")) is list:
        node["frozen"] = [renamed(key) for key in node["frozen"]]
    return config, node


def mossy_weight_keys(state_dict: dict) -> list[str]:
    """The keys of ``state_dict`` whose weights read the mossy fibres (their columns move on loading)."""
    return [key for key in MOSSY_WEIGHT_KEYS if key in state_dict]


def move_state_columns_last(models: Sequence[tuple[Any, list[str]]], holders: Sequence[Any]) -> None:
    """Move, in place, the H state columns of a version 2 file's mossy-fibre weights last.

    Each weight (columns ``[h ; x]``) moves once per tensor object, whichever entry held it, and so do an
    ensemble's stacked copies and the optimizer state tensors of those weights (Adam's moments, SGD's
    momentum), so that training continues as it would have.

    Parameters
    ----------
    models : sequence of (model, list of str)
        The decoded models and the state-dict keys of their mossy-fibre weights.
    holders : sequence
        Every decoded optimizer and ensemble trainer (other objects are ignored).
    """
    if not models:
        return
    import torch

    from cbreservoir.models.blocks import state_columns_last
    from cbreservoir.training.ensemble import EnsembleTrainer

    optimizers = [obj for obj in holders if isinstance(obj, torch.optim.Optimizer)]
    weights = [  # (weight, H): the models' parameters, and an ensemble's stacked copies (E, n, H + d)
        (model.get_parameter(key), model.units) for model, keys in models for key in keys
    ]
    for ensemble in (obj for obj in holders if isinstance(obj, EnsembleTrainer)):
        units = ensemble.trainers[0].model.units
        weights += [(ensemble._params[key], units) for key in mossy_weight_keys(ensemble._params)]
    done: set[int] = set()
    with torch.no_grad():
        for weight, units in weights:
            if id(weight) in done:  # one parameter object held by several entries moves once
                continue
            done.add(id(weight))
            tensors = [weight]
            for optimizer in optimizers:
                state = optimizer.state.get(weight, {})
                tensors += [
                    value
                    for value in state.values()
                    if isinstance(value, torch.Tensor) and value.shape == weight.shape
                ]
            for tensor in tensors:
                tensor.copy_(state_columns_last(tensor, units))

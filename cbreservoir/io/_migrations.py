"""Older files of the objects :mod:`cbreservoir.io` rebuilds, brought to the current version before decoding.

The converters of the one migration path (:func:`cbreservoir.utils.fileformat.migrate`) for the object
types :func:`cbreservoir.io.save` writes (:data:`OBJECT_TYPES`). Each takes the :class:`Contents` read from
a file of one version and returns them as the next version writes them (its payload, a JSON tree, and its
arrays), so that the decoder reads one layout only. A converter changes only entries of the shape the old
version wrote; anything else is left for the decoder, which checks every field, to refuse.
"""

from __future__ import annotations

from typing import Any

from cbreservoir.io._registry import classes, current_class_path
from cbreservoir.utils.fileformat import OPTIMIZER_FIELDS, Contents, register_migration

__all__ = ["OBJECT_TYPES"]

#: The object types of the files :func:`cbreservoir.io.save` writes.
OBJECT_TYPES = ("torch_model", "node", "graph", "estimator", "object")


def _is_optimizer_entry(node: dict) -> bool:
    """True for an ``object`` entry of one of the torch optimisers of the class table."""
    name = node.get("class")
    if node.get("__type__") != "object" or not isinstance(name, str) or not name.startswith("torch.optim."):
        return False
    import torch

    cls = classes().get(current_class_path(name))
    return cls is not None and issubclass(cls, torch.optim.Optimizer)


def _renamed_pairs(entry: Any) -> Any:
    """A ``dict`` entry of an optimiser's hyperparameters with torch's names as version 5 names them."""
    if not (isinstance(entry, dict) and entry.get("__type__") == "dict" and type(entry.get("pairs")) is list):
        return entry
    keys = [pair[0] for pair in entry["pairs"] if type(pair) is list and len(pair) == 2]
    pairs = [
        [OPTIMIZER_FIELDS[pair[0]], pair[1]]
        if type(pair) is list
        and len(pair) == 2
        and pair[0] in OPTIMIZER_FIELDS
        and OPTIMIZER_FIELDS[pair[0]] not in keys
        else pair
        for pair in entry["pairs"]
    ]
    return {**entry, "pairs": pairs}


def _learning_rates_renamed(node: Any) -> Any:
    """The payload ``node`` with every optimiser's ``lr`` (defaults' and groups') as ``learning_rate``."""
    if type(node) is list:
        return [_learning_rates_renamed(item) for item in node]
    if type(node) is not dict:
        return node
    node = {key: _learning_rates_renamed(value) for key, value in node.items()}
    if _is_optimizer_entry(node) and type(node.get("state")) is dict:
        state = dict(node["state"])
        if "defaults" in state:
            state["defaults"] = _renamed_pairs(state["defaults"])
        if type(state.get("param_groups")) is list:
            state["param_groups"] = [_renamed_pairs(group) for group in state["param_groups"]]
        node["state"] = state
    return node


def _converted_from_version_4(contents: Contents) -> Contents:
    contents.header["payload"] = _learning_rates_renamed(contents.header["payload"])
    return contents


for _object_type in OBJECT_TYPES:
    register_migration(_object_type, 4, _converted_from_version_4)

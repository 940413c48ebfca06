"""Older files of the objects :mod:`cbreservoir.io` rebuilds, brought to the current version before decoding.

The converters of the one migration path (:func:`cbreservoir.utils.fileformat.migrate`) for the object
types :func:`cbreservoir.io.save` writes (:data:`OBJECT_TYPES`). Each takes the :class:`Contents` read from
a file of one version and returns them as the next version writes them (its payload, a JSON tree, and its
arrays), so that the decoder reads one layout only. A converter changes only entries of the shape the old
version wrote; anything else is left for the decoder, which checks every field, to refuse.

* Version 2 to 3: torch models' configs said ``hidden_size`` / ``input_size`` (now ``units`` /
  ``input_dim``), RecurrentAuxRNN's auxiliary RNN sat under ``cerebellum.*`` (now ``auxiliary.*``), and the
  mossy-fibre weights' columns read ``[h ; x]`` (now ``[x ; h]``,
  :data:`cbreservoir.numerics.network.MOSSY_ORDER`): the H state columns of each such weight move last,
  and so do those of the tensors holding the same weight elsewhere (a parameter shared with an earlier
  entry, an ensemble's stacked copies) and of the optimiser states of these weights (momentum, Adam's
  moments), so that training continues as it would have. The conversion is quiet: the file, not the
  user, holds the old names.
* Version 4 to 5: optimisers' learning rates, torch's ``lr``, are stored as ``learning_rate``.
"""

from __future__ import annotations

from typing import Any

from cbreservoir.io._registry import classes, current_class_path
from cbreservoir.numerics.network import MOSSY_WEIGHT_KEYS
from cbreservoir.utils.fileformat import OPTIMIZER_FIELDS, Contents, register_migration

__all__ = ["OBJECT_TYPES"]

#: The object types of the files :func:`cbreservoir.io.save` writes.
OBJECT_TYPES = ("torch_model", "node", "graph", "estimator", "object")


#: Model config keys of version 2 files and their names since version 3.
_RENAMED_CONFIG_KEYS = {"hidden_size": "units", "input_size": "input_dim"}
#: The class path of the ensemble trainer, whose stacked copies of the members' weights move too.
_ENSEMBLE = "cbreservoir.training.ensemble.trainer:EnsembleTrainer"


def _walk(node: Any) -> Any:
    """Every JSON object (dict) of a payload, depth first."""
    if type(node) is list:
        for item in node:
            yield from _walk(item)
    elif type(node) is dict:
        yield node
        for value in node.values():
            yield from _walk(value)


def _pairs(entry: Any) -> list:
    """The ``[key, value]`` pairs of a ``dict`` entry (none for anything else)."""
    if isinstance(entry, dict) and entry.get("__type__") == "dict" and type(entry.get("pairs")) is list:
        return [pair for pair in entry["pairs"] if type(pair) is list and len(pair) == 2]
    return []


def _auxiliary(key: Any) -> Any:
    old = isinstance(key, str) and key.startswith("cerebellum.")
    return "auxiliary." + key.removeprefix("cerebellum.") if old else key


def _version_3_model(node: dict) -> dict[str, int]:
    """Rename a version 2 ``torch_model`` entry in place; ``{array key: H}`` of its mossy-fibre weights."""
    config = node.get("config")
    for pair in _pairs(config):
        if isinstance(pair[0], str):
            pair[0] = _RENAMED_CONFIG_KEYS.get(pair[0], pair[0])
    settings = {key: value for key, value in _pairs(config) if isinstance(key, str)}
    if settings.get("kind") == "rnn_aux":
        for field in ("state_dict", "parameters"):
            if type(node.get(field)) is dict:
                node[field] = {_auxiliary(key): value for key, value in node[field].items()}
        if type(node.get("frozen")) is list:
            node["frozen"] = [_auxiliary(key) for key in node["frozen"]]
    units, state_dict = settings.get("units"), node.get("state_dict")
    if type(units) is not int or type(state_dict) is not dict or node.get("meta") is not False:
        return {}
    return {state_dict[key]: units for key in MOSSY_WEIGHT_KEYS if isinstance(state_dict.get(key), str)}


def _converted_from_version_2(contents: Contents) -> Contents:
    """A version 2 file's payload and arrays as version 3 writes them (see the module's docstring)."""
    import torch

    from cbreservoir.models.blocks import state_columns_last

    entries = list(_walk(contents.header["payload"]))
    by_id = {  # the entries that later ``ref`` entries refer to
        entry["id"]: entry
        for entry in entries
        if type(entry.get("id")) is int and entry.get("__type__") != "ref"
    }
    arrays: dict[str, int] = {}  # array key -> H of the weights whose columns move
    weights: dict[int, tuple[int, tuple]] = {}  # id of a tensor holding such a weight -> (H, its shape)

    def shape(key: Any) -> tuple | None:
        return contents.declared[key][1] if isinstance(key, str) and key in contents.declared else None

    def hold(entry: Any, units: int) -> None:
        """A tensor entry holding a moved weight: its array moves, and its optimiser states (by its id)."""
        if isinstance(entry, dict) and entry.get("__type__") == "tensor" and shape(entry.get("key")):
            arrays[entry["key"]] = units
            weights[entry.get("id")] = (units, shape(entry["key"]))

    def resolved(entry: Any) -> dict:
        if isinstance(entry, dict) and entry.get("__type__") == "ref":
            entry = by_id.get(entry.get("id"))
        return entry if isinstance(entry, dict) else {}

    def state(entry: dict) -> dict:
        return entry["state"] if type(entry.get("state")) is dict else {}

    for entry in entries:
        if entry.get("__type__") != "torch_model":
            continue
        moved = _version_3_model(entry)
        arrays.update(moved)
        claims = entry["parameters"] if type(entry.get("parameters")) is dict else {}
        for key in MOSSY_WEIGHT_KEYS:
            stored, claim = entry["state_dict"].get(key) if moved else None, claims.get(key)
            if isinstance(stored, str) and stored in moved and type(claim) is list and len(claim) == 2:
                weights[claim[1]] = (moved[stored], shape(stored))
                if claim[0] == "shared":  # the parameter is an earlier tensor entry's
                    hold(by_id.get(claim[1]), moved[stored])
    for entry in entries:  # an ensemble's stacked copies (E, n, H + d), H of its first member's model
        if entry.get("class") != _ENSEMBLE:
            continue
        trainers = state(entry).get("trainers")
        first = resolved(trainers[0]) if type(trainers) is list and trainers else {}
        model = resolved(state(first).get("model"))
        units = dict(_pairs(model.get("config"))).get("units")
        for key, tensor in _pairs(state(entry).get("_params")) if type(units) is int else ():
            if key in MOSSY_WEIGHT_KEYS:
                hold(tensor, units)
    for entry in entries:  # the optimiser states of the moved weights, tensors of the weight's shape
        if not _is_optimizer_entry(entry):
            continue
        for key, values in _pairs(state(entry).get("state")):
            units, weight_shape = weights.get(key.get("id") if isinstance(key, dict) else None, (0, None))
            for _, value in _pairs(values):
                tensor = isinstance(value, dict) and value.get("__type__") == "tensor"
                if units and tensor and shape(value.get("key")) == weight_shape:
                    arrays[value["key"]] = units
    for key, units in arrays.items():
        columns = state_columns_last(torch.from_numpy(contents.array(key)), units)
        contents.replace_array(key, columns.numpy())
    return contents


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
    register_migration(_object_type, 2, _converted_from_version_2)
    register_migration(_object_type, 4, _converted_from_version_4)

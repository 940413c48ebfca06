"""Building models by name, counting parameters and parameter-matched core sizes."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from cbreservoir.models.base import RecurrentNetwork
from cbreservoir.models.gated import GRUModel, LSTMModel
from cbreservoir.models.leaky import CBRNN, ElmanRNN, RecurrentAuxRNN
from cbreservoir.utils.checks import check_choice, check_positive_int
from cbreservoir.utils.deprecation import renamed_keyword, warn_renamed

#: kind -> (class, fixed keyword arguments)
MODEL_KINDS: dict[str, tuple[type[RecurrentNetwork], dict[str, Any]]] = {
    "cbrnn": (CBRNN, {}),
    "rnn": (ElmanRNN, {}),
    "gru": (GRUModel, {"cerebellum": False}),
    "gru_cb": (GRUModel, {"cerebellum": True}),
    "lstm": (LSTMModel, {"cerebellum": False}),
    "lstm_cb": (LSTMModel, {"cerebellum": True}),
    "rnn_aux": (RecurrentAuxRNN, {}),
}


def build_model(kind: str, **kwargs: Any) -> RecurrentNetwork:
    """Build a model by kind (a :data:`MODEL_KINDS` key).

    Kinds: ``"cbrnn"``, ``"rnn"``, ``"gru"``, ``"gru_cb"``, ``"lstm"``, ``"lstm_cb"``, ``"rnn_aux"``.

    ``build_model(**model.config)`` rebuilds ``model`` (same architecture; same weights when it had a seed).

    Raises
    ------
    ValueError
        If ``kind`` is unknown or a keyword contradicts it (``cerebellum`` with a gated kind).
    """
    check_choice(kind, "kind", allowed=sorted(MODEL_KINDS))
    model_class, fixed = MODEL_KINDS[kind]
    clashes = sorted(set(fixed) & set(kwargs))
    if clashes:
        raise ValueError(f"kind {kind!r} fixes {clashes}; do not pass them, got {kwargs!r}")
    return model_class(**fixed, **kwargs)


def count_parameters(model: nn.Module) -> int:
    """Total number of parameters of ``model`` (all of them, whether a schedule currently freezes some).

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"count_parameters expects a torch.nn.Module, got {type(model).__name__}")
    return sum(parameter.numel() for parameter in model.parameters())


def _parameters_at(kind: str, units: int, input_dim: int, n_classes: Any, extra: dict[str, Any]) -> int:
    with torch.device("meta"):
        model = build_model(kind, input_dim=input_dim, units=units, n_classes=n_classes, **extra)
    return count_parameters(model)


def match_units(
    target_params: int,
    input_dim: int | None = None,
    n_classes: int | tuple[int, ...] = 2,
    kind: str = "rnn",
    **model_kwargs: Any,
) -> int:
    """Core size ``units`` of a ``kind`` model whose total parameter count is closest to ``target_params``.

    Ties go to the smaller size. Example: ``match_units(41922, 1, 2)`` is 202 (41,816 parameters),
    the paper's RNN-only partner of CB-RNN(H=64, G=256, P=64).

    Parameters
    ----------
    target_params : int
    input_dim : int
        d (``input_size`` is its deprecated name).
    n_classes : int or tuple of int
    kind : str
        A :data:`MODEL_KINDS` key.
    **model_kwargs
        Further constructor arguments held fixed (e.g. ``n_granule`` for ``"cbrnn"``).

    Raises
    ------
    TypeError
        ``input_dim`` missing, or given under both names.
    """
    renamed_keyword(model_kwargs, "input_size", "input_dim", "match_units")
    if "input_dim" in model_kwargs:
        if input_dim is not None:
            raise TypeError(
                "match_units got both 'input_size' (deprecated) and 'input_dim'; give only 'input_dim'"
            )
        input_dim = model_kwargs.pop("input_dim")
    if input_dim is None:
        raise TypeError("match_units is missing required argument 'input_dim'")
    target_params = check_positive_int(target_params, "target_params")

    def count(units: int) -> int:
        return _parameters_at(kind, units, input_dim, n_classes, model_kwargs)

    low, high = 1, 1
    while count(high) < target_params:
        low, high = high, high * 2
    while high - low > 1:  # count is increasing in the core size: find the first size reaching the target
        middle = (low + high) // 2
        low, high = (middle, high) if count(middle) < target_params else (low, middle)
    candidates = [size for size in (high - 1, high) if size >= 1]
    return min(candidates, key=lambda size: (abs(count(size) - target_params), size))


def match_hidden_size(*args: Any, **kwargs: Any) -> int:
    """Deprecated name of :func:`match_units` (``FutureWarning``); same arguments and result."""
    warn_renamed("match_hidden_size", "match_units")
    return match_units(*args, **kwargs)

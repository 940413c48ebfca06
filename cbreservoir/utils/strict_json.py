"""Strict-JSON conversion shared by the result files and the command line."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

__all__ = ["json_ready"]


def json_ready(value: Any) -> Any:
    """``value`` as strict JSON: numpy/torch values as lists and numbers, paths as strings, NaN/inf as null.

    Dict keys become strings; lists and tuples become lists. Non-finite floats (e.g. the SEM of a
    single run) become ``None`` so that ``json.dumps(..., allow_nan=False)`` accepts the result.
    """
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return json_ready(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

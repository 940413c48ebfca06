"""Input checks specific to the analysis functions (arrays are converted by ``utils.checks``)."""

from __future__ import annotations

import numpy as np


def check_min_length(array: np.ndarray, axis: int, minimum: int, name: str, what: str) -> None:
    """Raise ``ValueError`` unless ``array.shape[axis] >= minimum``."""
    if array.shape[axis] < minimum:
        raise ValueError(f"{name} needs at least {minimum} {what}, got shape {array.shape}")

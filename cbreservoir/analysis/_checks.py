"""Input checks shared by the analysis functions (arrays in, clear ``ValueError`` out)."""

from __future__ import annotations

import numpy as np
import torch


def as_float_array(values: object, name: str, ndims: tuple[int, ...]) -> np.ndarray:
    """Return ``values`` as a finite float64 ndarray with one of the allowed numbers of dimensions.

    Parameters
    ----------
    values : array-like or torch.Tensor
    name : str
        Argument name used in error messages.
    ndims : tuple of int
        Allowed numbers of dimensions.

    Raises
    ------
    TypeError
        If ``values`` is not numeric.
    ValueError
        If it has the wrong number of dimensions, is empty or holds NaN/inf.
    """
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a numeric array, got {type(values).__name__}") from error
    if array.ndim not in ndims:
        expected = " or ".join(f"{n}-D" for n in ndims)
        raise ValueError(f"{name} must be {expected}, got an array of shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {int(np.sum(~np.isfinite(array)))} NaN/inf values")
    return array


def check_min_length(array: np.ndarray, axis: int, minimum: int, name: str, what: str) -> None:
    """Raise ``ValueError`` unless ``array.shape[axis] >= minimum``."""
    if array.shape[axis] < minimum:
        raise ValueError(f"{name} needs at least {minimum} {what}, got shape {array.shape}")

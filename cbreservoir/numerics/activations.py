"""The activation functions φ of the numpy path, by name (no torch).

reservoirpy's own functions under reservoirpy's names, plus the paper's ``leaky_relu``. The torch table
:data:`cbreservoir.numerics.functional.ACTIVATIONS` holds the same names with equal values (tested), so a
compiled graph computes what a node computes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from reservoirpy import activationsfunc

__all__ = [
    "LEAKY_RELU_SLOPE",
    "NUMPY_ACTIVATIONS",
    "TANH_FUNCTIONS",
    "activation_name",
    "leaky_relu",
    "resolve_activation",
]

#: Negative slope of the paper's LeakyReLU.
LEAKY_RELU_SLOPE = 0.01

Activation = Callable[[np.ndarray], np.ndarray]


def leaky_relu(x: np.ndarray) -> np.ndarray:
    """The paper's LeakyReLU on numpy arrays: ``x`` where ``x > 0``, else ``LEAKY_RELU_SLOPE · x`` (0.01).

    The numpy twin of ``cbreservoir.numerics.functional.ACTIVATIONS["leaky_relu"]`` (tested equal).
    """
    x = np.asarray(x)
    return np.where(x > 0, x, LEAKY_RELU_SLOPE * x)


#: φ by name for the numpy path.
NUMPY_ACTIVATIONS: dict[str, Activation] = {
    "tanh": activationsfunc.tanh,
    "leaky_relu": leaky_relu,
    "relu": activationsfunc.relu,
    "sigmoid": activationsfunc.sigmoid,
    "identity": activationsfunc.identity,
    "softplus": activationsfunc.softplus,
    "softmax": activationsfunc.softmax,
}

#: reservoirpy's short names (``reservoirpy.activationsfunc.get_function``).
_SHORT_NAMES = {"smax": "softmax", "sp": "softplus", "sig": "sigmoid", "id": "identity", "re": "relu"}

#: The activations that are ``np.tanh``, evaluated in place (``np.tanh(z, out=z)`` allocates nothing).
TANH_FUNCTIONS = (activationsfunc.tanh, np.tanh)


def resolve_activation(activation: str | Activation) -> Activation:
    """The activation function for a name or a callable (returned as is), as reservoirpy's ``get_function``.

    Parameters
    ----------
    activation : str or callable
        A key of :data:`NUMPY_ACTIVATIONS`, one of reservoirpy's short names (``"smax"``, ``"sp"``,
        ``"sig"``, ``"id"``, ``"re"``), or a function of a numpy array ``(..., units)``.

    Raises
    ------
    TypeError
        Neither a string nor a callable.
    ValueError
        An unknown name.
    """
    if callable(activation):
        return activation
    if not isinstance(activation, str):
        raise TypeError(f"activation must be a name or a callable; got {activation!r}")
    name = _SHORT_NAMES.get(activation, activation)
    if name not in NUMPY_ACTIVATIONS:
        known = sorted([*NUMPY_ACTIVATIONS, *_SHORT_NAMES])
        raise ValueError(f"activation must be one of {known} or a callable; got {activation!r}")
    return NUMPY_ACTIVATIONS[name]


def activation_name(function: Activation) -> str | None:
    """The :data:`NUMPY_ACTIVATIONS` name of ``function`` (``np.tanh`` is ``"tanh"``), or None."""
    if function is np.tanh:
        return "tanh"
    return next((name for name, known in NUMPY_ACTIVATIONS.items() if known is function), None)

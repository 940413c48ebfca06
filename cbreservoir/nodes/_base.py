"""What the nodes share beyond :mod:`cbreservoir.validation`: the validated single ``step`` and the
numpy -> torch hand-over."""

from __future__ import annotations

import numpy as np
import torch

from cbreservoir.validation import check_timestep

__all__ = ["ValidatedStepMixin", "shared_tensor"]


def shared_tensor(array: object, dtype: type = np.float64) -> torch.Tensor:
    """A torch tensor on the memory of ``array`` (converted to ``dtype``), or of a copy if it is read-only.

    ``torch.from_numpy`` on a read-only array (a broadcast, a memory map, ``flags.writeable=False``)
    warns that torch cannot protect it; only such arrays are copied.

    Parameters
    ----------
    array : array-like
    dtype : numpy floating type

    Returns
    -------
    tensor of the same shape
    """
    converted = np.asarray(array, dtype=dtype)
    if not converted.flags.writeable:
        converted = converted.copy()
    return torch.from_numpy(converted)


class ValidatedStepMixin:
    """``step(x)`` for a reservoirpy node: check the time step, initialise on it, advance ``state``.

    The node class lists the mixin before ``reservoirpy.node.Node`` and provides ``input_dim``,
    ``initialized``, ``initialize(x)``, ``state`` and ``_step(state, x) -> state``.
    """

    def step(self, x: object = None) -> np.ndarray:
        """One step.

        Parameters
        ----------
        x : array (input_dim,) or (1, input_dim)
            One time step; the first one initialises the node.

        Returns
        -------
        ndarray (output_dim,)
            The node's new output (for the Reservoir, its new state).
        """
        x = check_timestep(x, self.input_dim, owner=str(self))
        if not self.initialized:
            self.initialize(x)
        self.state = self._step(self.state, x)
        return self.state["out"]

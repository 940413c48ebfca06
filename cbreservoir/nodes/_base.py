"""What the nodes share beyond :mod:`cbreservoir.validation`: the validated single ``step``."""

from __future__ import annotations

import numpy as np

from cbreservoir.validation import check_timestep

__all__ = ["ValidatedStepMixin"]


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

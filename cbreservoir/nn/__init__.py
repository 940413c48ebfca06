"""Torch side of cbreservoir: the math (:mod:`.functional`) and the modules that hold it."""

from .functional import ACTIVATIONS, CerebellarActivity, cerebellum_forward, core_step, get_activation

__all__ = ["ACTIVATIONS", "CerebellarActivity", "cerebellum_forward", "core_step", "get_activation"]

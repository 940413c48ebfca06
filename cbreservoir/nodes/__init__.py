"""reservoirpy nodes: the cortical core, the cerebellar module and the readouts."""

from cbreservoir.utils.lazy import lazy_exports

_EXPORTS = {
    "Reservoir": ".reservoir",
    "Cerebellum": ".cerebellum",
    "Ridge": ".ridge",
    "GradientReadout": ".gradient_readout",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

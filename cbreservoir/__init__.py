"""cbreservoir: cortico-cerebellar reservoir computing.

A recurrent "cortical" core, trained briefly and then frozen as a reservoir, plus a trainable
cerebellar expansion module (granule -> Purkinje -> nuclei). The nodes compose with reservoirpy's
operators (``Reservoir(...) >> Cerebellum(...) >> Ridge(...)``); the torch models reproduce the
CB-RNN study. Public names are imported lazily on first use.
"""

from cbreservoir.utils.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "Reservoir": ".nodes",
    "Cerebellum": ".nodes",
    "Ridge": ".nodes",
    "GradientReadout": ".nodes",
    "count_parameters": ".models",
    "save": ".io",
    "load": ".io",
}

__all__ = [*_EXPORTS, "__version__"]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

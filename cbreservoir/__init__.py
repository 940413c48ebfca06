"""cbreservoir: cortico-cerebellar reservoir computing.

A recurrent "cortical" core, trained briefly and then frozen as a reservoir, plus a trainable
cerebellar expansion module (granule -> Purkinje -> nuclei). The nodes compose with reservoirpy's
operators (``Reservoir(...) >> Cerebellum(...) >> Ridge(...)``); the torch models reproduce the
CB-RNN study. Public names are imported lazily on first use.
"""

from typing import TYPE_CHECKING

from cbreservoir.utils.lazy import lazy_exports

__version__ = "0.1.0"

if TYPE_CHECKING:
    from cbreservoir.io import load as load
    from cbreservoir.io import save as save
    from cbreservoir.models import count_parameters as count_parameters
    from cbreservoir.nodes import Cerebellum as Cerebellum
    from cbreservoir.nodes import GradientReadout as GradientReadout
    from cbreservoir.nodes import Reservoir as Reservoir
    from cbreservoir.nodes import Ridge as Ridge

__getattr__, __dir__, _names = lazy_exports(__name__, __file__)
__all__ = [*_names, "__version__"]

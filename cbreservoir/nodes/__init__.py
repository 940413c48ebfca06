"""reservoirpy nodes: the cortical core, the cerebellar module and the readouts."""

from typing import TYPE_CHECKING

from cbreservoir.utils.lazy import lazy_exports

if TYPE_CHECKING:
    from cbreservoir.nodes.cerebellum import Cerebellum as Cerebellum
    from cbreservoir.nodes.gradient_readout import GradientReadout as GradientReadout
    from cbreservoir.nodes.reservoir import Reservoir as Reservoir
    from cbreservoir.nodes.ridge import Ridge as Ridge

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)

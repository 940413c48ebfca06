"""The math layer: the equations in torch (:mod:`.functional`), ridge regression (:mod:`.ridge`), the numpy
activations (:mod:`.activations`) and the compiled reservoir kernels (:mod:`.kernels`, numba).

* :mod:`cbreservoir.numerics.network` — the network's specification as data: weight names and shapes,
  the mossy-fibre order ``[x_t ; h_{t−1}]``, the leak (``leak_rate``), the model ↔ node weight mapping;
* :mod:`cbreservoir.numerics.functional` — the model's equations, written once (core step, cerebellum,
  GRU/LSTM
  steps with a cerebellar bias, activations);
* :mod:`cbreservoir.numerics.ridge` — ridge regression's streamed statistics (:class:`GramStatistics`) and
  closed-form solvers; :mod:`cbreservoir.numerics.ridge_loo` — the exact leave-one-out choice of the penalty.

Graphs of cbreservoir nodes compiled to torch (``compile_graph``) are in :mod:`cbreservoir.graph`, and
trained by :func:`cbreservoir.training.train_graph`.
"""

from typing import TYPE_CHECKING

from cbreservoir.utils.lazy import lazy_exports

if TYPE_CHECKING:
    from cbreservoir.numerics.functional import ACTIVATIONS as ACTIVATIONS
    from cbreservoir.numerics.functional import CerebellarActivity as CerebellarActivity
    from cbreservoir.numerics.functional import cerebellum_forward as cerebellum_forward
    from cbreservoir.numerics.functional import core_step as core_step
    from cbreservoir.numerics.functional import get_activation as get_activation

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)

"""The math layer: the equations in torch (:mod:`.functional`), the modules that hold them, the numpy
activations (:mod:`.activations`) and the compiled reservoir kernels (:mod:`.kernels`, numba).

* :mod:`cbreservoir.numerics.network` — the network's specification as data: weight names and shapes,
  the mossy-fibre order ``[x_t ; h_{t−1}]``, the leak (``leak_rate``), the model ↔ node weight mapping;
* :mod:`cbreservoir.numerics.functional` — the model's equations, written once (core step, cerebellum,
  GRU/LSTM
  steps with a cerebellar bias, activations);
* :mod:`cbreservoir.numerics.modules` — ``LeakyCore``, ``GRUCore``, ``LSTMCore``, ``CerebellarModule``,
  ``AuxiliaryRecurrentModule`` and the readout heads used by :mod:`cbreservoir.models`.

Graphs of cbreservoir nodes compiled to torch (``compile_graph``) are in :mod:`cbreservoir.graph`, and
trained by :func:`cbreservoir.training.train_graph`.
"""

from cbreservoir.utils.lazy import lazy_exports

# lazy, so that the torch-free modules (activations, kernels) load without torch
_EXPORTS = dict.fromkeys(
    ["ACTIVATIONS", "CerebellarActivity", "cerebellum_forward", "core_step", "get_activation"], ".functional"
)

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

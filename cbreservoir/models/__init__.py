"""Ready-made torch models of the study and its baselines.

* :class:`CBRNN` — the paper's cortico-cerebellar RNN; :class:`ElmanRNN` — the RNN-only baseline;
* :class:`GRUModel`, :class:`LSTMModel` (``cerebellum=True/False``); :class:`RecurrentAuxRNN` — control
  with a small recurrent module in place of the cerebellum;
* :func:`build_model` (kinds ``"cbrnn"``, ``"rnn"``, ``"gru"``, ``"gru_cb"``, ``"lstm"``, ``"lstm_cb"``,
  ``"rnn_aux"``), :func:`count_parameters`, :func:`match_units` (``match_hidden_size`` is its deprecated
  name).

Every model: ``forward(x, h0=None, mask=None, return_activity=False, generator=None, noise=None)`` with
x (B, T, d) -> logits (B, C) from the final state (a tuple, one per head, when ``n_classes`` is a tuple);
``input_dim``, ``units``, ``initial_state``, ``config``, ``module_groups()``, ``cerebellum_enabled``,
``core``, ``cerebellum`` (``auxiliary`` in :class:`RecurrentAuxRNN`), ``bias_module``, ``readouts``.
:class:`Noise` (:mod:`.noise`) perturbs a forward pass; :func:`~cbreservoir.models.compute.multiply_adds`
(:mod:`.compute`) counts what a forward and a backward pass compute. The torch blocks the models are made of
(``LeakyCore``, ``GRUCore``, ``LSTMCore``, ``CerebellarModule``, ``AuxiliaryRecurrentModule``, the readout
heads) are in :mod:`.blocks`.

Examples
--------
>>> from cbreservoir.models import CBRNN, build_model, count_parameters, match_units
>>> cbrnn = CBRNN(1, 64, 256, 64, 2, seed=0)
>>> count_parameters(cbrnn), count_parameters(cbrnn.cerebellum)
(41922, 37504)
>>> units = match_units(count_parameters(cbrnn), input_dim=1, n_classes=2)
>>> units, count_parameters(build_model("rnn", input_dim=1, units=units))
(202, 41816)
>>> twin = build_model(**cbrnn.config)  # same weights: same seed
"""

from cbreservoir.models.base import RecurrentNetwork
from cbreservoir.models.gated import GRUModel, LSTMModel
from cbreservoir.models.leaky import CBRNN, ElmanRNN, RecurrentAuxRNN, auxiliary_size_matching_cerebellum
from cbreservoir.models.noise import Noise
from cbreservoir.models.registry import (
    MODEL_KINDS,
    build_model,
    count_parameters,
    match_hidden_size,
    match_units,
)

__all__ = [
    "CBRNN",
    "MODEL_KINDS",
    "ElmanRNN",
    "GRUModel",
    "LSTMModel",
    "Noise",
    "RecurrentAuxRNN",
    "RecurrentNetwork",
    "auxiliary_size_matching_cerebellum",
    "build_model",
    "count_parameters",
    "match_hidden_size",
    "match_units",
]

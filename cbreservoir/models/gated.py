"""GRU and LSTM baselines, with or without the cerebellar bias on the candidate pre-activation."""

from __future__ import annotations

import torch

from cbreservoir.models.base import RecurrentNetwork, model_sizes, seeded_init
from cbreservoir.models.blocks import CerebellarModule, GRUCore, LSTMCore, state_columns_last_
from cbreservoir.numerics.study import STUDY
from cbreservoir.utils.checks import check_bool, check_positive_int


class _GatedModel(RecurrentNetwork):
    """A gated core (built by ``_make_core``) plus an optional cerebellum reading ``[x_t; h_{t−1}]``."""

    base_kind: str

    def __init__(
        self,
        input_dim: int | None = None,
        units: int | None = None,
        n_granule: int = STUDY.n_granule,
        n_purkinje: int = STUDY.n_purkinje,
        n_classes: int | tuple[int, ...] = 2,
        cerebellum: bool = False,
        seed: int | None = None,
        **renamed: int,
    ) -> None:
        input_dim, units = model_sizes(
            type(self).__name__, input_dim, units, renamed, default_units=STUDY.units
        )
        cerebellum = check_bool(cerebellum, "cerebellum")
        check_positive_int(n_granule, "n_granule")  # checked even when unused: they go into the config
        check_positive_int(n_purkinje, "n_purkinje")
        config = dict(
            input_dim=input_dim,
            units=units,
            n_granule=n_granule,
            n_purkinje=n_purkinje,
            n_classes=n_classes,
            seed=seed,
        )
        super().__init__(input_dim, units, n_classes, config)
        with seeded_init(seed):
            self.core = self._make_core(input_dim, units)
            if cerebellum:
                self.cerebellum = CerebellarModule(input_dim + units, n_granule, n_purkinje, units)
                state_columns_last_(self.cerebellum.granule, units)
            self._build_readouts()

    def _make_core(self, input_dim: int, units: int) -> torch.nn.Module:
        raise NotImplementedError

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.base_kind + ("_cb" if self.cerebellum is not None else "")

    def _step(
        self, x_t: torch.Tensor, state: torch.Tensor, bias_noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cerebellar_bias, activity = self._cerebellar_bias(self._features(state), x_t, bias_noise)
        return self.core.step(x_t, state, cerebellar_bias), activity


class GRUModel(_GatedModel):
    """GRU core (torch ``GRUCell`` parameters and initialisation) and linear heads on the final state.

    With ``cerebellum=True`` a paper-initialised cerebellum reads ``[x_t; h_{t−1}]`` and its output is
    added to the candidate pre-activation, norm-clipped per sample to that pre-activation's norm
    (:func:`cbreservoir.numerics.functional.gru_step`). Kinds ``"gru"`` / ``"gru_cb"``.

    Parameters
    ----------
    input_dim, units, n_granule, n_purkinje, n_classes, seed
        As in :class:`~cbreservoir.models.CBRNN` (G and P unused without a cerebellum; ``input_size`` and
        ``hidden_size`` are the deprecated names of ``input_dim`` and ``units``).
    cerebellum : bool
    """

    base_kind = "gru"

    def _make_core(self, input_dim: int, units: int) -> torch.nn.Module:
        return GRUCore(input_dim, units)


class LSTMModel(_GatedModel):
    """LSTM core (torch ``LSTMCell`` parameters and initialisation) and linear heads on the final h.

    The state is ``[h; cell]`` (B, 2H); :meth:`initial_state` draws both from 0.1·U(0, 1). With
    ``cerebellum=True`` the cerebellum reads ``[x_t; h_{t−1}]`` and its output is added to the cell
    candidate's pre-activation (the ``g`` gate, the LSTM's analogue of the GRU candidate), norm-clipped
    per sample as for the GRU (:func:`cbreservoir.numerics.functional.lstm_step`).
    Kinds ``"lstm"`` / ``"lstm_cb"``.
    """

    base_kind = "lstm"

    def _make_core(self, input_dim: int, units: int) -> torch.nn.Module:
        return LSTMCore(input_dim, units)

    @property
    def state_size(self) -> int:
        return 2 * self.units

    def _features(self, state: torch.Tensor) -> torch.Tensor:
        return state[..., : self.units]

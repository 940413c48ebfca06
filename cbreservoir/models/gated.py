"""GRU and LSTM baselines, with or without the cerebellar bias on the candidate pre-activation."""

from __future__ import annotations

import torch

from cbreservoir.models.base import RecurrentClassifier, seeded_init
from cbreservoir.numerics.modules import CerebellarModule, GRUCore, LSTMCore
from cbreservoir.utils.validation import check_positive_int


class _GatedModel(RecurrentClassifier):
    """A gated core (built by ``_make_core``) plus an optional cerebellum reading ``[h_{t−1}; x_t]``."""

    base_kind: str

    def __init__(
        self,
        input_size: int,
        hidden_size: int = 64,
        n_granule: int = 256,
        n_purkinje: int = 64,
        n_classes: int | tuple[int, ...] = 2,
        cerebellum: bool = False,
        seed: int | None = None,
    ) -> None:
        if not isinstance(cerebellum, bool):
            raise ValueError(f"cerebellum must be True or False, got {cerebellum!r}")
        check_positive_int(n_granule, "n_granule")  # checked even when unused: they go into the config
        check_positive_int(n_purkinje, "n_purkinje")
        config = dict(
            input_size=input_size,
            hidden_size=hidden_size,
            n_granule=n_granule,
            n_purkinje=n_purkinje,
            n_classes=n_classes,
            seed=seed,
        )
        super().__init__(input_size, hidden_size, n_classes, config)
        with seeded_init(seed):
            self.core = self._make_core(input_size, hidden_size)
            if cerebellum:
                self.cerebellum = CerebellarModule(
                    hidden_size + input_size, n_granule, n_purkinje, hidden_size
                )
            self._build_readouts()

    def _make_core(self, input_size: int, hidden_size: int) -> torch.nn.Module:
        raise NotImplementedError

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.base_kind + ("_cb" if self.cerebellum is not None else "")

    def _step(self, x_t: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cerebellar_bias, activity = self._cerebellar_bias(self._features(state), x_t)
        return self.core.step(x_t, state, cerebellar_bias), activity


class GRUModel(_GatedModel):
    """GRU core (torch ``GRUCell`` parameters and initialisation) and linear heads on the final state.

    With ``cerebellum=True`` a paper-initialised cerebellum reads ``[h_{t−1}; x_t]`` and its output is
    added to the candidate pre-activation, norm-clipped per sample to that pre-activation's norm
    (:func:`cbreservoir.numerics.functional.gru_step`). Kinds ``"gru"`` / ``"gru_cb"``.

    Parameters
    ----------
    input_size, hidden_size, n_granule, n_purkinje, n_classes, seed
        As in :class:`~cbreservoir.models.CBRNN` (G and P unused without a cerebellum).
    cerebellum : bool
    """

    base_kind = "gru"

    def _make_core(self, input_size: int, hidden_size: int) -> torch.nn.Module:
        return GRUCore(input_size, hidden_size)


class LSTMModel(_GatedModel):
    """LSTM core (torch ``LSTMCell`` parameters and initialisation) and linear heads on the final h.

    The state is ``[h; cell]`` (B, 2H); :meth:`initial_state` draws both from 0.1·U(0, 1). With
    ``cerebellum=True`` the cerebellum reads ``[h_{t−1}; x_t]`` and its output is added to the cell
    candidate's pre-activation (the ``g`` gate, the LSTM's analogue of the GRU candidate), norm-clipped
    per sample as for the GRU (:func:`cbreservoir.numerics.functional.lstm_step`).
    Kinds ``"lstm"`` / ``"lstm_cb"``.
    """

    base_kind = "lstm"

    def _make_core(self, input_size: int, hidden_size: int) -> torch.nn.Module:
        return LSTMCore(input_size, hidden_size)

    @property
    def state_size(self) -> int:
        return 2 * self.hidden_size

    def _features(self, state: torch.Tensor) -> torch.Tensor:
        return state[..., : self.hidden_size]

"""Leaky Elman models: the paper's CB-RNN, the RNN-only baseline and the recurrent-auxiliary control."""

from __future__ import annotations

import torch

from cbreservoir.models.base import RecurrentNetwork, leak_config, model_sizes, seeded_init
from cbreservoir.models.blocks import (
    AuxiliaryRecurrentModule,
    CerebellarModule,
    LeakyCore,
    auxiliary_parameters,
    cerebellar_parameters,
    state_columns_last,
    state_columns_last_,
)
from cbreservoir.numerics import functional as CF
from cbreservoir.numerics.network import leak_rate
from cbreservoir.numerics.study import STUDY
from cbreservoir.utils.checks import check_positive_int
from cbreservoir.utils.deprecation import renamed_attribute


class _LeakyCoreModel(RecurrentNetwork):
    """A :class:`LeakyCore` whose bias c_t comes from the bias module (when present and enabled)."""

    def _configure(
        self,
        sizes: dict[str, int],
        n_classes: int | tuple[int, ...],
        lr: float | None,
        tau: float | None,
        activation: str,
        seed: int | None,
    ) -> float:
        """Check the leak, record ``config`` (``sizes``, n_classes, the leak as given, activation, seed).

        ``sizes`` starts with ``input_dim`` and ``units``. Returns the leak rate α.
        """
        leak = leak_rate(lr, tau)
        config = dict(sizes, n_classes=n_classes, **leak_config(lr, tau), activation=activation, seed=seed)
        RecurrentNetwork.__init__(self, sizes["input_dim"], sizes["units"], n_classes, config)
        return leak

    def _step(
        self, x_t: torch.Tensor, h: torch.Tensor, bias_noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cerebellar_bias, activity = self._cerebellar_bias(h, x_t, bias_noise)
        return self.core.step(x_t, h, cerebellar_bias), activity


class _FusedLeakyModel(_LeakyCoreModel):
    """A leaky core with no cerebellum or a :class:`CerebellarModule`: whole sequences run fused.

    :meth:`_final_state` evaluates :func:`cbreservoir.numerics.functional.leaky_sequence` (the same equations
    as :meth:`_step`, with a hand-written BPTT backward); inside ``torch.vmap`` it steps as the base does.
    """

    def sequence_weights(self) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...] | None]:
        """``(core, cerebellum)`` in the layout of :func:`~cbreservoir.numerics.functional.leaky_sequence`
        (cerebellum None when there is none or it is switched off)."""
        core = self.core
        weights = (core.input_layer.weight, core.input_layer.bias)
        weights += (core.recurrent_layer.weight, core.recurrent_layer.bias)
        if self.cerebellum is None or not self.cerebellum_enabled:
            return weights, None
        cerebellum = self.cerebellum
        return weights, tuple(
            tensor
            for layer in (cerebellum.granule, cerebellum.purkinje, cerebellum.nuclei)
            for tensor in (layer.weight, layer.bias)
        )

    def _final_state(self, x: torch.Tensor, state: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        core, cerebellum = self.sequence_weights()
        if any(torch._C._functorch.is_batchedtensor(tensor) for tensor in (x, state, core[2])):
            return super()._final_state(x, state, keep)
        return CF.leaky_sequence(
            x, state, core, leak=self.core.leak, activation=self.core.activation_name,
            cerebellum=cerebellum, keep=keep,
        )  # fmt: skip


class ElmanRNN(_FusedLeakyModel):
    """RNN-only baseline: the CB-RNN's leaky core and readout without a cerebellum.

    Parameters
    ----------
    input_dim : int
        d, the input features (``input_size`` is its deprecated name).
    units : int
        H, the core size (``hidden_size`` is its deprecated name).
    n_classes : int or tuple of int
        Classes per head (a tuple makes one head per entry).
    lr : float, optional
        Leak rate α in (0, 1]; default 1 / 1.5 (the study's τ = 1.5).
    tau : float, optional
        The leak as the study's time constant (α = 1/τ, τ >= 1); give ``lr`` or ``tau``, not both.
    activation : str
    seed : int, optional
        Seeds the initialisation (torch's default ``Linear`` init); the global RNG is left untouched.

    Raises
    ------
    ValueError
        ``lr`` and ``tau`` both given, or either out of range.
    TypeError
        A size given under its old and new name, or missing.

    Examples
    --------
    >>> model = ElmanRNN(1, 202, seed=0)
    >>> count_parameters(model)  # doctest: +SKIP
    41816
    """

    kind = "rnn"

    def __init__(
        self,
        input_dim: int | None = None,
        units: int | None = None,
        n_classes: int | tuple[int, ...] = 2,
        lr: float | None = None,
        tau: float | None = None,
        activation: str = "leaky_relu",
        seed: int | None = None,
        **renamed: int,
    ) -> None:
        input_dim, units = model_sizes(type(self).__name__, input_dim, units, renamed)
        sizes = dict(input_dim=input_dim, units=units)
        leak = self._configure(sizes, n_classes, lr, tau, activation, seed)
        with seeded_init(seed):
            self.core = LeakyCore(input_dim, units, activation=activation, lr=leak)
            self._build_readouts()


class CBRNN(_FusedLeakyModel):
    """The paper's cortico-cerebellar RNN.

    The cerebellum reads ``[x_t; h_{t−1}]`` and its nuclei output c_t (H = ``units``) is added inside the
    core's LeakyReLU: ``h_t = (1 − α) h_{t−1} + α φ(W_x x_t + b_x + W_h h_{t−1} + b_h + c_t)``. Core and
    readout use torch's default ``Linear`` initialisation, the cerebellum the paper's; the readout sees
    the final state.

    Parameters
    ----------
    input_dim : int
        d (``input_size`` is its deprecated name).
    units : int
        H; default 64 (the paper's; ``hidden_size`` is its deprecated name).
    n_granule, n_purkinje : int
        G and P (256 and 64).
    n_classes : int or tuple of int
    lr, tau : float, optional
        The leak, as in :class:`ElmanRNN` (default α = 1 / 1.5).
    activation : str
    seed : int, optional

    Examples
    --------
    >>> import torch
    >>> model = CBRNN(1, seed=0)
    >>> logits, activity = model(torch.zeros(8, 5, 1), return_activity=True)
    >>> logits.shape, activity["granule"].shape
    (torch.Size([8, 2]), torch.Size([8, 5, 256]))
    """

    kind = "cbrnn"

    def __init__(
        self,
        input_dim: int | None = None,
        units: int | None = None,
        n_granule: int = STUDY.n_granule,
        n_purkinje: int = STUDY.n_purkinje,
        n_classes: int | tuple[int, ...] = 2,
        lr: float | None = None,
        tau: float | None = None,
        activation: str = "leaky_relu",
        seed: int | None = None,
        **renamed: int,
    ) -> None:
        input_dim, units = model_sizes(
            type(self).__name__, input_dim, units, renamed, default_units=STUDY.units
        )
        sizes = dict(input_dim=input_dim, units=units, n_granule=n_granule, n_purkinje=n_purkinje)
        leak = self._configure(sizes, n_classes, lr, tau, activation, seed)
        with seeded_init(seed):
            self.core = LeakyCore(input_dim, units, activation=activation, lr=leak)
            self.cerebellum = CerebellarModule(input_dim + units, n_granule, n_purkinje, units)
            state_columns_last_(self.cerebellum.granule, units)
            self._build_readouts()


def auxiliary_size_matching_cerebellum(
    input_dim: int | None = None,
    units: int | None = None,
    n_granule: int = STUDY.n_granule,
    n_purkinje: int = STUDY.n_purkinje,
    **renamed: int,
) -> int:
    """Number of auxiliary units A whose module's parameter count is closest to the cerebellum's.

    Cerebellum: ``G(m + 1) + P(G + 1) + H(P + 1)``; auxiliary module: ``A(m + 1) + A(A + 1) + H(A + 1)``,
    with m = d + H (d = ``input_dim``, H = ``units``, default 64; ``input_size``/``hidden_size`` are
    their deprecated names). Ties go to the smaller A.

    Raises
    ------
    ValueError
        A size that is not a positive int (bools refused).
    TypeError
        A size given under its old and new name, or ``input_dim`` missing.
    """
    owner = "auxiliary_size_matching_cerebellum"
    input_dim, units = model_sizes(owner, input_dim, units, renamed, default_units=STUDY.units)
    n_granule = check_positive_int(n_granule, "n_granule")
    n_purkinje = check_positive_int(n_purkinje, "n_purkinje")
    mossy = units + input_dim
    target = cerebellar_parameters(mossy, n_granule, n_purkinje, units)

    def size(n_aux: int) -> int:
        return auxiliary_parameters(mossy, n_aux, units)

    upper = 1
    while size(upper) < target:
        upper *= 2
    return min(range(1, upper + 1), key=lambda n_aux: (abs(size(n_aux) - target), n_aux))


class RecurrentAuxRNN(_LeakyCoreModel):
    """Control model: the CB-RNN with the cerebellum replaced by a small leaky recurrent module.

    The module (:class:`~cbreservoir.models.blocks.AuxiliaryRecurrentModule`, attribute ``auxiliary``;
    it is not a cerebellum, but it is the :attr:`bias_module`, so schedules and ablations treat it like
    one: its parameters form group ``"cerebellum"`` and ``cerebellum_enabled`` switches it) reads
    ``[x_t; h_{t−1}]`` and its output is the additive bias c_t. The state is ``[h; a]`` (B, H + A).
    ``.cerebellum`` is a deprecated alias of ``.auxiliary``; ``load_state_dict`` also accepts the old
    ``cerebellum.`` key prefix.

    Parameters
    ----------
    input_dim, units, n_classes, lr, tau, activation, seed
        As in :class:`CBRNN`.
    n_aux : int, optional
        A; by default :func:`auxiliary_size_matching_cerebellum` for a (256, 64) cerebellum (139 for
        H = 64, d = 1: 37,594 parameters against the cerebellum's 37,504).
    """

    kind = "rnn_aux"
    bias_module_name = "auxiliary"

    cerebellum = renamed_attribute("cerebellum", "auxiliary")

    def __init__(
        self,
        input_dim: int | None = None,
        units: int | None = None,
        n_aux: int | None = None,
        n_classes: int | tuple[int, ...] = 2,
        lr: float | None = None,
        tau: float | None = None,
        activation: str = "leaky_relu",
        seed: int | None = None,
        **renamed: int,
    ) -> None:
        input_dim, units = model_sizes(
            type(self).__name__, input_dim, units, renamed, default_units=STUDY.units
        )
        if n_aux is None:
            n_aux = auxiliary_size_matching_cerebellum(input_dim, units)
        sizes = dict(input_dim=input_dim, units=units, n_aux=n_aux)
        leak = self._configure(sizes, n_classes, lr, tau, activation, seed)
        with seeded_init(seed):
            self.core = LeakyCore(input_dim, units, activation=activation, lr=leak)
            self.auxiliary = AuxiliaryRecurrentModule(
                input_dim + units, n_aux, units, activation=activation, lr=leak
            )
            state_columns_last_(self.auxiliary.recurrent.input_layer, units)
            self._build_readouts()
        self._register_load_state_dict_pre_hook(_renamed_auxiliary_keys, with_module=True)

    @property
    def state_size(self) -> int:
        return self.units + self.auxiliary.n_units

    def _features(self, state: torch.Tensor) -> torch.Tensor:
        return state[..., : self.units]

    def _step(
        self, x_t: torch.Tensor, state: torch.Tensor, bias_noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        h, aux = state.split([self.units, self.auxiliary.n_units], dim=-1)
        if self.cerebellum_enabled:
            aux, cerebellar_bias = self.auxiliary.step(torch.cat([x_t, h], dim=-1), aux)
            if bias_noise is not None:
                cerebellar_bias = cerebellar_bias + bias_noise
            activity = {"auxiliary": aux, "nuclei": cerebellar_bias}
        else:
            cerebellar_bias, activity = None, {}
        return torch.cat([self.core.step(x_t, h, cerebellar_bias), aux], dim=-1), activity


def _renamed_auxiliary_keys(model: RecurrentAuxRNN, state_dict: dict, prefix: str, *_: object) -> None:
    """Load-state-dict pre-hook: RecurrentAuxRNN's keys from before ``.auxiliary`` (``cerebellum.*``) load.

    Such a state dict is from before the one input order too: its ``recurrent.input_layer.weight`` reads
    ``[h ; x]`` and gets its H state columns moved last (``[x ; h]``).
    """
    old = prefix + "cerebellum."
    for key in [key for key in state_dict if key.startswith(old)]:
        value = state_dict.pop(key)
        if key == old + "recurrent.input_layer.weight":
            value = state_columns_last(value, model.units)
        state_dict[prefix + "auxiliary." + key[len(old) :]] = value

"""Torch modules that hold the parameters of the model and evaluate :mod:`cbreservoir.numerics.functional`.

* :class:`LeakyCore` — the leaky Elman core (input layer with bias b_x, recurrent layer with bias b_h).
* :class:`GRUCore`, :class:`LSTMCore` — gated cores; a cerebellar bias enters the candidate pre-activation.
* :class:`CerebellarModule` — granule → Purkinje → nuclei with the paper's initialisation.
* :func:`make_readouts` / :func:`readout_logits` — one linear head per task.

Examples
--------
>>> import torch
>>> core = LeakyCore(input_size=1, hidden_size=8)
>>> cerebellum = CerebellarModule(input_size=8 + 1, n_granule=32, n_purkinje=8, n_out=8)
>>> x, h = torch.zeros(4, 1), torch.zeros(4, 8)
>>> c = cerebellum(torch.cat([x, h], dim=-1)).nuclei
>>> core.step(x, h, cerebellar_bias=c).shape
torch.Size([4, 8])
"""

from __future__ import annotations

import torch
from torch import nn

from cbreservoir.numerics import functional as CF
from cbreservoir.numerics.network import PAPER_CEREBELLUM_INIT_STD, leak_rate
from cbreservoir.numerics.study import STUDY
from cbreservoir.utils.checks import check_positive_int
from cbreservoir.utils.resources import check_memory


def _check_parameter_memory(n_parameters: int, what: str) -> None:
    """Refuse ``n_parameters`` of the default dtype that cannot fit in memory, before allocating them."""
    itemsize = torch.empty((), dtype=torch.get_default_dtype()).element_size()
    check_memory(n_parameters * itemsize, f"the {n_parameters:,} parameters of {what}")


def _gated_parameters(gates: int, input_size: int, hidden_size: int) -> int:
    """Parameters of ``gates`` input and recurrent layers with biases (1 leaky, 3 GRU, 4 LSTM)."""
    return gates * hidden_size * (input_size + hidden_size + 2)


def cerebellar_parameters(input_size: int, n_granule: int, n_purkinje: int, n_out: int) -> int:
    """Parameters of a :class:`CerebellarModule`: ``G(m + 1) + P(G + 1) + n_out(P + 1)``."""
    return n_granule * (input_size + 1) + n_purkinje * (n_granule + 1) + n_out * (n_purkinje + 1)


def auxiliary_parameters(input_size: int, n_units: int, n_out: int) -> int:
    """Parameters of an :class:`AuxiliaryRecurrentModule`: ``A(m + 1) + A(A + 1) + n_out(A + 1)``."""
    return _gated_parameters(1, input_size, n_units) + n_out * (n_units + 1)


def state_columns_last(weight: torch.Tensor, units: int) -> torch.Tensor:
    """A mossy-fibre weight (..., n, H + d) with columns ``[h ; x]`` as (..., n, d + H) with ``[x ; h]``.

    The one conversion between the study's column order and :data:`cbreservoir.numerics.network.MOSSY_ORDER`:
    used by the models' initialisation, RecurrentAuxRNN's load hook for old state dicts, and the readers
    of files and checkpoints written in the old order (also for stacked ensemble copies and optimizer
    moments, hence the leading dimensions).

    Parameters
    ----------
    weight : Tensor (..., n, H + d)
    units : int
        H, the number of leading state columns.

    Returns
    -------
    Tensor (..., n, d + H)
    """
    return torch.cat([weight[..., units:], weight[..., :units]], dim=-1)


def state_columns_last_(layer: nn.Linear, units: int) -> None:
    """Reorder, in place, the columns of a mossy-fibre layer drawn for ``[h ; x]`` to ``[x ; h]``.

    The models draw the weights of the layers that read the mossy fibres (the granule layer, the
    auxiliary RNN's input layer) as the study's code did, with the ``units`` state columns first, then
    move those columns last: the same seed gives the same weight for every (cell, source) pair, in the
    order ``[x_t ; h_{t−1}]`` of :data:`cbreservoir.numerics.network.MOSSY_ORDER`.

    Parameters
    ----------
    layer : nn.Linear (units + d → n)
    units : int
        H, the number of leading state columns.
    """
    with torch.no_grad():
        layer.weight.copy_(state_columns_last(layer.weight, units))


class LeakyCore(nn.Module):
    """Leaky Elman core ``h_t = (1 − α) h_{t−1} + α φ(W_x x_t + b_x + W_h h_{t−1} + b_h + c_t)``.

    Parameters
    ----------
    input_size : int
        d, number of input features.
    hidden_size : int
        H, number of units.
    tau : float, optional
        Time constant; the leak rate is α = 1/τ (τ = 1.5 in the paper).
    activation : str
        φ, a name from :data:`cbreservoir.numerics.functional.ACTIVATIONS`.
    lr : float, optional
        The leak rate α in (0, 1] itself, used as given; give ``lr`` or ``tau``, not both
        (:func:`cbreservoir.numerics.network.leak_rate`; neither: α = 1 / 1.5).

    Attributes
    ----------
    input_layer : nn.Linear (d → H)
        ``weight`` = W_x, ``bias`` = b_x (torch's default initialisation).
    recurrent_layer : nn.Linear (H → H)
        ``weight`` = W_h, ``bias`` = b_h (torch's default initialisation).

    Raises
    ------
    TypeError
        ``tau`` or ``lr`` is not a real number (a string, a bool).
    ValueError
        A size that is not a positive int, ``tau`` NaN, infinite or below 1, ``lr`` outside (0, 1], or
        both ``lr`` and ``tau`` given.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        tau: float | None = None,
        activation: str = "leaky_relu",
        *,
        lr: float | None = None,
    ) -> None:
        super().__init__()
        check_positive_int(input_size, "input_size")
        check_positive_int(hidden_size, "hidden_size")
        self.leak = leak_rate(lr, tau)
        self.activation_name = activation
        self.activation = CF.get_activation(activation)
        _check_parameter_memory(_gated_parameters(1, input_size, hidden_size), f"LeakyCore({hidden_size})")
        self.hidden_size = hidden_size
        self.input_layer = nn.Linear(input_size, hidden_size)
        self.recurrent_layer = nn.Linear(hidden_size, hidden_size)

    @property
    def tau(self) -> float:
        """τ = 1/α."""
        return 1.0 / self.leak

    def recurrent_parameters(self) -> list[nn.Parameter]:
        """The recurrent layer's parameters ``[W_h, b_h]`` (the rest of the core is its input layer)."""
        return [self.recurrent_layer.weight, self.recurrent_layer.bias]

    def step(
        self, x: torch.Tensor, h: torch.Tensor, cerebellar_bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        """One step: x (..., d), h (..., H), cerebellar_bias (..., H) or None -> h_t (..., H)."""
        return CF.core_step(
            x,
            h,
            self.input_layer.weight,
            self.recurrent_layer.weight,
            self.input_layer.bias,
            self.recurrent_layer.bias,
            self.leak,
            self.activation,
            cerebellar_bias,
        )


class _GatedCore(nn.Module):
    """A gated core holding the parameters of a torch cell (``cell_type``, ``n_gates`` gate layers)."""

    cell_type: type[nn.Module]
    n_gates: int

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        _check_parameter_memory(
            _gated_parameters(self.n_gates, input_size, hidden_size), f"{type(self).__name__}({hidden_size})"
        )
        self.cell = self.cell_type(input_size, hidden_size)

    def recurrent_parameters(self) -> list[nn.Parameter]:
        """The hidden-to-hidden parameters ``[weight_hh, bias_hh]`` (the rest are input-to-hidden)."""
        return [self.cell.weight_hh, self.cell.bias_hh]


class GRUCore(_GatedCore):
    """GRU core: parameters of :class:`torch.nn.GRUCell`, math
    :func:`~cbreservoir.numerics.functional.gru_step`.

    A cerebellar bias is added to the candidate pre-activation after being norm-clipped per sample to
    that pre-activation's norm.
    """

    cell_type, n_gates = nn.GRUCell, 3

    def step(
        self, x: torch.Tensor, h: torch.Tensor, cerebellar_bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        """One step: x (..., d), h (..., H), cerebellar_bias (..., H) or None -> h_t (..., H)."""
        gru = self.cell
        return CF.gru_step(x, h, gru.weight_ih, gru.weight_hh, gru.bias_ih, gru.bias_hh, cerebellar_bias)


class LSTMCore(_GatedCore):
    """LSTM core: :class:`torch.nn.LSTMCell` parameters, math
    :func:`~cbreservoir.numerics.functional.lstm_step`.

    The state is the concatenation ``[h; cell]`` of size 2H. A cerebellar bias is added to the cell
    candidate's pre-activation (the ``g`` gate), norm-clipped per sample to that pre-activation's norm —
    the LSTM analogue of the GRU's candidate.
    """

    cell_type, n_gates = nn.LSTMCell, 4

    def step(
        self, x: torch.Tensor, state: torch.Tensor, cerebellar_bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        """One step: x (..., d), state (..., 2H) = [h; cell] -> next state (..., 2H)."""
        h, cell_state = state.split(self.hidden_size, dim=-1)
        lstm = self.cell
        h, cell_state = CF.lstm_step(
            x, h, cell_state, lstm.weight_ih, lstm.weight_hh, lstm.bias_ih, lstm.bias_hh, cerebellar_bias
        )
        return torch.cat([h, cell_state], dim=-1)


class CerebellarModule(nn.Module):
    """Granule → Purkinje → nuclei (:func:`~cbreservoir.numerics.functional.cerebellum_forward`).

    Parameters
    ----------
    input_size : int
        m, mossy-fibre input size (d + H when it reads ``[x_t; h_{t−1}]``).
    n_granule, n_purkinje, n_out : int
        G, P and the nuclei output size.
    paper_init : bool
        Biases 0, W_gc ~ N(0, 0.01²), W_pc ~ N(0, 0.1²), W_dcn ~ N(0, 0.1²) (default); otherwise torch's
        default ``Linear`` initialisation.

    Attributes
    ----------
    granule, purkinje, nuclei : nn.Linear
        (m → G), (G → P), (P → n_out).
    """

    def __init__(
        self,
        input_size: int,
        n_granule: int = STUDY.n_granule,
        n_purkinje: int = STUDY.n_purkinje,
        n_out: int = 64,
        paper_init: bool = True,
    ) -> None:
        super().__init__()
        for name, value in [
            ("input_size", input_size),
            ("n_granule", n_granule),
            ("n_purkinje", n_purkinje),
            ("n_out", n_out),
        ]:
            check_positive_int(value, name)
        _check_parameter_memory(
            cerebellar_parameters(input_size, n_granule, n_purkinje, n_out),
            f"CerebellarModule(n_granule={n_granule}, n_purkinje={n_purkinje})",
        )
        self.granule = nn.Linear(input_size, n_granule)
        self.purkinje = nn.Linear(n_granule, n_purkinje)
        self.nuclei = nn.Linear(n_purkinje, n_out)
        if paper_init:
            self.reset_parameters_paper()

    def reset_parameters_paper(self) -> None:
        """Apply the paper's initialisation (uses torch's global RNG; seed it or fork it around the call)."""
        with torch.no_grad():
            for layer_name, std in PAPER_CEREBELLUM_INIT_STD.items():
                layer = getattr(self, layer_name)
                nn.init.normal_(layer.weight, 0.0, std)
                nn.init.zeros_(layer.bias)

    def forward(self, u: torch.Tensor) -> CF.CerebellarActivity:
        """u (..., m) -> ``CerebellarActivity(granule (..., G), purkinje (..., P), nuclei (..., n_out))``."""
        return CF.cerebellum_forward(
            u,
            self.granule.weight,
            self.granule.bias,
            self.purkinje.weight,
            self.purkinje.bias,
            self.nuclei.weight,
            self.nuclei.bias,
        )


#: Most readout heads a model may have (the study's tasks use one or two).
MAX_HEADS = 1024


def normalize_n_classes(n_classes: int | tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """Return ``n_classes`` as a tuple of head sizes (an int means one head).

    Raises
    ------
    ValueError
        If a head has fewer than 2 classes, there are more than :data:`MAX_HEADS` heads, or the value is
        neither an int nor a sequence of ints.
    """
    heads = (n_classes,) if isinstance(n_classes, int) and not isinstance(n_classes, bool) else n_classes
    if not isinstance(heads, tuple | list) or not heads or len(heads) > MAX_HEADS:
        raise ValueError(
            f"n_classes must be an int or a non-empty tuple of at most {MAX_HEADS} ints, "
            f"got {n_classes!r:.200}"
        )
    for size in heads:
        if isinstance(size, bool) or not isinstance(size, int) or size < 2:
            raise ValueError(f"every head needs an int number of classes >= 2, got {n_classes!r}")
    return tuple(heads)


def make_readouts(hidden_size: int, n_classes: int | tuple[int, ...]) -> nn.ModuleList:
    """One ``nn.Linear(hidden_size, C_k)`` per head (torch's default initialisation)."""
    return nn.ModuleList(nn.Linear(hidden_size, size) for size in normalize_n_classes(n_classes))


def readout_logits(
    readouts: nn.ModuleList, features: torch.Tensor, multi_head: bool
) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """Apply every head to ``features`` (B, H): a (B, C) tensor, or a tuple of them when ``multi_head``."""
    logits = tuple(head(features) for head in readouts)
    return logits if multi_head else logits[0]


class AuxiliaryRecurrentModule(nn.Module):
    """Control for the cerebellum: a small leaky recurrent module whose output is the additive bias.

    ``a_t = (1 − α) a_{t−1} + α φ(W_u u_t + b_u + W_a a_{t−1} + b_a)`` (a :class:`LeakyCore` on the
    mossy-fibre input u_t) and ``c_t = W_c a_t + b_c``. The output layer starts like the cerebellum's
    nuclei (weights N(0, 0.1²), bias 0); the recurrent part keeps torch's default initialisation.

    Parameters
    ----------
    input_size : int
        m, size of u_t.
    n_units : int
        A, recurrent units.
    n_out : int
        Size of c_t.
    tau, activation, lr
        As in :class:`LeakyCore`.
    """

    def __init__(
        self,
        input_size: int,
        n_units: int,
        n_out: int,
        tau: float | None = None,
        activation: str = "leaky_relu",
        *,
        lr: float | None = None,
    ) -> None:
        super().__init__()
        self.n_units = check_positive_int(n_units, "n_units")
        self.recurrent = LeakyCore(input_size, n_units, tau, activation, lr=lr)
        self.output = nn.Linear(n_units, check_positive_int(n_out, "n_out"))
        with torch.no_grad():
            nn.init.normal_(self.output.weight, 0.0, PAPER_CEREBELLUM_INIT_STD["nuclei"])
            nn.init.zeros_(self.output.bias)

    def step(self, u: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """u (..., m), a (..., A) -> (a_t (..., A), c_t (..., n_out))."""
        a = self.recurrent.step(u, a)
        return a, self.output(a)

"""Shared machinery of the ready-made models: input checks, the time loop, masking, heads, config."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from cbreservoir.models.blocks import make_readouts, normalize_n_classes, readout_logits
from cbreservoir.models.noise import Noise, check_noise, flip_bits
from cbreservoir.numerics.functional import initial_state
from cbreservoir.numerics.network import DEFAULT_LR
from cbreservoir.utils.checks import check_positive_int, check_seed
from cbreservoir.utils.deprecation import renamed_attribute, renamed_keyword

Logits = torch.Tensor | tuple[torch.Tensor, ...]


def leak_config(lr: float | None, tau: float | None) -> dict[str, float]:
    """The leak as the caller gave it, for ``model.config``: ``{"tau": tau}`` if given, else ``{"lr": lr}``.

    Keeping the given name makes ``build_model(**model.config)`` rebuild the same leak bitwise.
    """
    return {"tau": tau} if tau is not None else {"lr": DEFAULT_LR if lr is None else lr}


def model_sizes(
    owner: str,
    input_dim: int | None,
    units: int | None,
    renamed: dict[str, Any],
    default_units: int | None = None,
) -> tuple[int, int]:
    """``(input_dim, units)`` of a model constructor, taking the deprecated ``input_size``/``hidden_size``.

    Parameters
    ----------
    owner : str
        The class name, for messages.
    input_dim, units : int or None
        As given (None when not given).
    renamed : dict
        The constructor's remaining keyword arguments: only ``input_size`` and ``hidden_size`` are allowed.
    default_units : int, optional
        ``units`` when given under neither name.

    Raises
    ------
    TypeError
        An unknown keyword, or a size given under both names.
    ValueError
        A size that is not a positive int (None included: ``input_dim`` missing).
    """
    sizes = dict(renamed)
    for name, value in (("input_dim", input_dim), ("units", units)):
        if value is not None:
            sizes[name] = value
    renamed_keyword(sizes, "input_size", "input_dim", owner)
    renamed_keyword(sizes, "hidden_size", "units", owner)
    if default_units is not None:
        sizes.setdefault("units", default_units)
    unknown = sorted(set(sizes) - {"input_dim", "units"})
    if unknown:
        raise TypeError(f"{owner} got unexpected keyword arguments {unknown}")
    input_dim, units = sizes.get("input_dim"), sizes.get("units")
    return check_positive_int(input_dim, "input_dim"), check_positive_int(units, "units")


@contextmanager
def seeded_init(seed: int | None) -> Iterator[None]:
    """Run parameter initialisation from ``torch.manual_seed(seed)`` without touching the global RNG stream.

    With ``seed=None`` the global RNG is used (and advanced) as usual.
    """
    if seed is None:
        yield
        return
    check_seed(seed, none=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def as_real_tensor(x: torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
    """``x`` as a tensor of real numbers (floating, integer or bool); arrays and nested lists are converted.

    Raises
    ------
    ValueError
        For ragged nested sequences, and for strings, objects or complex numbers.
    """
    if not isinstance(x, torch.Tensor):
        try:
            x = np.asarray(x)
        except ValueError as error:  # ragged nested lists
            raise ValueError(f"{name} must be a rectangular array of numbers: {error}") from error
        if x.dtype.kind not in "biuf":
            raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
        return torch.as_tensor(x)
    if x.is_complex() or x.dtype in (torch.quint8, torch.qint8, torch.qint32):
        raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
    return x


def check_finite_tensor(x: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` if ``x`` holds NaN or an infinity.

    Skipped inside ``torch.vmap`` (the ensemble checks its members' inputs before batching them), where
    values cannot be inspected.
    """
    if torch._C._functorch.is_batchedtensor(x) or x.numel() == 0:
        return
    if not torch.isfinite(x.abs().amax() if x.is_floating_point() else x.new_zeros(())):
        where = tuple(int(i) for i in torch.nonzero(~torch.isfinite(x))[0])
        raise ValueError(f"{name} must be finite; got {x[where].item()} at index {where}")


class RecurrentNetwork(nn.Module):
    """Base of every model: a recurrent core, an optional cerebellar module and one linear head per task.

    The heads are linear: their outputs are class logits for the tasks' classifiers and real values for
    regression (``CBRNNRegressor`` trains the same networks with a squared loss), hence a name that says
    neither.

    Subclasses build ``core``, the bias module (attribute :attr:`bias_module_name`: ``cerebellum``, or
    left ``None``) and ``readouts``, and implement :meth:`_step`. The state is one tensor
    (B, ``state_size``); :meth:`_features` extracts the cortical state h (B, H) read by the heads and
    reported as activity ``"core"``.

    Attributes
    ----------
    input_dim : int
        d, the input features.
    units : int
        H, the cortical core size.
    core : nn.Module
    cerebellum : nn.Module or None
        The cerebellar module (RecurrentAuxRNN names its module ``auxiliary`` instead).
    readouts : nn.ModuleList
        One ``nn.Linear(H, C_k)`` per head.
    cerebellum_enabled : bool
        ``False`` switches the bias c_t off (c_t = 0) without touching the bias module's weights.
    """

    kind: ClassVar[str]
    #: Attribute holding the module whose output is the core's additive bias c_t.
    bias_module_name: ClassVar[str] = "cerebellum"

    hidden_size = renamed_attribute("hidden_size", "units")
    input_size = renamed_attribute("input_size", "input_dim")

    def __init__(self, input_dim: int, units: int, n_classes: int | tuple[int, ...], config: dict) -> None:
        super().__init__()
        self.input_dim = input_dim
        self.units = units
        self.head_sizes = normalize_n_classes(n_classes)
        self.multi_head = not isinstance(n_classes, int)
        setattr(self, self.bias_module_name, None)
        self.cerebellum_enabled = True
        self._config = dict(config)
        if self.multi_head:
            self._config["n_classes"] = tuple(self.head_sizes)

    def _build_readouts(self) -> None:
        self.readouts = make_readouts(self.units, self.head_sizes)

    # --- description -----------------------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """Constructor kwargs incl. ``"kind"``: ``build_model(**model.config)`` rebuilds the model."""
        return {"kind": self.kind, **self._config}

    @property
    def bias_module(self) -> nn.Module | None:
        """The module whose output is the core's additive bias c_t (the cerebellum; None when none)."""
        return getattr(self, self.bias_module_name)

    @property
    def state_size(self) -> int:
        """Size of the recurrent state tensor (H for single-state cores)."""
        return self.units

    def module_groups(self, *, split_core: bool = False) -> dict[str, list[nn.Parameter]]:
        """Parameters by module: ``{"core": [...], "cerebellum": [...] (maybe empty), "readout": [...]}``.

        Group ``"cerebellum"`` holds the :attr:`bias_module`'s parameters (RecurrentAuxRNN's auxiliary RNN),
        so that schedules and ablations treat every bias module alike.

        Parameters
        ----------
        split_core : bool
            Give the core as its two parts instead: ``"core.input"`` (input-to-hidden weights and biases)
            and ``"core.recurrent"`` (hidden-to-hidden: W_h and b_h), which schedules may freeze apart.
        """
        bias_module = self.bias_module
        core = list(self.core.parameters())
        if split_core:
            recurrent = {id(parameter) for parameter in self.core.recurrent_parameters()}
            parts = {
                "core.input": [parameter for parameter in core if id(parameter) not in recurrent],
                "core.recurrent": [parameter for parameter in core if id(parameter) in recurrent],
            }
        else:
            parts = {"core": core}
        return {
            **parts,
            "cerebellum": [] if bias_module is None else list(bias_module.parameters()),
            "readout": list(self.readouts.parameters()),
        }

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value!r}" for key, value in self._config.items())

    # --- the recurrence --------------------------------------------------------------------------------

    def initial_state(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw h_0 ~ 0.1·U(0, 1), shape (batch_size, ``state_size``), in the model's dtype and device.

        Parameters
        ----------
        batch_size : int
        generator : torch.Generator, optional
            Source of randomness (torch's global RNG when omitted).
        """
        weight = self.readouts[0].weight
        return initial_state(
            batch_size, self.state_size, generator=generator, dtype=weight.dtype, device=weight.device
        )

    def _features(self, state: torch.Tensor) -> torch.Tensor:
        """Cortical state h (..., H) inside the recurrent state (..., ``state_size``)."""
        return state

    def _step(
        self, x_t: torch.Tensor, state: torch.Tensor, bias_noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Advance one step: x_t (B, d), state (B, S) -> (next state (B, S), module activities (B, ·)).

        ``bias_noise`` (B, H), when given, is added to the cerebellar output c_t (:mod:`.noise`).
        """
        raise NotImplementedError

    def _cerebellar_bias(
        self, h: torch.Tensor, x_t: torch.Tensor, bias_noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        """c_t (+ ``bias_noise``) from the cerebellum reading ``[x_t; h_{t−1}]`` and its layer activities
        (None, {} when off)."""
        if self.bias_module is None or not self.cerebellum_enabled:
            return None, {}
        activity = self.bias_module(torch.cat([x_t, h], dim=-1))
        if bias_noise is not None:
            activity = activity._replace(nuclei=activity.nuclei + bias_noise)
        return activity.nuclei, activity._asdict()

    def _as_input(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        weight = self.readouts[0].weight
        x = as_real_tensor(x, "x")
        if x.dim() != 3 or x.shape[-1] != self.input_dim or x.shape[0] < 1 or x.shape[1] < 1:
            expected = f"(batch, time >= 1, {self.input_dim}) with batch >= 1"
            raise ValueError(f"x must have shape {expected}, got {tuple(x.shape)}")
        x = x.to(dtype=weight.dtype, device=weight.device)
        check_finite_tensor(x, f"x (in {x.dtype})")
        return x

    def _as_mask(
        self, mask: torch.Tensor | np.ndarray, shape: tuple[int, int], device: torch.device
    ) -> torch.Tensor:
        mask = torch.as_tensor(mask, device=device)
        if mask.dtype != torch.bool or tuple(mask.shape) != shape:
            raise ValueError(
                f"mask must be a bool array of shape {shape}, got {mask.dtype} {tuple(mask.shape)}"
            )
        return mask

    def forward(
        self,
        x: torch.Tensor | np.ndarray,
        h0: torch.Tensor | None = None,
        mask: torch.Tensor | np.ndarray | None = None,
        return_activity: bool = False,
        generator: torch.Generator | None = None,
        noise: Noise | None = None,
    ) -> Logits | tuple[Logits, dict[str, torch.Tensor]]:
        """Run the sequences and read the heads from the final state.

        Parameters
        ----------
        x : tensor or array (B, T, d)
        h0 : tensor (B, ``state_size``), optional
            Initial state; drawn by :meth:`initial_state` (with ``generator``) when omitted.
        mask : bool tensor or array (B, T), optional
            ``False`` holds the state unchanged at that step (left padding).
        return_activity : bool
            Also return a dict of (B, T, ·) activities: ``"core"`` (the state after each step) and, when
            the cerebellum is on, ``"granule"``, ``"purkinje"``, ``"nuclei"``.
        generator : torch.Generator, optional
            Draws the initial state (when ``h0`` is omitted) and the noise.
        noise : Noise, optional
            Noise on the input bits, the cortical state and the cerebellar output (:mod:`.noise`); the
            sequence then runs step by step. None or all levels 0: the clean pass.

        Returns
        -------
        logits : tensor (B, C), or a tuple of them (one per head) when ``n_classes`` is a tuple
        activity : dict, only with ``return_activity=True``
        """
        x = self._as_input(x)
        batch_size, n_steps, _ = x.shape
        if h0 is None:
            state = self.initial_state(batch_size, generator)
        else:
            state = as_real_tensor(h0, "h0").to(dtype=x.dtype, device=x.device)
            if tuple(state.shape) != (batch_size, self.state_size):
                raise ValueError(
                    f"h0 must have shape {(batch_size, self.state_size)}, got {tuple(state.shape)}"
                )
            check_finite_tensor(state, "h0")
        keep = None if mask is None else self._as_mask(mask, (batch_size, n_steps), x.device)
        noise = check_noise(noise)
        if not return_activity and noise is None:
            state = self._final_state(x, state, keep)
            return readout_logits(self.readouts, self._features(state), self.multi_head)
        if noise is not None and noise.input_flip > 0:
            x = flip_bits(x, noise.input_flip, generator)
        records: list[dict[str, torch.Tensor]] = []
        for t in range(n_steps):
            step_noise = None if noise is None else self._step_noise(noise, state, generator)
            state, activity = self._masked_step(
                x[:, t], state, None if keep is None else keep[:, t], step_noise
            )
            if return_activity:
                records.append({"core": self._features(state), **activity})
        logits = readout_logits(self.readouts, self._features(state), self.multi_head)
        if not return_activity:
            return logits
        return logits, {key: torch.stack([record[key] for record in records], dim=1) for key in records[0]}

    def _step_noise(
        self, noise: Noise, state: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """One step's draws: noise on the cerebellar output and on the cortical state, each (B, H) or None."""

        def gaussian(scale: float) -> torch.Tensor:
            shape = (state.shape[0], self.units)
            return scale * torch.randn(shape, generator=generator, dtype=state.dtype, device=state.device)

        bias_on = self.bias_module is not None and self.cerebellum_enabled
        return (
            gaussian(noise.cerebellum) if noise.cerebellum > 0 and bias_on else None,
            gaussian(noise.state) if noise.state > 0 else None,
        )

    def _masked_step(
        self,
        x_t: torch.Tensor,
        state: torch.Tensor,
        keep_t: torch.Tensor | None,
        step_noise: tuple[torch.Tensor | None, torch.Tensor | None] | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """:meth:`_step` (with ``step_noise``: :meth:`_step_noise`'s draws), holding the state of the rows
        where ``keep_t`` (B,) is False."""
        bias_noise, state_noise = (None, None) if step_noise is None else step_noise
        new_state, activity = self._step(x_t, state, bias_noise)
        if state_noise is not None:  # on the cortical state h, the first H columns of the state
            padding = new_state.new_zeros(new_state.shape[0], new_state.shape[1] - self.units)
            new_state = new_state + torch.cat([state_noise, padding], dim=-1)
        return (new_state if keep_t is None else torch.where(keep_t[:, None], new_state, state)), activity

    def _final_state(self, x: torch.Tensor, state: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        """The state after the whole sequence: x (B, T, d), state (B, S), keep (B, T) or None -> (B, S).

        Steps :meth:`_step` through time; models with a fused sequence kernel override it.
        """
        for t in range(x.shape[1]):
            state = self._masked_step(x[:, t], state, None if keep is None else keep[:, t])[0]
        return state

"""Noise in a model's forward pass: on the input bits, the cortical state and the cerebellar output.

A :class:`Noise` given to a model's ``forward`` (or to :class:`~cbreservoir.training.GradientTrainer`, which
passes it to every forward pass of training and testing) perturbs the run:

* ``input_flip`` — each input value is a bit and flips (x → 1 − x) with this probability, independently
  per trial, step and channel (the task switching pulse channel included);
* ``state`` — after every step, Gaussian noise of this standard deviation is added to the cortical state
  h_t (the core's H units; an LSTM's cell and the auxiliary module's units are left alone), so it
  propagates through the recurrence;
* ``cerebellum`` — at every step, Gaussian noise of this standard deviation is added to the cerebellar
  output c_t before it enters the core (nothing without a cerebellum or with it switched off).

The draws come from the generator given to ``forward`` (after the initial state's), in a fixed order:
the input flips of the whole batch, then per step the cerebellar noise and the state noise. A model
with noise runs step by step (the fused kernel has no noise); all levels 0 (or ``noise=None``) run the
clean forward pass, bit for bit.

Examples
--------
>>> import torch
>>> from cbreservoir.models import CBRNN
>>> model, x = CBRNN(1, seed=0), torch.randint(0, 2, (8, 6, 1)).float()
>>> clean = model(x, generator=torch.Generator().manual_seed(0))
>>> torch.equal(model(x, generator=torch.Generator().manual_seed(0), noise=Noise()), clean)
True
>>> noisy = model(x, generator=torch.Generator().manual_seed(0), noise=Noise(state=0.1))
>>> torch.equal(noisy, clean)
False
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch

from cbreservoir.utils.checks import check_choice, check_real

__all__ = ["NOISE_KINDS", "Noise", "flip_bits"]

#: The kinds of noise, the fields of :class:`Noise`.
NOISE_KINDS = ("input_flip", "state", "cerebellum")


@dataclass(frozen=True)
class Noise:
    """Noise levels of a forward pass (all 0: none).

    Parameters
    ----------
    input_flip : float
        Probability in [0, 1] that an input bit flips.
    state : float
        Standard deviation (>= 0) of the Gaussian noise added to the cortical state after every step.
    cerebellum : float
        Standard deviation (>= 0) of the Gaussian noise added to the cerebellar output every step.

    Raises
    ------
    TypeError
        A level that is not a real number.
    ValueError
        A level that is negative, not finite, or (``input_flip``) above 1.
    """

    input_flip: float = 0.0
    state: float = 0.0
    cerebellum: float = 0.0

    def __post_init__(self) -> None:
        for field in fields(self):
            object.__setattr__(
                self, field.name, check_real(getattr(self, field.name), field.name, minimum=0.0)
            )
        if self.input_flip > 1.0:
            raise ValueError(f"input_flip must be a probability in [0, 1], got {self.input_flip!r}")

    @property
    def active(self) -> bool:
        """Whether any level is above 0."""
        return any(getattr(self, name) > 0 for name in NOISE_KINDS)

    @property
    def config(self) -> dict[str, float]:
        """``{"input_flip": ..., "state": ..., "cerebellum": ...}``; ``Noise(**config)`` rebuilds it."""
        return asdict(self)

    @classmethod
    def of(cls, kind: str, level: float) -> Noise:
        """Noise of one ``kind`` (a :data:`NOISE_KINDS` name) at ``level``, the others 0.

        Raises
        ------
        ValueError
            An unknown kind or a bad level.
        """
        check_choice(kind, "noise kind", allowed=NOISE_KINDS)
        return cls(**{kind: level})


def check_noise(noise: Any) -> Noise | None:
    """``noise`` if it is a :class:`Noise` with a level above 0, None if it is None or all 0.

    Raises
    ------
    TypeError
        Anything else.
    """
    if noise is None:
        return None
    if not isinstance(noise, Noise):
        raise TypeError(f"noise must be a Noise or None, got {type(noise).__name__}")
    return noise if noise.active else None


def flip_bits(x: torch.Tensor, probability: float, generator: torch.Generator | None) -> torch.Tensor:
    """``x`` with every entry flipped to ``1 − x`` with ``probability`` (one uniform draw per entry).

    Parameters
    ----------
    x : tensor (B, T, d)
        Bits (0/1).
    probability : float
    generator : torch.Generator or None

    Returns
    -------
    tensor (B, T, d)
    """
    flips = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device) < probability
    return torch.where(flips, 1 - x, x)

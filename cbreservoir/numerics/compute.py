"""Multiply-adds of the models' matrix products, counted from shapes: what the kernels really compute.

A multiply-add is one ``a · b + c`` of a matrix product (a product of shapes (m, k) and (k, n) is m·k·n of
them; ``torch.utils.flop_counter.FlopCounterMode`` counts 2 FLOPs each). Element-wise work (activations,
the leak, biases, clipping, the optimiser update) is left out: it is a small fraction of the products
(O(units) against O(units²) per sample and step) and no counter of products sees it.

Two counts, each checked against a counted run (``tests/numerics/test_compute.py``):

* :func:`leaky_sequence_multiply_adds` — the fused leaky kernel (:func:`~cbreservoir.numerics.functional.
  leaky_sequence`, CB-RNN and RNN-only) and its hand-written backward: the recursion for ∂L/∂h_t runs over
  every step (through the cerebellar loop as well) whenever anything upstream learns, even with the core
  frozen; the weight gradients are one product per layer over all steps, skipped for layers that do not
  learn (the core's input and recurrent weights share one product, so freezing only W_h saves nothing).
* :func:`step_products_multiply_adds` — a model stepped through time under autograd (GRU, LSTM, the
  recurrent auxiliary control), described as the products of one step (:class:`Product`): autograd forms
  the gradient of a product's weight when its part learns and of its input when that input depends on
  something that learns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from cbreservoir.utils.checks import check_int

#: The parameter parts whose learning changes what a backward pass computes.
PARTS = ("core.input", "core.recurrent", "cerebellum", "readout")


class MultiplyAdds(NamedTuple):
    """Multiply-adds of a forward and a backward pass."""

    forward: int
    backward: int

    @property
    def total(self) -> int:
        """forward + backward."""
        return self.forward + self.backward

    def __add__(self, other: object) -> MultiplyAdds:  # type: ignore[override]
        if not isinstance(other, MultiplyAdds):
            return NotImplemented
        return MultiplyAdds(self.forward + other.forward, self.backward + other.backward)


@dataclass(frozen=True)
class Product:
    """One matrix product of a recurrent step: ``target = sources @ W.T (+ b)``, W of shape (n_out, n_in).

    Attributes
    ----------
    sources : tuple of str
        The tensors read, concatenated (``("x", "h")``: ``[x_t ; h_{t−1}]``). ``"x"`` is the input;
        other names are state tensors or targets of earlier products of the step.
    n_in, n_out : int
        Sizes of the concatenated input and of the output.
    part : str
        The part of :data:`PARTS` that owns W.
    target : str
        Name of the result (read by later products, or a next-state tensor).
    """

    sources: tuple[str, ...]
    n_in: int
    n_out: int
    part: str
    target: str


def _check_learns(learns: Mapping[str, bool] | None) -> dict[str, bool]:
    """``learns`` with every part of :data:`PARTS` (None: nothing learns, inference)."""
    if learns is None:
        return dict.fromkeys(PARTS, False)
    unknown = sorted(set(learns) - set(PARTS))
    if unknown:
        raise ValueError(f"learns must map parts among {list(PARTS)} to bools, got {unknown}")
    return {part: bool(learns.get(part, False)) for part in PARTS}


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        check_int(value, name, minimum=0)


def readout_multiply_adds(
    batch_size: int,
    units: int,
    head_sizes: Sequence[int],
    *,
    learns: bool,
    state_needs_grad: bool,
    trained_heads: Sequence[int] | None = None,
) -> MultiplyAdds:
    """The linear heads on the final state (B, H): one product per head of C_k classes.

    The backward of each head in the loss (``trained_heads``, default all) forms its weight gradient when
    the heads learn and its share of the state's gradient when the state depends on something that learns.
    """
    forward = batch_size * units * sum(head_sizes)
    heads = range(len(head_sizes)) if trained_heads is None else trained_heads
    backward = batch_size * units * sum(head_sizes[head] for head in heads)
    return MultiplyAdds(forward, backward * (int(learns) + int(state_needs_grad)))


def leaky_sequence_multiply_adds(
    batch_size: int,
    n_steps: int,
    input_dim: int,
    units: int,
    n_granule: int = 0,
    n_purkinje: int = 0,
    learns: Mapping[str, bool] | None = None,
) -> MultiplyAdds:
    """Multiply-adds of :func:`~cbreservoir.numerics.functional.leaky_sequence` on (B, T, d) inputs.

    Parameters
    ----------
    batch_size, n_steps, input_dim, units : int
        B, T, d, H.
    n_granule, n_purkinje : int
        G and P of the cerebellum (0, 0: none, or switched off).
    learns : mapping part -> bool, optional
        Which parts of :data:`PARTS` learn (None: inference, no backward). The kernel runs its backward
        when a core or cerebellar weight learns.

    Returns
    -------
    MultiplyAdds
        Forward: the input drive of all steps ``T·B·d·K`` (K = H + G) and per step ``B·H·K`` (core and
        granule layer reading h_{t−1} in one product), ``B·G·P`` and ``B·P·H``. Backward: per step
        ``B·K·H`` (∂L/∂h_{t−1}) and with a cerebellum ``B·H·P + B·P·G``; then the weight gradients over
        all steps, ``R·T·B·(H + d)`` for the R = H (core learns) + G (cerebellum learns) rows of the fused
        input and state weights and, when the cerebellum learns, ``T·B·(G·P + P·H)``.
    """
    _check_sizes(batch_size=batch_size, n_steps=n_steps, input_dim=input_dim, units=units)
    _check_sizes(n_granule=n_granule, n_purkinje=n_purkinje)
    learns = _check_learns(learns)
    rows = batch_size * n_steps
    width = units + n_granule
    loop = n_granule * n_purkinje + n_purkinje * units
    forward = rows * (input_dim * width + units * width + loop)
    core = learns["core.input"] or learns["core.recurrent"]
    cerebellum = n_granule > 0 and learns["cerebellum"]
    if not (core or cerebellum):
        return MultiplyAdds(forward, 0)
    backward = rows * (width * units + loop)
    learned_rows = units * core + n_granule * cerebellum
    backward += learned_rows * rows * (units + input_dim)
    if cerebellum:
        backward += rows * loop
    return MultiplyAdds(forward, backward)


def step_products_multiply_adds(
    products: Sequence[Product],
    state: Sequence[str],
    next_state: Mapping[str, Sequence[str]],
    batch_size: int,
    n_steps: int,
    learns: Mapping[str, bool] | None = None,
) -> tuple[MultiplyAdds, bool]:
    """Multiply-adds of T recurrent steps under autograd, each step the ``products`` in order.

    Parameters
    ----------
    products : sequence of Product
        One step's products.
    state : sequence of str
        The names of the state tensors a step reads (e.g. ``("h",)``, or ``("h", "a")``). The models keep
        their state as one tensor (``[h ; a]``, ``[h ; cell]``), so every part needs a gradient as soon as
        one does; the initial state needs none.
    next_state : mapping str -> sequence of str
        For each state name, the step's tensors (product targets or state names) it is computed from
        element-wise (e.g. ``{"h": ("h", "core_x", "core_h", "nuclei")}``).
    batch_size, n_steps : int
    learns : mapping part -> bool, optional
        As for :func:`leaky_sequence_multiply_adds`.

    Returns
    -------
    (MultiplyAdds, bool)
        The counts, and whether the final state needs a gradient (for :func:`readout_multiply_adds`).
    """
    _check_sizes(batch_size=batch_size, n_steps=n_steps)
    learns = _check_learns(learns)
    state_grad = False
    forward = backward = 0
    for _ in range(n_steps):
        needs = {"x": False, **dict.fromkeys(state, state_grad)}
        for product in products:
            source_grad = any(needs[source] for source in product.sources)
            needs[product.target] = source_grad or learns[product.part]
            size = batch_size * product.n_in * product.n_out
            forward += size
            if needs[product.target]:
                backward += size * (int(learns[product.part]) + int(source_grad))
        state_grad = any(needs[name] for sources in next_state.values() for name in sources)
    return MultiplyAdds(forward, backward), state_grad

"""The peer of the speed benchmarks: a plain per-network PyTorch CB-RNN, as a researcher would write it.

Written directly from the paper's equations, independently of cbreservoir's own code, the way a
researcher would write it without the toolkit: ``nn.Linear`` layers, an explicit Python loop
over time, the study's optimiser (SGD, learning rate 0.01, momentum 0.1 Nesterov, gradient-norm
clipping at 7.5), and several networks trained one after another.

    h_t = (1 − α) h_{t−1} + α LeakyReLU(W_x x_t + b_x + W_h h_{t−1} + b_h + c_t),   α = 1/τ
    c_t = W_dcn ReLU(W_pc ReLU(W_gc [h_{t−1}; x_t] + b_gc) + b_pc) + b_dcn
    logits = W_out h_T + b_out,  h_0 ~ 0.1·U(0, 1) drawn fresh for every forward pass

It imports nothing from cbreservoir (``cbreservoir bench``, ``benchmarks/ceilings.py`` and
``throughput.py`` import it as the peer). Usage (time one update of 8 networks, one after another)::

    python -m cbreservoir.experiments.reference --networks 8 --steps 10 --n 5
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

LEARNING_RATE = 0.01
MOMENTUM = 0.1
CLIP_NORM = 7.5
LEAKY_SLOPE = 0.01


class ReferenceCBRNN(nn.Module):
    """The paper's CB-RNN, one network, explicit time loop.

    Parameters
    ----------
    input_size : int
        Features per time step d.
    hidden_size : int
        Core units H.
    n_granule, n_purkinje : int
        Cerebellar layer sizes G and P.
    n_classes : int
        Readout classes.
    tau : float
        Core time constant; the leak is α = 1/τ.
    seed : int
        Seeds the initialisation.
    """

    def __init__(
        self,
        input_size: int = 1,
        hidden_size: int = 64,
        n_granule: int = 256,
        n_purkinje: int = 64,
        n_classes: int = 2,
        tau: float = 1.5,
        seed: int = 0,
    ) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.alpha = 1.0 / tau
        self.hidden_size = hidden_size
        self.input_layer = nn.Linear(input_size, hidden_size)
        self.recurrent_layer = nn.Linear(hidden_size, hidden_size)
        self.granule = nn.Linear(hidden_size + input_size, n_granule)
        self.purkinje = nn.Linear(n_granule, n_purkinje)
        self.nuclei = nn.Linear(n_purkinje, hidden_size)
        # paper initialisation of the cerebellum: biases 0, small normal weights
        for layer, std in ((self.granule, 0.01), (self.purkinje, 0.1), (self.nuclei, 0.1)):
            nn.init.normal_(layer.weight, 0.0, std)
            nn.init.zeros_(layer.bias)
        self.readout = nn.Linear(hidden_size, n_classes)

    def forward(self, x: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        """Logits from the final state.

        Parameters
        ----------
        x : tensor (B, T, d)
        h0 : tensor (B, H)

        Returns
        -------
        tensor (B, n_classes)
        """
        h = h0
        for t in range(x.shape[1]):
            x_t = x[:, t]
            granule = torch.relu(self.granule(torch.cat([h, x_t], dim=1)))
            c = self.nuclei(torch.relu(self.purkinje(granule)))
            z = self.input_layer(x_t) + self.recurrent_layer(h) + c
            h = (1 - self.alpha) * h + self.alpha * F.leaky_relu(z, LEAKY_SLOPE)
        return self.readout(h)


class ReferenceRNN(nn.Module):
    """The RNN-only baseline: the same leaky core and readout without a cerebellum, explicit time loop.

    Parameters
    ----------
    input_size, hidden_size, n_classes, tau, seed
        As in :class:`ReferenceCBRNN` (H = 202 matches the CB-RNN's parameter count for d = 1, 2 classes).
    """

    def __init__(
        self, input_size: int = 1, hidden_size: int = 202, n_classes: int = 2, tau: float = 1.5, seed: int = 0
    ) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.alpha = 1.0 / tau
        self.hidden_size = hidden_size
        self.input_layer = nn.Linear(input_size, hidden_size)
        self.recurrent_layer = nn.Linear(hidden_size, hidden_size)
        self.readout = nn.Linear(hidden_size, n_classes)

    def forward(self, x: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        """x (B, T, d), h0 (B, H) -> logits (B, n_classes) from the final state."""
        h = h0
        for t in range(x.shape[1]):
            z = self.input_layer(x[:, t]) + self.recurrent_layer(h)
            h = (1 - self.alpha) * h + self.alpha * F.leaky_relu(z, LEAKY_SLOPE)
        return self.readout(h)


def make_optimizer(model: nn.Module) -> torch.optim.SGD:
    """The study's optimiser: SGD, learning rate 0.01, momentum 0.1 (Nesterov), no weight decay."""
    return torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM, nesterov=True)


def train_step(
    model: ReferenceCBRNN,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    generator: torch.Generator,
) -> float:
    """One SGD update on the cross-entropy of the final-step logits, gradient norm clipped at 7.5.

    Parameters
    ----------
    model, optimizer
        A network and its optimiser.
    x : tensor (B, T, d)
    y : tensor (B,) int64
    generator : torch.Generator
        Draws h_0 ~ 0.1·U(0, 1); on the device of ``x``.

    Returns
    -------
    float
        The loss before the update.
    """
    h0 = 0.1 * torch.rand(x.shape[0], model.hidden_size, generator=generator, dtype=x.dtype, device=x.device)
    loss = F.cross_entropy(model(x, h0), y)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
    optimizer.step()
    return loss.item()


def train_one_after_another(
    models: list[ReferenceCBRNN],
    optimizers: list[torch.optim.Optimizer],
    batches: list[tuple[torch.Tensor, torch.Tensor]],
    generators: list[torch.Generator],
) -> list[list[float]]:
    """Train each network on all ``batches``, one network after another.

    Returns
    -------
    list of list of float
        ``losses[i][k]``: network i's loss at update k.
    """
    return [
        [train_step(model, optimizer, x, y, generator) for x, y in batches]
        for model, optimizer, generator in zip(models, optimizers, generators, strict=True)
    ]


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> float:
    """Accuracy of the final-step logits on one batch, from h_0 ~ 0.1·U(0, 1) drawn with ``generator``."""
    h0 = 0.1 * torch.rand(x.shape[0], model.hidden_size, generator=generator, dtype=x.dtype, device=x.device)
    return (model(x, h0).argmax(-1) == y).float().mean().item()


def run_curriculum(
    model: nn.Module,
    draw: Callable[[int], tuple[torch.Tensor, torch.Tensor]],
    epochs: int,
    steps: int = 100,
    test_batches: int = 50,
    threshold: float = 0.98,
    start_level: int = 2,
    seed: int = 0,
) -> list[int]:
    """The study's curriculum for one network: ``steps`` updates at level N, then ``test_batches`` tests.

    N rises by one when the mean test accuracy reaches ``threshold``. The initial states of training and
    of testing come from two generators seeded ``seed`` and ``seed + 1``.

    Parameters
    ----------
    model : ReferenceCBRNN or ReferenceRNN
    draw : callable
        ``draw(N) -> (x (B, T, d) float32, y (B,) int64)``, the next batch at level N.
    epochs, steps, test_batches : int
    threshold : float
    start_level, seed : int

    Returns
    -------
    list of int
        The level of every epoch.
    """
    optimizer = make_optimizer(model)
    train_generator = torch.Generator().manual_seed(seed)
    eval_generator = torch.Generator().manual_seed(seed + 1)
    level, levels = start_level, []
    for _ in range(epochs):
        for _ in range(steps):
            train_step(model, optimizer, *draw(level), train_generator)
        accuracies = [evaluate(model, *draw(level), eval_generator) for _ in range(test_batches)]
        accuracy = sum(accuracies) / test_batches
        levels.append(level)
        if accuracy >= threshold:
            level += 1
    return levels


def dms_batch(n: int, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """An N-DMS batch as the study describes it (arXiv:2605.10356), for standalone timing of this script.

    Returns
    -------
    x : tensor (B, M, 1) float32 of fair bits, M uniform in {N+2, ..., 4N+1}
    y : tensor (B,) int64, 1 if the bit N−1 steps before the last equals the last bit
    """
    length = int(torch.randint(n + 2, 4 * n + 2, (1,), generator=generator))
    bits = torch.randint(0, 2, (batch_size, length), generator=generator)
    y = (bits[:, -1] == bits[:, -n]).long()
    return bits.unsqueeze(-1).float(), y


def _curriculum_main(args: argparse.Namespace) -> None:
    """``--curriculum``: networks seed, seed + 1, ... one after another through the DMS curriculum."""
    import numpy as np

    from cbreservoir.tasks import make_batch  # the data only: the same DMS batches as cbreservoir's runs

    results = []
    for seed in range(args.seed, args.seed + args.networks):
        rng = np.random.default_rng(seed)

        def draw(level: int, rng: np.random.Generator = rng) -> tuple[torch.Tensor, torch.Tensor]:
            x, y = make_batch("dms", level, batch_size=args.batch_size, seed=rng)
            return torch.from_numpy(x).float(), torch.from_numpy(y)

        model = ReferenceCBRNN(seed=seed) if args.model == "cbrnn" else ReferenceRNN(seed=seed)
        levels = run_curriculum(model, draw, args.epochs, args.steps, args.test_batches, seed=seed)
        results.append({"seed": seed, "levels": levels})
    print(json.dumps({"model": args.model, "runs": results}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10, help="updates (per epoch with --curriculum)")
    parser.add_argument("--n", type=int, default=5, help="DMS level N")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--curriculum", action="store_true", help="train through the DMS curriculum")
    parser.add_argument("--model", choices=("cbrnn", "rnn"), default="cbrnn", help="with --curriculum")
    parser.add_argument("--epochs", type=int, default=25, help="with --curriculum")
    parser.add_argument("--test-batches", type=int, default=50, help="with --curriculum")
    parser.add_argument("--seed", type=int, default=0, help="first network's seed, with --curriculum")
    args = parser.parse_args(argv)
    if args.curriculum:
        _curriculum_main(args)
        return
    data_generator = torch.Generator().manual_seed(0)
    batches = [dms_batch(args.n, args.batch_size, data_generator) for _ in range(args.steps)]
    models = [ReferenceCBRNN(seed=seed) for seed in range(args.networks)]
    optimizers = [make_optimizer(model) for model in models]
    generators = [torch.Generator().manual_seed(seed) for seed in range(args.networks)]
    start = time.perf_counter()
    train_one_after_another(models, optimizers, batches, generators)
    seconds = time.perf_counter() - start
    print(
        f"{args.networks} networks x {args.steps} updates one after another: "
        f"{seconds / args.steps * 1e3:.1f} ms per update of all {args.networks}"
    )


if __name__ == "__main__":
    main()

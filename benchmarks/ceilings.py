"""What bounds the two speed targets that ``cbreservoir bench`` misses on this machine.

Issue 8 asks for (a) ``Ridge.fit`` on 100,000 x 1,000 states at least 2x faster than reservoirpy's and
(b) one training update of 8 CB-RNNs at least 4x faster than the plain per-network loop of
``cbreservoir.experiments.reference``. This script measures, in one run and side by side, how fast each of
those *could* be made on this machine:

Ridge (float64, the same states as ``cbreservoir bench``)
    reservoirpy's ``Ridge.fit``; cbreservoir's ``Ridge.fit``; the bare Gram product ``X.T @ X`` (numpy
    evaluates it as a BLAS ``syrk``, the one product both fits are built on); and the same product in
    float32 including the cast (what a float32 Gram matrix would give, at float32 accuracy).

Ensemble (float32, DMS N = 5, batch 64, the study's optimiser)
    the reference loop (the peer); ``cbreservoir.training.EnsembleTrainer``; a *hand-written* ensemble
    update with a leading member dimension and no autograd (forward, backpropagation through time with
    the weight gradients batched over time, clipping and Nesterov SGD; :func:`manual_update`, checked
    against the reference loop's autograd update in the same run); and the *matrix products alone* of
    that update (every ``bmm`` it makes, nothing else). The last one is a ceiling no eager CPU
    implementation of the same arithmetic can beat.

Usage::

    python benchmarks/ceilings.py --threads 2            # both sections, about a minute
    python benchmarks/ceilings.py --threads 2 --skip-ridge
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

import numpy as np
import torch

from cbreservoir.experiments import reference
from cbreservoir.experiments.bench import (
    machine_description,
    matmul_peak_gflops,
    time_alternating,
    time_call,
)

#: Parameter order of ``ReferenceCBRNN.parameters()``, the layout :func:`manual_update` works on.
PARAMETER_NAMES = (
    "input_layer.weight", "input_layer.bias",
    "recurrent_layer.weight", "recurrent_layer.bias",
    "granule.weight", "granule.bias",
    "purkinje.weight", "purkinje.bias",
    "nuclei.weight", "nuclei.bias",
    "readout.weight", "readout.bias",
)  # fmt: skip


def stack_parameters(networks: Sequence[torch.nn.Module]) -> dict[str, torch.Tensor]:
    """The networks' parameters stacked along a leading member dimension, detached copies.

    Returns
    -------
    dict
        ``name -> tensor (E, *shape)`` for every name of :data:`PARAMETER_NAMES`.
    """
    named = [dict(network.named_parameters()) for network in networks]
    return {
        name: torch.stack([params[name].detach() for params in named]).clone() for name in PARAMETER_NAMES
    }


def manual_gradients(
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    h0: torch.Tensor,
    alpha: float,
    slope: float,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Loss gradients of E CB-RNNs at once, by hand-written backpropagation through time.

    The model is ``cbreservoir.experiments.reference``'s (the study's equations): the cerebellum reads
    ``[h_{t-1}; x_t]`` and its output is the additive bias inside the core's leaky ReLU; the loss is the
    batch-mean cross-entropy of the final state's logits. ``h_{t-1}`` multiplies ``W_h`` and the
    granule weights' ``h`` columns in one fused product; the weight gradients are one product over all
    time steps each.

    Parameters
    ----------
    params : dict
        :func:`stack_parameters`'s layout, tensors (E, ...).
    x : tensor (B, T, d)
        Inputs, shared by the members.
    y : tensor (B,) int64
    h0 : tensor (E, B, H)
    alpha, slope : float
        Leak 1/τ and the leaky ReLU's negative slope.

    Returns
    -------
    gradients : dict
        Same keys and shapes as ``params``.
    loss : tensor (E,)
    """
    E, B, H = h0.shape
    T, d = x.shape[1], x.shape[2]
    W_g = params["granule.weight"]  # (E, G, H + d)
    W_p, W_n, W_o = params["purkinje.weight"], params["nuclei.weight"], params["readout.weight"]
    # the input-driven parts of the core and granule pre-activations, for all steps at once
    x_weights = torch.cat([params["input_layer.weight"], W_g[:, :, H:]], 1).transpose(1, 2)  # (E, d, H+G)
    x_bias = torch.cat(
        [params["input_layer.bias"] + params["recurrent_layer.bias"], params["granule.bias"]], 1
    )
    driven = torch.matmul(x.reshape(1, B * T, d), x_weights).add_(x_bias.unsqueeze(1)).view(E, B, T, -1)
    h_weights = torch.cat([params["recurrent_layer.weight"], W_g[:, :, :H]], 1).transpose(1, 2)  # (E, H, H+G)
    p_bias, n_bias = params["purkinje.bias"].unsqueeze(1), params["nuclei.bias"].unsqueeze(1)
    states, granules, purkinjes, slopes = [h0], [], [], []
    h = h0
    for t in range(T):
        pre = torch.baddbmm(driven[:, :, t], h, h_weights)  # (E, B, H+G)
        granule = torch.relu(pre[..., H:])
        purkinje = torch.relu(torch.baddbmm(p_bias, granule, W_p.transpose(1, 2)))
        z = torch.baddbmm(pre[..., :H], purkinje, W_n.transpose(1, 2)).add_(n_bias)
        h = (1 - alpha) * h + alpha * torch.nn.functional.leaky_relu(z, slope)
        states.append(h)
        granules.append(granule)
        purkinjes.append(purkinje)
        slopes.append(torch.where(z > 0, alpha, alpha * slope))
    logits = torch.baddbmm(params["readout.bias"].unsqueeze(1), h, W_o.transpose(1, 2))  # (E, B, C)
    log_probs = torch.log_softmax(logits, -1)
    loss = -log_probs.gather(2, y.expand(E, B).unsqueeze(-1)).mean((1, 2))
    d_logits = log_probs.exp_()
    d_logits[:, torch.arange(B), y] -= 1.0
    d_logits /= B
    grads = {"readout.weight": torch.bmm(d_logits.transpose(1, 2), h), "readout.bias": d_logits.sum(1)}
    dh = torch.bmm(d_logits, W_o)
    d_pre, d_purkinje = [None] * T, [None] * T
    for t in reversed(range(T)):
        dz = dh * slopes[t]
        dp = torch.bmm(dz, W_n).mul_(purkinjes[t] > 0)
        dg = torch.bmm(dp, W_p).mul_(granules[t] > 0)
        d_pre[t] = torch.cat([dz, dg], -1)
        d_purkinje[t] = dp
        dh = torch.baddbmm(dh, d_pre[t], h_weights.transpose(1, 2), beta=1 - alpha)
    D = torch.stack(d_pre, 2).view(E, B * T, -1)  # (E, BT, H+G)
    DP = torch.stack(d_purkinje, 2).view(E, B * T, -1)
    prev = torch.stack(states[:-1], 2).view(E, B * T, H)
    inputs = x.reshape(1, B * T, d).expand(E, -1, -1)
    d_h_weights = torch.bmm(D.transpose(1, 2), prev)  # (E, H+G, H)
    d_x_weights = torch.bmm(D.transpose(1, 2), inputs)  # (E, H+G, d)
    d_bias = D.sum(1)
    grads.update({
        "input_layer.weight": d_x_weights[:, :H], "input_layer.bias": d_bias[:, :H],
        "recurrent_layer.weight": d_h_weights[:, :H], "recurrent_layer.bias": d_bias[:, :H].clone(),
        "granule.weight": torch.cat([d_h_weights[:, H:], d_x_weights[:, H:]], 2),
        "granule.bias": d_bias[:, H:],
        "purkinje.weight": torch.bmm(DP.transpose(1, 2), torch.stack(granules, 2).view(E, B * T, -1)),
        "purkinje.bias": DP.sum(1),
        "nuclei.weight": torch.bmm(D[..., :H].transpose(1, 2), torch.stack(purkinjes, 2).view(E, B * T, -1)),
        "nuclei.bias": D[..., :H].sum(1),
    })  # fmt: skip
    return grads, loss


def manual_update(
    params: dict[str, torch.Tensor],
    momentum_buffers: dict[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    h0: torch.Tensor,
    reference,
    alpha: float,
) -> torch.Tensor:
    """One training update of E CB-RNNs in place: :func:`manual_gradients`, per-member clipping, Nesterov SGD.

    Uses the reference loop's constants (learning rate, momentum, clip norm, leaky slope), and
    ``torch.nn.utils.clip_grad_norm_``'s and ``torch.optim.SGD``'s update rules per member.

    Parameters
    ----------
    params, momentum_buffers : dict
        :func:`stack_parameters`'s layout; updated in place. Empty buffers start as the first gradient.
    x, y, h0
        As in :func:`manual_gradients`.
    reference : module
        ``cbreservoir.experiments.reference``.
    alpha : float

    Returns
    -------
    tensor (E,)
        The losses before the update.
    """
    grads, loss = manual_gradients(params, x, y, h0, alpha, reference.LEAKY_SLOPE)
    names = list(PARAMETER_NAMES)
    flat = [grads[name].flatten(1) for name in names]
    norm = torch.cat(flat, 1).norm(dim=1)  # (E,)
    scale = (reference.CLIP_NORM / (norm + 1e-6)).clamp_(max=1.0)
    for name in names:
        grad = grads[name].mul_(scale.view(-1, *[1] * (grads[name].dim() - 1)))
        if name in momentum_buffers:
            momentum_buffers[name].mul_(reference.MOMENTUM).add_(grad)
        else:
            momentum_buffers[name] = grad.clone()
        params[name].sub_(
            grad.add_(momentum_buffers[name], alpha=reference.MOMENTUM), alpha=reference.LEARNING_RATE
        )
    return loss


def products_only(
    E: int, B: int, T: int, H: int, G: int, P: int, d: int, dtype=torch.float32
) -> Callable[[], None]:
    """A function that makes exactly the matrix products of :func:`manual_gradients`, on random tensors.

    Returns
    -------
    callable
        No argument; its time is a floor for the hand-written update on this machine.
    """
    generator = torch.Generator().manual_seed(0)

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator, dtype=dtype)

    h, pre, granule, purkinje = rand(E, B, H), rand(E, B, H + G), rand(E, B, G), rand(E, B, P)
    h_weights, W_p, W_n = rand(E, H, H + G), rand(E, P, G), rand(E, H, P)
    D, DP, prev = rand(E, B * T, H + G), rand(E, B * T, P), rand(E, B * T, H)
    granules, purkinjes, inputs = rand(E, B * T, G), rand(E, B * T, P), rand(E, B * T, d)

    def run() -> None:
        for _ in range(T):  # forward
            torch.bmm(h, h_weights)
            torch.bmm(granule, W_p.transpose(1, 2))
            torch.bmm(purkinje, W_n.transpose(1, 2))
        for _ in range(T):  # backward through time
            torch.bmm(h, W_n)
            torch.bmm(purkinje, W_p)
            torch.bmm(pre, h_weights.transpose(1, 2))
        torch.bmm(D.transpose(1, 2), prev)  # weight gradients, batched over time
        torch.bmm(D.transpose(1, 2), inputs)
        torch.bmm(DP.transpose(1, 2), granules)
        torch.bmm(D[..., :H].transpose(1, 2), purkinjes)

    return run


def update_flops(E: int, B: int, T: int, H: int, G: int, P: int, d: int) -> float:
    """Floating-point operations of one update's products: forward, input gradients, weight gradients."""
    per_step = 2 * B * ((H + d) * (H + G) + G * P + P * H)
    return 3.0 * E * T * per_step


def bench_ensemble_ceiling(
    n_members: int = 8, n: int = 5, batch_size: int = 64, steps: int = 20, repeat: int = 3
) -> dict:
    """Seconds per update of ``n_members`` CB-RNNs: reference, EnsembleTrainer, hand-written, products only.

    All four run on the same DMS batches (shared by the members, one length per step); the first three
    are checked to produce the same losses.

    Returns
    -------
    dict
        ``seconds`` (name -> median seconds per update), ``flops`` (per update, mean length),
        ``max_loss_diff`` (ensemble and hand-written against the reference) and ``mean_length``.
    """
    from cbreservoir.models import CBRNN
    from cbreservoir.tasks import make_batch
    from cbreservoir.training.ensemble import EnsembleTrainer

    seeds = list(range(n_members))
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(steps + 1):
        x, y = make_batch("dms", n, batch_size=batch_size, seed=rng)
        batches.append((torch.from_numpy(x), torch.from_numpy(y)))
    networks = [reference.ReferenceCBRNN(seed=s) for s in seeds]
    params, buffers = stack_parameters(networks), {}
    optimizers = [reference.make_optimizer(network) for network in networks]
    generators = {side: [torch.Generator().manual_seed(s) for s in seeds] for side in ("reference", "manual")}
    ensemble = EnsembleTrainer([CBRNN(1, seed=s) for s in seeds], seeds=seeds)
    losses: dict[str, list[float]] = {}
    alpha, hidden = networks[0].alpha, networks[0].hidden_size

    def reference_updates(chosen: list) -> None:
        for member, (network, optimizer) in enumerate(zip(networks, optimizers, strict=True)):
            generator = generators["reference"][member]
            for x, y in chosen:
                loss = reference.train_step(network, optimizer, x, y, generator)
            losses.setdefault("reference", [0.0] * n_members)[member] = loss

    def manual_updates(chosen: list) -> None:
        for x, y in chosen:
            h0 = torch.stack(
                [0.1 * torch.rand(x.shape[0], hidden, generator=g) for g in generators["manual"]]
            )
            losses["manual"] = manual_update(params, buffers, x, y, h0, reference, alpha).tolist()

    def ensemble_updates(chosen: list) -> None:
        for x, y in chosen:
            losses["ensemble"] = ensemble.train_step([x] * n_members, [y] * n_members)

    sides = {"reference": reference_updates, "ensemble": ensemble_updates, "manual": manual_updates}
    for updates in sides.values():
        updates(batches[:1])
    timed = time_alternating(
        {name: lambda updates=updates: updates(batches[1:]) for name, updates in sides.items()}, repeat=repeat
    )
    seconds = {name: value / steps for name, value in timed.items()}
    mean_length = float(np.mean([x.shape[1] for x, _ in batches[1:]]))
    lengths = sorted({x.shape[1] for x, _ in batches[1:]})
    products = {length: products_only(n_members, batch_size, length, 64, 256, 64, 1) for length in lengths}
    product_seconds = [
        time_call(products[x.shape[1]], repeat=repeat, warmup=1).median for x, _ in batches[1:]
    ]
    seconds["products"] = float(np.mean(product_seconds))
    return {
        "seconds": seconds,
        "flops": float(
            np.mean([update_flops(n_members, batch_size, x.shape[1], 64, 256, 64, 1) for x, _ in batches[1:]])
        ),
        "max_loss_diff": {
            side: float(np.max(np.abs(np.subtract(losses[side], losses["reference"]))))
            for side in ("ensemble", "manual")
        },
        "mean_length": mean_length,
    }


def bench_ridge_ceiling(
    n_samples: int = 100_000,
    n_features: int = 1000,
    n_outputs: int = 10,
    ridge: float = 1e-6,
    repeat: int = 3,
) -> dict[str, float]:
    """Seconds of reservoirpy's and cbreservoir's ``Ridge.fit`` and of the bare Gram products (medians).

    Returns
    -------
    dict
        name -> seconds, for ``reservoirpy``, ``cbreservoir``, ``gram_float64`` and ``gram_float32``.
    """
    from reservoirpy.nodes import Ridge as PeerRidge

    from cbreservoir.nodes import Ridge

    rng = np.random.default_rng(0)
    X = np.tanh(rng.standard_normal((n_samples, n_features)))
    Y = (
        X[:, :n_outputs]
        - 0.5 * X[:, n_outputs : 2 * n_outputs]
        + 0.1 * rng.standard_normal((n_samples, n_outputs))
    )
    measures = {
        "reservoirpy": lambda: PeerRidge(ridge=ridge).fit(X, Y),
        "cbreservoir": lambda: Ridge(ridge=ridge).fit(X, Y),
        "gram_float64": lambda: X.T @ X,
        "gram_float32": lambda: (lambda X32: X32.T @ X32)(X.astype(np.float32)),
    }
    return time_alternating(measures, repeat=repeat)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="what bounds the ridge and ensemble speed targets")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--skip-ridge", action="store_true")
    parser.add_argument("--skip-ensemble", action="store_true")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(f"Machine: {machine_description()}")
    if not args.skip_ridge:
        ridge = bench_ridge_ceiling()
        peer = ridge["reservoirpy"]
        print("\n| Ridge, 100,000 x 1,000 -> 10, float64 | seconds | reservoirpy / this |")
        print("|---|---|---|")
        for name, label in (
            ("reservoirpy", "reservoirpy Ridge.fit (the peer)"),
            ("cbreservoir", "cbreservoir Ridge.fit"),
            ("gram_float64", "X.T @ X alone, float64 (the syrk both fits make)"),
            ("gram_float32", "cast to float32 + X.T @ X in float32"),
        ):
            print(f"| {label} | {ridge[name]:.2f} | {peer / ridge[name]:.2f}x |")
    if not args.skip_ensemble:
        peak = matmul_peak_gflops(dtype="float32")
        result = bench_ensemble_ceiling()
        seconds, flops = result["seconds"], result["flops"]
        peer = seconds["reference"]
        print(
            f"\n| update of 8 CB-RNNs, DMS N=5, batch 64, mean length {result['mean_length']:.1f} "
            f"({flops / 1e9:.2f} GFLOP of products) | ms | reference / this | GFLOP/s | of float32 peak |"
        )
        print("|---|---|---|---|---|")
        for name, label in (
            ("reference", "reference loop, one network after another (the peer)"),
            ("ensemble", "cbreservoir EnsembleTrainer"),
            ("manual", "hand-written ensemble update, no autograd"),
            ("products", "its matrix products alone"),
        ):
            rate = flops / seconds[name] / 1e9
            ratio = peer / seconds[name]
            print(f"| {label} | {seconds[name] * 1e3:.1f} | {ratio:.2f}x | {rate:.0f} | {rate / peak:.0%} |")
        print(
            f"\n4x needs {peer / 4 * 1e3:.1f} ms per update = {4 * flops / peer / 1e9:.0f} GFLOP/s "
            f"({4 * flops / peer / 1e9 / peak:.0%} of the measured float32 peak, {peak:.0f} GFLOP/s, "
            f"{torch.get_num_threads()} thread(s)). Final-loss difference against the reference: "
            + ", ".join(f"{side} {value:.1e}" for side, value in result["max_loss_diff"].items())
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

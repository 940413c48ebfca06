"""Training throughput: cbreservoir against the plain per-network loop on the study's protocol.

Measured as a new user would, side by side in one run, alternating the sides, whole processes, ratios:

(a) one network through the DMS curriculum at the study's settings (100 steps + 50 test batches of 64 per
    epoch, threshold 0.98) on one thread: ``cbreservoir train --model M --task dms --epochs E ...`` against
    ``python -m cbreservoir.experiments.reference --curriculum --model M ...`` (``nn.Linear`` layers,
    explicit time loop,
    the study's SGD; the same seeds, so the same initial weights and the same DMS batches), for the CB-RNN
    and the RNN-only baseline (H = 202);
(b) a curriculum sweep of 8 CB-RNN runs on both cores: ``cbreservoir reproduce --conditions cbrnn --seeds 8
    --n-jobs 2`` (with ``--ensemble``) against the same 8 runs of the plain loop in 2 processes of 4;
(c) in one process, one thread: the GFLOP/s of one training update (its matrix products counted) against
    the machine's float32 matmul rate measured in the same run, and the time of those products alone;
(d) 8 CB-RNNs at the fixed DMS level N = 5, 200 updates and 10 test batches each, every member on its own
    batch stream (so lengths differ between members): ``cbreservoir train --ensemble 8`` against the
    plain loop training the same 8 networks (same seeds, same batches) one after another in one process;
    both print their final training losses, which must agree to float32 rounding.

Every process runs with ``OMP_NUM_THREADS=1`` (and torch's thread count 1). The machine may be shared:
the table gives medians and, for every ratio, its spread over the alternating rounds (min–max), for the
wall clock and for the processes' CPU time (user + system, which other users' load disturbs less).

Usage::

    python benchmarks/throughput.py                     # the full table (about 15 min on 2 idle cores)
    python benchmarks/throughput.py --epochs 5 --repeat 1 --sweep-epochs 2   # a smoke run
    python benchmarks/throughput.py --only ensemble --repeat 3                 # row (d) alone
    python benchmarks/throughput.py --json throughput.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from cbreservoir.experiments import reference
from cbreservoir.experiments.bench import machine_description, matmul_peak_gflops, time_call


def _environment() -> dict[str, str]:
    """One BLAS/OpenMP thread per process; this checkout importable."""
    root = str(Path(__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONPATH": root if not path else f"{root}{os.pathsep}{path}",
    }


def _prefix() -> list[str]:
    """``nice -n -5`` where permitted (root), else nothing."""
    return ["nice", "-n", "-5"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(commands: list[list[str]]) -> tuple[tuple[float, float], list[str]]:
    """``(wall, cpu)`` seconds of running ``commands`` side by side (whole processes) and their stdout."""
    cpu = _children_cpu()
    start = time.perf_counter()
    processes = [
        subprocess.Popen(_prefix() + command, stdout=subprocess.PIPE, env=_environment(), text=True)
        for command in commands
    ]
    outputs = [process.communicate()[0] for process in processes]
    seconds = (time.perf_counter() - start, _children_cpu() - cpu)
    for process, command in zip(processes, commands, strict=True):
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed with exit code {process.returncode}")
    return seconds, outputs


def _alternate(sides: dict[str, object], repeat: int) -> dict[str, list]:
    """Run every side's ``() -> (seconds, info)`` ``repeat`` times, the order flipped every round."""
    names = list(sides)
    results: dict[str, list] = {name: [] for name in names}
    for round_ in range(repeat):
        for name in names if round_ % 2 == 0 else names[::-1]:
            results[name].append(sides[name]())
    return results


def _summary(results: dict[str, list], ours: str, peer: str) -> dict:
    """Per clock (wall, CPU): medians, the ratio of medians (peer / ours) and the per-round ratios' spread."""
    summary = {"ours_info": results[ours][-1][1], "peer_info": results[peer][-1][1]}
    for index, clock in enumerate(("wall", "cpu")):
        ours_seconds = [seconds[index] for seconds, _ in results[ours]]
        peer_seconds = [seconds[index] for seconds, _ in results[peer]]
        ratios = [p / o for p, o in zip(peer_seconds, ours_seconds, strict=True)]
        summary[clock] = {
            "ours_seconds": ours_seconds,
            "peer_seconds": peer_seconds,
            "ours_median": statistics.median(ours_seconds),
            "peer_median": statistics.median(peer_seconds),
            "ratio": statistics.median(peer_seconds) / statistics.median(ours_seconds),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
        }
    return summary


def bench_curriculum(model: str, epochs: int, repeat: int) -> dict:
    """(a): one ``model`` network through ``epochs`` DMS curriculum epochs, cbreservoir vs the plain loop."""
    protocol = ["--epochs", str(epochs), "--steps", "100", "--test-batches", "50", "--seed", "0"]
    python = sys.executable
    ours = [python, "-m", "cbreservoir.cli", "train", "--model", model, "--task", "dms", *protocol]
    peer = [python, "-m", "cbreservoir.experiments.reference", "--curriculum"]
    peer += ["--model", model, "--networks", "1"]

    def run_ours() -> tuple[float, list[int]]:
        seconds, (output,) = _run([[*ours, "--json"]])
        return seconds, json.loads(output)["levels"]

    def run_peer() -> tuple[float, list[int]]:
        seconds, (output,) = _run([[*peer, *protocol]])
        return seconds, json.loads(output)["runs"][0]["levels"]

    return _summary(_alternate({"ours": run_ours, "peer": run_peer}, repeat), "ours", "peer")


def bench_sweep(epochs: int, repeat: int, ensemble: int) -> dict:
    """(b): 8 CB-RNN curriculum runs on 2 cores, ``cbreservoir reproduce`` vs 2 plain-loop processes of 4."""
    protocol = ["--steps", "100", "--test-batches", "50", "--epochs", str(epochs)]

    def run_ours() -> tuple[float, str]:
        with tempfile.TemporaryDirectory() as directory:
            command = [
                sys.executable, "-m", "cbreservoir.cli", "reproduce", "--task", "dms", "--profile", "study",
                "--conditions", "cbrnn", "--seeds", "8", "--set", f"n_epochs={epochs}", "--n-jobs", "2",
                "--ensemble", str(ensemble), "--output-dir", directory, "--quiet",
            ]  # fmt: skip
            seconds, _ = _run([command])
        return seconds, f"reproduce --n-jobs 2 --ensemble {ensemble}"

    def run_ensembles() -> tuple[float, str]:
        train = [sys.executable, "-m", "cbreservoir.cli", "train", "--model", "cbrnn", "--task", "dms"]
        train += [*protocol, "--ensemble", "4", "--json"]
        seconds, _ = _run([[*train, "--seed", str(seed)] for seed in (0, 4)])
        return seconds, "2 processes of train --ensemble 4"

    def run_peer() -> tuple[float, str]:
        peer = [sys.executable, "-m", "cbreservoir.experiments.reference", "--curriculum", "--networks", "4"]
        commands = [[*peer, "--seed", str(seed), *protocol] for seed in (0, 4)]
        seconds, _ = _run(commands)
        return seconds, "2 processes x 4 networks"

    results = _alternate({"ours": run_ours, "ensembles": run_ensembles, "peer": run_peer}, repeat)
    return {"reproduce": _summary(results, "ours", "peer"), "train": _summary(results, "ensembles", "peer")}


#: The peer of (d), run as ``python -c``: the plain loop over the 8 networks ``train --ensemble 8`` trains
#: (member i: seed SEED + i, its own ``make_batch`` stream seeded SEED + i, initial states from a generator
#: seeded SEED + i), one network after another; it imports only the reference loop and the task data.
FIXED_LEVEL_PEER = """
import json, sys
import numpy as np, torch
from cbreservoir.experiments import reference
from cbreservoir.tasks import make_batch
n, steps, members, seed, test_batches = (int(value) for value in sys.argv[1:6])
losses, accuracy = [], []
for member_seed in range(seed, seed + members):
    rng = np.random.default_rng(member_seed)
    def draw():
        x, y = make_batch("dms", n, batch_size=64, seed=rng)
        return torch.from_numpy(x).float(), torch.from_numpy(y)
    network = reference.ReferenceCBRNN(seed=member_seed)
    optimizer = reference.make_optimizer(network)
    generator = torch.Generator().manual_seed(member_seed)
    eval_generator = torch.Generator().manual_seed(member_seed + 1)
    for _ in range(steps):
        loss = reference.train_step(network, optimizer, *draw(), generator)
    tests = [reference.evaluate(network, *draw(), eval_generator) for _ in range(test_batches)]
    losses.append(loss)
    accuracy.append(sum(tests) / test_batches)
print(json.dumps({"final_train_loss": losses, "accuracy": accuracy}))
"""


def bench_fixed_level_ensemble(repeat: int, members: int = 8, n: int = 5, steps: int = 200) -> dict:
    """(d): ``train --ensemble 8`` at DMS N = 5 against the plain loop over the same 8 networks."""
    ours = [sys.executable, "-m", "cbreservoir.cli", "train", "--model", "cbrnn", "--task", "dms"]
    ours += ["--mode", "fixed_level", "--n", str(n), "--steps", str(steps)]
    ours += ["--ensemble", str(members), "--seed", "0", "--json"]
    peer = [sys.executable, "-c", FIXED_LEVEL_PEER, str(n), str(steps), str(members), "0", "10"]

    def run(command: list[str]) -> tuple[tuple[float, float], list[float]]:
        seconds, (output,) = _run([command])
        return seconds, json.loads(output)["final_train_loss"]

    summary = _summary(
        _alternate({"ours": lambda: run(ours), "peer": lambda: run(peer)}, repeat), "ours", "peer"
    )
    difference = np.abs(np.subtract(summary["ours_info"], summary["peer_info"]))
    summary["max_final_loss_diff"] = float(difference.max())
    return summary


def update_flops(batch: int, length: int, hidden: int, granule: int, purkinje: int, features: int) -> float:
    """Products of one CB-RNN update: forward, backward through time and weight gradients, 3 x forward."""
    per_step = (hidden + features) * (hidden + granule) + granule * purkinje + purkinje * hidden
    return 3.0 * 2 * batch * length * per_step


def bench_update_rate(level: int, repeat: int, steps: int = 20) -> dict:
    """(c): GFLOP/s of cbreservoir's and the plain loop's CB-RNN update at DMS level ``level``, one thread.

    Also times the update's matrix products alone (the same shapes, nothing else), against the machine's
    float32 matmul rate (a 1024 x 1024 product).
    """
    from cbreservoir.models import CBRNN
    from cbreservoir.tasks import make_batch
    from cbreservoir.training import GradientTrainer

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    length = 3 * level  # a typical DMS length at N (uniform in N + 2 ... 4N + 1)
    batches = []
    while len(batches) < steps:
        x, y = make_batch("dms", level, batch_size=64, seed=rng)
        if x.shape[1] == length:
            batches.append((torch.from_numpy(x).float(), torch.from_numpy(y)))
    trainer = GradientTrainer(CBRNN(1, seed=0), seed=0)
    network = reference.ReferenceCBRNN(seed=0)
    optimizer = reference.make_optimizer(network)
    generator = torch.Generator().manual_seed(0)
    H, G, P, B = 64, 256, 64, 64
    shapes = [(B, H, H + G), (B, G, P), (B, P, H)] * length  # forward
    shapes += [(B, H, P), (B, P, G), (B, H + G, H)] * length  # backward through time
    shapes += [(H + G, B * length, H), (H + G, B * length, 1), (P, B * length, G), (H, B * length, P)]
    operands = [(torch.rand(m, k), torch.rand(k, n)) for m, k, n in shapes]

    def ours() -> None:
        for x, y in batches:
            trainer.train_step(x, y)

    def peer() -> None:
        for x, y in batches:
            reference.train_step(network, optimizer, x, y, generator)

    def products() -> None:
        for a, b in operands:
            torch.mm(a, b)

    seconds = {}
    for function in (ours, peer, products):
        function()  # warm-up
    rounds: dict[str, list[float]] = {"ours": [], "peer": [], "products": []}
    for _ in range(repeat):
        for name, function in (("ours", ours), ("peer", peer), ("products", products)):
            rounds[name].append(time_call(function, repeat=1, warmup=0).median)
    peak = matmul_peak_gflops(dtype="float32")
    flops = update_flops(B, length, H, G, P, 1)
    for name, values in rounds.items():
        per_update = statistics.median(values) / (steps if name != "products" else 1)
        seconds[name] = per_update
    return {
        "level": level,
        "length": length,
        "flops_per_update": flops,
        "seconds_per_update": seconds,
        "gflops": {name: flops / value / 1e9 for name, value in seconds.items()},
        "peak_gflops": peak,
    }


def format_table(result: dict) -> str:
    """The Markdown table of a :func:`main` result."""
    lines = [f"Machine: {result['machine']}", ""]
    lines += [
        "| workload (one thread per process) | clock | cbreservoir | plain loop | ratio (spread) | target |",
        "|---|---|---|---|---|---|",
    ]
    targets = {"cbrnn": "≥ 2×", "rnn": "≥ 1.5×", "sweep": "≥ 1.5×"}
    sweep = f"8 CB-RNN curriculum runs ({result['sweep_epochs']} epochs each) on 2 cores"
    rows = {
        "cbrnn": f"one CB-RNN, {result['epochs']}-epoch DMS curriculum, whole process",
        "rnn": f"one RNN-only (H = 202), {result['epochs']}-epoch DMS curriculum, whole process",
    }
    summaries = {key: result[key] for key in rows if key in result}
    rows = {key: label for key, label in rows.items() if key in result}
    if "sweep" in result:
        rows["reproduce"] = f"{sweep}: `reproduce --n-jobs 2 --ensemble {result['ensemble']}`"
        rows["train"] = f"{sweep}: 2 processes of `train --ensemble 4`"
        summaries.update(result["sweep"])
        targets.update(reproduce=targets["sweep"], train=targets["sweep"])
    for key, label in rows.items():
        for clock in ("wall", "cpu"):
            row = summaries[key][clock]
            lines.append(
                f"| {label} | {clock} | {row['ours_median']:.1f} s | {row['peer_median']:.1f} s | "
                f"{row['ratio']:.2f}× ({row['ratio_min']:.2f}–{row['ratio_max']:.2f}) | {targets[key]} |"
            )
    if "ensemble_fixed" in result:
        label = (
            "8 CB-RNNs, DMS N = 5, 200 updates each, whole process: `train --ensemble 8` vs the loop over 8"
        )
        for clock in ("wall", "cpu"):
            row = result["ensemble_fixed"][clock]
            lines.append(
                f"| {label} | {clock} | {row['ours_median']:.1f} s | {row['peer_median']:.1f} s | "
                f"{row['ratio']:.2f}× ({row['ratio_min']:.2f}–{row['ratio_max']:.2f}) | ≥ 3× |"
            )
        lines.append(
            f"\nensemble: final training losses of the 8 members differ from the plain loop's by at most "
            f"{result['ensemble_fixed']['max_final_loss_diff']:.1e}"
        )
    for key in ("cbrnn", "rnn"):
        if key in result:
            lines.append(
                f"\n{key}: levels reached, cbreservoir {max(result[key]['ours_info'])}, "
                f"plain loop {max(result[key]['peer_info'])}"
            )
    if "rates" in result:
        lines += [
            "",
            "| one CB-RNN update, batch 64 (one thread) | ms | GFLOP/s | of float32 matmul peak |",
            "|---|---|---|---|",
        ]
        for rate in result["rates"]:
            peak = rate["peak_gflops"]
            for name, label in (
                ("ours", "cbreservoir GradientTrainer.train_step"),
                ("peer", "plain loop train_step"),
                ("products", "its matrix products alone"),
            ):
                gflops = rate["gflops"][name]
                lines.append(
                    f"| N = {rate['level']}, T = {rate['length']}: {label} | "
                    f"{rate['seconds_per_update'][name] * 1e3:.2f} | {gflops:.0f} | {gflops / peak:.0%} |"
                )
            lines.append(f"| float32 matmul peak (1024², same run) | | {peak:.0f} | 100% |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="training throughput against the plain per-network loop")
    parser.add_argument("--epochs", type=int, default=25, help="curriculum epochs of (a) (%(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="alternating rounds per row (%(default)s)")
    parser.add_argument("--sweep-epochs", type=int, default=4, help="epochs per run of (b) (%(default)s)")
    parser.add_argument("--ensemble", type=int, default=4, help="--ensemble of (b)'s reproduce (%(default)s)")
    parser.add_argument(
        "--only",
        choices=("curriculum", "sweep", "rates", "ensemble"),
        nargs="+",
        default=None,
        help="measure only these parts: (a) curriculum, (b) sweep, (c) rates, (d) ensemble (default: all)",
    )
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--skip-rates", action="store_true")
    parser.add_argument("--json", default=None, help="also write the measurements to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    result: dict = {"machine": machine_description(), "epochs": args.epochs}
    result["sweep_epochs"], result["ensemble"] = args.sweep_epochs, args.ensemble
    parts = set(args.only or ("curriculum", "sweep", "rates", "ensemble"))
    if "curriculum" in parts:
        for model in ("cbrnn", "rnn"):
            result[model] = bench_curriculum(model, args.epochs, args.repeat)
    if "sweep" in parts and not args.skip_sweep:
        result["sweep"] = bench_sweep(args.sweep_epochs, args.repeat, args.ensemble)
    if "rates" in parts and not args.skip_rates:
        result["rates"] = [bench_update_rate(level, args.repeat) for level in (5, 15)]
    if "ensemble" in parts:
        result["ensemble_fixed"] = bench_fixed_level_ensemble(args.repeat)
    print(format_table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

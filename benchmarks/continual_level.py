"""Which fixed level N suits the continual plan? Epochs a fresh network needs for its first phase (DMS).

Trains one network per condition (CB-RNN, RNN-only, full reservoir; study-profile optimiser, seed 0) through
the first phase of :class:`cbreservoir.training.ContinualTrainer` at level N and prints the first epoch whose
DMS test accuracy reached the criterion (98 %) and every fifth epoch's accuracy.

    nice python benchmarks/continual_level.py 3 60      # N = 3, 60 epochs
    nice python benchmarks/continual_level.py 4 40
"""

from __future__ import annotations

import argparse
import time

from cbreservoir.experiments.reproduce import get_profile
from cbreservoir.experiments.reproduce.conditions import build_condition_model, build_condition_schedule
from cbreservoir.experiments.reproduce.run import optimizer_settings
from cbreservoir.training import ContinualTrainer, GradientTrainer
from cbreservoir.utils.threads import torch_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("level", type=int, help="the fixed level N (>= 3)")
    parser.add_argument("epochs", type=int, help="epochs of the first phase")
    args = parser.parse_args()
    profile = get_profile("study")
    with torch_threads(1):
        for condition in ("cbrnn", "rnn", "full_reservoir"):
            model = build_condition_model(condition, "continual", seed=0)
            schedule = build_condition_schedule(condition, "continual")
            trainer = GradientTrainer(model, schedule=schedule, seed=0, **optimizer_settings(profile))
            run = ContinualTrainer(trainer, start_level=args.level, phase_epochs=args.epochs, progress=False)
            start = time.perf_counter()
            history = run.run(args.epochs)
            solved = next((record.epoch for record in history.records if record.solved), None)
            accuracies = [round(record.accuracy, 3) for record in history.records][::5]
            print(
                f"{condition}: N = {args.level}, first epoch at the criterion {solved}, accuracy every 5th "
                f"epoch {accuracies} ({time.perf_counter() - start:.0f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()

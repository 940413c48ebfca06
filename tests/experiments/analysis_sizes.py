"""Tiny training profile, analysis sizes and reproductions shared by the analysis-report tests."""

from cbreservoir.experiments.analysis_report import AnalysisSettings
from cbreservoir.experiments.reproduce import reproduce
from cbreservoir.experiments.reproduce.profiles import get_profile

#: Two epochs of two steps; threshold 0.01: every epoch passes its level (levels 2 and 3).
TINY_PROFILE = get_profile("quick").replace(n_epochs=2, steps_per_epoch=2, test_batches=1, threshold=0.01)
TINY_SETTINGS = AnalysisSettings(
    test_batches=1,
    batch_size=8,
    recovery_steps=2,
    dimensionality_batches=2,
    drive_trials=2,
    drive_steps=40,
    drive_warmup=5,
    population_max_lag=10,
    unit_max_lag=6,
    fit_units=False,
)


def tiny_reproduction(output_dir, *, seeds, keep_checkpoints):
    """A tiny DMS reproduction of CB-RNN and full reservoir into ``output_dir``; returns it."""
    reproduce(
        "dms",
        profile=TINY_PROFILE,
        seeds=seeds,
        conditions=["cbrnn", "full_reservoir"],
        output_dir=output_dir,
        backend="sequential",
        keep_checkpoints=keep_checkpoints,
        progress=False,
    )
    return output_dir

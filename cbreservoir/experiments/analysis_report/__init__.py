"""The analysis report: train (or resume) quick-profile models, analyse them, write figures and JSON.

For each condition (by default the end-to-end CB-RNN and the full reservoir, see
:mod:`cbreservoir.experiments.reproduce.conditions`) the model is trained through the curriculum of
:class:`~cbreservoir.training.CurriculumTrainer` with the settings of a reproduction profile. Every
solved level leaves a checkpoint; the report then measures, per checkpoint, the accuracy with the
cerebellum on and off and the dimensionality of each population, and on the weights that passed the
highest level the readout recovery, the timescales of each population under random input and the
granule-layer sparseness.

Outputs in ``output_dir``: ``summary.json`` and the figures ``learning_curves.png``, ``ablation.png``,
``readout_recovery.png``, ``dimensionality.png``, ``timescales.png``, ``sparseness.png``. Training
resumes from ``checkpoint_dir`` (default ``output_dir/checkpoints``), so a second call only analyses.

Examples
--------
>>> from cbreservoir.experiments.analysis_report import run_analysis
>>> summary = run_analysis("analysis-out", task="dms", profile="quick", seed=0)  # doctest: +SKIP
>>> summary["models"]["cbrnn"]["readout_recovery"]["zero_shot_gap"]  # doctest: +SKIP

One job per module: :mod:`.train` (the curriculum and its checkpoints), :mod:`.measure` (the
analyses of one model), :mod:`.figures` (the plots), :mod:`._report` (:func:`run_analysis`),
:mod:`._pooled` (several networks: :func:`run_analyses`, :func:`pool_analyses`). This module only
re-exports.
"""

from cbreservoir.experiments.analysis_report._pooled import (
    POOLED_MEASURES,
    pool_analyses,
    pooled_markdown,
    run_analyses,
)
from cbreservoir.experiments.analysis_report._report import ANALYSIS_TASKS, DEFAULT_CONDITIONS, run_analysis
from cbreservoir.experiments.analysis_report.measure import AnalysisSettings, granule_sparseness

__all__ = [
    "ANALYSIS_TASKS",
    "DEFAULT_CONDITIONS",
    "POOLED_MEASURES",
    "AnalysisSettings",
    "granule_sparseness",
    "pool_analyses",
    "pooled_markdown",
    "run_analyses",
    "run_analysis",
]

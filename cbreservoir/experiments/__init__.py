"""Experiments on the toolkit: the study's reproduction, the analysis report, sweeps, benchmarks, the demo.

* :mod:`cbreservoir.experiments.reproduce` — the study's comparison as a resumable sweep, tables and figures;
* :mod:`cbreservoir.experiments.analysis_report` — train, analyse (ablation, dimensionality, timescales,
  sparseness) and plot one network per condition;
* :mod:`cbreservoir.experiments.sweep` — resumable parameter sweeps (joblib: loky locally, dask on a cluster);
* :mod:`cbreservoir.experiments.bench` — speed benchmarks against named peers;
* :mod:`cbreservoir.experiments.demo` — the README's first command.
"""

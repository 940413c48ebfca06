"""The analysis report over several networks: one :func:`run_analysis` per seed, pooled into one table.

:func:`pool_analyses` takes the ``summary.json`` of each network (one seed each, same task, profile
and conditions) and gives, per condition and scalar measure, mean, SD and SEM over networks
(:func:`~cbreservoir.analysis.metrics.summarize`) and, for every condition beside the first, the ratio
of its mean to the first condition's with a percentile bootstrap interval, a Welch t-test and a
permutation test (:func:`~cbreservoir.analysis.metrics.compare_groups`). :func:`pooled_markdown`
renders it; :func:`run_analyses` analyses each seed into ``output_dir/seed<S>`` and writes
``pooled.json`` and ``pooled.md`` beside them.

Examples
--------
>>> from cbreservoir.experiments.analysis_report import run_analyses
>>> pooled = run_analyses(
...     "out", task="parity", seeds=[0, 1, 2, 3], reproduction_dir="runs/parity"
... )  # doctest: +SKIP
>>> pooled["measures"]["cbrnn"]["participation ratio, core"]["mean"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cbreservoir.analysis.metrics import compare_groups, summarize
from cbreservoir.experiments.analysis_report._report import run_analysis
from cbreservoir.experiments.analysis_report.figures import plot_against_level
from cbreservoir.experiments.reproduce.conditions import CONDITIONS
from cbreservoir.utils.files import atomic_write_text
from cbreservoir.utils.strict_json import json_ready

__all__ = ["POOLED_MEASURES", "pool_analyses", "pooled_markdown", "run_analyses"]

_POPULATIONS = ("core", "granule", "purkinje", "nuclei", "core (cerebellum off)")


def _path(*keys: str | int) -> Callable[[dict], float | None]:
    def get(model: dict) -> float | None:
        value: Any = model
        for key in keys:
            if isinstance(key, int):
                if not isinstance(value, list) or key >= len(value):
                    return None  # a task with fewer heads
            elif not isinstance(value, dict) or key not in value:
                return None  # not measured with these settings (e.g. no per-unit fits)
            value = value[key]
        missing = value is None or not math.isfinite(value)  # JSON null (NaN or beyond the window)
        return None if missing else float(value)

    return get


def _per_population(label: str, *keys: str) -> dict[str, Callable[[dict], float | None]]:
    return {f"{label}, {population}": _path(keys[0], population, *keys[1:]) for population in _POPULATIONS}


POOLED_MEASURES: dict[str, Callable[[dict], float | None]] = {
    "analysed level N": _path("analysis_level"),
    "accuracy, cerebellum on": _path("readout_recovery", "intact"),
    "accuracy, cerebellum off": _path("readout_recovery", "zero_shot"),
    "accuracy, cerebellum off, readout retrained": _path("readout_recovery", "recovered"),
    **{
        f"accuracy of head {head}, {state}": _path("readout_recovery", "heads", key, head)
        for head in (0, 1)
        for state, key in (
            ("cerebellum on", "intact"),
            ("cerebellum off", "zero_shot"),
            ("cerebellum off, readout retrained", "recovered"),
        )
    },
    **_per_population("participation ratio", "dimensionality", "participation_ratio"),
    **_per_population("d90", "dimensionality", "d90"),
    **_per_population("d95", "dimensionality", "d95"),
    **_per_population("d95 / units", "dimensionality", "d95_per_unit"),
    **_per_population(
        "τ_pop, 1/e lag of the summed population (steps)", "timescales", "population_timescale"
    ),
    **_per_population("median unit τ_net (steps)", "timescales", "median_unit_timescale"),
    **_per_population("mean unit τ_net (steps)", "timescales", "mean_unit_timescale"),
    **_per_population("fraction of units fitted by two timescales", "timescales", "fraction_double"),
    **{
        f"granule {name}, {state}": _path("granule_sparseness", state, key)
        for state in ("trained", "initial")
        for name, key in (
            ("population sparseness S", "population_sparseness_mean"),
            ("lifetime sparseness S", "lifetime_sparseness_mean"),
            ("coding level", "coding_level"),
        )
    },
}
"""The scalar measures pooled over networks: name -> getter on one condition's entry of a summary
(None where a network's value is absent or not finite, e.g. no timescale fit or a one-head task's second
head: left out of the statistics; measures no network has are left out of the Markdown table)."""


def _statistics(values: list[float | None]) -> dict[str, Any]:
    """:func:`~cbreservoir.analysis.metrics.summarize`, or its fields as None when no network has a value."""
    if all(value is None for value in values):
        return {"mean": None, "sd": None, "sem": None, "n": 0, "n_missing": len(values)}
    return summarize(values)


def pool_analyses(summaries: Sequence[dict]) -> dict[str, Any]:
    """Pool the analysis summaries of several networks (one per seed) into statistics over networks.

    Parameters
    ----------
    summaries : sequence of dict
        What :func:`run_analysis` returned (or wrote to ``summary.json``), at least 2, with distinct
        seeds and the same ``task``, ``profile`` and conditions.

    Returns
    -------
    dict
        ``task``, ``profile``, ``seeds``, ``conditions``, ``measures`` (condition -> measure ->
        :func:`~cbreservoir.analysis.metrics.summarize` of the per-network values, plus ``values``) and
        ``comparisons`` (condition -> measure -> :func:`~cbreservoir.analysis.metrics.compare_groups`
        against the first condition; absent where that is undefined: a reference mean of 0 or a
        missing value).

    Raises
    ------
    ValueError
        Fewer than 2 summaries, repeated seeds, or summaries of different tasks, profiles or conditions.
    """
    if len(summaries) < 2:
        raise ValueError(f"expected the summaries of at least 2 networks, got {len(summaries)}")
    seeds = [summary["seed"] for summary in summaries]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"expected one summary per seed, got seeds {seeds}")
    first = summaries[0]
    conditions = list(first["models"])
    for summary in summaries[1:]:
        for key, value in (("task", first["task"]), ("profile", first["profile"])):
            if summary[key] != value:
                raise ValueError(f"expected summaries of one {key}, got {value!r} and {summary[key]!r}")
        if list(summary["models"]) != conditions:
            raise ValueError(f"expected the conditions {conditions}, got {list(summary['models'])}")
    values = {
        condition: {
            name: [get(summary["models"][condition]) for summary in summaries]
            for name, get in POOLED_MEASURES.items()
        }
        for condition in conditions
    }
    measures = {
        condition: {name: {**_statistics(series), "values": series} for name, series in by_name.items()}
        for condition, by_name in values.items()
    }
    reference = conditions[0]
    comparisons: dict[str, dict[str, Any]] = {}
    for condition in conditions[1:]:
        comparisons[condition] = {}
        for name in POOLED_MEASURES:
            series, base = values[condition][name], values[reference][name]
            if None not in series + base and sum(base) != 0:
                with warnings.catch_warnings():  # resamples of a group of (near-)equal values: expected
                    warnings.simplefilter("ignore", RuntimeWarning)
                    comparisons[condition][name] = compare_groups(series, base)
    return {
        "task": first["task"],
        "profile": first["profile"],
        "seeds": seeds,
        "conditions": conditions,
        "reference": reference,
        "measures": measures,
        "comparisons": comparisons,
    }


def _format(value: float | None, spec: str = ".3g") -> str:
    """``value`` formatted, or "–" where it is missing (None after JSON, or NaN)."""
    return "–" if value is None or not math.isfinite(value) else format(value, spec)


def pooled_markdown(pooled: dict[str, Any]) -> str:
    """The pooled analysis as a Markdown table: mean ± SEM per condition, ratio to the reference with its CI.

    Parameters
    ----------
    pooled : dict
        The result of :func:`pool_analyses`.

    Returns
    -------
    str
    """
    conditions, reference = pooled["conditions"], pooled["reference"]
    others = conditions[1:]
    label = {condition: CONDITIONS[condition].label for condition in conditions}
    lines = [
        f"# Analyses over {len(pooled['seeds'])} networks per condition (task {pooled['task']}, "
        f"profile {pooled['profile']['name']!r}, seeds {pooled['seeds']})",
        "",
        "Mean ± SEM over networks; each network analysed with the weights that passed its highest level. "
        f"Ratios are mean / mean of {label[reference]} with a 95 % percentile bootstrap interval over "
        "networks and the two-sided Welch t-test p; – where a network had no value.",
        "",
        "| measure | "
        + " | ".join(label[c] for c in conditions)
        + "".join(f" | {label[c]} / {label[reference]} [95 % CI], Welch p" for c in others)
        + " |",
        "| --- | " + " | ".join("---" for _ in conditions) + " | ---" * len(others) + " |",
    ]
    for name in POOLED_MEASURES:
        if all(pooled["measures"][c][name]["n"] == 0 for c in conditions):
            continue  # not measured for this task (e.g. a second head) or with these settings
        cells = [
            f"{_format(pooled['measures'][c][name]['mean'])} ± {_format(pooled['measures'][c][name]['sem'])}"
            for c in conditions
        ]
        for condition in others:
            comparison = pooled["comparisons"][condition].get(name)
            cells.append(
                "–"
                if comparison is None
                else f"{_format(comparison['ratio'], '.2f')} [{_format(comparison['ci_low'], '.2f')}, "
                f"{_format(comparison['ci_high'], '.2f')}], {_format(comparison['welch_p'])}"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run_analyses(
    output_dir: str | os.PathLike[str], *, seeds: Sequence[int], **analysis: Any
) -> dict[str, Any]:
    """:func:`run_analysis` for each seed into ``output_dir/seed<S>``, then ``pooled.json``, ``pooled.md`` and
    ``against_level.png`` (timescales and dimensionality against N, pooled over the networks).

    Parameters
    ----------
    output_dir : str or Path
    seeds : sequence of int
        At least 2 distinct seeds: one network per condition and seed.
    **analysis
        The keyword arguments of :func:`run_analysis` other than ``output_dir`` and ``seed`` (its
        checkpoint folders already carry the seed).

    Returns
    -------
    dict
        The result of :func:`pool_analyses`, with ``files`` (the paths written).
    """
    seeds = list(seeds)
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ValueError(f"expected at least 2 distinct seeds, got {seeds}")
    for forbidden in ("output_dir", "seed"):
        if forbidden in analysis:
            raise TypeError(
                f"run_analyses() sets {forbidden} itself; got {forbidden}={analysis[forbidden]!r}"
            )
    output_dir = Path(output_dir)
    summaries = [run_analysis(output_dir / f"seed{seed}", seed=seed, **analysis) for seed in seeds]
    pooled = json_ready(pool_analyses(summaries))
    files = {
        "pooled_json": output_dir / "pooled.json",
        "pooled_md": output_dir / "pooled.md",
        "against_level": output_dir / "against_level.png",
    }
    atomic_write_text(files["pooled_json"], json.dumps(pooled, indent=1))
    atomic_write_text(files["pooled_md"], pooled_markdown(pooled))
    plot_against_level(summaries, files["against_level"])
    return {**pooled, "files": {name: str(path) for name, path in files.items()}}

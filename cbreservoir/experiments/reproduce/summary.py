"""Summary tables of a reproduction: the study's results table layout, our numbers beside the study's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cbreservoir.experiments.reproduce.conditions import (
    CONDITIONS,
    INTERLEAVE_PERIOD,
    MAIN_CONDITIONS,
    SCALING_CONDITIONS,
)
from cbreservoir.numerics.study import STUDY

__all__ = [
    "COMPARISONS",
    "STUDY_RESULTS",
    "STUDY_SWITCHING",
    "compare_rows",
    "markdown_table",
    "summarize_task",
]

#: Pairs (condition, its reference) compared by :func:`compare_rows`: each against its fully recurrent
#: reference, the adaptive schedule also against the full reservoir (does it keep its speed?) and the
#: end-to-end CB-RNN (does it recover its reach?), and the CB-RNN against the recurrent auxiliary module of
#: its size (a feedforward module, or only more parameters?).
COMPARISONS: tuple[tuple[str, str], ...] = (
    ("cbrnn", "rnn"),
    ("full_reservoir", "rnn"),
    ("interleaved", "rnn"),
    ("adaptive", "rnn"),
    ("adaptive", "full_reservoir"),
    ("adaptive", "cbrnn"),
    ("cbrnn_reduced", "rnn_reduced"),
    ("gru_cb", "gru"),
    ("lstm_cb", "lstm"),
    ("rnn_aux", "rnn"),
    ("cbrnn", "rnn_aux"),
)

#: The study's ratio CB-RNN / RNN-only of mean epochs to half of the global max N (its results table;
#: Voce, Giannakakis & Clopath 2026, arXiv:2605.10356).
STUDY_RATIOS: dict[str, float] = {"dms": 215 / 456, "parity": 153 / 312, "multitask": 169 / 550}

#: The study's results table: task -> (global max N, {condition: (max N, epochs to half of global max N)}).
STUDY_RESULTS: dict[str, tuple[int, dict[str, tuple[float, float]]]] = {
    "dms": (
        38,
        {"cbrnn": (34.8, 215), "full_reservoir": (30.0, 275), "interleaved": (35.6, 264), "rnn": (31.4, 456)},
    ),
    "parity": (
        19,
        {"cbrnn": (18.8, 153), "full_reservoir": (15.1, 176), "interleaved": (16.8, 166), "rnn": (16.8, 312)},
    ),
    "multitask": (
        23,
        {"cbrnn": (21.9, 169), "full_reservoir": (17.8, 236), "interleaved": (19.3, 219), "rnn": (16.3, 550)},
    ),
}

#: The study's task switching result: mean active N over the first 650 epochs.
STUDY_SWITCHING: dict[str, float] = {"cbrnn": 12.5, "full_reservoir": 12.0, "rnn": 9.8}


def record_units(record: Mapping[str, Any]) -> int:
    """The core size H of a run record or summary row: key ``units``, or ``hidden_size`` in older files.

    Raises
    ------
    KeyError
        The record has neither key.
    """
    if "units" in record:
        return record["units"]
    if "hidden_size" in record:
        return record["hidden_size"]
    raise KeyError(f"expected a record with 'units' (or the older 'hidden_size'), got keys {sorted(record)}")


def _row_label(condition: str, task: str, units: Sequence[int]) -> str:
    label = CONDITIONS[condition].label
    if condition == "interleaved":
        return f"{label} (k = {INTERLEAVE_PERIOD[task]})"
    if CONDITIONS[condition].matched_to is not None and len(set(units)) == 1:
        return f"{label} (H = {units[0]})"
    return label


def summarize_task(
    task: str, runs: Sequence[dict], *, n_epochs: int, switching_window: int | None = None
) -> dict:
    """Summarise the runs of one task per condition (and per granule size G when several were run).

    Parameters
    ----------
    task : str
        The task the runs belong to.
    runs : sequence of dict
        Per-run results of :func:`cbreservoir.experiments.reproduce.run.run_cell` (keys ``condition``,
        ``n_granule``, ``levels``, ``n_parameters``, ``units`` (or ``hidden_size`` in older records),
        ``seconds``...).
    n_epochs : int
        Epochs per run; runs that never reach half of the global max N count as ``n_epochs`` (censored).
    switching_window : int, optional
        For ``task="switching"``: the epochs every metric of the rows is taken over, the comparisons
        included (all if None): the study reports task switching over its first 650 of 1000 epochs.

    Returns
    -------
    dict
        ``task``, ``n_epochs``, ``global_max`` (over the main conditions at G = 256, or over all runs if
        none), ``half_max``, ``switching_window`` (None unless switching), ``study_global_max``;
        ``rows``: one dict per (condition, G) with ``max_level``, ``epochs_to_half_max``, ``auc``,
        ``mean_level``, ``seconds`` and (switching) ``active_mean_level`` and ``inactive_task_accuracy``
        (:func:`~cbreservoir.analysis.metrics.inactive_task_accuracy`; None if no run switched) as
        :func:`cbreservoir.analysis.metrics.summarize` dicts (mean, sd, sem, n), ``censored`` (runs that did
        not reach half-max), ``epochs_to_level`` (per level N: mean first epoch over the runs that reached it,
        and how many did), the study's numbers where it has them (``study``), ``flops_to_half_max``,
        ``learning_parameters`` and ``core_learning_epochs`` (the run's compute; None where records lack
        it); and ``ordering``: whether
        each CB-RNN condition reached half-max in fewer epochs (mean) than RNN-only; ``comparisons``:
        :func:`compare_rows` of the rows. ``task="continual"``: ``task``, ``phase_epochs`` and ``rows`` of
        :func:`~cbreservoir.analysis.metrics.continual_metrics` summaries per condition.
    """
    from cbreservoir.analysis.metrics import global_max_level

    window = min(switching_window or n_epochs, n_epochs) if task == "switching" else None
    if window is not None:  # every switching metric over the comparable window (the study's first 650 epochs)
        runs = [{**run, "levels": run["levels"][:window]} for run in runs]
        n_epochs = window
    groups: dict[tuple[str, int], list[dict]] = {}
    for run in runs:
        groups.setdefault((run["condition"], run["n_granule"]), []).append(run)
    if task == "continual":
        return _summarize_continual(groups)
    main_curves = [
        run["levels"]
        for (condition, granule), group in groups.items()
        for run in group
        if condition in MAIN_CONDITIONS and granule == STUDY.n_granule
    ]
    global_max = int(global_max_level(main_curves or [run["levels"] for run in runs]))
    rows = [
        _summarize_group(task, condition, granule, group, global_max, n_epochs, window)
        for (condition, granule), group in sorted(groups.items(), key=_group_order)
    ]
    return {
        "task": task,
        "n_epochs": n_epochs,
        "global_max": global_max,
        "half_max": global_max / 2,
        "switching_window": window,
        "study_global_max": STUDY_RESULTS.get(task, (None, {}))[0],
        "rows": rows,
        "ordering": _ordering(rows),
        "comparisons": compare_rows(rows),
    }


def compare_rows(rows: Sequence[dict]) -> list[dict]:
    """Each condition against its reference: the pairs of :data:`COMPARISONS` at G = 256, and at every other
    granule size G of a scaling sweep the CB-RNN against the RNN-only matched to it.

    Parameters
    ----------
    rows : sequence of dict
        ``rows`` of :func:`summarize_task`, each with per-run ``per_run`` values.

    Returns
    -------
    list of dict
        One dict per pair present with at least 2 runs on each side (G = 256 first, then G ascending):
        ``condition``, ``reference``, ``n_granule``, ``epochs_to_half_max`` and
        ``auc`` (the area under N(e): mean N times the epochs), each a
        :func:`cbreservoir.analysis.metrics.compare_groups` result (ratio of means with its
        percentile-bootstrap interval, Welch and permutation p-values), or ``None`` where the reference's
        values are all 0 (the AUC of one-epoch runs).
        Censored runs (never reached half-max) count as the full number of epochs.
    """
    from cbreservoir.analysis.metrics import compare_groups

    comparisons = []
    main_size = STUDY.n_granule
    for granule in sorted({row["n_granule"] for row in rows}, key=lambda size: (size != main_size, size)):
        by_condition = {row["condition"]: row for row in rows if row["n_granule"] == granule}
        for condition, reference in COMPARISONS if granule == main_size else (SCALING_CONDITIONS,):
            if condition not in by_condition or reference not in by_condition:
                continue
            ours, theirs = by_condition[condition]["per_run"], by_condition[reference]["per_run"]
            if min(len(ours["epochs_to_half_max"]), len(theirs["epochs_to_half_max"])) < 2:
                continue
            comparisons.append(
                {
                    "condition": condition,
                    "reference": reference,
                    "n_granule": granule,
                    **{
                        metric: compare_groups(ours[metric], theirs[metric]) if any(theirs[metric]) else None
                        for metric in ("epochs_to_half_max", "auc")
                    },
                }
            )
    return comparisons


def _summarize_group(
    task: str,
    condition: str,
    granule: int,
    group: Sequence[dict],
    global_max: int,
    n_epochs: int,
    window: int | None,
) -> dict:
    """One summary row: the runs of one condition at one granule size."""
    from cbreservoir.analysis.metrics import (
        active_mean_level,
        auc,
        epochs_to_half_max,
        epochs_to_level,
        inactive_task_accuracy,
        max_level,
        mean_level,
        summarize,
    )

    reached = [epochs_to_half_max(run["levels"], global_max) for run in group]
    censored_epochs = [n_epochs if value is None else value for value in reached]
    aucs = [auc(run["levels"]) for run in group]
    first_level = min(run["levels"][0] for run in group) + 1
    by_level = {
        str(level): [epochs_to_level(run["levels"], level) for run in group]
        for level in range(first_level, global_max + 1)
    }
    return {
        "condition": condition,
        "n_granule": granule,
        "label": _row_label(condition, task, [record_units(run) for run in group]),
        "n_parameters": group[0]["n_parameters"],
        "units": record_units(group[0]),
        "seeds": [run["seed"] for run in group],
        "max_level": summarize([max_level(run["levels"]) for run in group]),
        "epochs_to_half_max": summarize(censored_epochs),
        "censored": sum(value is None for value in reached),
        "epochs_to_level": {
            level: {"mean": _mean_of_reached(values), "reached": sum(value is not None for value in values)}
            for level, values in by_level.items()
        },
        "auc": summarize(aucs),
        "per_run": {"epochs_to_half_max": censored_epochs, "auc": aucs},
        "mean_level": summarize([mean_level(run["levels"]) for run in group]),
        "seconds": summarize([run["seconds"] for run in group]),
        "active_mean_level": None
        if window is None
        else summarize([active_mean_level(run["levels"], window) for run in group]),
        "inactive_task_accuracy": None
        if window is None
        else _summarize_present(
            [inactive_task_accuracy(run["history"]["records"], window) for run in group], summarize
        ),
        "study": _study_numbers(task, condition, granule),
        **_compute_numbers(group, censored_epochs),
    }


def _compute_numbers(group: Sequence[dict], epochs: Sequence[int]) -> dict:
    """A row's compute (:func:`~cbreservoir.experiments.reproduce.compute.run_compute`): ``flops_to_half_max``
    (FLOPs of the first ``epochs`` epochs of each run, the epochs counted to half of the global max N),
    ``learning_parameters`` (what trains at the first level and afterwards) and ``core_learning_epochs``
    (fraction of each run's epochs in which the core's recurrent weights learned); all None where a record
    lacks what they need (the feedforward condition, hand-made records)."""
    from cbreservoir.analysis.metrics import summarize
    from cbreservoir.experiments.reproduce.compute import run_compute

    complete = all({"model_config", "history", "profile"} <= set(run) for run in group)
    computed = [run_compute(run) for run in group] if complete else [None]
    if None in computed:
        return dict.fromkeys(("flops_to_half_max", "learning_parameters", "core_learning_epochs"))
    flops = [2 * sum(run["epoch_multiply_adds"][:count]) for run, count in zip(computed, epochs, strict=True)]
    return {
        "flops_to_half_max": summarize(flops),
        "learning_parameters": computed[0]["learning_parameters"],
        "core_learning_epochs": summarize(
            [sum(run["core_learned"]) / len(run["core_learned"]) for run in computed]
        ),
    }


def _summarize_continual(groups: dict[tuple[str, int], list[dict]]) -> dict:
    """The continual plan's summary: per condition, epochs to criterion, fixed-budget accuracies, savings."""
    from cbreservoir.analysis.metrics import continual_metrics, summarize

    rows, phase_epochs = [], None
    for (condition, granule), group in sorted(groups.items(), key=_group_order):
        phase_epochs = group[0]["continual"]["phase_epochs"]
        per_run = [continual_metrics(run["history"]["records"], phase_epochs) for run in group]
        n_phases = len(per_run[0]["epochs_to_criterion"])
        rows.append(
            {
                "condition": condition,
                "n_granule": granule,
                "label": _row_label(condition, "continual", [record_units(run) for run in group]),
                "n_parameters": group[0]["n_parameters"],
                "seeds": [run["seed"] for run in group],
                "epochs_to_criterion": [
                    {
                        "mean": _mean_of_reached([m["epochs_to_criterion"][p] for m in per_run]),
                        "reached": sum(m["epochs_to_criterion"][p] is not None for m in per_run),
                    }
                    for p in range(n_phases)
                ],
                **{
                    key: [summarize([m[key][p] for m in per_run]) for p in range(n_phases)]
                    for key in ("final_accuracy", "final_inactive_accuracy")
                },
                "savings": _summarize_present([m["savings"] for m in per_run], summarize),
                "savings_censored": sum(m["savings_censored"] for m in per_run),
                "per_run": per_run,
            }
        )
    return {
        "task": "continual",
        "phase_epochs": phase_epochs,
        "rows": rows,
        "comparisons": _compare_continual(rows, phase_epochs),
    }


def _compare_continual(rows: Sequence[dict], phase_epochs: int) -> list[dict]:
    """Each cerebellar condition against RNN-only, per phase: epochs to criterion (a phase that never reached
    it counts as ``phase_epochs + 1``) and the inactive task's accuracy after the phase
    (:func:`~cbreservoir.analysis.metrics.compare_groups`)."""
    from cbreservoir.analysis.metrics import compare_groups

    by_condition = {row["condition"]: row["per_run"] for row in rows}
    if "rnn" not in by_condition or len(by_condition["rnn"]) < 2:
        return []

    def values(per_run: list[dict], key: str, phase: int) -> list[float]:
        found = [metrics[key][phase] for metrics in per_run]
        return [phase_epochs + 1 if value is None else value for value in found]

    comparisons = []
    for condition, per_run in by_condition.items():
        if condition == "rnn" or len(per_run) < 2:
            continue
        n_phases = len(per_run[0]["epochs_to_criterion"])
        comparisons.append(
            {
                "condition": condition,
                "reference": "rnn",
                **{
                    key: [
                        compare_groups(values(per_run, key, p), values(by_condition["rnn"], key, p))
                        for p in range(n_phases)
                    ]
                    for key in ("epochs_to_criterion", "final_inactive_accuracy")
                },
            }
        )
    return comparisons


def _continual_table(summary: dict) -> str:
    """The continual plan's table (savings ratio, epochs to criterion and accuracy after each phase)."""
    lines = [
        "",
        f"Continual learning DMS -> parity -> DMS ({summary['phase_epochs']} epochs per phase): epochs to "
        "criterion per phase (mean over the networks that reached it, reached / networks), savings ratio "
        "(E1 - E3) / E1 (a repeated phase that never reached the criterion counts as the phase's epochs "
        "+ 1), active-task accuracy after each phase and the inactive task's (forgetting; chance 0.5):",
        "",
        _table_row(["model", "networks", "E1 (DMS)", "E2 (parity)", "E3 (DMS again)", "savings",
                    "accuracy after each phase", "inactive-task accuracy after each phase"]),
        _table_row(["---"] * 8),
    ]  # fmt: skip
    for row in summary["rows"]:
        n = len(row["seeds"])
        reached = [
            f"{'–' if e['mean'] is None else format(e['mean'], '.1f')} ({e['reached']}/{n})"
            for e in row["epochs_to_criterion"]
        ]
        savings = "–" if row["savings"] is None else _mean_sem(row["savings"], digits=2)
        if row["savings_censored"]:
            savings += f" \\* ({row['savings_censored']} censored)"
        accuracy = " / ".join(_mean_sem(stats, digits=3) for stats in row["final_accuracy"])
        inactive = " / ".join(_mean_sem(stats, digits=3) for stats in row["final_inactive_accuracy"])
        lines.append(_table_row([row["label"], str(n), *reached, savings, accuracy, inactive]))
    compared = []
    for comparison in summary.get("comparisons", []):
        label = " / ".join(CONDITIONS[comparison[key]].label for key in ("condition", "reference"))
        for key, what in (
            ("epochs_to_criterion", "epochs to criterion"),
            ("final_inactive_accuracy", "inactive-task accuracy"),
        ):
            cells = [
                f"{_ratio_interval(result)}, p = {_p_value(result['welch_p'])}" for result in comparison[key]
            ]
            compared.append(_table_row([label, what, *cells]))
    if compared:
        lines += ["", "Ratios of means over networks [95 % bootstrap interval], Welch p, per phase:", ""]
        lines.append(_table(["comparison", "measure", "phase 1 (DMS)", "phase 2 (parity)", "phase 3 (DMS)"],
                            compared).rstrip("\n"))  # fmt: skip
    return "\n".join(lines) + "\n"


def _summarize_present(values: Sequence[float | None], summarize: Any) -> dict | None:
    """``summarize(values)``, or None when no run has a value."""
    return None if all(value is None for value in values) else summarize(values)


def _mean_of_reached(values: Sequence[int | None]) -> float | None:
    """Mean over the runs that reached a level (``None`` if none did)."""
    reached = [value for value in values if value is not None]
    return sum(reached) / len(reached) if reached else None


def _study_numbers(task: str, condition: str, granule: int) -> dict | None:
    """The study's numbers for this row (G = 256 rows of the conditions it reports), else ``None``."""
    if granule != STUDY.n_granule:
        return None
    if task in STUDY_RESULTS and condition in STUDY_RESULTS[task][1]:
        return dict(zip(("max_level", "epochs_to_half_max"), STUDY_RESULTS[task][1][condition], strict=True))
    if task == "switching" and condition in STUDY_SWITCHING:
        return {"active_mean_level": STUDY_SWITCHING[condition]}
    return None


def _group_order(item: tuple[tuple[str, int], list[dict]]) -> tuple[int, int]:
    (condition, granule), _ = item
    return list(CONDITIONS).index(condition), granule


def _ordering(rows: Sequence[dict]) -> dict[str, bool | None]:
    """Whether each CB-RNN condition (G = 256) reaches half-max in fewer mean epochs than RNN-only."""
    main = [row for row in rows if row["n_granule"] == STUDY.n_granule]
    speed = {row["condition"]: row["epochs_to_half_max"]["mean"] for row in main}
    if "rnn" not in speed:
        return {}
    return {
        f"{name}_faster_than_rnn": speed[name] < speed["rnn"]
        for name in ("cbrnn", "full_reservoir", "interleaved", "adaptive")
        if name in speed
    }


def _mean_sem(stats: dict, digits: int = 1) -> str:
    if stats["n"] < 2:
        return f"{stats['mean']:.{digits}f}"
    return f"{stats['mean']:.{digits}f} ± {stats['sem']:.{digits}f}"


def _table_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: Sequence[str], lines: Sequence[str]) -> str:
    """A Markdown table: the header row, its rule and the already formatted ``lines``."""
    return "\n".join([_table_row(header), _table_row(["---"] * len(header)), *lines]) + "\n"


def markdown_table(summaries: Sequence[dict]) -> str:
    """The results table in the study's layout, one block of rows per task, the study's numbers beside ours.

    Parameters
    ----------
    summaries : sequence of dict
        :func:`summarize_task` outputs.

    Returns
    -------
    str
        A Markdown table (mean ± SEM over networks; ``*`` marks rows where some runs never reached
        half of the global max N and count as the full number of epochs).
    """
    header = [
        "task",
        "model",
        "params",
        "networks",
        "max N",
        "epochs to half of global max N",
        "AUC",
        "mean N",
    ]
    lines = [_table_row([*header, "study max N", "study epochs"]), _table_row(["---"] * (len(header) + 2))]
    continual = [summary for summary in summaries if summary["task"] == "continual"]
    summaries = [summary for summary in summaries if summary["task"] != "continual"]
    for summary in summaries:
        study_max = summary["study_global_max"]
        task_cell = f"{summary['task']} (global max {summary['global_max']}"
        task_cell += f"; study {study_max})" if study_max is not None else ")"
        for index, row in enumerate(summary["rows"]):
            label = row["label"] if row["n_granule"] == STUDY.n_granule else _scaling_label(row)
            epochs = _mean_sem(row["epochs_to_half_max"])
            if row["censored"]:
                epochs += f" \\* ({row['censored']} censored)"
            study = row["study"] or {}
            cells = [
                task_cell if index == 0 else "",
                label,
                f"{row['n_parameters']:,}",
                str(row["max_level"]["n"]),
            ]
            cells += [
                _mean_sem(row["max_level"]),
                epochs,
                _mean_sem(row["auc"], 0),
                _mean_sem(row["mean_level"]),
            ]
            cells += [str(study.get("max_level", "")), str(study.get("epochs_to_half_max", ""))]
            lines.append(_table_row(cells))
    switching = [summary for summary in summaries if summary["task"] == "switching"]
    text = "\n".join(lines) + "\n" + _ordering_lines(summaries) + _comparison_table(summaries)
    text += "".join(_level_table(summary) for summary in summaries)
    text += _compute_table(summaries)
    text += _switching_table(switching[0]) if switching else ""
    return text + (_continual_table(continual[0]) if continual else "")


def _level_table(summary: dict) -> str:
    """Mean epochs to first reach each level N per condition (G = 256), with how many runs reached it."""
    rows = [row for row in summary["rows"] if row["n_granule"] == STUDY.n_granule]
    levels = sorted({level for row in rows for level in row["epochs_to_level"]}, key=int)
    if not rows or not levels:
        return ""
    lines = [
        "",
        f"{summary['task']}: mean epoch of first reaching N (runs that reached it / runs):",
        "",
        _table_row(["model", *[f"N = {level}" for level in levels]]),
        _table_row(["---"] * (len(levels) + 1)),
    ]
    for row in rows:
        cells = []
        for level in levels:
            entry = row["epochs_to_level"].get(level, {"mean": None, "reached": 0})
            mean = "–" if entry["mean"] is None else f"{entry['mean']:.1f}"
            cells.append(f"{mean} ({entry['reached']}/{row['max_level']['n']})")
        lines.append(_table_row([row["label"], *cells]))
    return "\n".join(lines) + "\n"


def _compute_table(summaries: Sequence[dict]) -> str:
    """Compute to half of the global max N, what trains, and how often the core's recurrent weights learned
    (G = 256 rows)."""
    lines = []
    for summary in summaries:
        for row in summary["rows"]:
            flops, learning = row.get("flops_to_half_max"), row.get("learning_parameters")
            if row["n_granule"] != STUDY.n_granule or flops is None or learning is None:
                continue
            plastic = row.get("core_learning_epochs")
            spread = f" ± {flops['sem']:.2e}" if flops["n"] > 1 else ""
            lines.append(
                _table_row(
                    [
                        summary["task"],
                        row["label"],
                        f"{learning['first_level']:,} / {learning['afterwards']:,}",
                        _mean_sem(row["epochs_to_half_max"]),
                        f"{flops['mean']:.2e}{spread}",
                        "–" if plastic is None else f"{100 * plastic['mean']:.0f} %",
                    ]
                )
            )
    if not lines:
        return ""
    header = [
        "task",
        "model",
        "parameters learning (first level / afterwards)",
        "epochs to half of global max N",
        "FLOPs to half of global max N",
        "epochs the core's recurrent weights learned",
    ]
    intro = (
        "\nCompute (multiply-adds of the matrix products of every update and test batch, counted from the "
        "shapes at each level's mean sequence length, x 2 = FLOPs; runs that never reached half-max count "
        "all their epochs; an adaptive schedule counts its core frozen in the parameter column):\n\n"
    )
    return intro + _table(header, lines)


def _scaling_label(row: dict) -> str:
    """Row label of a scaling-sweep row: its granule size G, or the G of the CB-RNN it is matched to."""
    matched = CONDITIONS[row["condition"]].matched_to is not None
    return f"{row['label']}, {'matched to ' if matched else ''}G = {row['n_granule']}"


def _ordering_lines(summaries: Sequence[dict]) -> str:
    """One sentence per task: did the study's ordering (faster than RNN-only to half-max) hold?"""
    lines = []
    for summary in summaries:
        verdicts = [
            f"{CONDITIONS[key.removesuffix('_faster_than_rnn')].label} {'yes' if faster else 'no'}"
            for key, faster in summary["ordering"].items()
        ]
        if verdicts:
            lines.append(
                f"* {summary['task']}: faster than RNN-only to half of the global max N (mean epochs): "
                + ", ".join(verdicts)
            )
    return "\n" + "\n".join(lines) + "\n" if lines else ""


def _switching_table(summary: dict) -> str:
    """Task switching's extra table: mean active N over the first ``switching_window`` epochs."""
    window = summary["switching_window"]
    lines = [
        "",
        f"Task switching, mean active N over the first {window} epochs (study: first 650 of 1000), and the "
        "inactive task's test accuracy after the first switch (forgetting; chance 0.5):",
        "",
        _table_row(["model", "networks", "mean active N", "study", "inactive-task accuracy"]),
        _table_row(["---"] * 5),
    ]
    for row in summary["rows"]:
        study = (row["study"] or {}).get("active_mean_level", "")
        stats, inactive = row["active_mean_level"], row.get("inactive_task_accuracy")
        forgetting = "–" if inactive is None else _mean_sem(inactive, digits=3)
        lines.append(_table_row([row["label"], str(stats["n"]), _mean_sem(stats), str(study), forgetting]))
    return "\n".join(lines) + "\n"


def _comparison_table(summaries: Sequence[dict]) -> str:
    """Ratio of mean epochs to half-max (condition / reference) with its 95 % interval and p-values."""
    lines = []
    for summary in summaries:
        row_labels = {(row["condition"], row["n_granule"]): row["label"] for row in summary["rows"]}
        for comparison in summary.get("comparisons", []):
            speed, area = comparison["epochs_to_half_max"], comparison["auc"]
            pair, granule = (comparison["condition"], comparison["reference"]), comparison["n_granule"]
            main = granule == STUDY.n_granule
            study = STUDY_RATIOS.get(summary["task"]) if pair == ("cbrnn", "rnn") and main else None
            labels = [CONDITIONS[key].label for key in pair]
            if not main:
                labels = [f"{labels[0]}, G = {granule}", row_labels[(pair[1], granule)]]
            lines.append(
                _table_row(
                    [
                        summary["task"],
                        " / ".join(labels),
                        _ratio_interval(speed),
                        _p_value(speed["welch_p"]),
                        _p_value(speed["permutation_p"]),
                        _ratio_interval(area),
                        "–" if area is None else _p_value(area["welch_p"]),
                        "" if study is None else f"{study:.2f}",
                    ]
                )
            )
    if not lines:
        return ""
    header = [
        "task",
        "comparison",
        "epochs to half-max, ratio [95 % CI]",
        "Welch p",
        "permutation p",
        "AUC ratio [95 % CI]",
        "AUC Welch p",
        "study ratio",
    ]
    intro = (
        "\nRatios of means over networks (percentile bootstrap over networks, each group resampled "
        "independently; two-sided Welch t-test and permutation test of the difference of means; runs that "
        "never reached half-max count as the full number of epochs):\n\n"
    )
    return intro + _table(header, lines)


def _ratio_interval(result: dict | None) -> str:
    if result is None:
        return "–"
    return f"{result['ratio']:.2f} [{result['ci_low']:.2f}, {result['ci_high']:.2f}]"


def _p_value(value: float) -> str:
    return "–" if value != value else f"{value:.3g}"

"""The analysis report over several networks: per-seed reports, statistics over networks, checks."""

import copy
import json
import math

import numpy as np
import pytest

from cbreservoir.experiments.analysis_report import (
    POOLED_MEASURES,
    pool_analyses,
    pooled_markdown,
    run_analyses,
    run_analysis,
)
from tests.experiments.analysis_sizes import TINY_SETTINGS, tiny_reproduction

CONDITIONS = ["cbrnn", "full_reservoir"]


@pytest.fixture(scope="module")
def reproduction(tmp_path_factory):
    return tiny_reproduction(tmp_path_factory.mktemp("reproduction"), seeds=2, keep_checkpoints=True)


@pytest.fixture(scope="module")
def pooled(reproduction, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("pooled")
    result = run_analyses(
        output_dir, seeds=[0, 1], reproduction_dir=reproduction, settings=TINY_SETTINGS, progress=False
    )
    return output_dir, result


def test_each_seed_is_the_single_network_report(pooled, reproduction, tmp_path):
    output_dir, _ = pooled
    alone = run_analysis(
        tmp_path, seed=1, reproduction_dir=reproduction, settings=TINY_SETTINGS, progress=False
    )
    written = json.loads((output_dir / "seed1" / "summary.json").read_text())
    assert written["models"] == json.loads(json.dumps(alone["models"]))


def test_pooled_statistics_are_those_of_the_per_network_values(pooled):
    output_dir, result = pooled
    summaries = [json.loads((output_dir / f"seed{seed}" / "summary.json").read_text()) for seed in (0, 1)]
    assert result["seeds"] == [0, 1] and result["conditions"] == CONDITIONS
    for condition in CONDITIONS:
        for name, get in POOLED_MEASURES.items():
            values = [get(summary["models"][condition]) for summary in summaries]
            stats = result["measures"][condition][name]
            assert stats["values"] == values
            present = [value for value in values if value is not None]
            if len(present) == 2:
                assert stats["mean"] == pytest.approx(np.mean(present))
                assert stats["sem"] == pytest.approx(np.std(present, ddof=1) / math.sqrt(2))
    assert json.loads((output_dir / "pooled.json").read_text())["measures"] == result["measures"]
    table = (output_dir / "pooled.md").read_text()
    assert "full reservoir / CB-RNN" in table
    measured = [name for name in POOLED_MEASURES if result["measures"]["cbrnn"][name]["n"]]
    assert all(f"| {name} |" in table for name in measured)
    assert "accuracy of head 1" not in table  # one-head task: the second head's rows are left out
    assert "| granule population sparseness S, initial |" in table


def _summary(seed: int, value: float | None, task: str = "dms") -> dict:
    """A summary whose every pooled measure of condition 'cbrnn' is ``value``."""
    model = {
        "analysis_level": value,
        "readout_recovery": {
            "intact": value,
            "zero_shot": value,
            "recovered": value,
            "heads": {"intact": [value], "zero_shot": [value], "recovered": [value]},
        },
        "dimensionality": {},
        "timescales": {},
        "granule_sparseness": {
            state: {
                "population_sparseness_mean": value,
                "lifetime_sparseness_mean": value,
                "coding_level": value,
            }
            for state in ("trained", "initial")
        },
    }
    for population in ("core", "granule", "purkinje", "nuclei", "core (cerebellum off)"):
        model["dimensionality"][population] = {"participation_ratio": value, "d90": value}
        model["timescales"][population] = {"population_timescale": value, "fraction_double": value}
    return {"task": task, "seed": seed, "profile": {"name": "quick"}, "models": {"cbrnn": model}}


def test_known_values_and_missing_ones():
    result = pool_analyses([_summary(0, 1.0), _summary(1, 3.0), _summary(2, None)])
    stats = result["measures"]["cbrnn"]["granule coding level, trained"]
    assert (stats["mean"], stats["sd"], stats["n"], stats["n_missing"]) == (2.0, math.sqrt(2), 2, 1)
    assert result["comparisons"] == {}  # one condition: nothing to compare
    table = pooled_markdown(result)
    assert "| granule coding level, trained | 2 ± 1 |" in table
    assert "| accuracy of head 0, cerebellum on | 2 ± 1 |" in table and "head 1" not in table


def test_a_missing_value_leaves_the_comparison_out():
    summaries = [_summary(0, 1.0), _summary(1, 3.0)]
    for summary, value in zip(summaries, (2.0, None), strict=True):
        summary["models"]["full_reservoir"] = copy.deepcopy(_summary(0, value)["models"]["cbrnn"])
    result = pool_analyses(summaries)
    assert result["comparisons"] == {"full_reservoir": {}}
    assert "| – |" in pooled_markdown(result)


@pytest.mark.parametrize(
    ("summaries", "message"),
    [
        ([_summary(0, 1.0)], "at least 2 networks, got 1"),
        ([_summary(0, 1.0), _summary(0, 2.0)], r"one summary per seed, got seeds \[0, 0\]"),
        ([_summary(0, 1.0), _summary(1, 2.0, task="parity")], "one task, got 'dms' and 'parity'"),
    ],
)
def test_pooling_is_checked(summaries, message):
    with pytest.raises(ValueError, match=message):
        pool_analyses(summaries)


def test_run_analyses_is_checked_before_any_work(tmp_path):
    with pytest.raises(ValueError, match=r"at least 2 distinct seeds, got \[3\]"):
        run_analyses(tmp_path / "out", seeds=[3])
    with pytest.raises(TypeError, match="sets seed itself"):
        run_analyses(tmp_path / "out", seeds=[0, 1], seed=2)
    assert not (tmp_path / "out").exists()


def test_measures_against_level_pool_the_networks_that_passed_each_level(tmp_path):
    from cbreservoir.experiments.analysis_report.figures import _level_values, plot_against_level

    def network(levels_and_tau):
        checkpoints = [
            {"level": level, "timescales": {"core": {"population_timescale": tau}}, "dimensionality": {}}
            for level, tau in levels_and_tau
        ]
        return {"models": {"cbrnn": {"checkpoints": checkpoints}}}

    summaries = [network([(2, 1), (3, 2), (4, None)]), network([(2, 3), (3, 4), (4, 5)])]
    assert _level_values(summaries, "cbrnn", "timescales", "core", "population_timescale") == {
        2: [1.0, 3.0],
        3: [2.0, 4.0],
        4: [5.0],  # a network without a value at a level is left out there
    }
    path = plot_against_level(summaries, tmp_path / "against_level.png")
    assert path.stat().st_size > 0

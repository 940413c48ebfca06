"""The demo: fits both pipelines on the same frozen reservoir, prints a table, saves a figure."""

import json

from cbreservoir.experiments.demo import MODELS, run_demo


def test_demo_small_shows_the_expansion_and_writes_a_figure(tmp_path, capsys):
    result = run_demo(
        output_dir=tmp_path,
        seed=3,
        n_train=6,
        n_test=3,
        length=120,
        units=40,
        n_granule=200,
        sweep_delays=((1, 3), (1, 6)),
        sweep_granules=(8, 256),
    )
    rows = {(row["model"], row["task"]): row for row in result["rows"]}
    assert len(rows) == 4 and {model for model, _ in rows} == set(MODELS)
    product = [task for _, task in rows if task.startswith("product")][0]
    recall = [task for _, task in rows if task.startswith("recall")][0]
    assert rows[MODELS[0], product]["test_r2"] < 0.1
    assert rows[MODELS[1], product]["test_r2"] > 0.8
    assert rows[MODELS[0], recall]["test_r2"] > 0.9
    sweep = result["granule_sweep"]
    assert sweep["n_granule"] == [0, 8, 256] and len(sweep["test_r2"]) == 2
    for scores in sweep["test_r2"]:
        assert scores[0] < 0.1 and scores[2] > scores[0] + 0.5  # the expansion helps at every span
    assert sweep["test_r2"][1][1] < sweep["test_r2"][0][1]  # a wider span needs more granule cells
    assert (tmp_path / "demo.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "Reservoir >> Cerebellum >> Ridge" in printed and "figure:" in printed
    json.dumps(result)  # the CLI prints it with --json


def test_demo_quiet_prints_nothing_and_is_seeded(tmp_path, capsys):
    settings = dict(n_train=3, n_test=2, length=60, units=20, n_granule=50, sweep_granules=(), quiet=True)
    first = run_demo(output_dir=tmp_path, seed=1, **settings)
    second = run_demo(output_dir=tmp_path, seed=1, **settings)
    assert capsys.readouterr().out == ""
    assert first["granule_sweep"]["test_r2"] == []
    assert [r["test_r2"] for r in first["rows"]] == [r["test_r2"] for r in second["rows"]]

"""The README's Python snippets run as written and their comments tell the truth."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_the_quickstart_snippets():
    assert len(_python_blocks()) >= 2


def test_ridge_pipeline_quickstart_runs_and_fits():
    namespace: dict = {}
    exec(_python_blocks()[0], namespace)
    assert namespace["prediction"].shape == (5, 500, 1)
    assert namespace["r2"] > 0.9


def test_cbrnn_quickstart_runs_with_the_stated_numbers():
    namespace: dict = {}
    exec(_python_blocks()[1], namespace)
    assert namespace["count_parameters"](namespace["cbrnn"]) == 41922
    assert namespace["units"] == 202
    assert namespace["x"].shape[0] == 64 and namespace["y"].shape == (64,)
    assert namespace["loss"] > 0

"""The examples in the docstrings, which the API reference pages show, print what they say they print.

Each module's ``>>>`` examples run as doctest runs them (``...`` stands for any text, runs of white space are
equal) in a scratch directory; an example marked ``# doctest: +SKIP`` (a long run, a download) is not run.
"""

from __future__ import annotations

import doctest
import importlib

import pytest

from tests.docs.pages import ROOT

_OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules() -> list[str]:
    """Every module of the package that holds an example, found without importing anything."""
    paths = sorted((ROOT / "cbreservoir").rglob("*.py"))
    return [
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in paths
        if path.stem != "__main__" and ">>> " in path.read_text()
    ]


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_print_what_they_show(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=_OPTIONS)
    report: list[str] = []
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)

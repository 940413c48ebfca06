"""The documentation site builds with warnings as errors, and every page is in the navigation."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _nav_pages(nav: list) -> list[str]:
    pages = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += _nav_pages(value) if isinstance(value, list) else [value]
    return pages


def _mkdocs_config() -> dict:
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text())


def test_every_page_is_in_the_navigation_and_exists():
    """Written pages are all reachable (generated results under docs/results/ are linked from pages)."""
    nav = _nav_pages(_mkdocs_config()["nav"])
    docs = ROOT / "docs"
    files = sorted(
        str(path.relative_to(docs))
        for path in docs.rglob("*.md")
        if "results" not in path.relative_to(docs).parts
    )
    assert sorted(nav) == files


def test_sphinx_role_extension_rewrites_roles_as_code():
    path = ROOT / "docs" / "griffe_sphinx_roles.py"
    spec = importlib.util.spec_from_file_location("griffe_sphinx_roles", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = "Use :class:`~cbreservoir.models.CBRNN` or :func:`build_model`."
    assert module.sphinx_roles_to_code(text) == "Use `CBRNN` or `build_model`."


def test_docstring_sections_use_numpydoc_titles():
    """griffe's numpy parser knows ``Examples`` only; a singular title would render as plain text."""
    singular = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "cbreservoir").rglob("*.py")
        if re.search(r"^\s*Example\n\s*-{3,}$", path.read_text(), flags=re.MULTILINE)
    ]
    assert singular == []


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs is not installed")
def test_site_builds_strict(tmp_path):
    environment = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "api" / "models" / "index.html").is_file()

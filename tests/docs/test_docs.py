"""The docs site: every page reachable from the navigation, maths without a network, a strict build."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import pytest
import yaml

from tests.docs.pages import DOCS, ROOT, user_pages, written_pages


def _nav_pages(nav: list) -> list[str]:
    pages = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += _nav_pages(value) if isinstance(value, list) else [value]
    return pages


def _mkdocs_config() -> dict:
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text())


def _links(page: str) -> set[str]:
    """The docs pages a page links to, as paths relative to docs/."""
    source = DOCS / page
    targets = re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", source.read_text())
    return {
        str((source.parent / target).resolve().relative_to(DOCS))
        for target in targets
        if "://" not in target and (source.parent / target).resolve().is_relative_to(DOCS)
    }


def test_every_page_is_in_the_navigation_or_linked_from_it():
    """Written pages are in the navigation; a generated results page may instead be linked from a nav page."""
    nav = _nav_pages(_mkdocs_config()["nav"])
    assert [page for page in nav if not (DOCS / page).is_file()] == []
    pages = {page.removeprefix("docs/") for page in user_pages() if page != "README.md"}
    reachable = set(nav).union(*(_links(page) for page in nav))
    assert sorted(pages - reachable) == [], "add these pages to mkdocs.yml's nav"
    written = {page.removeprefix("docs/") for page in written_pages() if page != "README.md"}
    assert sorted(written - set(nav)) == []


def test_the_maths_renders_offline():
    """MathJax ships with the site: every script is a file under docs/, the settings before the build."""
    config = _mkdocs_config()
    scripts = config["extra_javascript"]
    assert all("://" not in script and (DOCS / script).is_file() for script in scripts), scripts
    assert scripts == ["javascripts/mathjax-config.js", "javascripts/mathjax/tex-svg.js"]
    assert (DOCS / "javascripts" / "mathjax" / "LICENSE").is_file()
    (arithmatex,) = [
        e for e in config["markdown_extensions"] if isinstance(e, dict) and "pymdownx.arithmatex" in e
    ]
    assert arithmatex["pymdownx.arithmatex"] == {"generic": True}
    assert 'processHtmlClass: "arithmatex"' in (DOCS / "javascripts" / "mathjax-config.js").read_text()


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

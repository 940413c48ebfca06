"""The package's layering: the import contracts of setup.cfg ([importlinter]) hold."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter")

ROOT = Path(__file__).resolve().parent.parent


def _lint_imports(*args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("lint-imports")
    command = str(script) if script.exists() else shutil.which("lint-imports")
    assert command, "lint-imports (package import-linter, in the dev extras) is not installed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([command, *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_import_contracts_are_kept():
    done = _lint_imports()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_the_layers_contract_catches_an_upward_import(tmp_path):
    """Without its one listed exception, the layers contract sees the nodes import the graph layer."""
    config = (ROOT / "setup.cfg").read_text()
    exception = "    cbreservoir.nodes._base -> cbreservoir.graph.model\n"
    assert exception in config
    stricter = tmp_path / "setup.cfg"
    stricter.write_text(config.replace(exception, ""))
    done = _lint_imports("--config", str(stricter))
    assert done.returncode != 0
    assert "cbreservoir.nodes._base -> cbreservoir.graph.model" in done.stdout

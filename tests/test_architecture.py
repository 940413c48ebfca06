"""The package's layering: the import contracts of setup.cfg ([importlinter]) hold."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter")

ROOT = Path(__file__).resolve().parents[1]


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
    """With two layers listed the wrong way round, every import between them is an upward import."""
    config = (ROOT / "setup.cfg").read_text()
    layers = "    cbreservoir.nodes\n    cbreservoir.numerics\n"
    assert layers in config
    swapped = tmp_path / "setup.cfg"
    swapped.write_text(config.replace(layers, "    cbreservoir.numerics\n    cbreservoir.nodes\n"))
    done = _lint_imports("--config", str(swapped))
    assert done.returncode != 0
    assert "cbreservoir.numerics is not allowed to import cbreservoir.nodes" not in done.stdout
    assert "cbreservoir.nodes is not allowed to import cbreservoir.numerics" in done.stdout


def test_every_subpackage_is_in_a_layer():
    """A new top-level module or package must be placed in the contract (else it escapes it)."""
    config = (ROOT / "setup.cfg").read_text()
    listed = config.split("[importlinter:contract:layers]")[1].split("[importlinter:contract:")[0]
    package = ROOT / "cbreservoir"
    parts = {path.stem for path in package.glob("*.py") if path.stem != "__init__"}
    parts |= {path.name for path in package.iterdir() if (path / "__init__.py").is_file()}
    missing = sorted(part for part in parts if f"cbreservoir.{part}" not in listed)
    assert not missing, f"not in the layers contract of setup.cfg: {missing}"

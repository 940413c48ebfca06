"""The package's layering: the import contracts of setup.cfg ([importlinter]) hold."""

from __future__ import annotations

import importlib
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


TORCH_FREE = (
    "cbreservoir",
    "cbreservoir.graph.build",
    "cbreservoir.graph.fit",
    "cbreservoir.graph.initialize",
    "cbreservoir.graph.model",
    "cbreservoir.graph.run",
    "cbreservoir.nodes.reservoir",
    "cbreservoir.nodes.cerebellum",
    "cbreservoir.nodes.ridge",
    "cbreservoir.numerics.ridge",
    "cbreservoir.numerics.ridge_loo",
    "cbreservoir.graph.forecast",
    "cbreservoir.estimators.reservoir",
    "cbreservoir.utils.threads",
)


def _python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)


def test_the_torch_free_modules_load_no_torch():
    """What the torch-free-graph contract states, at run time: importing these modules (and so the
    packages above them) leaves torch unloaded."""
    code = f"import sys\nfor name in {TORCH_FREE!r}:\n    __import__(name)\n"
    code += "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
    code += "assert not loaded, loaded[:5]\n"
    done = _python(code)
    assert done.returncode == 0, done.stderr


def test_a_graph_is_built_and_ridge_fitted_without_torch():
    """A Reservoir >> Ridge graph, built, fitted in closed form and run on one series, loads no torch
    (one series runs through the numba kernel)."""
    code = """
import sys
import numpy as np
from cbreservoir.graph.fit import fit_ridge_readout
from cbreservoir.nodes.reservoir import Reservoir
from cbreservoir.nodes.ridge import Ridge
x = np.random.default_rng(0).normal(size=(60, 2))
model = Reservoir(20, seed=0) >> Ridge(ridge=1e-6)
fit_ridge_readout(model, x[:-1], x[1:], warmup=5)
assert model.run(x).shape == (60, 2)
assert 'torch' not in sys.modules
"""
    done = _python(code)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "steps",
    [
        "model = Reservoir(20, seed=0) >> Ridge(ridge=1e-6)\n"
        "model.fit([x[:-1] for x in ragged], [x[1:] for x in ragged])\nassert len(model.run(ragged)) == 3",
        "model = Reservoir(20, seed=0) >> Cerebellum(40, seed=1) >> Ridge(ridge=1e-6)\n"
        "model.fit(batch, batch[:, -1])\nassert model.run(batch).shape == (4, 30, 2)",
        "model = CerebellarReservoirClassifier(units=20, n_granule=40).fit(ragged, [0, 1, 0])\n"
        "model.predict(ragged), model.predict_proba(batch), model.score(batch, [0, 1, 0, 1])",
        "model = CerebellarReservoirRegressor(units=20, n_granule=40, n_jobs=1).fit(batch, np.arange(4.0))\n"
        "CerebellarReservoirClassifier(units=20, n_granule=40).fit(batch[:, :, 0], [0, 1, 0, 1])\n"
        "model.predict(ragged), model.predict(batch)",
        "model = CerebellarReservoirRegressor(units=20, n_granule=40).fit(batch, batch[..., :1])\n"
        "model.predict(batch)",
    ],
    ids=["ragged-reservoir-ridge", "batch-reservoir-cerebellum-ridge", "classifier", "regressor", "per-step"],
)
def test_numpy_paths_leave_torch_unimported(steps):
    """Nothing that does not train by gradient imports torch: graphs of Reservoir, Cerebellum and Ridge
    fitted and run on ragged lists and batches, and the closed-form estimators' fit / predict (issue 35)."""
    code = f"""
import sys
import numpy as np
from cbreservoir.estimators import CerebellarReservoirClassifier, CerebellarReservoirRegressor
from cbreservoir.nodes import Cerebellum, Reservoir, Ridge
rng = np.random.default_rng(0)
ragged = [rng.normal(size=(n, 2)) for n in (25, 40, 31)]
batch = rng.normal(size=(4, 30, 2))
{steps}
loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))
assert not loaded, loaded[:5]
"""
    done = _python(code)
    assert done.returncode == 0, done.stderr


LAZY_PACKAGES = (
    "cbreservoir",
    "cbreservoir.nodes",
    "cbreservoir.graph",
    "cbreservoir.numerics",
    "cbreservoir.estimators",
    "cbreservoir.analysis",
)


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_lazily_exported_name_imports(package):
    """``from package import X`` works for every X of its ``__all__`` (the exports are lazy), and X is the
    object its declaring import names (what a type checker reads)."""
    from cbreservoir.utils.lazy import declared_exports

    module = importlib.import_module(package)
    declared = declared_exports(package, module.__file__)
    assert set(module.__all__) - {"__version__"} == set(declared) and sorted(dir(module)) == sorted(declared)
    for name, where in declared.items():
        assert getattr(module, name) is getattr(importlib.import_module(where), name), name


def test_every_package_has_an_explicit_surface():
    """Every package's ``__all__`` is either its lazy declaration or names it imports explicitly: no name
    is exported that the package's namespace does not hold or declare."""
    package = ROOT / "cbreservoir"
    for init in sorted(package.rglob("__init__.py")):
        name = ".".join(init.parent.relative_to(ROOT).parts)
        module = importlib.import_module(name)
        if name in LAZY_PACKAGES or not hasattr(module, "__all__"):
            continue
        missing = [export for export in module.__all__ if export not in vars(module)]
        assert not missing, f"{name} exports {missing} it does not import"


def test_py_typed_is_shipped():
    """PEP 561: the marker is in the package and declared as package data (a built wheel holds it)."""
    assert (ROOT / "cbreservoir" / "py.typed").is_file()
    assert "[options.package_data]\ncbreservoir = py.typed\n" in (ROOT / "setup.cfg").read_text()

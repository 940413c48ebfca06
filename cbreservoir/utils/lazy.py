"""Lazy exports of a package (PEP 562) declared by explicit imports, so that ``import cbreservoir`` stays
cheap (no torch, no reservoirpy until a name that needs them is used) and type checkers see every name.

A package lists its public names once, as ``from module import Name as Name`` statements under
``if TYPE_CHECKING:`` in its ``__init__.py`` (the ``as`` re-exports the name for type checkers);
:func:`lazy_exports` reads those statements from the file and imports each module on first use::

    from typing import TYPE_CHECKING

    from cbreservoir.utils.lazy import lazy_exports

    if TYPE_CHECKING:
        from cbreservoir.nodes.reservoir import Reservoir as Reservoir

    __getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path


def declared_exports(package: str, init_file: str) -> dict[str, str]:
    """The names imported under ``if TYPE_CHECKING:`` in ``init_file``, with their absolute modules.

    Parameters
    ----------
    package : str
        The package's ``__name__`` (relative imports are resolved against it).
    init_file : str
        The package's ``__init__.py``.

    Returns
    -------
    dict
        Public name -> absolute module path, in the order of the statements.

    Raises
    ------
    ValueError
        If a statement there is not ``from module import Name as Name`` (one public name, not renamed).
    """
    tree = ast.parse(Path(init_file).read_text(encoding="utf-8"), init_file)
    exports: dict[str, str] = {}
    blocks = [
        block.body
        for block in tree.body
        if isinstance(block, ast.If) and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
    ]
    for statement in (statement for body in blocks for statement in body):
        if not isinstance(statement, ast.ImportFrom) or statement.module is None:
            raise ValueError(f"{init_file}: expected 'from module import Name as Name' under TYPE_CHECKING")
        module = importlib.util.resolve_name("." * statement.level + statement.module, package)
        for alias in statement.names:
            if alias.asname != alias.name:
                raise ValueError(
                    f"{init_file}: expected 'import {alias.name} as {alias.name}' (a re-export), "
                    f"got 'import {alias.name} as {alias.asname}'"
                )
            exports[alias.name] = module
    return exports


def lazy_exports(
    package: str, init_file: str
) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package``: its declared exports, imported on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    init_file : str
        The package's ``__init__.py`` (``__file__``), whose ``if TYPE_CHECKING:`` imports declare the
        exports (:func:`declared_exports`).
    """
    exports = declared_exports(package, init_file)

    def __getattr__(name: str) -> object:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name]), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__, list(exports)

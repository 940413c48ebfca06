"""A griffe extension for the API reference: render the package's Sphinx roles as Sphinx would.

Sphinx roles (``:class:`~pkg.mod.Name```, ``:func:`name```, ...) become code spans (the last
component with ``~``), instead of literal role text.

Loaded by mkdocstrings through ``mkdocs.yml`` (``extensions: [docs/griffe_sphinx_roles.py]``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_SPHINX_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|exc|obj|const):`(~?)([^`]+)`")


def _role_to_code(match: re.Match) -> str:
    target = match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"


def sphinx_roles_to_code(text: str) -> str:
    """Rewrite the Sphinx roles of one docstring as code spans."""
    return _SPHINX_ROLE.sub(_role_to_code, text)


class SphinxRoles(griffe.Extension):
    """Rewrite every docstring once the object tree is built (before mkdocstrings parses them)."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = sphinx_roles_to_code(obj.docstring.value)

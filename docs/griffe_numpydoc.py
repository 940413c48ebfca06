"""A griffe extension for the API reference: read the package's numpydoc docstrings as Sphinx would.

* ``Example`` section titles (singular; the package writes ``Examples``, a few modules still have the
  singular) become ``Examples``, the title the numpydoc standard and griffe's numpy parser know, so
  their doctests render as code;
* Sphinx roles (``:class:`~pkg.mod.Name```, ``:func:`name```, ...) become code spans (the last
  component with ``~``), instead of literal role text.

Loaded by mkdocstrings through ``mkdocs.yml`` (``extensions: [docs/griffe_numpydoc.py]``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE_TITLE = re.compile(r"^Example\n-{3,}$", re.MULTILINE)
_SPHINX_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|exc|obj|const):`(~?)([^`]+)`")


def _role_to_code(match: re.Match) -> str:
    target = match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"


def numpydoc_to_markdown(text: str) -> str:
    """Apply both rewrites to one docstring."""
    return _SPHINX_ROLE.sub(_role_to_code, _EXAMPLE_TITLE.sub("Examples\n--------", text))


class NumpydocSections(griffe.Extension):
    """Rewrite every docstring once the object tree is built (before mkdocstrings parses them)."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = numpydoc_to_markdown(obj.docstring.value)

"""Lazy package exports declared by ``TYPE_CHECKING`` imports (cbreservoir.utils.lazy)."""

import pytest

from cbreservoir.utils.lazy import declared_exports, lazy_exports

INIT = '''"""A package."""
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .inner import Thing as Thing
    from json import dumps as dumps
'''


def test_declared_exports_resolve_relative_modules_in_order(tmp_path):
    init = tmp_path / "__init__.py"
    init.write_text(INIT)
    assert declared_exports("pkg.sub", str(init)) == {"Thing": "pkg.sub.inner", "dumps": "json"}


def test_lazy_exports_import_on_first_use(tmp_path):
    init = tmp_path / "__init__.py"
    init.write_text(INIT.replace("    from .inner import Thing as Thing\n", ""))
    getattr_, dir_, names = lazy_exports("pkg", str(init))
    import json

    assert names == ["dumps"] and dir_() == ["dumps"] and getattr_("dumps") is json.dumps
    with pytest.raises(AttributeError, match="'pkg' has no attribute 'loads'"):
        getattr_("loads")


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("    from json import dumps as to_text\n", "expected 'import dumps as dumps'"),
        ("    from json import dumps\n", "expected 'import dumps as dumps'"),
        ("    import json\n", "expected 'from module import Name as Name'"),
    ],
)
def test_a_declaration_that_is_not_a_re_export_is_refused(tmp_path, statement, message):
    init = tmp_path / "__init__.py"
    init.write_text(f"from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n{statement}")
    with pytest.raises(ValueError, match=message):
        declared_exports("pkg", str(init))

"""Real data sets: the UEA/UCR classification archives that ``aeon`` ships inside its wheel.

Loading is offline (the files are part of the installed ``aeon`` package); ``aeon`` is an optional
dependency: ``pip install -e ".[data]"``.

Examples
--------
>>> from cbreservoir.datasets import UEA_DATASETS, load_uea
>>> X, y = load_uea("JapaneseVowels", split="train")    # doctest: +SKIP
>>> len(X), X[0].shape, y[:3]                            # doctest: +SKIP
(270, (20, 12), array(['1', '1', '1'], dtype='<U1'))
"""

from cbreservoir.utils.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "UEA_DATASETS": ".uea",
    "load_uea": ".uea",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

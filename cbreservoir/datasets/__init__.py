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

from cbreservoir.datasets.uea import UEA_DATASETS, load_uea

__all__ = [
    "UEA_DATASETS",
    "load_uea",
]

"""UEA/UCR time-series classification sets shipped inside ``aeon``'s wheel, loaded offline.

Each set keeps its published train/test split. Series come back in this toolkit's layout: a list of
``(time, features)`` float64 arrays (lengths may differ, e.g. JapaneseVowels) and an array of labels.
"""

from __future__ import annotations

import importlib
import warnings

import numpy as np

from cbreservoir.utils.checks import check_choice

__all__ = ["UEA_DATASETS", "load_uea"]

#: Set name -> the ``aeon.datasets`` loader that reads it from the files inside the aeon wheel.
#: (aeon 1.6 marks ACSF1 and OSULeaf deprecated, due to leave the wheel in 1.7; its warning is silenced.)
_LOADERS: dict[str, str] = {
    "ACSF1": "load_acsf1",
    "ArrowHead": "load_arrow_head",
    "BasicMotions": "load_basic_motions",
    "GunPoint": "load_gunpoint",
    "ItalyPowerDemand": "load_italy_power_demand",
    "JapaneseVowels": "load_japanese_vowels",
    "OSULeaf": "load_osuleaf",
    "PickupGestureWiimoteZ": "load_pickup_gesture_wiimoteZ",
    "UnitTest": "load_unit_test",
}

#: Names accepted by :func:`load_uea`.
UEA_DATASETS: tuple[str, ...] = tuple(_LOADERS)

_SPLITS = ("train", "test")


def _aeon_datasets():
    try:
        return importlib.import_module("aeon.datasets")
    except ImportError as error:
        raise ImportError(
            'cbreservoir.datasets needs the optional package aeon: pip install -e ".[data]" '
            '(or pip install "cbreservoir[data]")'
        ) from error


def load_uea(name: str, split: str = "train") -> tuple[list[np.ndarray], np.ndarray]:
    """Load one split of a UEA/UCR classification set shipped with aeon (no download).

    Parameters
    ----------
    name : str
        One of :data:`UEA_DATASETS` (case as listed).
    split : {"train", "test"}, default "train"
        The published split.

    Returns
    -------
    X : list of ndarray (T_i, d), float64
        One array per series, time along the rows.
    y : ndarray (S,)
        Class labels as aeon gives them (strings).

    Raises
    ------
    ValueError
        An unknown ``name`` (the message lists the available ones) or ``split``.
    ImportError
        aeon is not installed (the message says how to install it).
    """
    if name not in _LOADERS:
        raise ValueError(f"unknown UEA/UCR data set {name!r}; available: {', '.join(UEA_DATASETS)}")
    check_choice(split, "split", allowed=_SPLITS)
    loader = getattr(_aeon_datasets(), _LOADERS[name])
    with warnings.catch_warnings():  # aeon's deprecation notices (ACSF1, OSULeaf, other shipped sets)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        X, y = loader(split=split)
    series = [np.ascontiguousarray(np.asarray(x, dtype=np.float64).T) for x in X]
    return series, np.asarray(y)

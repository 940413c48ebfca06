"""cbreservoir.datasets: the UEA/UCR sets shipped with aeon, loaded offline."""

import sys

import numpy as np
import pytest

from cbreservoir.datasets import UEA_DATASETS, load_uea

pytest.importorskip("aeon")


def test_japanese_vowels_is_a_ragged_list_of_time_by_feature_series():
    X, y = load_uea("JapaneseVowels", "train")
    assert isinstance(X, list) and len(X) == len(y) == 270
    assert {x.shape[1] for x in X} == {12}
    lengths = [x.shape[0] for x in X]
    assert min(lengths) < max(lengths) <= 29  # ragged: utterances of different lengths
    assert all(x.dtype == np.float64 and x.flags.c_contiguous and np.isfinite(x).all() for x in X)
    assert sorted(set(y)) == [str(k) for k in range(1, 10)]


@pytest.mark.parametrize(
    ("name", "n_train", "n_test", "shape", "n_classes"),
    [
        ("BasicMotions", 40, 40, (100, 6), 4),
        ("GunPoint", 50, 150, (150, 1), 2),
        ("ItalyPowerDemand", 67, 1029, (24, 1), 2),
        ("ACSF1", 100, 100, (1460, 1), 10),
        ("OSULeaf", 200, 242, (427, 1), 6),
        ("ArrowHead", 36, 175, (251, 1), 3),
    ],
)
def test_published_splits_have_their_sizes_and_time_runs_along_rows(name, n_train, n_test, shape, n_classes):
    X_train, y_train = load_uea(name, "train")
    X_test, y_test = load_uea(name, split="test")
    assert (len(X_train), len(y_train), len(X_test), len(y_test)) == (n_train, n_train, n_test, n_test)
    assert {x.shape for x in X_train + X_test} == {shape}
    assert len(set(y_train)) == n_classes and set(y_test) <= set(y_train)


def test_the_series_are_aeons_series_transposed():
    from aeon.datasets import load_basic_motions

    X_aeon, y_aeon = load_basic_motions(split="test")  # (series, channels, time)
    X, y = load_uea("BasicMotions", "test")
    np.testing.assert_array_equal(np.stack(X), X_aeon.transpose(0, 2, 1))
    np.testing.assert_array_equal(y, y_aeon)


def test_every_listed_set_loads():
    for name in UEA_DATASETS:
        X, y = load_uea(name, "test")
        assert len(X) == len(y) > 0 and all(x.ndim == 2 for x in X)


def test_every_set_in_aeons_wheel_is_listed_and_loads_without_a_warning():
    import warnings

    assert set(UEA_DATASETS) == {
        "ACSF1", "ArrowHead", "BasicMotions", "GunPoint", "ItalyPowerDemand", "JapaneseVowels", "OSULeaf",
        "PickupGestureWiimoteZ", "UnitTest",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # aeon's deprecation notice of ACSF1 and OSULeaf is silenced
        for name in ("ACSF1", "OSULeaf"):
            X, y = load_uea(name, "train")
            assert len(X) == len(y)


def test_pickup_gesture_has_unequal_lengths():
    X, _ = load_uea("PickupGestureWiimoteZ", "train")
    assert len({len(x) for x in X}) > 1 and {x.shape[1] for x in X} == {1}


def test_unknown_name_lists_the_available_sets():
    with pytest.raises(ValueError, match="unknown UEA/UCR data set 'Wafer'.*JapaneseVowels"):
        load_uea("Wafer")
    with pytest.raises(ValueError, match="split must be one of"):
        load_uea("GunPoint", split="validation")


def test_missing_aeon_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "aeon.datasets", None)  # makes `import aeon.datasets` fail
    with pytest.raises(ImportError, match=r'pip install -e "\.\[data\]"'):
        load_uea("GunPoint")

"""Dimensionality measures on cases with known answers (sparseness: test_analysis_sparseness.py)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cbreservoir.analysis import participation_ratio, pca_dimensions, pca_spectrum, spectrum_dimensions


@pytest.mark.parametrize("dims", [1, 3, 8])
def test_participation_ratio_of_isotropic_gaussian_is_its_dimension(dims):
    rng = np.random.default_rng(dims)
    embedding = np.linalg.qr(rng.standard_normal((20, dims)))[0].T  # (dims, 20) orthonormal rows
    activity = rng.standard_normal((20000, dims)) @ embedding
    assert participation_ratio(activity) == pytest.approx(dims, rel=0.03)
    assert pca_dimensions(activity, fractions=(1.0,)) == {1.0: dims}


def test_rank_one_data_has_one_dimension():
    rng = np.random.default_rng(0)
    activity = np.outer(rng.standard_normal(300), rng.standard_normal(12)) + 5.0
    assert participation_ratio(activity) == pytest.approx(1.0, abs=1e-9)
    assert pca_dimensions(activity) == {0.9: 1, 0.95: 1}


def test_pca_dimensions_of_a_known_spectrum():
    # variances 4, 3, 2, 1 along orthogonal axes: fractions 0.4, 0.7, 0.9, 1.0
    rng = np.random.default_rng(1)
    white = rng.standard_normal((4000, 4))
    white = (white - white.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(white.T))).T
    activity = white * np.sqrt([4.0, 3.0, 2.0, 1.0])
    np.testing.assert_allclose(pca_spectrum(activity), [4.0, 3.0, 2.0, 1.0], atol=1e-9)
    assert pca_dimensions(activity, fractions=(0.35, 0.7, 0.9, 0.95)) == {0.35: 1, 0.7: 2, 0.9: 3, 0.95: 4}
    assert participation_ratio(activity) == pytest.approx(100 / 30)


def test_the_study_measures_of_a_known_spectrum():
    # variances 4, 3, 2, 1 in a population of 10 units (6 silent): 90 % needs 3 PCs, 95 % needs 4
    rng = np.random.default_rng(2)
    white = rng.standard_normal((4000, 4))
    white = (white - white.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(white.T))).T
    embedding = np.linalg.qr(rng.standard_normal((10, 4)))[0].T  # (4, 10) orthonormal rows
    activity = (white * np.sqrt([4.0, 3.0, 2.0, 1.0])) @ embedding + 7.0  # centring removes the offset
    dims = spectrum_dimensions(pca_spectrum(activity), units=10)
    assert dims == pytest.approx(
        {"d90": 3, "d95": 4, "d95_per_unit": 0.4, "participation_ratio": 100 / 30, "units": 10}
    )
    assert spectrum_dimensions(np.zeros(3), units=3)["participation_ratio"] == 0.0


def test_silent_population_has_zero_dimensions():
    activity = np.zeros((50, 6))
    assert participation_ratio(activity) == 0.0
    assert pca_dimensions(activity) == {0.9: 0, 0.95: 0}


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), units=st.integers(2, 10), scale=st.floats(0.01, 100.0))
def test_participation_ratio_bounds_and_scale_invariance(seed, units, scale):
    activity = np.random.default_rng(seed).standard_normal((40, units)) ** 3
    ratio = participation_ratio(activity)
    assert 1.0 - 1e-9 <= ratio <= units + 1e-9
    assert participation_ratio(scale * activity + 3.0) == pytest.approx(ratio, rel=1e-9)


def test_torch_tensors_are_accepted():
    activity = np.random.default_rng(0).standard_normal((100, 4))
    assert participation_ratio(torch.from_numpy(activity).float()) == pytest.approx(
        participation_ratio(activity), rel=1e-5
    )


@pytest.mark.parametrize(
    ("activity", "message"),
    [
        (np.zeros(5), r"2-D; got an array of shape \(5,\)"),
        (np.zeros((1, 5)), "at least 2 samples"),
        (np.array([[0.0, np.nan], [1.0, 2.0]]), "finite"),
        (np.zeros((0, 3)), "empty"),
    ],
)
def test_dimensionality_rejects_bad_activity(activity, message):
    with pytest.raises(ValueError, match=message):
        participation_ratio(activity)


def test_pca_dimensions_rejects_fractions_outside_unit_interval():
    with pytest.raises(ValueError, match=r"\(0, 1\]; got 1.5"):
        pca_dimensions(np.eye(3), fractions=(0.9, 1.5))

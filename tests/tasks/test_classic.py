"""NARMA-10, Mackey–Glass, Lorenz-63 and memory capacity against their textbook definitions."""

import inspect

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from cbreservoir.tasks import (
    LORENZ63_LYAPUNOV,
    forgetting_curve,
    lorenz63,
    mackey_glass,
    memory_capacity,
    memory_capacity_score,
    narma10,
)


def _atiya_parlos(u: np.ndarray) -> np.ndarray:
    """Textbook form y(t+1) = .3 y(t) + .05 y(t) Σ_{i=0}^{9} y(t−i) + 1.5 u(t−9) u(t) + .1, y(t)=0 early."""
    y_next = np.zeros(len(u))  # y_next[t] = y(t + 1)
    y = lambda t: y_next[t - 1] if t >= 1 else 0.0  # noqa: E731  y(t) = y_next[t - 1]
    for t in range(10, len(u)):
        history = sum(y(t - i) for i in range(10))
        y_next[t] = 0.3 * y(t) + 0.05 * y(t) * history + 1.5 * u[t - 9] * u[t] + 0.1
    return y_next


def test_narma10_follows_the_atiya_parlos_recursion():
    u, y = narma10(3000, seed=0)
    assert u.shape == y.shape == (3000, 1)
    assert u.min() >= 0.0 and u.max() <= 0.5
    np.testing.assert_allclose(y[:, 0], _atiya_parlos(u[:, 0]), rtol=0, atol=1e-12)
    # mean-field fixed point m = .3 m + .5 m² + .1 + 1.5 E[u]²  ->  m = .7 − sqrt(.49 − 4 · .5 · .19375)
    assert y[100:].mean() == pytest.approx(0.7 - np.sqrt(0.49 - 2 * 0.19375), abs=0.02)


def test_narma10_is_seeded_and_accepts_an_input():
    np.testing.assert_array_equal(narma10(50, seed=3)[1], narma10(50, seed=3)[1])
    assert not np.array_equal(narma10(50, seed=3)[1], narma10(50, seed=4)[1])
    u = np.full(50, 0.25)
    np.testing.assert_array_equal(narma10(50, u=u)[0][:, 0], u)


def test_reservoirpy_narma_differs_from_the_standard_form():
    """reservoirpy's narma sums y[t-10..t-1] and uses u[t-10]: one step off; NARMA-30 defaults."""
    from reservoirpy.datasets import narma as rpy_narma

    defaults = {name: p.default for name, p in inspect.signature(rpy_narma).parameters.items()}
    assert (defaults["order"], defaults["a1"], defaults["a2"], defaults["c"]) == (30, 0.2, 0.04, 0.001)

    order, n = 10, 400
    u = np.random.default_rng(0).uniform(0, 0.5, size=n + order)
    _, y_rpy = rpy_narma(n, order=order, a1=0.3, a2=0.05, b=1.5, c=0.1, u=u[:, None])
    # reservoirpy's recursion written out: y[t+1] = a1 y[t] + a2 y[t] Σ y[t-10..t-1] + b u[t-10] u[t] + c
    y_shifted = np.zeros(n + order)
    for t in range(order, n + order - 1):
        window = y_shifted[t - 10 : t].sum()
        y_shifted[t + 1] = 0.3 * y_shifted[t] + 0.05 * y_shifted[t] * window + 1.5 * u[t - 10] * u[t] + 0.1
    np.testing.assert_allclose(y_rpy[:, 0], y_shifted[order:], atol=1e-12)
    # the same input through the standard form, aligned to reservoirpy's output, does not agree
    _, y_standard = narma10(n + order, u=u)
    assert np.max(np.abs(y_standard[order + 1 :, 0] - y_rpy[1:, 0])) > 0.05


def test_narma10_rejects_bad_input():
    with pytest.raises(ValueError, match="n_timesteps must be > 10, got 10"):
        narma10(10)
    with pytest.raises(ValueError, match="u must hold n_timesteps=20 values, got shape"):
        narma10(20, u=np.zeros(19))


def test_mackey_glass_first_delay_matches_the_analytic_solution():
    """With constant history x0 the first τ time units solve the linear ODE x' = a·x0/(1+x0^n) − b x."""
    a, b, x0 = 0.2, 0.1, 1.2
    series = mackey_glass(18, x0=x0)[:, 0]
    drive = a * x0 / (1 + x0**10) / b
    t = np.arange(18.0)
    np.testing.assert_allclose(series, drive + (x0 - drive) * np.exp(-b * t), atol=1e-9)


def test_mackey_glass_second_delay_matches_scipy():
    """On [τ, 2τ] the delayed term is the known first-interval solution: an ODE scipy can solve."""
    a, b, x0, tau = 0.2, 0.1, 1.2, 17.0
    drive = a * x0 / (1 + x0**10) / b
    first = lambda s: drive + (x0 - drive) * np.exp(-b * s)  # noqa: E731
    rhs = lambda s, x: a * first(s - tau) / (1 + first(s - tau) ** 10) - b * x  # noqa: E731
    times = np.arange(17.0, 35.0)
    reference = solve_ivp(rhs, (tau, 34.0), [first(tau)], t_eval=times, rtol=1e-11, atol=1e-12).y[0]
    np.testing.assert_allclose(mackey_glass(35)[17:, 0], reference, atol=1e-8)


def test_mackey_glass_step_convergence_and_chaotic_range():
    coarse = mackey_glass(1500)[:, 0]
    fine = mackey_glass(1500, dt=0.05)[:, 0]
    assert np.max(np.abs(coarse[:500] - fine[:500])) < 1e-6
    settled = coarse[500:]
    assert 0.2 < settled.min() < 0.6 and 1.1 < settled.max() < 1.45
    assert 0.8 < settled.mean() < 1.0
    # aperiodic: no lag up to 200 reproduces the series
    errors = [np.max(np.abs(settled[lag:] - settled[:-lag])) for lag in range(1, 200)]
    assert min(errors) > 0.05


def test_mackey_glass_validates_the_step():
    with pytest.raises(ValueError, match=r"dt must be a finite number in \(0, 0.1\]; got 0.5"):
        mackey_glass(10, dt=0.5)
    with pytest.raises(ValueError, match="tau must be a positive multiple of dt"):
        mackey_glass(10, tau=17.05)


def test_memory_capacity_targets_are_delayed_inputs():
    u, targets = memory_capacity(100, max_delay=5, seed=0)
    assert targets.shape == (100, 5) and np.abs(u).max() <= 0.5
    for k in range(1, 6):
        np.testing.assert_array_equal(targets[k:, k - 1], u[:-k, 0])


def test_memory_capacity_of_a_delay_line_equals_its_length():
    """States holding u(t), …, u(t−D+1) recall delays 1..D−1 exactly and nothing older."""
    length, line, max_delay = 4000, 8, 15
    u, targets = memory_capacity(length, max_delay=max_delay, seed=1)
    states = np.stack([np.roll(u[:, 0], shift) for shift in range(line)], axis=1)
    design = np.hstack([states, np.ones((length, 1))])[max_delay:]
    weights, *_ = np.linalg.lstsq(design, targets[max_delay:], rcond=None)
    curve = forgetting_curve(targets[max_delay:], design @ weights)
    np.testing.assert_allclose(curve[: line - 1], 1.0, atol=1e-10)
    assert np.all(curve[line - 1 :] < 0.01)
    assert memory_capacity_score(targets[max_delay:], design @ weights) == pytest.approx(line - 1, abs=0.05)


def test_forgetting_curve_is_invariant_to_affine_readouts_and_zero_for_constants():
    _, targets = memory_capacity(200, max_delay=3, seed=2)
    np.testing.assert_allclose(forgetting_curve(targets, 3.0 * targets - 1.0), 1.0)
    np.testing.assert_array_equal(forgetting_curve(targets, np.ones_like(targets)), 0.0)
    with pytest.raises(ValueError, match="same shape"):
        forgetting_curve(targets, targets[:, :2])


def test_lorenz63_fixed_points_symmetry_and_convergence():
    beta, rho = 8.0 / 3.0, 28.0
    c = np.sqrt(beta * (rho - 1.0))
    for point in ((c, c, rho - 1.0), (-c, -c, rho - 1.0), (0.0, 0.0, 0.0)):
        np.testing.assert_allclose(lorenz63(50, x0=point), np.tile(point, (50, 1)), atol=1e-9)
    a = lorenz63(60, x0=(1.0, 2.0, 3.0))
    b = lorenz63(60, x0=(-1.0, -2.0, 3.0))  # (x, y, z) -> (-x, -y, z) maps solutions to solutions
    np.testing.assert_allclose(b, a * [-1.0, -1.0, 1.0], atol=1e-12)
    coarse, fine = (lorenz63(60, x0=(1.0, 2.0, 3.0), substeps=k) for k in (5, 20))
    ratio = np.abs(coarse - fine).max() / np.abs(a - fine).max()  # RK4 is 4th order: about 2^4 + 1
    assert 14 < ratio < 20
    assert a.shape == (60, 3) and np.array_equal(a[0], [1.0, 2.0, 3.0])
    times = np.arange(60) * 0.02
    reference = solve_ivp(
        lambda t, s: [10.0 * (s[1] - s[0]), s[0] * (rho - s[2]) - s[1], s[0] * s[1] - beta * s[2]],
        (0.0, times[-1]), [1.0, 2.0, 3.0], t_eval=times, method="DOP853", rtol=1e-12, atol=1e-12,
    )  # fmt: skip
    np.testing.assert_allclose(a, reference.y.T, atol=2e-6)


def test_lorenz63_largest_lyapunov_exponent_and_attractor():
    """Benettin's two-trajectory estimate over 150 time units is within 10% of 0.9056."""
    interval, n_intervals, d0 = 0.5, 300, 1e-8
    kwargs = {"dt": 0.01, "substeps": 1}
    state = lorenz63(501, **kwargs)[-1]  # on the attractor
    other, log_growth, zs = state + [d0, 0.0, 0.0], 0.0, []
    for _ in range(n_intervals):
        path = lorenz63(51, x0=state, **kwargs)
        end = lorenz63(51, x0=other, **kwargs)[-1]
        state, distance = path[-1], np.linalg.norm(end - path[-1])
        log_growth += np.log(distance / d0)
        other = state + (end - state) * (d0 / distance)
        zs.append(path[1:, 2])
    exponent = log_growth / (interval * n_intervals)
    assert abs(exponent - LORENZ63_LYAPUNOV) < 0.1 * LORENZ63_LYAPUNOV
    assert 22.5 < np.concatenate(zs).mean() < 24.5  # the attractor's mean z ≈ 23.5


def test_lorenz63_bad_input():
    with pytest.raises(ValueError, match="x0 must hold 3 finite values"):
        lorenz63(10, x0=(1.0, 2.0))
    with pytest.raises(ValueError, match="dt must be a finite number > 0"):
        lorenz63(10, dt=0.0)
    with pytest.raises(ValueError, match="n_timesteps"):
        lorenz63(0)
    with pytest.raises(ValueError, match="diverged"):
        lorenz63(200, dt=1.0, substeps=1)

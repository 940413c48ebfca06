"""Classic reservoir-computing benchmarks: NARMA-10, Mackey–Glass, Lorenz-63, memory capacity.

Arrays follow reservoirpy's layout, ``(time, features)``, float64.

* :func:`narma10` — the standard NARMA-10 of Atiya & Parlos (2000). reservoirpy's
  ``reservoirpy.datasets.narma`` differs: its sum runs over ``y[t-10 .. t-1]`` and its input product
  uses ``u[t-10]`` (one step further back than the textbook ``y[t-9 .. t]`` and ``u[t-9]``), and its
  default constants (0.2, 0.04, 1.5, 0.001) are those of NARMA-30.
* :func:`mackey_glass` — the delay differential equation integrated by RK4 with step ``dt``
  (default 0.1), the delayed value at half steps from cubic Hermite interpolation, sampled every 1.
* :func:`lorenz63` — the Lorenz (1963) system integrated by RK4 with ``substeps`` steps per sample;
  its largest Lyapunov exponent with the classic parameters is :data:`LORENZ63_LYAPUNOV` (0.906;
  Sprott 2003), the unit of the valid prediction time (docs/forecasting.md).
* :func:`memory_capacity` / :func:`memory_capacity_score` — Jaeger's (2001) short-term memory
  capacity: MC = Σ_k r²(u(t−k), ŷ_k(t)).

Japanese Vowels is not provided: no installed package ships it offline (reservoirpy downloads it).

Examples
--------
>>> import numpy as np
>>> from cbreservoir.tasks import narma10, mackey_glass, lorenz63, memory_capacity, memory_capacity_score
>>> u, y = narma10(1000, seed=0)                 # u, y: (1000, 1); y[t] is the target given u[..t]
>>> series = mackey_glass(500)                   # (500, 1)
>>> lorenz63(1000, dt=0.02).shape                # x, y, z every 0.02 time units
(1000, 3)
>>> u, targets = memory_capacity(2000, max_delay=20, seed=0)   # targets[t, k-1] = u[t-k]
>>> round(memory_capacity_score(targets[20:], targets[20:]), 6)  # perfect recall of 20 delays
20.0
"""

from __future__ import annotations

import numpy as np

from cbreservoir.utils.checks import check_positive_int, check_real, check_seed

SeedLike = int | np.random.Generator | None

#: Atiya–Parlos NARMA-10 constants: y[t] = A y[t-1] + B y[t-1] Σ_{i=1..10} y[t-i] + C u[t-9] u[t] + D.
NARMA10_CONSTANTS = (0.3, 0.05, 1.5, 0.1)
_NARMA_ORDER = 10


def narma10(
    n_timesteps: int, *, seed: SeedLike = None, u: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """NARMA-10 input and target series (Atiya & Parlos 2000), time-aligned.

    With the input at time t written u[t] and the target the reservoir must output at time t
    written y[t] (the textbook y(t+1)):

        y[t] = 0.3 y[t−1] + 0.05 y[t−1] Σ_{i=1}^{10} y[t−i] + 1.5 u[t−9] u[t] + 0.1,

    u[t] ~ U[0, 0.5] i.i.d., and y[t] = 0 for t < 10 (discard a washout of a few hundred steps).

    Parameters
    ----------
    n_timesteps : int
        Length T (> 10).
    seed : int, numpy.random.Generator or None
        Draws ``u`` when it is not given.
    u : ndarray (T,) or (T, 1), optional
        Input series to use instead of a random one.

    Returns
    -------
    u : ndarray (T, 1)
    y : ndarray (T, 1)

    Raises
    ------
    ValueError
        If the series diverges (non-finite values) or the shapes are wrong.
    """
    check_positive_int(n_timesteps, "n_timesteps")
    if n_timesteps <= _NARMA_ORDER:
        raise ValueError(f"n_timesteps must be > {_NARMA_ORDER}, got {n_timesteps}")
    if u is None:
        rng = np.random.default_rng(check_seed(seed, none=True, generator=True))
        u = rng.uniform(0.0, 0.5, size=n_timesteps)
    u = np.asarray(u, dtype=np.float64).reshape(-1)
    if u.shape != (n_timesteps,):
        raise ValueError(f"u must hold n_timesteps={n_timesteps} values, got shape {u.shape}")
    a, b, c, d = NARMA10_CONSTANTS
    y = np.zeros(n_timesteps)
    for t in range(_NARMA_ORDER, n_timesteps):
        past = y[t - _NARMA_ORDER : t]
        y[t] = a * y[t - 1] + b * y[t - 1] * past.sum() + c * u[t - 9] * u[t] + d
    if not np.all(np.isfinite(y)):
        raise ValueError("NARMA-10 diverged (non-finite values); use another seed or input")
    return u[:, None], y[:, None]


def _mackey_glass_rate(x: float, x_delayed: float, a: float, b: float, n: float) -> float:
    return a * x_delayed / (1.0 + x_delayed**n) - b * x


def mackey_glass(
    n_timesteps: int,
    *,
    tau: float = 17.0,
    a: float = 0.2,
    b: float = 0.1,
    n: float = 10.0,
    x0: float = 1.2,
    dt: float = 0.1,
    sampling_step: float = 1.0,
) -> np.ndarray:
    """Mackey–Glass series dx/dt = a x(t−τ) / (1 + x(t−τ)^n) − b x(t), sampled every ``sampling_step``.

    The history is constant, x(t) = ``x0`` for t <= 0. RK4 with step ``dt``; the delayed value is
    read from the stored grid at whole steps and, at half steps, interpolated by a cubic Hermite
    polynomial through the stored values and slopes (fourth order, like RK4). Sample i is
    x(i · sampling_step), starting with x(0) = ``x0``; with τ = 17 the chaotic regime is reached
    after a transient of a few hundred time units (discard it).

    Parameters
    ----------
    n_timesteps : int
        Number of samples.
    tau, a, b, n : float
        Equation parameters (τ = 17 is the chaotic benchmark).
    x0 : float
        Constant initial history.
    dt : float
        Integration step, at most 0.1; ``tau`` and ``sampling_step`` must be multiples of it.
    sampling_step : float
        Time between samples.

    Returns
    -------
    ndarray (n_timesteps, 1)
    """
    check_positive_int(n_timesteps, "n_timesteps")
    check_real(dt, "dt", minimum=0.0, maximum=0.1, strict=True)
    delay_steps = round(tau / dt)
    steps_per_sample = round(sampling_step / dt)
    if delay_steps < 1 or not np.isclose(delay_steps * dt, tau):
        raise ValueError(f"tau must be a positive multiple of dt={dt}, got {tau!r}")
    if steps_per_sample < 1 or not np.isclose(steps_per_sample * dt, sampling_step):
        raise ValueError(f"sampling_step must be a positive multiple of dt={dt}, got {sampling_step!r}")

    n_steps = (n_timesteps - 1) * steps_per_sample
    # grid[j] = x((j - delay_steps) * dt); the constant history fills the first delay_steps + 1 entries
    grid = np.empty(delay_steps + n_steps + 1)
    grid[: delay_steps + 1] = x0
    slopes = np.zeros_like(grid)  # dx/dt on the grid, for the Hermite interpolation of the delayed value
    for j in range(delay_steps, delay_steps + n_steps):
        x = grid[j]
        lag = j - delay_steps
        lag_now, lag_next = grid[lag], grid[lag + 1]
        if lag < delay_steps:  # the delayed interval lies in the constant history
            lag_half = x0
        else:  # cubic Hermite midpoint, exact to O(dt^4) like RK4 itself
            lag_half = 0.5 * (lag_now + lag_next) + dt / 8.0 * (slopes[lag] - slopes[lag + 1])
        k1 = _mackey_glass_rate(x, lag_now, a, b, n)
        k2 = _mackey_glass_rate(x + 0.5 * dt * k1, lag_half, a, b, n)
        k3 = _mackey_glass_rate(x + 0.5 * dt * k2, lag_half, a, b, n)
        k4 = _mackey_glass_rate(x + dt * k3, lag_next, a, b, n)
        slopes[j] = k1
        grid[j + 1] = x + dt * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0
    return grid[delay_steps::steps_per_sample][:, None].copy()


#: Largest Lyapunov exponent of Lorenz-63 with σ = 10, ρ = 28, β = 8/3 (Sprott 2003: 0.9056).
LORENZ63_LYAPUNOV = 0.9056


def _lorenz_rate(state: np.ndarray, sigma: float, rho: float, beta: float) -> np.ndarray:
    x, y, z = state
    return np.array([sigma * (y - x), x * (rho - z) - y, x * y - beta * z])


def lorenz63(
    n_timesteps: int,
    *,
    dt: float = 0.02,
    sigma: float = 10.0,
    rho: float = 28.0,
    beta: float = 8.0 / 3.0,
    x0: tuple[float, float, float] | np.ndarray = (1.0, 1.0, 1.0),
    substeps: int = 10,
) -> np.ndarray:
    """Lorenz-63 trajectory dx/dt = σ(y − x), dy/dt = x(ρ − z) − y, dz/dt = xy − βz, sampled every ``dt``.

    Classic RK4 with step ``dt / substeps``; sample i is the state at time i · dt, sample 0 is ``x0``.
    From the default ``x0`` the trajectory reaches the attractor within a few time units (discard them).

    Parameters
    ----------
    n_timesteps : int
        Number of samples.
    dt : float
        Time between samples (> 0).
    sigma, rho, beta : float
        Equation parameters (the chaotic classic by default).
    x0 : sequence of 3 floats
        Initial state.
    substeps : int
        RK4 steps per sample.

    Returns
    -------
    ndarray (n_timesteps, 3)
        Columns x, y, z.
    """
    check_positive_int(n_timesteps, "n_timesteps")
    check_positive_int(substeps, "substeps")
    for value, name in ((sigma, "sigma"), (rho, "rho"), (beta, "beta")):
        check_real(value, name)
    check_real(dt, "dt", minimum=0.0, strict=True)
    state = np.asarray(x0, dtype=np.float64)
    if state.shape != (3,) or not np.all(np.isfinite(state)):
        raise ValueError(f"x0 must hold 3 finite values, got {x0!r}")
    h = dt / substeps
    out = np.empty((n_timesteps, 3))
    out[0] = state
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(1, n_timesteps):
            for _ in range(substeps):
                k1 = _lorenz_rate(state, sigma, rho, beta)
                k2 = _lorenz_rate(state + 0.5 * h * k1, sigma, rho, beta)
                k3 = _lorenz_rate(state + 0.5 * h * k2, sigma, rho, beta)
                k4 = _lorenz_rate(state + h * k3, sigma, rho, beta)
                state = state + h * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0
            if not np.all(np.isfinite(state)):
                raise ValueError(f"Lorenz-63 diverged (non-finite values) with dt={dt}, substeps={substeps}")
            out[i] = state
    return out


def memory_capacity(
    n_timesteps: int, *, max_delay: int = 40, seed: SeedLike = None, scale: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Input and delayed-recall targets of Jaeger's memory-capacity task.

    Parameters
    ----------
    n_timesteps : int
        Length T (> ``max_delay``).
    max_delay : int
        Largest delay K; targets cover delays 1..K.
    seed : int, numpy.random.Generator or None
    scale : float
        u(t) ~ U[−scale, scale] i.i.d.

    Returns
    -------
    u : ndarray (T, 1)
    targets : ndarray (T, K)
        ``targets[t, k - 1] = u[t - k]``; rows t < K are partly undefined (set to 0) — discard at
        least K steps of washout before fitting and scoring.
    """
    check_positive_int(n_timesteps, "n_timesteps")
    check_positive_int(max_delay, "max_delay")
    if n_timesteps <= max_delay:
        raise ValueError(f"n_timesteps must be > max_delay={max_delay}, got {n_timesteps}")
    rng = np.random.default_rng(check_seed(seed, none=True, generator=True))
    u = rng.uniform(-scale, scale, size=n_timesteps)
    targets = np.zeros((n_timesteps, max_delay))
    for k in range(1, max_delay + 1):
        targets[k:, k - 1] = u[:-k]
    return u[:, None], targets


def forgetting_curve(targets: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Squared correlation between each delayed input and its reconstruction.

    Parameters
    ----------
    targets : ndarray (T, K)
        True delayed inputs (after washout), as from :func:`memory_capacity`.
    predictions : ndarray (T, K)
        A readout's reconstructions.

    Returns
    -------
    ndarray (K,)
        r²_k in [0, 1]; 0 where a prediction is constant.
    """
    targets = np.asarray(targets, dtype=np.float64)
    predictions = np.asarray(predictions, dtype=np.float64)
    if targets.ndim != 2 or targets.shape != predictions.shape or targets.shape[0] < 2:
        raise ValueError(
            "targets and predictions must be (time, delays) arrays of the same shape with time >= 2, "
            f"got {targets.shape} and {predictions.shape}"
        )
    centred_t = targets - targets.mean(axis=0)
    centred_p = predictions - predictions.mean(axis=0)
    covariance = (centred_t * centred_p).sum(axis=0)
    variances = (centred_t**2).sum(axis=0) * (centred_p**2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r_squared = np.where(variances > 0, covariance**2 / variances, 0.0)
    return r_squared


def memory_capacity_score(targets: np.ndarray, predictions: np.ndarray) -> float:
    """Jaeger's memory capacity MC = Σ_k r²(u(t−k), ŷ_k(t)) (the sum of :func:`forgetting_curve`)."""
    return float(forgetting_curve(targets, predictions).sum())

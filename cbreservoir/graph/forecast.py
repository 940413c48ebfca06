"""Forecasting with any graph: h-step-ahead training pairs and closed-loop generation. No torch here.

* :func:`forecast_pairs` — inputs and targets of h-step-ahead forecasting: ``Y[t] = series[t + h]``
  for one horizon, or the concatenation over several horizons (a direct multi-step forecast);
* :func:`generate` — closed loop: a one-step forecaster is warmed up on the true series (teacher
  forcing), then fed its own output for ``n_steps`` steps. It works for cbreservoir's :class:`Model`
  and nodes (a compiled loop over the nodes' ``stepper()``) and for reservoirpy's models and nodes (one
  ``run`` call per step, which keeps the states between calls in both libraries).

Examples
--------
>>> import numpy as np
>>> from cbreservoir.graph.forecast import forecast_pairs, generate
>>> from cbreservoir.nodes import Ridge
>>> series = np.arange(10.0)[:, None]
>>> X, Y = forecast_pairs(series, horizon=[1, 3])      # Y[t] = [series[t+1], series[t+3]]
>>> X.shape, Y[0].tolist()
((7, 1), [1.0, 3.0])
>>> doubling = Ridge(Wout=np.array([[2.0]]), bias=np.zeros(1))   # y = 2 u
>>> generate(doubling, np.array([[1.0]]), 4).ravel().tolist()
[2.0, 4.0, 8.0, 16.0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from cbreservoir.graph.model import Model
from cbreservoir.nodes.operators import ValidatedStepMixin
from cbreservoir.utils.checks import as_float_array, check_finite, check_positive_int

__all__ = ["forecast_pairs", "generate"]


def _check_series_2d(series: object, name: str) -> np.ndarray:
    array = as_float_array(series, name)
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"{name} must be one non-empty (time, features) series; got shape {array.shape}")
    check_finite(array, name)
    return array


def forecast_pairs(series: object, *, horizon: int | Sequence[int] = 1) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and h-step-ahead targets of one series.

    Parameters
    ----------
    series : array (T, d)
    horizon : int or sequence of int, default 1
        h >= 1; several horizons h_1..h_k give targets side by side.

    Returns
    -------
    X : ndarray (T − max h, d)
        ``series[:T − max h]``.
    Y : ndarray (T − max h, k · d)
        ``Y[t] = [series[t + h_1], ..., series[t + h_k]]``.
    """
    array = _check_series_2d(series, "series")
    horizons = [horizon] if isinstance(horizon, (int, np.integer)) else list(horizon)
    if not horizons:
        raise ValueError("horizon must be a positive int or a non-empty sequence of them; got []")
    horizons = [check_positive_int(h, "horizon") for h in horizons]
    longest = max(horizons)
    if longest >= len(array):
        raise ValueError(f"horizon {longest} needs a series longer than {longest} steps; got {len(array)}")
    n_pairs = len(array) - longest
    targets = np.concatenate([array[h : h + n_pairs] for h in horizons], axis=1)
    return array[:n_pairs].copy(), targets


def generate(model: object, warmup: object, n_steps: int) -> np.ndarray:
    """Closed-loop forecast: run ``model`` on the true ``warmup`` series, then on its own outputs.

    The model must be a one-step forecaster whose output has the input's width (trained on
    :func:`forecast_pairs` with ``horizon=1``). Its states continue from where they are (reset the model
    first for a fresh start) and are left at the end of the generated series.

    A feedforward graph of cbreservoir nodes (a :class:`~cbreservoir.nodes.Model` that ``runs_batched``)
    or one cbreservoir node generates in a compiled closed loop: every node is stepped by its
    ``stepper()`` (operands prepared once, no checks per step), the same numbers as one ``run`` call
    per generated step (tested, float64 1e-10). Anything else (reservoirpy's models and nodes, graphs with
    delayed edges) gets one ``run`` call on a ``(1, d)`` array per step, which keeps the states between
    calls in both libraries.

    Parameters
    ----------
    model : Model or node, cbreservoir's or reservoirpy's
        Anything with ``run(x)`` mapping a ``(time, d)`` array to ``(time, d)`` outputs.
    warmup : array (T_w, d)
        True values; its last output is the first forecast.
    n_steps : int
        Forecast length.

    Returns
    -------
    ndarray (n_steps, d)
        Row i forecasts the value i + 1 steps after ``warmup``'s last.
    """
    if not callable(getattr(model, "run", None)):
        raise TypeError(f"model must have a run(x) method (a graph or node); got {type(model).__name__}")
    context = _check_series_2d(warmup, "warmup")
    n_steps = check_positive_int(n_steps, "n_steps")
    width = context.shape[1]
    outputs = model.run(context)
    if not isinstance(outputs, np.ndarray) or outputs.shape != context.shape:
        shape = getattr(outputs, "shape", type(outputs).__name__)
        raise ValueError(
            f"model must output one (time, {width}) array for a (time, {width}) input to be fed back; "
            f"got {shape}"
        )
    forecast = np.empty((n_steps, width))
    forecast[0] = outputs[-1]
    step = _closed_loop_step(model) or (lambda x: model.run(x[None])[-1])
    for i in range(1, n_steps):
        forecast[i] = step(forecast[i - 1])
    return forecast


def _closed_loop_step(model: object) -> Callable[[np.ndarray], np.ndarray] | None:
    """One step of ``model`` on a ``(d,)`` vector from its nodes' ``stepper()``s, for a cbreservoir node or a
    feedforward graph of cbreservoir nodes (and ``Input`` nodes) with one output; else None."""
    if isinstance(model, ValidatedStepMixin):
        return model.stepper()
    if not isinstance(model, Model) or not model.runs_batched or len(model.outputs) != 1:
        return None
    order = model.execution_order
    steppers = {node: _stepper(node) for node in order}
    parents = {node: model.parents[node] for node in order}
    inputs = set(model.inputs)
    if order[0] in inputs and all(  # a chain (the common case): each node feeds the next
        parents[node] == ([] if i == 0 else [order[i - 1]]) and (i == 0 or node not in inputs)
        for i, node in enumerate(order)
    ):
        chain = [steppers[node] for node in order]

        def chain_step(x: np.ndarray) -> np.ndarray:
            for stepper in chain:
                x = stepper(x)
            return x

        return chain_step
    output = model.outputs[0]

    def step(x: np.ndarray) -> np.ndarray:
        outputs: dict[object, np.ndarray] = {}
        for node in order:
            parts = ([x] if node in inputs else []) + [outputs[parent] for parent in parents[node]]
            joined = parts[0] if len(parts) == 1 else np.concatenate(parts)
            outputs[node] = steppers[node](joined)
        return outputs[output]

    return step


def _stepper(node: object) -> Callable[[np.ndarray], np.ndarray]:
    """A cbreservoir node's ``stepper()``; for an ``Input`` node, a step that passes ``x`` on as its state."""
    if isinstance(node, ValidatedStepMixin):
        return node.stepper()

    def pass_on(x: np.ndarray) -> np.ndarray:
        node.state = {"out": x}
        return x

    return pass_on

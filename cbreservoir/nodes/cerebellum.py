"""The cerebellar module as a reservoirpy node: granule expansion -> Purkinje -> deep nuclei.

    g = ReLU(W_gc u + b_gc − θ),   p = ReLU(W_pc g + b_pc),   c = W_dcn p + b_dcn

the math of :func:`cbreservoir.numerics.functional.cerebellum_forward`, evaluated here in numpy (no torch).
The node is feedforward and stateless: a batch of series is processed in one shot.

Wirings
-------
* feedforward, ``Reservoir(...) >> Cerebellum() >> Ridge()``: the default ``output="input+granule"``
  hands the readout the mossy-fibre input (the reservoir state, times ``input_gain``) beside the rich,
  rectified granule code (the readout plays the Purkinje/nuclei role). The readout then keeps the
  reservoir's linear information; ``input_gain`` weights the two blocks in a ridge fit (a gain a on the
  input block is a penalty λ / a² on its weights). ``output="granule"`` emits the granule code alone;
* loop (the paper's CB-RNN): ``Cerebellum(n_out=units, output="nuclei")`` reads ``[x_t ; h_{t−1}]``
  and feeds ``c_t`` to ``Reservoir(cerebellar_bias=True)`` (see docs/graph-guide.md).

Options beyond the paper: ``granule_degree=K`` (each granule cell reads K random mossy fibres with
fixed weights, ``mossy_mask`` marks them) and ``coding_level=f`` (per-granule thresholds θ set on the
first data the node sees, or by :meth:`Cerebellum.calibrate`, so that a fraction f of each granule
cell's activity is non-zero).

Examples
--------
>>> import numpy as np
>>> from cbreservoir.nodes import Cerebellum
>>> cb = Cerebellum(n_granule=128, seed=0)
>>> code = cb.run(np.random.default_rng(0).normal(size=(4, 20, 10)))
>>> code.shape                                   # [u, g]: 10 mossy inputs + 128 granule cells
(4, 20, 138)
>>> Cerebellum(n_granule=128, output="granule", seed=0).run(np.ones((3, 10))).shape
(3, 128)
>>> sorted(cb.activity(np.ones((5, 10))))
['granule', 'nuclei', 'purkinje']
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from reservoirpy.node import Node
from reservoirpy.utils.random import rand_generator

from cbreservoir.nodes._base import spawn_generators
from cbreservoir.nodes.operators import ValidatedStepMixin
from cbreservoir.numerics.network import PAPER_CEREBELLUM_INIT_STD
from cbreservoir.numerics.study import STUDY
from cbreservoir.utils.checks import (
    Series,
    check_choice,
    check_positive_int,
    check_real,
    check_seed,
    check_series,
    resolve_input_dim,
)
from cbreservoir.utils.resources import array_bytes, check_memory

__all__ = ["Cerebellum"]

OUTPUTS = ("input+granule", "granule", "purkinje", "nuclei", "all")
#: The layers of the module, input to output (the fields of ``numerics.functional.CerebellarActivity``).
LAYERS = ("granule", "purkinje", "nuclei")

#: Default gain of the mossy-fibre block of ``output="input+granule"``, chosen on validation parts of
#: the Lorenz-63 and Mackey-Glass training series (docs/forecasting.md).
INPUT_GAIN = 1.0

#: Samples used at most to set the coding-level thresholds (evenly spaced over the data).
CALIBRATION_SAMPLES = 20_000


class Cerebellum(ValidatedStepMixin, Node):
    """Granule -> Purkinje -> nuclei module (docs/model.md), a ``reservoirpy`` node; numpy in, numpy out.

    Parameters
    ----------
    n_granule : int, default 256
        Granule cells G (the expansion).
    n_purkinje : int, default 64
        Purkinje cells P.
    n_out : int, optional
        Nuclei outputs (default ``n_purkinje``). In the loop wiring it equals the core's ``units``.
    output : {"input+granule", "granule", "purkinje", "nuclei", "all"}, default "input+granule"
        What the node emits: ``"input+granule"`` concatenates ``[input_gain · u, g]`` (m + G), ``"all"``
        concatenates ``[g, p, c]``.
    input_gain : float, default :data:`INPUT_GAIN`
        Gain of the mossy-fibre block of ``output="input+granule"`` (> 0; only with that output).
    granule_degree : int, optional
        K: each granule cell reads K distinct random inputs (weights N(0, 0.01²), fixed);
        ``mossy_mask`` (G, m) marks the connections. Default: dense ``W_gc``.
    coding_level : float in (0, 1), optional
        Target fraction f of non-zero granule activity; sets ``granule_threshold``.
    seed : int or numpy Generator, optional
        Seed of the random weights. None draws a generator from reservoirpy's global one
        (``reservoirpy.set_seed``), as reservoirpy's nodes do.
    input_dim : int, optional
        Mossy-fibre input dimension m (inferred from the first data otherwise).
    name : str, optional

    Attributes
    ----------
    W_gc : ndarray (G, m)
    b_gc : ndarray (G,)
    W_pc : ndarray (P, G)
    b_pc : ndarray (P,)
    W_dcn : ndarray (n_out, P)
    b_dcn : ndarray (n_out,)
    granule_threshold : ndarray (G,) or None
    mossy_mask : ndarray (G, m) of bool, or None
    """

    def __init__(
        self,
        n_granule: int = STUDY.n_granule,
        n_purkinje: int = STUDY.n_purkinje,
        n_out: int | None = None,
        output: str = "input+granule",
        input_gain: float | None = None,
        granule_degree: int | None = None,
        coding_level: float | None = None,
        seed: int | np.random.Generator | None = None,
        input_dim: int | None = None,
        name: str | None = None,
    ):
        self.n_granule = check_positive_int(n_granule, "n_granule")
        self.n_purkinje = check_positive_int(n_purkinje, "n_purkinje")
        self.n_out = self.n_purkinje if n_out is None else check_positive_int(n_out, "n_out")
        check_choice(output, "output", allowed=OUTPUTS)
        if granule_degree is not None:
            granule_degree = check_positive_int(granule_degree, "granule_degree")
            if input_dim is not None and granule_degree > input_dim:
                raise ValueError(f"granule_degree={granule_degree} exceeds the {input_dim} inputs")
        if coding_level is not None:
            check_real(coding_level, "coding_level", minimum=0, maximum=1, strict=True, strict_maximum=True)
        if input_gain is not None and output != "input+granule":
            raise ValueError(f"input_gain applies to output='input+granule' only; got output={output!r}")
        self.input_gain = (
            INPUT_GAIN
            if input_gain is None
            else check_real(input_gain, "input_gain", minimum=0.0, strict=True)
        )
        self.output = output
        self.granule_degree = granule_degree
        self.coding_level = coding_level
        self.seed = check_seed(seed, none=True, generator=True)
        self.rng = rand_generator(self.seed)
        self.input_dim = None if input_dim is None else check_positive_int(input_dim, "input_dim")
        self.name = name
        self.output_dim = self._output_dim()
        self.W_gc = self.b_gc = self.W_pc = self.b_pc = self.W_dcn = self.b_dcn = None
        self.granule_threshold: np.ndarray | None = None
        self.mossy_mask: np.ndarray | None = None
        check_memory(array_bytes((self.output_dim or 0,), np.float64), f"the state of {self}")
        self.state = {"out": np.zeros(self.output_dim or 0)}

    #: The constructor's arguments among a cerebellum's attributes (restored through the constructor).
    _CONSTRUCTOR_ATTRIBUTES = (
        "n_granule",
        "n_purkinje",
        "n_out",
        "output",
        "granule_degree",
        "coding_level",
        "seed",
        "input_dim",
        "name",
    )

    def __setstate__(self, state: dict) -> None:
        """Restore a saved (or pickled) cerebellum through the constructor's checks, then its weights.

        Once initialized, the weights must be finite float64 arrays of the shapes :meth:`initialize` draws
        (``W_gc`` (n_granule, input_dim), ``W_pc`` (n_purkinje, n_granule), ``W_dcn`` (n_out, n_purkinje),
        the biases), the threshold and mossy mask (if any) of their shapes, the state ``(output_dim,)``.

        Raises
        ------
        TypeError, ValueError
            As the constructor; or an attribute missing or of another shape.
        """
        missing = [key for key in (*self._CONSTRUCTOR_ATTRIBUTES, "rng", "state") if key not in state]
        if missing:
            raise ValueError(f"a Cerebellum's state lacks {missing}")
        self.__init__(**{key: state[key] for key in self._CONSTRUCTOR_ATTRIBUTES})
        rest = {key: value for key, value in state.items() if key not in self._CONSTRUCTOR_ATTRIBUTES}
        if not isinstance(rest["rng"], np.random.Generator):
            raise TypeError(f"a Cerebellum's rng must be a numpy Generator; got {type(rest['rng']).__name__}")
        initialized = rest.get("initialized", False)
        shapes: dict[str, tuple[int, ...]] = {"out": (self.output_dim or 0,)}  # as the constructor makes it
        if initialized is True:
            if self.input_dim is None:
                raise ValueError("an initialized Cerebellum must have an input_dim")
            shapes.update(
                W_gc=(self.n_granule, self.input_dim),
                b_gc=(self.n_granule,),
                W_pc=(self.n_purkinje, self.n_granule),
                b_pc=(self.n_purkinje,),
                W_dcn=(self.n_out, self.n_purkinje),
                b_dcn=(self.n_out,),
            )
        elif initialized is not False:
            raise ValueError(f"a Cerebellum's initialized must be a bool; got {initialized!r:.40}")
        optional = {"granule_threshold": (self.n_granule,), "mossy_mask": (self.n_granule, self.input_dim)}
        values = {"out": rest["state"].get("out") if isinstance(rest["state"], dict) else None}
        values.update((key, rest.get(key)) for key in shapes if key != "out")
        values.update((key, rest.get(key)) for key in optional if rest.get(key) is not None)
        for key, value in values.items():
            shape = shapes.get(key, optional.get(key))
            kind = "b" if key == "mossy_mask" else "f"
            if not (isinstance(value, np.ndarray) and value.shape == shape and value.dtype.kind == kind):
                raise ValueError(
                    f"a Cerebellum's {key} must be a {'bool' if kind == 'b' else 'float'} array of shape "
                    f"{shape}; got {getattr(value, 'dtype', type(value).__name__)} "
                    f"{getattr(value, 'shape', '')}"
                )
            if kind == "f" and not np.isfinite(value).all():
                raise ValueError(f"a Cerebellum's {key} must be finite")
        self.__dict__.update(rest)

    def initialize(self, x: object = None, y: object = None) -> None:
        """Set ``input_dim`` from ``x`` and draw the paper's initialisation (biases 0)."""
        self.input_dim = resolve_input_dim(x, self.input_dim, owner=str(self))
        if self.granule_degree is not None and self.granule_degree > self.input_dim:
            raise ValueError(f"granule_degree={self.granule_degree} exceeds the {self.input_dim} inputs")
        n_weights = self.n_granule * (self.input_dim + self.n_purkinje) + self.n_out * self.n_purkinje
        check_memory(array_bytes((n_weights,), np.float64), f"the weights of {self}")
        init_std = PAPER_CEREBELLUM_INIT_STD
        gc_rng, pc_rng, dcn_rng = spawn_generators(self.seed, self.rng)
        self.W_gc = self._granule_weights(gc_rng, init_std["granule"])
        self.W_pc = pc_rng.normal(0.0, init_std["purkinje"], (self.n_purkinje, self.n_granule))
        self.W_dcn = dcn_rng.normal(0.0, init_std["nuclei"], (self.n_out, self.n_purkinje))
        self.b_gc, self.b_pc, self.b_dcn = (
            np.zeros(self.n_granule),
            np.zeros(self.n_purkinje),
            np.zeros(self.n_out),
        )
        self.output_dim = self._output_dim()
        self.state = {"out": np.zeros(self.output_dim)}
        self.initialized = True

    def _output_dim(self) -> int | None:
        """Size of the emitted vector; with the input block, None until ``input_dim`` is known."""
        sizes = {"granule": self.n_granule, "purkinje": self.n_purkinje, "nuclei": self.n_out}
        if self.output == "all":
            return sum(sizes.values())
        if self.output == "input+granule":
            return None if self.input_dim is None else self.input_dim + self.n_granule
        return sizes[self.output]

    def _granule_weights(self, rng: np.random.Generator, std: float) -> np.ndarray:
        weights = rng.normal(0.0, std, (self.n_granule, self.input_dim))
        if self.granule_degree is None:
            return weights
        ranks = rng.random((self.n_granule, self.input_dim)).argsort(axis=1)
        self.mossy_mask = ranks < self.granule_degree
        return np.where(self.mossy_mask, weights, 0.0)

    # ------------------------------------------------------------------ coding level
    def calibrate(self, x: object) -> Cerebellum:
        """Set ``granule_threshold`` so that a fraction ``coding_level`` of each granule cell's
        activity on ``x`` is non-zero (the (1 − f) quantile of its drive ``W_gc u + b_gc``).

        Parameters
        ----------
        x : ndarray (T, m) or (S, T, m), or list of ndarray (T_i, m)
            At most ``CALIBRATION_SAMPLES`` evenly spaced steps are used.
        """
        if self.coding_level is None:
            raise ValueError(f"{self} has no coding_level to calibrate; pass coding_level=f")
        series = check_series(x, n_features=self.input_dim, owner=str(self))
        if not self.initialized:
            self.initialize(series.data)
        self._set_thresholds(series)
        return self

    def _set_thresholds(self, series: Series) -> None:
        if series.layout == "ragged":
            samples = np.concatenate(series.as_list())
        else:  # a view, no copy of the whole batch
            samples = np.reshape(series.data, (-1, series.n_features))
        stride = max(1, len(samples) // CALIBRATION_SAMPLES)
        drive = samples[::stride] @ self.W_gc.T + self.b_gc
        self.granule_threshold = np.quantile(drive, 1.0 - self.coding_level, axis=0)

    def _needs_calibration(self) -> bool:
        return self.coding_level is not None and self.granule_threshold is None

    # ------------------------------------------------------------------ computation
    def _forward(self, u: np.ndarray, depth: int = len(LAYERS)) -> list[np.ndarray]:
        """The activities of the first ``depth`` layers of :data:`LAYERS` for mossy input ``u`` (..., m).

        The math of :func:`cbreservoir.numerics.functional.cerebellum_forward` in numpy, float64 (a test
        holds the two equal), so that running the node loads no torch; layers past ``depth`` (those the
        chosen ``output`` does not show) are not computed.
        """
        u = np.asarray(u, dtype=np.float64)
        granule = u @ self.W_gc.T
        granule += self.b_gc
        if self.granule_threshold is not None:
            granule -= self.granule_threshold
        layers = [np.maximum(granule, 0.0, out=granule)]
        if depth > 1:
            purkinje = layers[0] @ self.W_pc.T
            purkinje += self.b_pc
            layers.append(np.maximum(purkinje, 0.0, out=purkinje))
        if depth > 2:
            nuclei = layers[1] @ self.W_dcn.T
            nuclei += self.b_dcn
            layers.append(nuclei)
        return layers

    def _emit(self, u: np.ndarray) -> np.ndarray:
        """The chosen ``output`` for mossy input ``u`` (..., m)."""
        if self.output == "input+granule":
            (granule,) = self._forward(u, depth=1)
            return np.concatenate([self.input_gain * np.asarray(u, dtype=np.float64), granule], axis=-1)
        if self.output == "all":
            return np.concatenate(self._forward(u), axis=-1)
        depth = LAYERS.index(self.output) + 1
        return self._forward(u, depth)[-1]

    def _check_calibrated(self) -> None:
        if self._needs_calibration():
            raise ValueError(
                f"{self} sets its coding-level thresholds from a series, not a single step: "
                "call calibrate(X) or run(X) first"
            )

    def _step(self, state: dict[str, np.ndarray], x: np.ndarray) -> dict[str, np.ndarray]:
        self._check_calibrated()
        return {"out": self._emit(x)}

    def stepper(self) -> Callable[[np.ndarray], np.ndarray]:
        """``step(x)`` without its checks, for loops that step the node many times (closed-loop
        generation): emits ``output`` for one mossy input ``(input_dim,)`` and keeps it as ``state``."""
        self._check_calibrated()

        def step(x: np.ndarray) -> np.ndarray:
            out = self._emit(x)
            self.state = {"out": out}
            return out

        return step

    def _check_activity_memory(self, series: Series) -> None:
        """Refuse data whose layer activities (granule, Purkinje, nuclei at every step) cannot fit."""
        n_steps = sum(series.lengths)
        width = self.n_granule + self.n_purkinje + self.n_out
        width += self.input_dim if self.output == "input+granule" else 0
        layers = array_bytes((n_steps, width), np.float64)
        check_memory(layers, f"the activity of {self} on {n_steps} steps")

    def _run(self, state: dict[str, np.ndarray], x: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        out = self._emit(self._prepare(x).data)
        return {"out": out[-1]}, out

    def _prepare(self, x: object) -> Series:
        """Validate, initialise and (first time, with ``coding_level``) calibrate on ``x``."""
        if x is None:
            raise ValueError(f"{self} needs input data; got x=None")
        series = check_series(x, n_features=self.input_dim, owner=str(self))
        if not self.initialized:
            self.initialize(series.data)
        self._check_activity_memory(series)
        if self._needs_calibration():
            self._set_thresholds(series)
        return series

    def run(
        self, x: object = None, iters: int | None = None, workers: int = 1
    ) -> np.ndarray | list[np.ndarray]:
        """Emit ``output`` for every step of one series, a batch or a ragged list (one shot).

        Returns
        -------
        ndarray (T, output_dim), (S, T, output_dim) or list of (T_i, output_dim)
        """
        series = self._prepare(x)
        if series.layout == "ragged":
            outputs = [self._emit(s) for s in series.as_list()]
            self.state = {"out": outputs[-1][-1].copy()}
            return outputs
        out = self._emit(series.data)
        self.state = {"out": out.reshape(-1, self.output_dim)[-1].copy()}
        return out

    def activity(self, x: object) -> dict[str, np.ndarray | list[np.ndarray]]:
        """Layer activities for analysis: ``dict(granule=, purkinje=, nuclei=)``.

        Parameters
        ----------
        x : ndarray (T, m) or (S, T, m), or list of ndarray (T_i, m)

        Returns
        -------
        dict
            Each value in the layout of ``x`` with last dimension G, P or n_out. The node's state
            is not changed.
        """
        series = self._prepare(x)
        layers = [self._forward(s) for s in series.as_list()]
        return {key: series.restore([layer[i] for layer in layers]) for i, key in enumerate(LAYERS)}

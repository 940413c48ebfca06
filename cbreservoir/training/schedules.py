"""Plasticity schedules: which module groups learn at which curriculum level, and at what rate.

A schedule answers two questions for :class:`~cbreservoir.training.GradientTrainer`:
``trainable_groups(level)`` — the groups among ``"core"``, ``"cerebellum"``, ``"readout"`` whose
parameters get gradients at curriculum level N (``level=None`` means "before any level was set", treated
as the first phase); and ``learning_rate_scales`` — per-group multipliers of the base learning rate.

* :class:`EndToEnd` — everything learns (the CB-RNN and RNN-only runs of the study).
* :class:`FullReservoir` — phase 0 (N ≤ ``phase0_level``, default 2): core + readout learn, cerebellum
  frozen; afterwards the core is frozen (all of it, or with ``frozen_core="recurrent"`` only its recurrent
  layer W_h, b_h, as the study's multitask and task-switching runs do) and cerebellum + readout learn.
* :class:`Interleaved` — as :class:`FullReservoir`, but at the levels N > ``phase0_level`` with
  ``(N − phase0_level) % k == 0`` the core learns too.
* :class:`ReducedRecurrentPlasticity` — everything learns, the core at ``scale`` × the learning rate.

Examples
--------
>>> schedule = make_schedule("interleaved", k=5)
>>> [sorted(schedule.trainable_groups(level)) for level in (2, 3, 7)]
[['core', 'readout'], ['cerebellum', 'readout'], ['cerebellum', 'core', 'readout']]
>>> sorted(make_schedule("full_reservoir", frozen_core="recurrent").trainable_groups(3))
['cerebellum', 'core.input', 'readout']
>>> make_schedule(**schedule.config) == schedule
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from cbreservoir.utils.validation import check_positive_int, check_real

if TYPE_CHECKING:
    from torch import nn

#: The module groups every model exposes through ``module_groups()``.
MODULE_GROUPS = ("core", "cerebellum", "readout")

#: The two parts of the core a schedule may freeze apart (``module_groups(split_core=True)``): the input
#: layer (W_x, b_x; a gated core's input-to-hidden weights) and the recurrent layer (W_h, b_h).
CORE_PARTS = ("core.input", "core.recurrent")

#: What a frozen-core schedule freezes after phase 0: the whole core, or only its recurrent layer.
FROZEN_CORE_SCOPES = ("all", "recurrent")

_ALL = frozenset(MODULE_GROUPS)
_PHASE0 = frozenset({"core", "readout"})
_RESERVOIR = frozenset({"cerebellum", "readout"})


def _check_level(level: int | None, name: str = "level", optional: bool = True) -> None:
    """Raise ``ValueError`` unless ``level`` is an int (not a bool), or None when ``optional``."""
    if level is None and optional:
        return
    if isinstance(level, bool) or not isinstance(level, int):
        raise ValueError(f"{name} must be an int{' or None' if optional else ''}, got {level!r}")


@dataclass(frozen=True)
class PlasticitySchedule:
    """Base class: every group learns at every level at the base learning rate."""

    name: ClassVar[str]

    def trainable_groups(self, level: int | None) -> frozenset[str]:
        """Groups that learn at curriculum ``level`` (None: before the first level is set)."""
        _check_level(level)
        return _ALL

    @property
    def learning_rate_scales(self) -> dict[str, float]:
        """Group -> multiplier of the base learning rate (groups not listed: 1)."""
        return {}

    @property
    def config(self) -> dict[str, Any]:
        """``{"name": ..., **parameters}``; ``make_schedule(**config)`` rebuilds the schedule."""
        return {"name": self.name, **asdict(self)}


@dataclass(frozen=True)
class EndToEnd(PlasticitySchedule):
    """Core, cerebellum and readout all learn throughout."""

    name: ClassVar[str] = "end_to_end"


@dataclass(frozen=True)
class FullReservoir(PlasticitySchedule):
    """Train core + readout up to ``phase0_level`` (cerebellum frozen), then freeze the core.

    Parameters
    ----------
    phase0_level : int
        Last level of phase 0 (2: the study trains the core at N = 2 only), >= 0.
    frozen_core : {"all", "recurrent"}
        What stays frozen after phase 0: the whole core (the study's single-task runs), or only its
        recurrent layer W_h, b_h while its input layer keeps learning (the study's multitask and
        task-switching runs).

    Raises
    ------
    ValueError
        ``phase0_level`` is not an int (bools refused) or is negative; ``frozen_core`` is not one of
        :data:`FROZEN_CORE_SCOPES`.
    """

    name: ClassVar[str] = "full_reservoir"
    phase0_level: int = 2
    frozen_core: str = "all"

    def __post_init__(self) -> None:
        _check_level(self.phase0_level, "phase0_level", optional=False)
        if self.phase0_level < 0:
            raise ValueError(f"phase0_level must be >= 0, got {self.phase0_level!r}")
        if self.frozen_core not in FROZEN_CORE_SCOPES:
            raise ValueError(f"frozen_core must be one of {FROZEN_CORE_SCOPES}, got {self.frozen_core!r}")

    def _in_phase0(self, level: int | None) -> bool:
        _check_level(level)
        return level is None or level <= self.phase0_level

    @property
    def _reservoir_groups(self) -> frozenset[str]:
        """What learns while the core is frozen."""
        return _RESERVOIR if self.frozen_core == "all" else _RESERVOIR | {"core.input"}

    def trainable_groups(self, level: int | None) -> frozenset[str]:
        return _PHASE0 if self._in_phase0(level) else self._reservoir_groups


@dataclass(frozen=True)
class Interleaved(FullReservoir):
    """:class:`FullReservoir` whose core is unfrozen again at every ``k``-th level.

    After phase 0 the core learns (with cerebellum and readout) at levels N with
    ``(N − phase0_level) % k == 0``; at other levels only cerebellum and readout learn.

    Parameters
    ----------
    k : int
        Period in levels (10 for DMS, 5 for parity and multitask in the study).
    phase0_level, frozen_core
        As for :class:`FullReservoir`.

    Raises
    ------
    ValueError
        ``k`` is not a positive int, or ``phase0_level`` is bad (see :class:`FullReservoir`).
    """

    name: ClassVar[str] = "interleaved"
    k: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int(self.k, "k")

    def trainable_groups(self, level: int | None) -> frozenset[str]:
        if self._in_phase0(level):
            return _PHASE0
        return _ALL if (level - self.phase0_level) % self.k == 0 else self._reservoir_groups


@dataclass(frozen=True)
class ReducedRecurrentPlasticity(PlasticitySchedule):
    """Everything learns; the core (input and recurrent layers) at ``scale`` × the base learning rate.

    Parameters
    ----------
    scale : float
        In [0, 1].

    Raises
    ------
    TypeError
        ``scale`` is not a real number (a string, None, a bool).
    ValueError
        ``scale`` is NaN or outside [0, 1].
    """

    name: ClassVar[str] = "reduced_recurrent"
    scale: float = 0.1

    def __post_init__(self) -> None:
        if check_real(self.scale, "scale", minimum=0.0) > 1.0:
            raise ValueError(f"scale must be in [0, 1], got {self.scale!r}")

    @property
    def learning_rate_scales(self) -> dict[str, float]:
        return {"core": float(self.scale)}


def group_learns(group: str, trainable: frozenset[str]) -> bool:
    """Whether the parameters of ``group`` learn when the groups ``trainable`` do.

    ``group`` is a module group or a core part (:data:`CORE_PARTS`): a part learns when it is named or
    when its whole group (``"core"``) is.
    """
    return group in trainable or group.split(".", 1)[0] in trainable


def frozen_parameters(model: nn.Module, schedule: PlasticitySchedule, level: int | None) -> list[str]:
    """Names (``model.named_parameters()``) of the parameters ``schedule`` freezes at ``level``, in order."""
    trainable = schedule.trainable_groups(level)
    frozen = {
        id(parameter)
        for group, parameters in model.module_groups(split_core=True).items()
        if not group_learns(group, trainable)
        for parameter in parameters
    }
    return [name for name, parameter in model.named_parameters() if id(parameter) in frozen]


def frozen_phases(
    model: nn.Module, schedule: PlasticitySchedule, levels: range | list[int]
) -> list[dict[str, Any]]:
    """Runs of consecutive ``levels`` with one frozen set: ``[{"levels": [first, last], "frozen": [...]}]``.

    What a run record states about its regime, so that a reader can check which weights learned where.
    """
    phases: list[dict[str, Any]] = []
    for level in levels:
        frozen = frozen_parameters(model, schedule, int(level))
        if phases and phases[-1]["frozen"] == frozen:
            phases[-1]["levels"][1] = int(level)
        else:
            phases.append({"levels": [int(level), int(level)], "frozen": frozen})
    return phases


SCHEDULES: dict[str, type[PlasticitySchedule]] = {
    schedule.name: schedule for schedule in (EndToEnd, FullReservoir, Interleaved, ReducedRecurrentPlasticity)
}


def make_schedule(name: str, **kwargs: Any) -> PlasticitySchedule:
    """Build a schedule by name.

    Names: ``"end_to_end"``, ``"full_reservoir"``, ``"interleaved"``, ``"reduced_recurrent"``.

    Raises
    ------
    ValueError
        If ``name`` is unknown or a keyword does not belong to that schedule.
    """
    if name not in SCHEDULES:
        raise ValueError(f"schedule name must be one of {sorted(SCHEDULES)}, got {name!r}")
    try:
        return SCHEDULES[name](**kwargs)
    except TypeError as error:
        raise ValueError(f"bad arguments {kwargs!r} for schedule {name!r}: {error}") from None

"""Plasticity schedules: which module groups learn at which curriculum level, and at what rate.

A schedule answers two questions for :class:`~cbreservoir.training.GradientTrainer`:
``trainable_groups(level)`` — the groups among ``"core"``, ``"cerebellum"``, ``"readout"`` whose
parameters get gradients at curriculum level N (``level=None`` means "before any level was set", treated
as the first phase); and ``learning_rate_scales`` — per-group multipliers of the base learning rate.

* :class:`EndToEnd` — everything learns (the CB-RNN and RNN-only runs of the study).
* :class:`Fixed` — the same groups learn at every level: ``Fixed(("readout",))`` retrains a readout alone
  (:func:`~cbreservoir.analysis.readout_recovery`), and a graph's frozen nodes
  (:func:`~cbreservoir.training.train_graph`) are a ``Fixed`` schedule of the groups that learn.
* :class:`FullReservoir` — phase 0 (N ≤ ``phase0_level``, default 2): core + readout learn, cerebellum
  frozen; afterwards the core is frozen (all of it, or with ``frozen_core="recurrent"`` only its recurrent
  layer W_h, b_h, as the study's multitask and task-switching runs do) and cerebellum + readout learn.
* :class:`Interleaved` — as :class:`FullReservoir`, but at the levels N > ``phase0_level`` with
  ``(N − phase0_level) % k == 0`` the core learns too.
* :class:`ReducedRecurrentPlasticity` — everything learns, the core at ``scale`` × the learning rate.
* :class:`Adaptive` — as :class:`FullReservoir`, but the core is reopened when cerebellum-only learning
  stalls (no level advance for ``patience`` epochs, or no test-loss improvement for ``plateau`` epochs)
  and frozen again after the next advance. Its decisions depend on the run's history: it keeps a small
  state (:meth:`PlasticitySchedule.initial_state`) that :meth:`PlasticitySchedule.observe` advances after
  every curriculum epoch (:class:`~cbreservoir.training.GradientTrainer` holds it and saves it in its
  checkpoints; :func:`replay` recomputes every epoch's decision from a history).

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

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from cbreservoir.utils.checks import Integer, OrNone, check_choice, check_int, check_positive_int, check_real

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


#: A curriculum level, or None before the first level is set.
_LEVEL = OrNone(Integer())


@dataclass(frozen=True)
class PlasticitySchedule:
    """Base class: every group learns at every level at the base learning rate."""

    name: ClassVar[str]

    def trainable_groups(self, level: int | None, state: dict[str, Any] | None = None) -> frozenset[str]:
        """Groups that learn at curriculum ``level`` (None: before the first level is set).

        ``state`` is the schedule's state (:meth:`initial_state`, advanced by :meth:`observe`); the fixed
        schedules have none and ignore it.
        """
        _LEVEL(level, "level")
        return _ALL

    def initial_state(self) -> dict[str, Any] | None:
        """The state of a run that has not trained yet (None: the schedule keeps none)."""
        return None

    def observe(
        self, state: dict[str, Any] | None, *, level: int, solved: bool, test_loss: float
    ) -> dict[str, Any] | None:
        """The state after a curriculum epoch at ``level`` that ``solved`` it (or not) with ``test_loss``.

        Pure: ``state`` is not changed. The fixed schedules keep no state and return ``state``.
        """
        return state

    def check_state(self, state: Any) -> dict[str, Any] | None:
        """``state`` as read back from a checkpoint, checked to be one this schedule writes.

        Raises
        ------
        ValueError
            Anything but what :meth:`initial_state` and :meth:`observe` produce (for the fixed
            schedules: anything but None).
        """
        if state is not None:
            raise ValueError(f"schedule {self.name!r} keeps no state, got {state!r:.80}")
        return None

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
class Fixed(PlasticitySchedule):
    """The same ``groups`` learn at every level; the others stay frozen.

    Parameters
    ----------
    groups : tuple of str
        Module groups (:data:`MODULE_GROUPS`) or core parts (:data:`CORE_PARTS`), at least one; a list is
        kept as a tuple.

    Raises
    ------
    TypeError
        ``groups`` is not a tuple or list of str.
    ValueError
        ``groups`` is empty or names something other than a group or a core part.

    Examples
    --------
    >>> sorted(Fixed(("readout",)).trainable_groups(7))
    ['readout']
    """

    name: ClassVar[str] = "fixed"
    groups: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.groups, tuple | list) or not all(isinstance(g, str) for g in self.groups):
            raise TypeError(f"groups must be a tuple of group names, got {self.groups!r:.80}")
        unknown = sorted(set(self.groups) - set(MODULE_GROUPS) - set(CORE_PARTS))
        if unknown or not self.groups:
            raise ValueError(
                f"groups must name at least one of {MODULE_GROUPS + CORE_PARTS}, got {self.groups!r:.80}"
            )
        object.__setattr__(self, "groups", tuple(self.groups))

    def trainable_groups(self, level: int | None, state: dict[str, Any] | None = None) -> frozenset[str]:
        _LEVEL(level, "level")
        return frozenset(self.groups)


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
    TypeError
        ``phase0_level`` is not an int (bools refused), or ``frozen_core`` not a string.
    ValueError
        ``phase0_level`` is negative; ``frozen_core`` is not one of :data:`FROZEN_CORE_SCOPES`.
    """

    name: ClassVar[str] = "full_reservoir"
    phase0_level: int = 2
    frozen_core: str = "all"

    def __post_init__(self) -> None:
        check_int(self.phase0_level, "phase0_level", minimum=0)
        check_choice(self.frozen_core, "frozen_core", allowed=FROZEN_CORE_SCOPES)

    def _in_phase0(self, level: int | None) -> bool:
        _LEVEL(level, "level")
        return level is None or level <= self.phase0_level

    @property
    def _reservoir_groups(self) -> frozenset[str]:
        """What learns while the core is frozen."""
        return _RESERVOIR if self.frozen_core == "all" else _RESERVOIR | {"core.input"}

    def trainable_groups(self, level: int | None, state: dict[str, Any] | None = None) -> frozenset[str]:
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
    TypeError
        ``k`` or ``phase0_level`` is not an int.
    ValueError
        ``k`` is not positive, or ``phase0_level`` is bad (see :class:`FullReservoir`).
    """

    name: ClassVar[str] = "interleaved"
    k: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int(self.k, "k")

    def trainable_groups(self, level: int | None, state: dict[str, Any] | None = None) -> frozenset[str]:
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
        check_real(self.scale, "scale", minimum=0.0, maximum=1.0)

    @property
    def learning_rate_scales(self) -> dict[str, float]:
        return {"core": float(self.scale)}


#: The keys of :class:`Adaptive`'s state.
ADAPTIVE_STATE_KEYS = ("epochs_at_level", "best_test_loss", "epochs_without_improvement", "core_plastic")


@dataclass(frozen=True)
class Adaptive(FullReservoir):
    """:class:`FullReservoir` whose core reopens when cerebellum-only learning stalls.

    The rule, applied after every curriculum epoch (:meth:`observe`) to decide the next one:

    * phase 0 (N ≤ ``phase0_level``): core + readout learn, cerebellum frozen (as :class:`FullReservoir`);
    * afterwards the core is frozen (cerebellum + readout learn) until the run **stalls** at a level:
      ``patience`` epochs at that level without an advance, or ``plateau`` epochs in a row whose test
      loss is not below ``(1 − min_improvement)`` × the best test loss at that level;
    * from the epoch after the stall the core learns too (with cerebellum and readout), until the level
      advances: the first epoch at the next level has the core frozen again (its counters restart).

    The state (:meth:`initial_state`): ``epochs_at_level`` (epochs since the last advance),
    ``best_test_loss`` (lowest test loss at this level, None before the first), ``epochs_without_improvement``
    and ``core_plastic`` (whether the core learns in the next epoch, phase 0 aside).

    Parameters
    ----------
    patience : int or None
        Epochs at one level without an advance after which the core reopens (None: never for this reason).
    plateau : int or None
        Epochs in a row without a test-loss improvement after which the core reopens (None: never for this
        reason). ``patience`` and ``plateau`` cannot both be None.
    min_improvement : float
        Relative decrease of the test loss, in [0, 1), that counts as an improvement.
    phase0_level, frozen_core
        As for :class:`FullReservoir` (``frozen_core`` applies while the core is frozen).

    Raises
    ------
    ValueError
        ``patience`` or ``plateau`` not a positive int or None, both None, ``min_improvement`` outside
        [0, 1), or a bad ``phase0_level`` / ``frozen_core``.

    Examples
    --------
    >>> schedule = Adaptive(patience=2, plateau=None)
    >>> state = schedule.initial_state()
    >>> sorted(schedule.trainable_groups(3, state))
    ['cerebellum', 'readout']
    >>> for loss in (0.6, 0.5):
    ...     state = schedule.observe(state, level=3, solved=False, test_loss=loss)
    >>> sorted(schedule.trainable_groups(3, state))
    ['cerebellum', 'core', 'readout']
    >>> state = schedule.observe(state, level=3, solved=True, test_loss=0.1)
    >>> sorted(schedule.trainable_groups(4, state))
    ['cerebellum', 'readout']
    """

    name: ClassVar[str] = "adaptive"
    patience: int | None = 10
    plateau: int | None = 5
    min_improvement: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("patience", "plateau"):
            if getattr(self, name) is not None:
                check_positive_int(getattr(self, name), name)
        if self.patience is None and self.plateau is None:
            raise ValueError("patience and plateau cannot both be None: the core would never reopen")
        check_real(self.min_improvement, "min_improvement", minimum=0.0, maximum=1.0, strict_maximum=True)

    def trainable_groups(self, level: int | None, state: dict[str, Any] | None = None) -> frozenset[str]:
        if self._in_phase0(level):
            return _PHASE0
        return _ALL if state is not None and state["core_plastic"] else self._reservoir_groups

    def initial_state(self) -> dict[str, Any]:
        return {
            "epochs_at_level": 0,
            "best_test_loss": None,
            "epochs_without_improvement": 0,
            "core_plastic": False,
        }

    def observe(
        self, state: dict[str, Any] | None, *, level: int, solved: bool, test_loss: float
    ) -> dict[str, Any]:
        check_int(level, "level")
        state = self.initial_state() if state is None else state
        if solved:
            return self.initial_state()
        best = state["best_test_loss"]
        improved = best is None or test_loss < (1.0 - self.min_improvement) * best
        epochs = state["epochs_at_level"] + 1
        without = 0 if improved else state["epochs_without_improvement"] + 1
        stalled = (self.patience is not None and epochs >= self.patience) or (
            self.plateau is not None and without >= self.plateau
        )
        return {
            "epochs_at_level": epochs,
            "best_test_loss": float(test_loss) if improved else best,
            "epochs_without_improvement": without,
            "core_plastic": bool(state["core_plastic"] or stalled),
        }

    def check_state(self, state: Any) -> dict[str, Any]:
        if not isinstance(state, dict) or set(state) != set(ADAPTIVE_STATE_KEYS):
            raise ValueError(f"an adaptive schedule's state must be a dict of {list(ADAPTIVE_STATE_KEYS)}, "
                             f"got {state!r:.120}")  # fmt: skip
        for key in ("epochs_at_level", "epochs_without_improvement"):
            if type(state[key]) is not int or state[key] < 0:
                raise ValueError(f"adaptive state {key!r} must be an int >= 0, got {state[key]!r:.40}")
        if state["best_test_loss"] is not None:
            check_real(state["best_test_loss"], "adaptive state 'best_test_loss'", minimum=0.0)
        if type(state["core_plastic"]) is not bool:
            raise ValueError(
                f"adaptive state 'core_plastic' must be a bool, got {state['core_plastic']!r:.40}"
            )
        return dict(state)


def groups_at(
    schedule: PlasticitySchedule, level: int | None, state: dict[str, Any] | None
) -> frozenset[str]:
    """``schedule.trainable_groups(level, state)``; without a state, ``trainable_groups(level)``.

    So a schedule written before schedules had states (``trainable_groups(self, level)``) still works.
    """
    return schedule.trainable_groups(level) if state is None else schedule.trainable_groups(level, state)


def group_learns(group: str, trainable: frozenset[str]) -> bool:
    """Whether the parameters of ``group`` learn when the groups ``trainable`` do.

    ``group`` is a module group or a core part (:data:`CORE_PARTS`): a part learns when it is named or
    when its whole group (``"core"``) is.
    """
    return group in trainable or group.split(".", 1)[0] in trainable


def apply_plasticity(model: nn.Module, trainable: frozenset[str]) -> None:
    """Let exactly the parameters of the groups ``trainable`` learn: the one switch of plasticity.

    Sets ``requires_grad`` of every parameter in ``model.module_groups(split_core=True)`` (a model's or a
    compiled graph's; parameters outside the groups, such as fixed mossy-fibre weights, are left alone).
    """
    for group, parameters in model.module_groups(split_core=True).items():
        for parameter in parameters:
            parameter.requires_grad_(group_learns(group, trainable))


def frozen_parameters(
    model: nn.Module, schedule: PlasticitySchedule, level: int | None, state: dict[str, Any] | None = None
) -> list[str]:
    """Names (``model.named_parameters()``) of the parameters ``schedule`` freezes at ``level``, in order.

    ``state``: the schedule's state (:meth:`PlasticitySchedule.initial_state` when None).
    """
    trainable = groups_at(schedule, level, schedule.initial_state() if state is None else state)
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

    What a run record states about its regime, so that a reader can check which weights learned where
    (for a schedule with a state, such as :class:`Adaptive`, the frozen sets of its initial state: its
    epoch-by-epoch decisions come from :func:`replay`).
    """
    phases: list[dict[str, Any]] = []
    for level in levels:
        frozen = frozen_parameters(model, schedule, int(level))
        if phases and phases[-1]["frozen"] == frozen:
            phases[-1]["levels"][1] = int(level)
        else:
            phases.append({"levels": [int(level), int(level)], "frozen": frozen})
    return phases


def replay(schedule: PlasticitySchedule, epochs: Iterable[tuple[int, bool, float]]) -> list[frozenset[str]]:
    """The groups that learned in each epoch of a curriculum run under ``schedule``.

    Parameters
    ----------
    schedule : PlasticitySchedule
    epochs : iterable of (level, solved, test_loss)
        Every epoch of the run in order, from its first (a history's records).

    Returns
    -------
    list of frozenset of str
        Epoch e's trainable groups: ``schedule.trainable_groups(level_e, state)`` with the state that
        :meth:`PlasticitySchedule.observe` reached after the epochs before it — the decisions the run's
        trainer took, recomputed.
    """
    state = schedule.initial_state()
    groups = []
    for level, solved, test_loss in epochs:
        groups.append(groups_at(schedule, int(level), state))
        state = schedule.observe(state, level=int(level), solved=bool(solved), test_loss=float(test_loss))
    return groups


def learning_parts(groups: frozenset[str]) -> dict[str, bool]:
    """Whether each part of the model (the core's two parts, cerebellum, readout) learns when ``groups`` do.

    The ``learns`` argument of :func:`cbreservoir.models.compute.multiply_adds`.
    """
    return {part: group_learns(part, groups) for part in (*CORE_PARTS, "cerebellum", "readout")}


def core_recurrent_learns(groups: frozenset[str]) -> bool:
    """Whether the core's recurrent layer (W_h, b_h) learns when ``groups`` do.

    The plasticity every frozen-core schedule withholds: it freezes the whole core, or (``frozen_core=
    "recurrent"``) only this layer while the input layer keeps learning; so this is whether the schedule had
    the core open.
    """
    return group_learns("core.recurrent", groups)


SCHEDULES: dict[str, type[PlasticitySchedule]] = {
    schedule.name: schedule
    for schedule in (EndToEnd, Fixed, FullReservoir, Interleaved, ReducedRecurrentPlasticity, Adaptive)
}


#: The schedules a curriculum run picks by name alone (:class:`Fixed` needs its groups).
CURRICULUM_SCHEDULES = tuple(name for name in SCHEDULES if name != Fixed.name)


def make_schedule(name: str, **kwargs: Any) -> PlasticitySchedule:
    """Build a schedule by name.

    Names: ``"end_to_end"``, ``"fixed"``, ``"full_reservoir"``, ``"interleaved"``, ``"reduced_recurrent"``,
    ``"adaptive"``.

    Raises
    ------
    ValueError
        If ``name`` is unknown or a keyword does not belong to that schedule.
    """
    check_choice(name, "schedule name", allowed=sorted(SCHEDULES))
    try:
        return SCHEDULES[name](**kwargs)
    except TypeError as error:
        raise ValueError(f"bad arguments {kwargs!r} for schedule {name!r}: {error}") from None

"""The compared conditions: which model, which plasticity schedule, which parameter matching.

Main conditions (the study's table): ``"cbrnn"`` (CB-RNN trained end to end), ``"full_reservoir"``
(core + readout train at the first level, then only cerebellum + readout), ``"interleaved"`` (as full
reservoir, the core also trains at every k-th level: k = 10 for DMS, 5 otherwise) and ``"rnn"``
(RNN-only whose core size :func:`~cbreservoir.models.match_units` matches the CB-RNN's total
parameter count). Extra rows: GRU / LSTM cores with (``"gru_cb"``, ``"lstm_cb"``) and without the
cerebellum (``"gru"``, ``"lstm"``, core size matched to the ``_cb`` variant), ``"rnn_aux"`` (the
CB-RNN's cerebellum replaced by a leaky recurrent auxiliary module with about as many parameters: is it the
feedforward expansion or merely more parameters?), reduced recurrent
plasticity (``"cbrnn_reduced"``, ``"rnn_reduced"``: the core's input and recurrent layers learn at 0.1 x
the learning rate, the cerebellum and readout at the full rate, as in the study's auxiliary runs),
``"adaptive"`` (the CB-RNN under :class:`~cbreservoir.training.schedules.Adaptive`: as full reservoir, but
the core reopens while cerebellum-only learning stalls at a level; not in the study), and
``"feedforward"``: the RNN-only core at H = 64 trains end to end for the profile's
``feedforward_core_epochs``, is then frozen, and its final state feeds a fixed granule layer (G cells)
with a ridge readout solved in closed form (no BPTT; :class:`~cbreservoir.training.FeedforwardTrainer`;
tasks: :data:`FEEDFORWARD_TASKS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cbreservoir.numerics.study import STUDY
from cbreservoir.utils.checks import check_names

if TYPE_CHECKING:  # torch is imported by the functions that build models, not by this module
    from torch import nn

    from cbreservoir.training import PlasticitySchedule

__all__ = [
    "AUTHORS_MATCHED_UNITS",
    "CONTINUAL_LEVEL",
    "CONTINUAL_PHASE_EPOCHS",
    "CONDITIONS",
    "EXTRA_CONDITIONS",
    "FEEDFORWARD_TASKS",
    "FROZEN_CORE",
    "INTERLEAVE_PERIOD",
    "MAIN_CONDITIONS",
    "SCALING_CONDITIONS",
    "STUDY_TASKS",
    "TASKS",
    "Condition",
    "build_condition_model",
    "build_condition_schedule",
    "check_conditions",
    "check_tasks",
]

#: Tasks of the study's main comparison (what ``reproduce`` runs when no task is named).
STUDY_TASKS: tuple[str, ...] = ("dms", "parity", "multitask", "switching")

#: Every task ``reproduce`` runs: the study's, its mod-3 extension (label = sum of the last N bits mod 3)
#: and the continual plan DMS -> parity -> DMS (:mod:`cbreservoir.training.continual`).
TASKS: tuple[str, ...] = (*STUDY_TASKS, "mod3", "continual")

#: The continual plan's fixed level N (PAPER.md gives none; benchmarks/continual_level.py, study profile,
#: seed 0, DMS from scratch: at N = 3 CB-RNN / RNN-only / full reservoir reach the criterion in 26 / 24 / 43
#: epochs, at N = 4 none did in 40 epochs) and its epochs per phase (the authors': 100; a profile with fewer
#: epochs uses its own ``n_epochs``).
CONTINUAL_LEVEL = 3
CONTINUAL_PHASE_EPOCHS = 100

#: Conditions of the granule scaling sweep (CB-RNN with G granule units vs the matched RNN-only).
SCALING_CONDITIONS: tuple[str, ...] = ("cbrnn", "rnn")

#: Interleaving period k of the ``"interleaved"`` condition per task (the study: 10 for DMS, 5 otherwise).
#: Mod-3 (not in the study's interleaved table) takes parity's period, its closest task.
INTERLEAVE_PERIOD: dict[str, int] = {
    "dms": 10,
    "parity": 5,
    "multitask": 5,
    "switching": 5,
    "mod3": 5,
    "continual": 5,
}

#: What the frozen-core conditions (full reservoir, interleaved, adaptive) freeze after N = 2, per task
#: family, as the authors' code does: single tasks the whole core (input and recurrent layers with their
#: biases); multitask, task switching and continual learning only the recurrent layer (W_h, b_h): the input
#: layer and the heads keep learning.
FROZEN_CORE: dict[str, str] = {
    "dms": "all",
    "parity": "all",
    "mod3": "all",
    "multitask": "recurrent",
    "switching": "recurrent",
    "continual": "recurrent",
}

#: The authors' parameter-matched pairs of the granule sweep: CB-RNN with G granule units <-> RNN-only with
#: H units. Closest total parameter count gives the same H except at G = 128 (157 instead of 160).
AUTHORS_MATCHED_UNITS: dict[int, int] = {64: 128, 128: 160, 256: 202, 512: 272}

#: Hidden size H of the cortical core of every model that is not parameter-matched.
CORE_SIZE = STUDY.units

#: Purkinje layer size P of every cerebellar module.
N_PURKINJE = STUDY.n_purkinje


@dataclass(frozen=True, kw_only=True)
class Condition:
    """One compared condition.

    Attributes
    ----------
    name : str
        Condition name used in cells, tables and figures.
    label : str
        Row label in the summary table.
    kind : str
        :func:`~cbreservoir.models.build_model` kind.
    schedule : str
        :func:`~cbreservoir.training.make_schedule` name.
    matched_to : str or None
        Model kind whose parameter count sets this model's hidden size (``None``: H = 64).
    feedforward : bool
        The model is the phase-1 core of the feedforward pipeline
        (:class:`~cbreservoir.training.FeedforwardTrainer` learns the rest).
    """

    name: str
    label: str
    kind: str
    schedule: str
    matched_to: str | None = None
    feedforward: bool = False


CONDITIONS: dict[str, Condition] = {
    condition.name: condition
    for condition in (
        Condition(name="cbrnn", label="CB-RNN", kind="cbrnn", schedule="end_to_end"),
        Condition(name="full_reservoir", label="full reservoir", kind="cbrnn", schedule="full_reservoir"),
        Condition(name="interleaved", label="interleaved", kind="cbrnn", schedule="interleaved"),
        Condition(name="rnn", label="RNN-only", kind="rnn", schedule="end_to_end", matched_to="cbrnn"),
        Condition(name="gru", label="GRU", kind="gru", schedule="end_to_end", matched_to="gru_cb"),
        Condition(name="gru_cb", label="GRU + cerebellum", kind="gru_cb", schedule="end_to_end"),
        Condition(name="lstm", label="LSTM", kind="lstm", schedule="end_to_end", matched_to="lstm_cb"),
        Condition(name="lstm_cb", label="LSTM + cerebellum", kind="lstm_cb", schedule="end_to_end"),
        Condition(
            name="cbrnn_reduced", label="CB-RNN, core lr x0.1", kind="cbrnn", schedule="reduced_recurrent"
        ),
        Condition(
            name="rnn_reduced",
            label="RNN-only, core lr x0.1",
            kind="rnn",
            schedule="reduced_recurrent",
            matched_to="cbrnn",
        ),
        Condition(
            name="rnn_aux", label="RNN + recurrent auxiliary module", kind="rnn_aux", schedule="end_to_end"
        ),
        Condition(name="adaptive", label="adaptive", kind="cbrnn", schedule="adaptive"),
        Condition(
            name="feedforward",
            label="feedforward (core > G > ridge)",
            kind="rnn",
            schedule="end_to_end",
            feedforward=True,
        ),
    )
}
"""Every condition by name."""

MAIN_CONDITIONS: tuple[str, ...] = ("cbrnn", "full_reservoir", "interleaved", "rnn")
EXTRA_CONDITIONS: tuple[str, ...] = (
    "cbrnn_reduced",
    "rnn_reduced",
    "gru",
    "gru_cb",
    "lstm",
    "lstm_cb",
    "rnn_aux",
    "adaptive",
    "feedforward",
)

#: Tasks the ``"feedforward"`` condition runs (task switching tests a head that has not trained at the
#: current level, which a readout solved per level cannot answer).
FEEDFORWARD_TASKS: tuple[str, ...] = ("dms", "parity", "mod3", "multitask")


def check_tasks(tasks: object) -> tuple[str, ...]:
    """Return ``tasks`` (a name or a list of names) as a tuple, checked against :data:`TASKS`."""
    return check_names(tasks, "task", allowed=TASKS)


def check_conditions(conditions: object) -> tuple[str, ...]:
    """Return ``conditions`` (a name or a list of names) as a tuple checked against :data:`CONDITIONS`."""
    return check_names(conditions, "conditions", allowed=tuple(CONDITIONS))


def _cerebellar_kwargs(kind: str, n_granule: int) -> dict:
    return (
        {"n_granule": n_granule, "n_purkinje": N_PURKINJE} if kind in ("cbrnn", "gru_cb", "lstm_cb") else {}
    )


def build_condition_model(
    condition: str, task: str, *, n_granule: int = STUDY.n_granule, seed: int | None = None
) -> nn.Module:
    """Build the freshly initialised model of ``condition`` for ``task``.

    Parameters
    ----------
    condition : str
        A :data:`CONDITIONS` name.
    task : str
        A :data:`TASKS` name (sets input size and heads: multitask and switching have two heads, mod-3
        three classes).
    n_granule : int
        Granule layer size G of the cerebellar models, and of the CB-RNN that a matched model is matched to.
    seed : int, optional
        Initialisation seed.

    Returns
    -------
    torch.nn.Module
        A :mod:`cbreservoir.models` model; matched models get the core size ``units`` whose total parameter
        count is closest to their partner's.
    """
    from cbreservoir.models import build_model, count_parameters, match_units
    from cbreservoir.tasks import task_spec

    spec = CONDITIONS[check_conditions(condition)[0]]
    input_dim, n_classes = task_spec(check_tasks(task)[0])
    io = {"input_dim": input_dim, "n_classes": n_classes}
    units = CORE_SIZE
    if spec.matched_to is not None:
        partner = build_model(
            spec.matched_to, units=CORE_SIZE, **io, **_cerebellar_kwargs(spec.matched_to, n_granule)
        )
        units = match_units(count_parameters(partner), input_dim, n_classes, kind=spec.kind)
        if (spec.kind, spec.matched_to, io) == ("rnn", "cbrnn", {"input_dim": 1, "n_classes": 2}):
            units = AUTHORS_MATCHED_UNITS.get(n_granule, units)
    return build_model(spec.kind, units=units, seed=seed, **io, **_cerebellar_kwargs(spec.kind, n_granule))


def build_condition_schedule(condition: str, task: str) -> PlasticitySchedule:
    """The plasticity schedule of ``condition`` (the interleaving period and, for the frozen-core conditions,
    what :data:`FROZEN_CORE` freezes depend on ``task``)."""
    from cbreservoir.training import make_schedule

    spec = CONDITIONS[check_conditions(condition)[0]]
    task = check_tasks(task)[0]
    if spec.schedule == "interleaved":
        return make_schedule("interleaved", k=INTERLEAVE_PERIOD[task], frozen_core=FROZEN_CORE[task])
    if spec.schedule in ("full_reservoir", "adaptive"):
        return make_schedule(spec.schedule, frozen_core=FROZEN_CORE[task])
    return make_schedule(spec.schedule)

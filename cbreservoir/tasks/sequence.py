"""Binary sequence-classification tasks of the CB-RNN study: DMS, parity, mod-3, multitask, switching.

Every minibatch has ONE sequence length M drawn uniformly from {N+2, …, 4N+1}; each trial is M
i.i.d. fair bits; only the final step is labelled, from the last N bits:

* ``"dms"`` (N-delayed match-to-sample, N ≥ 2): label 1 iff the bit N−1 steps before the last bit
  (``bits[M − N]``) equals the last bit (``bits[M − 1]``);
* ``"parity"``: label = (sum of the last N bits) mod 2;
* ``"mod3"``: label = (sum of the last N bits) mod 3.

Multitask batches carry the labels of several tasks for the same sequences (one head per task);
task-switching batches add a second input channel holding a pulse (1 for the first 3 steps of each
trial), and :func:`switching_plan` says which task is active at a curriculum level.

Examples
--------
>>> from cbreservoir.tasks import make_batch, make_multitask_batch, switching_plan
>>> x, y = make_batch("parity", n=5, batch_size=64, seed=0)
>>> x.shape[0], x.shape[2], x.dtype, y.dtype
(64, 1, dtype('float32'), dtype('int64'))
>>> 7 <= x.shape[1] <= 21
True
>>> x, (y_dms, y_parity) = make_multitask_batch(5, batch_size=64, seed=0)
>>> switching_plan(7)
SwitchingStage(task='parity', head=1)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from cbreservoir.utils.checks import check_choice, check_int, check_positive_int, check_seed
from cbreservoir.utils.resources import check_memory

SeedLike = int | np.random.Generator


def _dms_labels(last_bits: np.ndarray) -> np.ndarray:
    return (last_bits[:, 0] == last_bits[:, -1]).astype(np.int64)


def _parity_labels(last_bits: np.ndarray) -> np.ndarray:
    return last_bits.sum(axis=1, dtype=np.int64) % 2


def _mod3_labels(last_bits: np.ndarray) -> np.ndarray:
    return last_bits.sum(axis=1, dtype=np.int64) % 3


#: Label functions of the last N bits, shape (B, N) -> (B,) int64.
_LABELS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "dms": _dms_labels,
    "parity": _parity_labels,
    "mod3": _mod3_labels,
}

#: The single-head tasks and their number of classes (the keys are the task names).
N_CLASSES: dict[str, int] = {"dms": 2, "parity": 2, "mod3": 3}
#: The smallest meaningful N of each single-head task.
_MIN_LEVEL: dict[str, int] = {"dms": 2, "parity": 1, "mod3": 1}

#: Heads of the multitask and task-switching settings, in head order.
MULTITASK_TASKS: tuple[str, str] = ("dms", "parity")

#: Steps at the start of every trial that carry the switch pulse in task switching.
SWITCH_PULSE_STEPS = 3

#: Bytes per trial step of a batch: the uint8 bits and the float32 input (four channels at most).
_BATCH_BYTES_PER_STEP = 1 + 4 * 4

#: Curriculum levels per stage of the switching plan (DMS 2–4, parity 5–9, DMS 10–14, ...).
SWITCH_PERIOD = 5

#: The continual-learning plan: one phase per entry (DMS, then parity, then DMS again), one head per task
#: in :data:`MULTITASK_TASKS` order.
CONTINUAL_PLAN: tuple[str, ...] = ("dms", "parity", "dms")

#: The two-head settings (heads :data:`MULTITASK_TASKS`).
TWO_HEAD_TASKS: tuple[str, ...] = ("multitask", "switching", "continual")


class TaskSpec(NamedTuple):
    """What a model needs to know to be built for a task."""

    input_size: int
    n_classes: int | tuple[int, ...]


class SwitchingStage(NamedTuple):
    """The active task of the switching plan at some level."""

    task: str
    head: int


def _check_task(task: str) -> None:
    check_choice(task, "task", allowed=sorted(N_CLASSES))


def min_level(task: str) -> int:
    """Smallest meaningful level N of ``task`` (2 for DMS and the two-head settings, else 1)."""
    if task in TWO_HEAD_TASKS:
        return max(_MIN_LEVEL[name] for name in MULTITASK_TASKS)
    _check_task(task)
    return _MIN_LEVEL[task]


def check_level(task: str, level: object, name: str = "n") -> int:
    """The one check of a task level: an int >= :func:`min_level` of ``task`` (named ``name``).

    Raises
    ------
    TypeError
        ``level`` is not an int.
    ValueError
        An unknown task, or a level below the task's smallest.
    """
    return check_int(level, f"{name} (the task level N) for task {task!r}", minimum=min_level(task))


def _check_batch_size(batch_size: int) -> None:
    check_positive_int(batch_size, "batch_size")


def task_spec(task: str) -> TaskSpec:
    """Input size and number of classes (one per head) of ``task``.

    Parameters
    ----------
    task : str
        ``"dms"``, ``"parity"``, ``"mod3"``, ``"multitask"``, ``"switching"`` or ``"continual"``.

    Returns
    -------
    TaskSpec
        ``("dms") -> TaskSpec(1, 2)``, ``("mod3") -> TaskSpec(1, 3)``,
        ``("multitask") -> TaskSpec(1, (2, 2))``, ``("switching") -> TaskSpec(2, (2, 2))``,
        ``("continual") -> TaskSpec(4, (2, 2))`` (bits, the two-channel task cue, the pulse).
    """
    heads = tuple(N_CLASSES[name] for name in MULTITASK_TASKS)
    if task == "multitask":
        return TaskSpec(1, heads)
    if task == "switching":
        return TaskSpec(2, heads)
    if task == "continual":
        return TaskSpec(2 + len(MULTITASK_TASKS), heads)
    _check_task(task)
    return TaskSpec(1, N_CLASSES[task])


def length_range(n: int) -> tuple[int, int]:
    """Smallest and largest sequence length (inclusive) at level ``n``: ``(n + 2, 4n + 1)``."""
    return n + 2, 4 * n + 1


def random_bits(n: int, batch_size: int, *, seed: SeedLike) -> np.ndarray:
    """Draw one batch of fair i.i.d. bits with one length M ~ U{N+2, …, 4N+1}.

    Parameters
    ----------
    n : int
        Task level N (>= 1).
    batch_size : int
    seed : int or numpy.random.Generator
        A Generator is advanced in place (first the length, then the bits).

    Returns
    -------
    ndarray of uint8, shape (batch_size, M)

    Raises
    ------
    TypeError, ValueError
        For a seed that is not a non-negative int or a Generator.
    cbreservoir.utils.resources.InsufficientMemoryError
        When the batch (bits and model input) would not fit in the available memory.
    """
    _check_batch_size(batch_size)
    rng = np.random.default_rng(check_seed(seed, generator=True))  # None refused: batches are reproducible
    shortest, longest = length_range(int(n))
    length = int(rng.integers(shortest, longest + 1))
    check_memory(
        batch_size * length * _BATCH_BYTES_PER_STEP, f"a batch of {batch_size} trials of {length} steps"
    )
    return rng.integers(0, 2, size=(batch_size, length), dtype=np.uint8)


def labels(task: str, bits: np.ndarray, *, n: int) -> np.ndarray:
    """Labels of ``task`` at level ``n`` for bit sequences ``bits``.

    Parameters
    ----------
    task : str
        ``"dms"``, ``"parity"`` or ``"mod3"``.
    bits : ndarray, shape (B, M) with M >= n
    n : int

    Returns
    -------
    ndarray of int64, shape (B,)
    """
    _check_task(task)
    check_level(task, n)
    if bits.ndim != 2 or bits.shape[1] < n:
        raise ValueError(f"bits must have shape (batch, M) with M >= n={n}, got {bits.shape}")
    return _LABELS[task](bits[:, bits.shape[1] - n :])


def _as_input(bits: np.ndarray, pulse_steps: int) -> np.ndarray:
    """(B, M) bits -> (B, M, 1) float32, or (B, M, 2) with a pulse channel when ``pulse_steps`` > 0."""
    x = bits.astype(np.float32)[:, :, None]
    if pulse_steps == 0:
        return x
    pulse = np.zeros_like(x)
    pulse[:, :pulse_steps] = 1.0
    return np.concatenate([x, pulse], axis=2)


def make_batch(task: str, n: int, *, batch_size: int, seed: SeedLike) -> tuple[np.ndarray, np.ndarray]:
    """One minibatch of a single-head task.

    Parameters
    ----------
    task : str
        ``"dms"``, ``"parity"`` or ``"mod3"``.
    n : int
        Task level N (>= 2 for DMS, >= 1 otherwise).
    batch_size : int
    seed : int or numpy.random.Generator

    Returns
    -------
    x : ndarray of float32, shape (batch_size, M, 1)
        Bits 0/1, M drawn uniformly from {N+2, …, 4N+1} once for the batch.
    y : ndarray of int64, shape (batch_size,)
    """
    _check_task(task)
    check_level(task, n)
    bits = random_bits(n, batch_size, seed=seed)
    return _as_input(bits, 0), labels(task, bits, n=n)


def make_multitask_batch(
    n: int,
    *,
    batch_size: int,
    seed: SeedLike,
    tasks: Sequence[str] = MULTITASK_TASKS,
    pulse_steps: int = 0,
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """One minibatch labelled for several tasks on the same sequences (one head per task).

    Parameters
    ----------
    n : int
        The shared task level N.
    batch_size : int
    seed : int or numpy.random.Generator
    tasks : sequence of str
        Head order; default ``("dms", "parity")``.
    pulse_steps : int
        If > 0, a second input channel is 1 for the first ``pulse_steps`` steps of every trial.

    Returns
    -------
    x : ndarray of float32, shape (batch_size, M, 1) or (batch_size, M, 2) with a pulse
    y : tuple of int64 ndarrays, each (batch_size,), in the order of ``tasks``
    """
    if len(tasks) == 0:
        raise ValueError("tasks must name at least one task, got an empty sequence")
    for task in tasks:
        _check_task(task)
        check_level(task, n)
    if not 0 <= pulse_steps <= length_range(n)[0]:
        raise ValueError(f"pulse_steps must be in [0, {length_range(n)[0]}] at n={n}, got {pulse_steps}")
    bits = random_bits(n, batch_size, seed=seed)
    return _as_input(bits, pulse_steps), tuple(labels(task, bits, n=n) for task in tasks)


def make_switching_batch(
    n: int, *, batch_size: int, seed: SeedLike
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """One task-switching minibatch: bits plus the switch-pulse channel, labels for DMS and parity.

    The same sequences serve both heads; which head trains is given by :func:`switching_plan`.

    Parameters
    ----------
    n : int
        Curriculum level N (>= 2).
    batch_size : int
    seed : int or numpy.random.Generator

    Returns
    -------
    x : ndarray of float32, shape (batch_size, M, 2)
        Channel 0 the bits, channel 1 the pulse (1 for the first 3 steps of each trial).
    y : tuple (y_dms, y_parity) of int64 ndarrays (batch_size,)
    """
    return make_multitask_batch(
        n, batch_size=batch_size, seed=seed, tasks=MULTITASK_TASKS, pulse_steps=SWITCH_PULSE_STEPS
    )


def make_continual_batch(
    task: str, n: int, *, batch_size: int, seed: SeedLike
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """One continual-learning minibatch cued as ``task``: bits, a one-hot task cue and the switch pulse.

    Parameters
    ----------
    task : str
        The cued task, one of :data:`MULTITASK_TASKS`.
    n : int
        Task level N (>= 2).
    batch_size : int
    seed : int or numpy.random.Generator

    Returns
    -------
    x : ndarray of float32, shape (batch_size, M, 4)
        Channel 0 the bits, channels 1–2 the one-hot cue of ``task`` (DMS, parity; constant over the
        trial), channel 3 the pulse (1 for the first 3 steps of each trial).
    y : tuple (y_dms, y_parity) of int64 ndarrays (batch_size,)
        Both tasks' labels of the same sequences (the cued task's head is the one that trains and is
        scored).
    """
    check_choice(task, "task", allowed=MULTITASK_TASKS)
    x, y = make_switching_batch(n, batch_size=batch_size, seed=seed)
    cue = np.zeros((*x.shape[:2], len(MULTITASK_TASKS)), dtype=np.float32)
    cue[:, :, MULTITASK_TASKS.index(task)] = 1.0
    return np.concatenate([x[:, :, :1], cue, x[:, :, 1:]], axis=2), y


def switching_plan(level: int, period: int = SWITCH_PERIOD) -> SwitchingStage:
    """Active task of the switching plan at curriculum level ``level``.

    DMS for N < 5, parity for 5 <= N < 10, DMS for 10 <= N < 15, ... (stages of ``period`` levels,
    alternating through ``MULTITASK_TASKS``).

    Parameters
    ----------
    level : int
        Current curriculum level N (>= 1).
    period : int
        Levels per stage.

    Returns
    -------
    SwitchingStage
        ``task`` name and ``head`` index into ``MULTITASK_TASKS``.
    """
    check_positive_int(level, "level")
    check_positive_int(period, "period")
    head = (int(level) // period) % len(MULTITASK_TASKS)
    return SwitchingStage(MULTITASK_TASKS[head], head)


#: The two-head curriculum tasks (one head per task of ``MULTITASK_TASKS``) and their batch makers.
_CURRICULUM_TWO_HEAD_BATCHES: dict[str, Callable[..., tuple[np.ndarray, tuple[np.ndarray, ...]]]] = {
    "multitask": make_multitask_batch,
    "switching": make_switching_batch,
}

#: The tasks a curriculum climbs level by level (:func:`make_task_batch` draws their batches).
CURRICULUM_TASKS: tuple[str, ...] = (*N_CLASSES, *_CURRICULUM_TWO_HEAD_BATCHES)


def make_task_batch(
    task: str, n: int, *, batch_size: int, seed: SeedLike
) -> tuple[np.ndarray, np.ndarray | tuple[np.ndarray, ...]]:
    """One minibatch of any curriculum task of the study, single-head or two-head.

    The continual plan's batches carry a task cue: :func:`make_continual_batch`.

    Parameters
    ----------
    task : str
        ``"dms"``, ``"parity"``, ``"mod3"`` (:func:`make_batch`), ``"multitask"``
        (:func:`make_multitask_batch`) or ``"switching"`` (:func:`make_switching_batch`).
    n : int
        Task level N.
    batch_size : int
    seed : int or numpy.random.Generator

    Returns
    -------
    x : ndarray of float32 (batch_size, M, d)
    y : int64 ndarray (batch_size,), or a tuple of them (one per head) for the two-head tasks
    """
    if task in _CURRICULUM_TWO_HEAD_BATCHES:
        return _CURRICULUM_TWO_HEAD_BATCHES[task](n, batch_size=batch_size, seed=seed)
    if task not in N_CLASSES:
        raise ValueError(
            f"task must be one of {list(CURRICULUM_TASKS)} (continual: make_continual_batch), got {task!r}"
        )
    return make_batch(task, n, batch_size=batch_size, seed=seed)

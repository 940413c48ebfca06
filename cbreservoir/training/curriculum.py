"""Curriculum training (the study's protocol, docs/training.md): raise N whenever the network passes.

An epoch is ``steps_per_epoch`` training steps at the current level N followed by ``test_batches``
fresh test batches; when the mean test accuracy reaches ``threshold`` the next epoch runs at N + 1
with the same weights. The trainer's ``set_level(n)`` is called whenever the level changes, so
plasticity schedules (frozen core, interleaved, ...) follow the curriculum.

Tasks: ``"dms"``, ``"parity"``, ``"mod3"``; ``"multitask"`` (DMS + parity heads on the same
sequences, summed loss, N advances only when both heads pass); ``"switching"`` (DMS, then parity
from N = 5, DMS from N = 10, ...; only the active head trains and decides, both heads are tested
every epoch; see :func:`cbreservoir.tasks.switching_plan`).

All data come from one ``numpy.random.Generator`` seeded with ``seed``. With a ``checkpoint_dir``,
the trainer state, the history and the data generator's state are written atomically after every
epoch (``last.pt``) and after every solved level (``level_NNN.pt``, the weights that passed N);
:meth:`CurriculumTrainer.run` resumes from ``last.pt``, so an interrupted run continues exactly as an
uninterrupted one would (the directory is locked while a run runs). A checkpoint is a document of the one
cbreservoir file format (:mod:`cbreservoir.utils.fileformat`, object type ``"checkpoint"``): its sha256
digest refuses a truncated or damaged file with a ``ValueError`` instead of resuming from wrong weights,
and reading it decodes data only (JSON values, dicts, tuples, tensors). Checkpoints of earlier releases
(``torch.save`` files of formats 3 and 4, read with ``weights_only=True``) still load, converted by the
format's one migration path. Every checkpoint also records the settings of its run (the curriculum's, the
caller's ``settings`` and the trainer's signature): a resume with any other value is refused, listing each
difference (``old -> new``).

:func:`run_curricula` is the one loop that runs curricula: one (:meth:`CurriculumTrainer.run`), or several
in lock step with their calls batched (an ensemble's members:
:class:`~cbreservoir.training.ensemble.EnsembleCurriculumTrainer`).

Examples
--------
>>> from cbreservoir.models import CBRNN
>>> from cbreservoir.training import CurriculumTrainer, GradientTrainer
>>> trainer = GradientTrainer(CBRNN(input_dim=1, seed=0), seed=0)
>>> curriculum = CurriculumTrainer(trainer, "parity", steps_per_epoch=5, test_batches=2, progress=False)
>>> history = curriculum.run(n_epochs=2)   # with checkpoint_dir="runs/x": resumable
>>> history.levels[0], len(history)
(2, 2)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from cbreservoir.numerics.study import STUDY
from cbreservoir.tasks.sequence import (
    CURRICULUM_TASKS,
    MULTITASK_TASKS,
    N_CLASSES,
    check_level,
    make_task_batch,
    switching_plan,
)
from cbreservoir.training._checkpoint_order import CHECKPOINT, read_legacy_checkpoint
from cbreservoir.utils.checks import (
    MAX_COUNT,
    Choice,
    Instance,
    Integer,
    Real,
    Seed,
    check_bit_generator_state,
    check_int,
    check_params,
    check_real,
    check_resume_settings,
)
from cbreservoir.utils.fileformat import migrate, optimizer_states, read_data, write_data
from cbreservoir.utils.files import canonical_json, directory_lock

LAST_CHECKPOINT = "last.pt"


_LEVEL_CHECKPOINT = re.compile(r"level_(\d+)\.pt")


def level_checkpoint(level: int) -> str:
    """File name of the checkpoint a curriculum run writes when it passes ``level`` (its weights then)."""
    return f"level_{level:03d}.pt"


def checkpoint_level(name: str) -> int | None:
    """The level of a :func:`level_checkpoint` file name; None for any other name."""
    match = _LEVEL_CHECKPOINT.fullmatch(name)
    return None if match is None else int(match.group(1))


#: The fields of a checkpoint's payload.
CHECKPOINT_FIELDS = ("config", "settings", "level", "history", "data_rng", "trainer")
_ZIP_MAGIC = b"PK\x03\x04"

Batch = tuple[np.ndarray, np.ndarray | tuple[np.ndarray, ...]]
#: A trainer call asked for by :meth:`CurriculumTrainer.epoch_steps`: ``(method name, arguments)``.
Request = tuple[str, tuple]


class SupportsCurriculum(Protocol):
    """What the curriculum needs from a trainer (a ``GradientTrainer`` has it; so has an ensemble member)."""

    def train_step(self, x: Any, y: Any, head: int | None = None) -> float: ...

    def evaluate(self, x: Any, y: Any, head: int | None = None) -> dict[str, Any]: ...

    # optional: ``evaluate_batches(batches) -> [evaluate(x, y) for x, y in batches]``, batched;
    # ``observe_epoch(level=, solved=, test_loss=)``, called after every epoch (before ``set_level``)

    def set_level(self, n: int) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class EpochRecord:
    """What happened in one curriculum epoch.

    Attributes
    ----------
    epoch : int
        1-based epoch number.
    level : int
        The level N this epoch trained and was tested at (the active level for switching).
    accuracy : float
        The accuracy that decides advancing: the task's (single head), the lower of the two
        heads' (multitask), the active head's (switching).
    loss : float
        Mean training loss over the epoch's steps.
    test_loss : float
        Mean loss over the test batches.
    seconds : float
        Wall time of the epoch (training + testing).
    solved : bool
        ``accuracy >= threshold``: the next epoch runs at ``level + 1``.
    head_accuracies : tuple of float
        Mean test accuracy of every head (one entry for single-head tasks).
    active_head : int or None
        Switching only: the head that trained and decided (0 = DMS, 1 = parity).
    """

    epoch: int
    level: int
    accuracy: float
    loss: float
    test_loss: float
    seconds: float
    solved: bool
    head_accuracies: tuple[float, ...]
    active_head: int | None = None


@dataclass
class CurriculumHistory:
    """Per-epoch records of a curriculum run."""

    task: str
    threshold: float
    records: list[EpochRecord] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def levels(self) -> list[int]:
        """N(e): the level of every epoch, in order."""
        return [record.level for record in self.records]

    @property
    def accuracies(self) -> list[float]:
        """Deciding test accuracy of every epoch."""
        return [record.accuracy for record in self.records]

    @property
    def losses(self) -> list[float]:
        """Mean training loss of every epoch."""
        return [record.loss for record in self.records]

    @property
    def seconds(self) -> list[float]:
        """Wall time of every epoch."""
        return [record.seconds for record in self.records]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``task``, ``threshold`` and ``records`` (a list of dicts)."""
        records = [
            {**asdict(record), "head_accuracies": list(record.head_accuracies)} for record in self.records
        ]
        return {"task": self.task, "threshold": self.threshold, "records": records}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CurriculumHistory:
        """Inverse of :meth:`to_dict`."""
        records = [
            EpochRecord(**{**record, "head_accuracies": tuple(record["head_accuracies"])})
            for record in data["records"]
        ]
        return cls(task=data["task"], threshold=data["threshold"], records=records)


def _check_curriculum(
    task: Any,
    start_level: Any,
    steps_per_epoch: Any,
    test_batches: Any,
    batch_size: Any,
    threshold: Any,
    seed: Any,
    *,
    tasks: tuple[str, ...] = CURRICULUM_TASKS,
) -> None:
    """The curriculum's settings, as the constructor (and so the command line) accepts them."""
    values = dict(
        task=task,
        steps_per_epoch=steps_per_epoch,
        test_batches=test_batches,
        batch_size=batch_size,
        seed=seed,
        threshold=threshold,
    )
    count = Integer(1)
    check_params(
        values,
        task=Choice(tasks),
        steps_per_epoch=count,
        test_batches=count,
        batch_size=count,
        seed=Seed(),
        threshold=Real(0.0, 1.0, strict=True),
    )
    check_level(task, start_level, "start_level")


def _check_progress(
    history: Any, level: Any, *, task: str, start_level: int, threshold: float, advances: bool = True
) -> None:
    """A history and a next level that a run of these settings can have produced.

    The records are numbered 1, 2, ...; the first runs at ``start_level`` and each next one a level
    higher exactly when the one before was solved (its accuracy reached ``threshold``); the next level
    follows the last record the same way. So the level can be no larger than the epochs recorded allow.
    With ``advances=False`` (a fixed-level plan) every record and the next level are at ``start_level``.

    Raises
    ------
    ValueError
        Naming the first record or field that does not fit.
    """
    if not isinstance(history, CurriculumHistory) or (history.task, history.threshold) != (task, threshold):
        raise ValueError(
            f"the history must be a CurriculumHistory of task {task!r} and threshold {threshold}"
        )
    if type(history.records) is not list or len(history.records) > MAX_COUNT:
        raise ValueError(f"the history's records must be a list of at most {MAX_COUNT} epochs")
    expected = start_level
    for index, record in enumerate(history.records):
        where = f"epoch record {index + 1}"
        if type(record) is not EpochRecord:
            raise ValueError(f"{where} is a {type(record).__name__}, not an EpochRecord")
        if type(record.epoch) is not int or record.epoch != index + 1:
            raise ValueError(f"{where} must have epoch {index + 1}, got {record.epoch!r}")
        if type(record.level) is not int or record.level != expected:
            raise ValueError(
                f"{where} must be at level {expected} (the levels solved before it), got {record.level!r}"
            )
        accuracy = check_real(record.accuracy, f"{where}: accuracy", minimum=0.0)
        if accuracy > 1.0 or type(record.solved) is not bool or record.solved != (accuracy >= threshold):
            raise ValueError(
                f"{where}: accuracy {accuracy} and solved {record.solved!r} do not agree with {threshold}"
            )
        for name in ("loss", "test_loss", "seconds"):
            if not isinstance(getattr(record, name), float | int):
                raise ValueError(f"{where}: {name} must be a number, got {getattr(record, name)!r:.40}")
        if type(record.head_accuracies) is not tuple or not all(
            isinstance(value, float | int) for value in record.head_accuracies
        ):
            raise ValueError(f"{where}: head_accuracies must be a tuple of numbers")
        if record.active_head is not None and type(record.active_head) is not int:
            raise ValueError(f"{where}: active_head must be None or an int, got {record.active_head!r:.40}")
        expected += record.solved and advances
    if type(level) is not int or level != expected:
        raise ValueError(
            f"the next level must be {expected} (the start level plus the epochs solved), got {level!r:.40}"
        )


def write_checkpoint(payload: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write a checkpoint's ``payload`` atomically, as a document of the one file format.

    Serialised in memory first, so that a full disk is the ``OSError`` of the write ("No space left on
    device"), never half a file. Optimiser states are stored with their learning rate under
    ``learning_rate`` (:func:`cbreservoir.utils.fileformat.optimizer_states`; ``lr`` in a file is a leak).

    Parameters
    ----------
    payload : mapping
        :data:`CHECKPOINT_FIELDS`: JSON values, dicts, lists, tuples and tensors.
    path : str or Path
        The file (its directory must exist).
    """
    write_data(path, CHECKPOINT, optimizer_states(dict(payload), to_file=True))


def trainer_signature(state: Mapping[str, Any]) -> dict[str, Any]:
    """What a trainer's state dict says about the run's settings, flattened to ``{"a.b.c": value}``.

    Tensors give their dtype and shape (``"torch.float32[64, 1]"``: the architecture); a torch
    optimizer's state dict (a mapping with ``param_groups``) gives every group's hyperparameters
    (``lr``, ``momentum``, ...) and their number, wherever it sits (a ``param_groups`` entry anywhere
    does not hide its siblings). Counters and random states are left out.

    Parameters
    ----------
    state : mapping
        A trainer's ``state_dict()``.

    Returns
    -------
    dict
    """
    signature: dict[str, Any] = {}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, torch.Tensor):
            signature[path] = f"{value.dtype}{list(value.shape)}"
        elif isinstance(value, Mapping):
            for key, item in value.items():
                inner = f"{path}.{key}" if path else str(key)
                if key == "param_groups" and isinstance(item, list | tuple):
                    for index, group in enumerate(item):
                        hypers = group.items() if isinstance(group, Mapping) else [("", group)]
                        for name, hyper in hypers:
                            if name != "params":
                                signature[f"{inner}.{index}.{name}"] = hyper
                    signature[f"{inner}.count"] = len(item)
                else:
                    walk(item, inner)
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                walk(item, f"{path}.{index}")

    walk(state, "")
    return signature


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a curriculum checkpoint written by :class:`CurriculumTrainer` and check its digest.

    Parameters
    ----------
    path : str or Path
        ``last.pt`` or ``level_NNN.pt``: a document of the one file format, or a ``torch.save`` checkpoint
        of an earlier release (formats 3 and 4), read with ``weights_only=True`` and its digest checked.

    Returns
    -------
    dict
        ``config`` (the curriculum's settings), ``settings`` (the run's other settings, as given to
        :class:`CurriculumTrainer`), ``level``, ``history``, ``data_rng``, ``trainer`` (the trainer's state
        dict, its optimiser states under torch's names), in the current format version: a checkpoint
        whose models read ``[h ; x]`` (format 3) is converted (:mod:`cbreservoir.training._checkpoint_order`).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        If the file cannot be read (truncated, not a checkpoint), was written by a format older than 3,
        its content does not match its digest, or it cannot be converted. (The digest detects corruption,
        not forgery.)
    """
    with open(path, "rb") as stream:
        legacy = stream.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC  # torch.save's zip: before format version 4
    if not legacy:
        try:
            return optimizer_states(read_data(path, CHECKPOINT), to_file=False)
        except ValueError as error:
            raise ValueError(f"checkpoint {error}") from error
    version, payload = read_legacy_checkpoint(path)
    try:
        return optimizer_states(migrate(CHECKPOINT, version, payload), to_file=False)
    except (TypeError, KeyError, ValueError, IndexError, AttributeError) as error:
        raise ValueError(
            f"checkpoint {path} (format version {version}) cannot be converted: {error}"
        ) from error


#: The attributes of a saved :class:`CurriculumTrainer` (all but ``checkpoint_dir``).
_STATE_FIELDS = (
    "trainer",
    "task",
    "start_level",
    "steps_per_epoch",
    "test_batches",
    "batch_size",
    "threshold",
    "seed",
    "progress",
    "settings",
    "history",
    "level",
    "_rng",
)


class CurriculumTrainer:
    """Run a trainer through the study's curriculum, with checkpoints and resume.

    Parameters
    ----------
    trainer : GradientTrainer or any object with ``train_step``, ``evaluate``, ``set_level``,
        ``state_dict`` and ``load_state_dict`` (see :class:`SupportsCurriculum`)
        Its model must have one head for single tasks and two (DMS, parity) for ``"multitask"``
        and ``"switching"``; switching models take 2 input channels (bits, pulse).
    task : str
        ``"dms"``, ``"parity"``, ``"mod3"``, ``"multitask"`` or ``"switching"``.
    start_level : int
        First level N.
    steps_per_epoch : int
        Training steps (minibatches) per epoch, K.
    test_batches : int
        Fresh test batches per epoch, M.
    batch_size : int
    threshold : float
        Mean test accuracy in (0, 1] needed to advance.
    seed : int
        Seed of the data generator.
    checkpoint_dir : str or Path, optional
        Where checkpoints go; a run resumes from it when it holds ``last.pt``. The directory is locked
        while :meth:`run` runs (:func:`cbreservoir.utils.files.directory_lock`).
    progress : bool
        Show a tqdm bar with epoch, N and accuracy.
    settings : mapping, optional
        JSON-ready description of the rest of what defines the run (model kind, schedule, learning
        rate, ...), recorded in every checkpoint. A resume is refused (``ValueError`` listing each
        differing setting, old -> new) when these settings, the curriculum's own (task, start_level,
        steps_per_epoch, test_batches, batch_size, threshold, seed) or the trainer's signature
        (:func:`trainer_signature`: tensor shapes, optimiser hyperparameters) differ from the
        checkpoint's. Only the epoch budget (:meth:`run`'s ``n_epochs``) may change.

    Attributes
    ----------
    history : CurriculumHistory
    level : int
        The level the next epoch will run at.
    """

    #: The tasks this class runs.
    TASKS: tuple[str, ...] = CURRICULUM_TASKS

    def __init__(
        self,
        trainer: SupportsCurriculum,
        task: str,
        start_level: int = 2,
        steps_per_epoch: int = 100,
        test_batches: int = 50,
        batch_size: int = STUDY.batch_size,
        threshold: float = STUDY.threshold,
        seed: int = 0,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        progress: bool = True,
        *,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        _check_curriculum(
            task, start_level, steps_per_epoch, test_batches, batch_size, threshold, seed, tasks=self.TASKS
        )
        if settings is not None and not isinstance(settings, Mapping):
            raise TypeError(f"settings must be a mapping of JSON-ready values, got {type(settings).__name__}")
        try:  # round trip: the record compared on resume is what a checkpoint stores
            run_settings = {} if settings is None else json.loads(canonical_json(dict(settings)))
        except TypeError as error:
            raise TypeError(f"settings must hold JSON-ready values: {error}") from error
        self.trainer = trainer
        self.task = task
        self.start_level = int(start_level)
        self.steps_per_epoch = int(steps_per_epoch)
        self.test_batches = int(test_batches)
        self.batch_size = int(batch_size)
        self.threshold = float(threshold)
        self.seed = int(seed)
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.progress = progress
        self.settings = run_settings
        self.history = CurriculumHistory(task=task, threshold=self.threshold)
        self.level = self.start_level
        self._rng = np.random.default_rng(seed)

    _CONFIG_FIELDS = (
        "task",
        "start_level",
        "steps_per_epoch",
        "test_batches",
        "batch_size",
        "threshold",
        "seed",
    )

    # -- configuration -------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "start_level": self.start_level,
            "steps_per_epoch": self.steps_per_epoch,
            "test_batches": self.test_batches,
            "batch_size": self.batch_size,
            "threshold": self.threshold,
            "seed": self.seed,
        }

    @property
    def n_heads(self) -> int:
        """Heads the task needs: 1, or 2 for multitask and switching."""
        return 1 if self.task in N_CLASSES else len(MULTITASK_TASKS)

    def active_head(self, level: int) -> int | None:
        """Head that trains at ``level``: the switching plan's, or ``None`` (all heads) otherwise."""
        return switching_plan(level).head if self.task == "switching" else None

    # -- data ----------------------------------------------------------------------------------
    def _draw(self, level: int) -> Batch:
        return make_task_batch(self.task, level, batch_size=self.batch_size, seed=self._rng)

    # -- one epoch -----------------------------------------------------------------------------
    def _head_accuracies(self, result: dict[str, Any]) -> tuple[float, ...]:
        accuracy = result["accuracy"]
        accuracies = tuple(accuracy) if isinstance(accuracy, tuple | list) else (accuracy,)
        if len(accuracies) != self.n_heads:
            raise ValueError(
                f"task {self.task!r} needs a model with {self.n_heads} head(s); "
                f"the trainer reported {len(accuracies)} accuracies"
            )
        return tuple(float(value) for value in accuracies)

    def epoch_steps(self) -> Generator[Request, Any, EpochRecord]:
        """The next epoch as a coroutine that asks for the trainer calls instead of making them.

        It yields ``("train_step", (x, y, head))`` once per training step and then
        ``("evaluate_batches", (batches,))`` once for the test batches (a list of ``(x, y)``), and expects
        each call's result to be sent back (a float; one ``evaluate`` result dict per batch). Its return
        value (``StopIteration.value``) is the epoch's record, after the record was appended to the
        history, the level advanced when solved and the checkpoints written. :meth:`run_epoch` drives it
        with this object's trainer; an ensemble drives its members' coroutines in lock step.
        """
        level, head = self.level, self._epoch_head()
        start = time.perf_counter()
        train_losses = []
        for _ in range(self.steps_per_epoch):
            x, y = self._draw_training(level, head)
            train_losses.append(float((yield "train_step", (x, y, head))))
        batches = self._draw_tests(level)
        results = yield "evaluate_batches", (batches,)
        head_accuracies = self._test_accuracies(results)
        test_loss = float(np.mean([float(result["loss"]) for result in results]))
        accuracy = head_accuracies[head] if head is not None else min(head_accuracies)
        record = EpochRecord(
            epoch=len(self.history) + 1,
            level=level,
            accuracy=accuracy,
            loss=float(np.mean(train_losses)),
            test_loss=test_loss,
            seconds=time.perf_counter() - start,
            solved=accuracy >= self.threshold,
            head_accuracies=head_accuracies,
            active_head=head,
        )
        self.history.records.append(record)
        observe_epoch = getattr(self.trainer, "observe_epoch", None)
        if observe_epoch is not None:  # a schedule that decides from the history (adaptive) learns of it
            observe_epoch(level=record.level, solved=record.solved, test_loss=record.test_loss)
        self._advance(record)
        self._save(record)
        return record

    # -- the hooks of one epoch (a subclass changes the plan: training.continual) ----------------------
    def _epoch_head(self) -> int | None:
        """The head that trains and decides this epoch (None: all heads)."""
        return self.active_head(self.level)

    def _draw_training(self, level: int, head: int | None) -> Batch:
        """One training batch of this epoch."""
        return self._draw(level)

    def _draw_tests(self, level: int) -> list[Batch]:
        """The epoch's test batches."""
        return [self._draw(level) for _ in range(self.test_batches)]

    def _test_accuracies(self, results: list[dict[str, Any]]) -> tuple[float, ...]:
        """Every head's mean test accuracy over the test batches' ``evaluate`` results."""
        accuracies = [self._head_accuracies(result) for result in results]
        return tuple(np.mean(accuracies, axis=0).tolist())

    def _advance(self, record: EpochRecord) -> None:
        """After the epoch: a solved level moves the curriculum (and the trainer's plasticity) to N + 1."""
        if record.solved:
            self.level += 1
            self.trainer.set_level(self.level)

    def _call(self, kind: str, arguments: tuple) -> Any:
        """Make the trainer call an :meth:`epoch_steps` request asks for."""
        if kind == "train_step":
            return self.trainer.train_step(*arguments)
        (batches,) = arguments
        evaluate_batches = getattr(self.trainer, "evaluate_batches", None)
        if evaluate_batches is not None:
            return evaluate_batches(batches)
        return [self.trainer.evaluate(x, y) for x, y in batches]

    def run_epoch(self) -> EpochRecord:
        """Train and test one epoch at :attr:`level` with this object's trainer; returns its record.

        Call :meth:`begin` first (:meth:`run` does both).
        """
        return run_epochs({0: self})[0]

    # -- checkpoints ---------------------------------------------------------------------------
    def _checkpoint(self) -> dict[str, Any]:
        return {
            "config": self._config(),
            "settings": self.settings,
            "level": self.level,
            "history": self.history.to_dict(),
            "data_rng": self._rng.bit_generator.state,
            "trainer": self.trainer.state_dict(),
        }

    def _save(self, record: EpochRecord) -> None:
        if self.checkpoint_dir is None:
            return
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        payload = self._checkpoint()
        if record.solved:
            write_checkpoint(payload, self.checkpoint_dir / level_checkpoint(record.level))
        write_checkpoint(payload, self.checkpoint_dir / LAST_CHECKPOINT)

    def _resume(self) -> None:
        """Load ``last.pt`` from ``checkpoint_dir`` into this object and the trainer.

        Raises
        ------
        ValueError
            The checkpoint is unreadable, or was written with other settings (each one listed).
        """
        path = self.checkpoint_dir / LAST_CHECKPOINT
        payload = load_checkpoint(path)
        expected = set(CHECKPOINT_FIELDS)
        found = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        if found != sorted(expected) or not isinstance(payload["trainer"], Mapping):
            raise ValueError(f"checkpoint {path} must hold exactly {sorted(expected)}, got {found}")
        stored_signature = trainer_signature(payload["trainer"])
        current_signature = trainer_signature(self.trainer.state_dict())
        # tensor shapes of counters and buffers come and go; hyperparameters (param_groups) must all agree
        compared = sorted(
            (stored_signature.keys() & current_signature.keys())
            | {key for key in stored_signature.keys() | current_signature.keys() if ".param_groups." in key}
        )
        check_resume_settings(
            {
                "curriculum": payload["config"],
                "settings": payload["settings"],
                "trainer": {key: stored_signature.get(key, "<absent>") for key in compared},
            },
            {
                "curriculum": self._config(),
                "settings": self.settings,
                "trainer": {key: current_signature.get(key, "<absent>") for key in compared},
            },
            where=f"checkpoint {path}",
        )
        try:
            history = CurriculumHistory.from_dict(payload["history"])
            self._check_history(history, payload["level"])
            data_rng = check_bit_generator_state(payload["data_rng"], "data_rng")
            if data_rng["bit_generator"] != type(self._rng.bit_generator).__name__:
                raise ValueError(f"data_rng must be a {type(self._rng.bit_generator).__name__} state")
        except (TypeError, KeyError, ValueError) as error:
            raise ValueError(
                f"checkpoint {path} holds a field no run of these settings writes: {error}"
            ) from error
        try:
            self.trainer.load_state_dict(payload["trainer"])
        except (
            RuntimeError,
            KeyError,
            TypeError,
        ) as error:  # torch's state-dict mismatch: missing/extra keys
            raise ValueError(f"checkpoint {path} does not fit this trainer's model: {error}") from error
        self.history = history
        self.level = payload["level"]
        self._rng.bit_generator.state = data_rng

    # -- saving and loading (cbreservoir.save / load, pickle) ------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        """Every attribute but ``checkpoint_dir``: where checkpoints go is the caller's choice."""
        return {key: value for key, value in vars(self).items() if key != "checkpoint_dir"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a saved or pickled curriculum, checked as the constructor and a resume check theirs.

        ``checkpoint_dir`` is ``None`` afterwards (set it to resume or checkpoint into a directory).

        Raises
        ------
        ValueError
            A setting the constructor refuses, a ``checkpoint_dir`` in the state, a history and level no
            run of these settings produces, or a data generator that is not a NumPy Generator.
        """
        expected = {*_STATE_FIELDS}
        if set(state) != expected:
            raise ValueError(
                f"a CurriculumTrainer's state must hold exactly {sorted(expected)} (checkpoint paths come "
                f"from the caller, never from a file); it lacks {sorted(expected - set(state))} and has "
                f"{sorted(set(state) - expected)[:5]}"
            )
        config = {key: state[key] for key in CurriculumTrainer._CONFIG_FIELDS}
        _check_curriculum(**config, tasks=self.TASKS)
        if type(state["progress"]) is not bool:
            raise ValueError(f"progress must be a bool, got {state['progress']!r:.40}")
        if not isinstance(state["settings"], dict):
            raise ValueError("settings must be a dict of JSON values")
        _check_progress(
            state["history"],
            state["level"],
            task=state["task"],
            start_level=state["start_level"],
            threshold=state["threshold"],
        )
        if type(state["_rng"]) is not np.random.Generator:
            raise ValueError(
                f"a CurriculumTrainer's _rng must be a numpy Generator, got {type(state['_rng'])}"
            )
        self.__dict__.update(state)
        self.checkpoint_dir = None

    def _check_history(self, history: Any, level: Any) -> None:
        """Raise ``ValueError`` unless ``history`` and the next ``level`` fit this run's plan."""
        _check_progress(
            history, level, task=self.task, start_level=self.start_level, threshold=self.threshold
        )

    def _has_checkpoint(self) -> bool:
        return self.checkpoint_dir is not None and (self.checkpoint_dir / LAST_CHECKPOINT).is_file()

    # -- the loop ------------------------------------------------------------------------------
    def begin(self) -> None:
        """Resume from ``checkpoint_dir`` if nothing has run here yet, and set the trainer's level."""
        if len(self.history) == 0 and self._has_checkpoint():
            self._resume()
        self.trainer.set_level(self._plasticity_level())

    def _plasticity_level(self) -> int:
        """The level the trainer's plasticity schedule follows: the curriculum's level."""
        return self.level

    def run(self, n_epochs: int) -> CurriculumHistory:
        """Train until the history holds ``n_epochs`` epochs (the epoch budget) and return it.

        If nothing has run in this object yet and ``checkpoint_dir`` holds a checkpoint, the run
        resumes from it (its settings must match: see ``settings``). Calling ``run`` again with a
        larger budget continues the same run. The loop is :func:`run_curricula`'s with this one curriculum.

        Parameters
        ----------
        n_epochs : int
            Total number of epochs of the run, including those already done.

        Returns
        -------
        CurriculumHistory

        Raises
        ------
        ValueError
            A checkpoint that is damaged or was written with other settings.
        cbreservoir.utils.files.DirectoryInUseError
            Another process is running in ``checkpoint_dir``.
        """
        (history,) = run_curricula([self], n_epochs, progress=self.progress)
        return history


#: Makes the requests of several curricula's epochs, all of one kind: ``call(kind, {index: arguments})``
#: returns ``{index: result}`` (the kinds and arguments of :meth:`CurriculumTrainer.epoch_steps`).
BatchedCall = Callable[[str, dict[int, tuple]], dict[int, Any]]


def run_epochs(
    curricula: Mapping[int, CurriculumTrainer], call: BatchedCall | None = None
) -> dict[int, EpochRecord]:
    """One epoch of every curriculum in ``curricula``, in lock step: the one epoch loop.

    Drives their :meth:`CurriculumTrainer.epoch_steps` coroutines side by side; each round of requests
    (all of one kind: training steps, then test batches) is made by one ``call``, and every result is sent
    back in ascending index order (so the curricula record and checkpoint their epochs in that order).

    Parameters
    ----------
    curricula : mapping of int to CurriculumTrainer
        The curricula by index (e.g. ensemble member).
    call : callable, optional
        ``call(kind, {index: arguments}) -> {index: result}`` (:data:`BatchedCall`), e.g. one ensemble
        call for all members; by default each curriculum's own trainer makes its requests.

    Returns
    -------
    dict of int to EpochRecord

    Raises
    ------
    RuntimeError
        The curricula asked for calls of different kinds at the same time.
    """
    if call is None:  # each curriculum's trainer makes its own requests

        def call(kind: str, calls: dict[int, tuple]) -> dict[int, Any]:
            return {index: curricula[index]._call(kind, arguments) for index, arguments in calls.items()}

    coroutines = {index: curricula[index].epoch_steps() for index in sorted(curricula)}
    records: dict[int, EpochRecord] = {}
    requests = {index: next(coroutine) for index, coroutine in coroutines.items()}
    while requests:
        kinds = {kind for kind, _ in requests.values()}
        if len(kinds) != 1:
            raise RuntimeError(f"curricula fell out of step: calls {sorted(kinds)} at the same time")
        results = call(kinds.pop(), {index: arguments for index, (_, arguments) in requests.items()})
        pending = {}
        for index in sorted(results):
            try:
                pending[index] = coroutines[index].send(results[index])
            except StopIteration as stop:  # that curriculum's epoch is complete
                records[index] = stop.value
        requests = pending
    return records


def run_curricula(
    curricula: Sequence[CurriculumTrainer],
    n_epochs: int,
    call: BatchedCall | None = None,
    *,
    progress: bool = True,
) -> list[CurriculumHistory]:
    """Run curricula in lock step until every history holds ``n_epochs`` epochs: the one curriculum loop.

    Every checkpoint directory is locked for the run; each curriculum resumes from its checkpoint
    (:meth:`CurriculumTrainer.begin`); then epoch after epoch, the curricula whose history is still short
    run one epoch together (:func:`run_epochs`) — one that resumed from a later checkpoint sits out until
    the others catch up. :meth:`CurriculumTrainer.run` is the case of one curriculum; an ensemble's
    members (:class:`~cbreservoir.training.ensemble.EnsembleCurriculumTrainer`) batch their calls through
    ``call``.

    Parameters
    ----------
    curricula : sequence of CurriculumTrainer
    n_epochs : int
        Total number of epochs of every run, including those already done.
    call : callable, optional
        As for :func:`run_epochs` (indices are positions in ``curricula``).
    progress : bool
        One tqdm bar over epochs (the shortest history's count), with the last epoch, level N and
        accuracy of each curriculum.

    Returns
    -------
    list of CurriculumHistory
        One per curriculum.

    Raises
    ------
    TypeError
        ``curricula`` holds something else than CurriculumTrainer objects.
    ValueError
        No curricula; a checkpoint that is damaged or was written with other settings.
    cbreservoir.utils.files.DirectoryInUseError
        Another run (or another curriculum here) is running in one of the checkpoint directories.
    Exception
        The first error of any curriculum (e.g. ``TrainingDivergedError``); every curriculum stops.
    """
    for index, curriculum in enumerate(curricula):
        Instance(CurriculumTrainer, "a CurriculumTrainer")(curriculum, f"curricula[{index}]")
    if not curricula:
        raise ValueError("curricula must hold at least one CurriculumTrainer, got none")
    check_int(n_epochs, "n_epochs", minimum=1)
    with contextlib.ExitStack() as locks:
        for curriculum in curricula:
            if curriculum.checkpoint_dir is not None:
                locks.enter_context(directory_lock(curriculum.checkpoint_dir))
        for curriculum in curricula:
            curriculum.begin()
        done = min(min(len(curriculum.history) for curriculum in curricula), n_epochs)
        with tqdm(total=n_epochs, initial=done, disable=not progress, unit="epoch") as bar:
            while True:
                running = {
                    index: curriculum
                    for index, curriculum in enumerate(curricula)
                    if len(curriculum.history) < n_epochs
                }
                if not running:
                    break
                run_epochs(running, call)
                bar.update(min(len(curriculum.history) for curriculum in curricula) - bar.n)
                bar.set_postfix(_last_epochs(curricula))
    return [curriculum.history for curriculum in curricula]


def _last_epochs(curricula: Sequence[CurriculumTrainer]) -> dict[str, Any]:
    """The progress bar's postfix: each curriculum's last epoch, its level and accuracy (scalars for one)."""
    last = [curriculum.history.records[-1] for curriculum in curricula if curriculum.history.records]
    fields = {
        "epoch": [record.epoch for record in last],
        "N": [record.level for record in last],
        "acc": [f"{record.accuracy:.3f}" for record in last],
    }
    return {key: values[0] if len(values) == 1 else values for key, values in fields.items()}

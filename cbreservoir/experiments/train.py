"""The ``cbreservoir train`` command's work: one model (or a batched ensemble) at a fixed level or through
the curriculum.

Two steps, so that every value is checked before any work starts: :func:`check_train` validates a
settings mapping and resolves its mode (``ValueError`` naming the key, the allowed values and the value),
:func:`run_train` trains. The curriculum is built with the optimiser and curriculum settings of
:mod:`cbreservoir.experiments.reproduce.run` (one builder for ``train`` and ``reproduce``).

Examples
--------
>>> from cbreservoir.experiments.train import TRAIN_DEFAULTS, check_train, run_train
>>> settings = check_train({**TRAIN_DEFAULTS, "mode": "curriculum", "epochs": 2})  # doctest: +SKIP
>>> result, trained = run_train(settings)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cbreservoir.numerics.study import STUDY
from cbreservoir.utils.checks import (
    MAX_COUNT,
    MAX_SEED,
    Instance,
    Integer,
    Real,
    Seed,
    Setting,
    check_choice,
    check_params,
)

__all__ = [
    "COUNT",
    "DEVICE",
    "FIXED_LEVEL_MODELS",
    "MODES",
    "NOISE_LEVEL",
    "RATE",
    "RUN_SETTINGS",
    "SEED",
    "TEXT",
    "TRAIN_DEFAULTS",
    "TRAIN_SETTINGS",
    "check_train",
    "run_train",
]

#: Training modes: the study's curriculum, or a fixed level N.
MODES = ("curriculum", "fixed_level")

#: Model kinds of :func:`cbreservoir.experiments.fixed_level.train_fixed_level`.
FIXED_LEVEL_MODELS = ("cbrnn", "rnn")

#: What the ``train`` settings accept (the command line parses its text by these, in :mod:`cbreservoir.cli`).
COUNT = Integer(1, MAX_COUNT)
SEED = Seed()
RATE = Real(0.0, strict=True)
NOISE_LEVEL = Real(0.0)
TEXT = Instance(str, "a string")
DEVICE = Instance(str, "a torch device such as cpu or cuda:0")


#: The ``train`` settings, written once: :data:`TRAIN_DEFAULTS`, the command line's flags and the config
#: file's keys all come from here.
TRAIN_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "model",
        "cbrnn",
        TEXT,
        "cbrnn or rnn (the parameter-matched RNN-only baseline); "
        "curriculum also gru, gru_cb, lstm, lstm_cb, rnn_aux",
        "KIND",
    ),
    Setting(
        "task", "dms", TEXT, "dms, parity, mod3; curriculum: dms, parity, mod3, multitask, switching", "TASK"
    ),
    Setting(
        "mode",
        None,
        TEXT,
        "fixed_level (STEPS steps at level N) or curriculum (needs --epochs); --epochs alone means "
        "curriculum",
        "MODE",
    ),
    Setting(
        "n",
        STUDY.start_level,
        COUNT,
        "difficulty level N (the fixed level, or the curriculum's first level)",
        "N",
    ),
    Setting("steps", STUDY.steps_per_epoch, COUNT, "training steps (per epoch in the curriculum)", "STEPS"),
    Setting("epochs", None, COUNT, "curriculum epochs (mode curriculum)", "EPOCHS"),
    Setting(
        "schedule",
        "end_to_end",
        TEXT,
        "plasticity schedule: end_to_end, full_reservoir, interleaved, reduced_recurrent, adaptive "
        "(curriculum only)",
        "NAME",
    ),
    Setting(
        "ensemble",
        None,
        COUNT,
        "train this many networks (seeds SEED, SEED+1, ...) as one batched ensemble",
        "E",
    ),
    Setting(
        "n_granule",
        STUDY.n_granule,
        COUNT,
        "granule layer size G of cerebellar models (curriculum only)",
        "G",
    ),
    Setting("batch_size", STUDY.batch_size, COUNT, "trials per batch", "B"),
    Setting("test_batches", 10, COUNT, "test batches after training (per curriculum epoch)", "K"),
    Setting(
        "learning_rate",
        STUDY.learning_rate,
        RATE,
        f"SGD learning rate (momentum {STUDY.momentum}, Nesterov, clip {STUDY.clip_norm})",
        "LR",
    ),
    Setting("seed", 0, SEED, "seed of weights, data and initial states", "SEED"),
    Setting("device", "cpu", DEVICE, "torch device, e.g. cpu or cuda", "DEVICE"),
    Setting(
        "save",
        None,
        TEXT,
        "save the trained model (or ensemble) with cbreservoir.save to a .cbr file (curriculum only)",
        "PATH",
    ),
    Setting("checkpoint_dir", None, TEXT, "curriculum checkpoints go here; a rerun resumes from them", "DIR"),
    Setting(
        "noise_input_flip",
        0.0,
        NOISE_LEVEL,
        "train and test with input bits flipped with this probability (curriculum, no ensemble)",
        "P",
    ),
    Setting(
        "noise_state",
        0.0,
        NOISE_LEVEL,
        "train and test with Gaussian noise of this SD on the cortical state (curriculum, no ensemble)",
        "SD",
    ),
    Setting(
        "noise_cerebellum",
        0.0,
        NOISE_LEVEL,
        "train and test with Gaussian noise of this SD on the cerebellar output (curriculum, no ensemble)",
        "SD",
    ),
)

#: Settings of :func:`check_train` and their defaults (``mode`` None: ``"curriculum"`` when ``epochs`` is
#: given, otherwise an error).
TRAIN_DEFAULTS: dict[str, Any] = {setting.name: setting.default for setting in TRAIN_SETTINGS}

#: The noise settings: ``noise_<kind>`` for each :data:`cbreservoir.models.noise.NOISE_KINDS` kind.
NOISE_SETTINGS = ("noise_input_flip", "noise_state", "noise_cerebellum")

#: Settings that apply to curriculum training only (a fixed-level run refuses other values).
CURRICULUM_ONLY = ("epochs", "schedule", "n_granule", "save", "checkpoint_dir", *NOISE_SETTINGS)

#: ``train`` settings recorded in curriculum checkpoints besides the curriculum's own (task, n, steps,
#: test_batches, batch_size, seed): a resume with another value is refused. The epoch budget may grow;
#: ``device`` may change (a run can move between machines); ``save``, ``ensemble`` and the checkpoint
#: directory do not change what a network learns (member i of an ensemble is the solo run with seed + i).
RUN_SETTINGS = ("model", "schedule", "n_granule", "learning_rate", *NOISE_SETTINGS)


def check_train(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``train`` settings before any work and resolve the mode.

    Parameters
    ----------
    settings : mapping
        Every key of :data:`TRAIN_DEFAULTS`, each value one its :data:`TRAIN_SETTINGS` entry accepts.

    Returns
    -------
    dict
        The settings with ``mode`` set: ``"curriculum"`` or ``"fixed_level"``.

    Raises
    ------
    TypeError
        A value of the wrong type (e.g. ``n=2.5``).
    ValueError
        An unknown or missing key, a value out of its range, no mode (no ``mode`` and no ``epochs``),
        ``mode`` not in :data:`MODES`, curriculum without ``epochs``, a curriculum-only setting in
        fixed-level mode, a model, task or schedule the mode does not know, a level below the task's
        smallest, a last member's seed above the maximum, an unwritable ``save`` or ``checkpoint_dir``,
        an ensemble too large for the memory.
    """
    constraints = {setting.name: setting.constraint for setting in TRAIN_SETTINGS}
    settings = check_params(settings, **constraints)
    if settings["mode"] is None:
        if settings["epochs"] is None:
            raise ValueError(
                "'mode' is required: 'fixed_level' (--mode fixed_level: 'steps' steps at level 'n') or "
                "'curriculum' (--mode curriculum --epochs K); 'epochs' alone means 'curriculum'"
            )
        settings["mode"] = "curriculum"
    check_choice(settings["mode"], "mode", allowed=MODES)
    if settings["mode"] == "curriculum":
        _check_curriculum(settings)
    else:
        _check_fixed_level(settings)
    from cbreservoir.tasks import check_level

    check_level(settings["task"], settings["n"])
    _check_resources(settings)
    return settings


def run_train(settings: Mapping[str, Any], progress: bool = False) -> tuple[dict[str, Any], Any]:
    """Train as :func:`check_train`-ed ``settings`` say.

    Parameters
    ----------
    settings : mapping
        The result of :func:`check_train`.
    progress : bool
        Show progress bars.

    Returns
    -------
    result : dict
        ``mode`` and the results: fixed level, those of
        :func:`~cbreservoir.experiments.fixed_level.train_fixed_level` (one entry per member); curriculum,
        ``n_parameters``, ``units``, ``seeds``, ``max_level``, ``levels`` (N per epoch) and
        ``accuracy`` (test accuracy per epoch), one list per member with ``ensemble``.
    trained : object or None
        What ``save`` should write (the model, or the ensemble trainer); None in fixed-level mode.
    """
    if settings["mode"] == "fixed_level":
        return _train_fixed_level(settings, progress), None
    return _train_curriculum(settings, progress)


def _check_curriculum(settings: dict[str, Any]) -> None:
    from cbreservoir.experiments.reproduce.conditions import CONDITIONS
    from cbreservoir.tasks import CURRICULUM_TASKS
    from cbreservoir.training.schedules import CURRICULUM_SCHEDULES

    if settings["epochs"] is None:
        raise ValueError("'epochs' is required with mode 'curriculum' (--epochs K), got none")
    model_kinds = [name for name, condition in CONDITIONS.items() if condition.kind == name]
    check_choice(settings["model"], "model", allowed=model_kinds)
    check_choice(settings["task"], "task", allowed=CURRICULUM_TASKS)
    check_choice(settings["schedule"], "schedule", allowed=sorted(CURRICULUM_SCHEDULES))
    noise = _noise(settings)
    if noise is not None and settings["ensemble"] is not None:
        raise ValueError(
            f"noise during training runs solo: expected no 'ensemble' with {noise}, "
            f"got {settings['ensemble']}"
        )


def _noise(settings: Mapping[str, Any]) -> Any:
    """The :class:`~cbreservoir.models.Noise` the settings ask for (None: none)."""
    from cbreservoir.models.noise import Noise, check_noise

    return check_noise(Noise(**{key.removeprefix("noise_"): settings[key] for key in NOISE_SETTINGS}))


def _check_fixed_level(settings: dict[str, Any]) -> None:
    from cbreservoir.tasks import N_CLASSES

    check_choice(settings["model"], "model", allowed=FIXED_LEVEL_MODELS)
    check_choice(settings["task"], "task", allowed=list(N_CLASSES))
    for key in CURRICULUM_ONLY:
        if settings[key] != TRAIN_DEFAULTS[key]:
            raise ValueError(
                f"{key!r} applies to curriculum training (mode 'curriculum'), got {settings[key]!r} "
                "with mode 'fixed_level'"
            )


def _check_resources(settings: dict[str, Any]) -> None:
    """Seeds in range, ``save`` a writable ``.cbr`` path, ``checkpoint_dir`` writable, the ensemble fits."""
    from cbreservoir.utils.checks import check_writable_directory
    from cbreservoir.utils.fileformat import FILE_SUFFIX
    from cbreservoir.utils.files import check_destination

    members = settings["ensemble"] or 1
    if settings["seed"] + members - 1 > MAX_SEED:
        raise ValueError(
            f"'seed' + 'ensemble' - 1 (the last member's seed) must be <= {MAX_SEED}; "
            f"got {settings['seed']} + {members} - 1"
        )
    if settings["save"]:
        if Path(settings["save"]).suffix != FILE_SUFFIX:
            raise ValueError(
                f"'save' must name a {FILE_SUFFIX} file (it is written in the cbreservoir format whatever "
                f"its suffix), got {settings['save']!r}"
            )
        check_writable_directory(str(Path(settings["save"]).resolve().parent), "'save' (its directory)")
        check_destination(settings["save"], "'save'")
    if settings["checkpoint_dir"]:
        check_writable_directory(settings["checkpoint_dir"], "'checkpoint_dir'")
    _check_ensemble_memory(settings, members)


def _check_ensemble_memory(settings: dict[str, Any], members: int) -> None:
    """Refuse an ensemble whose weights and activations cannot fit in the available memory.

    The estimate per member, from one model built for the purpose: 4 copies of the float32 parameters
    (weights, gradients, momentum, the ensemble's stacked copy) plus the activations kept for
    backpropagation, 2 x batch x longest sequence x (hidden + granule) float32 values, at level ``n``.
    """
    from cbreservoir.experiments.reproduce.conditions import build_condition_model
    from cbreservoir.models import count_parameters
    from cbreservoir.tasks import length_range
    from cbreservoir.utils.resources import InsufficientMemoryError, check_memory

    if members == 1:
        return
    model = build_condition_model(settings["model"], settings["task"], n_granule=settings["n_granule"])
    granule = model.config.get("n_granule", 0)  # cerebellar models only
    steps = length_range(settings["n"])[1]
    activations = 2 * settings["batch_size"] * steps * (model.units + granule)
    per_member = 4 * 4 * count_parameters(model) + 4 * activations
    try:
        check_memory(members * per_member, f"an ensemble of {members} {settings['model']} networks")
    except InsufficientMemoryError as error:
        raise ValueError(f"'ensemble' = {members} is too large for this machine: {error}") from error


def _train_fixed_level(settings: Mapping[str, Any], progress: bool) -> dict[str, Any]:
    """``ensemble`` networks (default 1) trained together at the fixed level ``n``, then tested."""
    from cbreservoir.experiments.fixed_level import train_fixed_level

    result = train_fixed_level(
        model=settings["model"],
        task=settings["task"],
        n=settings["n"],
        steps=settings["steps"],
        ensemble=settings["ensemble"] or 1,
        seed=settings["seed"],
        batch_size=settings["batch_size"],
        test_batches=settings["test_batches"],
        device=settings["device"],
        progress=progress,
        learning_rate=settings["learning_rate"],
    )
    return {"mode": "fixed_level", **result}


def _train_curriculum(settings: Mapping[str, Any], progress: bool) -> tuple[dict[str, Any], Any]:
    """One model, or an ensemble whose members keep their own levels, through the curriculum.

    Resumable with ``checkpoint_dir``; member i of an ensemble is the solo run with seed ``seed + i``.
    The optimiser and curriculum arguments are those a reproduction profile with the same values sets.
    """
    from cbreservoir.experiments.reproduce.conditions import (
        FROZEN_CORE,
        INTERLEAVE_PERIOD,
        build_condition_model,
    )
    from cbreservoir.experiments.reproduce.profiles import Profile
    from cbreservoir.experiments.reproduce.run import curriculum_settings, optimizer_settings
    from cbreservoir.models import count_parameters
    from cbreservoir.training import CurriculumTrainer, GradientTrainer, make_schedule
    from cbreservoir.training.ensemble import EnsembleCurriculumTrainer, EnsembleTrainer

    task, n_members = settings["task"], settings["ensemble"] or 1
    profile = Profile(
        name="train",
        n_epochs=settings["epochs"],
        n_seeds=n_members,
        batch_size=settings["batch_size"],
        steps_per_epoch=settings["steps"],
        test_batches=settings["test_batches"],
        learning_rate=settings["learning_rate"],
        start_level=settings["n"],
    )
    seeds = [settings["seed"] + member for member in range(n_members)]
    models = [
        build_condition_model(settings["model"], task, n_granule=settings["n_granule"], seed=seed)
        for seed in seeds
    ]
    schedule_options = {
        "interleaved": {"k": INTERLEAVE_PERIOD[task], "frozen_core": FROZEN_CORE[task]},
        "full_reservoir": {"frozen_core": FROZEN_CORE[task]},
        "adaptive": {"frozen_core": FROZEN_CORE[task]},
    }.get(settings["schedule"], {})
    trainer_options = {
        **optimizer_settings(profile),
        "schedule": make_schedule(settings["schedule"], **schedule_options),
        "device": settings["device"],
        **({} if _noise(settings) is None else {"noise": _noise(settings)}),
    }
    curriculum_options = {
        **curriculum_settings(profile),
        "checkpoint_dir": settings["checkpoint_dir"],
        "progress": progress,
        "settings": {key: settings[key] for key in RUN_SETTINGS},
    }
    if settings["ensemble"] is None:
        trainer = GradientTrainer(models[0], seed=seeds[0], **trainer_options)
        curriculum = CurriculumTrainer(trainer, task, seed=seeds[0], **curriculum_options)
        histories = [curriculum.run(profile.n_epochs)]
        trained = trainer.model
    else:
        trained = EnsembleTrainer(models, seeds, **trainer_options)
        curriculum = EnsembleCurriculumTrainer(trained, task, **curriculum_options)
        histories = curriculum.run(profile.n_epochs)
        trained.sync_members()
    levels = [history.levels for history in histories]
    accuracy = [history.accuracies for history in histories]
    ensemble = settings["ensemble"] is not None
    result = {
        "mode": "curriculum",
        "n_parameters": count_parameters(models[0]),
        "units": models[0].units,
        "seeds": seeds,
        "max_level": [max(member) for member in levels] if ensemble else max(levels[0]),
        "levels": levels if ensemble else levels[0],
        "accuracy": accuracy if ensemble else accuracy[0],
    }
    return result, trained

"""Run profiles: the study's exact protocol (``paper``) and a reduced one for a small CPU (``quick``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from cbreservoir.numerics.study import STUDY
from cbreservoir.utils.checks import MAX_COUNT, Instance, Integer, IntList, Real, check_params

__all__ = ["PROFILES", "Profile", "get_profile"]

_COUNT, _EPOCHS = Integer(1, MAX_COUNT), Integer(0, MAX_COUNT)
#: What each :class:`Profile` field accepts.
_CONSTRAINTS = dict(
    name=Instance(str, "a non-empty string"),
    n_epochs=_COUNT,
    n_seeds=_COUNT,
    batch_size=_COUNT,
    steps_per_epoch=_COUNT,
    test_batches=_COUNT,
    threshold=Real(0.0, 1.0, strict=True),
    learning_rate=Real(0.0, strict=True),
    momentum=Real(0.0, 1.0, strict_maximum=True),
    clip_norm=Real(0.0, strict=True),
    start_level=_COUNT,
    switching_window=_EPOCHS,
    feedforward_core_epochs=_EPOCHS,
    granule_sizes=IntList(1, MAX_COUNT),
)


@dataclass(frozen=True, kw_only=True)
class Profile:
    """Everything a reproduction run takes from its profile.

    Attributes
    ----------
    name : str
        Profile name, stored with every run.
    n_epochs : int
        Curriculum epochs per network.
    n_seeds : int
        Networks per condition (seeds ``0 .. n_seeds - 1`` unless seeds are given).
    batch_size : int
        Trials per training and test batch.
    steps_per_epoch : int
        Training steps (SGD updates) per epoch.
    test_batches : int
        Fresh test batches after each epoch; the level advances when their mean accuracy
        reaches ``threshold``.
    threshold : float
        Test accuracy needed to advance to N + 1.
    learning_rate, momentum, clip_norm : float
        SGD (Nesterov) settings, the same for every module.
    start_level : int
        First curriculum level N.
    switching_window : int
        Epochs over which task switching's mean active N is reported (the study: the first 650).
    feedforward_core_epochs : int
        Epochs the core of the ``feedforward`` condition trains end to end before it is frozen.
    granule_sizes : tuple of int
        Granule-layer sizes G of the scaling sweep.

    Raises
    ------
    TypeError, ValueError
        A field of the wrong type or out of its range (counts >= 1, ``switching_window`` and
        ``feedforward_core_epochs`` >= 0, threshold in (0, 1], learning rate and clip norm > 0,
        momentum in [0, 1), granule sizes >= 1), named with its range and value.
    """

    name: str
    n_epochs: int
    n_seeds: int
    batch_size: int = STUDY.batch_size
    steps_per_epoch: int = STUDY.steps_per_epoch
    test_batches: int = STUDY.test_batches
    threshold: float = STUDY.threshold
    learning_rate: float = STUDY.learning_rate
    momentum: float = STUDY.momentum
    clip_norm: float = STUDY.clip_norm
    start_level: int = STUDY.start_level
    switching_window: int = STUDY.switching_window
    feedforward_core_epochs: int = 1
    granule_sizes: tuple[int, ...] = STUDY.granule_sizes

    def __post_init__(self) -> None:
        if self.name == "":
            raise ValueError("Profile.name must be a non-empty string; got ''")
        checked = check_params(dataclasses.asdict(self), "Profile.", **_CONSTRAINTS)
        object.__setattr__(self, "granule_sizes", tuple(checked["granule_sizes"]))

    def settings(self) -> dict:
        """The profile as a JSON-ready dict (stored in every run's cell, so changed settings rerun)."""
        return {**dataclasses.asdict(self), "granule_sizes": list(self.granule_sizes)}

    def replace(self, **changes: object) -> Profile:
        """A copy with some fields changed.

        Raises
        ------
        ValueError
            An unknown name (the message names the allowed ones), or a value out of its range.
        TypeError
            A value of the wrong type (e.g. ``learning_rate="abc"``).
        """
        allowed = {field.name for field in dataclasses.fields(self)}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValueError(f"unknown profile setting(s) {unknown}; allowed: {sorted(allowed)}")
        return dataclasses.replace(self, **changes)


PROFILES: dict[str, Profile] = {
    "paper": Profile(name="paper", n_epochs=STUDY.n_epochs, n_seeds=STUDY.n_networks),
    "study": Profile(name="study", n_epochs=150, n_seeds=4, switching_window=98),
    "quick": Profile(
        name="quick",
        n_epochs=80,
        n_seeds=3,
        steps_per_epoch=50,
        test_batches=10,
        learning_rate=0.1,
        switching_window=52,
    ),
}
"""The named profiles.

``paper`` is the study's protocol: 1000 epochs of 100 SGD steps (batch 64) + 50 test batches,
8 networks, learning rate 0.01, momentum 0.1 (Nesterov), clipping 7.5, threshold 98 %, N from 2.

``study`` is the study's protocol stopped early: every setting of ``paper`` (learning rate 0.01,
100 steps and 50 test batches per epoch, ...) with 150 epochs instead of 1000 and 4 networks instead
of 8 (switching window 98 epochs, 65 % of the run, as 650 of 1000). The README's headline table
comes from it.

``quick`` is a smoke test with a modified optimiser, not the study's protocol: (DMS + parity, 4
conditions x 3 seeds in about 40 minutes on 2 shared CPU cores) changes exactly: 80 epochs instead
of 1000, 50 steps per epoch instead of 100, 10 test batches instead of 50, 3 networks instead of 8,
learning rate 0.1 instead of 0.01 (so the networks climb far enough in 4,000 updates for the levels
to separate), and the switching window 52 epochs (65 % of the run, as 650 of 1000). Models, batch
size, momentum, clipping, threshold and tasks are the study's.
"""


def get_profile(profile: str | Profile) -> Profile:
    """Return the named profile (or ``profile`` itself when it is already a :class:`Profile`).

    Raises
    ------
    ValueError
        If the name is not one of :data:`PROFILES`.
    """
    if isinstance(profile, Profile):
        return profile
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)} or a Profile, got {profile!r}")
    return PROFILES[profile]

"""Parameter checks: one rule for every value a function or a settings record takes.

``TypeError`` for a value of the wrong type, ``ValueError`` for a wrong value; both messages name the
parameter, what was expected and what was received, and every check runs before any work starts.
Parameters are declared by constraints (:class:`Integer`, :class:`Real`, :class:`Choice`, :class:`Seed`,
...) and checked together with :func:`check_params`; the ``check_*`` functions check one value.

Examples
--------
>>> from cbreservoir.utils.checks import Integer, Real, Seed, check_params
>>> check_params(dict(units=100, lr=0.5, seed=3), units=Integer(1), lr=Real(0, 1, strict=True), seed=Seed())
{'units': 100, 'lr': 0.5, 'seed': 3}
>>> check_params(dict(units=1.5), units=Integer(1))
Traceback (most recent call last):
...
TypeError: units must be a positive int; got 1.5
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "MAX_COUNT",
    "MAX_SEED",
    "Choice",
    "Constraint",
    "Instance",
    "IntList",
    "Integer",
    "NJobs",
    "Names",
    "OrNone",
    "Path",
    "Real",
    "Seed",
    "Setting",
    "SettingsMismatchError",
    "check_bit_generator_state",
    "check_bool",
    "check_choice",
    "check_fraction",
    "check_int",
    "check_int_list",
    "check_n_jobs",
    "check_names",
    "check_params",
    "check_path",
    "check_positive_int",
    "check_real",
    "check_resume_settings",
    "check_seed",
    "check_writable_directory",
]

#: Largest seed (numpy's and torch's seeds fit in 64 bits; members ``seed + i`` of an ensemble must fit).
MAX_SEED = 2**32 - 1

#: Largest count (steps, epochs, batches, units) accepted where a count has no other natural bound.
MAX_COUNT = 2**31 - 1


def _is_int(value: object) -> bool:
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer))


def check_int(value: object, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int in ``[minimum, maximum]`` (either bound optional).

    Raises
    ------
    TypeError
        Not an int (bools, floats and strings are refused); the message names ``name`` and the range.
    ValueError
        Outside the range; the message names ``name``, the range and the value.
    """
    if minimum == 1 and maximum is None:
        expected = "a positive int"
    else:
        low, high = ('-inf' if minimum is None else minimum), ('inf' if maximum is None else maximum)
        expected = f"an int in [{low}, {high}]"
    if not _is_int(value):
        raise TypeError(f"{name} must be {expected}; got {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {expected}; got {value!r}")
    return int(value)


def check_positive_int(value: object, name: str) -> int:
    """Return ``value`` as an int if it is a positive integer (not a bool): :func:`check_int` from 1."""
    return check_int(value, name, minimum=1)


def _real_range(minimum: float | None, maximum: float | None, strict: bool, strict_maximum: bool) -> str:
    if minimum is not None and maximum is not None:
        return f" in {'(' if strict else '['}{minimum:g}, {maximum:g}{')' if strict_maximum else ']'}"
    if minimum is not None:
        return f" {'>' if strict else '>='} {minimum}"
    if maximum is not None:
        return f" {'<' if strict_maximum else '<='} {maximum}"
    return ""


def check_real(
    value: object,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict: bool = False,
    strict_maximum: bool = False,
) -> float:
    """Return ``value`` as a finite float in a range: ``>= minimum`` (``> minimum`` when ``strict``), ``<=
    maximum`` (``< maximum`` when ``strict_maximum``), either bound optional.

    Raises
    ------
    TypeError
        Not a real number (strings, None, bools).
    ValueError
        NaN, infinite, or out of range.
    """
    bounds = _real_range(minimum, maximum, strict, strict_maximum)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number{bounds}; got {value!r}")
    number = float(value)
    too_small = minimum is not None and (number <= minimum if strict else number < minimum)
    too_large = maximum is not None and (number >= maximum if strict_maximum else number > maximum)
    if not np.isfinite(number) or too_small or too_large:
        raise ValueError(f"{name} must be a finite number{bounds}; got {value!r}")
    return number


def check_fraction(value: object, name: str) -> float:
    """Return ``value`` if it is a number in (0, 1] (a density, a leak rate), else raise."""
    return check_real(value, name, minimum=0.0, maximum=1.0, strict=True)


def check_seed(
    seed: object, name: str = "seed", *, none: bool = False, generator: bool = False
) -> int | np.random.Generator | None:
    """The one seed rule: an int in ``[0, MAX_SEED]``; also None or a ``numpy.random.Generator`` where the
    caller accepts them.

    Parameters
    ----------
    seed : object
    name : str
        Named in the message.
    none, generator : bool
        Accept None (fresh entropy, or the global stream), a ``numpy.random.Generator``.

    Raises
    ------
    TypeError
        Not an int (bools are refused), nor an accepted None or Generator.
    ValueError
        An int outside ``[0, MAX_SEED]``.
    """
    if (seed is None and none) or (generator and isinstance(seed, np.random.Generator)):
        return seed
    expected = f"an int in [0, {MAX_SEED}]" + (", None" if none else "") + (
        " or a numpy Generator" if generator else ""
    )
    if not _is_int(seed):
        raise TypeError(f"{name} must be {expected}; got {seed!r}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"{name} must be {expected}; got {seed!r}")
    return int(seed)


def check_bool(value: object, name: str) -> bool:
    """Return ``value`` if it is a bool (numpy's included); else ``TypeError`` naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r:.40}")
    return bool(value)


def check_choice(value: object, name: str, *, allowed: Sequence[object]) -> object:
    """Return ``value`` if it is one of ``allowed``; else an error naming ``name`` and the choices.

    ``TypeError`` when every choice is a string and ``value`` is not (a wrong type), else ``ValueError``.
    """
    if allowed and not isinstance(value, str) and all(isinstance(choice, str) for choice in allowed):
        raise TypeError(f"{name} must be one of {list(allowed)}; got {value!r}")
    try:
        known = value in allowed
    except TypeError:  # an unhashable value asked of a mapping
        known = False
    if not known:
        raise ValueError(f"{name} must be one of {list(allowed)}; got {value!r}")
    return value


def check_names(value: object, name: str, *, allowed: Sequence[str]) -> tuple[str, ...]:
    """Return ``value`` (a name or a non-empty list of names, each one of ``allowed``) as a tuple.

    Raises
    ------
    TypeError
        Neither a string nor a list or tuple.
    ValueError
        Empty, or a name not in ``allowed``; the message names ``name``, the allowed names and the value.
    """
    if not isinstance(value, (str, list, tuple)):
        raise TypeError(f"{name} must be a name or a list of names; got {value!r}")
    names = (value,) if isinstance(value, str) else tuple(value)
    if not names or any(item not in allowed for item in names):
        raise ValueError(f"{name} must be among {list(allowed)}; got {list(names)!r}")
    return names


def check_int_list(value: object, name: str, *, minimum: int, maximum: int = MAX_COUNT) -> list[int]:
    """Return ``value`` as a non-empty list of ints in ``[minimum, maximum]``.

    Raises
    ------
    TypeError
        Not a list or tuple of ints; the message names the first bad entry.
    ValueError
        Empty, or an entry out of range (named by its index).
    """
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list of ints in [{minimum}, {maximum}]; got {value!r}")
    if not value:
        raise ValueError(f"{name} must be a non-empty list of ints in [{minimum}, {maximum}]; got {value!r}")
    return [
        check_int(item, f"{name}[{index}]", minimum=minimum, maximum=maximum)
        for index, item in enumerate(value)
    ]


def check_path(value: object, name: str) -> str:
    """Return ``value`` as a ``str`` if it is a non-empty ``str`` or ``os.PathLike``; else ``TypeError``."""
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise TypeError(f"{name} must be a path (a non-empty string); got {value!r}")
    return str(value)


# ------------------------------------------------------------------------------------------ constraints


class Constraint:
    """What one parameter accepts: ``constraint(value, name)`` returns the checked value or raises."""

    def __call__(self, value: object, name: str) -> object:
        raise NotImplementedError


@dataclass(frozen=True)
class Integer(Constraint):
    """An int in ``[minimum, maximum]`` (:func:`check_int`)."""

    minimum: int | None = None
    maximum: int | None = None

    def __call__(self, value: object, name: str) -> int:
        return check_int(value, name, minimum=self.minimum, maximum=self.maximum)


@dataclass(frozen=True)
class Real(Constraint):
    """A finite number in a range (:func:`check_real`); ``strict`` / ``strict_maximum`` open the bounds."""

    minimum: float | None = None
    maximum: float | None = None
    strict: bool = False
    strict_maximum: bool = False

    def __call__(self, value: object, name: str) -> float:
        return check_real(
            value,
            name,
            minimum=self.minimum,
            maximum=self.maximum,
            strict=self.strict,
            strict_maximum=self.strict_maximum,
        )


@dataclass(frozen=True)
class Choice(Constraint):
    """One of ``allowed`` (:func:`check_choice`)."""

    allowed: tuple[object, ...]

    def __call__(self, value: object, name: str) -> object:
        return check_choice(value, name, allowed=self.allowed)


@dataclass(frozen=True)
class Names(Constraint):
    """A name or a non-empty list of names among ``allowed`` (:func:`check_names`), returned as a tuple."""

    allowed: tuple[str, ...]

    def __call__(self, value: object, name: str) -> tuple[str, ...]:
        return check_names(value, name, allowed=self.allowed)


@dataclass(frozen=True)
class NJobs(Constraint):
    """joblib's ``n_jobs`` (:func:`check_n_jobs`): an int >= 1, or <= -1 (all CPUs but ``|n_jobs| - 1``)."""

    def __call__(self, value: object, name: str) -> int:
        return check_n_jobs(value, name)


@dataclass(frozen=True)
class Seed(Constraint):
    """A seed (:func:`check_seed`), None or a numpy Generator where accepted."""

    none: bool = False
    generator: bool = False

    def __call__(self, value: object, name: str) -> int | np.random.Generator | None:
        return check_seed(value, name, none=self.none, generator=self.generator)


@dataclass(frozen=True)
class IntList(Constraint):
    """A non-empty list of ints in ``[minimum, maximum]`` (:func:`check_int_list`), returned as a list."""

    minimum: int
    maximum: int = MAX_COUNT

    def __call__(self, value: object, name: str) -> list[int]:
        return check_int_list(value, name, minimum=self.minimum, maximum=self.maximum)


@dataclass(frozen=True)
class Path(Constraint):
    """A path: a non-empty ``str`` or ``os.PathLike`` (:func:`check_path`), returned as a ``str``."""

    def __call__(self, value: object, name: str) -> str:
        return check_path(value, name)


@dataclass(frozen=True)
class Instance(Constraint):
    """An instance of ``types``, described as ``expected`` in the message (``TypeError`` otherwise)."""

    types: type | tuple[type, ...]
    expected: str

    def __call__(self, value: object, name: str) -> object:
        if not isinstance(value, self.types):
            raise TypeError(f"{name} must be {self.expected}; got {value!r}")
        return value


@dataclass(frozen=True)
class OrNone(Constraint):
    """None, or a value ``constraint`` accepts."""

    constraint: Constraint

    def __call__(self, value: object, name: str) -> object:
        return None if value is None else self.constraint(value, name)


@dataclass(frozen=True)
class Setting:
    """One setting of a command: a keyword of its Python function, a command-line flag and a config-file key.

    Attributes
    ----------
    name : str
        The key (the flag is ``--name`` with ``-`` for ``_``).
    default : object
        Its value when not given.
    accepts : Constraint
        What it accepts; None also when ``default`` is None.
    help, metavar : str
        The flag's help and placeholder.
    """

    name: str
    default: Any
    accepts: Constraint
    help: str
    metavar: str

    @property
    def constraint(self) -> Constraint:
        """``accepts``, also accepting None where the default is None."""
        return OrNone(self.accepts) if self.default is None else self.accepts


def check_params(values: Mapping[str, object], /, prefix: str = "", **constraints: Constraint) -> dict:
    """Check every parameter of ``values`` against its constraint in one call, in order.

    Parameters
    ----------
    values : mapping
        ``name -> value``: exactly the names of ``constraints``.
    prefix : str
        Put before each name in the messages (e.g. ``"Profile."``).
    **constraints : Constraint
        ``name -> constraint``.

    Returns
    -------
    dict
        The checked values (ints as ``int``, numbers as ``float``, paths as ``str``, lists as ``list``).

    Raises
    ------
    TypeError, ValueError
        From the first parameter that fails its constraint (the message names it, the expected and the
        received value).
    """
    if set(values) != set(constraints):
        raise ValueError(f"expected the parameters {sorted(constraints)}; got {sorted(values)}")
    return {name: constraint(values[name], f"{prefix}{name}") for name, constraint in constraints.items()}


class SettingsMismatchError(ValueError):
    """A checkpoint or output directory was written with other settings than those of the run resuming it."""


def _flatten(settings: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in settings.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def check_resume_settings(
    stored: Mapping[str, object], current: Mapping[str, object], *, where: str, may_grow: Sequence[str] = ()
) -> None:
    """Refuse to resume ``where`` (a checkpoint, an output directory) with settings other than its own.

    Parameters
    ----------
    stored, current : mapping
        The settings recorded by the run that wrote ``where`` and those of the run about to resume
        (JSON-ready; nested mappings are compared key by key, named ``outer.inner``).
    where : str
        What is resumed, for the message.
    may_grow : sequence of str
        Flattened keys whose value may grow: an int may increase (an epoch budget), a list may be extended
        at its end (more seeds or conditions, the old ones first and unchanged); any other change is refused.

    Raises
    ------
    SettingsMismatchError
        A ``ValueError`` listing every differing setting as ``key: old -> new``.
    """
    old, new = _flatten(stored), _flatten(current)
    differing = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key, "<absent>"), new.get(key, "<absent>")
        if before == after:
            continue
        grows = key in may_grow and (
            (_is_int(before) and _is_int(after) and after > before)
            or (isinstance(before, list) and isinstance(after, list) and after[: len(before)] == before)
        )
        if not grows:
            differing.append(f"{key}: {before!r} -> {after!r}")
    if differing:
        allowed = f" (only {', '.join(may_grow)} may grow)" if may_grow else ""
        raise SettingsMismatchError(
            f"{where} was written with other settings; resuming it would mix two runs{allowed}. "
            f"Differing settings (old -> new): {'; '.join(differing)}. "
            "Use the old settings, or another directory for the new run"
        )


def check_n_jobs(n_jobs: object, name: str = "n_jobs") -> int:
    """Return joblib's ``n_jobs``: a positive int, or a negative one (-1: all CPUs); 0 runs nothing.

    Raises
    ------
    TypeError
        Not an int.
    ValueError
        0, or beyond ``±MAX_COUNT``.
    """
    value = check_int(n_jobs, name, minimum=-MAX_COUNT, maximum=MAX_COUNT)
    if value == 0:
        raise ValueError(f"{name} must be an int >= 1 (or <= -1: all CPUs but |n_jobs| - 1); got 0")
    return value


def check_writable_directory(path: object, name: str) -> str:
    """Check that the directory ``path`` can be written (or created); return it as a ``str``.

    The nearest existing ancestor must be a directory in which a file can be created (probed with a
    temporary file, removed at once: this sees read-only mounts and permissions alike).

    Raises
    ------
    TypeError
        ``path`` is not a path.
    ValueError
        ``path`` (or an ancestor) is a file, or no file can be created there.
    """
    import tempfile

    text = check_path(path, name)
    folder = os.path.abspath(text)
    while not os.path.lexists(folder):
        folder = os.path.dirname(folder)
    expected = f"{name} must be a directory that can be written"
    if not os.path.isdir(folder):
        raise ValueError(f"{expected}; got {text!r} ({folder} is not a directory)")
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".cbreservoir-probe-")
    except OSError as error:
        raise ValueError(f"{expected}; got {text!r} ({folder}: {error.strerror})") from None
    os.close(handle)
    os.unlink(probe)
    return text


#: The fields of a NumPy bit generator's state (``bit_generator.state``), by bit generator:
#: ``(inner fields, outer fields)``, each ``name -> (kind, size or bound)``. ``"array"`` fields are unsigned
#: integer arrays of that length, ``"int"`` fields integers in ``[0, bound]``.
_BIT_GENERATOR_STATES: dict[str, tuple[dict[str, tuple[str, int]], dict[str, tuple[str, int]]]] = {
    "PCG64": ({"state": ("int", 2**128 - 1), "inc": ("int", 2**128 - 1)}, {}),
    "PCG64DXSM": ({"state": ("int", 2**128 - 1), "inc": ("int", 2**128 - 1)}, {}),
    "MT19937": ({"key": ("array", 624), "pos": ("int", 624)}, {}),
    "Philox": (
        {"counter": ("array", 4), "key": ("array", 2)},
        {"buffer": ("array", 4), "buffer_pos": ("int", 4)},
    ),
    "SFC64": ({"state": ("array", 4)}, {}),
}
#: The ``has_uint32`` / ``uinteger`` pair every bit generator but MT19937 carries.
_SPARE_WORD = {"has_uint32": ("int", 1), "uinteger": ("int", 2**32 - 1)}
_WORD_DTYPES = {"MT19937": np.uint32}


def _check_fields(
    values: object, fields: dict[str, tuple[str, int]], name: str, dtype: type, *, others: tuple = ()
) -> None:
    """``values`` has exactly the ``fields`` (and ``others``, checked elsewhere), each of its kind."""
    expected = {*fields, *others}
    if not isinstance(values, dict) or set(values) != expected:
        keys = sorted(map(str, values)) if isinstance(values, dict) else type(values).__name__
        raise ValueError(f"{name} must hold exactly the fields {sorted(expected)}; got {keys}")
    for field, (kind, size) in fields.items():
        value = values[field]
        if kind == "int":
            check_int(value, f"{name}[{field!r}]", minimum=0, maximum=size)
        elif not (isinstance(value, np.ndarray) and value.dtype == dtype and value.shape == (size,)):
            raise ValueError(
                f"{name}[{field!r}] must be a {np.dtype(dtype).name} array of shape ({size},); got "
                f"{getattr(value, 'dtype', type(value).__name__)} {getattr(value, 'shape', '')}"
            )


def check_bit_generator_state(state: object, name: str = "state", *, legacy: bool = False) -> dict:
    """Check a NumPy bit generator's state (``bit_generator.state``) before it is set; return it.

    NumPy checks the types of a state but not its ranges: an MT19937 ``pos`` beyond 624 or a Philox
    ``buffer_pos`` outside [0, 4] is accepted and crashes the process at the next draw. Every field is
    checked here: the exact field names, integers in range, arrays of the generator's word type and length.

    Parameters
    ----------
    state : dict
        ``{"bit_generator": name, "state": {...}, ...}`` of PCG64, PCG64DXSM, MT19937, Philox or SFC64.
    name : str
        What the state belongs to, for the message.
    legacy : bool
        A ``RandomState.get_state(legacy=False)`` state: MT19937 with ``has_gauss`` and ``gauss``.

    Raises
    ------
    TypeError, ValueError
        A field missing, unexpected, of the wrong type or out of range (named in the message).
    """
    if not isinstance(state, dict) or not isinstance(state.get("bit_generator"), str):
        raise ValueError(
            f"{name} must be a bit generator state with a 'bit_generator' name; got {state!r:.80}"
        )
    kind = state["bit_generator"]
    allowed = ["MT19937"] if legacy else sorted(_BIT_GENERATOR_STATES)
    if kind not in allowed:
        raise ValueError(f"{name}: unknown NumPy bit generator {kind!r:.80} (known: {allowed})")
    inner, outer = _BIT_GENERATOR_STATES[kind]
    dtype = _WORD_DTYPES.get(kind, np.uint64)
    if legacy:
        outer = {"has_gauss": ("int", 1)}
    elif kind != "MT19937":
        outer = {**outer, **_SPARE_WORD}
    others = ("bit_generator", "state", "gauss") if legacy else ("bit_generator", "state")
    _check_fields(state, outer, name, dtype, others=others)
    _check_fields(state["state"], inner, f"{name}['state']", dtype)
    if legacy:
        check_real(state["gauss"], f"{name}['gauss']")
    return state

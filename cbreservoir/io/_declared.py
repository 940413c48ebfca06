"""What a file may set on each class it can hold: declared fields, each with its check, and the invariants.

A saved object is stored as ``{"class": ..., "state": {field: value}}``. Loading never copies that state
blindly: the class's :class:`Declared` entry names every field a file may hold (any other key, a method's
name among them, is refused before anything is decoded), checks each decoded value for its type and range,
rebuilds the object (through its constructor where the class has one that takes the fields, else by
setting exactly the declared fields), and then checks the object's invariants: shapes that agree across
fitted attributes, classes that agree with a readout's outputs, graphs whose derived tables follow from
their nodes and edges, and sizes charged to the loading budget (``spend``), which is bounded by
``max_bytes``. The checks of types, ranges and choices are the declared constraints of
:mod:`cbreservoir.utils.checks` (``TypeError`` for a wrong type, ``ValueError`` for a wrong value); the
decoder gives either to the caller of :func:`cbreservoir.io.load` as a ``ValueError`` naming the class and the
field (a file's field of the wrong type is a wrong file).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from cbreservoir.utils.checks import MAX_COUNT, Choice, Instance, Integer, Real

__all__ = ["MAX_DELAY", "Declared", "declared"]

#: Check of one field: ``check(value, where)`` raises ValueError (or TypeError) for a value it refuses.
Check = Callable[[Any, str], None]
#: Invariants of a rebuilt object: ``invariants(obj, spend)``; ``spend(nbytes, what)`` charges the budget.
Invariants = Callable[[Any, Callable[[int, str], None]], None]

#: Longest delay of a graph edge a file may hold (a delayed edge also charges its buffer to max_bytes).
MAX_DELAY = 2**20


@dataclass(frozen=True)
class Declared:
    """The fields a file may set on a class, how the object is rebuilt from them, and its invariants.

    Attributes
    ----------
    fields : dict of str to Check
        Every field a file may hold, with its check; a file must hold all but ``optional``.
    build : callable, optional
        ``build(cls, values)`` rebuilds the object from its checked fields (its constructor); by default
        an object is made without ``__init__`` and given exactly the declared fields (through the class's
        ``__setstate__``, which checks them as its constructor does, where it has one).
    invariants : callable, optional
        ``invariants(obj, spend)``: what must hold across the fields of the rebuilt object.
    optional : frozenset of str
        Fields a file may leave out.
    """

    fields: Mapping[str, Check]
    build: Callable[[type, dict[str, Any]], Any] | None = None
    invariants: Invariants | None = None
    optional: frozenset[str] = field(default_factory=frozenset)


# ------------------------------------------------------------------------------------------- field checks


def _refuse(where: str, expected: str, value: Any) -> None:
    raise ValueError(f"{where} must be {expected}, got {type(value).__name__} {value!r:.80}")


def kind(*types: type) -> Check:
    """Exactly one of ``types`` (no subclass: a bool is not an int)."""

    def check(value: Any, where: str) -> None:
        if type(value) not in types:
            _refuse(where, " or ".join(t.__name__ for t in types), value)

    return check


def instance(*classes: type) -> Check:
    """An instance of one of ``classes`` (the declared :class:`~cbreservoir.utils.checks.Instance`)."""
    return Instance(classes, "a " + " or ".join(c.__name__ for c in classes))


def integer(minimum: int = 0, maximum: int = MAX_COUNT) -> Check:
    """A Python or NumPy int in ``[minimum, maximum]`` (the declared
    :class:`~cbreservoir.utils.checks.Integer`; a file's counts are at most
    :data:`~cbreservoir.utils.checks.MAX_COUNT` unless told otherwise)."""
    return Integer(minimum, maximum)


def real(minimum: float | None = None, maximum: float | None = None, *, strict: bool = False) -> Check:
    """A finite real number in ``[minimum, maximum]`` (``(minimum, maximum]`` when ``strict``; either bound
    optional: the declared :class:`~cbreservoir.utils.checks.Real`)."""
    return Real(minimum, maximum, strict=strict)


def optional(check: Check) -> Check:
    """None, or what ``check`` accepts."""

    def checked(value: Any, where: str) -> None:
        if value is not None:
            check(value, where)

    return checked


def either(*checks: Check) -> Check:
    """What one of ``checks`` accepts."""

    def checked(value: Any, where: str) -> None:
        errors = []
        for check in checks:
            try:
                check(value, where)
                return
            except (TypeError, ValueError) as error:
                errors.append(str(error))
        raise ValueError("; or ".join(errors))

    return checked


def choice(*values: Any) -> Check:
    """One of ``values`` (the declared :class:`~cbreservoir.utils.checks.Choice`)."""
    return Choice(values)


def array(ndim: int | None = None, kinds: str = "f", *, finite: bool = True) -> Check:
    """A NumPy array of ``ndim`` dimensions, dtype kind among ``kinds``, finite if floating."""

    def check(value: Any, where: str) -> None:
        if (
            type(value) is not np.ndarray
            or value.dtype.kind not in kinds
            or (ndim is not None and value.ndim != ndim)
        ):
            _refuse(where, f"a {ndim or 'n'}-d array of dtype kind {kinds!r}", value)
        if finite and value.dtype.kind in "fc" and not np.isfinite(value).all():
            raise ValueError(f"{where} must be finite (it holds NaN or infinity)")

    return check


def sequence(item: Check, container: type = list) -> Check:
    """A ``container`` (list or tuple) of items ``item`` accepts."""

    def check(value: Any, where: str) -> None:
        if type(value) is not container:
            _refuse(where, f"a {container.__name__}", value)
        for index, entry in enumerate(value):
            item(entry, f"{where}[{index}]")

    return check


def mapping(key: Check, value: Check) -> Check:
    """A dict of keys and values the checks accept."""

    def check(entries: Any, where: str) -> None:
        if type(entries) is not dict:
            _refuse(where, "a dict", entries)
        for name, entry in entries.items():
            key(name, f"{where} key")
            value(entry, f"{where}[{name!r:.40}]")

    return check


def generator(value: Any, where: str) -> None:
    """A NumPy Generator (its state was checked as it was decoded)."""
    if type(value) is not np.random.Generator:
        _refuse(where, "a numpy Generator", value)


def output_state(units: int | None, value: Any, where: str) -> None:
    """A node's state ``{"out": finite float array (units,)}``."""
    out = value.get("out") if type(value) is dict else None
    if not (
        type(value) is dict and set(value) == {"out"} and type(out) is np.ndarray and out.dtype.kind == "f"
    ):
        _refuse(where, "{'out': float array}", value)
    if units is not None and out.shape != (units,):
        raise ValueError(f"{where}['out'] must have shape ({units},), got {out.shape}")
    if not np.isfinite(out).all():
        raise ValueError(f"{where}['out'] must be finite")


BOOL = kind(bool)
TEXT = kind(str)
NAME = optional(TEXT)
COUNT = integer(1)
SIZE = optional(COUNT)
ANY_STATE = kind(dict)


def n_jobs(value: Any, where: str) -> None:
    """A thread count: None, or what :func:`cbreservoir.utils.threads.check_threads` accepts."""
    if value is not None:
        from cbreservoir.utils.threads import check_threads

        check_threads(value, where)


# ------------------------------------------------------------------------------------ shared invariants


def fail(owner: str, message: str) -> None:
    raise ValueError(f"a loaded {owner}: {message}")


def same(a: Any, b: Any) -> bool:
    """Equal structure, with objects (nodes) compared by identity and plain values by ``==``."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):  # keys are plain values or nodes (hashed by identity)
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    if isinstance(a, bool | int | float | str | type(None)):
        return a == b
    return a is b


def dataclass_fields(cls: type) -> dict[str, Check]:
    """A dataclass's fields, each checked by its constructor (``__post_init__``) when rebuilt."""
    return {item.name: by_constructor for item in dataclasses.fields(cls)}


def dataclass_defaults(cls: type) -> frozenset[str]:
    """The fields of a dataclass that have a default: a file written before one was added may lack it."""
    missing = dataclasses.MISSING
    return frozenset(
        item.name
        for item in dataclasses.fields(cls)
        if item.default is not missing or item.default_factory is not missing
    )


def by_constructor(value: Any, where: str) -> None:
    """The constructor checks this field (the object is rebuilt through it)."""


def through_constructor(cls: type, values: dict[str, Any]) -> Any:
    """``cls(**values)``: the object rebuilt through its constructor's checks."""
    return cls(**values)


# ------------------------------------------------------------------------------------------- the table


@cache
def declared() -> dict[type, Declared]:
    """The declared fields and invariants of every class a file can hold (except torch's own, whose
    fields are those of a freshly built object: :func:`cbreservoir.io._codec.check_torch_object`)."""
    from cbreservoir.io import _rebuild

    return _rebuild.table()

"""Deprecated aliases of renamed keywords and attributes (kept for one release, with a ``FutureWarning``)."""

from __future__ import annotations

import warnings
from typing import Any


def warn_renamed(old: str, new: str, stacklevel: int = 2) -> None:
    """Warn ``FutureWarning("<old> is deprecated; use <new>")`` (for a renamed function, say).

    ``stacklevel`` counts from the caller of this function, as in :func:`warnings.warn`.
    """
    warnings.warn(f"{old} is deprecated; use {new}", FutureWarning, stacklevel=stacklevel + 1)


def renamed_keyword(kwargs: dict, old: str, new: str, owner: str) -> None:
    """Move ``kwargs[old]`` to ``kwargs[new]`` in place, with a ``FutureWarning`` naming both.

    Parameters
    ----------
    kwargs : dict
        Keyword arguments as received (e.g. a ``**kwargs`` catch-all); changed in place.
    old, new : str
        The deprecated keyword and the keyword that replaces it.
    owner : str
        What received them (a class or function name), for the error message.

    Raises
    ------
    TypeError
        ``old`` and ``new`` both given.

    Examples
    --------
    >>> import warnings
    >>> kwargs = {"hidden_size": 8}
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", FutureWarning)
    ...     renamed_keyword(kwargs, "hidden_size", "units", "CBRNN")
    >>> kwargs
    {'units': 8}
    """
    if old not in kwargs:
        return
    if new in kwargs:
        raise TypeError(f"{owner} got both {old!r} (deprecated) and {new!r}; give only {new!r}")
    warn_renamed(old, new, stacklevel=2)
    kwargs[new] = kwargs.pop(old)


def renamed_attribute(old: str, new: str) -> property:
    """A read-only property ``old`` that warns (``FutureWarning``) and returns attribute ``new``.

    Examples
    --------
    >>> class Model:
    ...     units = 8
    ...     hidden_size = renamed_attribute("hidden_size", "units")
    """

    def getter(self: Any) -> Any:
        warn_renamed(f"{type(self).__name__}.{old}", f"{type(self).__name__}.{new}", stacklevel=2)
        return getattr(self, new)

    return property(getter, doc=f"Deprecated alias of ``{new}``.")

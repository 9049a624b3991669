"""``Some``, ``Ok`` and ``Err``: the Python values of option and result cases.

An ``option<T>`` is ``None`` or its value, and :class:`Some` is needed only
where that is ambiguous (the payload is itself an option); a
``result<T, E>`` is :class:`Ok` or :class:`Err`, which a host matches with
``match r: case Ok(v): ... case Err(e): ...``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Err", "Ok", "Some"]


@dataclass(frozen=True)
class Some:
    """``some(value)`` of an option whose payload is itself an option.

    Only there is it needed (and produced): elsewhere an option is ``None``
    or its value.
    """

    value: Any


@dataclass(frozen=True)
class Ok:
    """The ``ok`` case of a ``result``; ``value`` is None when ``ok`` has no payload."""

    value: Any = None


@dataclass(frozen=True)
class Err:
    """The ``error`` case of a ``result``; ``value`` is None when ``error`` has no payload.

    A plain value, not an exception: a host function returns ``Err(e)``
    rather than raising.
    """

    value: Any = None

"""How a value that does not fit its type is reported: one error naming where it is.

A conversion deep inside a value raises :class:`BadValue`; each enclosing
conversion adds its step of the path on the way out (``field 'x'``,
``element 3``), and the function converting a call's arguments or results
raises the ``TypeError`` or ``ValueError`` the host sees, with the whole
path: ``div: parameter 'b': expected u32 (...), got -1 (int)``.
"""

from __future__ import annotations

import reprlib
from typing import Any, NoReturn

from ...canon.types import ValType

__all__ = ["BadValue", "brief", "describe", "expected"]

_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40


def describe(v: Any) -> str:
    """A value for a message: a shortened repr and its Python type."""
    return f"{_repr.repr(v)} ({type(v).__name__})"


def brief(t: ValType | None) -> str:
    """A type for a message, cut short: records and variants can be long."""
    text = repr(t)
    return text if len(text) <= 60 else text[:57] + "..."


class BadValue(Exception):
    """A value that does not fit its type: raised as ``error`` with its path once it is known."""

    def __init__(self, error: type[Exception], message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message
        self.path: list[str] = []

    def at(self, where: str) -> BadValue:
        """Add the step ``where`` (outer steps are added later) and return self, to re-raise."""
        self.path.append(where)
        return self

    def raise_as(self, where: str) -> NoReturn:
        """Raise the host's exception, the path starting at ``where`` (the parameter, say)."""
        path = ", ".join([where, *reversed(self.path)])
        raise self.error(f"{path}: {self.message}") from None


def expected(what: str, v: Any, error: type[Exception] = TypeError) -> BadValue:
    """``expected WHAT, got V``: a TypeError by default, a ValueError for a value out of range."""
    return BadValue(error, f"expected {what}, got {describe(v)}")

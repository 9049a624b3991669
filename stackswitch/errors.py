"""Errors shared by every layer.

A :class:`Trap` is what a guest sees when it breaks a Canonical ABI rule: it
ends the guest's task the way a wasm trap would. Host-side bugs are ordinary
Python exceptions (``AssertionError``, ``TypeError``...) and are never
disguised as traps.
"""

from __future__ import annotations


class Trap(Exception):
    """A guest broke a rule of the Canonical ABI (or executed ``unreachable``).

    The message uses the spec's / wasmtime's wording where one exists so that
    ``assert_trap`` texts from the spec's tests match as substrings.
    """


class LinkError(Exception):
    """A component cannot be linked: a missing import, a kind mismatch, an unsupported
    feature, a core module that cannot be compiled or transformed."""


class HostError(Exception):
    """A host function raised: the host's fault, not the guest's, so not a trap.

    ``function`` names the host function; the exception it raised is ``__cause__``
    (and ``error``). The calling task ends as a trap would end it.
    """

    def __init__(self, function: str, error: BaseException) -> None:
        named = str(error).startswith(f"host function {function!r}")
        super().__init__(str(error) if named else
                         f"host function {function!r} raised {type(error).__name__}: {error}")
        self.function = function
        self.error = error


class Exit(Exception):  # noqa: N818 (a request, not an error)
    """A host function ends the whole run on purpose (WASI's ``exit``), with ``code``.

    Not a failure of the host or the guest: it passes through every layer
    unchanged (never wrapped in :class:`HostError`), and the command line
    exits with ``code``.
    """

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message or f"the guest exited with status {code}")
        self.code = code


def trap_if(cond: bool, message: str) -> None:
    """Raise :class:`Trap` with ``message`` when ``cond`` holds."""
    if cond:
        raise Trap(message)

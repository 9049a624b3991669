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


def trap_if(cond: bool, message: str) -> None:
    """Raise :class:`Trap` with ``message`` when ``cond`` holds."""
    if cond:
        raise Trap(message)

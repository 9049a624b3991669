"""Stacks: the only module that switches greenlets.

This is a small model of the core stack-switching proposal
(``cont.new`` / ``resume`` / ``suspend``) on top of greenlet:

* ``Continuation(fn)`` is ``cont.new``: a new stack that will run ``fn(value)``
  on its first resume. Nothing runs yet.
* ``cont.resume(value)`` is ``resume``: runs the stack until it either
  suspends or returns, and reports which, with the value given.
* ``suspend(value)`` is ``suspend``: transfers control (and ``value``) back to
  the innermost ``resume`` of the running continuation; it returns the value
  passed to the next ``resume``.

Invariants:

* A continuation runs only inside a ``resume`` call; ``suspend`` always returns
  to whoever resumed it last (the innermost resumer), like a handler installed
  by ``resume``.
* A running continuation, or one that finished, cannot be resumed: that is a
  host bug and raises :class:`StackError`, never a guest trap.
* An exception escaping ``fn`` propagates out of the ``resume`` that ran it,
  and the continuation is then finished.

Everything else in the runtime blocks by calling :func:`suspend` (through
``Thread`` in :mod:`stackswitch.canon.threads`), so all switching can be seen
here: each ``resume`` and ``suspend`` is reported with
:func:`stackswitch.trace.emit` as ``stack.resume`` / ``stack.suspend`` /
``stack.return``, and a stack unwound for good (:meth:`Continuation.kill`)
as ``stack.kill``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import greenlet

from . import trace


class StackError(RuntimeError):
    """A continuation was used against the rules (a host-side bug)."""


NEW, SUSPENDED, RUNNING, FINISHED = "new", "suspended", "running", "finished"

_current: Continuation | None = None
_forbidden: tuple[type[StackError], str] | None = None


class Continuation:
    """A suspendable stack: ``cont.new`` of the stack-switching proposal."""

    __slots__ = ("name", "state", "_greenlet", "_resumer", "_outer")

    def __init__(self, fn: Callable[[Any], Any], name: str = "") -> None:
        self.name = name
        self.state = NEW
        self._resumer: greenlet.greenlet | None = None
        self._outer: Continuation | None = None

        def body(value: Any) -> tuple[bool, Any]:
            return (True, fn(value))

        self._greenlet = greenlet.greenlet(body)

    def __repr__(self) -> str:
        return f"<Continuation {self.name or hex(id(self))} {self.state}>"

    def resume(self, value: Any = None) -> tuple[bool, Any]:
        """Run this stack until it suspends or returns.

        Returns ``(False, v)`` when it called ``suspend(v)`` and
        ``(True, r)`` when its function returned ``r``.
        """
        global _current
        if _forbidden is not None:
            raise _forbidden[0](_forbidden[1])
        if self.state in (RUNNING, FINISHED):
            raise StackError(f"cannot resume a {self.state} continuation {self!r}")
        self._resumer = greenlet.getcurrent()
        # The greenlet's parent receives its return value or exception, so it
        # must be whoever resumed it this time.
        self._greenlet.parent = self._resumer
        self._outer = _current
        _current = self
        self.state = RUNNING
        trace.counts["switches"] += 1
        if trace.listening:
            trace.emit("stack.resume", stack=self.name)
        try:
            finished, result = self._greenlet.switch(value)
        except BaseException:
            self.state = FINISHED
            raise
        finally:
            _current = self._outer
            self._outer = None
            self._resumer = None
        self.state = FINISHED if finished else SUSPENDED
        if trace.listening:
            trace.emit("stack.return" if finished else "stack.suspend", stack=self.name)
        return finished, result

    def kill(self) -> None:
        """Unwind this stack, which will never be resumed: ``GreenletExit`` is raised where
        it suspended, so that its ``finally`` blocks run and what it holds (a wasm call on
        a fiber) is released. A stack that suspends again while unwinding is dropped as
        it is. Errors out of the unwinding are swallowed: nobody waits for them (a
        ``KeyboardInterrupt`` still goes through).
        """
        global _current
        if self.state == NEW:
            self.state = FINISHED
            return
        if self.state != SUSPENDED:
            raise StackError(f"cannot kill a {self.state} continuation {self!r}")
        if _forbidden is not None:
            raise _forbidden[0](_forbidden[1])
        self._resumer = greenlet.getcurrent()
        self._greenlet.parent = self._resumer
        self._outer = _current
        _current = self
        self.state = RUNNING
        try:
            self._greenlet.throw(greenlet.GreenletExit)
        except Exception:  # noqa: S110 (the stack is abandoned: its errors have no reader)
            pass
        finally:
            _current = self._outer
            self._outer = None
            self._resumer = None
            self.state = FINISHED
        trace.emit("stack.kill", stack=self.name)


def forbid_switching(error: type[StackError], message: str) -> object:
    """Make every ``resume`` and ``suspend`` raise ``error(message)`` until restored.

    For code running on a stack greenlet cannot switch away from (a host call
    on a wasmtime fiber): there a switch would corrupt the process, so it must
    become a Python error instead. Returns a token for :func:`restore_switching`.
    """
    global _forbidden
    token = _forbidden
    _forbidden = (error, message)
    return token


def restore_switching(token: object) -> None:
    """Undo the matching :func:`forbid_switching`."""
    global _forbidden
    _forbidden = token  # type: ignore[assignment]


def current() -> Continuation | None:
    """The continuation whose stack is running now (``None`` on the host stack)."""
    return _current


def suspend(value: Any = None) -> Any:
    """Suspend the running continuation, handing ``value`` to its resumer.

    Returns whatever the next ``resume`` passes in.
    """
    if _forbidden is not None:
        raise _forbidden[0](_forbidden[1])
    cont = _current
    if cont is None:
        raise StackError("suspend called outside of any continuation")
    resumer = cont._resumer
    assert resumer is not None
    trace.counts["switches"] += 1
    return resumer.switch((False, value))

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

import sys
import threading
from collections.abc import Callable
from typing import Any

import greenlet

from . import trace


class StackError(RuntimeError):
    """A continuation was used against the rules (a host-side bug)."""


NEW, SUSPENDED, RUNNING, FINISHED = "new", "suspended", "running", "finished"

_current: Continuation | None = None
_ran: Continuation | None = None
"""The continuation that gave the stack back last (set as each resume or kill ends):
the one resumed, or one :func:`switch_to` handed the stack to in its place."""
forbidden: tuple[type[StackError], str] | None = None
"""While set, every ``resume`` and ``suspend`` raises ``error(message)`` instead of switching
(see :func:`forbid_switching`; a hot caller may save, set and restore it directly)."""

POOL_SIZE = 64
"""At most this many idle greenlets kept per OS thread for new continuations."""

POOL_LEVELS = 3
"""Only greenlets started at most this many greenlets away from a thread's root go back
to the pool. A greenlet keeps for life the Python recursion depth of the greenlet that
first switched into it; a pooled greenlet that starts another, which is pooled in turn,
would let the depth grow run after run until RecursionError (measured: 14 frames lost
per run of a script before this bound). Deeper ones end with their job."""

_local = threading.local()


def _pool() -> list[greenlet.greenlet]:
    """This OS thread's idle greenlets (a greenlet runs only in the thread that made it)."""
    try:
        return _local.pool
    except AttributeError:
        _local.pool = []
        return _local.pool


def _new_greenlet() -> greenlet.greenlet:
    """A greenlet for continuations, one level below the greenlet that will start it (the
    running one: a first switch always comes from the greenlet that creates it)."""
    g = greenlet.greenlet(_run_jobs)
    g.level = getattr(greenlet.getcurrent(), "level", 0) + 1
    return g


def _run_jobs(job: list[Any]) -> tuple[bool, Any]:
    """The body of every continuation's greenlet: run ``fn(value)``, then wait in the pool
    for the next continuation's job instead of ending (measured: starting a stack on a
    pooled greenlet is a switch, 0.7 µs, against 8 µs to create, run and free a new one).

    A function that raises ends the greenlet (the exception goes to the resumer, as
    for a plain greenlet); so does a full pool. An idle greenlet still refers to
    whoever resumed it last, until it is reused, but to nothing of its jobs: each job
    is a list ``[fn, value]`` emptied here, because greenlet keeps the arguments of its
    first switch (the first job) for as long as the greenlet lives, and a job refers
    to its continuation's whole world (its task, store, instances, Linker).
    """
    pool = _pool()
    me = greenlet.getcurrent()
    while True:
        fn, value = job
        del job[:]
        job = None
        result = fn(value)
        fn = value = None
        if len(pool) >= POOL_SIZE or me.level > POOL_LEVELS:
            return (True, result)
        pool.append(me)
        job = me.parent.switch((True, result))


class Continuation:
    """A suspendable stack: ``cont.new`` of the stack-switching proposal.

    Its greenlet is taken on the first resume (an idle one from the pool if
    any, see :func:`_run_jobs`) and let go when its function returns.
    """

    __slots__ = ("name", "state", "_fn", "_greenlet", "_resumer", "_outer")

    def __init__(self, fn: Callable[[Any], Any], name: str = "") -> None:
        self.name = name
        self.state = NEW
        self._resumer: greenlet.greenlet | None = None
        self._outer: Continuation | None = None
        self._fn: Callable[[Any], Any] | None = fn
        self._greenlet: greenlet.greenlet | None = None

    def __repr__(self) -> str:
        return f"<Continuation {self.name or hex(id(self))} {self.state}>"

    def resume(self, value: Any = None) -> tuple[bool, Any]:
        """Run this stack until it suspends or returns.

        Returns ``(False, v)`` when it called ``suspend(v)`` and
        ``(True, r)`` when its function returned ``r``. (The hot path: :meth:`_run` with
        ``g.switch`` and :func:`_pool` are written out inline, the same steps.)
        """
        global _current, _ran
        if forbidden is not None:
            raise forbidden[0](forbidden[1])
        if self.state in (RUNNING, FINISHED):
            raise StackError(f"cannot resume a {self.state} continuation {self!r}")
        g = self._greenlet
        if g is None:  # the first resume: a stack to run on, the function as its job
            try:
                pool = _local.pool
            except AttributeError:
                pool = _pool()
            g = self._greenlet = pool.pop() if pool else _new_greenlet()
            value = [self._fn, value]  # a job (see _run_jobs)
            self._fn = None
        trace.counts["switches"] += 1
        if trace.listening:
            trace.emit("stack.resume", stack=self.name)
        # What comes back is from the continuation running last: this one, or one
        # that :func:`switch_to` handed the stack to in its place (``_ran``).
        resumer = self._resumer = greenlet.getcurrent()  # self._run(g.switch, value) ...
        if g.parent is not resumer:
            g.parent = resumer
        self._outer = _current
        _current = self
        self.state = RUNNING
        try:  # (the set-up above stays outside: only g.switch's errors set _ran)
            try:
                finished, result = g.switch(value)
            finally:
                _ran = ran = _current  # self, unless switch_to handed the stack on
                assert ran is not None
                _current = ran._outer
                ran._outer = None
                ran._resumer = None  # ... up to here
        except BaseException:
            ran = _ran
            ran.state = FINISHED
            ran._greenlet = None
            raise
        if finished:
            ran.state = FINISHED
            ran._greenlet = None  # back in the pool, or ended
        else:
            ran.state = SUSPENDED
        if trace.listening:
            trace.emit("stack.return" if finished else "stack.suspend", stack=ran.name)
        return finished, result

    def kill(self) -> None:
        """Unwind this stack, which will never be resumed: ``GreenletExit`` is raised where
        it suspended, so that its ``finally`` blocks run and what it holds (a wasm call on
        a fiber) is released. A stack that suspends again while unwinding is dropped as
        it is. Errors out of the unwinding are swallowed: nobody waits for them (a
        ``KeyboardInterrupt`` still goes through).
        """
        if self.state == NEW:
            self.state = FINISHED
            self._fn = None
            return
        if self.state != SUSPENDED:
            raise StackError(f"cannot kill a {self.state} continuation {self!r}")
        if forbidden is not None:
            raise forbidden[0](forbidden[1])
        g = self._greenlet
        assert g is not None
        try:
            self._run(g.throw, greenlet.GreenletExit)
        except Exception:  # noqa: S110 (the stack is abandoned: its errors have no reader)
            pass
        finally:
            self.state = FINISHED
            self._greenlet = None
        trace.emit("stack.kill", stack=self.name)

    def _run(self, enter: Callable[[Any], Any], value: Any) -> Any:
        """``enter(value)`` (``switch`` or ``throw`` of this stack's greenlet) as the innermost
        continuation, resumed by the current greenlet: what it gives back when the stack
        suspends or returns (or its exception). The state after it is the caller's to set.
        """
        global _current, _ran
        resumer = self._resumer = greenlet.getcurrent()
        # The greenlet's parent receives its return value or exception, so it
        # must be whoever resumed it this time (set only when it changes: the
        # setter walks the new parent's chain, looking for a cycle).
        g = self._greenlet
        assert g is not None
        if g.parent is not resumer:
            g.parent = resumer
        self._outer = _current
        _current = self
        self.state = RUNNING
        try:
            return enter(value)
        finally:
            _ran = ran = _current  # self, unless switch_to handed the stack on
            assert ran is not None
            _current = ran._outer
            ran._outer = None
            ran._resumer = None


class _WouldBlock:
    __slots__ = ()

    def __repr__(self) -> str:
        return "WOULD_BLOCK"


WOULD_BLOCK = _WouldBlock()
"""What a handler tried where switching is forbidden returns instead of a result when it
would have to switch stacks (block). It must say so before any side effect: the
same request is then made again where switching is allowed."""


def switch_to(other: Continuation, value: Any, between: Callable[[], None]) -> Any:
    """Suspend the running continuation and resume ``other`` in its place: the
    ``switch`` instruction of the stack-switching proposal, one greenlet switch.

    Equal to ``suspend`` followed, in the resumer, by ``other.resume(value)``:
    ``other`` takes over the running continuation's resumer, so the resumer's
    pending :meth:`Continuation.resume` returns (or raises) for whichever
    continuation runs last when control comes back to it; it reports that one's
    state and trace events. ``between()`` runs after this continuation counts
    as suspended and before ``other`` counts as running (the resumer's own work
    between the two, done here instead). Returns whatever the next ``resume`` of
    this continuation passes in, as ``suspend`` does. ``other`` may be the running
    continuation itself: then it is suspended and resumed (events, state) with no
    switch at all, and ``value`` is returned at once.
    """
    global _current
    if forbidden is not None:
        raise forbidden[0](forbidden[1])
    cont = _current
    if cont is None:
        raise StackError("switch_to called outside of any continuation")
    if other is not cont and other.state in (RUNNING, FINISHED):
        raise StackError(f"cannot resume a {other.state} continuation {other!r}")
    resumer, outer = cont._resumer, cont._outer
    assert resumer is not None
    cont._resumer = cont._outer = None
    cont.state = SUSPENDED
    trace.counts["switches"] += 2
    if trace.listening:
        trace.emit("stack.suspend", stack=cont.name)
    between()
    if other is cont:
        other._resumer, other._outer = resumer, outer
        other.state = RUNNING
        if trace.listening:
            trace.emit("stack.resume", stack=other.name)
        return value
    g = other._greenlet
    if g is None:  # its first resume, as in Continuation.resume
        pool = _pool()
        g = other._greenlet = pool.pop() if pool else _new_greenlet()
        value = [other._fn, value]  # a job (see _run_jobs)
        other._fn = None
    other._resumer = resumer
    g.parent = resumer
    other._outer = outer
    _current = other
    other.state = RUNNING
    if trace.listening:
        trace.emit("stack.resume", stack=other.name)
    return g.switch(value)


def forbid_switching(error: type[StackError], message: str) -> object:
    """Make every ``resume`` and ``suspend`` raise ``error(message)`` until restored.

    For code running on a stack greenlet cannot switch away from (a host call
    on a wasmtime fiber): there a switch would corrupt the process, so it must
    become a Python error instead. Returns a token for :func:`restore_switching`.
    """
    global forbidden
    token = forbidden
    forbidden = (error, message)
    return token


def restore_switching(token: object) -> None:
    """Undo the matching :func:`forbid_switching`."""
    global forbidden
    forbidden = token  # type: ignore[assignment]


_held: dict[greenlet.greenlet, int] = {}
"""Greenlets switched away from while a wasm call of theirs is suspended on a wasmtime
fiber (see :func:`hold_current`), each with how many such calls it has."""

_SWEEP_FROM = 64
_sweep_at = _SWEEP_FROM
""":func:`hold_current` looks for dropped greenlets once :data:`_held` is this big."""


def _references_when_only_held() -> int:
    """What ``sys.getrefcount`` says, in :func:`release_dropped`'s comprehension, of a
    dict key nobody else refers to: 3 in pure Python (the key, the comprehension's
    name, the argument), fewer when this module is compiled (Cython passes the
    argument borrowed). Measured, not assumed, so that both count alike."""
    probe = {object(): 0}
    return [sys.getrefcount(g) for g in probe][0]


_ONLY_HELD = _references_when_only_held()


def hold_current() -> None:
    """Keep the running greenlet alive until :func:`let_go_current`: it may switch away
    with a wasm call of its own suspended on a wasmtime fiber.

    Why: greenlet kills a suspended greenlet whose last reference is dropped, right
    where it is dropped, with a switch into it. Dropped from Python code running on a
    fiber (a ``may_block=False`` import's handler), that switch aborts the process
    (``wasmtime-stacks.md`` §3). Held here, such a greenlet outlives its other
    references; :func:`release_dropped`, which runs only where switching is allowed,
    lets go of those nobody else holds, so their kill happens on the thread's own
    stack. (A :class:`Continuation`'s greenlet is referenced from its own frames and
    so is never killed by a drop: it is unwound by :meth:`Continuation.kill`.)
    Amortised: the held greenlets are checked each time their number doubles.
    """
    g = greenlet.getcurrent()
    _held[g] = _held.get(g, 0) + 1
    if len(_held) >= _sweep_at and forbidden is None:
        release_dropped()


def let_go_current() -> None:
    """Undo one :func:`hold_current` of the running greenlet (it runs again, so it is held)."""
    g = greenlet.getcurrent()
    n = _held.pop(g, 1) - 1
    if n:
        _held[g] = n


def release_dropped() -> int:
    """Let go of every greenlet held by :func:`hold_current` that nobody else refers to,
    which makes greenlet kill it here (``GreenletExit`` where it switched away: its wasm
    call unwinds and frees its fiber). How many were let go. Does nothing where
    switching is forbidden (on a fiber): call it again from the host's stack.
    """
    global _sweep_at
    if forbidden is not None:
        return 0
    dropped = [g for g in _held if sys.getrefcount(g) <= _ONLY_HELD]
    for g in dropped:
        del _held[g]
    count = len(dropped)
    while dropped:
        dropped.pop()  # its last reference: greenlet kills it now, on this stack
    _sweep_at = max(_SWEEP_FROM, 2 * len(_held))
    return count


def current() -> Continuation | None:
    """The continuation whose stack is running now (``None`` on the host stack)."""
    return _current


def suspend(value: Any = None) -> Any:
    """Suspend the running continuation, handing ``value`` to its resumer.

    Returns whatever the next ``resume`` passes in.
    """
    if forbidden is not None:
        raise forbidden[0](forbidden[1])
    cont = _current
    if cont is None:
        raise StackError("suspend called outside of any continuation")
    resumer = cont._resumer
    assert resumer is not None
    trace.counts["switches"] += 1
    return resumer.switch((False, value))

"""Component instances (spec: "Component Instances").

A :class:`ComponentInstance` holds the per-instance state the Canonical ABI
rules consult: the handle and thread tables, the reentrance flags, the
backpressure counter and the exclusive-thread "lock". Threads waiting to
enter (backpressure) or for the lock wait on ``enter_key``, which is touched
when backpressure goes down and when the lock is released (raising
backpressure or taking the lock only ever makes such a wait false).

Reentrance (Component Invariant #2): entering an instance also enters its
ancestors, except those the caller is already inside, so a parent that wraps a
child ("donut wrapping") may be re-entered by the child's import call while an
unrelated re-entry traps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import Trap
from ..scheduler import WaitKey
from . import messages
from .table import Table

if TYPE_CHECKING:
    from .threads import Thread


class ComponentInstance:
    """Runtime state of one component instance."""

    def __init__(self, store: Any, name: str = "", parent: ComponentInstance | None = None) -> None:
        assert parent is None or parent.store is store
        self.store = store
        self.name = name or f"instance{id(self) & 0xffff:x}"
        self.parent = parent
        self.handles: Table[Any] = Table()
        self.threads: Table[Thread] = Table()
        self.may_enter = True
        self.may_leave = True
        self.enter_key = WaitKey()
        """Touched whenever ``backpressure`` decreases or ``exclusive_thread`` becomes None."""
        self.backpressure = 0
        """Raised and lowered by the guest; lower it with :meth:`lower_backpressure`."""
        self.num_waiting_to_enter = 0
        self.exclusive_thread: Thread | None = None
        """The thread holding the instance's shadow stack (sync and callback-lifted code).
        A plain attribute (read several times per call); give it up with
        :meth:`release_exclusive`, which wakes the threads waiting for it."""
        # The parent never changes, so the chain of ancestors is computed once:
        # it is consulted on every entry from the host.
        self._ancestry = frozenset(self._walk_ancestors())
        self.host_entering = self._ancestry
        """``entering_set(None)``: what a resume from the host enters (fixed). Threads read
        it on every quantum to enter and leave inline (``enter_from(None)``, ``leave_to(None)``)."""
        self._entering: dict[ComponentInstance | None, frozenset[ComponentInstance]] = {}
        """entering_set per caller, computed once each (ancestries never change)."""
        self._nested: dict[ComponentInstance, bool] = {}
        """Is the caller this instance, an ancestor or a descendant? (Per caller, once.)"""
        self.root: ComponentInstance = parent.root if parent is not None else self
        """The instance the host instantiated, whose tree this instance belongs to."""
        self._trapped = False

    def __repr__(self) -> str:
        return f"<ComponentInstance {self.name}>"

    # -- what a task waits for to enter -------------------------------------

    def lower_backpressure(self) -> None:
        """``backpressure`` goes down by one: tasks waiting to enter may now."""
        self.backpressure -= 1
        self.enter_key.touch()

    def release_exclusive(self) -> None:
        """Nobody holds the shadow stack any more: tasks waiting for it may take it."""
        self.exclusive_thread = None
        self.enter_key.touch()

    # -- reentrance ---------------------------------------------------------

    def _walk_ancestors(self) -> list[ComponentInstance]:
        chain = []
        inst: ComponentInstance | None = self
        while inst is not None:
            chain.append(inst)
            inst = inst.parent
        return chain

    def self_and_ancestors(self) -> frozenset[ComponentInstance]:
        return self._ancestry

    def entering_set(self, caller: ComponentInstance | None) -> frozenset[ComponentInstance]:
        """The instances a call from ``caller`` (None: the host) newly enters."""
        try:
            return self._entering[caller]
        except KeyError:
            pass
        entering = self._ancestry if caller is None else self._ancestry - caller._ancestry
        self._entering[caller] = entering
        return entering

    def may_enter_from(self, caller: ComponentInstance | None) -> bool:
        for inst in self.entering_set(caller):
            if not inst.may_enter:
                return False
        return True

    def check_enter_from(self, caller: ComponentInstance | None) -> None:
        """Trap unless a call from ``caller`` may enter (not poisoned, not re-entered)."""
        if self.root._trapped or not self.may_enter_from(caller):
            raise Trap(messages.CANNOT_ENTER)

    def enter_checked(self, caller: ComponentInstance | None,
                      refuse_nested: bool = False) -> frozenset[ComponentInstance]:
        """:meth:`check_enter_from` then :meth:`enter_from`, in one: the instances entered,
        whose ``may_enter`` the caller sets back when the call returns (``Store``'s
        ``func_inst``). (The path every call into a component takes.)

        ``refuse_nested`` also refuses a caller that is this instance, an
        ancestor or a descendant of it, as wasmtime (and the spec's tests,
        "for now") do where the spec would let a donut-wrapping parent be
        re-entered: components' lifts ask for it.
        """
        # (subscripts, not .get: no call when cached, which is every call but the first)
        try:
            entering = self._entering[caller]
        except KeyError:
            entering = self.entering_set(caller)
        if refuse_nested and caller is not None:
            try:
                nested = self._nested[caller]
            except KeyError:
                nested = self._nested[caller] = (caller in self._ancestry
                                                 or self in caller._ancestry)
            if nested:
                raise Trap(messages.CANNOT_ENTER)
        if self.root._trapped:
            raise Trap(messages.CANNOT_ENTER)
        for inst in entering:
            if not inst.may_enter:
                raise Trap(messages.CANNOT_ENTER)
        for inst in entering:
            inst.may_enter = False
        return entering

    def enter_from(self, caller: ComponentInstance | None) -> None:
        entering = self._entering.get(caller)  # (hot: the scheduler enters on every resume)
        for inst in entering if entering is not None else self.entering_set(caller):
            assert inst.may_enter
            inst.may_enter = False

    def leave_to(self, caller: ComponentInstance | None) -> None:
        entering = self._entering.get(caller)
        for inst in entering if entering is not None else self.entering_set(caller):
            assert not inst.may_enter
            inst.may_enter = True

    # -- guards used by the built-ins -----------------------------------------

    def check_may_leave(self) -> None:
        """Built-ins and imports are off limits during ``realloc`` and ``post-return``."""
        if not self.may_leave:  # hot: checked by every built-in
            raise Trap(messages.CANNOT_LEAVE)

    @property
    def poisoned(self) -> bool:
        return self.root._trapped

    def poison(self) -> None:
        """After a trap, this instance's whole tree may never be entered again.

        The spec tears the store down; wasmtime poisons it. A host that
        instantiated components separately (as a ``.wast`` script does) gets
        one tree per instantiation, so a trap ends the tree it happened in.
        """
        self.root._trapped = True

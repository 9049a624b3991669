"""Subtasks (spec: "Subtask State"): the caller's view of one call it made.

``canon lower`` creates a :class:`Subtask` per call. Its state follows the
callee through STARTING -> STARTED -> RETURNED, or to one of the two CANCELLED
states when the caller cancelled and the callee confirmed. *Resolved* means
the callee is done with the call; *resolve delivered* means the caller has
been told, which is also when the handles it lent for ``borrow`` parameters
come back to it.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Any

from ..errors import Trap
from . import messages
from .waitables import Waitable

if TYPE_CHECKING:
    from .resources import ResourceHandle


class State(IntEnum):
    """:attr:`Subtask.State` (defined out here, not nested: Cython cannot compile a class
    nested in one it makes a ``cdef class``, see subtasks.pxd)."""

    __qualname__ = "Subtask.State"
    STARTING = 0
    STARTED = 1
    RETURNED = 2
    CANCELLED_BEFORE_STARTED = 3
    CANCELLED_BEFORE_RETURNED = 4


class Subtask(Waitable):
    State = State

    def __init__(self, name: str = "") -> None:
        super().__init__()
        self.name = name or "subtask"
        self.state = _STARTING
        self.on_cancel: Any = None
        self.lenders: list[ResourceHandle] | None = []
        self.cancellation_requested = False
        self.flat_results: list[Any] = []

    def __repr__(self) -> str:
        return f"<Subtask {self.name} {self.state.name}>"

    def resolved(self) -> bool:
        return self.state >= Subtask.State.RETURNED

    def add_lender(self, handle: ResourceHandle) -> None:
        assert not self.resolve_delivered() and not self.resolved()
        handle.num_lends += 1
        self.lenders.append(handle)

    def resolve(self, state: Subtask.State, flat_results: list[Any]) -> None:
        assert self.state < _RETURNED  # not self.resolved()
        assert state == _RETURNED or not flat_results
        self.state = state
        self.flat_results = flat_results
        if self._watchers:  # a sync caller waits on the subtask for resolved() (touch, inline)
            self.touch()

    def deliver_resolve(self) -> None:
        """The caller learns the call is over: lent handles are its own again."""
        lenders = self.lenders
        assert lenders is not None and self.state >= _RETURNED  # resolved, not delivered
        for handle in lenders:
            handle.num_lends -= 1
        self.lenders = None

    def resolve_delivered(self) -> bool:
        return self.lenders is None

    def drop(self) -> None:
        if self.lenders is not None:  # not resolve_delivered() (hot path)
            raise Trap(messages.SUBTASK_DROP_UNRESOLVED)
        assert not self.has_sync_waiter
        self.join(None)  # Waitable.drop, inline


# The states the call path reads on every call, as module constants (see tasks.py).
_STARTING, _STARTED, _RETURNED = (Subtask.State.STARTING, Subtask.State.STARTED,
                                  Subtask.State.RETURNED)

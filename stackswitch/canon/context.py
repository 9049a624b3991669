"""The runtime's lifting/lowering context: handles and ``realloc`` with the rules.

The value ABI (:mod:`.values`) knows how values are laid out; it asks this
context whenever a value is a *handle* (own, borrow, stream, future,
error-context), because those move entries between handle tables and follow
ownership rules:

* lifting an ``own`` removes the handle from the sender's table (it must not
  be lent out); lowering one adds it to the receiver's;
* lifting a ``borrow`` lends the handle for the duration of the subtask;
  lowering one creates a borrow scoped to the callee task, unless the
  receiver is the resource's own implementation (then it gets the rep);
* a stream or future readable end moves only while idle and not in a
  waitable set, and never after its other end was seen dropped.
"""

from __future__ import annotations

from typing import Any

from ..errors import trap_if
from . import messages
from .error_context import ErrorContext
from .futures import ReadableFutureEnd
from .options import LiftLowerContext
from .resources import ResourceHandle
from .streams import CopyState, ReadableStreamEnd
from .subtasks import Subtask
from .tasks import Task
from .types import (
    BorrowType,
    ErrorContextType,
    FutureType,
    OwnType,
    StreamType,
)


class HandleContext(LiftLowerContext):
    """A :class:`LiftLowerContext` bound to a live component instance: the handle rules.

    Calling ``realloc`` needs a task of its own, which only :mod:`.calls` can
    make: :class:`~.calls.RuntimeContext` adds that (so this module needs
    nothing from ``calls``).
    """

    def lift_handle(self, t: Any, i: int) -> Any:
        handles = self.inst.handles
        if isinstance(t, OwnType):
            h = handles.get(i)
            trap_if(not isinstance(h, ResourceHandle), messages.not_a_resource(i))
            trap_if(h.num_lends != 0, messages.RESOURCE_LENT)
            trap_if(h.rt is not t.rt, messages.resource_wrong_type(i, t.rt, h.rt))
            trap_if(not h.own, messages.NOT_OWN)
            handles.remove(i)
            return h.rep
        if isinstance(t, BorrowType):
            assert isinstance(self.borrow_scope, Subtask)
            h = handles.get(i)
            trap_if(not isinstance(h, ResourceHandle), messages.not_a_resource(i))
            trap_if(h.rt is not t.rt, messages.resource_wrong_type(i, t.rt, h.rt))
            self.borrow_scope.add_lender(h)
            return h.rep
        if isinstance(t, StreamType | FutureType):
            end_type = ReadableStreamEnd if isinstance(t, StreamType) else ReadableFutureEnd
            thing = "stream" if isinstance(t, StreamType) else "future"
            e = handles.get(i)
            trap_if(not isinstance(e, end_type), messages.not_readable_end(thing))
            trap_if(e.shared.t != t.t, messages.different_type(thing))
            trap_if(e.copying(), messages.busy_drop(thing, readable=True))
            trap_if(e.state == CopyState.DONE, messages.copy_after_done("lift", thing))
            trap_if(e.in_waitable_set(), messages.lift_in_waitable_set(thing))
            handles.remove(i)
            return e.shared
        if isinstance(t, ErrorContextType):
            e = handles.get(i)
            trap_if(not isinstance(e, ErrorContext), messages.NOT_ERROR_CONTEXT)
            return e
        raise TypeError(f"not a handle type: {t}")

    def lower_handle(self, t: Any, v: Any) -> int:
        handles = self.inst.handles
        if isinstance(t, OwnType):
            return handles.add(ResourceHandle(t.rt, v, own=True))
        if isinstance(t, BorrowType):
            assert isinstance(self.borrow_scope, Task)
            if self.inst is t.rt.impl:
                return v
            self.borrow_scope.num_borrows += 1
            return handles.add(ResourceHandle(t.rt, v, own=False, borrow_scope=self.borrow_scope))
        if isinstance(t, StreamType):
            return handles.add(ReadableStreamEnd(v))
        if isinstance(t, FutureType):
            return handles.add(ReadableFutureEnd(v))
        if isinstance(t, ErrorContextType):
            return handles.add(v)
        raise TypeError(f"not a handle type: {t}")

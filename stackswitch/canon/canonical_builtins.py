"""The canonical built-ins (spec: "Canonical Definitions").

Each function here is one ``canon`` built-in: its first parameters are the
definition's immediates (types, options, ``cancellable``/``async`` flags) and
the rest are the core arguments; it returns the core results as a list. All
act on the *current* thread, task and component instance.

Every built-in except ``context.get/set``, ``backpressure.inc/dec`` and
``resource.rep`` first checks ``may_leave``: built-ins are off limits during ``realloc`` and
``post-return``.
"""

from __future__ import annotations

import struct
from typing import Any

from .. import trace
from ..errors import Trap, trap_if
from ..scheduler import ChoicePoint
from ..stacks import WOULD_BLOCK
from ..wasm.memory import ptr_size
from . import messages, threads
from .buffers import GuestReadableBuffer, GuestWritableBuffer
from .calls import RuntimeContext, canon_lower
from .error_context import ErrorContext
from .futures import ReadableFutureEnd, SharedFuture, WritableFutureEnd
from .options import CanonicalOptions
from .resources import ResourceHandle, ResourceType
from .streams import (
    CopyEnd,
    CopyResult,
    CopyState,
    ReadableStreamEnd,
    SharedStream,
    WritableStreamEnd,
)
from .subtasks import Subtask
from .tasks import Task
from .threads import Thread, current_thread
from .types import (
    FuncType,
    ListType,
    RecordType,
    StringType,
    U32Type,
    VariantType,
    despecialize,
)
from .values import (
    MAX_FLAT_PARAMS,
    CoreValueIter,
    flatten_types,
    lift_flat_values,
    load_string_from_range,
    store_string,
)
from .waitables import EventCode, EventTuple, Waitable, WaitableSet

BLOCKED = 0xFFFF_FFFF
_TASK_RESOLVED = Task.State.RESOLVED
"""A module constant for the hot paths (an Enum member read from its class costs more)."""


def _inst() -> Any:
    """The current instance, after the ``may_leave`` check. (Inline at the hottest
    built-ins: current_thread() is ``threads._current`` when a thread runs.)"""
    inst = current_thread().task.inst
    inst.check_may_leave()
    return inst


# -- resources ------------------------------------------------------------------


def canon_resource_new(rt: ResourceType, rep: int) -> list[int]:
    inst = _inst()
    return [inst.handles.add(ResourceHandle(rt, rep, own=True))]


def canon_resource_drop(rt: ResourceType, i: int) -> list[Any]:
    inst = _inst()
    h = inst.handles.get(i)
    trap_if(not isinstance(h, ResourceHandle), messages.not_a_resource(i))
    trap_if(h.rt is not rt, messages.resource_wrong_type(i, rt, h.rt))
    trap_if(h.num_lends != 0, messages.RESOURCE_LENT)
    inst.handles.remove(i)
    if h.own:
        _destroy(inst, rt, h.rep)
    else:
        h.borrow_scope.num_borrows -= 1
    return []


_DTOR_TYPE = FuncType([("rep", U32Type())], [])


def _destroy(inst: Any, rt: ResourceType, rep: int) -> None:
    """Run the destructor as a sync call into the defining instance.

    Going through ``canon lift``/``canon lower`` gives the destructor a task
    of its own and applies the reentrance rule; dropping a resource of one's
    own never re-enters anything, so it is always allowed.
    """
    if rt.impl is None:  # a host-defined resource
        if rt.dtor is not None:
            rt.dtor([rep])
        return
    dtor = rt.dtor or (lambda args: [])
    callee = inst.store.lift(dtor, _DTOR_TYPE, CanonicalOptions(), rt.impl, name=f"{rt.name}.drop")
    canon_lower(callee, _DTOR_TYPE, CanonicalOptions(), [rep], name=f"{rt.name}.drop")


def canon_resource_rep(rt: ResourceType, i: int) -> list[int]:
    h = current_thread().task.inst.handles.get(i)
    trap_if(not isinstance(h, ResourceHandle), messages.not_a_resource(i))
    trap_if(h.rt is not rt, messages.resource_wrong_type(i, rt, h.rt))
    return [h.rep]


# -- thread-local context and backpressure ---------------------------------------


def canon_context_get(i: int) -> list[int]:
    assert i in (0, 1)
    return [current_thread().storage[i]]


def canon_context_set(i: int, v: int) -> list[Any]:
    assert i in (0, 1)
    current_thread().storage[i] = v
    return []


def canon_backpressure_inc() -> list[Any]:
    inst = current_thread().task.inst
    trap_if(inst.backpressure + 1 >= 2**16, messages.BACKPRESSURE_OVERFLOW)
    inst.backpressure += 1
    trace.emit("backpressure", instance=inst.name, value=inst.backpressure)
    return []


def canon_backpressure_dec() -> list[Any]:
    inst = current_thread().task.inst
    trap_if(inst.backpressure == 0, messages.BACKPRESSURE_UNDERFLOW)
    inst.lower_backpressure()
    trace.emit("backpressure", instance=inst.name, value=inst.backpressure)
    return []


# -- task.return / task.cancel ------------------------------------------------------


def canon_task_return(result_types: list[Any], opts: CanonicalOptions,
                      flat_args: list[Any], matched: list[tuple[Any, Any]] | None = None
                      ) -> list[Any]:
    """``task.return``. ``matched``, if given, is this built-in's own list of the
    ``(FuncType, CanonicalOptions)`` of lifts it was found to match: the type and
    option checks depend only on those, so each pair is checked once."""
    return task_return(result_types, opts, matched, *flat_args)


def task_return(result_types: list[Any], opts: CanonicalOptions,
                matched: list[tuple[Any, Any]] | None, *flat_args: Any) -> list[Any]:
    """:func:`canon_task_return` with the core arguments last, as the linked import
    takes them (bound with ``functools.partial``: one frame per call)."""
    task = (threads._current or current_thread()).task
    if not task.inst.may_leave:  # check_may_leave(), inline (hot path)
        raise Trap(messages.CANNOT_LEAVE)
    if not task.opts.async_:  # (hot path: raise, not trap_if)
        raise Trap(messages.TASK_RETURN_MISMATCH)
    if task.state == Task.State.RESOLVED:
        raise Trap(messages.TASK_RESOLVED_TWICE)
    ft, task_opts = task.ft, task.opts
    for known_ft, known_opts in matched or ():  # _known_match, inline
        if known_ft is ft and known_opts is task_opts:
            break
    else:
        trap_if(list(result_types) != list(ft.result_types()), messages.TASK_RETURN_MISMATCH)
        trap_if(not _same_lift_options(result_types, opts, task_opts), messages.TASK_RETURN_MISMATCH)
        if matched is not None and len(matched) < _MAX_MATCHED:
            matched.append((ft, task_opts))
    if result_types or flat_args:
        cx = RuntimeContext(opts, task.inst, task)
        result = lift_flat_values(cx, MAX_FLAT_PARAMS, CoreValueIter(flat_args), ft.result_type_tuple)
    else:  # no result: lift_flat_values would give [] and needs no context
        result = []
    task.return_(result)
    return []


_MAX_MATCHED = 8
"""Lifts a task.return remembers as matching (usually one: the export that calls it)."""


def _same_lift_options(result_types: list[Any], opts: CanonicalOptions,
                       task_opts: CanonicalOptions) -> bool:
    """Does ``task.return`` lift the result as the ``canon lift`` would have?

    The spec compares the string encoding and the memory instance outright.
    The string encoding is compared always (as wasmtime does: its
    task-return-traps test expects a trap for ``string-encoding=utf16`` under
    a utf8 lift of a function with no result); the memory, like wasmtime (and
    the spec's own tests, which ``task.return`` a plain ``u32`` from an export
    whose lift names a memory for its parameters), only where ``task.return``
    names one or its result needs one.
    """
    if opts.string_encoding != task_opts.string_encoding:
        return False
    if opts.memory is not None or any(_in_memory(t) for t in result_types) \
            or len(flatten_types(result_types)) > MAX_FLAT_PARAMS:
        return opts.memory is task_opts.memory
    return True


def _in_memory(t: Any) -> bool:
    """Whether lifting ``t`` reads linear memory (a string or list inside it)."""
    t = despecialize(t)
    if isinstance(t, StringType | ListType):
        return True
    if isinstance(t, RecordType):
        return any(_in_memory(f.t) for f in t.fields)
    if isinstance(t, VariantType):
        return any(c.t is not None and _in_memory(c.t) for c in t.cases)
    return False


def canon_task_cancel() -> list[Any]:
    task = current_thread().task
    task.inst.check_may_leave()
    trap_if(not task.opts.async_, messages.TASK_CANCEL_NOT_DELIVERED)
    task.cancel()
    return []


# -- waitable sets ---------------------------------------------------------------


_EVENT_PAYLOAD = struct.Struct("<II")


def _store_event(opts: CanonicalOptions, ptr: int, event: EventTuple) -> list[int]:
    """Write the event's two u32 payloads at ``ptr`` (bounds-checked); return its code."""
    code, p1, p2 = event
    trace.counts["events"] += 1
    opts.memory.write(ptr, _EVENT_PAYLOAD.pack(p1, p2))
    return [int(code)]


def _waitable_set(inst: Any, si: int) -> WaitableSet:
    wset = inst.handles.get(si)
    # not isinstance(wset, WaitableSet), asked only when the type is not the usual one
    # (hot path: raise, not trap_if)
    if type(wset) is not WaitableSet and not isinstance(wset, WaitableSet):
        raise Trap(messages.NOT_WAITABLE_SET)
    return wset


def canon_waitable_set_new() -> list[int]:
    inst = _inst()
    si = inst.handles.add(WaitableSet())
    if trace.listening:
        trace.emit("waitable-set.new", instance=inst.name, index=si)
    return [si]


def _may_block() -> Any:
    """The current instance, after the checks every blocking built-in makes first."""
    thread = threads._current or current_thread()  # current_thread(), inline (hot path)
    task = thread.task
    inst = task.inst
    if not inst.may_leave:  # inst.check_may_leave(), inline
        raise Trap(messages.CANNOT_LEAVE)
    # task.check_may_block(thread), its first test inline: an async-typed task, or one
    # that has returned, may block
    if not task.ft.async_ and task.state != _TASK_RESOLVED:
        task.check_may_block(thread)
    return inst


def canon_waitable_set_wait(cancellable: bool, opts: CanonicalOptions, si: int, ptr: int) -> list[int]:
    inst = _may_block()
    event = _waitable_set(inst, si).wait_for_event(cancellable, why=f"waitable-set.wait on set {si}")
    return _store_event(opts, ptr, event)


def try_waitable_set_wait(cancellable: bool, opts: CanonicalOptions, si: int,
                          ptr: int) -> list[int] | object:
    """``waitable-set.wait`` where no stack may switch: its result when it need not block,
    else :data:`~stackswitch.stacks.WOULD_BLOCK`, said before any side effect.

    Equal to :func:`canon_waitable_set_wait` whenever it answers: that one makes the
    same checks in the same order (same traps), and with an event already pending and
    no cancellation to deliver, ``Thread.wait_until`` returns at once under FIFO
    (``Scheduler.keep_running`` draws nothing there) and the event delivered is FIFO's.
    It answers only for a plain :class:`Thread`, whose ``wait_until`` is that one, and
    only under FIFO: any other policy makes a choice there, and a choice is a side
    effect.
    """
    thread = threads._current or current_thread()  # current_thread(), inline (hot path)
    if type(thread) is not Thread or not thread.scheduler.fifo:
        return WOULD_BLOCK
    try:  # a probe: a bad index traps on the usual path
        wset = thread.task.inst.handles.array[si] if si >= 0 else None
    except IndexError:
        wset = None
    if type(wset) is not WaitableSet or not wset.has_pending_event() \
            or (cancellable and thread.task.state == Task.State.PENDING_CANCEL):
        return WOULD_BLOCK
    _may_block()  # the usual path's checks, in its order: they may trap
    return _store_event(opts, ptr, wset.get_pending_event())


def waitable_set_wait_blocks(cancellable: bool, thread: Thread, si: int, _ptr: int) -> bool:
    """Will ``waitable-set.wait`` on set ``si`` by ``thread`` block? (It reads only.)

    True for a valid set with no event pending and no cancellation to
    deliver. A strategy may prepare for the block before the built-in runs
    (``HostCoreFunc.will_block``); a wrong answer must cost it time only.
    """
    task = thread.task
    handles = task.inst.handles.array
    wset = handles[si] if 0 <= si < len(handles) else None
    return (type(wset) is WaitableSet and not wset.has_pending_event()
            and not (cancellable and task.state == Task.State.PENDING_CANCEL))


def canon_waitable_set_poll(cancellable: bool, opts: CanonicalOptions, si: int, ptr: int) -> list[int]:
    inst = _inst()
    event = _waitable_set(inst, si).poll(cancellable)
    return _store_event(opts, ptr, event)


def canon_waitable_set_drop(si: int) -> list[Any]:
    inst = _inst()
    wset = _waitable_set(inst, si)
    wset.drop()
    inst.handles.remove(si)
    if trace.listening:
        trace.emit("waitable-set.drop", instance=inst.name, index=si)
    return []


def canon_waitable_join(wi: int, si: int) -> list[Any]:
    inst = (threads._current or current_thread()).task.inst  # _inst(), inline (hot path)
    if not inst.may_leave:
        raise Trap(messages.CANNOT_LEAVE)
    w = inst.handles.get(wi)
    # not isinstance(w, Waitable), asked only when w is not a subtask (hot path: raise)
    if type(w) is not Subtask and not isinstance(w, Waitable):
        raise Trap(messages.NOT_WAITABLE)
    if w.has_sync_waiter:
        raise Trap(messages.SYNC_AND_ASYNC_WAIT)
    if si == 0:
        w.join(None)
        return []
    wset = inst.handles.get(si)
    # _waitable_set(inst, si), inline (hot path)
    if type(wset) is not WaitableSet and not isinstance(wset, WaitableSet):
        raise Trap(messages.NOT_WAITABLE_SET)
    w.join(wset)
    return []


# -- subtasks ------------------------------------------------------------------------


def canon_subtask_cancel(async_: bool, i: int) -> list[int]:
    thread = current_thread()
    inst = _inst() if async_ else _may_block()
    subtask = inst.handles.get(i)
    trap_if(not isinstance(subtask, Subtask), messages.NOT_SUBTASK)
    trap_if(subtask.resolve_delivered(), messages.SUBTASK_CANCEL_AFTER_RESOLVE)
    trap_if(subtask.cancellation_requested, messages.SUBTASK_CANCEL_TWICE)
    trap_if(subtask.in_waitable_set() and not async_, messages.SYNC_AND_ASYNC_WAIT)
    if not subtask.resolved():
        subtask.cancellation_requested = True
        trace.emit("subtask.cancel", subtask=subtask.name)
        subtask.on_cancel(thread.task)
        if not subtask.resolved():
            if async_:
                return [BLOCKED]
            subtask.wait_for_pending_event(f"subtask.cancel of {subtask.name}")
    code, index, payload = subtask.get_pending_event()
    assert code == EventCode.SUBTASK and index == i and subtask.resolve_delivered()
    return [int(subtask.state)]


def canon_subtask_drop(i: int) -> list[Any]:
    inst = (threads._current or current_thread()).task.inst  # _inst(), inline (hot path)
    if not inst.may_leave:
        raise Trap(messages.CANNOT_LEAVE)
    subtask = inst.handles.get(i)
    # not isinstance(subtask, Subtask), asked only when the type is not Subtask itself
    if type(subtask) is not Subtask and not isinstance(subtask, Subtask):
        raise Trap(messages.NOT_SUBTASK)  # (hot path: raise, not trap_if)
    subtask.drop()
    inst.handles.remove(i)
    if trace.listening:
        trace.emit("subtask.drop", instance=inst.name, subtask=subtask.name, index=i)
    return []


# -- streams and futures ------------------------------------------------------------


def canon_stream_new(stream_t: Any) -> list[int]:
    inst = _inst()
    shared = SharedStream(stream_t.t)
    ri = inst.handles.add(ReadableStreamEnd(shared))
    wi = inst.handles.add(WritableStreamEnd(shared))
    trace.emit("stream.new", instance=inst.name, readable=ri, writable=wi)
    return [ri | (wi << 32)]


def canon_future_new(future_t: Any) -> list[int]:
    inst = _inst()
    shared = SharedFuture(future_t.t)
    ri = inst.handles.add(ReadableFutureEnd(shared))
    wi = inst.handles.add(WritableFutureEnd(shared))
    trace.emit("future.new", instance=inst.name, readable=ri, writable=wi)
    return [ri | (wi << 32)]


_COPYING = (CopyState.COPYING, CopyState.CANCELLING_COPY)

# Per end type: (thing, the op on it, its event code). Readers lift values
# into a writable buffer of their own memory; writers offer a readable one.
_ENDS = {
    ReadableStreamEnd: ("stream", "read", EventCode.STREAM_READ, GuestWritableBuffer),
    WritableStreamEnd: ("stream", "write", EventCode.STREAM_WRITE, GuestReadableBuffer),
    ReadableFutureEnd: ("future", "read", EventCode.FUTURE_READ, GuestWritableBuffer),
    WritableFutureEnd: ("future", "write", EventCode.FUTURE_WRITE, GuestReadableBuffer),
}


def _lookup_end(inst: Any, i: int, t: Any, end_type: type) -> Any:
    """The end at index ``i``: of the right kind and element type."""
    # Hot path: messages are built only when a rule is broken.
    thing = _ENDS[end_type][0]
    e = inst.handles.get(i)
    if not isinstance(e, CopyEnd) or e.thing != thing:
        raise Trap(messages.not_a(thing))
    st = e.shared.t
    if st is not t.t and st != t.t:
        raise Trap(messages.different_type(thing))
    return e


def _finish_copy(e: Any, opts_async: bool, i: int, what: str) -> list[int]:
    """Deliver the copy's event now if there is one; else block (sync) or return BLOCKED."""
    if e.pending_event is None:
        if opts_async:
            return [BLOCKED]
        e.wait_for_pending_event(f"{what} of {e.kind} {i}")
    _, _, payload = e.get_pending_event()
    return [payload]


def _start_copy(end_type: type, t: Any, opts: CanonicalOptions, i: int, ptr: int,
                n: int) -> tuple[Any, Any, Any]:
    inst = _inst() if opts.async_ else _may_block()
    thing, op, _, buffer_type = _ENDS[end_type]
    e = _lookup_end(inst, i, t, end_type)
    # Reading a writable end (or writing a readable one) and a second
    # concurrent copy are one rule in wasmtime's words.
    state = e.state
    if not isinstance(e, end_type) or state in _COPYING:
        raise Trap(messages.CONCURRENT_COPY)
    if state == CopyState.DONE:
        raise Trap(messages.copy_after_done(op, thing))
    if e.wset is not None and not opts.async_:
        raise Trap(messages.SYNC_AND_ASYNC_WAIT)
    buffer = buffer_type(t.t, RuntimeContext(opts, inst), ptr, n)
    e.buffer = buffer
    return inst, e, buffer


def stream_copy(end_type: type, t: Any, opts: CanonicalOptions, i: int, ptr: int, n: int) -> list[int]:
    """``stream.read`` (``end_type`` ReadableStreamEnd) or ``stream.write`` (WritableStreamEnd).

    Hot (once per stream chunk on each side): ``_start_copy`` and ``_finish_copy``
    written out inline, with the same checks in the same order; the copy's
    callbacks and event are the end's own (``StreamEnd``).
    """
    thread = current_thread()
    inst = thread.task.inst
    if not inst.may_leave:  # inst.check_may_leave()
        raise Trap(messages.CANNOT_LEAVE)
    async_ = opts.async_
    if not async_:
        thread.task.check_may_block(thread)
    thing, op, _, buffer_type = _ENDS[end_type]
    e = inst.handles.get(i)
    if not isinstance(e, CopyEnd) or e.thing != thing:  # _lookup_end
        raise Trap(messages.not_a(thing))
    st, tt = e.shared.t, t.t
    if st is not tt and e.type_checked is not tt:  # equal types, compared once per end
        if st != tt:
            raise Trap(messages.different_type(thing))
        e.type_checked = tt
    state = e.state
    if not isinstance(e, end_type) or state in _COPYING:
        raise Trap(messages.CONCURRENT_COPY)
    if state == CopyState.DONE:
        raise Trap(messages.copy_after_done(op, thing))
    if e.wset is not None and not async_:
        raise Trap(messages.SYNC_AND_ASYNC_WAIT)
    buffer = buffer_type(t.t, RuntimeContext(opts, inst), ptr, n)
    e.start_copy(inst, i, buffer)
    e.copy(inst, buffer, e.on_copy, e.on_copy_done)
    pending = e.pending_event
    if pending is None:
        if async_:
            return [BLOCKED]
        e.wait_for_pending_event(f"stream copy of {e.kind} {i}")
        pending = e.pending_event
    e.pending_event = None  # e.get_pending_event()
    return [pending()[2]]


def _future_copy(end_type: type, t: Any, opts: CanonicalOptions, i: int, ptr: int) -> list[int]:
    inst, e, buffer = _start_copy(end_type, t, opts, i, ptr, 1)
    event_code = _ENDS[end_type][2]

    def future_event(result: CopyResult) -> EventTuple:
        assert e.copying()
        done = result in (CopyResult.DROPPED, CopyResult.COMPLETED)
        e.state = CopyState.DONE if done else CopyState.IDLE
        if trace.listening:
            trace.emit("future.event", instance=inst.name, end=e.kind, index=i, result=result.name)
        return (event_code, i, int(result))

    def on_copy_done(result: CopyResult) -> None:
        e.set_pending_event(lambda: future_event(result))

    e.state = CopyState.COPYING
    e.copy(inst, buffer, on_copy_done)
    return _finish_copy(e, opts.async_, i, "future copy")


def canon_stream_read(t: Any, opts: CanonicalOptions, i: int, ptr: int, n: int) -> list[int]:
    return stream_copy(ReadableStreamEnd, t, opts, i, ptr, n)


def canon_stream_write(t: Any, opts: CanonicalOptions, i: int, ptr: int, n: int) -> list[int]:
    return stream_copy(WritableStreamEnd, t, opts, i, ptr, n)


def canon_future_read(t: Any, opts: CanonicalOptions, i: int, ptr: int) -> list[int]:
    return _future_copy(ReadableFutureEnd, t, opts, i, ptr)


def canon_future_write(t: Any, opts: CanonicalOptions, i: int, ptr: int) -> list[int]:
    return _future_copy(WritableFutureEnd, t, opts, i, ptr)


def _cancel_copy(end_type: type, t: Any, async_: bool, i: int) -> list[int]:
    inst = _inst() if async_ else _may_block()
    thing, op, _, _ = _ENDS[end_type]
    e = _lookup_end(inst, i, t, end_type)
    trap_if(not isinstance(e, end_type), messages.cancel_wrong_end(thing, op))
    trap_if(e.state != CopyState.COPYING or e.has_sync_waiter, messages.cancel_not_pending(op))
    trap_if(e.in_waitable_set() and not async_, messages.SYNC_AND_ASYNC_WAIT)
    e.state = CopyState.CANCELLING_COPY
    if e.pump is not None:  # a splice or skip (an extension) holds this end
        e.pump.cancel(e)
        return _finish_copy(e, async_, i, "cancel")
    # The spec cancels only a copy with no event yet. A copy whose buffer is
    # still parked may have received values already (its event says
    # COMPLETED so far); like wasmtime, and as the spec's cancel-stream test
    # expects, cancelling it then reports CANCELLED with that progress.
    if not e.has_pending_event() or e.shared.pending_buffer is e.buffer:
        e.shared.cancel()
    return _finish_copy(e, async_, i, "cancel")


def canon_stream_cancel_read(t: Any, async_: bool, i: int) -> list[int]:
    return _cancel_copy(ReadableStreamEnd, t, async_, i)


def canon_stream_cancel_write(t: Any, async_: bool, i: int) -> list[int]:
    return _cancel_copy(WritableStreamEnd, t, async_, i)


def canon_future_cancel_read(t: Any, async_: bool, i: int) -> list[int]:
    return _cancel_copy(ReadableFutureEnd, t, async_, i)


def canon_future_cancel_write(t: Any, async_: bool, i: int) -> list[int]:
    return _cancel_copy(WritableFutureEnd, t, async_, i)


def _drop_end(end_type: type, t: Any, i: int) -> list[Any]:
    inst = _inst()
    thing = _ENDS[end_type][0]
    e = _lookup_end(inst, i, t, end_type)
    trap_if(not isinstance(e, end_type), messages.drop_wrong_end(thing, end_type.readable))
    e.drop()
    inst.handles.remove(i)
    trace.emit(f"{thing}.drop", end=e.kind, index=i)
    return []


def canon_stream_drop_readable(t: Any, i: int) -> list[Any]:
    return _drop_end(ReadableStreamEnd, t, i)


def canon_stream_drop_writable(t: Any, i: int) -> list[Any]:
    return _drop_end(WritableStreamEnd, t, i)


def canon_future_drop_readable(t: Any, i: int) -> list[Any]:
    return _drop_end(ReadableFutureEnd, t, i)


def canon_future_drop_writable(t: Any, i: int) -> list[Any]:
    return _drop_end(WritableFutureEnd, t, i)


# -- threads --------------------------------------------------------------------------


def canon_thread_index() -> list[int]:
    thread = current_thread()
    thread.task.inst.check_may_leave()
    return [thread.index]


def canon_thread_new_indirect(table: Any, fi: int, c: int) -> list[int]:
    """``table.get(fi)`` yields a core function ``f([c]) -> []`` (or traps)."""
    task = current_thread().task
    task.inst.check_may_leave()
    f = table.get(fi)

    def thread_func() -> None:
        f([c])
        task.unregister_thread(new_thread)

    new_thread = Thread(task, thread_func, name=f"{task.name}/thread{fi}")
    task.register_thread(new_thread)
    trace.emit("thread.new", thread=new_thread.name, index=new_thread.index)
    return [new_thread.index]


def _other_thread(thread: Thread, i: int) -> Thread:
    return thread.task.inst.threads.get(i)


def canon_thread_resume_later(i: int) -> list[Any]:
    thread = current_thread()
    thread.task.inst.check_may_leave()
    other = _other_thread(thread, i)
    trap_if(not other.suspended(), messages.THREAD_NOT_SUSPENDED)
    other.resume_later()
    return []


def canon_thread_suspend(cancellable: bool) -> list[int]:
    thread = current_thread()
    _may_block()
    return [int(thread.suspend(cancellable))]


def canon_thread_yield(cancellable: bool) -> list[int]:
    thread = current_thread()
    thread.task.inst.check_may_leave()
    return [int(thread.yield_(cancellable))]


def canon_thread_suspend_then_resume(cancellable: bool, i: int) -> list[int]:
    thread = current_thread()
    thread.task.inst.check_may_leave()
    other = _other_thread(thread, i)
    trap_if(not other.suspended(), messages.THREAD_NOT_SUSPENDED)
    return [int(thread.suspend_then_resume(cancellable, other))]


def canon_thread_yield_then_resume(cancellable: bool, i: int) -> list[int]:
    thread = current_thread()
    thread.task.inst.check_may_leave()
    other = _other_thread(thread, i)
    trap_if(not other.suspended(), messages.THREAD_NOT_SUSPENDED)
    return [int(thread.yield_then_resume(cancellable, other))]


def canon_thread_suspend_then_promote(cancellable: bool, i: int) -> list[int]:
    thread = current_thread()
    thread.task.inst.check_may_leave()
    other = _other_thread(thread, i)
    return [int(thread.suspend_then_promote(cancellable, other))]


def canon_thread_yield_then_promote(cancellable: bool, i: int) -> list[int]:
    thread = current_thread()
    thread.task.inst.check_may_leave()
    other = _other_thread(thread, i)
    return [int(thread.yield_then_promote(cancellable, other))]


# -- error contexts --------------------------------------------------------------------


def canon_error_context_new(opts: CanonicalOptions, ptr: int, tagged_code_units: int) -> list[int]:
    inst = _inst()
    # The host may keep the debug message or drop it (the spec's reference
    # drops it at random, and always when deterministic); a dropped message
    # is never read, so its range is not checked either.
    message = ""
    if inst.store.scheduler.decide(ChoicePoint.ERROR_CONTEXT_MESSAGE, 2) == 0:
        message = load_string_from_range(RuntimeContext(opts, inst), ptr, tagged_code_units)
    return [inst.handles.add(ErrorContext(message))]


def canon_error_context_debug_message(opts: CanonicalOptions, i: int, ptr: int) -> list[Any]:
    inst = _inst()
    errctx = inst.handles.get(i)
    trap_if(not isinstance(errctx, ErrorContext), messages.NOT_ERROR_CONTEXT)
    # The spec stores the (pointer, length) pair after realloc; wasmtime (and its tests)
    # checks the slot is in bounds first, so a bad pointer never reaches realloc.
    memory = opts.memory
    if memory is not None:
        trap_if(ptr + 2 * ptr_size(memory.ptr_type) > len(memory),
                messages.DEBUG_MESSAGE_OUT_OF_BOUNDS)
    store_string(RuntimeContext(opts, inst), errctx.debug_message, ptr)
    return []


def canon_error_context_drop(i: int) -> list[Any]:
    inst = _inst()
    errctx = inst.handles.get(i)
    trap_if(not isinstance(errctx, ErrorContext), messages.NOT_ERROR_CONTEXT)
    inst.handles.remove(i)
    return []


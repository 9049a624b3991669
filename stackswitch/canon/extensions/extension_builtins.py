"""The extensions' built-ins, written like the spec's ``canon_*`` functions.

Each takes its immediates first (the stream or future type, the options),
then the core arguments (handle indices of the *caller's* table, pointers,
counts), and returns the core results as a list. Each first checks that its
feature is enabled on the store, then ``may_leave`` (and, for those that may
block, the rules of a blocking built-in), exactly as the spec's built-ins do.

| built-in | core type | feature |
| --- | --- | --- |
| ``stream.splice $t (async)?`` | ``(src, dst, n) -> i32`` | splice |
| ``stream.skip $t (async)?`` | ``(src, n) -> i32`` | skip |
| ``stream.forward $t`` | ``(src, dst) -> ()`` | forward |
| ``future.forward $t`` | ``(src, dst) -> ()`` | forward |
| ``stream.write-end $t`` | ``(h, ptr) -> ()`` | stream-end |
| ``stream.read-end $t`` | ``(h, ptr) -> i32`` | stream-end |
| ``thread.park`` | ``(i) -> i32`` | park |
| ``thread.unpark`` | ``(i) -> i32`` | park |

A splice or skip returns like a stream copy: the packed payload if it
completed at once, else BLOCKED (async) or, sync, it waits for its own
event. The rest of the semantics is in :mod:`.pumps`, :mod:`.stream_end`
and :mod:`.parking`.
"""

from __future__ import annotations

from typing import Any

from ... import trace
from ...errors import Trap, trap_if
from .. import messages, values
from ..calls import RuntimeContext
from ..canonical_builtins import _finish_copy, _inst, _lookup_end, _may_block
from ..futures import ReadableFutureEnd, WritableFutureEnd
from ..options import CanonicalOptions
from ..streams import CopyEnd, CopyState, ReadableStreamEnd, Rendezvous, WritableStreamEnd
from ..threads import current_thread
from ..types import FutureType, StreamType
from . import parking
from .features import require
from .pumps import Pump, PumpKind
from .stream_end import END_MOVED, END_TYPES_DIFFER, NOT_ENDED, EndValue, holds_handles

SPLICE_INTO_ITSELF = "cannot splice or forward a stream or future into itself"
FORWARD_IN_SET = "cannot forward an end that is in a waitable set"
HOST_STREAM = "splice, skip and forward act on streams and futures between components, not host ones"
SKIP_HANDLES = "stream.skip: cannot discard values that hold handles (they would leak)"


def _idle_end(inst: Any, i: int, t: Any, end_type: type, op: str, async_: bool = True) -> CopyEnd:
    """The end at ``i``, of ``end_type``, with no copy in progress: the checks a copy makes."""
    e = _lookup_end(inst, i, t, end_type)
    if not isinstance(e, end_type) or e.state in (CopyState.COPYING, CopyState.CANCELLING_COPY):
        raise Trap(messages.CONCURRENT_COPY)
    if e.state == CopyState.DONE:
        raise Trap(messages.copy_after_done(op, e.thing))
    if e.wset is not None and not async_:
        raise Trap(messages.SYNC_AND_ASYNC_WAIT)
    return e


def _pumped_end(inst: Any, i: int, t: Any, end_type: type, op: str, async_: bool = True) -> CopyEnd:
    """An end a pump may take: idle, and shared with another guest (not a host stream)."""
    e = _idle_end(inst, i, t, end_type, op, async_)
    trap_if(not isinstance(e.shared, Rendezvous), HOST_STREAM)
    return e


def _store(inst: Any) -> Any:
    return inst.store


def canon_stream_splice(t: Any, opts: CanonicalOptions, src_i: int, dst_i: int, n: int) -> list[int]:
    inst = _inst() if opts.async_ else _may_block()
    require(_store(inst), "splice")
    src = _pumped_end(inst, src_i, t, ReadableStreamEnd, "read", opts.async_)
    dst = _pumped_end(inst, dst_i, t, WritableStreamEnd, "write", opts.async_)
    trap_if(src.shared is dst.shared, SPLICE_INTO_ITSELF)
    Pump(PumpKind.SPLICE, inst, src, src_i, dst, dst_i, n).start()
    return _finish_copy(dst, opts.async_, dst_i, "splice")


def canon_stream_skip(t: Any, opts: CanonicalOptions, i: int, n: int) -> list[int]:
    inst = _inst() if opts.async_ else _may_block()
    require(_store(inst), "skip")
    src = _pumped_end(inst, i, t, ReadableStreamEnd, "read", opts.async_)
    trap_if(holds_handles(t.t), SKIP_HANDLES)
    Pump(PumpKind.SKIP, inst, src, i, None, 0, n).start()
    return _finish_copy(src, opts.async_, i, "skip")


def _forward(t: Any, src_i: int, dst_i: int, readable: type, writable: type) -> Pump:
    inst = _inst()
    require(_store(inst), "forward")
    src = _pumped_end(inst, src_i, t, readable, "read")
    dst = _pumped_end(inst, dst_i, t, writable, "write")
    trap_if(src.shared is dst.shared, SPLICE_INTO_ITSELF)
    trap_if(src.wset is not None or dst.wset is not None, FORWARD_IN_SET)
    # Both ends leave the caller's table at once: the forward owns them now.
    inst.handles.remove(src_i)
    inst.handles.remove(dst_i)
    pump = Pump(PumpKind.FORWARD, inst, src, src_i, dst, dst_i, None)
    pump.start()
    return pump


def canon_stream_forward(t: Any, src_i: int, dst_i: int) -> list[Any]:
    _forward(t, src_i, dst_i, ReadableStreamEnd, WritableStreamEnd)
    return []


def canon_future_forward(t: Any, src_i: int, dst_i: int) -> list[Any]:
    _forward(t, src_i, dst_i, ReadableFutureEnd, WritableFutureEnd)
    return []


# -- stream<T, U> ------------------------------------------------------------------------------


def canon_stream_write_end(t: Any, end_t: Any, opts: CanonicalOptions, i: int, ptr: int) -> list[Any]:
    """Close the stream with an end value of type ``end_t`` stored at ``ptr``."""
    inst = _inst()
    value = None if end_t is None else values.load(RuntimeContext(opts, inst), ptr, end_t)
    stream_close_with(inst, t, end_t, i, value)
    return []


def stream_close_with(inst: Any, t: Any, end_t: Any, i: int, value: Any) -> None:
    """``write-end`` once the value is lifted (from memory, or from flat arguments)."""
    require(_store(inst), "stream-end")
    e = _idle_end(inst, i, t, WritableStreamEnd, "write")
    shared = e.shared
    previous = getattr(shared, "end_value", None)
    trap_if(previous is not None and previous.t != end_t, END_TYPES_DIFFER)
    shared.end_value = EndValue(end_t, value)
    e.drop()
    inst.handles.remove(i)
    trace.emit("stream.write-end", index=i, value=value)


def canon_stream_read_end(t: Any, end_t: Any, opts: CanonicalOptions, i: int, ptr: int) -> list[int]:
    """Store the stream's end value at ``ptr``: 1, or 0 if the writer dropped without one."""
    inst = _inst()
    found, value = stream_end_value(inst, t, end_t, i)
    if found and end_t is not None:
        values.store(RuntimeContext(opts, inst), value, end_t, ptr)
    return [int(found)]


def stream_end_value(inst: Any, t: Any, end_t: Any, i: int) -> tuple[bool, Any]:
    """``read-end`` before lowering: ``(True, value)``, or ``(False, None)`` without one."""
    require(_store(inst), "stream-end")
    e = _lookup_end(inst, i, t, ReadableStreamEnd)
    trap_if(not isinstance(e, ReadableStreamEnd), messages.not_a("stream"))
    trap_if(e.state != CopyState.DONE, NOT_ENDED)
    end = getattr(e.shared, "end_value", None)
    if end is None:
        return False, None
    trap_if(end.t != end_t, END_TYPES_DIFFER)
    trap_if(end.taken and holds_handles(end_t), END_MOVED)
    end.taken = True
    return True, end.value


def end_type(inst: Any, i: int, thing: str) -> Any:
    """The ``stream``/``future`` type of the end at ``i`` (for callers that name no type)."""
    e = inst.handles.get(i)
    if not isinstance(e, CopyEnd) or e.thing != thing:
        raise Trap(messages.not_a(thing))
    return (StreamType if thing == "stream" else FutureType)(e.shared.t)


# -- park / unpark ----------------------------------------------------------------------------------


def canon_thread_park(i: int) -> list[int]:
    thread = current_thread()
    require(thread.task.store, "park")
    inst = _may_block()
    target = inst.threads.get(i)
    return [parking.park(thread, target)]


def canon_thread_unpark(i: int) -> list[int]:
    thread = current_thread()
    require(thread.task.store, "park")
    inst = thread.task.inst
    inst.check_may_leave()
    target = inst.threads.get(i)
    return [parking.unpark(thread, target)]

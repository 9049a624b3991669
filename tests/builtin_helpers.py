"""Constants, small drivers and component texts shared by the test files."""

import pytest

from stackswitch.canon.types import FuncType, FutureType, StreamType, U8Type, U32Type
from stackswitch.embed.guest import PyComponent
from stackswitch.errors import Trap

BLOCKED = 0xFFFF_FFFF
NONE, SUBTASK, STREAM_READ, STREAM_WRITE, FUTURE_READ, FUTURE_WRITE, TASK_CANCELLED = range(7)
STARTING, STARTED, RETURNED, CANCELLED_BEFORE_STARTED, CANCELLED_BEFORE_RETURNED = range(5)
COMPLETED, DROPPED, CANCELLED = range(3)
EXIT, YIELD, WAIT = range(3)

U32 = U32Type()
ASYNC_U32 = FuncType([], [U32], async_=True)
SYNC_U32 = FuncType([], [U32])
SYNC_NONE = FuncType([], [])
F_U32 = FutureType(U32)
S_U8 = StreamType(U8Type())

CANNOT_LEAVE = "cannot leave component instance"
SYNC_BLOCK = "cannot block a synchronous task before returning"
SYNC_AND_ASYNC = "waitable cannot be used synchronously while added to a waitable set"
CONCURRENT = "wasm trap: cannot have concurrent operations active on a future/stream"
NOT_SUSPENDED = "wasm trap: cannot resume thread which is not suspended"


def run_async(store, comp, body):
    """Run ``body()`` as an async stackful export of ``comp``; returns what body returned."""
    out = []

    @comp.export(ASYNC_U32, abi="stackful", name=body.__name__)
    def run():
        out.append(body())
        comp.task_return(0)

    assert store.call(run, []) == [0]
    return out[0]


def run_sync(store, comp, body):
    """The same with a sync-lifted export."""
    out = []

    @comp.export(SYNC_U32, name=body.__name__)
    def run():
        out.append(body())
        return 0

    assert store.call(run, []) == [0]
    return out[0]


def bytes_at(comp, data):
    """A pointer to a fresh copy of ``data`` in ``comp``'s memory (one byte for empty data)."""
    ptr = comp.alloc(max(len(data), 1), 1)
    comp.memory.write(ptr, data)
    return ptr


def event_of(comp, end, poll=False):
    """The event ``end`` delivers: joined alone to a new waitable set, waited for (or polled,
    which does not block), then unjoined."""
    ws = comp.waitable_set_new()
    comp.waitable_join(end, ws)
    event = comp.poll(ws) if poll else comp.wait(ws)
    comp.waitable_join(end, 0)
    comp.waitable_set_drop(ws)
    return event


def trap_in(store, body, message):
    """Run ``body(a)`` in an async export of a fresh component ``a``: it must trap with ``message``."""
    a = PyComponent(store, "a")
    with pytest.raises(Trap, match=message):
        run_async(store, a, lambda: body(a))


def string_lift_with_realloc(realloc, prelude=""):
    """A component exporting ``f: func(s: string) -> u32`` (the string's length), lifted with a
    memory and the core function ``realloc`` (its WAT, exported as "realloc") as its realloc;
    ``prelude`` goes first in the core module (a tag the realloc throws, say)."""
    return f"""(component
  (core module $m
    {prelude}
    (memory (export "mem") 1)
    {realloc}
    (func (export "f") (param i32 i32) (result i32) local.get 1))
  (core instance $i (instantiate $m))
  (func (export "f") (param "s" string) (result u32)
    (canon lift (core func $i "f") (memory (core memory $i "mem"))
      (realloc (core func $i "realloc")))))"""

"""The seed presentation's slides as executable scenarios, with Python guests.

Every scenario that uses the ``store`` fixture runs under FIFO and under a few
seeded random schedules (``POLICIES``). The spec leaves those choices open
(which ready thread runs, whether a satisfied wait or a yield blocks, which
pending event comes first), so a scenario asserts under every policy only
what the spec guarantees; a step whose order is FIFO's own choice (the
slide's order of events) is checked under ``policy == "fifo"`` only.
"""

import pytest
from builtin_helpers import (
    ASYNC_U32,
    BLOCKED,
    CANCELLED_BEFORE_RETURNED,
    COMPLETED,
    DROPPED,
    EXIT,
    FUTURE_READ,
    RETURNED,
    STARTED,
    SUBTASK,
    TASK_CANCELLED,
    U32,
    WAIT,
)

from stackswitch import trace
from stackswitch.canon.store import Store
from stackswitch.canon.types import FuncType, FutureType, StreamType, U8Type
from stackswitch.embed.guest import PyComponent
from stackswitch.embed.host import TaskCancelled, wait_until, yield_
from stackswitch.errors import HostError, Trap
from stackswitch.scheduler import Deadlock

POLICIES = ["fifo", "random:1", "random:2", "random:3", "random:5", "random:7", "random:11"]


@pytest.fixture(params=POLICIES)
def policy(request) -> str:
    return request.param


@pytest.fixture
def store(policy):
    """A store scheduled by ``policy`` (overrides conftest's FIFO store)."""
    return Store(policy)


def test_future_example_lower_read_return_wait(store, policy):
    """A calls B.get() -> future<u32>; B returns the future first, writes it later."""
    fut_t = FutureType(U32)
    get_t = FuncType([], [fut_t], async_=True)
    a, b = PyComponent(store, "a"), PyComponent(store, "b")

    @b.export(get_t, abi="stackful")
    def get():
        readable, writable = b.future_new(fut_t)
        b.task_return(readable)            # the caller gets the future now...
        b.thread_yield()                   # ...and the value a bit later
        ptr = b.alloc(4, 4)
        b.memory.store_u32(ptr, 42)
        # a sync write: it waits for the reader if the reader is not there yet
        assert b.future_write(fut_t, writable, ptr, async_=False) == COMPLETED
        b.future_drop_writable(fut_t, writable)

    call_get = a.import_(get, get_t, async_=True)

    @a.export(ASYNC_U32, abi="stackful")
    def run():
        retptr = a.alloc(4, 4)
        assert call_get(retptr) == RETURNED            # lower: returned eagerly
        fut = a.memory.load_u32(retptr)
        valptr = a.alloc(4, 4)
        status = a.future_read(fut_t, fut, valptr)
        # read: not yet under FIFO; b's yield may also keep running, and
        # then b's write is there first and the read completes at once
        assert status == BLOCKED if policy == "fifo" else status in (BLOCKED, COMPLETED)
        ws = a.waitable_set_new()
        if status == BLOCKED:
            a.waitable_join(fut, ws)
            assert a.wait(ws) == (FUTURE_READ, fut, COMPLETED)   # wait
            a.waitable_join(fut, 0)
        a.future_drop_readable(fut_t, fut)
        a.waitable_set_drop(ws)
        a.task_return(a.memory.load_u32(valptr))           # return

    assert store.call(run, []) == [42]


def test_eager_return_needs_no_trip_through_the_event_loop(store):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    f_t = FuncType([("x", U32)], [U32], async_=True)

    @b.export(f_t, abi="stackful")
    def double(x):
        b.task_return(2 * x)

    call = a.import_(double, f_t, async_=True)
    seen = {}

    @a.export(ASYNC_U32, abi="stackful")
    def run():
        retptr = a.alloc(4, 4)
        ticks = store.scheduler.ticks
        status = call(21, retptr)
        seen["status"] = status
        seen["ticks during call"] = store.scheduler.ticks - ticks
        seen["handles"] = len(a.inst.handles)
        a.task_return(a.memory.load_u32(retptr))

    assert store.call(run, []) == [42]
    assert seen == {"status": RETURNED, "ticks during call": 0, "handles": 0}


def _server(store, style):
    """B.get(x): calls the host's slow(x) and returns slow(x) + 1, in either ABI style."""
    slow_t = FuncType([("x", U32)], [U32], async_=True)
    get_t = FuncType([("x", U32)], [U32], async_=True)

    def slow(x):
        yield_()                      # the host's I/O takes one turn of the event loop
        return x * 10

    host_slow = store.host_function(slow, slow_t, name="slow")
    b = PyComponent(store, f"b-{style}")
    call_slow = b.import_(host_slow, slow_t, async_=True)
    retptr = b.alloc(4, 4)

    if style == "stackful":
        @b.export(get_t, abi="stackful")
        def get(x):
            status = call_slow(x, retptr)
            if status & 0xF != RETURNED:
                ws = b.waitable_set_new()
                b.waitable_join(status >> 4, ws)
                event = b.wait(ws)
                assert event == (SUBTASK, status >> 4, RETURNED)
                b.subtask_drop(status >> 4)
                b.waitable_set_drop(ws)
            b.task_return(b.memory.load_u32(retptr) + 1)
    else:
        def callback(event, index, payload):
            assert (event, payload) == (SUBTASK, RETURNED)
            b.subtask_drop(index)
            b.waitable_set_drop(b.context_get(0))
            b.task_return(b.memory.load_u32(retptr) + 1)
            return EXIT

        @b.export(get_t, abi="callback", callback=callback)
        def get(x):
            status = call_slow(x, retptr)
            ws = b.waitable_set_new()
            b.waitable_join(status >> 4, ws)
            b.context_set(0, ws)
            return WAIT | (ws << 4)

    return get, get_t


@pytest.mark.parametrize("style", ["stackful", "callback"])
def test_callback_loop_and_stackful_body_give_the_same_observable_trace(style):
    from stackswitch.canon.store import Store

    store = Store()
    get, get_t = _server(store, style)
    with trace.Recorder(("task.return", "host.invoke")) as rec:
        assert store.call(get, [4]) == [41]
    observable = [(e.kind, e.fields.get("result", e.fields.get("args"))) for e in rec.events]
    assert observable == [("host.invoke", [4]), ("task.return", [40]), ("task.return", [41])]


def test_callback_and_stackful_traces_are_identical():
    from stackswitch.canon.store import Store

    traces = []
    for style in ("stackful", "callback"):
        store = Store()
        get, _ = _server(store, style)
        with trace.Recorder(("task.return",)) as rec:
            store.call(get, [7])
        traces.append([e.fields["result"] for e in rec.events])
    assert traces[0] == traces[1] == [[70], [71]]


def _stream_pair(store, chunk_sizes, read_size, log):
    """A writes bytes 0..N in chunks to B, which reads read_size at a time."""
    s_t = StreamType(U8Type())
    sink_t = FuncType([("s", s_t)], [U32], async_=True)
    a, b = PyComponent(store, "writer"), PyComponent(store, "reader")

    @b.export(sink_t, abi="stackful")
    def sink(readable):
        buf = b.alloc(read_size, 1)
        ws = b.waitable_set_new()
        got = bytearray()
        while True:
            status = b.stream_read(s_t, readable, buf, read_size)
            if status == BLOCKED:
                log.append("reader blocked")
                b.waitable_join(readable, ws)
                _, _, status = b.wait(ws)
                b.waitable_join(readable, 0)
            n = status >> 4
            got += b.memory.read(buf, n)
            log.append(f"reader got {n}")
            if status & 0xF == DROPPED:
                break
        b.stream_drop_readable(s_t, readable)
        b.waitable_set_drop(ws)
        b.task_return(len(got))
        log.append(bytes(got))

    call_sink = a.import_(sink, sink_t, async_=True)

    @a.export(ASYNC_U32, abi="stackful")
    def run():
        r, w = a.stream_new(s_t)
        retptr = a.alloc(4, 4)
        status = call_sink(r, retptr)
        ws = a.waitable_set_new()
        data = a.alloc(sum(chunk_sizes), 1)
        a.memory.store_bytes(data, bytes(range(sum(chunk_sizes))))
        offset = 0
        for size in chunk_sizes:
            status_w = a.stream_write(s_t, w, data + offset, size)
            if status_w == BLOCKED:
                log.append(f"writer blocked with {size}")
                a.waitable_join(w, ws)
                _, _, status_w = a.wait(ws)
                a.waitable_join(w, 0)
            log.append(f"writer wrote {status_w >> 4}")
            offset += status_w >> 4
        a.stream_drop_writable(s_t, w)
        if status & 0xF != RETURNED:
            a.waitable_join(status >> 4, ws)
            assert a.wait(ws)[0] == SUBTASK
            a.subtask_drop(status >> 4)
        a.waitable_set_drop(ws)
        a.task_return(a.memory.load_u32(retptr))

    return run


def test_stream_backpressure_writer_stays_blocked_until_reader_reads(store):
    log = []
    run = _stream_pair(store, [4, 4], 4, log)
    assert store.call(run, []) == [8]
    assert log[-1] == bytes(range(8))
    # The first write finds the reader parked and completes at once; the second
    # finds nobody and blocks until the reader comes back for more.
    blocked = log.index("writer blocked with 4")
    assert "reader got 4" in log[blocked:]
    assert log.index("writer wrote 4", blocked) > log.index("reader got 4", blocked)


def test_partial_copies_are_batched_into_one_buffer(store):
    """Two writes land in one pending read before the reader takes its event."""
    log = []
    run = _stream_pair(store, [3, 3], 8, log)
    assert store.call(run, []) == [6]
    assert "reader got 6" in log
    assert log[-1] == bytes(range(6))


def test_a_task_may_resolve_while_its_subtasks_still_run(store):
    """The spec's structured concurrency: the supertask 'tail calls' live subtasks."""
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    finished = []

    @b.export(ASYNC_U32, abi="stackful")
    def slow():
        # A yield may keep running: yield until a has returned, so that the
        # call is sure to block (STARTED) and to outlive a.
        while "a" not in finished:
            b.thread_yield()
        b.task_return(5)
        finished.append("b")

    call = a.import_(slow, ASYNC_U32, async_=True)

    @a.export(ASYNC_U32, abi="stackful")
    def run():
        status = call(a.alloc(4, 4))
        assert status & 0xF == STARTED
        a.task_return(1)     # returns while the subtask is still running
        finished.append("a")

    result = store.invoke(run, [])
    store.run()
    assert result.value == [1]
    assert finished == ["a", "b"]


def test_dropping_an_unresolved_subtask_traps(store):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")

    @b.export(ASYNC_U32, abi="stackful")
    def slow():
        b.wait(b.waitable_set_new())    # blocks for good: the call is STARTED
        b.task_return(5)

    call = a.import_(slow, ASYNC_U32, async_=True)

    @a.export(ASYNC_U32, abi="stackful")
    def run():
        status = call(a.alloc(4, 4))
        assert status & 0xF == STARTED
        a.subtask_drop(status >> 4)

    with pytest.raises(Trap, match="cannot drop a subtask which has not yet resolved"):
        store.call(run, [])


def test_an_async_task_that_never_returns_traps_when_its_last_thread_exits(store):
    a = PyComponent(store, "a")

    @a.export(ASYNC_U32, abi="stackful")
    def run():
        pass

    with pytest.raises(Trap, match="failed to produce a result"):
        store.call(run, [])


def test_cooperative_cancellation_callee_keeps_working_before_it_resolves(store, policy):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    log = []
    helper_t = FuncType([], [U32], async_=True)

    def cleanup():
        yield_()                      # cleanup I/O takes one turn of the event loop
        return 7

    host_cleanup = store.host_function(cleanup, helper_t, name="cleanup")
    call_cleanup = b.import_(host_cleanup, helper_t, async_=False)

    @b.export(ASYNC_U32, abi="stackful")
    def work():
        ws = b.waitable_set_new()
        event = b.wait(ws, cancellable=True)        # blocks until cancelled
        log.append(("b saw", event))
        log.append(("b cleanup", call_cleanup(b.alloc(4, 4))))   # still calls imports
        b.thread_yield()                           # and still waits
        b.waitable_set_drop(ws)
        b.task_cancel()
        log.append("b cancelled")

    call = a.import_(work, ASYNC_U32, async_=True)

    @a.export(ASYNC_U32, abi="stackful")
    def run():
        status = call(a.alloc(4, 4))
        sub = status >> 4
        a.thread_yield()
        result = a.subtask_cancel(sub, async_=True)
        log.append(("a cancel ->", result))
        if result == BLOCKED:
            ws = a.waitable_set_new()
            a.waitable_join(sub, ws)
            event = a.wait(ws)
            log.append(("a saw", event))
            a.waitable_join(sub, 0)
            a.waitable_set_drop(ws)
            result = event[2]
        a.subtask_drop(sub)
        a.task_return(result)

    assert store.call(run, []) == [CANCELLED_BEFORE_RETURNED]
    # b sees the cancellation at once (it waits cancellably), and still calls
    # imports before it confirms with task.cancel.
    assert log[0] == ("b saw", (TASK_CANCELLED, 0, 0))
    assert log.index(("b cleanup", 7)) < log.index("b cancelled")
    if policy == "fifo":
        # b's cleanup blocks, so a's cancel returns BLOCKED and a waits for
        # the event. (Under other schedules the host's yield and b's yield may
        # keep running: then b confirms first and the cancel returns the state.)
        assert log[1] == ("a cancel ->", BLOCKED)
        assert log[2] == ("b cleanup", 7)
        assert log[3] == "b cancelled"
        assert log[4][0] == "a saw" and log[4][1][0] == SUBTASK
        assert log[4][1][2] == CANCELLED_BEFORE_RETURNED


def test_host_function_sees_cancellation_as_an_exception(store):
    a = PyComponent(store, "a")
    seen = []

    def forever():
        try:
            wait_until(lambda: False, "never")
        except TaskCancelled:
            seen.append("cancelled")
            raise

    host = store.host_function(forever, ASYNC_U32, name="forever")
    call = a.import_(host, ASYNC_U32, async_=True)

    @a.export(ASYNC_U32, abi="stackful")
    def run():
        status = call(a.alloc(4, 4))
        state = a.subtask_cancel(status >> 4)
        a.subtask_drop(status >> 4)
        a.task_return(state)

    assert store.call(run, []) == [CANCELLED_BEFORE_RETURNED]
    assert seen == ["cancelled"]


def test_streams_pass_through_three_instances_with_ownership_transfer(store):
    """A makes a stream, hands the readable end to B, which hands it on to C."""
    s_t = StreamType(U8Type())
    take_t = FuncType([("s", s_t)], [U32], async_=True)
    a, b, c = (PyComponent(store, n) for n in "abc")

    @c.export(take_t, abi="stackful")
    def c_take(readable):
        buf = c.alloc(16, 1)
        ws = c.waitable_set_new()
        status = c.stream_read(s_t, readable, buf, 16)
        if status == BLOCKED:
            c.waitable_join(readable, ws)
            _, _, status = c.wait(ws)
            c.waitable_join(readable, 0)
        c.stream_drop_readable(s_t, readable)
        c.waitable_set_drop(ws)
        c.task_return(sum(c.memory.read(buf, status >> 4)))

    call_c = b.import_(c_take, take_t, async_=False)

    @b.export(take_t, abi="stackful")
    def b_take(readable):
        result = call_c(readable)         # B passes it on: B's handle is gone
        with pytest.raises(Trap, match="unknown handle index"):
            b.stream_read(s_t, readable, b.alloc(1, 1), 1)
        b.task_return(result)

    # b traps above inside pytest.raises and carries on; poison only follows an escaping trap
    call_b = a.import_(b_take, take_t, async_=True)

    @a.export(ASYNC_U32, abi="stackful")
    def run():
        r, w = a.stream_new(s_t)
        retptr = a.alloc(4, 4)
        status = call_b(r, retptr)
        data = a.alloc(3, 1)
        a.memory.store_bytes(data, b"\x01\x02\x03")
        ws = a.waitable_set_new()
        wrote = a.stream_write(s_t, w, data, 3)
        if wrote == BLOCKED:
            a.waitable_join(w, ws)
            _, _, wrote = a.wait(ws)
            a.waitable_join(w, 0)
        assert wrote >> 4 == 3
        a.stream_drop_writable(s_t, w)
        if status & 0xF != RETURNED:
            a.waitable_join(status >> 4, ws)
            a.wait(ws)
            a.subtask_drop(status >> 4)
        a.waitable_set_drop(ws)
        a.task_return(a.memory.load_u32(retptr))

    assert store.call(run, []) == [6]


def test_reentering_an_instance_on_the_call_stack_traps(store):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    sync_t = FuncType([], [U32])

    @a.export(sync_t)
    def callback_into_a():
        return 1

    call_a = b.import_(callback_into_a, sync_t)

    @b.export(sync_t)
    def b_calls_back():
        return call_a()

    call_b = a.import_(b_calls_back, sync_t)

    @a.export(sync_t)
    def run():
        return call_b()

    with pytest.raises(Trap, match="cannot enter component instance"):
        store.call(run, [])
    # The trap poisoned the instances it unwound through.
    with pytest.raises(Trap, match="cannot enter component instance"):
        store.call(run, [])


def test_deadlock_is_detected_and_names_what_each_task_waits_on(store):
    a = PyComponent(store, "a")
    fut_t = FutureType(U32)

    @a.export(ASYNC_U32, abi="stackful")
    def run():
        r, w = a.future_new(fut_t)
        a.future_read(fut_t, r, a.alloc(4, 4), async_=False)   # nobody will write

    with pytest.raises(Deadlock, match="deadlock detected") as info:
        store.call(run, [])
    assert "future readable end" in str(info.value)


def test_sync_task_that_blocks_traps(store):
    a = PyComponent(store, "a")

    @a.export(FuncType([], [U32]))
    def run():
        ws = a.waitable_set_new()
        a.waitable_set_wait(ws, 0)

    with pytest.raises(Trap, match="cannot block a synchronous task before returning"):
        store.call(run, [])


def test_a_trap_tears_down_its_instance_and_is_reported_once(store):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")

    @b.export(FuncType([], [U32]))
    def blocks():
        b.waitable_set_wait(b.waitable_set_new(), 0)

    @a.export(FuncType([], [U32]))
    def fine():
        return 1

    with trace.Recorder(("trap",)) as rec:
        with pytest.raises(Trap, match="cannot block a synchronous task"):
            store.call(blocks, [])
    assert [e.fields["message"] for e in rec.events] == [
        "wasm trap: cannot block a synchronous task before returning"]
    # b may not be entered any more; a, which the trap did not unwind, may.
    with pytest.raises(Trap, match="cannot enter component instance"):
        store.call(blocks, [])
    assert store.call(fine, []) == [1]


def test_the_host_may_request_cancellation_only_once(store):
    a = PyComponent(store, "a")

    @a.export(ASYNC_U32, abi="stackful")
    def run():
        a.thread_suspend()          # not cancellable: the request stays pending
        a.task_return(0)

    result = store.invoke(run, [])
    result.cancel()
    with pytest.raises(RuntimeError, match="already called"):
        result.cancel()


def test_a_host_function_of_a_sync_type_may_not_block(store):
    a = PyComponent(store, "a")
    sync_t = FuncType([], [U32])

    def blocks():
        yield_()
        return 1

    host = store.host_function(blocks, sync_t, name="blocks")
    call = a.import_(host, sync_t)

    @a.export(ASYNC_U32, abi="stackful")
    def run():
        a.task_return(call())

    with pytest.raises(HostError, match="'blocks' implements a non-async function type") as e:
        store.call(run, [])
    assert isinstance(e.value.error, RuntimeError) and e.value.function == "blocks"

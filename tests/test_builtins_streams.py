"""The stream.* and future.* built-ins (spec: "canon {stream,future}.*").

Copy results are COMPLETED=0, DROPPED=1, CANCELLED=2, with a stream's progress
count in the bits above the low four; BLOCKED is 0xffffffff.
"""

import re

import pytest
from builtin_helpers import (
    BLOCKED,
    CANCELLED,
    COMPLETED,
    CONCURRENT,
    DROPPED,
    F_U32,
    FUTURE_READ,
    FUTURE_WRITE,
    NONE,
    RETURNED,
    S_U8,
    STARTED,
    STREAM_READ,
    STREAM_WRITE,
    SUBTASK,
    SYNC_AND_ASYNC,
    U32,
    bytes_at,
    event_of,
    run_async,
    trap_in,
)

from stackswitch.canon.store import Store
from stackswitch.canon.types import FuncType, FutureType, StreamType, StringType
from stackswitch.embed.guest import PyComponent
from stackswitch.errors import Trap

S_U32 = StreamType(U32)
S_STR = StreamType(StringType())
F_STR = FutureType(StringType())


def progress(n, result=COMPLETED):
    return result | (n << 4)


# -- stream.new / read / write -------------------------------------------------------------------


def test_stream_new_packs_the_readable_end_low_and_the_writable_end_high(store):
    a = PyComponent(store, "a")
    assert run_async(store, a, lambda: (a.stream_new(S_U8), a.stream_new(S_U8))) == ((1, 2), (3, 4))


def test_a_write_parks_until_a_read_takes_it_then_both_report_the_count(store):
    a = PyComponent(store, "a")

    def body():
        r, w = a.stream_new(S_U8)
        dst = a.alloc(8, 1)
        assert a.stream_write(S_U8, w, bytes_at(a, b"abcd"), 4) == BLOCKED
        assert a.stream_read(S_U8, r, dst, 8) == progress(4)
        assert event_of(a, w) == (STREAM_WRITE, w, progress(4))
        return a.memory.read(dst, 4)

    assert run_async(store, a, body) == b"abcd"


def test_a_read_parks_until_a_write_fills_it(store):
    a = PyComponent(store, "a")

    def body():
        r, w = a.stream_new(S_U32)
        dst, src = a.alloc(12, 4), a.alloc(8, 4)
        a.memory.store_u32(src, 7)
        a.memory.store_u32(src + 4, 0xFFFF_FFFF)
        assert a.stream_read(S_U32, r, dst, 3) == BLOCKED
        assert a.stream_write(S_U32, w, src, 2) == progress(2)
        assert event_of(a, r) == (STREAM_READ, r, progress(2))
        return a.memory.load_u32(dst), a.memory.load_u32(dst + 4)

    assert run_async(store, a, body) == (7, 0xFFFF_FFFF)


def test_several_partial_reads_accumulate_in_the_writers_progress(store):
    a = PyComponent(store, "a")

    def body():
        r, w = a.stream_new(S_U8)
        dst = a.alloc(4, 1)
        assert a.stream_write(S_U8, w, bytes_at(a, b"wxyz"), 4) == BLOCKED
        assert a.stream_read(S_U8, r, dst, 1) == progress(1)
        assert a.stream_read(S_U8, r, dst + 1, 2) == progress(2)
        event = event_of(a, w)                       # the writer's buffer is reclaimed now
        assert a.stream_read(S_U8, r, dst + 3, 1) == BLOCKED
        return event, a.memory.read(dst, 3)

    assert run_async(store, a, body) == ((STREAM_WRITE, 2, progress(3)), b"wxy")


def test_a_stream_without_element_type_moves_counts_and_ignores_pointers(store):
    a = PyComponent(store, "a")
    st = StreamType(None)

    def body():
        r, w = a.stream_new(st)
        assert a.stream_write(st, w, 10**9, 5) == BLOCKED
        assert a.stream_read(st, r, 10**9 + 1, 3) == progress(3)
        return a.stream_read(st, r, 0, 9)

    assert run_async(store, a, body) == progress(2)


def test_dropping_the_readable_end_reports_dropped_with_the_progress_made(store):
    a = PyComponent(store, "a")

    def body():
        r, w = a.stream_new(S_U8)
        assert a.stream_write(S_U8, w, bytes_at(a, b"abcd"), 4) == BLOCKED
        assert a.stream_read(S_U8, r, a.alloc(2, 1), 2) == progress(2)
        a.stream_drop_readable(S_U8, r)
        event = event_of(a, w)
        a.stream_drop_writable(S_U8, w)
        return event

    assert run_async(store, a, body) == (STREAM_WRITE, 2, progress(2, DROPPED))


def test_dropping_the_writable_end_wakes_a_parked_reader_with_dropped(store):
    a = PyComponent(store, "a")

    def body():
        r, w = a.stream_new(S_U8)
        assert a.stream_read(S_U8, r, a.alloc(2, 1), 2) == BLOCKED
        a.stream_drop_writable(S_U8, w)
        return event_of(a, r)

    assert run_async(store, a, body) == (STREAM_READ, 1, DROPPED)


def test_reading_after_the_writer_dropped_is_dropped_once_then_traps(store):
    def body(a):
        r, w = a.stream_new(S_U8)
        a.stream_drop_writable(S_U8, w)
        assert a.stream_read(S_U8, r, a.alloc(1, 1), 1) == DROPPED
        a.stream_read(S_U8, r, a.alloc(1, 1), 1)

    trap_in(store, body, "cannot read from stream after being notified that the writable end dropped")


def test_writing_after_the_reader_dropped_is_dropped_once_then_traps(store):
    def body(a):
        r, w = a.stream_new(S_U8)
        a.stream_drop_readable(S_U8, r)
        assert a.stream_write(S_U8, w, bytes_at(a, b"x"), 1) == DROPPED
        a.stream_write(S_U8, w, bytes_at(a, b"x"), 1)

    trap_in(store, body, "cannot write to stream after being notified that the readable end dropped")


def test_a_zero_length_write_completes_at_once_and_leaves_the_read_parked(store):
    a = PyComponent(store, "a")

    def body():
        r, w = a.stream_new(S_U8)
        dst = a.alloc(4, 1)
        assert a.stream_read(S_U8, r, dst, 4) == BLOCKED
        assert a.stream_write(S_U8, w, 0, 0) == progress(0)
        assert event_of(a, r, poll=True) == (NONE, 0, 0)               # the reader still waits
        assert a.stream_write(S_U8, w, bytes_at(a, b"hi"), 2) == progress(2)
        return event_of(a, r)

    assert run_async(store, a, body) == (STREAM_READ, 1, progress(2))


def test_a_zero_length_read_is_told_when_a_writer_arrives_and_the_writer_stays_parked(store):
    a = PyComponent(store, "a")

    def body():
        r, w = a.stream_new(S_U8)
        assert a.stream_read(S_U8, r, 0, 0) == BLOCKED
        assert a.stream_write(S_U8, w, bytes_at(a, b"abc"), 3) == BLOCKED
        ready = event_of(a, r)                                 # readiness, no data
        dst = a.alloc(3, 1)
        assert a.stream_read(S_U8, r, dst, 3) == progress(3)
        return ready, event_of(a, w), a.memory.read(dst, 3)

    assert run_async(store, a, body) == (
        (STREAM_READ, 1, progress(0)), (STREAM_WRITE, 2, progress(3)), b"abc")


def test_zero_length_read_and_write_the_write_completes_the_read_stays(store):
    a = PyComponent(store, "a")

    def body():
        r, w = a.stream_new(S_U8)
        assert a.stream_read(S_U8, r, 0, 0) == BLOCKED
        assert a.stream_write(S_U8, w, 0, 0) == progress(0)
        assert event_of(a, r, poll=True) == (NONE, 0, 0)
        assert a.stream_cancel_read(S_U8, r) == progress(0, CANCELLED)
        return a.stream_write(S_U8, w, 0, 0)          # and a zero-length write may park too

    assert run_async(store, a, body) == BLOCKED


def test_streams_carry_strings_between_instances_through_the_readers_realloc(store):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    sink_t = FuncType([("s", S_STR)], [U32], async_=True)
    got = []

    @b.export(sink_t, abi="stackful")
    def sink(r):
        buf = b.alloc(16, 4)
        status = b.stream_read(S_STR, r, buf, 2, async_=False)      # a sync read blocks
        for i in range(status >> 4):
            got.append(b.memory.load_str(b.memory.load_u32(buf + 8 * i),
                                         b.memory.load_u32(buf + 8 * i + 4)))
        b.stream_drop_readable(S_STR, r)
        b.task_return(status)

    call = a.import_(sink, sink_t, async_=True)

    def body():
        r, w = a.stream_new(S_STR)
        retptr = a.alloc(4, 4)
        status = call(r, retptr)
        assert status & 0xF == STARTED
        elems = a.alloc(16, 4)
        for i, text in enumerate(["ab", "cdé"]):
            p = bytes_at(a, text.encode())
            a.memory.store_u32(elems + 8 * i, p)
            a.memory.store_u32(elems + 8 * i + 4, len(text.encode()))
        assert a.stream_write(S_STR, w, elems, 2) == progress(2)
        a.stream_drop_writable(S_STR, w)       # before B took its event: B's buffer is
        assert event_of(a, status >> 4) == (SUBTASK, status >> 4, RETURNED)   # still parked
        return a.memory.load_u32(retptr)

    # one event tells B both: two strings arrived, and the writer dropped
    assert run_async(store, a, body) == progress(2, DROPPED)
    assert got == ["ab", "cdé"]


def test_an_intra_instance_stream_copy_of_non_numbers_traps(store):
    def body(a):
        r, w = a.stream_new(S_STR)
        assert a.stream_write(S_STR, w, a.alloc(8, 4), 1) == BLOCKED
        a.stream_read(S_STR, r, a.alloc(8, 4), 1)

    trap_in(store, body, "cannot read from and write to intra-component future/stream with non-numeric payload")


# -- stream read/write traps ---------------------------------------------------------------------------


def test_reading_a_writable_end_traps_as_a_concurrent_operation(store):
    def body(a):
        r, w = a.stream_new(S_U8)
        a.stream_read(S_U8, w, a.alloc(1, 1), 1)

    trap_in(store, body, CONCURRENT)


def test_writing_a_readable_end_traps_as_a_concurrent_operation(store):
    def body(a):
        r, w = a.stream_new(S_U8)
        a.stream_write(S_U8, r, a.alloc(1, 1), 1)

    trap_in(store, body, CONCURRENT)


def test_a_second_read_while_one_is_pending_traps(store):
    def body(a):
        r, w = a.stream_new(S_U8)
        assert a.stream_read(S_U8, r, a.alloc(1, 1), 1) == BLOCKED
        a.stream_read(S_U8, r, a.alloc(1, 1), 1)

    trap_in(store, body, CONCURRENT)


def test_a_stream_read_with_another_element_type_traps(store):
    def body(a):
        r, w = a.stream_new(S_U8)
        a.stream_read(S_U32, r, a.alloc(4, 4), 1)

    trap_in(store, body, "handle is a stream of a different type")


def test_stream_builtins_on_a_future_trap(store):
    def body(a):
        r, w = a.future_new(F_U32)
        a.stream_read(S_U8, r, a.alloc(1, 1), 1)

    trap_in(store, body, "handle is not a stream")


def test_a_sync_read_of_an_end_in_a_waitable_set_traps(store):
    def body(a):
        r, w = a.stream_new(S_U8)
        a.waitable_join(r, a.waitable_set_new())
        a.stream_read(S_U8, r, a.alloc(1, 1), 1, async_=False)

    trap_in(store, body, SYNC_AND_ASYNC)


@pytest.mark.parametrize("op, ptr, n, message", [
    ("read", 4, 2**28, "stream read/write count too large"),
    ("read", 2, 1, "write pointer not aligned"),
    ("read", 65536 - 4, 2, "write pointer out of bounds of memory"),
    ("write", 1, 1, "read pointer not aligned"),
    ("write", 65536, 1, "read pointer out of bounds of memory"),
])
def test_a_stream_buffer_is_checked_when_the_copy_starts(store, op, ptr, n, message):
    def body(a):
        r, w = a.stream_new(S_U32)
        if op == "read":
            a.stream_read(S_U32, r, ptr, n)
        else:
            a.stream_write(S_U32, w, ptr, n)

    trap_in(store, body, message)


# -- stream.cancel-read / cancel-write --------------------------------------------------------------------


@pytest.mark.parametrize("async_", [False, True])
def test_cancelling_a_parked_read_returns_cancelled_and_the_end_can_read_again(store, async_):
    a = PyComponent(store, "a")

    def body():
        r, w = a.stream_new(S_U8)
        dst = a.alloc(2, 1)
        assert a.stream_read(S_U8, r, dst, 2) == BLOCKED
        cancelled = a.stream_cancel_read(S_U8, r, async_=async_)
        assert a.stream_write(S_U8, w, bytes_at(a, b"z"), 1) == BLOCKED   # nobody reads now
        assert a.stream_read(S_U8, r, dst, 2) == progress(1)
        return cancelled

    assert run_async(store, a, body) == progress(0, CANCELLED)


def test_cancelling_a_write_that_already_made_progress_returns_that_progress(store):
    a = PyComponent(store, "a")

    def body():
        r, w = a.stream_new(S_U8)
        assert a.stream_write(S_U8, w, bytes_at(a, b"abcd"), 4) == BLOCKED
        assert a.stream_read(S_U8, r, a.alloc(2, 1), 2) == progress(2)
        result = a.stream_cancel_write(S_U8, w)
        assert a.stream_read(S_U8, r, a.alloc(2, 1), 2) == BLOCKED      # the buffer is back
        return result

    # The buffer was still parked: the cancel is real, and reports what moved.
    assert run_async(store, a, body) == progress(2, CANCELLED)


def test_cancel_read_on_a_writable_end_traps(store):
    def body(a):
        r, w = a.stream_new(S_U8)
        a.stream_cancel_read(S_U8, w)

    trap_in(store, body, re.escape("passed write end to `stream.cancel-read`"))


def test_cancel_write_on_a_readable_end_traps(store):
    def body(a):
        r, w = a.stream_new(S_U8)
        a.stream_cancel_write(S_U8, r)

    trap_in(store, body, re.escape("passed read end to `stream.cancel-write`"))


def test_cancel_read_with_no_read_pending_traps(store):
    def body(a):
        r, w = a.stream_new(S_U8)
        a.stream_cancel_read(S_U8, r)

    trap_in(store, body, "stream or future read cancelled when no read is pending")


def test_cancel_of_a_sync_read_blocked_in_another_thread_traps(store):
    def body(a):
        r, w = a.stream_new(S_U8)
        reader = a.thread_new(lambda r: a.stream_read(S_U8, r, a.alloc(1, 1), 1, async_=False), r)
        a.thread_yield_then_resume(reader)
        a.stream_cancel_read(S_U8, r, async_=True)

    trap_in(store, body, "stream or future read cancelled when no read is pending")


def test_sync_cancel_of_an_end_in_a_waitable_set_traps(store):
    def body(a):
        r, w = a.stream_new(S_U8)
        assert a.stream_write(S_U8, w, bytes_at(a, b"x"), 1) == BLOCKED
        a.waitable_join(w, a.waitable_set_new())
        a.stream_cancel_write(S_U8, w, async_=False)

    trap_in(store, body, SYNC_AND_ASYNC)


# -- stream.drop-readable / drop-writable ---------------------------------------------------------------


def test_dropping_a_readable_end_with_a_read_pending_traps(store):
    def body(a):
        r, w = a.stream_new(S_U8)
        assert a.stream_read(S_U8, r, a.alloc(1, 1), 1) == BLOCKED
        a.stream_drop_readable(S_U8, r)

    trap_in(store, body, "cannot remove busy stream")


def test_dropping_a_writable_end_with_a_write_pending_traps(store):
    def body(a):
        r, w = a.stream_new(S_U8)
        assert a.stream_write(S_U8, w, bytes_at(a, b"x"), 1) == BLOCKED
        a.stream_drop_writable(S_U8, w)

    trap_in(store, body, "cannot drop busy stream")


def test_drop_readable_of_a_writable_end_traps(store):
    def body(a):
        r, w = a.stream_new(S_U8)
        a.stream_drop_readable(S_U8, w)

    trap_in(store, body, "handle is not a readable end of a stream")


def test_drop_writable_of_a_readable_end_traps(store):
    def body(a):
        r, w = a.stream_new(S_U8)
        a.stream_drop_writable(S_U8, r)

    trap_in(store, body, re.escape("passed read end to `stream.drop-writable`"))


def test_a_dropped_end_leaves_its_waitable_set_and_its_index_is_freed(store):
    a = PyComponent(store, "a")

    def body():
        ws = a.waitable_set_new()
        r, w = a.stream_new(S_U8)
        a.waitable_join(r, ws)
        a.stream_drop_readable(S_U8, r)
        a.waitable_set_drop(ws)                 # empty again
        a.stream_drop_writable(S_U8, w)
        with pytest.raises(Trap, match=f"unknown handle index {w}"):
            a.stream_drop_writable(S_U8, w)
        return 0

    assert run_async(store, a, body) == 0


# -- passing (lifting) a readable end ------------------------------------------------------------------


def _pass_end(store, prepare, t=S_U8):
    """A prepares a readable end with ``prepare(a, r, w)`` and passes it to B."""
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    take_t = FuncType([("s", t)], [])

    @b.export(take_t)
    def take(r):
        pass

    call = a.import_(take, take_t)

    def body():
        r, w = a.stream_new(t) if isinstance(t, StreamType) else a.future_new(t)
        prepare(a, r, w)
        call(r)

    run_async(store, a, body)


def test_passing_a_stream_end_that_is_in_a_waitable_set_traps(store):
    with pytest.raises(Trap, match="cannot lift stream while it's in a waitable set"):
        _pass_end(store, lambda a, r, w: a.waitable_join(r, a.waitable_set_new()))


def test_passing_a_stream_end_with_a_read_pending_traps(store):
    with pytest.raises(Trap, match="cannot remove busy stream"):
        _pass_end(store, lambda a, r, w: a.stream_read(S_U8, r, a.alloc(1, 1), 1))


def test_passing_a_stream_end_after_the_writer_dropped_traps(store):
    def prepare(a, r, w):
        a.stream_drop_writable(S_U8, w)
        assert a.stream_read(S_U8, r, a.alloc(1, 1), 1) == DROPPED

    with pytest.raises(Trap, match="cannot lift stream after being notified that the writable end dropped"):
        _pass_end(store, prepare)


def test_passing_a_writable_stream_end_traps(store):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    take_t = FuncType([("s", S_U8)], [])
    call = a.import_(b.export(take_t)(lambda r: None), take_t)

    with pytest.raises(Trap, match="handle is not a readable end of a stream"):
        run_async(store, a, lambda: call(a.stream_new(S_U8)[1]))


def test_a_passed_stream_end_moves_to_the_receiver(store):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    take_t = FuncType([("s", S_U8)], [U32])

    @b.export(take_t)
    def take(r):
        assert b.stream_read(S_U8, r, b.alloc(1, 1), 1) == BLOCKED     # B owns it now
        # A sync-typed task may not make a sync cancel (it could block), so async:
        assert b.stream_cancel_read(S_U8, r, async_=True) == progress(0, CANCELLED)
        b.stream_drop_readable(S_U8, r)
        return r

    call = a.import_(take, take_t)

    def body():
        r, w = a.stream_new(S_U8)
        assert call(r) == 1                    # B's own index for it
        with pytest.raises(Trap, match=f"unknown handle index {r}"):
            a.stream_drop_readable(S_U8, r)    # A's handle is gone
        assert a.stream_write(S_U8, w, a.alloc(1, 1), 1) == DROPPED
        a.stream_drop_writable(S_U8, w)
        return r

    assert run_async(store, a, body) == 1


# -- future.new / read / write ------------------------------------------------------------------------


def test_future_write_then_read_delivers_the_value_once(store):
    a = PyComponent(store, "a")

    def body():
        r, w = a.future_new(F_U32)
        src, dst = a.alloc(4, 4), a.alloc(4, 4)
        a.memory.store_u32(src, 1234)
        assert a.future_write(F_U32, w, src) == BLOCKED
        assert a.future_read(F_U32, r, dst) == COMPLETED
        assert event_of(a, w) == (FUTURE_WRITE, w, COMPLETED)
        a.future_drop_writable(F_U32, w)
        a.future_drop_readable(F_U32, r)
        return (r, w), a.memory.load_u32(dst)

    assert run_async(store, a, body) == ((1, 2), 1234)


def test_future_read_then_write_wakes_the_reader(store):
    a = PyComponent(store, "a")

    def body():
        r, w = a.future_new(F_U32)
        src, dst = a.alloc(4, 4), a.alloc(4, 4)
        a.memory.store_u32(src, 99)
        assert a.future_read(F_U32, r, dst) == BLOCKED
        assert a.future_write(F_U32, w, src) == COMPLETED
        return event_of(a, r), a.memory.load_u32(dst)

    assert run_async(store, a, body) == ((FUTURE_READ, 1, COMPLETED), 99)


def test_a_future_without_value_type_signals_completion_only(store):
    a = PyComponent(store, "a")
    ft = FutureType(None)

    def body():
        r, w = a.future_new(ft)
        assert a.future_read(ft, r, 10**9) == BLOCKED
        return a.future_write(ft, w, 10**9), event_of(a, r)

    assert run_async(store, a, body) == (COMPLETED, (FUTURE_READ, 1, COMPLETED))


def test_a_future_string_crosses_instances_through_the_readers_realloc(store):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    get_t = FuncType([], [F_STR], async_=True)

    @b.export(get_t, abi="stackful")
    def get():
        r, w = b.future_new(F_STR)
        b.task_return(r)
        b.thread_yield()
        elem = b.alloc(8, 4)
        b.memory.store_u32(elem, bytes_at(b, b"later"))
        b.memory.store_u32(elem + 4, 5)
        assert b.future_write(F_STR, w, elem) == COMPLETED
        b.future_drop_writable(F_STR, w)

    call = a.import_(get, get_t, async_=True)

    def body():
        retptr, dst = a.alloc(4, 4), a.alloc(8, 4)
        assert call(retptr) == RETURNED
        r = a.memory.load_u32(retptr)
        assert a.future_read(F_STR, r, dst, async_=False) == COMPLETED     # blocks until B writes
        a.future_drop_readable(F_STR, r)
        return a.memory.load_str(a.memory.load_u32(dst), a.memory.load_u32(dst + 4))

    assert run_async(store, a, body) == "later"


def test_an_intra_instance_future_copy_of_non_numbers_traps(store):
    def body(a):
        r, w = a.future_new(F_STR)
        assert a.future_read(F_STR, r, a.alloc(8, 4)) == BLOCKED
        a.future_write(F_STR, w, a.alloc(8, 4))

    trap_in(store, body, "cannot read from and write to intra-component future/stream with non-numeric payload")


def test_reading_a_future_again_after_it_completed_traps(store):
    def body(a):
        r, w = a.future_new(F_U32)
        assert a.future_write(F_U32, w, a.alloc(4, 4)) == BLOCKED
        assert a.future_read(F_U32, r, a.alloc(4, 4)) == COMPLETED
        a.future_read(F_U32, r, a.alloc(4, 4))

    trap_in(store, body, "cannot read from future after previous read succeeded")


def test_writing_a_future_again_after_it_completed_traps(store):
    def body(a):
        r, w = a.future_new(F_U32)
        assert a.future_read(F_U32, r, a.alloc(4, 4)) == BLOCKED
        assert a.future_write(F_U32, w, a.alloc(4, 4)) == COMPLETED
        a.future_write(F_U32, w, a.alloc(4, 4))

    trap_in(store, body, "cannot write to future after previous write succeeded or readable end dropped")


def test_writing_a_future_whose_reader_dropped_is_dropped_once_then_traps(store):
    def body(a):
        r, w = a.future_new(F_U32)
        a.future_drop_readable(F_U32, r)
        assert a.future_write(F_U32, w, a.alloc(4, 4)) == DROPPED
        a.future_write(F_U32, w, a.alloc(4, 4))

    trap_in(store, body, "cannot write to future after previous write succeeded or readable end dropped")


def test_a_parked_future_writer_learns_that_the_reader_dropped(store):
    a = PyComponent(store, "a")

    def body():
        r, w = a.future_new(F_U32)
        assert a.future_write(F_U32, w, a.alloc(4, 4)) == BLOCKED
        a.future_drop_readable(F_U32, r)
        event = event_of(a, w)
        a.future_drop_writable(F_U32, w)          # DONE: the writer may drop now
        return event

    assert run_async(store, a, body) == (FUTURE_WRITE, 2, DROPPED)


def test_dropping_a_future_writer_that_never_wrote_traps(store):
    def body(a):
        r, w = a.future_new(F_U32)
        a.future_drop_writable(F_U32, w)

    trap_in(store, body, "cannot drop future write end without first writing a value")


def test_a_cancelled_future_write_does_not_count_as_written(store):
    def body(a):
        r, w = a.future_new(F_U32)
        assert a.future_write(F_U32, w, a.alloc(4, 4)) == BLOCKED
        assert a.future_cancel_write(F_U32, w) == CANCELLED
        a.future_drop_writable(F_U32, w)

    trap_in(store, body, "cannot drop future write end without first writing a value")


def test_future_read_on_the_writable_end_traps_as_a_concurrent_operation(store):
    def body(a):
        r, w = a.future_new(F_U32)
        a.future_read(F_U32, w, a.alloc(4, 4))

    trap_in(store, body, CONCURRENT)


def test_future_write_on_the_readable_end_traps_as_a_concurrent_operation(store):
    def body(a):
        r, w = a.future_new(F_U32)
        a.future_write(F_U32, r, a.alloc(4, 4))

    trap_in(store, body, CONCURRENT)


def test_future_builtins_on_a_stream_or_another_type_trap(store):
    def body(a):
        r, w = a.stream_new(S_U8)
        a.future_read(F_U32, r, a.alloc(4, 4))

    trap_in(store, body, "handle is not a future")

    def body2(a):
        r, w = a.future_new(F_U32)
        a.future_read(F_STR, r, a.alloc(8, 4))

    trap_in(Store(), body2, "handle is a future of a different type")  # a trap ends its store


def test_a_sync_future_read_of_an_end_in_a_waitable_set_traps(store):
    def body(a):
        r, w = a.future_new(F_U32)
        a.waitable_join(r, a.waitable_set_new())
        a.future_read(F_U32, r, a.alloc(4, 4), async_=False)

    trap_in(store, body, SYNC_AND_ASYNC)


# -- future.cancel-read / cancel-write -------------------------------------------------------------------


@pytest.mark.parametrize("async_", [False, True])
def test_a_cancelled_future_read_can_be_retried(store, async_):
    a = PyComponent(store, "a")

    def body():
        r, w = a.future_new(F_U32)
        src, dst = a.alloc(4, 4), a.alloc(4, 4)
        a.memory.store_u32(src, 5)
        assert a.future_read(F_U32, r, dst) == BLOCKED
        cancelled = a.future_cancel_read(F_U32, r, async_=async_)
        assert a.future_write(F_U32, w, src) == BLOCKED        # no reader any more
        assert a.future_read(F_U32, r, dst) == COMPLETED
        return cancelled, a.memory.load_u32(dst)

    assert run_async(store, a, body) == (CANCELLED, 5)


def test_cancelling_a_future_write_that_already_completed_returns_completed(store):
    a = PyComponent(store, "a")

    def body():
        r, w = a.future_new(F_U32)
        assert a.future_write(F_U32, w, a.alloc(4, 4)) == BLOCKED
        assert a.future_read(F_U32, r, a.alloc(4, 4)) == COMPLETED
        result = a.future_cancel_write(F_U32, w)
        a.future_drop_writable(F_U32, w)          # it did write
        return result

    assert run_async(store, a, body) == COMPLETED


def test_future_cancel_write_on_the_readable_end_traps(store):
    def body(a):
        r, w = a.future_new(F_U32)
        a.future_cancel_write(F_U32, r)

    trap_in(store, body, re.escape("passed read end to `future.cancel-write`"))


def test_future_cancel_read_on_the_writable_end_traps(store):
    def body(a):
        r, w = a.future_new(F_U32)
        a.future_cancel_read(F_U32, w)

    trap_in(store, body, re.escape("passed write end to `future.cancel-read`"))


def test_future_cancel_write_with_no_write_pending_traps(store):
    def body(a):
        r, w = a.future_new(F_U32)
        a.future_cancel_write(F_U32, w)

    trap_in(store, body, "stream or future write cancelled when no write is pending")


def test_future_cancel_after_the_cancelled_event_was_delivered_traps(store):
    def body(a):
        r, w = a.future_new(F_U32)
        assert a.future_read(F_U32, r, a.alloc(4, 4)) == BLOCKED
        assert a.future_cancel_read(F_U32, r, async_=True) == CANCELLED
        a.future_cancel_read(F_U32, r, async_=True)

    trap_in(store, body, "stream or future read cancelled when no read is pending")


# -- future.drop-readable / drop-writable, and passing futures ------------------------------------------


def test_dropping_a_future_reader_with_a_read_pending_traps(store):
    def body(a):
        r, w = a.future_new(F_U32)
        assert a.future_read(F_U32, r, a.alloc(4, 4)) == BLOCKED
        a.future_drop_readable(F_U32, r)

    trap_in(store, body, "cannot remove busy future")


def test_dropping_a_future_writer_with_a_write_pending_traps(store):
    def body(a):
        r, w = a.future_new(F_U32)
        assert a.future_write(F_U32, w, a.alloc(4, 4)) == BLOCKED
        a.future_drop_writable(F_U32, w)

    trap_in(store, body, "cannot drop busy future")


def test_future_drop_readable_of_the_writable_end_traps(store):
    def body(a):
        r, w = a.future_new(F_U32)
        a.future_drop_readable(F_U32, w)

    trap_in(store, body, "handle is not a readable end of a future")


def test_future_drop_writable_of_the_readable_end_traps(store):
    def body(a):
        r, w = a.future_new(F_U32)
        a.future_drop_writable(F_U32, r)

    trap_in(store, body, re.escape("passed read end to `future.drop-writable`"))


def test_passing_a_future_after_reading_it_traps(store):
    def prepare(a, r, w):
        assert a.future_write(F_U32, w, a.alloc(4, 4)) == BLOCKED
        assert a.future_read(F_U32, r, a.alloc(4, 4)) == COMPLETED

    with pytest.raises(Trap, match="cannot lift future after previous read succeeded"):
        _pass_end(store, prepare, F_U32)


def test_passing_a_future_that_is_in_a_waitable_set_traps(store):
    with pytest.raises(Trap, match="cannot lift future while it's in a waitable set"):
        _pass_end(store, lambda a, r, w: a.waitable_join(r, a.waitable_set_new()), F_U32)


def test_passing_a_future_with_a_read_pending_traps(store):
    with pytest.raises(Trap, match="cannot remove busy future"):
        _pass_end(store, lambda a, r, w: a.future_read(F_U32, r, a.alloc(4, 4)), F_U32)

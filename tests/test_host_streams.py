"""The host reading a guest's stream or future, and feeding a guest a stream."""

import pytest

from stackswitch.canon.host_streams import FutureReader, HostFuture, HostStream, StreamReader
from stackswitch.canon.types import FuncType, FutureType, StreamType, U8Type, U32Type
from stackswitch.embed.guest import PyComponent
from stackswitch.scheduler import Deadlock

BLOCKED = 0xFFFF_FFFF
S_U8 = StreamType(U8Type())
F_U32 = FutureType(U32Type())


def producer(store, data, chunk):
    """A guest whose `produce()` returns a stream and writes `data` into it in chunks."""
    a = PyComponent(store, "producer")

    @a.export(FuncType([], [S_U8], async_=True), abi="stackful")
    def produce():
        r, w = a.stream_new(S_U8)
        a.task_return(r)
        ws = a.waitable_set_new()
        buf = a.alloc(len(data) or 1, 1)
        a.memory.store_bytes(buf, data)
        offset = 0
        while offset < len(data):
            n = min(chunk, len(data) - offset)
            status = a.stream_write(S_U8, w, buf + offset, n)
            if status == BLOCKED:
                a.waitable_join(w, ws)
                _, _, status = a.wait(ws)
                a.waitable_join(w, 0)
            offset += status >> 4
        a.stream_drop_writable(S_U8, w)
        a.waitable_set_drop(ws)

    return produce


def test_the_host_reads_a_guests_stream_to_the_end(store):
    produce = producer(store, b"hello streams", chunk=4)
    [shared] = store.call(produce, [])
    reader = StreamReader(store, shared)
    chunks = list(reader)
    assert bytes(v for c in chunks for v in c) == b"hello streams"
    assert all(0 < len(c) <= 4 for c in chunks)
    assert reader.read() is None


def test_read_all_and_close(store):
    produce = producer(store, bytes(range(10)), chunk=3)
    [shared] = store.call(produce, [])
    assert StreamReader(store, shared).read_all() == list(range(10))
    produce2 = producer(store, b"abc", chunk=3)
    [shared2] = store.call(produce2, [])
    reader = StreamReader(store, shared2)
    reader.close()
    assert reader.read() is None


def test_reading_a_stream_nobody_writes_is_a_deadlock(store):
    a = PyComponent(store, "a")

    @a.export(FuncType([], [S_U8], async_=True), abi="stackful")
    def silent():
        r, w = a.stream_new(S_U8)
        a.task_return(r)

    [shared] = store.call(silent, [])
    with pytest.raises(Deadlock):
        StreamReader(store, shared).read()


def test_the_host_reads_a_guests_future(store):
    a = PyComponent(store, "a")

    @a.export(FuncType([], [F_U32], async_=True), abi="stackful")
    def later():
        r, w = a.future_new(F_U32)
        a.task_return(r)
        a.thread_yield()
        ptr = a.alloc(4, 4)
        a.memory.store_u32(ptr, 99)
        a.future_write(F_U32, w, ptr)
        a.future_drop_writable(F_U32, w)

    [shared] = store.call(later, [])
    assert FutureReader(store, shared).get() == 99


def test_a_guest_reads_a_stream_and_a_future_the_host_provides(store):
    a = PyComponent(store, "a")
    ft = FuncType([("s", S_U8), ("f", F_U32)], [U32Type()], async_=True)

    @a.export(ft, abi="stackful")
    def total(s, f):
        buf = a.alloc(8, 1)
        acc = 0
        while True:
            status = a.stream_read(S_U8, s, buf, 8)
            acc += sum(a.memory.read(buf, status >> 4))
            if status & 0xF == 1:  # DROPPED: the host's iterable is exhausted
                break
        a.stream_drop_readable(S_U8, s)
        ptr = a.alloc(4, 4)
        assert a.future_read(F_U32, f, ptr) == 0
        a.future_drop_readable(F_U32, f)
        a.task_return(acc + a.memory.load_u32(ptr))

    stream = HostStream(U8Type(), iter(range(1, 21)))
    assert store.call(total, [stream, HostFuture(U32Type(), 1000)]) == [sum(range(1, 21)) + 1000]
    assert stream.dropped

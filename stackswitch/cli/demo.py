"""``stackswitch demo``: three Python-guest components, an event log, the results.

The scenario follows the 2022 CG presentation's examples:

1. *A future-like call.* ``client.run`` calls ``server.fetch(7)`` through an
   async lower. ``server.fetch`` is callback-lifted: it calls the host's
   ``disk.read`` (which takes a few scheduler turns), returns WAIT to the event
   loop, and its callback returns the value when the read completes. The client,
   a stackful task, blocks in ``waitable-set.wait`` until the SUBTASK event.
   Under a random policy a yield may keep running, so either call may also
   return eagerly (RETURNED, no subtask): every guest here handles both.
2. *A stream with backpressure.* ``client.run`` streams 12 bytes to
   ``consumer.consume``, which reads 2 bytes at a time and yields between reads.
   Each ``stream.write`` stays blocked until the reader has taken some bytes.
"""

from __future__ import annotations

import argparse

from ..canon.store import Store
from ..canon.types import FuncType, StreamType, U8Type, U32Type
from ..embed.guest import PyComponent
from ..embed.host import yield_
from ..observe.event_log import FORMATS, EventLog

BLOCKED = 0xFFFF_FFFF
SUBTASK, STREAM_READ, STREAM_WRITE = 1, 2, 3
COMPLETED, DROPPED = 0, 1
RETURNED = 2
EXIT, WAIT = 0, 2

FETCH = FuncType([("key", U32Type())], [U32Type()], async_=True)
CONSUME = FuncType([("bytes", StreamType(U8Type()))], [U32Type()], async_=True)
RUN = FuncType([], [U32Type()], async_=True)
DISK_READ = FuncType([("key", U32Type())], [U32Type()], async_=True)


def _finish_copy(comp: PyComponent, end: int, ws: int, status: int) -> int:
    """A stream copy's final status: if it returned BLOCKED, wait in ``ws`` for its event."""
    if status == BLOCKED:
        comp.waitable_join(end, ws)
        _, _, status = comp.wait(ws)
        comp.waitable_join(end, 0)
    return status


def build(store: Store) -> tuple[object, dict[str, PyComponent]]:
    """Wire up the three instances and the host import; returns ``client.run``."""

    def disk_read(key: int) -> int:
        # Plain blocking Python: the host function's own stack suspends while
        # the "disk" takes two turns of the event loop.
        for _ in range(2):
            yield_()
        return key * 6

    disk = store.host_function(disk_read, DISK_READ, name="disk.read")

    # -- server: callback-lifted -------------------------------------------------
    server = PyComponent(store, "server")
    read_disk = server.import_(disk, DISK_READ, async_=True, name="disk.read")
    result_ptr = server.alloc(4, 4)

    def fetch_callback(event: int, index: int, payload: int) -> int:
        assert event == SUBTASK
        if payload != RETURNED:
            return WAIT | (server.context_get(0) << 4)  # an intermediate state: wait on
        server.subtask_drop(index)
        server.waitable_set_drop(server.context_get(0))
        server.task_return(server.memory.load_u32(result_ptr))
        return EXIT

    @server.export(FETCH, abi="callback", callback=fetch_callback)
    def fetch(key: int) -> int:
        status = read_disk(key, result_ptr)
        if status & 0xF == RETURNED:
            # The read finished before it blocked (the scheduler may keep a
            # yielding thread running): no subtask, the result is there.
            server.task_return(server.memory.load_u32(result_ptr))
            return EXIT
        ws = server.waitable_set_new()
        server.waitable_join(status >> 4, ws)
        server.context_set(0, ws)
        return WAIT | (ws << 4)

    # -- consumer: stackful, reads slowly ----------------------------------------------
    consumer = PyComponent(store, "consumer")
    u8_stream = StreamType(U8Type())

    @consumer.export(CONSUME, abi="stackful")
    def consume(readable: int) -> None:
        buf = consumer.alloc(2, 1)
        ws = consumer.waitable_set_new()
        total = 0
        while True:
            status = _finish_copy(consumer, readable, ws,
                                  consumer.stream_read(u8_stream, readable, buf, 2))
            total += status >> 4
            if status & 0xF == DROPPED:
                break
            consumer.thread_yield()  # a slow reader
        consumer.stream_drop_readable(u8_stream, readable)
        consumer.waitable_set_drop(ws)
        consumer.task_return(total)

    # -- client: stackful, drives both ------------------------------------------------
    client = PyComponent(store, "client")
    call_fetch = client.import_(fetch, FETCH, async_=True, name="server.fetch")
    call_consume = client.import_(consume, CONSUME, async_=True, name="consumer.consume")

    def wait_for_subtask(ws: int, status: int, retptr: int) -> int:
        """The result of an async call: at once if it returned eagerly, else after
        its RETURNED event (earlier events report intermediate states)."""
        if status & 0xF != RETURNED:
            subtask = status >> 4
            client.waitable_join(subtask, ws)
            while True:
                event, index, state = client.wait(ws)
                assert (event, index) == (SUBTASK, subtask)
                if state == RETURNED:
                    break
            client.subtask_drop(subtask)
        return client.memory.load_u32(retptr)

    @client.export(RUN, abi="stackful")
    def run() -> None:
        ws = client.waitable_set_new()
        retptr = client.alloc(4, 4)
        fetched = wait_for_subtask(ws, call_fetch(7, retptr), retptr)

        readable, writable = client.stream_new(u8_stream)
        consumed_ptr = client.alloc(4, 4)
        consume_status = call_consume(readable, consumed_ptr)
        data = client.alloc(12, 1)
        client.memory.store_bytes(data, b"stackswitch!")
        for chunk in range(3):
            # A write may be partial: offer the rest until the whole chunk is taken.
            written = 0
            while written < 4:
                offset = data + 4 * chunk + written
                status = _finish_copy(client, writable, ws,
                                      client.stream_write(u8_stream, writable, offset, 4 - written))
                assert status >> 4 > 0
                written += status >> 4
        client.stream_drop_writable(u8_stream, writable)
        consumed = wait_for_subtask(ws, consume_status, consumed_ptr)
        client.waitable_set_drop(ws)
        client.task_return(fetched * 100 + consumed)

    return run, {"client": client, "server": server, "consumer": consumer}


def run_demo(policy: str = "fifo", show_switches: bool = False) -> int:
    """Run the scenario, printing the event log; returns the process exit code."""
    store = Store(policy)
    run, _ = build(store)
    print(f"stackswitch demo (scheduler: {policy})")
    print("client.run: async call of server.fetch(7), then 12 bytes streamed to a slow consumer\n")
    with EventLog(formats=FORMATS, switches=show_switches):
        result = store.call(run, [])
    print(f"\nresult: client.run() = {result[0]}  (fetch(7) = {result[0] // 100}, "
          f"bytes consumed = {result[0] % 100})")
    print(f"scheduler ticks: {store.scheduler.ticks}")
    return 0


def command(args: argparse.Namespace) -> int:
    """``stackswitch demo``: a bad policy is a usage error, reported by :mod:`.failures`."""
    return run_demo(policy=args.policy, show_switches=args.switches)

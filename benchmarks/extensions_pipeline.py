"""What splice, skip and forward save on a pipeline of components (the extensions).

A pipeline of Python-guest components: a producer writes N bytes on a
``stream<u8>``; K relays (K >= 1, so 3+ components) each call the stage
before, hand back a stream of their own and move the bytes on; a consumer
reads everything (in chunks of C) and checks the bytes. Each relay moves the
bytes one of four ways (``--modes``):

* ``copy``: the spec's way, ``stream.read`` into its own memory then
  ``stream.write`` from it (sync copies, chunks of C);
* ``splice``: ``stream.splice`` of up to C values at a time (sync);
* ``skip``: like ``copy`` but the first relay first skips a prefix of P bytes
  with ``stream.skip`` (the consumer checks they are gone);
* ``forward``: one ``stream.forward`` and the relay is done.

Printed per mode: the bytes that passed through the relays' linear memories
(read or written by the runtime's copies), the bytes that did not (moved by
pumps straight from the producer's memory to the consumer's), the events
delivered (``trace.counts["events"]``), stack switches, and the CPU time of
the whole run, with its ratio to ``copy``. Time is this process's CPU time
(the run is single-threaded), best of ``--repeats``.

Run: ``python benchmarks/extensions_pipeline.py [--bytes N] [--relays K]
[--chunk C] [--strategy stackful|callback]``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from stackswitch import trace  # noqa: E402
from stackswitch.canon import strategy as strategies  # noqa: E402
from stackswitch.canon.extensions import pumps  # noqa: E402
from stackswitch.canon.store import Store  # noqa: E402
from stackswitch.canon.types import FuncType, StreamType, U8Type, U32Type  # noqa: E402
from stackswitch.embed.guest import PyComponent  # noqa: E402

S_U8 = StreamType(U8Type())
SOURCE = FuncType([("n", U32Type())], [S_U8], async_=True)
SINK = FuncType([("n", U32Type())], [U32Type()], async_=True)
MODES = ("copy", "splice", "skip", "forward")
BLOCKED = 0xFFFF_FFFF
DROPPED = 1


def data(n: int) -> bytes:
    return bytes((i * 7 + 3) % 251 for i in range(n))


class CountingMemory:
    """Counts the bytes the runtime reads from and writes to one linear memory."""

    def __init__(self, comp: PyComponent) -> None:
        self.read = 0
        self.written = 0
        memory = comp.memory
        read, write = memory.read, memory.write

        def counted_read(ptr: int, n: int) -> bytes:
            self.read += n
            return read(ptr, n)

        def counted_write(ptr: int, b: Any) -> None:
            self.written += len(b)
            write(ptr, b)

        memory.read = counted_read  # type: ignore[method-assign]
        memory.write = counted_write  # type: ignore[method-assign]


@dataclass
class Pipeline:
    store: Store
    consume: Any
    relays: list[PyComponent]
    counters: list[CountingMemory] = field(default_factory=list)
    received: bytearray = field(default_factory=bytearray)


def _write_all(c: PyComponent, w: int, ptr: int, n: int) -> None:
    while n:
        res = c.stream_write(S_U8, w, ptr, n, async_=False)
        if res & 0xF == DROPPED:
            return
        ptr, n = ptr + (res >> 4), n - (res >> 4)


def build(mode: str, n_bytes: int, relays: int = 1, chunk: int = 256, skip: int = 0,
          strategy: str = "stackful", policy: str = "fifo") -> Pipeline:
    """The producer, ``relays`` relays moving bytes by ``mode``, and the consumer."""
    store = Store(policy, strategy=strategies.named(strategy), features="all")
    payload = data(n_bytes)
    src = PyComponent(store, "producer", memory_pages=max(1, n_bytes // 65536 + 1))
    base = src.alloc(max(n_bytes, 1), 1)
    src.memory.write(base, payload)

    @src.export(SOURCE, abi="stackful", name="produce")
    def produce(n: int) -> None:
        r, w = src.stream_new(S_U8)
        src.task_return(r)
        _write_all(src, w, base, n)
        src.stream_drop_writable(S_U8, w)

    upstream = produce
    stages: list[PyComponent] = []
    for k in range(relays):
        upstream = _relay(store, f"relay{k + 1}", upstream, mode, chunk,
                          skip if k == 0 else 0, stages)
    sink = PyComponent(store, "consumer")
    call = sink.import_(upstream, SOURCE)
    buf = sink.alloc(chunk, 1)
    pipeline = Pipeline(store, None, stages)

    @sink.export(SINK, abi="stackful", name="consume")
    def consume(n: int) -> None:
        r = call(n)
        while True:
            res = sink.stream_read(S_U8, r, buf, chunk, async_=False)
            pipeline.received += sink.memory.read(buf, res >> 4)
            if res & 0xF == DROPPED:
                break
        sink.stream_drop_readable(S_U8, r)
        sink.task_return(len(pipeline.received))

    pipeline.consume = consume
    pipeline.counters = [CountingMemory(c) for c in stages]
    return pipeline


def _relay(store: Store, name: str, upstream: Any, mode: str, chunk: int, skip: int,
           stages: list[PyComponent]) -> Any:
    m = PyComponent(store, name)
    stages.append(m)
    call = m.import_(upstream, SOURCE)
    buf = m.alloc(chunk, 1)

    @m.export(SOURCE, abi="stackful", name=name)
    def relay(n: int) -> None:
        src = call(n)
        r, w = m.stream_new(S_U8)
        m.task_return(r)
        if mode == "forward":
            m.stream_forward(S_U8, src, w)
            return
        left = skip
        while left:
            res = m.stream_skip(S_U8, src, left, async_=False)
            left -= res >> 4
            if res & 0xF == DROPPED:
                break
        while True:
            if mode == "splice":
                res = m.stream_splice(S_U8, src, w, chunk, async_=False)
                if res & 0b11 == DROPPED or (res >> 2) & 0b11 == DROPPED:
                    break
                continue
            res = m.stream_read(S_U8, src, buf, chunk, async_=False)
            _write_all(m, w, buf, res >> 4)
            if res & 0xF == DROPPED:
                break
        m.stream_drop_readable(S_U8, src)
        m.stream_drop_writable(S_U8, w)

    return relay


@dataclass
class Figures:
    mode: str
    through_memory: int
    not_through_memory: int
    discarded: int
    events: int
    switches: int
    seconds: float
    received: bytes


def measure(mode: str, n_bytes: int, relays: int, chunk: int, skip: int = 0,
            strategy: str = "stackful") -> Figures:
    pipeline = build(mode, n_bytes, relays, chunk, skip, strategy)
    pumps.counts.reset()
    events, switches = trace.counts["events"], trace.counts["switches"]
    start = time.process_time()
    result = pipeline.store.call(pipeline.consume, [n_bytes])
    seconds = time.process_time() - start
    assert result == [len(pipeline.received)]
    through = sum(c.read + c.written for c in pipeline.counters)
    return Figures(mode, through, pumps.counts.bytes_kept_out,
                   pumps.counts.discarded, trace.counts["events"] - events,
                   trace.counts["switches"] - switches, seconds, bytes(pipeline.received))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=int, default=1 << 20)
    parser.add_argument("--relays", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=4096)
    parser.add_argument("--skip", type=int, default=1000, help="bytes the skip mode skips")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--strategy", default="stackful", choices=strategies.names())
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args(argv)
    print(f"extensions pipeline: {args.bytes} bytes, producer + {args.relays} relays + consumer, "
          f"chunks of {args.chunk}, strategy {args.strategy}; {platform.machine()}, "
          f"Python {platform.python_version()}")
    print(f"{'mode':8} {'bytes via relays mem':>21} {'bytes kept out':>18} {'skipped':>8} "
          f"{'events':>7} {'switches':>9} {'cpu s':>7} {'vs copy':>8}")
    base = None
    for mode in args.modes.split(","):
        best = min((measure(mode, args.bytes, args.relays, args.chunk,
                            args.skip if mode == "skip" else 0, args.strategy)
                    for _ in range(args.repeats)), key=lambda f: f.seconds)
        expected = data(args.bytes)[args.skip if mode == "skip" else 0:]
        assert best.received == expected, f"{mode}: wrong bytes"
        base = base or best.seconds
        print(f"{mode:8} {best.through_memory:21,} {best.not_through_memory:18,} "
              f"{best.discarded:8,} {best.events:7,} {best.switches:9,} {best.seconds:7.3f} "
              f"{best.seconds / base:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

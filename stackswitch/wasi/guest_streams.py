"""Streams and futures between WASI 0.3's host and its guests: pumps, lazy sources, later futures.

* :func:`pump` copies a ``stream<u8>`` a guest hands over into a host sink on
  a host task of its own, a chunk at a time, each written out before the next
  is read (the stream has no buffer, so a guest writing faster waits: bulk
  copies with backpressure), and resolves the future it returns when the
  guest drops its end;
* :class:`SourceStream` is a ``stream<u8>`` a guest reads from a host source,
  read only when the guest reads (no read-ahead), waiting in the event loop
  when the source has nothing yet;
* :func:`resolved_later` / :func:`resolve`: a future the host resolves later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..canon.buffers import HostReadableBuffer, WritableBuffer
from ..canon.futures import SharedFuture
from ..canon.host_streams import StreamReader
from ..canon.streams import CopyResult
from ..canon.types import EnumType, FuncType, ResultType, U8Type, Variant
from ..event_loop import EventLoop
from . import io_streams as io

ERROR_CODE = EnumType(["io", "illegal-byte-sequence", "pipe"])
"""``wasi:cli/types.error-code``."""
STDIO_RESULT = ResultType(None, ERROR_CODE)
CHUNK = 65536
"""The most bytes one copy moves between the host and a guest's stream."""
_PUMP = FuncType([], [], async_=True)
HOST = object()
"""The writer of the host's futures: never the reading instance (the same-instance rule
for non-numeric payloads is about one component's memory, which the host has none of)."""


def resolved_later(t: Any) -> SharedFuture:
    """A future the host resolves later with :func:`resolve` (a guest reading it waits)."""
    return SharedFuture(t)


def resolve(future: SharedFuture, value: Any) -> None:
    """Write the one value of a future made by :func:`resolved_later`."""
    future.write(HOST, HostReadableBuffer(future.t, [value]), lambda result: None)


class SourceStream:
    """A ``stream<u8>`` read from a host source, only as fast as the guest reads it.

    A read with nothing available parks until the event loop sees the source
    ready; ``done`` is resolved ``ok`` at the end of the source, or with
    ``io`` on an error.
    """

    def __init__(self, source: Any, loop: EventLoop, done: SharedFuture) -> None:
        self.t = U8Type()
        self.source = source
        self.loop = loop
        self.done = done
        self.dropped = False
        self._parked: tuple[WritableBuffer, Any] | None = None
        self._unwatch: Callable[[], None] | None = None

    def read(self, inst: Any, dst: WritableBuffer, on_copy: Any, on_copy_done: Any) -> None:
        if dst.remain() == 0 or self.source.ready():
            self._serve(dst, on_copy_done)
            return
        self._parked = (dst, on_copy_done)
        self._unwatch = self.source.watch(self.loop, self._wake)

    def _wake(self) -> None:
        self._unwatch = None
        if self._parked is not None:
            dst, on_copy_done = self._parked
            self._parked = None
            self._serve(dst, on_copy_done)

    def _serve(self, dst: WritableBuffer, on_copy_done: Any) -> None:
        try:
            chunk = self.source.read(min(dst.remain(), CHUNK))
        except io.Closed:
            resolve(self.done, Variant("ok", None))
            on_copy_done(CopyResult.DROPPED)
            return
        except OSError:
            resolve(self.done, Variant("error", "io"))
            on_copy_done(CopyResult.DROPPED)
            return
        if chunk:
            dst.write(list(chunk))
        on_copy_done(CopyResult.COMPLETED)

    def cancel(self) -> None:
        if self._parked is not None:
            _, on_copy_done = self._parked
            self._parked = None
            if self._unwatch is not None:
                self._unwatch()
                self._unwatch = None
            on_copy_done(CopyResult.CANCELLED)

    def drop(self) -> None:
        self.dropped = True


STDIO_IO_ERROR = Variant("error", "io")


def pump(store: Any, data: Any, sink: Any, name: str,
         error: Any = STDIO_IO_ERROR, t: Any = STDIO_RESULT) -> SharedFuture:
    """Copy the guest's stream ``data`` into ``sink`` (``write``, ``flush``) on a host task of
    its own; the returned future resolves ``ok`` at the end, or ``error`` when a write fails."""
    done = resolved_later(t)

    def run() -> None:
        reader = StreamReader(store, data)
        outcome = Variant("ok", None)
        for chunk in reader:
            try:
                sink.write(bytes(chunk))
                sink.flush()
            except OSError:
                outcome = error
                reader.close()
                break
        resolve(done, outcome)

    func_inst = store.host_function(run, _PUMP, name)
    func_inst(lambda: [], lambda result: None, None)
    return done


def resolved_now(t: Any, value: Any) -> SharedFuture:
    """A future already resolved to ``value``."""
    future = resolved_later(t)
    resolve(future, value)
    return future

"""WASI 0.2's ``wasi:io``: byte streams, the ``error`` resource, pollables and ``poll``.

The resources are plain Python objects behind :class:`HostResource` tables.
WASI 0.2's blocking functions (``blocking-read``, ``poll`` ...) are sync
imports, which may not switch stacks here; they block the whole store in the
event loop (:meth:`EventLoop.wait_for`), as a sync embedding of wasmtime
blocks its store. Waiting in the selector costs no CPU.

A source of bytes has ``ready()`` (a read would not block), ``read(n)``
(``b""`` when nothing is available yet, :class:`Closed` at the end) and
``watch(loop, wake)`` (arrange for ``wake()`` when it may become ready; a
function that undoes it is returned).
"""

from __future__ import annotations

import os
import select
import selectors
import stat
import sys
import time
from collections.abc import Callable
from typing import Any, BinaryIO

from ..embed.pyvalues import Err, Ok, Variant
from ..errors import Trap
from ..event_loop import EventLoop

Unwatch = Callable[[], None]


class Closed(Exception):
    """The stream has ended (``stream-error::closed``)."""


class WasiError:
    """``wasi:io/error.error``: an I/O failure, with an errno for ``filesystem-error-code``."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        self.message = message
        self.errno = errno

    def to_debug_string(self) -> str:
        return self.message


def stream_error(e: BaseException) -> Err:
    """A ``stream-error`` result for ``e``: ``closed``, or ``last-operation-failed(error)``."""
    if isinstance(e, Closed):
        return Err(Variant("closed"))
    errno = e.errno if isinstance(e, OSError) else None
    return Err(Variant("last-operation-failed", WasiError(str(e), errno)))


# -- pollables ---------------------------------------------------------------------------------


class Pollable:
    """``wasi:io/poll.pollable``: something that becomes ready (and then stays ready)."""

    def __init__(self, ready: Callable[[], bool],
                 watch: Callable[[EventLoop, Callable[[], None]], Unwatch] | None = None) -> None:
        self._ready = ready
        self._watch = watch

    def ready(self) -> bool:
        return self._ready()

    def watch(self, loop: EventLoop, wake: Callable[[], None]) -> Unwatch:
        if self._watch is None:
            return _nothing
        return self._watch(loop, wake)


def _nothing() -> None:
    return None


def always_ready() -> Pollable:
    return Pollable(lambda: True)


def deadline_pollable(deadline_ns: int) -> Pollable:
    """Ready once ``time.monotonic_ns()`` reaches ``deadline_ns``."""
    def watch(loop: EventLoop, wake: Callable[[], None]) -> Unwatch:
        return loop.call_at(deadline_ns, wake).cancel
    return Pollable(lambda: time.monotonic_ns() >= deadline_ns, watch)


def poll(loop: EventLoop, pollables: list[Pollable]) -> list[int]:
    """The indices of the ready pollables, blocking in ``loop`` until at least one is."""
    if not pollables:
        raise Trap("wasi:io/poll#poll: the list of pollables is empty")
    while True:
        ready = [i for i, p in enumerate(pollables) if p.ready()]
        if ready:
            return ready
        unwatch = [p.watch(loop, _nothing) for p in pollables]
        try:
            if not loop.run_once():
                raise RuntimeError("poll: no pollable can ever become ready")
        finally:
            for undo in unwatch:
                undo()


# -- sources -------------------------------------------------------------------------------------


class BytesSource:
    """A source that serves fixed bytes (a test's stdin, or none at all)."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(bytes(data))
        self.pos = 0

    def ready(self) -> bool:
        return True

    def read(self, n: int) -> bytes:
        if self.pos >= len(self.data) and n > 0:
            raise Closed()
        chunk = bytes(self.data[self.pos:self.pos + n])
        self.pos += len(chunk)
        return chunk

    def watch(self, loop: EventLoop, wake: Callable[[], None]) -> Unwatch:
        return _nothing


class FdSource:
    """A source reading a host descriptor from where it is (stdin, a pipe), in the event loop."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            mode = 0
        # epoll refuses regular files (they are always readable anyway).
        self.always_ready = stat.S_ISREG(mode) or stat.S_ISDIR(mode) or mode == 0
        self.eof = False

    def ready(self) -> bool:
        if self.eof or self.always_ready:
            return True
        readable, _, _ = select.select([self.fd], [], [], 0)
        return bool(readable)

    def read(self, n: int) -> bytes:
        if self.eof:
            raise Closed()
        if n == 0 or not self.ready():
            return b""
        chunk = os.read(self.fd, n)
        if not chunk:
            self.eof = True
            raise Closed()
        return chunk

    def watch(self, loop: EventLoop, wake: Callable[[], None]) -> Unwatch:
        if self.always_ready or self.eof:
            return _nothing
        loop.add_reader(self.fd, wake)
        return lambda: loop.remove(self.fd, selectors.EVENT_READ)


class FileSource:
    """A source reading a file from an offset (``read-via-stream``); never blocks."""

    def __init__(self, fd: int, offset: int) -> None:
        self.fd = fd
        self.offset = offset

    def ready(self) -> bool:
        return True

    def read(self, n: int) -> bytes:
        chunk = os.pread(self.fd, n, self.offset)
        if not chunk and n > 0:
            raise Closed()
        self.offset += len(chunk)
        return chunk

    def watch(self, loop: EventLoop, wake: Callable[[], None]) -> Unwatch:
        return _nothing


# -- sinks ---------------------------------------------------------------------------------------


class FileSink:
    """Writes to a file at an offset, or at its end (``append``)."""

    def __init__(self, fd: int, offset: int | None) -> None:
        self.fd = fd
        self.offset = offset

    def write(self, data: bytes) -> None:
        if self.offset is None:
            os.pwrite(self.fd, data, os.fstat(self.fd).st_size)  # each write at the end
        else:
            written = os.pwrite(self.fd, data, self.offset)
            self.offset += written


class BinarySink:
    """Writes to a binary Python file (stdout, stderr, a test's BytesIO), flushing each time."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.file.flush()


class ProcessStdio:
    """The process's ``sys.stdout`` or ``sys.stderr`` as a binary sink, looked up at each write
    and flushed first, so that the guest's bytes keep their order with the host's ``print``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, data: bytes) -> None:
        text = getattr(sys, self.name)
        text.flush()
        text.buffer.write(data)
        text.buffer.flush()

    def flush(self) -> None:
        return None


# -- the stream resources -----------------------------------------------------------------------

WRITE_BUDGET = 1 << 20
"""What ``check-write`` permits at a time: writes complete at once, so any size would do."""


class InputStream:
    """``wasi:io/streams.input-stream`` over a source."""

    def __init__(self, source: Any, loop: EventLoop | None) -> None:
        self.source = source
        self.loop = loop  # None for a source that never blocks

    def read(self, length: int) -> Any:
        try:
            return Ok(self.source.read(min(length, WRITE_BUDGET)))
        except (Closed, OSError) as e:
            return stream_error(e)

    def blocking_read(self, length: int) -> Any:
        if length > 0:
            _block_until(self.loop, self.source)
        return self.read(length)

    def skip(self, length: int) -> Any:
        result = self.read(length)
        return Ok(len(result.value)) if isinstance(result, Ok) else result

    def blocking_skip(self, length: int) -> Any:
        result = self.blocking_read(length)
        return Ok(len(result.value)) if isinstance(result, Ok) else result

    def subscribe(self) -> Pollable:
        return Pollable(self.source.ready, self.source.watch)


class OutputStream:
    """``wasi:io/streams.output-stream`` over a sink; every write completes at once."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink

    def check_write(self) -> Any:
        return Ok(WRITE_BUDGET)

    def write(self, contents: bytes) -> Any:
        try:
            self.sink.write(bytes(contents))
        except OSError as e:
            return stream_error(e)
        return Ok()

    blocking_write_and_flush = write

    def flush(self) -> Any:
        return Ok()

    blocking_flush = flush

    def write_zeroes(self, length: int) -> Any:
        return self.write(bytes(length))

    blocking_write_zeroes_and_flush = write_zeroes

    def splice(self, src: InputStream, length: int) -> Any:
        result = src.read(length)
        if not isinstance(result, Ok):
            return result
        written = self.write(result.value)
        return Ok(len(result.value)) if isinstance(written, Ok) else written

    def blocking_splice(self, src: InputStream, length: int) -> Any:
        if length > 0:
            _block_until(src.loop, src.source)
        return self.splice(src, length)

    def subscribe(self) -> Pollable:
        return always_ready()


def _block_until(loop: EventLoop | None, source: Any) -> None:
    """Block the store in ``loop`` until ``source`` may be read."""
    while loop is not None and not source.ready():
        undo = source.watch(loop, _nothing)
        try:
            if not loop.run_once():
                return
        finally:
            undo()

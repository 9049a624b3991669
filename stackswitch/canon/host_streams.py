"""The host's side of streams and futures: reading what a guest returns, feeding what it reads.

A guest that returns a ``stream<T>`` hands the host the stream's shared
state; :class:`StreamReader` reads it the way a component would, with a
host buffer, blocking until the writer gets to it. A guest that takes a
``stream<T>`` parameter can be given a :class:`HostStream`, which implements
the readable side from a Python iterable. Futures have the same pair.

Blocking means: on the host's own stack, run the event loop until the copy
makes progress (a :class:`~stackswitch.scheduler.Deadlock` if it cannot);
inside a host function, wait on that function's own stack, on the copy's
:class:`_Outcome` (a wait key the copy's callbacks touch).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..scheduler import WaitKey
from .buffers import HostWritableBuffer, WritableBuffer
from .streams import CopyResult
from .threads import current_thread_or_none


class _Outcome(WaitKey):
    """The results a host copy's callbacks report, in order; empty until the first."""

    def __init__(self) -> None:
        super().__init__()
        self.results: list[CopyResult] = []

    def append(self, result: CopyResult) -> None:
        self.results.append(result)
        self.touch()

    def done(self) -> bool:
        return bool(self.results)


def _block_until(store: Any, outcome: _Outcome, why: str) -> None:
    thread = current_thread_or_none()
    if thread is None:
        store.run_until(outcome.done)
    else:
        thread.wait_until(outcome.done, why=why, keys=(outcome,))


class StreamReader:
    """Reads a ``stream<T>`` a guest handed to the host."""

    def __init__(self, store: Any, shared: Any) -> None:
        self.store = store
        self.shared = shared
        self.finished = False

    def read(self, n: int = 65536) -> list[Any] | None:
        """Up to ``n`` values, as soon as some arrive; None once the writer has dropped."""
        if self.finished:
            return None
        buffer = HostWritableBuffer(self.shared.t, n)
        outcome = _Outcome()

        def on_copy(reclaim: Callable[[], None]) -> None:
            reclaim()  # the host takes the values at once: the buffer is done
            outcome.append(CopyResult.COMPLETED)

        self.shared.read(None, buffer, on_copy, outcome.append)
        _block_until(self.store, outcome, "host stream read")
        if outcome.results[0] == CopyResult.DROPPED:
            self.finished = True
            if not buffer.items:
                return None
        return buffer.items

    def __iter__(self) -> Iterator[list[Any]]:
        while (chunk := self.read()) is not None:
            yield chunk

    def read_all(self) -> list[Any]:
        """Every value until the writer drops its end."""
        return [v for chunk in self for v in chunk]

    def close(self) -> None:
        """Drop the readable end: the writer sees DROPPED."""
        self.finished = True
        self.shared.drop()


class FutureReader:
    """Reads the one value of a ``future<T>`` a guest handed to the host."""

    def __init__(self, store: Any, shared: Any) -> None:
        self.store = store
        self.shared = shared

    def get(self) -> Any:
        buffer = HostWritableBuffer(self.shared.t, 1)
        outcome = _Outcome()
        self.shared.read(None, buffer, outcome.append)
        _block_until(self.store, outcome, "host future read")
        self.shared.drop()
        return buffer.items[0]


class HostStream:
    """A ``stream<T>`` whose values come from a Python iterable, for a guest to read.

    Every read completes at once with what the iterable yields (up to the
    reader's room); once it is exhausted, reads report DROPPED.
    """

    def __init__(self, t: Any, values: Iterable[Any]) -> None:
        self.t = t
        self._values = iter(values)
        self.dropped = False

    def __repr__(self) -> str:
        return f"<host stream<{self.t}>>"

    def read(self, inst: Any, dst: WritableBuffer, on_copy: Any, on_copy_done: Any) -> None:
        room = dst.remain()
        values = list(itertools.islice(self._values, room))
        if values:
            dst.write(values)
            on_copy_done(CopyResult.COMPLETED)
        elif room == 0:
            on_copy_done(CopyResult.COMPLETED)  # a zero-length read only asks "ready?"
        else:
            on_copy_done(CopyResult.DROPPED)

    def cancel(self) -> None:
        """Nothing is ever pending: reads complete at once."""

    def drop(self) -> None:
        self.dropped = True


class HostFuture:
    """A ``future<T>`` already resolved to ``value``, for a guest to read."""

    def __init__(self, t: Any, value: Any) -> None:
        self.t = t
        self.value = value
        self.dropped = False

    def read(self, inst: Any, dst: WritableBuffer, on_copy_done: Any) -> None:
        dst.write([self.value])
        on_copy_done(CopyResult.COMPLETED)

    def cancel(self) -> None:
        """Nothing is ever pending: the read completes at once."""

    def drop(self) -> None:
        self.dropped = True


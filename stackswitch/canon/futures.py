"""Futures (spec: "Future State"): a stream of exactly one value.

The writer must write once (or learn that the reader dropped) before it may
drop its end; each end is DONE after its one copy, so a future is only ever
passed on in a state where it can still be read or written.
"""

from __future__ import annotations

from typing import Any

from ..errors import trap_if
from . import buffers, messages
from .buffers import ReadableBuffer, WritableBuffer
from .streams import CopyEnd, CopyResult, CopyState, OnCopyDone, Rendezvous, _check_same_instance


class SharedFuture(Rendezvous):
    """State shared by both ends of a future created with ``future.new``.

    Only a parked *writer* can see the other end drop: the writable end
    cannot be dropped before it wrote.
    """

    kind = "future"

    def read(self, inst: Any, dst: WritableBuffer, on_copy_done: OnCopyDone) -> None:
        assert not self.dropped and dst.remain() == 1
        if self.pending_buffer is None:
            self._park(inst, dst, None, on_copy_done)
            return
        _check_same_instance(self.t, inst, self.pending_inst)
        buffers.copy(dst, self.pending_buffer, 1)
        self._finish_pending(CopyResult.COMPLETED)
        on_copy_done(CopyResult.COMPLETED)

    def write(self, inst: Any, src: ReadableBuffer, on_copy_done: OnCopyDone) -> None:
        assert src.remain() == 1
        if self.dropped:
            on_copy_done(CopyResult.DROPPED)
            return
        if self.pending_buffer is None:
            self._park(inst, src, None, on_copy_done)
            return
        _check_same_instance(self.t, inst, self.pending_inst)
        buffers.copy(self.pending_buffer, src, 1)
        self._finish_pending(CopyResult.COMPLETED)
        on_copy_done(CopyResult.COMPLETED)


class ReadableFutureEnd(CopyEnd):
    kind = "future readable end"
    thing = "future"

    def copy(self, inst: Any, dst: WritableBuffer, on_copy_done: OnCopyDone) -> None:
        self.shared.read(inst, dst, on_copy_done)


class WritableFutureEnd(CopyEnd):
    kind = "future writable end"
    thing = "future"
    readable = False

    def copy(self, inst: Any, src: ReadableBuffer, on_copy_done: OnCopyDone) -> None:
        self.shared.write(inst, src, on_copy_done)

    def drop(self) -> None:
        trap_if(self.copying(), messages.busy_drop(self.thing, self.readable))
        trap_if(self.state != CopyState.DONE, messages.FUTURE_WRITE_DROP)
        CopyEnd.drop(self)

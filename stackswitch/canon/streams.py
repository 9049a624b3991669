"""Streams (spec: "Stream State") and the copy machinery shared with futures.

A stream is a rendezvous, not a pipe: nothing is buffered in between. The
first side to arrive (a reader offering room, or a writer offering values)
parks its buffer; the second side copies as much as fits straight from one
buffer to the other and completes at once, while the parked side hears of the
copy through ``on_copy`` and may keep receiving further copies into the same
buffer until it actually takes its event (then its buffer is reclaimed).

Zero-length reads and writes let a side wait for readiness without moving
data: a zero-length write meeting any parked read completes and leaves the
read parked.

``cancel`` notifies the end that called it; ``drop`` notifies the *other*
end, with DROPPED.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum, IntEnum
from typing import TYPE_CHECKING, Any

from .. import trace
from ..errors import Trap, trap_if
from . import buffers, messages
from .buffers import Buffer, ReadableBuffer, WritableBuffer
from .types import none_or_number_type
from .values import elem_size
from .waitables import EventCode, EventTuple, Waitable

if TYPE_CHECKING:
    from .component_instance import ComponentInstance


class CopyResult(IntEnum):
    COMPLETED = 0
    DROPPED = 1
    CANCELLED = 2


ReclaimBuffer = Callable[[], None]
OnCopy = Callable[[ReclaimBuffer], None]
OnCopyDone = Callable[[CopyResult], None]


def _check_same_instance(t: Any, inst: Any, pending_inst: Any) -> None:
    # Temporary spec rule: lifting and lowering within one instance could
    # alias memory, so only number payloads may be copied inside an instance.
    # (Hot: the streams' read and write test ``inst is pending_inst`` inline first.)
    if inst is pending_inst and not none_or_number_type(t):
        raise Trap(messages.SAME_INSTANCE_COPY)


class Rendezvous:
    """What both ends of a stream or future share: the copy parked by the first side.

    The side that arrives first parks its buffer and callbacks here; the
    second side copies against them. ``cancel`` finishes the parked copy as
    CANCELLED (for the end that called it); ``drop`` finishes it as DROPPED
    (for the other end).
    """

    kind = "rendezvous"

    # The extensions' pumps (``extensions/pumps.py``, off unless enabled):
    # one may read this stream and one write it; ``watcher`` hears of every
    # buffer parked here and of a drop, so that a pump can move values then.
    reader_pump: Any = None
    writer_pump: Any = None
    watcher: Callable[[Rendezvous], None] | None = None

    def __init__(self, t: Any) -> None:
        self.t = t
        self.dropped = False
        self._clear_pending()

    def __repr__(self) -> str:
        return f"<{self.kind}<{self.t}>>" if self.t is not None else f"<{self.kind}>"

    def _clear_pending(self) -> None:
        self.pending_inst: ComponentInstance | None = None
        self.pending_buffer: Buffer | None = None
        self.pending_on_copy: OnCopy | None = None
        self.pending_on_copy_done: OnCopyDone | None = None

    def _park(self, inst: Any, buffer: Buffer, on_copy: OnCopy | None,
              on_copy_done: OnCopyDone) -> None:
        self.pending_inst = inst
        self.pending_buffer = buffer
        self.pending_on_copy = on_copy
        self.pending_on_copy_done = on_copy_done
        if self.watcher is not None:
            self.watcher(self)

    def _finish_pending(self, result: CopyResult) -> None:
        on_copy_done = self.pending_on_copy_done
        self._clear_pending()
        on_copy_done(result)

    def cancel(self) -> None:
        self._finish_pending(CopyResult.CANCELLED)

    def drop(self) -> None:
        if not self.dropped:
            self.dropped = True
            if self.pending_buffer is not None:
                self._finish_pending(CopyResult.DROPPED)
            if self.watcher is not None:
                self.watcher(self)


class SharedStream(Rendezvous):
    """State shared by both ends of a stream created with ``stream.new``."""

    kind = "stream"

    def read(self, inst: Any, dst: WritableBuffer, on_copy: OnCopy, on_copy_done: OnCopyDone) -> None:
        """A reader arrives with room in ``dst``."""
        if self.dropped:
            on_copy_done(CopyResult.DROPPED)
            return
        src = self.pending_buffer
        if src is None:
            self._park(inst, dst, on_copy, on_copy_done)
            return
        if inst is self.pending_inst:
            _check_same_instance(self.t, inst, inst)
        # (hot path: remain() inline)
        src_remain = src.length - src.progress
        if src_remain > 0:
            dst_remain = dst.length - dst.progress
            if dst_remain > 0:
                buffers.copy(dst, src, dst_remain if dst_remain < src_remain else src_remain)
                self.pending_on_copy(self._clear_pending)
            on_copy_done(CopyResult.COMPLETED)
        else:
            # The parked writer only probed readiness: it completes, we park.
            self._finish_pending(CopyResult.COMPLETED)
            self._park(inst, dst, on_copy, on_copy_done)

    def write(self, inst: Any, src: ReadableBuffer, on_copy: OnCopy, on_copy_done: OnCopyDone) -> None:
        """A writer arrives with values in ``src``."""
        if self.dropped:
            on_copy_done(CopyResult.DROPPED)
            return
        dst = self.pending_buffer
        if dst is None:
            self._park(inst, src, on_copy, on_copy_done)
            return
        if inst is self.pending_inst:
            _check_same_instance(self.t, inst, inst)
        # (hot path: remain() inline)
        dst_remain = dst.length - dst.progress
        if dst_remain > 0:
            src_remain = src.length - src.progress
            if src_remain > 0:
                buffers.copy(dst, src, src_remain if src_remain < dst_remain else dst_remain)
                self.pending_on_copy(self._clear_pending)
            on_copy_done(CopyResult.COMPLETED)
        elif src.length == 0 and dst.length == 0:  # both is_zero_length()
            on_copy_done(CopyResult.COMPLETED)
        else:
            self._finish_pending(CopyResult.COMPLETED)
            self._park(inst, src, on_copy, on_copy_done)


class CopyState(Enum):
    IDLE = 1
    COPYING = 2
    CANCELLING_COPY = 3
    DONE = 4


_COPYING = (CopyState.COPYING, CopyState.CANCELLING_COPY)


class CopyEnd(Waitable):
    """One end of a stream or future, as held in a handle table."""

    kind = "end"
    pump: Any = None
    """The extension pump (splice, skip, forward) holding this end, if any."""
    type_checked: Any = None
    """A type found equal (not identical) to this end's element type: a copy whose
    definition names that type object needs no structural comparison again."""

    def __init__(self, shared: Any) -> None:
        super().__init__()
        self.state = CopyState.IDLE
        self.shared = shared
        self.buffer: Buffer | None = None
        """The buffer of the copy in progress (or of the last one)."""

    def __repr__(self) -> str:
        return f"<{self.kind} {self.state.name}>"

    def copying(self) -> bool:
        return self.state in _COPYING

    thing = "stream"
    readable = True

    def drop(self) -> None:
        trap_if(self.copying(), messages.busy_drop(self.thing, self.readable))
        self.shared.drop()
        Waitable.drop(self)


class StreamEnd(CopyEnd):
    """A stream end; while it copies, it also holds that copy's callbacks and event.

    At most one copy per end is in progress (a second one traps), so the
    copy's state lives on the end: :meth:`start_copy` records it, and
    :meth:`on_copy` / :meth:`on_copy_done` (bound methods, no closures made per
    copy) leave :meth:`copy_event` pending. Only the latest result counts: a
    later callback replaces the pending event before it is delivered, as a new
    closure would.
    """

    event_code = EventCode.STREAM_READ
    _result = CopyResult.COMPLETED
    _reclaim: ReclaimBuffer | None = None
    _copy_index = 0
    _copy_inst: Any = None

    def start_copy(self, inst: Any, i: int, buffer: Buffer) -> None:
        """A copy of ``buffer`` starts on this end, known to the guest as handle ``i``."""
        self.buffer = buffer
        self._copy_inst = inst
        self._copy_index = i
        self.state = CopyState.COPYING

    def on_copy(self, reclaim_buffer: ReclaimBuffer) -> None:
        """Values moved; the buffer stays parked until the event is taken."""
        self._result = CopyResult.COMPLETED
        self._reclaim = reclaim_buffer
        self.set_pending_event(self.copy_event)

    def on_copy_done(self, result: CopyResult) -> None:
        """The copy is over (completed, dropped or cancelled); nothing is parked."""
        self._result = result
        self._reclaim = None
        self.set_pending_event(self.copy_event)

    def copy_event(self) -> EventTuple:
        """The copy's event, delivered: reclaim the buffer, end the copy, say how far it got."""
        if self._reclaim is not None:
            self._reclaim()
            self._reclaim = None
        assert self.state in _COPYING
        result = self._result
        self.state = CopyState.DONE if result == CopyResult.DROPPED else CopyState.IDLE
        buffer = self.buffer
        assert buffer is not None
        if trace.listening:
            t = self.shared.t
            size = elem_size(t) if t is not None else 0
            trace.emit("stream.event", instance=self._copy_inst.name, end=self.kind,
                       index=self._copy_index, result=result.name,
                       count=buffer.progress, bytes=buffer.progress * size)
        return (self.event_code, self._copy_index, int(result) | (buffer.progress << 4))


class ReadableStreamEnd(StreamEnd):
    kind = "stream readable end"

    def copy(self, inst: Any, dst: WritableBuffer, on_copy: OnCopy, on_copy_done: OnCopyDone) -> None:
        self.shared.read(inst, dst, on_copy, on_copy_done)


class WritableStreamEnd(StreamEnd):
    kind = "stream writable end"
    readable = False
    event_code = EventCode.STREAM_WRITE

    def copy(self, inst: Any, src: ReadableBuffer, on_copy: OnCopy, on_copy_done: OnCopyDone) -> None:
        self.shared.write(inst, src, on_copy, on_copy_done)

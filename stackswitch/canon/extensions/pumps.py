"""Pumps: splice, skip and forward move values without a buffer in the caller's memory.

A *pump* takes the place of a copy on one or two ends of the caller:

* **splice** holds a readable end ``src`` and a writable end ``dst``: it acts
  like a read of ``src`` plus a write to ``dst``, once, moving up to ``n``
  values straight from the memory of ``src``'s writer to the memory of
  ``dst``'s reader;
* **skip** holds a readable end: it acts like a read that discards up to
  ``n`` values instead of copying them into memory;
* **forward** holds both ends like a splice of unbounded length that never
  completes: it moves values until one side ends, then ends the other side
  (``src``'s writer dropped: ``dst`` is dropped; ``dst``'s reader dropped:
  ``src`` is dropped). It also forwards futures (their one value).

States. While a pump runs, each end it holds is COPYING with ``end.pump``
set, and its stream records it (``shared.reader_pump`` on ``src``'s,
``shared.writer_pump`` on ``dst``'s). Such an end cannot be read, written,
dropped or passed to another component (it is busy, with the spec's traps);
a splice is cancelled through ``dst`` (``stream.cancel-write``), a skip
through ``src`` (``stream.cancel-read``).

Chains. Streams are rendezvous: nothing is buffered in between. A pump parks
no buffer of its own; the real writer upstream and the real reader
downstream park theirs, and each park (or drop) calls the stream's
``watcher``, :func:`settle`. A stream whose writer is a pump takes its values
from that pump's source, recursively, and one whose reader is a pump gives
them to that pump's sink: so a pipeline of splices and forwards moves values
from the first writer's memory to the last reader's in one copy, through no
memory in between. A chain whose source or sink is not there yet moves
nothing; a cycle of pumps never moves anything.

Events. When values move (or an end goes away), every splice and skip of the
chain completes: a splice's event is STREAM_WRITE on ``dst`` with payload
``src_result | dst_result << 2 | count << 4`` (both COMPLETED: the payload of
an ordinary write of ``count`` values); a skip's is STREAM_READ on ``src``
with ``result | count << 4``. Taking the event returns each end to IDLE, or
DONE if its other side dropped. Forward has no event: its ends left the
caller's table when it started.

Choice point: a transfer moves any count from 1 to the most both ends (and
each pump's limit) allow: ``ChoicePoint.PUMP_COUNT``, option 0 all of them.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from ... import trace
from ...errors import Trap
from ...scheduler import ChoicePoint
from .. import buffers
from ..buffers import GuestReadableBuffer, ReadableBuffer
from ..streams import CopyEnd, CopyResult, CopyState, Rendezvous, _check_same_instance
from ..waitables import EventCode

SPLICE_SRC_CANCEL = ("stream.cancel-read: this readable end is spliced; cancel the splice "
                     "through its writable end (stream.cancel-write)")
SPLICE_CANCEL_WRONG_END = "cancel of a pump through an end it does not report on"


class PumpKind(Enum):
    SPLICE = "splice"
    SKIP = "skip"
    FORWARD = "forward"


class Pump:
    """One splice, skip or forward in progress (see the module docs for its rules)."""

    def __init__(self, kind: PumpKind, inst: Any, src: CopyEnd, src_index: int,
                 dst: CopyEnd | None, dst_index: int, limit: int | None) -> None:
        self.kind = kind
        self.inst = inst
        self.src = src
        self.dst = dst
        self.src_index = src_index
        self.dst_index = dst_index
        self.limit = limit
        self.moved = 0
        self.done = False

    def __repr__(self) -> str:
        return f"<{self.kind.value} pump moved={self.moved}{' done' if self.done else ''}>"

    def remaining(self) -> int | None:
        return None if self.limit is None else self.limit - self.moved

    # -- starting and stopping --------------------------------------------------------

    def start(self) -> None:
        """Take the ends (COPYING) and move whatever can move now."""
        self.src.state = CopyState.COPYING
        self.src.pump = self
        _attach(self.src.shared, "reader_pump", self)
        if self.dst is not None:
            self.dst.state = CopyState.COPYING
            self.dst.pump = self
            _attach(self.dst.shared, "writer_pump", self)
        if trace.listening:
            trace.emit(f"{self.kind.value}.start", instance=self.inst.name, src=self.src_index,
                       dst=self.dst_index if self.dst is not None else None, limit=self.limit)
        if self.limit == 0:
            self.finish(CopyResult.COMPLETED, CopyResult.COMPLETED)
            return
        settle(self.src.shared)

    def _detach(self) -> None:
        self.done = True
        self.src.pump = None
        _detach(self.src.shared, "reader_pump")
        if self.dst is not None:
            self.dst.pump = None
            _detach(self.dst.shared, "writer_pump")

    def finish(self, src_result: CopyResult, dst_result: CopyResult) -> None:
        """Complete a splice or skip: its event is pending on the end it reports on."""
        assert self.kind is not PumpKind.FORWARD and not self.done
        self._detach()
        src, dst = self.src, self.dst
        if trace.listening:
            trace.emit(f"{self.kind.value}.done", instance=self.inst.name, count=self.moved,
                       src=src_result.name, dst=dst_result.name)

        def event() -> tuple[EventCode, int, int]:
            src.state = CopyState.DONE if src_result == CopyResult.DROPPED else CopyState.IDLE
            if dst is None:
                return (EventCode.STREAM_READ, self.src_index, int(src_result) | (self.moved << 4))
            dst.state = CopyState.DONE if dst_result == CopyResult.DROPPED else CopyState.IDLE
            return (EventCode.STREAM_WRITE, self.dst_index,
                    int(src_result) | (int(dst_result) << 2) | (self.moved << 4))

        (src if dst is None else dst).set_pending_event(event)

    def end_forward(self, source_ended: bool) -> None:
        """A forward's source or sink went away: end the other side too."""
        self._detach()
        src, dst = self.src, self.dst
        assert dst is not None
        src.state = dst.state = CopyState.DONE
        if trace.listening:
            trace.emit("forward.done", instance=self.inst.name, count=self.moved,
                       ended="source" if source_ended else "sink")
        # Dropping one end may end a pump further along (its watcher runs). A
        # stream<T, U>'s end value travels on with its end (stream_end.py).
        if source_ended:
            end_value = getattr(src.shared, "end_value", None)
            if end_value is not None:
                dst.shared.end_value = end_value
            dst.shared.drop()
        else:
            src.shared.drop()

    def cancel(self, e: CopyEnd) -> None:
        """``stream.cancel-read/write`` on an end this pump holds (a splice or skip)."""
        reports_on = self.dst if self.dst is not None else self.src
        if e is not reports_on:
            raise Trap(SPLICE_SRC_CANCEL if self.kind is PumpKind.SPLICE else SPLICE_CANCEL_WRONG_END)
        if not self.done:
            self.finish(CopyResult.CANCELLED, CopyResult.CANCELLED)

    # -- what a chain reports to each pump along it -------------------------------------------

    def source_ended(self) -> None:
        if self.kind is PumpKind.FORWARD:
            self.end_forward(source_ended=True)
        else:
            self.finish(CopyResult.DROPPED, CopyResult.COMPLETED)

    def sink_ended(self) -> None:
        if self.kind is PumpKind.FORWARD:
            self.end_forward(source_ended=False)
        else:
            self.finish(CopyResult.COMPLETED, CopyResult.DROPPED)

    def transferred(self, n: int) -> None:
        self.moved += n
        if self.dst is not None:
            counts.moved += n
        if self.kind is not PumpKind.FORWARD:
            self.finish(CopyResult.COMPLETED, CopyResult.COMPLETED)
        elif self.src.thing == "future":  # its one value moved: both futures are done
            self._detach()
            self.src.state = self.dst.state = CopyState.DONE


class Counts:
    """Values pumps moved (summed over the pumps of a chain: each one spared its holder a
    read and a write), values skips discarded, transfers made, bytes they copied (once,
    writer's memory to reader's) and bytes they kept out of the holders' memories (what
    read + write, or a read for a skip, would have copied in and out)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.moved = 0
        self.discarded = 0
        self.transfers = 0
        self.bytes_copied = 0
        self.bytes_kept_out = 0


counts = Counts()


def _attach(shared: Rendezvous, role: str, pump: Pump) -> None:
    setattr(shared, role, pump)
    shared.watcher = settle


def _detach(shared: Rendezvous, role: str) -> None:
    setattr(shared, role, None)
    if shared.reader_pump is None and shared.writer_pump is None:
        shared.watcher = None


# -- moving values along a chain ------------------------------------------------------------


_DISCARD = object()  # the sink of a chain that ends in a skip


def _chain(shared: Rendezvous) -> tuple[Any, list[Pump], Any] | None:
    """``(source stream, pumps in order, sink stream or _DISCARD)`` through ``shared``."""
    pumps: list[Pump] = []
    seen: set[int] = set()
    top = shared
    while top.writer_pump is not None:
        p = top.writer_pump
        if id(p) in seen:
            return None  # a cycle of pumps: nothing ever enters it
        seen.add(id(p))
        pumps.insert(0, p)
        top = p.src.shared
    bottom: Any = shared
    while bottom is not _DISCARD and bottom.reader_pump is not None:
        p = bottom.reader_pump
        if id(p) in seen:
            return None
        seen.add(id(p))
        pumps.append(p)
        bottom = _DISCARD if p.dst is None else p.dst.shared
    return top, pumps, bottom


def _parked(shared: Rendezvous) -> Any:
    """The real peer's buffer parked on an end stream of a chain, if it offers values or room.

    A zero-length buffer only asks whether the other side is ready: a pump
    is, so the probe completes at once. A buffer already used up waits for
    its owner to take the event; it offers nothing more.
    """
    b = shared.pending_buffer
    if b is None or b.remain() > 0:
        return b
    if b.is_zero_length():
        shared._finish_pending(CopyResult.COMPLETED)
    return None


def settle(shared: Rendezvous) -> None:
    """A buffer parked on (or an end dropped from) ``shared``: move what the chain through it can."""
    found = _chain(shared)
    if found is None:
        return
    top, pumps, bottom = found
    if not pumps:
        return
    if top.dropped and top.pending_buffer is None:
        pumps[0].source_ended()
        return
    if bottom is not _DISCARD and bottom.dropped and bottom.pending_buffer is None:
        pumps[-1].sink_ended()
        return
    src = _parked(top)
    dst = None if bottom is _DISCARD else _parked(bottom)
    if src is None or (dst is None and bottom is not _DISCARD):
        return
    most = src.remain() if dst is None else min(src.remain(), dst.remain())
    for p in pumps:
        left = p.remaining()
        if left is not None:
            most = min(most, left)
    n = most - pumps[0].inst.store.scheduler.decide(ChoicePoint.PUMP_COUNT, most)
    size = getattr(src, "elem_size", 0)  # guest buffers; a host buffer holds no memory
    if dst is not None:
        _check_same_instance(top.t, bottom.pending_inst, top.pending_inst)
        before = src.progress
        buffers.copy(dst, src, n)
        assert src.progress == before + n
        counts.bytes_copied += n * size
    else:
        _discard(src, n)
        counts.discarded += n
    counts.transfers += 1
    if trace.listening:
        trace.emit("pump.transfer", count=n, pumps=[p.kind.value for p in pumps],
                   discarded=dst is None)
    _notify(top)
    if dst is not None:
        _notify(bottom)
    for p in pumps:
        # each value spares its holder a copy into its memory, and a splice or
        # forward the copy back out as well
        counts.bytes_kept_out += n * size * (2 if p.dst is not None else 1)
        p.transferred(n)


def _notify(shared: Rendezvous) -> None:
    """Tell a real peer its parked buffer was used, as the second side of a copy would."""
    if shared.pending_on_copy is not None:  # a stream: the buffer stays parked until its event
        shared.pending_on_copy(shared._clear_pending)
    else:  # a future: its one value moved, the copy is complete
        shared._finish_pending(CopyResult.COMPLETED)


def _discard(src: ReadableBuffer, n: int) -> None:
    """Consume ``n`` values of a writer's buffer without lifting them (skip)."""
    if type(src) is GuestReadableBuffer:
        src.ptr += n * src.elem_size
        src.progress += n
    else:
        src.read(n)

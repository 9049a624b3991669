"""Buffers (spec: "Buffer State"): where a stream or future copy reads or writes.

A guest buffer is a (pointer, length) range of the guest's linear memory,
checked for alignment and bounds once, when the copy starts, so that the
actual ``read``/``write`` during the copy cannot fail. ``t`` is ``None`` for
``stream``/``future`` with no element type: then only counts move.

The host can implement buffers too (:class:`HostReadableBuffer`,
:class:`HostWritableBuffer`) to read or write a stream from Python.
"""

from __future__ import annotations

from typing import Any

from ..errors import trap_if
from . import messages, values
from .options import LiftLowerContext

MAX_LENGTH = 2**28 - 1


class Buffer:
    t: Any
    progress: int
    length: int

    def remain(self) -> int:
        return self.length - self.progress

    def is_zero_length(self) -> bool:
        return self.length == 0


class ReadableBuffer(Buffer):
    def read(self, n: int) -> list[Any]:
        raise NotImplementedError


class WritableBuffer(Buffer):
    def write(self, vs: list[Any]) -> None:
        raise NotImplementedError


class _GuestBuffer(Buffer):
    direction = "read"

    def __init__(self, t: Any, cx: LiftLowerContext, ptr: int, length: int) -> None:
        trap_if(length > MAX_LENGTH, messages.BUFFER_TOO_LONG)
        if t is not None and length > 0:
            memory = cx.opts.memory
            ptr_type = memory.ptr_type
            trap_if(ptr != values.align_to(ptr, values.alignment(t, ptr_type)),
                    messages.pointer_not_aligned(self.direction))
            trap_if(ptr + length * values.elem_size(t, ptr_type) > len(memory),
                    messages.pointer_out_of_bounds(self.direction))
        self.t = t
        self.cx = cx
        self.ptr = ptr
        self.progress = 0
        self.length = length


class GuestReadableBuffer(_GuestBuffer, ReadableBuffer):
    """Values a writer offers from its memory (``stream.write``/``future.write``)."""

    def read(self, n: int) -> list[Any]:
        assert 0 < n <= self.remain()
        if self.t is None:
            vs: list[Any] = [None] * n
        else:
            vs = values.load_list_from_valid_range(self.cx, self.ptr, n, self.t)
            self.ptr += n * values.elem_size(self.t, self.cx.opts.memory.ptr_type)
        self.progress += n
        return vs


class GuestWritableBuffer(_GuestBuffer, WritableBuffer):
    """Room a reader offers in its memory (``stream.read``/``future.read``)."""

    direction = "write"

    def write(self, vs: list[Any]) -> None:
        assert len(vs) <= self.remain()
        if self.t is not None:
            values.store_list_into_valid_range(self.cx, vs, self.ptr, self.t)
            self.ptr += len(vs) * values.elem_size(self.t, self.cx.opts.memory.ptr_type)
        self.progress += len(vs)


class HostReadableBuffer(ReadableBuffer):
    """A Python list offered to a reader."""

    def __init__(self, t: Any, items: list[Any]) -> None:
        self.t = t
        self.items = list(items)
        self.progress = 0
        self.length = len(self.items)

    def read(self, n: int) -> list[Any]:
        vs = self.items[self.progress:self.progress + n]
        self.progress += n
        return vs


class HostWritableBuffer(WritableBuffer):
    """Room for up to ``length`` values, collected into a Python list."""

    def __init__(self, t: Any, length: int) -> None:
        self.t = t
        self.items: list[Any] = []
        self.progress = 0
        self.length = length

    def write(self, vs: list[Any]) -> None:
        self.items.extend(vs)
        self.progress += len(vs)

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

from ..errors import Trap
from . import messages, values
from .options import LiftLowerContext
from .types import S8Type, S16Type, S32Type, S64Type, U8Type, U16Type, U32Type, U64Type

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
        if length > MAX_LENGTH:
            raise Trap(messages.BUFFER_TOO_LONG)
        self.elem_size = 0
        if t is not None:
            memory = cx.opts.memory
            ptr_type = memory.ptr_type
            self.elem_size, align = values.size_and_alignment(t, ptr_type)
            if length > 0:
                if ptr % align:
                    raise Trap(messages.pointer_not_aligned(self.direction))
                end = ptr + length * self.elem_size
                # A linear memory never shrinks: a range within a size it is known to
                # have had (``WasmMemory.known_size``, kept without a size query) is in
                # bounds; otherwise ask its size (which updates that bound).
                if end > getattr(memory, "known_size", 0) and end > len(memory):
                    raise Trap(messages.pointer_out_of_bounds(self.direction))
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
            self.ptr += n * self.elem_size
        self.progress += n
        return vs


class GuestWritableBuffer(_GuestBuffer, WritableBuffer):
    """Room a reader offers in its memory (``stream.read``/``future.read``)."""

    direction = "write"

    def write(self, vs: list[Any]) -> None:
        assert len(vs) <= self.remain()
        if self.t is not None:
            values.store_list_into_valid_range(self.cx, vs, self.ptr, self.t)
            self.ptr += len(vs) * self.elem_size
        self.progress += len(vs)


_RAW_COPY_TYPES = (U8Type, S8Type, U16Type, S16Type, U32Type, S32Type, U64Type, S64Type)


def copy(dst: WritableBuffer, src: ReadableBuffer, n: int) -> None:
    """Move ``n`` values from ``src`` to ``dst``.

    Between two guest memories, integers are moved as raw bytes: lifting and
    lowering an integer is the identity on its bytes, and this is what makes
    bulk stream copies fast. Everything else is lifted and lowered value by
    value (floats too: lifting canonicalises NaNs).
    """
    if (type(src) is GuestReadableBuffer and type(dst) is GuestWritableBuffer
            and isinstance(src.t, _RAW_COPY_TYPES)):
        size = n * src.elem_size
        src_memory, dst_memory = src.cx.opts.memory, dst.cx.opts.memory
        # Two memories of a kind that copies between its own kind (``WasmMemory``):
        # one memmove, no intermediate ``bytes``.
        copy_from = getattr(dst_memory, "copy_from", None)
        if copy_from is not None and type(src_memory) is type(dst_memory):
            copy_from(dst.ptr, src_memory, src.ptr, size)
        else:
            dst_memory.write(dst.ptr, src_memory.read(src.ptr, size))
        src.ptr += size
        dst.ptr += size
        src.progress += n
        dst.progress += n
        return
    dst.write(src.read(n))


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

"""A wasmtime linear memory behind the :class:`~stackswitch.wasm.memory.Memory` protocol.

Reads and writes go straight to the memory's bytes through its base
address, after a bounds check against its current size. Both are re-read
on every access: wasm (or the host) may grow the memory between two
accesses, and growing may move it. A range outside the memory traps like
wasm does; the host bytes around the memory are never touched.
"""

from __future__ import annotations

import ctypes

import wasmtime

from ..errors import Trap
from . import capi
from .memory import OUT_OF_BOUNDS, PtrType

_HOST = capi.HOST


class WasmMemory:
    """The linear memory ``memory`` (a ``wasmtime.Memory``) of ``store``."""

    __slots__ = ("store", "memory", "ptr_type", "_context", "_address", "known_size")

    def __init__(self, store: wasmtime.Store, memory: wasmtime.Memory) -> None:
        if not isinstance(memory, wasmtime.Memory):
            raise TypeError(f"expected a wasmtime.Memory, not {type(memory).__name__}")
        self.store = store  # both kept alive: their addresses are used below
        self.memory = memory
        self._context = capi.address(store._context())
        self._address = ctypes.addressof(memory._memory)
        self.known_size = 0
        """A size the memory has had: a lower bound of its size now, since a linear
        memory never shrinks. A range inside it needs no size query."""
        memtype = capi.memory_type(self._context, self._address)
        try:
            self.ptr_type: PtrType = "i64" if capi.memorytype_is64(memtype) else "i32"
        finally:
            capi.memorytype_delete(memtype)

    def __len__(self) -> int:
        size = self.known_size = capi.memory_data_size(self._context, self._address)
        return size

    def __repr__(self) -> str:
        return f"WasmMemory({len(self)} bytes, ptr_type={self.ptr_type!r})"

    def _host_address(self, ptr: int, n: int) -> int:
        """Where guest bytes ``[ptr, ptr + n)`` are now; traps if they are not all in bounds."""
        if ptr < 0 or n < 0:
            raise Trap(OUT_OF_BOUNDS)
        if ptr + n > self.known_size:
            self.known_size = capi.memory_data_size(self._context, self._address)
            if ptr + n > self.known_size:
                raise Trap(OUT_OF_BOUNDS)
        return (capi.memory_data(self._context, self._address) or 0) + ptr

    def read(self, ptr: int, n: int) -> bytes:
        """The ``n`` bytes at ``ptr``; traps when the range is out of bounds."""
        at = self._host_address(ptr, n)
        return bytes(_HOST[at:at + n]) if n else b""

    def write(self, ptr: int, data: bytes | bytearray | memoryview) -> None:
        """Copy ``data`` to ``ptr``; traps when the range is out of bounds."""
        if not isinstance(data, (bytes, bytearray)):
            data = memoryview(data).tobytes()  # any layout: we copy its raw bytes
        n = len(data)
        at = self._host_address(ptr, n)
        if n:
            _HOST[at:at + n] = data

    def copy_from(self, ptr: int, src: WasmMemory, src_ptr: int, n: int) -> None:
        """Copy ``n`` bytes at ``src_ptr`` of ``src`` to ``ptr`` here: one memmove, no
        intermediate ``bytes``. Traps (the source checked first, as a read then a
        write would) when either range is out of bounds; the ranges may overlap."""
        src_at = src._host_address(src_ptr, n)
        at = self._host_address(ptr, n)
        if n:
            ctypes.memmove(at, src_at, n)

    def grow(self, delta_pages: int) -> int:
        """Add ``delta_pages`` pages; the old page count, or -1 if it cannot grow that much.

        Like ``memory.grow`` (whose operand is unsigned) a negative delta fails.
        """
        if not 0 <= delta_pages < 1 << 64:
            return -1
        previous = ctypes.c_uint64()
        error = capi.memory_grow(self._context, self._address, delta_pages,
                                 ctypes.addressof(previous))
        if error:
            capi.error_delete(error)
            return -1
        return previous.value

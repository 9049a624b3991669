"""Linear memory as the value ABI sees it.

:class:`Memory` is the small protocol :mod:`.values` relies on: a pointer
type, a byte length, and bounds-checked ``read``/``write`` of byte ranges.
Anything providing those four can back a component's ``memory`` canonopt,
e.g. a wasmtime memory reached through a raw pointer.

:class:`LinearMemory` is the in-process implementation: a ``bytearray`` in
64 KiB pages, plus typed little-endian helpers for guests written in Python.
Every access is bounds-checked and an out-of-range access traps with
wasmtime's wording, never with ``IndexError`` or ``struct.error``.
"""

from __future__ import annotations

import struct
from typing import Any, Literal, Protocol

from ..errors import Trap

PtrType = Literal["i32", "i64"]

PAGE_SIZE = 65536

OUT_OF_BOUNDS = "out of bounds memory access"

# The largest number of pages an address space of each pointer type can hold.
_MAX_PAGES = {"i32": 2**32 // PAGE_SIZE, "i64": 2**64 // PAGE_SIZE}


class Memory(Protocol):
    """What the value ABI needs from a memory."""

    @property
    def ptr_type(self) -> PtrType:
        """``'i32'`` or ``'i64'`` (memory64): the core type of pointers."""
        ...

    def __len__(self) -> int:
        """Current size in bytes."""
        ...

    def read(self, ptr: int, n: int) -> bytes:
        """The ``n`` bytes at ``ptr``; traps when the range is out of bounds."""
        ...

    def write(self, ptr: int, data: bytes | bytearray | memoryview) -> None:
        """Copy ``data`` to ``ptr``; traps when the range is out of bounds."""
        ...


def ptr_size(ptr_type: PtrType) -> int:
    """Byte size of a pointer of the given core type."""
    return 4 if ptr_type == "i32" else 8


class LinearMemory:
    """A growable ``bytearray``-backed linear memory."""

    def __init__(self, pages: int = 1, max_pages: int | None = None,
                 ptr_type: PtrType = "i32") -> None:
        if ptr_type not in _MAX_PAGES:
            raise ValueError(f"ptr_type must be 'i32' or 'i64', not {ptr_type!r}")
        limit = _MAX_PAGES[ptr_type] if max_pages is None else max_pages
        if not 0 <= pages <= limit <= _MAX_PAGES[ptr_type]:
            raise ValueError(f"need 0 <= pages ({pages}) <= max_pages ({limit})")
        self.ptr_type: PtrType = ptr_type
        self.max_pages = limit
        self._data = bytearray(pages * PAGE_SIZE)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"LinearMemory(pages={self.pages}, ptr_type={self.ptr_type!r})"

    @property
    def pages(self) -> int:
        return len(self._data) // PAGE_SIZE

    def grow(self, delta_pages: int) -> int:
        """Add ``delta_pages`` zeroed pages; the old page count, or -1 if over the limit.

        Like ``memory.grow``, whose operand is unsigned, it cannot shrink: a
        negative delta fails.
        """
        old = self.pages
        if delta_pages < 0 or old + delta_pages > self.max_pages:
            return -1
        self._data.extend(bytes(delta_pages * PAGE_SIZE))
        return old

    def _check(self, ptr: int, n: int) -> None:
        if ptr < 0 or n < 0 or ptr + n > len(self._data):
            raise Trap(OUT_OF_BOUNDS)

    def read(self, ptr: int, n: int) -> bytes:
        self._check(ptr, n)
        return bytes(self._data[ptr:ptr + n])

    def write(self, ptr: int, data: bytes | bytearray | memoryview) -> None:
        n = len(data)
        self._check(ptr, n)
        self._data[ptr:ptr + n] = data

    # Typed helpers for guests written in Python. Loads and stores are
    # little-endian like wasm's; stores keep only the low bits of an integer,
    # as wasm's narrowing stores do, so signed and unsigned values both work.

    def _load(self, fmt: struct.Struct, ptr: int) -> Any:
        self._check(ptr, fmt.size)
        return fmt.unpack_from(self._data, ptr)[0]

    def _store_int(self, size: int, ptr: int, value: int) -> None:
        self._check(ptr, size)
        self._data[ptr:ptr + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")

    def load_u8(self, ptr: int) -> int:
        return self._load(_U8, ptr)

    def load_s8(self, ptr: int) -> int:
        return self._load(_S8, ptr)

    def load_u16(self, ptr: int) -> int:
        return self._load(_U16, ptr)

    def load_s16(self, ptr: int) -> int:
        return self._load(_S16, ptr)

    def load_u32(self, ptr: int) -> int:
        return self._load(_U32, ptr)

    def load_s32(self, ptr: int) -> int:
        return self._load(_S32, ptr)

    def load_u64(self, ptr: int) -> int:
        return self._load(_U64, ptr)

    def load_s64(self, ptr: int) -> int:
        return self._load(_S64, ptr)

    def load_f32(self, ptr: int) -> float:
        return self._load(_F32, ptr)

    def load_f64(self, ptr: int) -> float:
        return self._load(_F64, ptr)

    def store_u8(self, ptr: int, value: int) -> None:
        self._store_int(1, ptr, value)

    store_s8 = store_u8

    def store_u16(self, ptr: int, value: int) -> None:
        self._store_int(2, ptr, value)

    store_s16 = store_u16

    def store_u32(self, ptr: int, value: int) -> None:
        self._store_int(4, ptr, value)

    store_s32 = store_u32

    def store_u64(self, ptr: int, value: int) -> None:
        self._store_int(8, ptr, value)

    store_s64 = store_u64

    def store_f32(self, ptr: int, value: float) -> None:
        self._check(ptr, 4)
        try:
            _F32.pack_into(self._data, ptr, value)
        except OverflowError:
            # Too large for binary32: IEEE rounding makes it an infinity.
            _F32.pack_into(self._data, ptr, float("inf") if value > 0 else float("-inf"))

    def store_f64(self, ptr: int, value: float) -> None:
        self._check(ptr, 8)
        _F64.pack_into(self._data, ptr, value)

    def load_bytes(self, ptr: int, n: int) -> bytes:
        return self.read(ptr, n)

    def store_bytes(self, ptr: int, data: bytes | bytearray | memoryview) -> None:
        self.write(ptr, data)

    def load_str(self, ptr: int, n: int) -> str:
        """The UTF-8 string of ``n`` bytes at ``ptr``; traps if it is not UTF-8."""
        try:
            return self.read(ptr, n).decode("utf-8")
        except UnicodeDecodeError as e:
            raise Trap(f"invalid utf-8 at byte {ptr + e.start}") from None

    def store_str(self, ptr: int, s: str) -> int:
        """Write ``s`` as UTF-8 at ``ptr``; returns the number of bytes written."""
        data = s.encode("utf-8")
        self.write(ptr, data)
        return len(data)


_U8 = struct.Struct("<B")
_S8 = struct.Struct("<b")
_U16 = struct.Struct("<H")
_S16 = struct.Struct("<h")
_U32 = struct.Struct("<I")
_S32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")
_S64 = struct.Struct("<q")
_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")

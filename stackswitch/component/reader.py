"""Reading the primitive encodings of the binary format: bytes, LEB128, names, vectors.

A :class:`Reader` is a window ``[pos, end)`` over one shared ``bytes`` object.
Sub-readers for sections and nested components share the buffer, so every
offset in an error is an offset into the whole binary, and nothing is copied
until a definition actually keeps some bytes.

Every read is bounded by the window: a length or count read from the input is
checked against the bytes that remain *before* anything is built, so a forged
``0xffffffff`` count fails at once instead of allocating or looping. Each
element of every vector in the format takes at least one byte, which is what
makes ``count <= remaining`` a sound bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, TypeVar

T = TypeVar("T")


class DecodeError(Exception):
    """The input is not a well-formed binary; the only error the decoder raises.

    ``offset`` is the position in the whole binary where decoding stopped, so
    it never exceeds the binary's length.
    """

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(offset, message)
        self.offset = offset
        self.message = message

    def __str__(self) -> str:
        return f"offset 0x{self.offset:x}: {self.message}"


class Reader:
    """A cursor over ``data[pos:end]``; ``what`` names the window in errors."""

    __slots__ = ("data", "pos", "end", "what")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None, what: str = "input"):
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end
        self.what = what

    # -- state --------------------------------------------------------------

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def at_end(self) -> bool:
        return self.pos >= self.end

    def fail(self, message: str, offset: int | None = None) -> NoReturn:
        raise DecodeError(self.pos if offset is None else offset, message)

    def _need(self, n: int) -> None:
        if n > self.remaining:
            self.fail(f"unexpected end of {self.what}: need {n} byte(s), {self.remaining} left")

    def sub(self, length: int, what: str) -> Reader:
        """Split off the next ``length`` bytes as their own window and skip them here."""
        self._need(length)
        child = Reader(self.data, self.pos, self.pos + length, what)
        self.pos += length
        return child

    # -- bytes --------------------------------------------------------------

    def peek(self) -> int:
        self._need(1)
        return self.data[self.pos]

    def byte(self) -> int:
        self._need(1)
        b = self.data[self.pos]
        self.pos += 1
        return b

    def take(self, n: int) -> bytes:
        self._need(n)
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def rest(self) -> bytes:
        return self.take(self.remaining)

    def flag(self, what: str) -> bool:
        """A ``0x00``/``0x01`` byte, as used by ``async?``, ``cancel?`` and the like."""
        start = self.pos
        b = self.byte()
        if b > 1:
            self.fail(f"expected {what} (0x00 or 0x01), found byte 0x{b:02x}", start)
        return b == 1

    # -- LEB128 -------------------------------------------------------------

    def _leb(self, bits: int, signed: bool, what: str) -> int:
        """Decode a LEB128 of at most ``ceil(bits / 7)`` bytes, as the core spec limits it.

        The spare high bits of the last allowed byte must be zero (unsigned)
        or copies of the sign bit (signed); otherwise the value does not fit.
        """
        start = self.pos
        max_len = (bits + 6) // 7
        result = 0
        shift = 0
        for i in range(max_len):
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if i == max_len - 1:
                if b & 0x80:
                    self.fail(f"integer representation too long for {what}", start)
                used = bits - 7 * i  # value bits carried by this last byte
                spare = (b & 0x7F) >> (used - 1 if signed else used)
                allowed = (0, (0x7F >> (used - 1))) if signed else (0,)
                if spare not in allowed:
                    self.fail(f"integer too large for {what}", start)
            elif not b & 0x80:
                break
        if signed and result & (1 << (shift - 1)):
            result -= 1 << shift
        return result

    def u32(self) -> int:
        return self._leb(32, False, "u32")

    def u64(self) -> int:
        return self._leb(64, False, "u64")

    def s32(self) -> int:
        return self._leb(32, True, "s32")

    def s33(self) -> int:
        return self._leb(33, True, "s33")

    def s64(self) -> int:
        return self._leb(64, True, "s64")

    # -- names and vectors ----------------------------------------------------

    def name(self) -> str:
        """A ``core:name``: a u32 byte length, then that many bytes of valid UTF-8."""
        length = self.u32()
        start = self.pos
        raw = self.take(length)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            self.fail("malformed UTF-8 encoding in name", start + e.start)

    def count(self, what: str) -> int:
        """A vector length, refused if it claims more elements than bytes remain."""
        start = self.pos
        n = self.u32()
        if n > self.remaining:
            self.fail(f"{what}: count {n} exceeds the {self.remaining} byte(s) left", start)
        return n

    def vec(self, item: Callable[[], T], what: str) -> tuple[T, ...]:
        """``vec(item)``: a count, then that many items (each at least one byte long)."""
        return tuple(item() for _ in range(self.count(what)))

    def bad_byte(self, found: int, expected: str, offset: int | None = None) -> NoReturn:
        """Fail with the standard wording for an unknown opcode/discriminant."""
        at = self.pos - 1 if offset is None else offset
        self.fail(f"expected {expected}, found byte 0x{found:02x}", at)

"""The WebAssembly binary format's shared encodings: bytes, LEB128, names, vectors, sections.

Both binaries this project reads start the same way (``\\0asm``, a version,
a layer) and are a run of sections, each an id byte, a u32 size and that
many bytes of content. The component decoder
(:mod:`stackswitch.component.decoder`) and the asyncify transform's checks on
a core module (:mod:`callback_abi.asyncify`) both read them with a
:class:`Reader`; what a section's content *means* is theirs to decide.

A :class:`Reader` is a window ``[pos, end)`` over one shared ``bytes`` object.
Sub-readers for sections and nested components share the buffer, so every
offset in an error is an offset into the whole binary, and nothing is copied
until a caller actually keeps some bytes.

Every read is bounded by the window: a length or count read from the input is
checked against the bytes that remain *before* anything is built, so a forged
``0xffffffff`` count fails at once instead of allocating or looping. Each
element of every vector in the format takes at least one byte, which is what
makes ``count <= remaining`` a sound bound. :class:`DecodeError` is the only
exception a malformed input can cause here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NoReturn, TypeVar

T = TypeVar("T")

MAGIC = b"\x00asm"
PREAMBLE_SIZE = 8
"""Magic, then a 16-bit version and a 16-bit layer, both little-endian."""

CORE_VERSION = 0x01
CORE_LAYER = 0x00
COMPONENT_VERSION = 0x0D
COMPONENT_LAYER = 0x01


class DecodeError(Exception):
    """The input is not a well-formed binary; the only error a :class:`Reader` raises.

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

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None,
                 what: str = "input") -> None:
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
        """Raise :class:`DecodeError` at ``offset`` (default: the current position)."""
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

    def bad_byte(self, found: int, expected: str, offset: int | None = None) -> NoReturn:
        """Fail with the standard wording for an unknown opcode/discriminant."""
        at = self.pos - 1 if offset is None else offset
        self.fail(f"expected {expected}, found byte 0x{found:02x}", at)

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
        """A ``name``: a u32 byte length, then that many bytes of valid UTF-8."""
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


# -- the preamble -----------------------------------------------------------------


def read_preamble(r: Reader) -> tuple[int, int]:
    """The ``(version, layer)`` after the magic bytes; what they must be is the caller's check.

    A wrong magic is reported before a short input, so a non-wasm file of
    fewer than 8 bytes is called that rather than "truncated".
    """
    start = r.pos
    head = r.data[start : min(start + len(MAGIC), r.end)]
    if head != MAGIC[: len(head)]:
        r.fail("not a WebAssembly binary: the magic bytes are not \\0asm", start)
    if r.remaining < PREAMBLE_SIZE:
        r.fail(f"unexpected end of {r.what}: an {PREAMBLE_SIZE}-byte preamble needs "
               f"{PREAMBLE_SIZE - r.remaining} more")
    r.pos += len(MAGIC)
    version = int.from_bytes(r.take(2), "little")
    layer = int.from_bytes(r.take(2), "little")
    return version, layer


# -- sections -----------------------------------------------------------------------

CORE_SECTION_NAMES = {
    0: "custom", 1: "type", 2: "import", 3: "function", 4: "table", 5: "memory", 6: "global",
    7: "export", 8: "start", 9: "element", 10: "code", 11: "data", 12: "data count", 13: "tag",
}
"""A core module's section ids, as the core spec (and the exception-handling proposal) name them."""


def core_section_label(section_id: int) -> str:
    """How a core module's section is named in errors (an unknown id by its number)."""
    known = CORE_SECTION_NAMES.get(section_id)
    return f"{known} section" if known is not None else f"section {section_id}"


@dataclass(frozen=True, slots=True)
class Section:
    """One section as framed in the binary; ``body`` is a window over its content.

    Offsets are into the whole binary: the id byte is at ``start``, the
    content spans ``[content_start, content_start + size)``.
    """

    id: int
    start: int
    content_start: int
    size: int
    label: str
    body: Reader

    @property
    def end(self) -> int:
        return self.content_start + self.size

    @property
    def raw(self) -> bytes:
        """The whole section as it stands in the binary: id, size and content."""
        return self.body.data[self.start : self.end]

    def expect_end(self) -> None:
        """Fail unless the content was read exactly to its declared end."""
        if not self.body.at_end():
            self.body.fail(f"{self.label} declares {self.size} byte(s) but its content ends "
                           f"after {self.body.pos - self.content_start}")


def read_section(r: Reader, label: Callable[[int], str] = core_section_label) -> Section:
    """The section at ``r``'s position; ``r`` moves past it.

    ``label(id)`` names the section in errors; it runs before the size is
    read, so it may itself refuse an id the caller does not know.
    """
    start = r.pos
    section_id = r.byte()
    where = f"{label(section_id)} at 0x{start:x}"
    size = r.u32()
    content_start = r.pos
    if size > r.remaining:
        r.fail(f"{where} declares {size} byte(s) but only {r.remaining} remain", start)
    body = r.sub(size, f"{where} (declared size {size})")
    return Section(section_id, start, content_start, size, where, body)


def iter_sections(r: Reader, label: Callable[[int], str] = core_section_label
                  ) -> Iterator[Section]:
    """Every section from ``r``'s position to the end of its window, in order."""
    while not r.at_end():
        yield read_section(r, label)


# -- writing ------------------------------------------------------------------------


def encode_uleb(n: int) -> bytes:
    """``n >= 0`` as the shortest unsigned LEB128."""
    if n < 0:
        raise ValueError(f"an unsigned LEB128 cannot hold {n}")
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def encode_name(name: str) -> bytes:
    """A ``name`` as the format writes it: its UTF-8 length, then the bytes."""
    raw = name.encode("utf-8")
    return encode_uleb(len(raw)) + raw


def encode_section(section_id: int, content: bytes) -> bytes:
    """A section framed as the format requires: id byte, size, content."""
    return bytes([section_id]) + encode_uleb(len(content)) + content

"""A core module read and edited just enough for asyncify: its memories, imports and exports.

The checks before the transform (:mod:`.transform`) need to know how many
memories a module has and of what kind, what it imports and what it exports;
everything else in the binary is passed over unread. A module with no memory
at all (many hand-written test guests) has nowhere to keep unwound stacks, so
:func:`with_memory` gives it one of its own.

The binary is read with :mod:`stackswitch.wasm.binary`; a malformed one is a
``ValueError`` whose message names the offset where reading stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stackswitch.wasm.binary import (
    COMPONENT_LAYER,
    COMPONENT_VERSION,
    CORE_LAYER,
    CORE_VERSION,
    PREAMBLE_SIZE,
    DecodeError,
    Reader,
    Section,
    encode_name,
    encode_section,
    encode_uleb,
    iter_sections,
    read_preamble,
)

MEMORY_EXPORT = "stackswitch:unwind-memory"
"""The export name of the memory :func:`with_memory` gives a module that had none."""

IMPORT_SECTION, MEMORY_SECTION, EXPORT_SECTION = 2, 5, 7
FUNC_KIND, TABLE_KIND, MEMORY_KIND, GLOBAL_KIND, TAG_KIND = range(5)
"""Import and export kinds, as their descriptors are tagged."""

_REF_NULL, _REF = 0x63, 0x64  # value types followed by a heap type

# Where each known section goes, in the order the binary format requires
# (the tag section, 13, sits between memory and global; data count, 12,
# before code). Custom sections (0) may go anywhere.
_SECTION_RANK = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12,
                 11: 13}

_ONE_PAGE = b"\x01\x00\x01"
"""A memory section's content: one memory, no maximum, one page."""


@dataclass(frozen=True)
class MemoryShape:
    imported: bool
    is64: bool
    custom_page_size: bool


@dataclass
class ModuleShape:
    """What the checks before the transform need to know about a module."""

    memories: list[MemoryShape] = field(default_factory=list)
    imports: list[tuple[str, str, int]] = field(default_factory=list)
    """``(module, name, kind)`` of each import, in order."""
    exports: dict[str, int] = field(default_factory=dict)
    """Each export's name and kind."""


# -- reading ------------------------------------------------------------------------


def _skip_valtype(r: Reader) -> None:
    if r.byte() in (_REF_NULL, _REF):
        r.s33()  # the heap type


def _limits(r: Reader) -> tuple[bool, bool]:
    """Skip a ``limits``; whether it is 64-bit and whether it sets a custom page size."""
    flags = r.byte()
    is64, custom_page_size = bool(flags & 4), bool(flags & 8)
    bound = r.u64 if is64 else r.u32
    bound()
    if flags & 1:
        bound()
    if custom_page_size:
        r.u32()
    return is64, custom_page_size


def _import(r: Reader, shape: ModuleShape) -> None:
    module, name, kind = r.name(), r.name(), r.byte()
    shape.imports.append((module, name, kind))
    if kind == FUNC_KIND:
        r.u32()
    elif kind == TABLE_KIND:
        _skip_valtype(r)
        _limits(r)
    elif kind == MEMORY_KIND:
        shape.memories.append(MemoryShape(True, *_limits(r)))
    elif kind == GLOBAL_KIND:
        _skip_valtype(r)
        r.byte()  # mutability
    elif kind == TAG_KIND:
        r.byte()  # attribute
        r.u32()
    else:
        r.bad_byte(kind, "an import kind (0x00 to 0x04)")


def _imports(r: Reader, shape: ModuleShape) -> None:
    for _ in range(r.count("imports")):
        _import(r, shape)


def _memories(r: Reader, shape: ModuleShape) -> None:
    for _ in range(r.count("memories")):
        shape.memories.append(MemoryShape(False, *_limits(r)))


def _exports(r: Reader, shape: ModuleShape) -> None:
    for _ in range(r.count("exports")):
        name, kind = r.name(), r.byte()
        r.u32()
        shape.exports[name] = kind


_SECTION_READERS = {IMPORT_SECTION: _imports, MEMORY_SECTION: _memories, EXPORT_SECTION: _exports}


def _core_preamble(r: Reader) -> None:
    """Check that ``r`` starts a core module; ``ValueError`` says what it is instead."""
    try:
        version, layer = read_preamble(r)
    except DecodeError as e:
        raise ValueError(e.message) from None
    if (version, layer) != (CORE_VERSION, CORE_LAYER):
        is_component = (version, layer) == (COMPONENT_VERSION, COMPONENT_LAYER)
        kind = "a component" if is_component else "not a core module"
        raise ValueError(f"{kind} (version bytes {r.data[4:PREAMBLE_SIZE].hex()}); asyncify "
                         "transforms one core module")


def read_shape(module_bytes: bytes) -> ModuleShape:
    """Memories, imports and exports of a core module; ``ValueError`` says what is wrong."""
    r = Reader(bytes(module_bytes), what="core module")
    _core_preamble(r)
    shape = ModuleShape()
    try:
        for section in iter_sections(r):
            read = _SECTION_READERS.get(section.id)
            if read is not None:
                read(section.body, shape)
    except DecodeError as e:
        raise ValueError(f"cannot read it as a core module ({e})") from None
    return shape


def needs_memory(module_bytes: bytes) -> bool:
    """Does this core module have no linear memory at all (defined or imported)?"""
    try:
        return not read_shape(module_bytes).memories
    except ValueError:
        return False  # asyncify() reports what is wrong with it


# -- editing ------------------------------------------------------------------------


def _due_before(missing: dict[int, bytes], rank: int) -> bytes:
    """Take out of ``missing`` the sections that must come before a section of ``rank``."""
    due = [section_id for section_id in missing if _SECTION_RANK[section_id] < rank]
    return b"".join(missing.pop(section_id) for section_id in due)


def _exports_plus(section: Section, entry: bytes) -> bytes:
    """An export section: ``section``'s exports, then ``entry``."""
    count = section.body.u32()
    return encode_section(EXPORT_SECTION, encode_uleb(count + 1) + section.body.rest() + entry)


def with_memory(module_bytes: bytes) -> bytes:
    """``module_bytes`` plus a one-page memory of its own, exported as :data:`MEMORY_EXPORT`.

    The code never touches this memory, only asyncify's instrumentation and
    the host's unwind buffers do. Every other section is copied unchanged,
    and the new ones go where the format's section order puts them.
    """
    data = bytes(module_bytes)
    if read_shape(data).memories:
        raise ValueError("the module already has a memory")
    entry = encode_name(MEMORY_EXPORT) + bytes([MEMORY_KIND]) + encode_uleb(0)
    missing = {MEMORY_SECTION: encode_section(MEMORY_SECTION, _ONE_PAGE),
               EXPORT_SECTION: encode_section(EXPORT_SECTION, b"\x01" + entry)}
    out = bytearray(data[:PREAMBLE_SIZE])
    for section in iter_sections(Reader(data, PREAMBLE_SIZE)):
        out += _due_before(missing, _SECTION_RANK.get(section.id, 0))
        if section.id == EXPORT_SECTION:
            missing.pop(EXPORT_SECTION, None)
            out += _exports_plus(section, entry)
        else:
            out += section.raw
    out += b"".join(missing.values())
    return bytes(out)

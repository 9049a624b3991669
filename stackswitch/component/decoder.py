"""Decoding a component binary (Binary.md, as ``wasm-tools`` 1.262 writes it) into :mod:`.ast`.

The decoder checks the grammar only: opcodes, immediates, section sizes,
LEB128 limits and UTF-8. Everything Binary.md calls *validation* (index
bounds, non-empty records, duplicate canon options, type checks...) is left
to a later pass, so binaries that are well-formed but invalid still decode.

Where ``wasm-tools`` 1.262 and Binary.md disagree, we follow what 1.262
writes (it is what produces our binaries) and accept Binary.md's extra forms
when that costs no ambiguity:

* ``cancel?`` (on ``waitable-set.wait/poll`` and the ``thread.*`` switches):
  1.262 always writes ``0x00`` (component-model#716 removed ``cancellable``);
  we also accept Binary.md's ``0x01`` and report it as ``cancellable``.
* ``thread.spawn-ref``/``spawn-indirect``/``available-parallelism`` carry no
  ``shared?`` byte in 1.262.
* ``stream.forward`` (0x2e) and ``future.forward`` (0x2f) exist in 1.262 only.
* canonopts 0x08 (``core-type``) and 0x09 (``gc``) exist in 1.262 only.
* A value import/export (``externtype`` 0x02) is a bare ``valtype`` in 1.262,
  not a ``valuebound``.
* A type declared inside a core module type is a ``core:rectype``, so
  ``0x50`` there is a non-final ``sub`` type, never a nested module type.
* Value sections (12, 🪙) are not written by 1.262; we decode them per
  Binary.md, keeping each value's bytes raw.

Robustness: :class:`~stackswitch.wasm.binary.DecodeError` is the only exception
bad input can cause. Every loop consumes input, every count is bounded by the
bytes left (see :mod:`stackswitch.wasm.binary`), and nesting (components in
components, types in types) is capped at :data:`MAX_NESTING` so recursion
stays far from Python's limit.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from ..wasm.binary import (
    COMPONENT_LAYER,
    COMPONENT_VERSION,
    CORE_LAYER,
    CORE_VERSION,
    MAGIC,
    DecodeError,
    Reader,
    read_preamble,
    read_section,
)
from . import ast

__all__ = ["DecodeError", "decode_component", "MAX_NESTING"]

MAX_NESTING = 64
"""How deeply components and component/instance types may nest."""

CORE_MODULE_PREAMBLE = MAGIC + bytes([CORE_VERSION, 0, CORE_LAYER, 0])


def _codes(enum: type[Enum]) -> frozenset[int]:
    """The byte values of an enum of binary codes, for membership tests."""
    return frozenset(member.value for member in enum)


_CORE_SORTS = _codes(ast.CoreSort)
_SORTS = _codes(ast.Sort)
_NUM_TYPES = _codes(ast.CoreNumType)
_PACKED = _codes(ast.CorePackedType)
_ABS_HEAP_TYPES = _codes(ast.CoreAbsHeapType)
_PRIM_TYPES = _codes(ast.PrimValType)
_CANON_OPTS = _codes(ast.CanonOptKind)


def decode_component(data: bytes) -> ast.Component:
    """Decode a whole component binary; raise :class:`DecodeError` if it is malformed."""
    return _component(Reader(bytes(data), what="component binary"), depth=0)


# ---------------------------------------------------------------------------
# Preamble and sections
# ---------------------------------------------------------------------------


def _component(r: Reader, depth: int) -> ast.Component:
    """A preamble and the sections after it, up to the end of ``r``'s window."""
    if depth > MAX_NESTING:
        r.fail(f"components nested more than {MAX_NESTING} deep")
    start = r.pos
    version, layer = _preamble(r)
    sections = []
    while not r.at_end():
        sections.append(_section(r, depth))
    return ast.Component(version, layer, tuple(sections), offset=start, size=r.pos - start)


def _preamble(r: Reader) -> tuple[int, int]:
    start = r.pos
    version, layer = read_preamble(r)
    if layer == CORE_LAYER:
        r.fail(
            f"this is a core WebAssembly module (version {version}, layer 0), not a component",
            start + 4,
        )
    if layer != COMPONENT_LAYER:
        r.fail(f"unknown binary layer {layer} (a component has layer 1)", start + 6)
    if version != COMPONENT_VERSION:
        r.fail(
            f"unsupported component binary version 0x{version:x} "
            f"(this decoder reads 0x{COMPONENT_VERSION:x})",
            start + 4,
        )
    return version, layer


def _section(r: Reader, depth: int) -> ast.Section:
    section = read_section(r, lambda code: _section_id(r, code).label)
    sid = ast.SectionId(section.id)
    items = _SECTION_READERS[sid](section.body, depth)
    section.expect_end()
    return ast.Section(sid, section.start, section.content_start, section.size, items)


def _section_id(r: Reader, code: int) -> ast.SectionId:
    """The component section ``code`` (just read from ``r``) names; refused if unknown."""
    if code > max(ast.SectionId):
        r.bad_byte(code, "a component section id (0 to 12)")
    return ast.SectionId(code)


def _custom_section(r: Reader, depth: int) -> tuple[ast.CustomSection]:
    return (ast.CustomSection(r.name(), r.rest()),)


def _core_module_section(r: Reader, depth: int) -> tuple[ast.CoreModule]:
    start = r.pos
    if r.data[start : min(start + 8, r.end)] != CORE_MODULE_PREAMBLE:
        r.fail("core module section does not start with a core module preamble", start)
    return (ast.CoreModule(r.rest(), start),)


def _component_section(r: Reader, depth: int) -> tuple[ast.Component]:
    return (_component(r, depth + 1),)


def _start_section(r: Reader, depth: int) -> tuple[ast.Start]:
    return (ast.Start(r.u32(), r.vec(r.u32, "start arguments"), r.u32()),)


def _vec_section(item: Callable[[Reader], object], what: str):
    """A section that is one ``vec`` of ``item``s."""

    def read(r: Reader, depth: int) -> tuple:
        return r.vec(lambda: item(r), what)

    return read


def _vec_section_nested(item: Callable[[Reader, int], object], what: str):
    """Like :func:`_vec_section` for items that can nest (type definitions)."""

    def read(r: Reader, depth: int) -> tuple:
        return r.vec(lambda: item(r, depth), what)

    return read


# ---------------------------------------------------------------------------
# Sorts, names and instances
# ---------------------------------------------------------------------------


def _core_sort(r: Reader) -> ast.CoreSort:
    b = r.byte()
    if b not in _CORE_SORTS:
        r.bad_byte(b, "a core sort")
    return ast.CoreSort(b)


def _sort(r: Reader) -> ast.AnySort:
    b = r.byte()
    if b == 0x00:
        return _core_sort(r)
    if b not in _SORTS:
        r.bad_byte(b, "a sort")
    return ast.Sort(b)


def _sort_idx(r: Reader) -> ast.SortIdx:
    return ast.SortIdx(_sort(r), r.u32())


# Name attribute codes and the ExternName field each one fills.
_NAME_ATTRIBUTES = {0x00: "implements", 0x01: "version_suffix", 0x02: "external_id"}


def _extern_name(r: Reader) -> ast.ExternName:
    """``nameattributes``: a name, plus attributes when the form byte is 0x02."""
    form = r.byte()
    if form > 0x02:
        r.bad_byte(form, "an import/export name (0x00, 0x01 or 0x02)")
    name = r.name()
    attrs: dict[str, str] = {}
    if form == 0x02:
        for _ in range(r.count("name attributes")):
            at = r.pos
            kind = r.byte()
            key = _NAME_ATTRIBUTES.get(kind)
            if key is None:
                r.bad_byte(kind, "a name attribute (0x00, 0x01 or 0x02)")
            if key in attrs:
                r.fail(f"duplicate {key} attribute on name {name!r}", at)
            attrs[key] = r.name()
    return ast.ExternName(name, form, **attrs)


def _core_instance(r: Reader) -> ast.CoreInstance:
    tag = r.byte()
    if tag == 0x00:
        return ast.CoreInstantiate(r.u32(), r.vec(lambda: _core_instantiate_arg(r), "arguments"))
    if tag == 0x01:
        return ast.CoreInlineExports(r.vec(lambda: _core_inline_export(r), "inline exports"))
    r.bad_byte(tag, "a core instance (0x00 or 0x01)")


def _core_instantiate_arg(r: Reader) -> ast.CoreInstantiateArg:
    name = r.name()
    kind = r.byte()
    if kind != ast.CoreSort.INSTANCE:
        r.bad_byte(kind, "the core instance sort 0x12 in a with-argument")
    return ast.CoreInstantiateArg(name, r.u32())


def _core_inline_export(r: Reader) -> ast.CoreInlineExport:
    name = r.name()
    return ast.CoreInlineExport(name, ast.CoreSortIdx(_core_sort(r), r.u32()))


def _instance(r: Reader) -> ast.Instance:
    tag = r.byte()
    if tag == 0x00:
        return ast.Instantiate(r.u32(), r.vec(lambda: _instantiate_arg(r), "arguments"))
    if tag == 0x01:
        return ast.InlineExports(r.vec(lambda: _inline_export(r), "inline exports"))
    r.bad_byte(tag, "an instance (0x00 or 0x01)")


def _instantiate_arg(r: Reader) -> ast.InstantiateArg:
    name = r.name()
    return ast.InstantiateArg(name, _sort_idx(r))


def _inline_export(r: Reader) -> ast.InlineExport:
    name = _extern_name(r)
    return ast.InlineExport(name, _sort_idx(r))


# ---------------------------------------------------------------------------
# Aliases
# ---------------------------------------------------------------------------

# The sorts an outer alias may name (Binary.md's ``outeraliassort``).
_OUTER_ALIAS_SORTS = {ast.CoreSort.MODULE, ast.CoreSort.TYPE, ast.Sort.TYPE, ast.Sort.COMPONENT}


def _alias(r: Reader) -> ast.Alias:
    sort_at = r.pos
    sort = _sort(r)
    tag = r.byte()
    if tag == 0x00:
        return ast.AliasExport(sort, r.u32(), r.name())
    if tag == 0x01:
        if not isinstance(sort, ast.CoreSort):
            r.fail(f"a core export alias needs a core sort, not {sort.name.lower()}", sort_at)
        return ast.AliasCoreExport(sort, r.u32(), r.name())
    if tag == 0x02:
        if sort not in _OUTER_ALIAS_SORTS:
            r.fail(f"an outer alias cannot name the {_sort_text(sort)} sort", sort_at)
        return ast.AliasOuter(sort, r.u32(), r.u32())
    r.bad_byte(tag, "an alias target (0x00, 0x01 or 0x02)")


def _sort_text(sort: ast.AnySort) -> str:
    prefix = "core " if isinstance(sort, ast.CoreSort) else ""
    return prefix + sort.name.lower()


# ---------------------------------------------------------------------------
# Core types
# ---------------------------------------------------------------------------


def _core_type(r: Reader) -> ast.CoreType:
    """A ``core:type`` at component level, where ``0x50`` means a module type."""
    b = r.peek()
    if b == 0x00:
        r.byte()
        at = r.pos
        if r.peek() != 0x50:
            r.bad_byte(r.peek(), "0x50 (a non-final sub type) after 0x00", at)
        return ast.CoreRecGroup((_core_sub_type(r),))
    if b == 0x50:
        r.byte()
        return ast.ModuleType(r.vec(lambda: _module_decl(r), "module type declarations"))
    return _core_rec_type(r)


def _core_rec_type(r: Reader) -> ast.CoreRecGroup:
    if r.peek() == 0x4E:
        r.byte()
        return ast.CoreRecGroup(r.vec(lambda: _core_sub_type(r), "rec group types"), True)
    return ast.CoreRecGroup((_core_sub_type(r),))


def _core_sub_type(r: Reader) -> ast.CoreSubType:
    b = r.byte()
    if b in (0x50, 0x4F):
        supers = r.vec(r.u32, "supertypes")
        return _core_composite(r, r.byte(), final=b == 0x4F, supertypes=supers)
    return _core_composite(r, b, final=True, supertypes=())


def _core_composite(
    r: Reader, opcode: int, final: bool, supertypes: tuple[int, ...]
) -> ast.CoreSubType:
    """A composite type after its optional ``shared``/``describes``/``descriptor`` prefixes."""
    shared = opcode == 0x65
    if shared:
        opcode = r.byte()
    describes = descriptor = None
    if opcode == 0x4C:
        describes = r.u32()
        opcode = r.byte()
    if opcode == 0x4D:
        descriptor = r.u32()
        opcode = r.byte()
    body: ast.CoreCompositeType
    if opcode == 0x60:
        params = r.vec(lambda: _core_valtype(r), "function parameters")
        body = ast.CoreFuncType(params, r.vec(lambda: _core_valtype(r), "function results"))
    elif opcode == 0x5F:
        body = ast.CoreStructType(r.vec(lambda: _core_field(r), "struct fields"))
    elif opcode == 0x5E:
        body = ast.CoreArrayType(_core_field(r))
    elif opcode == 0x5D:
        body = ast.CoreContType(_type_index_s33(r, "a continuation's function type"))
    else:
        r.bad_byte(opcode, "a core type (func, struct, array or cont)")
    return ast.CoreSubType(body, final, supertypes, shared, describes, descriptor)


def _core_field(r: Reader) -> ast.CoreFieldType:
    b = r.peek()
    storage: ast.CoreStorageType
    if b in _PACKED:
        storage = ast.CorePackedType(r.byte())
    else:
        storage = _core_valtype(r)
    return ast.CoreFieldType(storage, r.flag("a field mutability"))


def _core_valtype(r: Reader) -> ast.CoreValType:
    b = r.peek()
    if b in _NUM_TYPES:
        return ast.CoreNumType(r.byte())
    return _core_reftype(r)


def _core_reftype(r: Reader) -> ast.CoreRefType:
    b = r.byte()
    if b in (0x63, 0x64):
        heap, shared, exact = _core_heap_type(r)
        return ast.CoreRefType(b == 0x63, heap, shared, exact)
    # Short forms abbreviate ``(ref null <abstract heap type>)``.
    shared = b == 0x65
    if shared:
        b = r.byte()
    if b not in _ABS_HEAP_TYPES:
        r.bad_byte(b, "a core value type")
    return ast.CoreRefType(True, ast.CoreAbsHeapType(b), shared)


def _core_heap_type(r: Reader) -> tuple[ast.CoreAbsHeapType | int, bool, bool]:
    """A heap type as ``(heap, shared, exact)``: abstract, ``shared`` abstract, exact or index."""
    b = r.peek()
    if b == 0x65:
        r.byte()
        b = r.byte()
        if b not in _ABS_HEAP_TYPES:
            r.bad_byte(b, "an abstract heap type after shared")
        return ast.CoreAbsHeapType(b), True, False
    if b == 0x62:
        r.byte()
        return r.u32(), False, True
    if b in _ABS_HEAP_TYPES:
        return ast.CoreAbsHeapType(r.byte()), False, False
    return _type_index_s33(r, "a heap type"), False, False


def _type_index_s33(r: Reader, what: str) -> int:
    """A type index written as a non-negative s33, as value and heap types write them."""
    at = r.pos
    first = r.peek()
    index = r.s33()
    if index < 0:
        r.bad_byte(first, what, at)
    return index


def _module_decl(r: Reader) -> ast.ModuleDecl:
    tag = r.byte()
    if tag == 0x00:
        return ast.CoreImportDecl(r.name(), r.name(), _core_extern_type(r))
    if tag == 0x01:
        return _core_rec_type(r)
    if tag == 0x02:
        sort = r.byte()
        if sort != ast.CoreSort.TYPE:
            r.bad_byte(sort, "the core type sort 0x10 in a module type alias")
        target = r.byte()
        if target != 0x01:
            r.bad_byte(target, "an outer alias (0x01) in a module type")
        return ast.CoreOuterAlias(r.u32(), r.u32())
    if tag == 0x03:
        return ast.CoreExportDecl(r.name(), _core_extern_type(r))
    r.bad_byte(tag, "a module type declaration (0x00 to 0x03)")


def _core_extern_type(r: Reader) -> ast.CoreExternType:
    kind = r.byte()
    if kind == 0x00:
        return ast.CoreFuncDesc(r.u32())
    if kind == 0x20:
        return ast.CoreFuncDesc(r.u32(), exact=True)
    if kind == 0x01:
        return _core_table_type(r)
    if kind == 0x02:
        return _core_memory_type(r)
    if kind == 0x03:
        valtype = _core_valtype(r)
        at = r.pos
        flags = r.byte()
        if flags > 0b11:
            r.fail(f"malformed global flags 0x{flags:02x}", at)
        return ast.CoreGlobalType(valtype, bool(flags & 1), bool(flags & 2))
    if kind == 0x04:
        attribute = r.byte()
        if attribute != 0:
            r.bad_byte(attribute, "the exception tag attribute 0x00")
        return ast.CoreTagType(r.u32())
    r.bad_byte(kind, "a core extern type")


def _limits(r: Reader, flags: int, wide: bool) -> ast.CoreLimits:
    read = r.u64 if wide else r.u32
    minimum = read()
    return ast.CoreLimits(minimum, read() if flags & 1 else None)


def _core_table_type(r: Reader) -> ast.CoreTableType:
    element = _core_reftype(r)
    at = r.pos
    flags = r.byte()
    if flags & ~0b111:
        r.fail(f"malformed table limits flags 0x{flags:02x}", at)
    table64 = bool(flags & 0b100)
    return ast.CoreTableType(element, _limits(r, flags, table64), bool(flags & 0b10), table64)


def _core_memory_type(r: Reader) -> ast.CoreMemoryType:
    at = r.pos
    flags = r.byte()
    if flags & ~0b1111:
        r.fail(f"malformed memory limits flags 0x{flags:02x}", at)
    memory64 = bool(flags & 0b100)
    limits = _limits(r, flags, memory64)
    page_size_log2 = None
    if flags & 0b1000:
        page_at = r.pos
        page_size_log2 = r.u32()
        if page_size_log2 >= 64:
            r.fail(f"custom page size 2**{page_size_log2} is too large", page_at)
    return ast.CoreMemoryType(limits, bool(flags & 0b10), memory64, page_size_log2)


# ---------------------------------------------------------------------------
# Component types
# ---------------------------------------------------------------------------


def _valtype(r: Reader) -> ast.ValType:
    b = r.peek()
    if b in _PRIM_TYPES:
        return ast.PrimValType(r.byte())
    return _type_index_s33(r, "a valtype")


def _optional(r: Reader, item: Callable[[], object], what: str):
    """``<T>?``: 0x00 for absent, 0x01 then the item."""
    return item() if r.flag(f"an optional {what}") else None


def _optional_valtype(r: Reader) -> ast.ValType | None:
    return _optional(r, lambda: _valtype(r), "value type")


def _labeled(r: Reader) -> ast.LabeledType:
    label = r.name()
    return ast.LabeledType(label, _valtype(r))


def _case(r: Reader) -> ast.Case:
    label = r.name()
    case = ast.Case(label, _optional_valtype(r))
    end = r.byte()
    if end != 0x00:
        r.bad_byte(end, "0x00 after a variant case")
    return case


def _result_list(r: Reader) -> ast.ValType | None:
    """``resultlist``: ``0x00 t`` for one result, ``0x01 0x00`` for none."""
    tag = r.byte()
    if tag == 0x00:
        return _valtype(r)
    if tag == 0x01:
        zero = r.byte()
        if zero != 0x00:
            r.bad_byte(zero, "0x00 (no results) after 0x01")
        return None
    r.bad_byte(tag, "a result list (0x00 or 0x01)")


def _labels(r: Reader, what: str) -> tuple[str, ...]:
    return r.vec(r.name, what)


# Defined value types by opcode; each reader is called after the opcode byte.
_DEFVALTYPES: dict[int, Callable[[Reader], ast.DefValType]] = {
    0x72: lambda r: ast.RecordType(r.vec(lambda: _labeled(r), "record fields")),
    0x71: lambda r: ast.VariantType(r.vec(lambda: _case(r), "variant cases")),
    0x70: lambda r: ast.ListType(_valtype(r)),
    0x67: lambda r: ast.FixedListType(_valtype(r), r.u32()),
    0x6F: lambda r: ast.TupleType(r.vec(lambda: _valtype(r), "tuple types")),
    0x6E: lambda r: ast.FlagsType(_labels(r, "flags")),
    0x6D: lambda r: ast.EnumType(_labels(r, "enum cases")),
    0x6B: lambda r: ast.OptionType(_valtype(r)),
    0x6A: lambda r: ast.ResultType(_optional_valtype(r), _optional_valtype(r)),
    0x69: lambda r: ast.OwnType(r.u32()),
    0x68: lambda r: ast.BorrowType(r.u32()),
    0x66: lambda r: ast.StreamType(_optional_valtype(r)),
    0x65: lambda r: ast.FutureType(_optional_valtype(r)),
    0x63: lambda r: ast.MapType(_valtype(r), _valtype(r)),
}


def _deftype(r: Reader, depth: int) -> ast.DefType:
    b = r.byte()
    if b in _PRIM_TYPES:
        return ast.PrimValType(b)
    if b in _DEFVALTYPES:
        return _DEFVALTYPES[b](r)
    if b in (0x40, 0x43):
        params = r.vec(lambda: _labeled(r), "function parameters")
        return ast.FuncType(params, _result_list(r), is_async=b == 0x43)
    if b == 0x3F:
        rep = _core_valtype(r)
        return ast.ResourceType(rep, _optional(r, r.u32, "destructor"))
    if b in (0x41, 0x42):
        if depth >= MAX_NESTING:
            r.fail(f"types nested more than {MAX_NESTING} deep", r.pos - 1)
        is_component = b == 0x41
        decls = r.vec(lambda: _decl(r, depth + 1, is_component), "type declarations")
        return ast.ComponentType(decls) if is_component else ast.InstanceType(decls)
    r.bad_byte(b, "a type definition")


def _decl(r: Reader, depth: int, in_component: bool) -> ast.ComponentDecl:
    tag = r.byte()
    if tag == 0x00:
        return ast.CoreTypeDecl(_core_type(r))
    if tag == 0x01:
        return ast.TypeDecl(_deftype(r, depth))
    if tag == 0x02:
        return _alias(r)
    if tag == 0x03 and in_component:
        name = _extern_name(r)
        return ast.ImportDecl(name, _extern_desc(r))
    if tag == 0x04:
        name = _extern_name(r)
        return ast.ExportDecl(name, _extern_desc(r))
    expected = "a component type declaration" if in_component else "an instance type declaration"
    r.bad_byte(tag, expected)


def _extern_desc(r: Reader) -> ast.ExternDesc:
    kind = r.byte()
    if kind == 0x00:
        core = r.byte()
        if core != ast.CoreSort.MODULE:
            r.bad_byte(core, "the core module sort 0x11 in an extern type")
        return ast.CoreModuleDesc(r.u32())
    if kind == 0x01:
        return ast.FuncDesc(r.u32())
    if kind == 0x02:
        return ast.ValueDesc(_valtype(r))
    if kind == 0x03:
        bound = r.byte()
        if bound == 0x00:
            return ast.TypeDesc(ast.TypeEq(r.u32()))
        if bound == 0x01:
            return ast.TypeDesc(ast.SubResource())
        r.bad_byte(bound, "a type bound (0x00 or 0x01)")
    if kind == 0x04:
        return ast.ComponentDesc(r.u32())
    if kind == 0x05:
        return ast.InstanceDesc(r.u32())
    r.bad_byte(kind, "an extern type")


# ---------------------------------------------------------------------------
# Canonical definitions
# ---------------------------------------------------------------------------

_OPTS_WITH_INDEX = {
    ast.CanonOptKind.MEMORY,
    ast.CanonOptKind.REALLOC,
    ast.CanonOptKind.POST_RETURN,
    ast.CanonOptKind.CALLBACK,
    ast.CanonOptKind.CORE_TYPE,
}


def _canon_opt(r: Reader) -> ast.CanonOpt:
    b = r.byte()
    if b not in _CANON_OPTS:
        r.bad_byte(b, "a canonical option")
    kind = ast.CanonOptKind(b)
    return ast.CanonOpt(kind, r.u32() if kind in _OPTS_WITH_INDEX else None)


def _canon_opts(r: Reader) -> ast.CanonOptions:
    return ast.CanonOptions(r.vec(lambda: _canon_opt(r), "canonical options"))


# How each immediate of a built-in is read, keyed by the CanonBuiltin field it fills.
_IMMEDIATES: dict[str, Callable[[Reader], object]] = {
    "type_index": lambda r: r.u32(),
    "options": _canon_opts,
    "is_async": lambda r: r.flag("async?"),
    "cancellable": lambda r: r.flag("cancel?"),
    "result": _result_list,
    "valtype": _core_valtype,
    "slot": lambda r: r.u32(),
    "memory": lambda r: r.u32(),
    "func_type": lambda r: r.u32(),
    "table": lambda r: r.u32(),
}

_B = ast.Builtin

# Every built-in by opcode, with its immediates in binary order.
_BUILTINS: dict[int, tuple[ast.Builtin, tuple[str, ...]]] = {
    0x02: (_B.RESOURCE_NEW, ("type_index",)),
    0x03: (_B.RESOURCE_DROP, ("type_index",)),
    0x04: (_B.RESOURCE_REP, ("type_index",)),
    0x05: (_B.TASK_CANCEL, ()),
    0x06: (_B.SUBTASK_CANCEL, ("is_async",)),
    0x09: (_B.TASK_RETURN, ("result", "options")),
    0x0A: (_B.CONTEXT_GET, ("valtype", "slot")),
    0x0B: (_B.CONTEXT_SET, ("valtype", "slot")),
    0x0C: (_B.THREAD_YIELD, ("cancellable",)),
    0x0D: (_B.SUBTASK_DROP, ()),
    0x0E: (_B.STREAM_NEW, ("type_index",)),
    0x0F: (_B.STREAM_READ, ("type_index", "options")),
    0x10: (_B.STREAM_WRITE, ("type_index", "options")),
    0x11: (_B.STREAM_CANCEL_READ, ("type_index", "is_async")),
    0x12: (_B.STREAM_CANCEL_WRITE, ("type_index", "is_async")),
    0x13: (_B.STREAM_DROP_READABLE, ("type_index",)),
    0x14: (_B.STREAM_DROP_WRITABLE, ("type_index",)),
    0x15: (_B.FUTURE_NEW, ("type_index",)),
    0x16: (_B.FUTURE_READ, ("type_index", "options")),
    0x17: (_B.FUTURE_WRITE, ("type_index", "options")),
    0x18: (_B.FUTURE_CANCEL_READ, ("type_index", "is_async")),
    0x19: (_B.FUTURE_CANCEL_WRITE, ("type_index", "is_async")),
    0x1A: (_B.FUTURE_DROP_READABLE, ("type_index",)),
    0x1B: (_B.FUTURE_DROP_WRITABLE, ("type_index",)),
    0x1C: (_B.ERROR_CONTEXT_NEW, ("options",)),
    0x1D: (_B.ERROR_CONTEXT_DEBUG_MESSAGE, ("options",)),
    0x1E: (_B.ERROR_CONTEXT_DROP, ()),
    0x1F: (_B.WAITABLE_SET_NEW, ()),
    0x20: (_B.WAITABLE_SET_WAIT, ("cancellable", "memory")),
    0x21: (_B.WAITABLE_SET_POLL, ("cancellable", "memory")),
    0x22: (_B.WAITABLE_SET_DROP, ()),
    0x23: (_B.WAITABLE_JOIN, ()),
    0x24: (_B.BACKPRESSURE_INC, ()),
    0x25: (_B.BACKPRESSURE_DEC, ()),
    0x26: (_B.THREAD_INDEX, ()),
    0x27: (_B.THREAD_NEW_INDIRECT, ("func_type", "table")),
    0x28: (_B.THREAD_RESUME_LATER, ()),
    0x29: (_B.THREAD_SUSPEND, ("cancellable",)),
    0x2A: (_B.THREAD_SUSPEND_THEN_RESUME, ("cancellable",)),
    0x2B: (_B.THREAD_YIELD_THEN_RESUME, ("cancellable",)),
    0x2C: (_B.THREAD_SUSPEND_THEN_PROMOTE, ("cancellable",)),
    0x2D: (_B.THREAD_YIELD_THEN_PROMOTE, ("cancellable",)),
    0x2E: (_B.STREAM_FORWARD, ("type_index",)),
    0x2F: (_B.FUTURE_FORWARD, ("type_index",)),
    0x40: (_B.THREAD_SPAWN_REF, ("func_type",)),
    0x41: (_B.THREAD_SPAWN_INDIRECT, ("func_type", "table")),
    0x42: (_B.THREAD_AVAILABLE_PARALLELISM, ()),
}


def _canon(r: Reader) -> ast.Canon:
    op = r.byte()
    if op in (0x00, 0x01):
        sort = r.byte()
        if sort != 0x00:
            r.bad_byte(sort, f"the func sort 0x00 after canon {'lift' if op == 0 else 'lower'}")
        func = r.u32()
        if op == 0x00:
            opts = _canon_opts(r)
            return ast.CanonLift(func, opts, r.u32())
        return ast.CanonLower(func, _canon_opts(r))
    if op not in _BUILTINS:
        r.bad_byte(op, "a canonical definition")
    builtin, immediates = _BUILTINS[op]
    return ast.CanonBuiltin(builtin, **{name: _IMMEDIATES[name](r) for name in immediates})


# ---------------------------------------------------------------------------
# Imports, exports and values
# ---------------------------------------------------------------------------


def _import(r: Reader) -> ast.Import:
    name = _extern_name(r)
    return ast.Import(name, _extern_desc(r))


def _export(r: Reader) -> ast.Export:
    name = _extern_name(r)
    target = _sort_idx(r)
    return ast.Export(name, target, _optional(r, lambda: _extern_desc(r), "export type"))


def _value(r: Reader) -> ast.Value:
    valtype = _valtype(r)
    return ast.Value(valtype, r.take(r.u32()))


_SECTION_READERS: dict[ast.SectionId, Callable[[Reader, int], tuple]] = {
    ast.SectionId.CUSTOM: _custom_section,
    ast.SectionId.CORE_MODULE: _core_module_section,
    ast.SectionId.CORE_INSTANCE: _vec_section(_core_instance, "core instances"),
    ast.SectionId.CORE_TYPE: _vec_section(_core_type, "core types"),
    ast.SectionId.COMPONENT: _component_section,
    ast.SectionId.INSTANCE: _vec_section(_instance, "instances"),
    ast.SectionId.ALIAS: _vec_section(_alias, "aliases"),
    ast.SectionId.TYPE: _vec_section_nested(_deftype, "types"),
    ast.SectionId.CANON: _vec_section(_canon, "canonical definitions"),
    ast.SectionId.START: _start_section,
    ast.SectionId.IMPORT: _vec_section(_import, "imports"),
    ast.SectionId.EXPORT: _vec_section(_export, "exports"),
    ast.SectionId.VALUE: _vec_section(_value, "values"),
}

"""The component binary decoder, against binaries written by ``wasm-tools parse``.

Structural tests compile small component texts and check the decoded AST;
hand-built byte strings cover the forms 1.262 cannot write (spec-only
encodings, malformed input). The robustness tests truncate and mutate valid
binaries and require that decoding either succeeds or raises DecodeError.
"""

from __future__ import annotations

import functools
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackswitch.component import ast, wasm_tools
from stackswitch.component.ast import Builtin, CanonOptKind, PrimValType, SectionId, Sort
from stackswitch.component.decoder import MAX_NESTING, decode_component
from stackswitch.wasm.binary import (
    DecodeError,
    Reader,
    encode_name,
    encode_section,
    encode_uleb,
)

WASM_TOOLS = wasm_tools.executable()
FIXTURES = Path(__file__).parent / "component_fixtures"
PREAMBLE = b"\x00asm\x0d\x00\x01\x00"

needs_wasm_tools = pytest.mark.skipif(WASM_TOOLS is None, reason="wasm-tools is not installed")


@functools.cache
def wat(text: str) -> bytes:
    """Compile component text with ``wasm-tools parse`` (cached: tests reuse binaries)."""
    if WASM_TOOLS is None:
        pytest.skip("wasm-tools is not installed")
    done = subprocess.run(
        [WASM_TOOLS, "parse", "-"],
        input=text.encode(),
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def fixture(name: str) -> bytes:
    return wat((FIXTURES / name).read_text())


def decode(text: str) -> ast.Component:
    return decode_component(wat(text))


# -- hand-built binaries (the encoders are checked in tests/test_wasm_binary.py) -----------

leb = encode_uleb
name = encode_name
section = encode_section


def component(*sections: bytes) -> bytes:
    return PREAMBLE + b"".join(sections)


def decode_error(data: bytes) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode_component(data)
    assert 0 <= info.value.offset <= len(data)
    return info.value


# ---------------------------------------------------------------------------
# Errors (the Reader itself: tests/test_wasm_binary.py)
# ---------------------------------------------------------------------------


def test_error_text_names_offset_and_byte() -> None:
    err = decode_error(component(section(7, b"\x01\x44")))
    assert err.offset == 0xB
    assert str(err) == "offset 0xb: expected a type definition, found byte 0x44"


# ---------------------------------------------------------------------------
# Preamble and sections
# ---------------------------------------------------------------------------


@needs_wasm_tools
def test_empty_component() -> None:
    c = decode("(component)")
    assert (c.version, c.layer, c.sections) == (0x0D, 1, ())


@needs_wasm_tools
def test_core_module_is_rejected() -> None:
    err = decode_error(wat("(module (func))"))
    assert err.offset == 4
    assert "core WebAssembly module" in err.message
    assert "not a component" in err.message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "unexpected end of component binary"),
        (b"\x00asm\x0d\x00", "preamble"),
        (b"\x7fELF\x0d\x00\x01\x00", "not a WebAssembly binary"),
        (b"\x00asm\x0c\x00\x01\x00", "unsupported component binary version 0xc"),
        (b"\x00asm\x0d\x00\x02\x00", "unknown binary layer 2"),
        (PREAMBLE + b"\x0d\x00", "expected a component section id"),
    ],
)
def test_bad_preamble_or_section_id(data: bytes, message: str) -> None:
    assert message in decode_error(data).message


def test_section_size_must_match_content() -> None:
    import_a = b"\x01" + b"\x00" + name("a") + b"\x01\x00"  # (import "a" (func (type 0)))
    longer = component(bytes([10, len(import_a) + 2]) + import_a + b"\x00\x00")
    err = decode_error(longer)
    assert "import section at 0x8 declares 8 byte(s) but its content ends after 6" in str(err)
    assert err.offset == 8 + 2 + len(import_a)

    shorter = component(bytes([10, len(import_a) - 1]) + import_a)
    err = decode_error(shorter)
    assert "unexpected end of import section at 0x8 (declared size 5)" in str(err)

    beyond = component(b"\x0a\x20" + import_a)
    assert "declares 32 byte(s) but only 6 remain" in decode_error(beyond).message


def test_huge_lengths_fail_fast() -> None:
    start = time.perf_counter()
    for data in (
        component(b"\x07\xff\xff\xff\xff\x0f"),  # section size
        component(section(7, b"\xff\xff\xff\xff\x0f")),  # vector count
        component(section(0, b"\xff\xff\xff\xff\x0f")),  # name length
        component(section(7, b"\x01\x72\xff\xff\xff\xff\x0f")),  # record field count
    ):
        decode_error(data)
    assert time.perf_counter() - start < 0.5


@needs_wasm_tools
def test_custom_sections_are_kept_raw() -> None:
    c = decode_component(component(section(0, name("hello") + b"\x01\x02\x03")))
    assert c.custom_sections == (ast.CustomSection("hello", b"\x01\x02\x03"),)
    assert c.definitions == ()
    named = decode("(component $me (type $t u8))")
    assert [s.name for s in named.custom_sections] == ["component-name"]


def test_core_module_section_needs_a_module() -> None:
    assert "core module preamble" in decode_error(component(section(1, PREAMBLE))).message
    # The preamble check stays inside the section even when a module follows it.
    cut_short = component(b"\x01\x04" + b"\x00asm\x01\x00\x00\x00")
    assert "core module preamble" in decode_error(cut_short).message


# ---------------------------------------------------------------------------
# Types
# ---------------------------------------------------------------------------


@needs_wasm_tools
def test_every_value_type() -> None:
    c = decode_component(fixture("types.wat"))
    types = c.types
    assert types[0] == ast.TupleType(tuple(PrimValType))  # every primitive, error-context too
    rec, var, lst, fixed, flags, enum, opt = types[1:8]
    assert rec == ast.RecordType(
        (ast.LabeledType("a", PrimValType.U8), ast.LabeledType("b", PrimValType.STRING))
    )
    assert var == ast.VariantType((ast.Case("none", None), ast.Case("some", 1)))
    assert lst == ast.ListType(1)
    assert fixed == ast.FixedListType(PrimValType.U16, 3)
    assert flags == ast.FlagsType(("read", "write", "exec"))
    assert enum == ast.EnumType(("red", "green"))
    assert opt == ast.OptionType(PrimValType.STRING)
    assert types[8:12] == (
        ast.ResultType(None, None),
        ast.ResultType(PrimValType.U8, None),
        ast.ResultType(None, PrimValType.STRING),
        ast.ResultType(PrimValType.U8, 6),
    )
    res, own, borrow = types[12:15]
    assert res == ast.ResourceType(ast.CoreNumType.I32, None)
    assert (own, borrow) == (ast.OwnType(12), ast.BorrowType(12))
    assert types[15:19] == (
        ast.StreamType(None),
        ast.StreamType(1),
        ast.FutureType(None),
        ast.FutureType(PrimValType.U32),
    )
    assert types[19] == ast.MapType(PrimValType.STRING, 1)


@needs_wasm_tools
def test_function_types_sync_and_async() -> None:
    sync, async_ = decode_component(fixture("types.wat")).types[20:22]
    assert sync == ast.FuncType(
        (ast.LabeledType("a", PrimValType.U32), ast.LabeledType("b", 14)), 7, is_async=False
    )
    assert async_ == ast.FuncType((ast.LabeledType("x", PrimValType.STRING),), None, True)


@needs_wasm_tools
def test_instance_and_component_types() -> None:
    c = decode_component(fixture("types.wat"))
    inst, comp = c.types[22:24]
    assert isinstance(inst, ast.InstanceType)
    t, t_export, r_export, outer, core, borrow, method, get = inst.decls
    assert t == ast.TypeDecl(ast.RecordType((ast.LabeledType("v", PrimValType.U64),)))
    assert t_export == ast.ExportDecl(ast.ExternName("t"), ast.TypeDesc(ast.TypeEq(0)))
    assert r_export == ast.ExportDecl(ast.ExternName("r"), ast.TypeDesc(ast.SubResource()))
    assert outer == ast.AliasOuter(Sort.TYPE, 1, 1)
    assert isinstance(core, ast.CoreTypeDecl)
    assert isinstance(core.type.types[0].body, ast.CoreFuncType)
    assert borrow == ast.TypeDecl(ast.BorrowType(2))
    assert method == ast.TypeDecl(ast.FuncType((ast.LabeledType("self", 4),), 1))
    assert get == ast.ExportDecl(ast.ExternName("get"), ast.FuncDesc(5))
    assert get.desc.sort is Sort.FUNC

    assert isinstance(comp, ast.ComponentType)
    outer_inst, in_, r_alias, own, make_type, make, _, out, core_alias, mod = comp.decls
    assert outer_inst == ast.AliasOuter(Sort.TYPE, 1, 22)
    assert in_ == ast.ImportDecl(ast.ExternName("in"), ast.InstanceDesc(0))
    assert r_alias == ast.AliasExport(Sort.TYPE, 0, "r")
    assert own == ast.TypeDecl(ast.OwnType(1))
    assert make_type == ast.TypeDecl(ast.FuncType((), 2))
    assert make == ast.ImportDecl(ast.ExternName("make"), ast.FuncDesc(3))
    assert out == ast.ExportDecl(ast.ExternName("out"), ast.InstanceDesc(4))
    assert core_alias == ast.AliasOuter(ast.CoreSort.TYPE, 1, 1)
    assert mod.desc == ast.CoreModuleDesc(0)
    assert mod.desc.sort is ast.CoreSort.MODULE


@needs_wasm_tools
def test_resources_with_destructor() -> None:
    c = decode_component(fixture("types.wat"))
    assert c.types[-1] == ast.ResourceType(ast.CoreNumType.I32, dtor=0)
    assert c.canons == (ast.CanonBuiltin(Builtin.RESOURCE_DROP, type_index=12),)


@needs_wasm_tools
def test_core_types_and_module_types() -> None:
    c = decode_component(fixture("types.wat"))
    func, module = c.core_types
    assert func == ast.CoreRecGroup(
        (
            ast.CoreSubType(
                ast.CoreFuncType(
                    (
                        ast.CoreNumType.I32,
                        ast.CoreNumType.I64,
                        ast.CoreNumType.F32,
                        ast.CoreNumType.F64,
                    ),
                    (ast.CoreNumType.I32,),
                )
            ),
        )
    )
    assert isinstance(module, ast.ModuleType)
    _, f, mem, tbl, g, alias, export = module.decls
    assert f == ast.CoreImportDecl("env", "f", ast.CoreFuncDesc(0))
    assert mem.desc == ast.CoreMemoryType(ast.CoreLimits(1, 2))
    funcref = ast.CoreRefType(True, ast.CoreAbsHeapType.FUNC)
    assert tbl.desc == ast.CoreTableType(funcref, ast.CoreLimits(4, None))
    assert g.desc == ast.CoreGlobalType(ast.CoreNumType.I64, mutable=True)
    assert alias == ast.CoreOuterAlias(1, 0)
    assert export == ast.CoreExportDecl("run", ast.CoreFuncDesc(1))


@needs_wasm_tools
def test_gc_core_types() -> None:
    c = decode(
        """(component
          (core type $s (sub (struct (field (mut i32)) (field i8) (field (ref null $s)))))
          (core type (sub final $s (struct (field (mut i32)) (field i8) (field (ref null $s)))))
          (core rec (type $a (array (mut i16))) (type (func (param (ref $a) anyref) (result i31ref))))
          (core type (module (type (sub (func))) (export "t" (table 1 externref))
            (import "a" "tag" (tag (param i32))) (export "m" (memory i64 1)))))"""
    )
    s, final, rec, module = c.core_types
    sub = s.types[0]
    assert (sub.final, sub.supertypes) == (False, ())
    i32, i8, ref = sub.body.fields
    assert i32 == ast.CoreFieldType(ast.CoreNumType.I32, mutable=True)
    assert i8 == ast.CoreFieldType(ast.CorePackedType.I8, mutable=False)
    assert ref.storage == ast.CoreRefType(True, 0)
    assert (final.types[0].final, final.types[0].supertypes) == (True, (0,))
    assert rec.explicit and len(rec.types) == 2
    assert rec.types[0].body == ast.CoreArrayType(ast.CoreFieldType(ast.CorePackedType.I16, True))
    params = rec.types[1].body.params
    assert params == (
        ast.CoreRefType(False, 2),
        ast.CoreRefType(True, ast.CoreAbsHeapType.ANY),
    )
    # Inside a module type, 0x50 is a non-final sub type, not a nested module type.
    sub_func, table, _, tag, memory = module.decls
    assert sub_func.types[0].final is False
    assert table.desc.element == ast.CoreRefType(True, ast.CoreAbsHeapType.EXTERN)
    assert tag == ast.CoreImportDecl("a", "tag", ast.CoreTagType(1))
    assert memory.desc == ast.CoreMemoryType(ast.CoreLimits(1, None), memory64=True)


@needs_wasm_tools
def test_core_types_from_newer_proposals() -> None:
    """Continuations, shared types, custom descriptors, exact refs, table64, page sizes."""
    (module,) = decode(
        """(component (core type (module
          (type $ft (func))
          (type (cont $ft))
          (type (shared (func)))
          (rec (type (describes 4) (struct)) (type (descriptor 3) (struct)))
          (import "a" "f" (func (exact (type 0))))
          (import "a" "t" (table i64 1 10 (ref null (shared any))))
          (import "a" "m" (memory 1 (pagesize 1)))
          (import "a" "s" (memory 1 2 shared))
          (import "a" "g" (global (ref (exact 0)))))))"""
    ).core_types
    _, cont, shared, described, f, t, m, s, g = module.decls
    assert cont.types[0].body == ast.CoreContType(0)
    assert shared.types[0].shared
    assert (described.types[0].describes, described.types[1].descriptor) == (4, 3)
    assert f.desc == ast.CoreFuncDesc(0, exact=True)
    any_shared = ast.CoreRefType(True, ast.CoreAbsHeapType.ANY, shared=True)
    assert t.desc == ast.CoreTableType(any_shared, ast.CoreLimits(1, 10), table64=True)
    assert m.desc.page_size_log2 == 0
    assert s.desc == ast.CoreMemoryType(ast.CoreLimits(1, 2), shared=True)
    assert g.desc.valtype == ast.CoreRefType(False, 0, exact=True)


def test_shared_heap_type_in_long_form() -> None:
    """``(ref null (shared func))`` and a bare abstract heap type after 0x63."""
    func = component(section(3, b"\x01\x60\x02\x63\x65\x70\x64\x6e\x00"))
    params = decode_component(func).core_types[0].types[0].body.params
    assert params == (
        ast.CoreRefType(True, ast.CoreAbsHeapType.FUNC, shared=True),
        ast.CoreRefType(False, ast.CoreAbsHeapType.ANY),
    )


# ---------------------------------------------------------------------------
# Canonical definitions
# ---------------------------------------------------------------------------


@needs_wasm_tools
def test_lift_and_lower_options() -> None:
    c = decode_component(fixture("async_pipeline.wat"))
    lower = c.canons[0]
    assert lower == ast.CanonLower(0, ast.CanonOptions())
    assert lower.options.string_encoding == "utf8"
    (lift,) = [x for x in c.canons if isinstance(x, ast.CanonLift)]
    opts = lift.options
    assert (opts.is_async, opts.callback, opts.memory, opts.realloc) == (True, 15, 0, 0)
    assert opts.post_return is None and not opts.gc and opts.core_type is None
    assert ast.FuncType((), 2, is_async=True) in c.types

    sync = decode(
        """(component
          (core module $m (memory (export "mem") 1)
            (func (export "f") (param i32 i32) (result i32) unreachable)
            (func (export "post") (param i32))
            (func (export "realloc") (param i32 i32 i32 i32) (result i32) unreachable))
          (core instance $i (instantiate $m))
          (func (param "s" string) (result string)
            (canon lift (core func $i "f") (memory (core memory $i "mem"))
              (realloc (core func $i "realloc")) string-encoding=latin1+utf16
              (post-return (core func $i "post")))))"""
    )
    (lift,) = sync.canons
    assert lift.options.string_encoding == ast.StringEncoding.LATIN1_UTF16
    assert lift.options.post_return == 2
    assert [o.kind for o in lift.options.items] == [
        CanonOptKind.MEMORY,
        CanonOptKind.REALLOC,
        CanonOptKind.LATIN1_UTF16,
        CanonOptKind.POST_RETURN,
    ]
    assert repr(lift.options) == (
        "CanonOptions((memory 0) (realloc 1) string-encoding=latin1+utf16 (post-return 2))"
    )


ALL_BUILTINS = """(component
  (core module $m (memory (export "mem") 1) (table (export "t") 1 funcref)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) unreachable))
  (core instance $i (instantiate $m))
  (alias core export $i "mem" (core memory $mem))
  (alias core export $i "realloc" (core func $realloc))
  (alias core export $i "t" (core table $t))
  (core type $ft (func (param i32)))
  (type $s (stream u8))
  (type $f (future string))
  (type $r (resource (rep i32)))
  (core func (canon resource.new $r))
  (core func (canon resource.drop $r))
  (core func (canon resource.rep $r))
  (core func (canon context.get i32 0))
  (core func (canon context.set i32 1))
  (core func (canon backpressure.inc))
  (core func (canon backpressure.dec))
  (core func (canon task.return (result string) (memory $mem) string-encoding=utf16))
  (core func (canon task.return))
  (core func (canon task.cancel))
  (core func (canon subtask.cancel async))
  (core func (canon subtask.drop))
  (core func (canon stream.new $s))
  (core func (canon stream.read $s async (memory $mem)))
  (core func (canon stream.write $s (memory $mem)))
  (core func (canon stream.cancel-read $s async))
  (core func (canon stream.cancel-write $s))
  (core func (canon stream.drop-readable $s))
  (core func (canon stream.drop-writable $s))
  (core func (canon stream.forward $s))
  (core func (canon future.new $f))
  (core func (canon future.read $f (memory $mem) (realloc $realloc)))
  (core func (canon future.write $f async (memory $mem)))
  (core func (canon future.cancel-read $f))
  (core func (canon future.cancel-write $f async))
  (core func (canon future.drop-readable $f))
  (core func (canon future.drop-writable $f))
  (core func (canon future.forward $f))
  (core func (canon error-context.new (memory $mem)))
  (core func (canon error-context.debug-message (memory $mem) (realloc $realloc)))
  (core func (canon error-context.drop))
  (core func (canon waitable-set.new))
  (core func (canon waitable-set.wait (memory $mem)))
  (core func (canon waitable-set.poll (memory $mem)))
  (core func (canon waitable-set.drop))
  (core func (canon waitable.join))
  (core func (canon thread.index))
  (core func (canon thread.new-indirect $ft $t))
  (core func (canon thread.resume-later))
  (core func (canon thread.suspend))
  (core func (canon thread.yield))
  (core func (canon thread.suspend-then-resume))
  (core func (canon thread.yield-then-resume))
  (core func (canon thread.suspend-then-promote))
  (core func (canon thread.yield-then-promote))
  (core func (canon thread.spawn-ref $ft))
  (core func (canon thread.spawn-indirect $ft $t))
  (core func (canon thread.available_parallelism))
)"""


@needs_wasm_tools
def test_every_builtin_with_its_immediates() -> None:
    canons = decode(ALL_BUILTINS).canons
    order = [b for b in Builtin]
    order.insert(order.index(Builtin.TASK_RETURN), Builtin.TASK_RETURN)  # with and without result
    assert [c.builtin for c in canons] == order
    by_name = {c.builtin: c for c in canons if c.builtin is not Builtin.TASK_RETURN}
    returns = [c for c in canons if c.builtin is Builtin.TASK_RETURN]
    i32 = ast.CoreNumType.I32
    mem = ast.CanonOptions((ast.CanonOpt(CanonOptKind.MEMORY, 0),))

    assert by_name[Builtin.RESOURCE_REP] == ast.CanonBuiltin(Builtin.RESOURCE_REP, type_index=2)
    assert by_name[Builtin.CONTEXT_SET] == ast.CanonBuiltin(
        Builtin.CONTEXT_SET, valtype=i32, slot=1
    )
    assert returns[0].result is PrimValType.STRING
    assert returns[0].options.string_encoding == "utf16" and returns[0].options.memory == 0
    assert returns[1] == ast.CanonBuiltin(Builtin.TASK_RETURN)
    assert by_name[Builtin.SUBTASK_CANCEL].is_async
    assert by_name[Builtin.STREAM_READ].options.is_async
    assert by_name[Builtin.STREAM_WRITE] == ast.CanonBuiltin(
        Builtin.STREAM_WRITE, type_index=0, options=mem
    )
    assert by_name[Builtin.STREAM_CANCEL_READ].is_async
    assert not by_name[Builtin.STREAM_CANCEL_WRITE].is_async
    assert by_name[Builtin.FUTURE_FORWARD].type_index == 1
    assert by_name[Builtin.FUTURE_READ].options.realloc == 0
    assert by_name[Builtin.ERROR_CONTEXT_NEW].options == mem
    assert by_name[Builtin.WAITABLE_SET_POLL] == ast.CanonBuiltin(
        Builtin.WAITABLE_SET_POLL, memory=0
    )
    assert by_name[Builtin.THREAD_NEW_INDIRECT] == ast.CanonBuiltin(
        Builtin.THREAD_NEW_INDIRECT, func_type=0, table=0
    )
    assert by_name[Builtin.THREAD_SPAWN_REF].func_type == 0
    assert not any(c.cancellable for c in canons)
    assert repr(by_name[Builtin.STREAM_NEW]) == "CanonBuiltin(stream.new, type_index=0)"


def test_cancellable_as_binary_md_writes_it() -> None:
    """1.262 always writes ``cancel?`` as 0x00; Binary.md's 0x01 still decodes."""
    canons = decode_component(
        component(section(8, b"\x03" + b"\x20\x01\x00" + b"\x0c\x01" + b"\x2d\x00"))
    ).canons
    assert [(c.builtin, c.cancellable) for c in canons] == [
        (Builtin.WAITABLE_SET_WAIT, True),
        (Builtin.THREAD_YIELD, True),
        (Builtin.THREAD_YIELD_THEN_PROMOTE, False),
    ]
    err = decode_error(component(section(8, b"\x01\x29\x02")))
    assert err.message == "expected cancel? (0x00 or 0x01), found byte 0x02"


# ---------------------------------------------------------------------------
# Instances, aliases, nesting, imports and exports
# ---------------------------------------------------------------------------


@needs_wasm_tools
def test_core_instances_and_aliases() -> None:
    c = decode_component(fixture("async_pipeline.wat"))
    libc, host, producer = c.core_instances
    assert libc == ast.CoreInstantiate(0, ())
    assert host.exports[0] == ast.CoreInlineExport("now", ast.CoreSortIdx(ast.CoreSort.FUNC, 1))
    assert producer == ast.CoreInstantiate(1, (ast.CoreInstantiateArg("host", 1),))
    assert c.aliases[:3] == (
        ast.AliasExport(Sort.FUNC, 0, "now"),
        ast.AliasCoreExport(ast.CoreSort.MEMORY, 0, "memory"),
        ast.AliasCoreExport(ast.CoreSort.FUNC, 0, "realloc"),
    )
    assert len(c.core_modules) == 2
    first = c.core_modules[0]
    binary = fixture("async_pipeline.wat")
    assert binary[first.offset : first.offset + len(first.data)] == first.data
    assert first.data.startswith(b"\x00asm\x01\x00\x00\x00")


@needs_wasm_tools
def test_outer_aliases_of_every_sort() -> None:
    c = decode(
        """(component
          (core module $m)
          (core type $ct (func))
          (type $t u8)
          (component $c)
          (component
            (alias outer 1 $m (core module))
            (alias outer 1 $ct (core type))
            (alias outer 1 $t (type))
            (alias outer 1 $c (component))))"""
    )
    _, inner = c.components
    assert inner.aliases == (
        ast.AliasOuter(ast.CoreSort.MODULE, 1, 0),
        ast.AliasOuter(ast.CoreSort.TYPE, 1, 0),
        ast.AliasOuter(Sort.TYPE, 1, 0),
        ast.AliasOuter(Sort.COMPONENT, 1, 0),
    )


@needs_wasm_tools
def test_nested_components_and_instances() -> None:
    data = fixture("async_pipeline.wat")
    c = decode_component(data)
    (consumer,) = c.components
    assert (consumer.version, consumer.layer) == (0x0D, 1)
    (outer_section,) = [s for s in c.sections if s.id is SectionId.COMPONENT]
    assert (consumer.offset, consumer.size) == (outer_section.content_offset, outer_section.size)
    assert data[consumer.offset : consumer.offset + 8] == PREAMBLE
    assert consumer.imports[0] == ast.Import(
        ast.ExternName("points"), ast.TypeDesc(ast.SubResource())
    )
    assert consumer.exports[0].target == ast.SortIdx(Sort.FUNC, 0)
    (inst,) = c.instances
    assert inst == ast.Instantiate(
        0,
        (
            ast.InstantiateArg("points", ast.SortIdx(Sort.TYPE, 5)),
            ast.InstantiateArg("produce", ast.SortIdx(Sort.FUNC, 0)),
        ),
    )
    inline = decode(
        """(component (import "f" (func $f)) (core module $m)
             (instance (export "g" (func $f)) (export "m" (core module $m))))"""
    ).instances
    assert inline == (
        ast.InlineExports(
            (
                ast.InlineExport(ast.ExternName("g"), ast.SortIdx(Sort.FUNC, 0)),
                ast.InlineExport(ast.ExternName("m"), ast.SortIdx(ast.CoreSort.MODULE, 0)),
            )
        ),
    )


@needs_wasm_tools
def test_import_and_export_names() -> None:
    c = decode(
        """(component
          (import "wasi:http/types@0.2.0" (instance))
          (import "plain" (func))
          (import "x" (implements "a:b/c") (instance))
          (import "y:z/w" (external-id "id-1") (instance))
          (type $t u32)
          (export "t" (type $t) (type (eq $t))))"""
    )
    iface, plain, impl, ext = (i.name for i in c.imports)
    assert (iface.is_interface, iface.package, iface.version) == (True, "wasi:http", "0.2.0")
    assert (plain.is_interface, plain.package, plain.version) == (False, None, None)
    assert ext.package == "y:z" and ext.version is None
    assert not ast.ExternName("[method]a.b").is_interface
    assert (impl.form, impl.implements, impl.name) == (2, "a:b/c", "x")
    assert (ext.form, ext.external_id) == (2, "id-1")
    assert str(iface) == "wasi:http/types@0.2.0"
    (export,) = c.exports
    assert export == ast.Export(
        ast.ExternName("t"), ast.SortIdx(Sort.TYPE, 4), ast.TypeDesc(ast.TypeEq(4))
    )


def test_spec_only_forms() -> None:
    """Start and value sections (🪙), versionsuffix and the legacy 0x01 name form."""
    value = section(12, b"\x01" + b"\x79" + b"\x01\x2a")
    start = section(9, b"\x00" + b"\x02\x00\x01" + b"\x01")
    names = section(
        10,
        b"\x02"
        + b"\x01" + name("legacy") + b"\x01\x00"
        + b"\x02" + name("a:b/c@1.0.0") + b"\x01" + b"\x01" + name("-rc1") + b"\x01\x00",
    )  # fmt: skip
    c = decode_component(component(value, start, names))
    assert c.values == (ast.Value(PrimValType.U32, b"\x2a"),)
    assert c.starts == (ast.Start(0, (0, 1), 1),)
    legacy, suffixed = c.imports
    assert legacy.name == ast.ExternName("legacy", form=1)
    assert suffixed.name.version_suffix == "-rc1"
    assert [s.id for s in c.sections] == [SectionId.VALUE, SectionId.START, SectionId.IMPORT]


@pytest.mark.parametrize(
    ("payload_section", "message"),
    [
        (section(6, b"\x01\x01\x01\x00\x00" + name("x")), "core export alias needs a core sort"),
        (section(6, b"\x01\x01\x02\x00\x00"), "outer alias cannot name the func sort"),
        (section(6, b"\x01\x00\x13\x00\x00"), "expected a core sort, found byte 0x13"),
        (section(7, b"\x01\x71\x01" + name("c") + b"\x00\x01"), "0x00 after a variant case"),
        (section(7, b"\x01\x40\x00\x01\x01"), "0x00 (no results) after 0x01"),
        (section(7, b"\x01\x70\x40"), "expected a valtype, found byte 0x40"),
        (section(7, b"\x01\x42\x01\x03"), "an instance type declaration, found byte 0x03"),
        (section(10, b"\x01\x00" + name("a") + b"\x00\x12\x00"), "core module sort 0x11"),
        (section(10, b"\x01\x00" + name("a") + b"\x03\x02"), "a type bound"),
        (section(10, b"\x01\x00" + name("a") + b"\x06\x00"), "expected an extern type"),
        (section(10, b"\x01\x03" + name("a") + b"\x01\x00"), "an import/export name"),
        (
            section(10, b"\x01\x02" + name("a") + b"\x02\x02" + name("x") + b"\x02" + name("y")),
            "duplicate external_id attribute",
        ),
        (section(8, b"\x01\x00\x01"), "the func sort 0x00 after canon lift"),
        (section(8, b"\x01\x01\x00\x00\x01\x0a"), "a canonical option, found byte 0x0a"),
        (section(8, b"\x01\x07"), "a canonical definition, found byte 0x07"),
        (section(2, b"\x01\x00\x00\x01" + name("a") + b"\x11\x00"), "core instance sort 0x12"),
        (section(3, b"\x01\x00\x60"), "0x50 (a non-final sub type) after 0x00"),
        (section(3, b"\x01\x50\x01\x02\x10\x02"), "an outer alias (0x01) in a module type"),
        (section(3, b"\x01\x50\x01\x03" + name("m") + b"\x02\x10\x00"), "memory limits flags"),
        (section(3, b"\x01\x60\x01\x40\x00"), "expected a core value type, found byte 0x40"),
        (section(3, b"\x01\x5f\x01\x7f\x02"), "a field mutability"),
        (section(3, b"\x01\x60\x01\x63\x65\x00\x00"), "abstract heap type after shared"),
        (section(3, b"\x01\x60\x01\x63\x40\x00"), "expected a heap type, found byte 0x40"),
        (section(3, b"\x01\x5d\x7f"), "a continuation's function type"),
        (section(3, b"\x01\x50\x01\x02\x00\x01"), "core type sort 0x10"),
        (section(3, b"\x01\x50\x01\x03" + name("g") + b"\x03\x7f\x04"), "global flags"),
        (section(3, b"\x01\x50\x01\x03" + name("t") + b"\x04\x01\x00"), "tag attribute"),
        (section(3, b"\x01\x50\x01\x03" + name("x") + b"\x05"), "a core extern type"),
        (section(3, b"\x01\x50\x01\x03" + name("t") + b"\x01\x70\x08"), "table limits"),
        (section(3, b"\x01\x50\x01\x03" + name("m") + b"\x02\x08\x01\x40"), "page size"),
        (section(3, b"\x01\x50\x01\x05"), "a module type declaration"),
        (section(2, b"\x01\x02"), "a core instance (0x00 or 0x01)"),
        (section(5, b"\x01\x02"), "an instance (0x00 or 0x01)"),
        (section(6, b"\x01\x01\x03"), "an alias target"),
        (section(6, b"\x01\x06\x00\x00" + name("x")), "expected a sort, found byte 0x06"),
        (section(7, b"\x01\x40\x00\x02"), "a result list (0x00 or 0x01)"),
        (section(7, b"\x01\x6b\x80\x80\x80\x80\x70"), "expected a valtype"),
        (section(11, b"\x01\x00" + name("e") + b"\x01\x00\x02"), "an optional export type"),
        (section(10, b"\x01\x02" + name("a") + b"\x01\x07"), "a name attribute"),
    ],
)
def test_malformed_definitions(payload_section: bytes, message: str) -> None:
    assert message in decode_error(component(payload_section)).message


def _nested_components(depth: int) -> bytes:
    data = PREAMBLE
    for _ in range(depth):
        data = component(section(4, data))
    return data


def _nested_instance_types(depth: int) -> bytes:
    ty = b"\x42\x00"
    for _ in range(depth):
        ty = b"\x42\x01\x01" + ty  # an instance type declaring one type: the previous one
    return component(section(7, b"\x01" + ty))


def test_nesting_is_bounded() -> None:
    assert len(decode_component(_nested_components(20)).components) == 1
    assert "nested more than" in decode_error(_nested_components(MAX_NESTING + 5)).message
    decode_component(_nested_instance_types(MAX_NESTING - 1))
    assert "nested more than" in decode_error(_nested_instance_types(MAX_NESTING + 5)).message


# ---------------------------------------------------------------------------
# Robustness: truncation and random mutation never escape DecodeError
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeds() -> list[bytes]:
    """Valid binaries to truncate and mutate, compiled once (outside any deadline)."""
    return [
        fixture("async_pipeline.wat"),
        fixture("types.wat"),
        wat(ALL_BUILTINS),
        component(
            section(12, b"\x01\x79\x01\x2a"),
            section(9, b"\x00\x01\x00\x01"),
            section(0, name("c") + b"x"),
        ),
    ]


def section_boundaries(data: bytes) -> set[int]:
    """Offsets where a top-level section ends: cutting there leaves a valid component."""
    r = Reader(data, 8)
    ends = {8}
    while not r.at_end():
        r.byte()
        r.take(r.u32())
        ends.add(r.pos)
    return ends


@needs_wasm_tools
def test_truncation_at_every_offset(seeds: list[bytes]) -> None:
    for data in seeds:
        boundaries = section_boundaries(data)
        for cut in range(len(data)):
            if cut in boundaries:
                decode_component(data[:cut])
                continue
            with pytest.raises(DecodeError) as info:
                decode_component(data[:cut])
            assert info.value.offset <= cut


def length_positions(data: bytes) -> list[int]:
    """Offsets of LEB128 sizes and counts: each section's size and its first vector count."""
    r = Reader(data, 8)
    positions = []
    while not r.at_end():
        sid = r.byte()
        positions.append(r.pos)
        size = r.u32()
        if sid not in (0, 1, 4, 9) and size:
            positions.append(r.pos)
        r.take(size)
    return positions


HUGE = [leb(2**32 - 1), leb(2**31), leb(2**28), b"\xff\xff\xff\xff\x7f"]


def replace_leb(data: bytes, at: int, new: bytes) -> bytes:
    end = at
    while end < len(data) and data[end] & 0x80:
        end += 1
    return data[:at] + new + data[end + 1 :]


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 7)),
    st.tuples(st.just("set"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 8)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("huge"), st.integers(0, 10**6), st.integers(0, len(HUGE) - 1)),
    st.tuples(st.just("huge_length"), st.integers(0, 10**6), st.integers(0, len(HUGE) - 1)),
)


def mutate(data: bytes, op: str, where: int, arg: int) -> bytes:
    if not data:
        return data
    i = where % len(data)
    match op:
        case "flip":
            return data[:i] + bytes([data[i] ^ (1 << arg)]) + data[i + 1 :]
        case "set":
            return data[:i] + bytes([arg]) + data[i + 1 :]
        case "insert":
            return data[:i] + bytes([arg]) + data[i:]
        case "delete":
            return data[:i] + data[i + arg :]
        case "truncate":
            return data[:i]
        case "huge":
            return replace_leb(data, i, HUGE[arg])
        case _:
            try:
                positions = length_positions(data)
            except DecodeError:
                return replace_leb(data, i, HUGE[arg])
            if not positions:
                return data
            return replace_leb(data, positions[where % len(positions)], HUGE[arg])


@needs_wasm_tools
@settings(max_examples=500, deadline=500, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 3), mutations=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_binaries_decode_or_raise_decode_error(
    seeds: list[bytes], seed: int, mutations: list[tuple[str, int, int]]
) -> None:
    data = seeds[seed]
    for op, where, arg in mutations:
        data = mutate(data, op, where, arg)
    try:
        result = decode_component(data)
    except DecodeError as e:
        assert 0 <= e.offset <= len(data)
    else:
        assert isinstance(result, ast.Component)

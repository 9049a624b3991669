"""callback_abi.asyncify: binaryen's asyncify transform, and driving it from the host.

The host drives an asyncified guest the way the runtime will: the blocking
import's handler (a ``may_block`` import of :mod:`stackswitch.wasm.fibers`)
starts an unwind instead of waiting, the export returns, and when the
"event" comes the export is called again in rewind mode; the import sees the
rewind, stops it and returns the real value. No stack is kept while waiting.

These tests need binaryen's ``wasm-opt``: without it they fail, on purpose,
with the install hint.
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import wasmtime

from callback_abi import asyncify as asy
from callback_abi.asyncify import Asyncify, AsyncifyError, State, UnwindOverflow, wasm_opt
from stackswitch.errors import Trap
from stackswitch.wasm import fibers

ROOT = Path(__file__).resolve().parent.parent
I32 = wasmtime.ValType.i32()


def i32_to_i32() -> wasmtime.FuncType:
    """A fresh type each time: wasmtime ties a FuncType to the first engine that uses it."""
    return wasmtime.FuncType([I32], [I32])

BLOCK = ("env", "block")

GUEST = """
(module
  (import "env" "block" (func $block (param i32) (result i32)))
  (import "env" "other" (func $other (param i32) (result i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 4096))

  ;; one step of run, in a frame of its own, with i64 and f32 locals live across the call
  (func $step (param $i i32) (param $acc i32) (result i32)
    (local $t i64) (local $f f32)
    (local.set $t (i64.mul (i64.extend_i32_u (local.get $i)) (i64.const 0x100000001)))
    (local.set $f (f32.convert_i32_u (local.get $i)))
    (i32.add
      (i32.xor (call $block (i32.add (local.get $acc) (local.get $i)))
               (i32.wrap_i64 (i64.shr_u (local.get $t) (i64.const 16))))
      (i32.trunc_f32_u (f32.mul (local.get $f) (f32.const 1.5)))))

  ;; calls block x times, in a loop, with i32, i64 and f64 locals live across each call;
  ;; also keeps a running sum in memory[0..4)
  (func (export "run") (param $x i32) (result i32)
    (local $i i32) (local $acc i32) (local $w i64) (local $d f64)
    (local.set $acc (i32.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $x)))
        (local.set $acc (call $step (local.get $i) (local.get $acc)))
        (local.set $w (i64.add (i64.mul (local.get $w) (i64.const 3))
                               (i64.extend_i32_u (local.get $acc))))
        (local.set $d (f64.add (local.get $d) (f64.convert_i32_u (local.get $acc))))
        (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (local.get $acc)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.add (i32.add (local.get $acc) (i32.wrap_i64 (local.get $w)))
             (i32.trunc_sat_f64_u (local.get $d))))

  ;; $n frames deep, then block once
  (func $deep (export "deep") (param $n i32) (result i32)
    (local $keep i64)
    (local.set $keep (i64.extend_i32_u (local.get $n)))
    (if (result i32) (local.get $n)
      (then (i32.add (call $deep (i32.sub (local.get $n) (i32.const 1)))
                     (i32.wrap_i64 (local.get $keep))))
      (else (call $block (i32.const 7)))))

  ;; calls the import that is not listed as blocking
  (func (export "call_other") (param i32) (result i32) (call $other (local.get 0)))

  ;; the guest grows its own memory and fills the new pages with $byte; the old size
  (func (export "grow_and_fill") (param $pages i32) (param $byte i32) (result i32)
    (local $old i32)
    (local.set $old (memory.grow (local.get $pages)))
    (if (i32.ne (local.get $old) (i32.const -1))
      (then (memory.fill (i32.shl (local.get $old) (i32.const 16)) (local.get $byte)
                         (i32.shl (local.get $pages) (i32.const 16)))))
    (local.get $old))

  ;; a bump allocator inside the initial pages (for Asyncify(allocate=...))
  (func (export "alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
)
"""


def custom_section(name: str) -> bytes:
    """An empty custom section: appended to a module, it makes a new cache key."""
    return b"\0" + bytes([len(name) + 1, len(name)]) + name.encode()


def reply(v: int) -> int:
    """The "real" value the blocking import delivers for argument ``v``."""
    return (v * 2654435761 + 12345) & 0x7FFFFFFF


@pytest.fixture(scope="module")
def original() -> bytes:
    return wasmtime.wat2wasm(GUEST)


@pytest.fixture(scope="module")
def transformed(original: bytes) -> bytes:
    try:
        return asy.asyncify(original, what="test guest", imports=[BLOCK])
    except AsyncifyError as e:  # no wasm-opt: fail with the install hint, never skip
        pytest.fail(str(e))


def reference(wasm: bytes, export: str, *args: int) -> int:
    """What ``export(*args)`` returns when the import answers at once (plain wasmtime)."""
    return plain_run(wasm, export, *args)[0]


def plain_run(wasm: bytes, export: str, *args: int) -> tuple[int, int]:
    """``export(*args)`` on plain wasmtime, imports answering at once; (result, memory[0..4))."""
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    module = wasmtime.Module(engine, wasm)
    imports = [wasmtime.Func(store, i32_to_i32(), reply) for _ in module.imports]
    instance = wasmtime.Instance(store, module, imports)
    result = instance.exports(store)[export](store, *args) & 0xFFFFFFFF  # unsigned, as fibers
    return result, int.from_bytes(instance.exports(store)["memory"].read(store, 0, 4), "little")


@dataclass
class Call:
    """One call of an export, possibly suspended: what it waits for lives in ``buf``."""

    export: str
    args: tuple[int, ...]
    buf: int
    request: int | None = None
    result: int | None = None
    unwinds: int = 0


class Guest:
    """An asyncified instance on fibers, driven as the runtime will drive it."""

    def __init__(self, wasm: bytes, *, blocks: Callable[[int], bool] = lambda v: True,
                 check_guest_state: bool = False, **options: object) -> None:
        engine = fibers.make_engine()
        self.store = wasmtime.Store(engine)
        linker = wasmtime.Linker(engine)
        fibers.define_import(linker, "env", "block", i32_to_i32(), self._block, may_block=True)
        fibers.define_import(linker, "env", "other", i32_to_i32(), self._block, may_block=True)
        self.instance = fibers.instantiate(linker, self.store, wasmtime.Module(engine, wasm))
        self.asy = Asyncify(self.store, self.instance, what="test guest", **options)
        self.blocks = blocks
        self.check_guest_state = check_guest_state
        self.current: Call | None = None

    def export(self, name: str) -> fibers.WasmFunc:
        return fibers.export(self.store, self.instance, name)

    def _block(self, v: int) -> int:
        call, asy = self.current, self.asy
        assert call is not None
        if self.check_guest_state:
            assert asy.guest_state() == asy.state()
        if asy.state() == State.REWINDING:
            assert v == call.request  # the same call site, with the same argument
            asy.stop_rewind()
            call.request = None
            return reply(v)
        if not self.blocks(v):
            return reply(v)
        call.request = v
        asy.start_unwind(call.buf)
        return 0xDEAD  # ignored: the guest is unwinding

    def start(self, export: str, *args: int) -> Call:
        return Call(export, args, self.asy.new_buffer())

    def step(self, call: Call) -> bool:
        """Run ``call`` (or resume it, delivering its event) until it blocks (False) or returns."""
        if call.request is not None:
            self.asy.start_rewind(call.buf)
        self.current = call
        try:
            results = fibers.call(self.export(call.export), call.args)
        finally:
            self.current = None
        if self.check_guest_state:
            assert self.asy.guest_state() == self.asy.state()
        if self.asy.state() == State.UNWINDING:
            assert self.asy.stop_unwind() == self.asy.saved_bytes(call.buf) > 0
            call.unwinds += 1
            return False
        assert self.asy.state() == State.NORMAL
        call.result = results[0]
        self.asy.free_buffer(call.buf)
        return True

    def run(self, export: str, *args: int) -> Call:
        call = self.start(export, *args)
        while not self.step(call):
            pass
        return call

    def word(self, address: int) -> int:
        return int.from_bytes(self.asy.memory.read(address, 4), "little")


# -- the transform ---------------------------------------------------------------------


def test_wasm_opt_is_found_and_runs() -> None:
    try:
        command = asy.find_wasm_opt()
    except AsyncifyError as e:
        pytest.fail(str(e))
    assert "wasm-opt version" in asy.wasm_opt_version(command)


def test_the_transform_adds_the_controls_and_keeps_the_exports(original: bytes,
                                                               transformed: bytes) -> None:
    module = wasmtime.Module(wasmtime.Engine(), transformed)
    names = {e.name for e in module.exports}
    assert {"run", "deep", "memory", "alloc", *asy.ASYNCIFY_EXPORTS} <= names
    assert len(transformed) > len(original)


def test_results_are_cached_by_input_and_imports(original: bytes, transformed: bytes,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(asy.ENV_VAR, "/nonexistent/wasm-opt")  # a cache hit needs no wasm-opt
    assert asy.asyncify(original, what="again", imports=[BLOCK, BLOCK]) is transformed
    with pytest.raises(AsyncifyError, match="nonexistent"):
        asy.asyncify(original, what="again", imports=[BLOCK, ("env", "other")])


# -- driving it ------------------------------------------------------------------------


def test_one_call_unwinds_and_rewinds_at_every_block(transformed: bytes, original: bytes) -> None:
    guest = Guest(transformed, check_guest_state=True)
    call = guest.run("run", 6)
    assert call.unwinds == 6
    assert (call.result, guest.word(0)) == plain_run(original, "run", 6)  # memory too


def test_without_blocking_the_transformed_guest_gives_the_same_results(
        transformed: bytes, original: bytes) -> None:
    guest = Guest(transformed, blocks=lambda v: False)
    for x in (0, 1, 5):
        call = guest.run("run", x)
        assert (call.unwinds, call.result) == (0, reference(original, "run", x))


def test_blocking_only_sometimes(transformed: bytes, original: bytes) -> None:
    guest = Guest(transformed, blocks=lambda v: v % 2 == 0)
    call = guest.run("run", 9)
    assert 0 < call.unwinds < 9
    assert call.result == reference(original, "run", 9)


def test_two_suspended_calls_interleave_with_separate_buffers(transformed: bytes,
                                                              original: bytes) -> None:
    guest = Guest(transformed)
    a, b = guest.start("run", 5), guest.start("run", 8)
    assert a.buf != b.buf
    assert not guest.step(a) and not guest.step(b)  # both suspended at once
    pending = [a, b]
    while pending:
        pending = [c for c in pending if not guest.step(c)]
    assert (a.unwinds, b.unwinds) == (5, 8)
    assert a.result == reference(original, "run", 5)
    assert b.result == reference(original, "run", 8)
    assert (guest.asy.buffers_in_use, guest.asy.buffers_free) == (0, 4)  # one page, four buffers


@pytest.mark.parametrize("seed", range(3))
def test_many_calls_resumed_in_random_order(transformed: bytes, original: bytes,
                                            seed: int) -> None:
    guest = Guest(transformed)
    rng = random.Random(seed)
    calls = [guest.start("run", rng.randrange(1, 10)) for _ in range(6)]
    calls.append(guest.start("deep", 12))
    pending = list(calls)
    while pending:
        call = rng.choice(pending)
        if guest.step(call):
            pending.remove(call)
    for call in calls:
        assert call.result == reference(original, call.export, *call.args)
    assert guest.asy.buffers_in_use == 0
    assert guest.asy.buffers_free == 8  # seven were live at once: two pages


def test_a_freed_buffer_is_reused(transformed: bytes) -> None:
    guest = Guest(transformed)
    first = guest.run("run", 2)
    second = guest.run("run", 3)
    assert first.buf == second.buf
    assert len(guest.asy.memory) == 3 * asy.PAGE_SIZE  # two pages of its own, one of buffers


def test_the_data_area_size_is_configurable(transformed: bytes, original: bytes) -> None:
    guest = Guest(transformed, data_size=asy.PAGE_SIZE)  # a buffer bigger than one page
    a, b = guest.start("deep", 30), guest.start("deep", 30)
    assert b.buf - a.buf >= asy.HEADER_SIZE + asy.PAGE_SIZE
    for call in (a, b):
        guest.step(call)
    assert guest.asy.saved_bytes(a.buf) > 30 * 8  # each frame saved its i64 at least
    for call in (a, b):
        assert guest.step(call)
        assert call.result == reference(original, "deep", 30)


def test_a_stack_too_big_for_its_buffer_is_an_overflow_trap(transformed: bytes) -> None:
    guest = Guest(transformed, data_size=64)
    call = guest.start("deep", 20)
    neighbour = guest.asy.new_buffer()  # right after call.buf
    with pytest.raises(UnwindOverflow, match=r"unwind buffer overflow.*needed \d+ bytes.*"
                                             r"holds 64 \(data_size\)") as info:
        guest.step(call)
    assert isinstance(info.value, Trap)
    assert "test guest" in str(info.value)
    # binaryen checks only once unwinding is over: the stack was written past the end
    assert guest.asy.memory.read(neighbour, 16) != bytes(16)
    assert guest.asy.state() == State.NORMAL == guest.asy.guest_state()
    with pytest.raises(UnwindOverflow):  # the instance cannot be trusted any more
        guest.asy.start_unwind(neighbour)


def test_an_unwind_from_an_import_that_was_not_listed_saves_nothing(transformed: bytes) -> None:
    guest = Guest(transformed)
    with pytest.raises(AsyncifyError, match="saved nothing.*not among asyncify"):
        guest.run("call_other", 1)


def test_buffers_from_the_guests_own_allocator(transformed: bytes, original: bytes) -> None:
    holder: list[Guest] = []

    def allocate(n: int) -> int:
        return fibers.call(holder[0].export("alloc"), (n,))[0]

    guest = Guest(transformed, allocate=allocate, data_size=1024)
    holder.append(guest)
    size = len(guest.asy.memory)
    a, b = guest.start("run", 3), guest.start("run", 4)
    assert 4096 <= a.buf < b.buf < 2 * asy.PAGE_SIZE  # inside the guest's own heap
    pending = [a, b]
    while pending:
        pending = [c for c in pending if not guest.step(c)]
    assert (a.result, b.result) == (reference(original, "run", 3), reference(original, "run", 4))
    assert len(guest.asy.memory) == size  # never grown by the host


def test_pages_the_guest_grows_itself_and_host_buffers_stay_apart(transformed: bytes,
                                                                  original: bytes) -> None:
    guest = Guest(transformed)
    grow = guest.export("grow_and_fill")
    a = guest.start("run", 4)  # host grows page 2 for buffers
    assert not guest.step(a)
    own = fibers.call(grow, (1, 0x5A))[0]  # the guest grows page 3 while a is suspended
    assert own == 3
    more = [guest.start("deep", 5) for _ in range(4)]  # three fit page 2; the host grows page 4
    assert all(not (own * asy.PAGE_SIZE <= c.buf < (own + 1) * asy.PAGE_SIZE) for c in more)
    for call in [*more, a]:
        while not guest.step(call):
            pass
    assert a.result == reference(original, "run", 4)
    assert guest.asy.memory.read(own * asy.PAGE_SIZE, asy.PAGE_SIZE) == b"\x5a" * asy.PAGE_SIZE


def test_misuse_is_refused(transformed: bytes, original: bytes) -> None:
    guest = Guest(transformed)
    buf = guest.asy.new_buffer()
    with pytest.raises(AsyncifyError, match="stop_unwind while normal"):
        guest.asy.stop_unwind()
    with pytest.raises(ValueError, match="holds no unwound stack"):
        guest.asy.start_rewind(buf)
    with pytest.raises(ValueError, match="not a buffer in use"):
        guest.asy.start_unwind(buf + 4)
    guest.asy.free_buffer(buf)
    with pytest.raises(ValueError, match="not a buffer in use"):
        guest.asy.free_buffer(buf)
    with pytest.raises(ValueError, match="data_size"):
        Asyncify(guest.store, guest.instance, data_size=10)
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    instance = wasmtime.Instance(store, wasmtime.Module(engine, original), [
        wasmtime.Func(store, i32_to_i32(), reply), wasmtime.Func(store, i32_to_i32(), reply)])
    with pytest.raises(AsyncifyError, match="no export asyncify_start_unwind.*asyncify()"):
        Asyncify(store, instance, what="plain guest")


# -- import names ----------------------------------------------------------------------

ODD_NAMES = [("$root", "[waitable-set-wait]"), ("[export]$root", "[task-return]run"),
             ("ns:pkg/iface@0.1.0", "[async-lower][method]res.f"), ("a,b", "c "),
             ("env", "not-listed")]


def odd_guest() -> bytes:
    lines = [f'(import "{module}" "{name}" (func $f{i} (param i32) (result i32)))'
             for i, (module, name) in enumerate(ODD_NAMES)]
    lines += [f'(func (export "e{i}") (param i32) (result i32) (call $f{i} (local.get 0)))'
              for i in range(len(ODD_NAMES))]
    return wasmtime.wat2wasm("(module\n" + "\n".join(lines) + '\n(memory (export "memory") 1))')


def test_import_names_with_odd_characters_are_matched_exactly() -> None:
    wasm = asy.asyncify(odd_guest(), what="odd names", imports=ODD_NAMES[:-1])
    engine = fibers.make_engine()
    store = wasmtime.Store(engine)
    linker = wasmtime.Linker(engine)
    holder: dict[str, Asyncify] = {}
    buffers: dict[str, int] = {}

    def handler(which: str) -> Callable[[int], int]:
        def block(v: int) -> int:
            a = holder["a"]
            if a.state() == State.REWINDING:
                a.stop_rewind()
                return v + 1
            a.start_unwind(buffers[which])
            return 0
        return block

    for module, name in ODD_NAMES:
        fibers.define_import(linker, module, name, i32_to_i32(), handler(module + name),
                             may_block=True)
    instance = fibers.instantiate(linker, store, wasmtime.Module(engine, wasm))
    a = holder["a"] = Asyncify(store, instance, what="odd names")
    for i, (module, name) in enumerate(ODD_NAMES):
        buffers[module + name] = buf = a.new_buffer()
        export = fibers.export(store, instance, f"e{i}")
        fibers.call(export, (i,))
        assert a.state() == State.UNWINDING
        if (module, name) == ("env", "not-listed"):
            with pytest.raises(AsyncifyError, match="saved nothing"):
                a.stop_unwind()
            continue
        assert a.stop_unwind() > 0, (module, name)
        a.start_rewind(buf)
        assert fibers.call(export, (i,)) == [i + 1]


def test_import_patterns() -> None:
    assert asy.import_pattern("$root", "[waitable-set-wait]") == "$root.[waitable-set-wait]"
    assert asy.import_pattern("a,b", "c ") == "a*b.c*"
    assert asy.import_pattern(" x", "y\n") == "*x.y*"


def test_an_empty_import_list_instruments_nothing(original: bytes) -> None:
    guest = Guest(asy.asyncify(original, what="nothing blocks", imports=[]))
    with pytest.raises(AsyncifyError, match="saved nothing"):
        guest.run("run", 1)


def test_no_import_list_means_every_import_may_block(original: bytes) -> None:
    guest = Guest(asy.asyncify(original, what="everything blocks"))
    assert guest.run("call_other", 5).result == reply(5)


# -- modules it refuses ----------------------------------------------------------------


def refused(wat: str, match: str) -> None:
    with pytest.raises(AsyncifyError, match=r"(?s)cannot asyncify export `f`: .*" + match):
        asy.asyncify(wasmtime.wat2wasm(wat), what="export `f`", imports=[BLOCK])


IMPORT = '(import "env" "block" (func $b (param i32) (result i32)))'
CALLER = '(func (export "f") (param i32) (result i32) (call $b (local.get 0)))'


def test_a_module_without_memory_is_refused() -> None:
    refused(f"(module {IMPORT} {CALLER})", "no linear memory")


def test_memory64_and_two_memories_are_refused() -> None:
    refused(f"(module {IMPORT} (memory i64 1) {CALLER})", "memory64")
    refused(f"(module {IMPORT} (memory 1) (memory $two 1) {CALLER})", "2 memories")


def test_an_imported_memory_is_enough() -> None:
    wasm = wasmtime.wat2wasm(f'(module (import "env" "memory" (memory 1)) {IMPORT} {CALLER})')
    out = asy.asyncify(wasm, what="imported memory", imports=[BLOCK])
    assert any(i.name == "memory" for i in wasmtime.Module(wasmtime.Engine(), out).imports)


def test_a_component_or_garbage_is_refused() -> None:
    component = wasmtime.wat2wasm("(component)")
    with pytest.raises(AsyncifyError, match="cannot asyncify comp: a component"):
        asy.asyncify(component, what="comp")
    with pytest.raises(AsyncifyError, match="cannot asyncify junk: not a WebAssembly binary"):
        asy.asyncify(b"junk", what="junk")
    with pytest.raises(AsyncifyError, match="cannot read it as a core module"):
        asy.asyncify(b"\0asm\x01\0\0\0\x02\x10\x01", what="truncated")


def test_a_module_that_drives_asyncify_itself_is_refused() -> None:
    refused(f'(module (import "asyncify" "start_unwind" (func (param i32))) {IMPORT} (memory 1)'
            f' {CALLER})', "imports from module `asyncify`")


def test_what_asyncify_cannot_handle_is_reported_with_wasm_opts_words() -> None:
    # a reference-typed local live across the blocking call
    refused(f"(module {IMPORT} (memory 1) (func (export \"f\") (param i32) (param externref)"
            " (result i32) (local externref) (local.set 2 (local.get 1))"
            " (drop (call $b (local.get 0))) (ref.is_null (local.get 2))))",
            "does not support.*non-number types")
    refused(f"(module {IMPORT} (memory 1) (func $g (param i32) (result i32) (call $b"
            " (local.get 0))) (func (export \"f\") (param i32) (result i32)"
            " (return_call $g (local.get 0))))", "tail call")


def test_a_feature_wasm_opt_cannot_read_is_reported() -> None:
    # exception handling with try_table: too new for binaryen 108; 132 crashes on it
    with pytest.raises(AsyncifyError, match=r"(?s)cannot asyncify export `f`: "
                                            r".*(could not read|crashed on it)") as e:
        asy.asyncify(wasmtime.wat2wasm(
            f"(module {IMPORT} (tag $t) (memory 1) (func (export \"f\") (param i32) (result i32)"
            " (block $h (try_table (catch $t $h) (drop (call $b (local.get 0)))))"
            " (i32.const 5)))"), what="export `f`", imports=[BLOCK])
    assert "\n" in str(e.value)  # wasm-opt's own output follows


# -- finding wasm-opt --------------------------------------------------------------------


def test_a_wrong_env_var_names_itself_and_says_how_to_install(
        original: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(asy.ENV_VAR, "/nonexistent/bin/wasm-opt")
    with pytest.raises(AsyncifyError) as info:
        asy.asyncify(original + custom_section("a"), what="fresh input")  # a custom section: no cache hit
    message = str(info.value)
    assert "STACKSWITCH_WASM_OPT='/nonexistent/bin/wasm-opt'" in message
    assert "apt-get install binaryen" in message and "npm install binaryen" in message


def test_no_wasm_opt_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(asy.ENV_VAR, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(wasm_opt, "_PROJECT_ROOT", tmp_path)
    with pytest.raises(AsyncifyError, match="not found.*apt-get install binaryen.*npm install"):
        asy.find_wasm_opt()


def test_wasm_opt_from_node_modules(original: bytes, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    real = asy.find_wasm_opt()
    tool = tmp_path / "node_modules" / ".bin" / "wasm-opt"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\nexec " + " ".join(f"'{w}'" for w in real) + ' "$@"\n')
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.delenv(asy.ENV_VAR, raising=False)
    bin_dir = tmp_path / "bin"  # a PATH without wasm-opt (but with node: npm's is a script)
    bin_dir.mkdir()
    node = shutil.which("node")
    if node is not None:
        (bin_dir / "node").symlink_to(node)
    monkeypatch.setenv("PATH", str(bin_dir))
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")  # found in a parent directory
    assert asy.find_wasm_opt() == (str(tool),)
    out = asy.asyncify(original + custom_section("b"), what="via node_modules", imports=[BLOCK])
    assert Guest(out).run("run", 2).unwinds == 2


def test_the_env_var_may_be_a_command(original: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    real = asy.find_wasm_opt()
    monkeypatch.setenv(asy.ENV_VAR, "env " + " ".join(real))
    assert asy.find_wasm_opt()[1:] == real
    assert os.path.basename(asy.find_wasm_opt()[0]) == "env"


# -- C compiled by zig (the dev extra; without ziglang these fail, as tests/test_c_guests.py) --

C_SORT = r"""
#include <stdint.h>
__attribute__((import_module("env"), import_name("block"))) int block(int);

/* sbrk-style, as wasi-libc's: fresh memory only from what memory.grow returns */
static int *grab_page(void) {
    uintptr_t old = __builtin_wasm_memory_grow(0, 1);
    if (old == (uintptr_t)-1) __builtin_trap();
    return (int *)(old * 65536);
}

typedef int (*cmp_fn)(int, int);
static int by_value(int a, int b) { return block(a) * 0 + a - b; }  /* blocks at every compare */

static void sort(int *v, int n, cmp_fn cmp) {
    for (int i = 1; i < n; i++) {
        int x = v[i], j = i - 1;
        while (j >= 0 && cmp(v[j], x) > 0) { v[j + 1] = v[j]; j--; }
        v[j + 1] = x;
    }
}

__attribute__((export_name("run"))) int run(int n) {
    int *v = grab_page();
    cmp_fn volatile cmp = by_value;  /* an indirect call, through a slot on the shadow stack */
    for (int i = 0; i < n; i++) v[i] = (i * 7919) % n;
    sort(v, n, cmp);
    int sum = 0;
    for (int i = 0; i < n; i++) sum = sum * 31 + v[i];
    return sum;
}

/* a 512-byte array on the shadow stack, live across the blocking call */
__attribute__((noinline)) static int fill_block_check(int id) {
    volatile char big[512];
    for (int i = 0; i < 512; i++) big[i] = (char)id;
    block(id);
    for (int i = 0; i < 512; i++) if (big[i] != (char)id) return 0;
    return 1;
}
__attribute__((noinline)) static void scribble(void) {
    volatile char s[2048];
    for (int i = 0; i < 2048; i++) s[i] = (char)0xEE;
}
__attribute__((export_name("frames"))) int frames(int id) {
    int ok = fill_block_check(id);
    scribble();
    return ok;
}
"""


@pytest.fixture(scope="module")
def c_sort(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """C_SORT compiled as examples/build_c_guests.py compiles the C guests."""
    if importlib.util.find_spec("ziglang") is None:
        pytest.fail("this test needs zig's C compiler from PyPI: "
                    "pip install -e '.[dev]' (or pip install ziglang)")
    spec = importlib.util.spec_from_file_location("build_c_guests",
                                                  ROOT / "examples" / "build_c_guests.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    out = tmp_path_factory.mktemp("c-sort")
    (out / "sort.c").write_text(C_SORT)
    proc = subprocess.run([sys.executable, "-m", "ziglang", "cc", *build.CFLAGS,
                           str(out / "sort.c"), "-o", str(out / "sort.wasm")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return (out / "sort.wasm").read_bytes()


def test_c_blocking_inside_an_indirect_call_with_its_own_allocator(c_sort: bytes) -> None:
    guest = Guest(asy.asyncify(c_sort, what="C sort", imports=[BLOCK]))
    for n in (2, 9, 40):
        call = guest.run("run", n)
        assert call.unwinds >= n - 1  # one per compare
        assert call.result == reference(c_sort, "run", n)
    # the guest's pages and the host's buffer page came from memory.grow in turn
    assert guest.asy.buffers_in_use == 0


def test_asyncify_saves_wasm_locals_not_the_shadow_stack(c_sort: bytes) -> None:
    """A known limit, pinned: C frames in linear memory are not part of the unwind.

    Two suspended tasks of one instance share the guest's ``__stack_pointer``.
    Resumed out of order, A's later frames (``scribble``) land on B's
    suspended ``big`` array. Each concurrently suspended task needs a shadow
    stack of its own (the toolchain's job, or the runtime's by swapping the
    stack pointer); run one after the other, both are fine.
    """
    guest = Guest(asy.asyncify(c_sort, what="C frames", imports=[BLOCK]))
    assert (guest.run("frames", 1).result, guest.run("frames", 2).result) == (1, 1)
    a, b = guest.start("frames", 1), guest.start("frames", 2)
    assert not guest.step(a) and not guest.step(b)
    assert guest.step(a) and a.result == 1
    assert guest.step(b) and b.result == 0  # B's array was overwritten

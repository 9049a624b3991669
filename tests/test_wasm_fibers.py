"""Core wasm on wasmtime fibers, driven from greenlets (stackswitch.wasm).

Tasks are :class:`~stackswitch.stacks.Continuation` s, as in the runtime: a
blocking import's handler calls ``stacks.suspend(...)``, and a small
scheduler here resumes the tasks in a seeded random order.
"""

from __future__ import annotations

import gc
import random
import subprocess
import sys
import textwrap
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import wasmtime

from stackswitch import stacks
from stackswitch.errors import Trap
from stackswitch.wasm import capi, fibers
from stackswitch.wasm.wasmtime_memory import WasmMemory

I32 = wasmtime.ValType.i32()
I64 = wasmtime.ValType.i64()
F64 = wasmtime.ValType.f64()


def functype(params: list[wasmtime.ValType], results: list[wasmtime.ValType]) -> wasmtime.FuncType:
    return wasmtime.FuncType(params, results)


class World:
    """One engine; stores, linkers and instances made from WAT."""

    def __init__(self) -> None:
        self.engine = fibers.make_engine()

    def instance(self, wat: str, imports: dict[str, tuple[wasmtime.FuncType, Callable[..., Any], bool]]
                 ) -> Instance:
        store = wasmtime.Store(self.engine)
        linker = wasmtime.Linker(self.engine)
        for name, (ty, handler, may_block) in imports.items():
            fibers.define_import(linker, "host", name, ty, handler, may_block=may_block,
                                 store=store)
        module = wasmtime.Module(self.engine, wat)
        return Instance(store, fibers.instantiate(linker, store, module))


class Instance:
    def __init__(self, store: wasmtime.Store, instance: wasmtime.Instance) -> None:
        self.store = store
        self.instance = instance

    def __getitem__(self, name: str) -> fibers.WasmFunc:
        return fibers.export(self.store, self.instance, name)

    def memory(self, name: str = "memory") -> WasmMemory:
        return WasmMemory(self.store, self.instance.exports(self.store)[name])


_baseline = 0


@pytest.fixture(autouse=True)
def _count_own_calls() -> None:
    """Calls other tests abandoned (a trapped script's suspended tasks) do not count here."""
    global _baseline
    _baseline = fibers.live_calls()


def live_calls() -> int:
    """Calls in flight started by the current test."""
    return fibers.live_calls() - _baseline


@pytest.fixture
def world() -> World:
    return World()


def run_tasks(tasks: list[stacks.Continuation], seed: int,
              answer: Callable[[Any], Any] = lambda request: request) -> dict[str, Any]:
    """Resume tasks in a seeded random order until all finish; their results by name.

    Each suspended task is resumed with ``answer(what_it_suspended_with)``.
    """
    rng = random.Random(seed)
    pending = {task.name: (task, None) for task in tasks}
    results: dict[str, Any] = {}
    while pending:
        name = rng.choice(sorted(pending))
        task, value = pending.pop(name)
        done, out = task.resume(value)
        if done:
            results[name] = out
        else:
            pending[name] = (task, answer(out))
    return results


BLOCKER = """
(module
  (import "host" "block" (func $block (param i32) (result i32)))
  (import "host" "inline" (func $inline (param i32) (result i32)))
  (memory (export "memory") 1)
  ;; sum over i in [0, n) of block(base + i), blocking n times
  (func (export "sum_blocks") (param $base i32) (param $n i32) (result i32)
    (local $i i32) (local $sum i32)
    (block $done
      (loop $again
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $sum (i32.add (local.get $sum)
          (call $block (i32.add (local.get $base) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $again)))
    (local.get $sum))
  (func (export "inline_twice") (param i32) (result i32)
    (call $inline (call $inline (local.get 0))))
  (func (export "boom") (param i32) (result i32)
    (if (local.get 0) (then unreachable))
    (i32.const 7))
)
"""


def blocker(world: World, block: Callable[[int], Any] | None = None,
            inline: Callable[[int], Any] = lambda x: x + 1) -> Instance:
    block = block or (lambda x: stacks.suspend(("block", x)))
    return world.instance(BLOCKER, {
        "block": (functype([I32], [I32]), block, True),
        "inline": (functype([I32], [I32]), inline, False),
    })


def reply_doubled(request: Any) -> Any:
    """The scheduler's answer to ("block", x): 2 * x."""
    return 2 * request[1]


# -- (1) interleaved blocking calls ---------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_two_tasks_block_20_times_each_in_any_order(world: World, seed: int) -> None:
    inst = blocker(world)
    sum_blocks = inst["sum_blocks"]
    tasks = [stacks.Continuation(lambda _, base=base: fibers.call(sum_blocks, (base, 20)), name)
             for name, base in (("a", 0), ("b", 1000))]
    results = run_tasks(tasks, seed, reply_doubled)
    assert results == {"a": [2 * sum(range(20))], "b": [2 * sum(range(1000, 1020))]}
    assert live_calls() == 0


def test_tasks_in_separate_stores_interleave_too(world: World) -> None:
    instances = [blocker(world), blocker(world)]
    tasks = [stacks.Continuation(lambda _, i=i: fibers.call(instances[i]["sum_blocks"], (i, 20)),
                                 str(i)) for i in range(2)]
    results = run_tasks(tasks, 42, reply_doubled)
    assert results == {"0": [2 * sum(range(20))], "1": [2 * sum(range(1, 21))]}


STRESS = """
    import random, sys
    import wasmtime
    from stackswitch import stacks
    from stackswitch.errors import Trap
    from stackswitch.wasm import fibers
    engine = fibers.make_engine()
    store, linker = wasmtime.Store(engine), wasmtime.Linker(engine)
    i32 = wasmtime.ValType.i32()
    fibers.define_import(linker, "host", "block", wasmtime.FuncType([i32], [i32]),
                         lambda x: stacks.suspend(x), may_block=True)
    fibers.define_import(linker, "host", "inline", wasmtime.FuncType([i32], [i32]),
                         lambda x: x, may_block=False)
    inst = fibers.instantiate(linker, store, wasmtime.Module(engine, sys.argv[1]))
    sum_blocks = fibers.export(store, inst, "sum_blocks")
    boom = fibers.export(store, inst, "boom")
    def task(i):
        def body(_):
            if i % 7 == 0:  # some tasks trap while others are suspended in the same store
                try:
                    fibers.call(boom, (1,))
                except Trap:
                    pass
            return fibers.call(sum_blocks, (i, 20))
        return stacks.Continuation(body, str(i))
    rng = random.Random(1)
    pending = {i: (task(i), None) for i in range(100)}
    while pending:
        i = rng.choice(list(pending))
        t, v = pending.pop(i)
        done, out = t.resume(v)
        if done:
            assert out == [sum(range(i, i + 20))], (i, out)
        else:
            pending[i] = (t, out)
    assert fibers.live_calls() == 0
    print("ok")
"""


def test_a_hundred_tasks_in_one_store_do_not_abort_the_process() -> None:
    # In a child process: were wasm frames ever held by a greenlet, wasmtime
    # would abort the whole interpreter rather than raise.
    root = Path(__file__).resolve().parent.parent
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(STRESS), BLOCKER],
                           capture_output=True, text=True, cwd=root, timeout=120)
    assert child.returncode == 0, child.stderr[-3000:]
    assert child.stdout.strip() == "ok"


# -- (2) non-blocking imports run inline ----------------------------------------------


def _suspend_refusal() -> fibers.FiberSwitchError | None:
    """What trying to suspend from here raises (None if it did not refuse)."""
    try:
        stacks.suspend()
    except fibers.FiberSwitchError as e:
        return e
    return None


def test_a_non_blocking_import_runs_inline_on_the_fiber(world: World) -> None:
    seen = []

    def inline(x: int) -> int:
        seen.append((x, fibers.in_fiber_callback(), _suspend_refusal()))
        return x * 3

    inst = blocker(world, inline=inline)
    task = stacks.Continuation(lambda _: fibers.call(inst["inline_twice"], (2,)), "t")
    assert task.resume(None) == (True, [18])  # finished without ever suspending
    assert [x for x, _, _ in seen] == [2, 6]
    assert all(on_fiber for _, on_fiber, _ in seen)
    assert all(refused is not None for _, _, refused in seen)  # the task cannot be suspended from there
    assert not fibers.in_fiber_callback()
    assert stacks.current() is None


PLAIN = """
(module
  (import "host" "inline" (func $inline (param i32) (result i32)))
  (func (export "inline_twice") (param i32) (result i32)
    (call $inline (call $inline (local.get 0))))
  (func (export "boom") (param i32) (result i32)
    (if (local.get 0) (then unreachable))
    (i32.const 7))
)
"""


def test_a_store_without_blocking_imports_is_called_plainly(world: World,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def inline(x: int) -> int:
        seen.append((x, fibers.in_fiber_callback(), _suspend_refusal(), fibers.live_calls()))
        return x * 3

    inst = world.instance(PLAIN, {"inline": (functype([I32], [I32]), inline, False)})
    monkeypatch.setattr(fibers, "_call_async", None)  # any async call would fail
    task = stacks.Continuation(lambda _: fibers.call(inst["inline_twice"], (2,)), "t")
    assert task.resume(None) == (True, [18])
    assert [x for x, _, _, _ in seen] == [2, 6]
    assert all(guarded and refused is not None for _, guarded, refused, _ in seen)
    assert all(live == _baseline for _, _, _, live in seen)  # no fiber taken
    with pytest.raises(Trap) as info:
        inst["boom"](1)
    assert str(info.value) == "wasm trap: wasm `unreachable` instruction executed"
    assert "wasm backtrace" in "".join(getattr(info.value, "__notes__", []))
    assert inst["boom"](0) == [7]


def test_a_call_from_a_handler_on_a_fiber_gets_its_own_fiber(world: World) -> None:
    live = []

    def inner_handler(x: int) -> int:
        live.append(fibers.live_calls())
        return x

    inner = world.instance(PLAIN, {"inline": (functype([I32], [I32]), inner_handler, False)})
    outer = world.instance(PLAIN, {"inline": (functype([I32], [I32]),
                                              lambda x: inner["inline_twice"](x)[0] + 1, False)})
    assert outer["inline_twice"](1) == [3]
    assert live == [_baseline + 1] * 4  # the outer call is plain, each inner one has a fiber


def test_a_plain_handler_exception_is_reraised_from_a_plain_call(world: World) -> None:
    inst = world.instance(PLAIN, {"inline": (functype([I32], [I32]), buggy_handler, False)})
    with pytest.raises(HostBug, match="bad 1"):
        inst["inline_twice"](1)
    assert inst["boom"](0) == [7]


def test_values_of_all_four_types_cross_both_ways(world: World) -> None:
    got = []

    def h(a: int, b: int, c: float) -> tuple[int, int, float]:
        got.append((a, b, c))
        return (a - 1, b - 1, c * 2)  # may be negative: stored as two's complement

    ty = functype([I32, I64, F64], [I32, I64, F64])
    wat = """(module
      (import "host" "h" (func $h (param i32 i64 f64) (result i32 i64 f64)))
      (import "host" "hb" (func $hb (param i32 i64 f64) (result i32 i64 f64)))
      (func (export "f") (param i32 i64 f64) (result i32 i64 f64)
        (call $h (local.get 0) (local.get 1) (local.get 2)))
      (func (export "fb") (param i32 i64 f64) (result i32 i64 f64)
        (call $hb (local.get 0) (local.get 1) (local.get 2)))
      (func (export "f32") (param f32) (result f32) (local.get 0)))"""
    inst = world.instance(wat, {"h": (ty, h, False), "hb": (ty, h, True)})
    # i32/i64 come back unsigned; negative ints are accepted on the way in
    assert inst["f"](-1, 2**63, 1.5) == [2**32 - 2, 2**63 - 1, 3.0]
    assert got == [(2**32 - 1, 2**63, 1.5)]
    assert inst["fb"](5, -1, -0.25) == [4, 2**64 - 2, -0.5]
    assert inst["f"](0, 0, 0.0) == [2**32 - 1, 2**64 - 1, 0.0]
    assert inst["f32"](0.5) == [0.5]
    with pytest.raises(TypeError, match="expected 3 core values"):
        inst["f"](1, 2)
    with pytest.raises(TypeError, match="not an i32"):
        inst["f"](2**32, 0, 0.0)


# -- (3) traps ---------------------------------------------------------------


def test_a_trap_in_wasm_becomes_a_Trap_with_wasmtimes_message(world: World) -> None:
    inst = blocker(world)
    with pytest.raises(Trap) as info:
        inst["boom"](1)
    assert str(info.value) == "wasm trap: wasm `unreachable` instruction executed"
    assert "wasm backtrace" in "".join(getattr(info.value, "__notes__", []))
    assert inst["boom"](0) == [7]  # the store is still usable
    assert live_calls() == 0


def test_stack_exhaustion_in_wasm_is_a_trap(world: World) -> None:
    wat = "(module (func $f (export \"f\") (call $f)))"
    inst = world.instance(wat, {})
    with pytest.raises(Trap, match="call stack exhausted"):
        inst["f"]()


def test_a_trap_while_other_calls_of_the_store_are_suspended(world: World) -> None:
    inst = blocker(world)
    suspended = stacks.Continuation(lambda _: inst["sum_blocks"](0, 3), "s")
    assert suspended.resume(None) == (False, ("block", 0))
    with pytest.raises(Trap, match="unreachable"):
        inst["boom"](1)
    assert suspended.resume(10) == (False, ("block", 1))
    assert suspended.resume(20) == (False, ("block", 2))
    assert suspended.resume(30) == (True, [60])


def test_a_Trap_raised_by_a_handler_is_reraised_as_is(world: World) -> None:
    raised = Trap("resource table index out of range")

    def block(_: int) -> int:
        stacks.suspend("wait")
        raise raised

    inst = blocker(world, block=block)
    task = stacks.Continuation(lambda _: inst["sum_blocks"](0, 1), "t")
    assert task.resume(None) == (False, "wait")
    with pytest.raises(Trap) as info:
        task.resume(None)
    assert info.value is raised


# -- (4) Python exceptions in handlers --------------------------------------------


class HostBug(Exception):
    pass


def buggy_handler(x: int) -> int:
    raise HostBug(f"bad {x}")


@pytest.mark.parametrize("may_block", [True, False])
def test_a_handler_exception_is_reraised_with_its_traceback(world: World, may_block: bool) -> None:
    wat = """(module (import "host" "h" (func $h (param i32) (result i32)))
      (func (export "f") (param i32) (result i32) (i32.add (call $h (local.get 0)) (i32.const 1))))"""
    inst = world.instance(wat, {"h": (functype([I32], [I32]), buggy_handler, may_block)})
    with pytest.raises(HostBug, match="bad 5") as info:
        inst["f"](5)
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert frames[-1] == "buggy_handler"
    assert info.value.__context__ is None  # not buried under a Trap
    assert live_calls() == 0
    assert inst["f"].results.count == 1


def test_a_handler_exception_after_blocking_is_reraised_in_its_task(world: World) -> None:
    def block(x: int) -> int:
        if stacks.suspend(("block", x)) == "cancel":
            raise HostBug("cancelled")
        return 1

    inst = blocker(world, block=block)
    task = stacks.Continuation(lambda _: inst["sum_blocks"](0, 5), "t")
    task.resume(None)
    task.resume("ok")
    with pytest.raises(HostBug, match="cancelled"):
        task.resume("cancel")
    assert task.state == stacks.FINISHED
    assert live_calls() == 0


def test_a_handler_returning_the_wrong_shape_is_a_host_error(world: World) -> None:
    inst = blocker(world, inline=lambda x: "nope")
    with pytest.raises(TypeError):
        inst["inline_twice"](1)


# -- (5) nested calls -----------------------------------------------------------


def test_a_handler_calls_another_instances_export_blocking_in_between(world: World) -> None:
    callee = blocker(world)
    log = []

    def block(x: int) -> int:
        # a component-to-component call: the callee blocks too, on this task
        a = fibers.call(callee["sum_blocks"], (x, 2))[0]
        log.append(("between", stacks.suspend(("block", 100 + x))))
        b = fibers.call(callee["sum_blocks"], (x, 1))[0]
        return a + b

    caller = blocker(world, block=block)
    tasks = [stacks.Continuation(lambda _, i=i: caller["sum_blocks"](i * 10, 2), str(i))
             for i in range(3)]
    results = run_tasks(tasks, 7, reply_doubled)
    for i in range(3):
        # each block(x) = 2x + 2(x+1) + 2x = 6x + 2, for x = 10i and 10i + 1
        assert results[str(i)] == [(6 * 10 * i + 2) + (6 * (10 * i + 1) + 2)]
    assert len(log) == 6
    assert live_calls() == 0


def test_a_blocking_handler_reenters_its_own_store(world: World) -> None:
    # like cabi_realloc called while the caller's fiber is suspended
    holder: dict[str, Instance] = {}

    def block(x: int) -> int:
        stacks.suspend(("block", x))
        return holder["self"]["boom"](0)[0] + x

    holder["self"] = inst = blocker(world, block=block)
    task = stacks.Continuation(lambda _: inst["sum_blocks"](1, 3), "t")
    assert run_tasks([task], 0) == {"t": [(7 + 1) + (7 + 2) + (7 + 3)]}


def test_an_inline_handler_calls_another_store_and_its_own(world: World) -> None:
    callee = blocker(world, block=lambda x: x * 5)  # may_block, but does not block
    holder: dict[str, Instance] = {}

    def inline(x: int) -> int:
        assert fibers.in_fiber_callback()
        other = fibers.call(callee["sum_blocks"], (x, 2))[0]  # a fiber started from a fiber
        own = holder["self"]["boom"](0)[0]
        return other + own

    holder["self"] = inst = blocker(world, inline=inline)
    # inline(1) = 5*1 + 5*2 + 7 = 22; inline(22) = 5*22 + 5*23 + 7 = 232
    assert inst["inline_twice"](1) == [232]
    assert not fibers.in_fiber_callback()


def test_deep_nesting_alternating_fibers_and_greenlets(world: World) -> None:
    wat = """(module (import "host" "h" (func $h (param i32) (result i32)))
      (func (export "f") (param i32) (result i32) (call $h (local.get 0))))"""
    depth = 30
    chain: list[Instance] = []

    def make(level: int, may_block: bool) -> Callable[[int], int]:
        def h(x: int) -> int:
            if level < depth // 2:  # the upper half blocks, on the task's greenlet
                x = stacks.suspend(x)
            assert fibers.in_fiber_callback() == (level >= depth // 2 and not may_block
                                                  or level > depth // 2)
            return x if level == depth - 1 else chain[level + 1]["f"](x + 1)[0]
        return h

    for level in range(depth):
        # the lower half alternates: inline handlers on fibers, blocking ones
        # driven from them (so on a fiber too, and not allowed to block)
        may_block = level < depth // 2 or level % 2 == 0
        chain.append(world.instance(wat, {"h": (functype([I32], [I32]), make(level, may_block),
                                               may_block)}))
    tasks = [stacks.Continuation(lambda _, i=i: chain[0]["f"](i * 1000), str(i)) for i in range(3)]
    assert run_tasks(tasks, 5) == {str(i): [i * 1000 + depth - 1] for i in range(3)}
    assert live_calls() == 0


def test_deep_nesting_through_blocking_handlers_only(world: World) -> None:
    wat = """(module (import "host" "h" (func $h (param i32) (result i32)))
      (func (export "f") (param i32) (result i32) (call $h (local.get 0))))"""
    depth = 30
    chain: list[Instance] = []

    def make(level: int) -> Callable[[int], int]:
        def h(x: int) -> int:
            x = stacks.suspend(x)
            return x if level == depth - 1 else chain[level + 1]["f"](x + 1)[0]
        return h

    for level in range(depth):
        chain.append(world.instance(wat, {"h": (functype([I32], [I32]), make(level), True)}))
    tasks = [stacks.Continuation(lambda _, i=i: chain[0]["f"](i * 1000), str(i)) for i in range(3)]
    assert run_tasks(tasks, 3) == {str(i): [i * 1000 + depth - 1] for i in range(3)}


# -- (6) memories -----------------------------------------------------------------


MEMORY = """
(module
  (memory (export "memory") 1 4)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "store") (param i32 i32) (i32.store8 (local.get 0) (local.get 1))))
"""


def test_wasm_memory_reads_and_writes_what_wasm_sees(world: World) -> None:
    inst = world.instance(MEMORY, {})
    mem = inst.memory()
    assert mem.ptr_type == "i32"
    assert len(mem) == 65536
    mem.write(100, b"hello")
    assert mem.read(100, 5) == b"hello"
    assert inst["load"](101) == [ord("e")]
    inst["store"](65535, 0xAB)
    assert mem.read(65535, 1) == b"\xab"
    mem.write(0, bytearray(b"ab"))
    mem.write(2, memoryview(b"cd"))
    mem.write(4, memoryview(bytes([1, 0, 0, 0, 2, 0, 0, 0])).cast("I"))
    assert mem.read(0, 12) == b"abcd\x01\0\0\0\x02\0\0\0"
    assert mem.read(65536, 0) == b""
    mem.write(65536, b"")


@pytest.mark.parametrize("ptr, n", [(65536, 1), (65530, 7), (-1, 1), (0, -1), (2**64, 1),
                                    (0, 65537)])
def test_wasm_memory_traps_out_of_bounds(world: World, ptr: int, n: int) -> None:
    mem = world.instance(MEMORY, {}).memory()
    with pytest.raises(Trap, match="^out of bounds memory access$"):
        mem.read(ptr, n)
    if n >= 0:
        with pytest.raises(Trap, match="^out of bounds memory access$"):
            mem.write(ptr, bytes(n))


def test_wasm_memory_copy_from_moves_bytes_between_memories(world: World) -> None:
    src, dst = world.instance(MEMORY, {}).memory(), world.instance(MEMORY, {}).memory()
    src.write(10, b"abcdef")
    dst.copy_from(65530, src, 10, 6)
    assert dst.read(65530, 6) == b"abcdef"
    src.copy_from(12, src, 10, 4)  # overlapping, within one memory: as if through a buffer
    assert src.read(10, 6) == b"ababcd"
    dst.copy_from(65536, src, 65536, 0)
    with pytest.raises(Trap, match="^out of bounds memory access$"):
        dst.copy_from(65531, src, 0, 6)  # the destination does not hold it
    with pytest.raises(Trap, match="^out of bounds memory access$"):
        dst.copy_from(0, src, 65531, 6)  # nor the source
    assert dst.read(0, 6) == bytes(6)


def test_wasm_memory_follows_growth(world: World) -> None:
    inst = world.instance(MEMORY, {})
    mem = inst.memory()
    with pytest.raises(Trap):
        mem.write(65536, b"x")
    assert inst["grow"](1) == [1]  # grown by wasm
    assert len(mem) == 2 * 65536
    mem.write(65536 + 10, b"x")
    assert inst["load"](65536 + 10) == [ord("x")]
    assert mem.grow(1) == 2  # grown by the host
    assert len(mem) == 3 * 65536
    assert mem.grow(5) == -1  # over the maximum of 4 pages
    assert mem.grow(-1) == -1
    assert mem.read(3 * 65536 - 1, 1) == b"\0"


def test_wasm_memory_bounds_stay_exact_after_in_bounds_accesses(world: World) -> None:
    # WasmMemory skips the size query for ranges inside a size it has seen
    # (memories never shrink); the edge must still trap, and growth by wasm
    # that the host never asked about must still be seen.
    inst = world.instance(MEMORY, {})
    mem = inst.memory()
    mem.write(65535, b"y")
    with pytest.raises(Trap, match="^out of bounds memory access$"):
        mem.read(65535, 2)
    assert inst["grow"](1) == [1]  # grown by wasm, no len() since
    assert mem.read(65535, 2) == b"y\0"
    mem.copy_from(2 * 65536 - 1, mem, 65535, 1)
    assert inst["load"](2 * 65536 - 1) == [ord("y")]
    with pytest.raises(Trap, match="^out of bounds memory access$"):
        mem.copy_from(2 * 65536 - 1, mem, 0, 2)


def test_wasm_memory64(world: World) -> None:
    inst = world.instance('(module (memory (export "memory") i64 1))', {})
    mem = inst.memory()
    assert mem.ptr_type == "i64"
    mem.write(8, b"\x01")
    assert mem.read(8, 1) == b"\x01"


# -- (7) many suspended calls ---------------------------------------------------


def test_a_thousand_suspended_calls_all_resume_and_are_freed(world: World) -> None:
    inst = blocker(world)
    sum_blocks = inst["sum_blocks"]
    tasks = [stacks.Continuation(lambda _, i=i: fibers.call(sum_blocks, (i, 2)), str(i))
             for i in range(1000)]
    requests = {}
    for task in tasks:
        done, requests[task] = task.resume(None)
        assert not done
    assert live_calls() == 1000  # all suspended at once
    rng = random.Random(11)
    results = {}
    while requests:
        task = rng.choice(list(requests))
        done, out = task.resume(requests.pop(task)[1])  # block(x) returns x
        if done:
            results[task.name] = out
        else:
            requests[task] = out
    assert results == {str(i): [2 * i + 1] for i in range(1000)}
    assert live_calls() == 0
    assert inst["boom"](0) == [7]


def test_killed_suspended_calls_are_unwound_and_freed(world: World) -> None:
    # GreenletExit thrown into a suspended task (how greenlet tears one down)
    # reaches the blocked handler; the wasm must still unwind and be freed.
    # (Dropping the last reference would not do it: a suspended continuation
    # is referenced from its own frames, and greenlet never collects such
    # cycles.)
    inst = blocker(world)
    finished: list[str] = []

    def body(_: Any) -> None:
        try:
            inst["sum_blocks"](0, 3)
        finally:
            finished.append("unwound")

    tasks = [stacks.Continuation(body, str(i)) for i in range(100)]
    for task in tasks:
        task.resume(None)
    assert live_calls() == 100
    for task in tasks:
        task._greenlet.throw()  # GreenletExit
    assert finished == ["unwound"] * 100
    assert live_calls() == 0
    assert inst["boom"](0) == [7]


# -- (7b) a blocking import's fast path, answered on the fiber ------------------------


def fast_blocker(world: World, on_fiber: Callable[[int], Any],
                 block: Callable[[int], Any] | None = None) -> Instance:
    """BLOCKER whose ``block`` import tries ``on_fiber`` first."""
    store = wasmtime.Store(world.engine)
    linker = wasmtime.Linker(world.engine)
    fibers.define_import(linker, "host", "block", functype([I32], [I32]),
                         block or (lambda x: stacks.suspend(("block", x))), may_block=True,
                         store=store, on_fiber=on_fiber)
    fibers.define_import(linker, "host", "inline", functype([I32], [I32]), lambda x: x + 1,
                         may_block=False, store=store)
    module = wasmtime.Module(world.engine, BLOCKER)
    return Instance(store, fibers.instantiate(linker, store, module))


def test_a_fast_path_answers_on_the_fiber_without_suspending(world: World) -> None:
    seen = []

    def on_fiber(x: int) -> Any:
        seen.append((x, fibers.in_fiber_callback()))
        return fibers.WOULD_BLOCK if x % 2 else 10 * x  # odd ones block

    inst = fast_blocker(world, on_fiber)
    suspensions = fibers.trace.counts["suspensions"]
    task = stacks.Continuation(lambda _: fibers.call(inst["sum_blocks"], (0, 6)), "t")
    results = run_tasks([task], 0, reply_doubled)
    assert results == {"t": [10 * (0 + 2 + 4) + 2 * (1 + 3 + 5)]}
    assert seen == [(x, True) for x in range(6)]  # tried on the fiber every time
    assert fibers.trace.counts["suspensions"] - suspensions == 3  # only the odd ones blocked
    assert not fibers.in_fiber_callback()
    assert live_calls() == 0


def test_a_fast_path_may_not_switch_stacks(world: World) -> None:
    inst = fast_blocker(world, lambda x: stacks.suspend(x))
    task = stacks.Continuation(lambda _: fibers.call(inst["sum_blocks"], (0, 1)), "t")
    with pytest.raises(fibers.FiberSwitchError):
        task.resume(None)
    assert stacks.current() is None
    assert live_calls() == 0


def test_a_fast_path_exception_traps_like_the_handlers(world: World) -> None:
    def on_fiber(x: int) -> Any:
        raise Trap("no luck")

    inst = fast_blocker(world, on_fiber)
    task = stacks.Continuation(lambda _: fibers.call(inst["sum_blocks"], (0, 1)), "t")
    with pytest.raises(Trap, match="no luck"):
        task.resume(None)
    assert live_calls() == 0


def test_a_fast_path_is_for_blocking_imports_only(world: World) -> None:
    linker = wasmtime.Linker(world.engine)
    with pytest.raises(ValueError, match="on_fiber"):
        fibers.define_import(linker, "host", "x", functype([], []), lambda: None,
                             may_block=False, on_fiber=lambda: None)


# -- (8) blocking on a fiber is refused, not fatal ---------------------------------


def test_suspending_inside_a_non_blocking_import_raises_instead_of_crashing(world: World) -> None:
    inst = blocker(world, inline=lambda x: stacks.suspend(x))
    task = stacks.Continuation(lambda _: inst["inline_twice"](1), "t")
    with pytest.raises(fibers.FiberSwitchError, match="may_block=False") as info:
        task.resume(None)
    assert isinstance(info.value, stacks.StackError)
    assert stacks.current() is None
    assert live_calls() == 0


def test_fibers_suspend_and_check_can_block_refuse_on_a_fiber(world: World) -> None:
    inst = blocker(world, inline=lambda x: fibers.suspend(x))
    task = stacks.Continuation(lambda _: inst["inline_twice"](1), "t")
    with pytest.raises(fibers.FiberSwitchError):
        task.resume(None)
    fibers.check_can_block()  # fine on a greenlet


def test_a_blocking_import_reached_from_a_non_blocking_one_is_refused(world: World) -> None:
    callee = blocker(world)  # its block() suspends

    def inline(x: int) -> int:
        return fibers.call(callee["sum_blocks"], (x, 1))[0]

    inst = blocker(world, inline=inline)
    task = stacks.Continuation(lambda _: inst["inline_twice"](1), "t")
    with pytest.raises(fibers.FiberSwitchError):
        task.resume(None)
    assert live_calls() == 0
    # and the callee's store is still fine afterwards
    ok = stacks.Continuation(lambda _: fibers.call(callee["sum_blocks"], (3, 1)), "ok")
    assert run_tasks([ok], 0, reply_doubled) == {"ok": [6]}


# -- engines and linking ---------------------------------------------------------


def test_make_engine_checks_the_stack_split() -> None:
    with pytest.raises(ValueError, match="max_wasm_stack"):
        fibers.make_engine(64 * 1024, max_wasm_stack=64 * 1024)
    fibers.make_engine(128 * 1024, max_wasm_stack=64 * 1024)


def test_reference_types_are_refused_at_definition(world: World) -> None:
    linker = wasmtime.Linker(world.engine)
    with pytest.raises(TypeError, match="unsupported core type"):
        fibers.define_import(linker, "host", "r", functype([wasmtime.ValType.externref()], []),
                             lambda r: None, may_block=False)


def test_a_start_function_may_block(world: World) -> None:
    wat = """(module (import "host" "block" (func $b (param i32) (result i32)))
      (global $g (export "g") (mut i32) (i32.const 0))
      (func $start (global.set $g (call $b (i32.const 4))))
      (start $start))"""
    store = wasmtime.Store(world.engine)
    linker = wasmtime.Linker(world.engine)
    fibers.define_import(linker, "host", "block", functype([I32], [I32]),
                         lambda x: stacks.suspend(x), may_block=True)
    module = wasmtime.Module(world.engine, wat)
    task = stacks.Continuation(lambda _: fibers.instantiate(linker, store, module), "t")
    assert task.resume(None) == (False, 4)
    done, instance = task.resume(40)
    assert done
    assert instance.exports(store)["g"].value(store) == 40


def test_another_wasmtime_version_is_refused_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    capi._check_version()  # the installed one is fine
    monkeypatch.setattr(capi.metadata, "version", lambda name: "51.0.0")
    with pytest.raises(ImportError, match=r"wasmtime==50\.0\.1.*found 51\.0\.0"):
        capi._check_version()


def test_instantiation_failures(world: World) -> None:
    store = wasmtime.Store(world.engine)
    linker = wasmtime.Linker(world.engine)
    missing = wasmtime.Module(world.engine, '(module (import "host" "nope" (func)))')
    with pytest.raises(wasmtime.WasmtimeError, match="unknown import"):
        fibers.instantiate(linker, store, missing)
    trapping = wasmtime.Module(world.engine, "(module (func $s unreachable) (start $s))")
    with pytest.raises(Trap, match="unreachable"):
        fibers.instantiate(linker, store, trapping)
    assert live_calls() == 0


def test_handlers_are_forgotten_when_wasmtime_drops_them(world: World) -> None:
    before = set(fibers._imports)
    inst = blocker(world)
    mine = set(fibers._imports) - before
    assert len(mine) == 2
    assert inst["boom"](0) == [7]
    del inst
    gc.collect()  # the linker, store and instance go, and the handlers the store held
    assert not mine & set(fibers._imports)


def test_resuming_a_parked_task_from_a_non_blocking_import_is_refused(world: World) -> None:
    parked = stacks.Continuation(lambda _: stacks.suspend(), "parked")
    parked.resume(None)
    refused = []

    def inline(x: int) -> int:
        try:
            parked.resume(None)
        except fibers.FiberSwitchError as e:
            refused.append(str(e))
        return x

    inst = blocker(world, inline=inline)
    task = stacks.Continuation(lambda _: fibers.call(inst["inline_twice"], (1,)), "t")
    assert task.resume(None)[0] is True
    assert len(refused) == 2 and "may_block=True" in refused[0]
    assert parked.resume(None) == (True, None)   # still intact, resumable from a greenlet


@pytest.mark.parametrize("types, value", [(["i32"], 7), (["i64"], -1), (["f64"], 0.5),
                                          (["i32"], [True]), (["f32"], [2])])
def test_store_writes_what_pack_result_packs(types, value):
    import ctypes

    from stackswitch.wasm.core_values import CoreCodec

    codec = CoreCodec(types)
    buf = ctypes.create_string_buffer(codec.size)
    codec.store(ctypes.addressof(buf), value)
    assert buf.raw == codec.pack_result(value)


def test_store_refuses_what_pack_result_refuses():
    # struct would take an object with __index__; the general path does not, and a handler
    # returning one is a host bug either way (the fast path must not accept more).
    import ctypes
    import fractions

    from stackswitch.wasm.core_values import CoreCodec

    class Index:
        def __index__(self) -> int:
            return 7

    for types, value in ((["i32"], Index()), (["f64"], fractions.Fraction(1, 2))):
        codec = CoreCodec(types)
        buf = ctypes.create_string_buffer(codec.size)
        with pytest.raises(TypeError):
            codec.pack_result(value)
        with pytest.raises(TypeError):
            codec.store(ctypes.addressof(buf), value)


def test_the_fiber_limit_traps_before_a_plain_call_as_before_any_other(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    inst = world.instance(PLAIN, {"inline": (functype([I32], [I32]), lambda x: x, False)})
    monkeypatch.setattr(fibers, "_max_live", fibers.live_calls())
    with pytest.raises(Trap, match="out of fiber stacks"):
        inst["inline_twice"](1)


def test_deep_wasm_recursion_off_the_main_thread_traps_and_the_process_lives() -> None:
    # A plain call runs wasm on the calling thread's own stack, whose end wasmtime does
    # not know: from a thread with a small stack it must take a fiber (and trap there,
    # "call stack exhausted") instead. Run apart: the failure this guards against is a
    # segfault.
    import subprocess
    import sys

    script = r'''
import threading, wasmtime
from stackswitch.wasm import fibers
engine = fibers.make_engine()
module = wasmtime.Module(engine, """(module (import "h" "f" (func))
  (func $r (export "r") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
      (else (i32.add (call $r (i32.sub (local.get 0) (i32.const 1))) (i32.const 1))))))""")
store, linker = wasmtime.Store(engine), wasmtime.Linker(engine)
fibers.define_import(linker, "h", "f", wasmtime.FuncType([], []), lambda: None,
                     may_block=False, store=store)
r = fibers.export(store, fibers.instantiate(linker, store, module), "r")
def run():
    try:
        fibers.call(r, (10**6,))
    except Exception as e:
        print(str(e).splitlines()[0])
threading.stack_size(96 * 1024)
thread = threading.Thread(target=run)
thread.start()
thread.join()
print("alive")
'''
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=str(Path(__file__).resolve().parent.parent))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["wasm trap: call stack exhausted", "alive"]


MIXED = """
(module
  (import "host" "noop" (func $noop))
  (func (export "rotate") (param i32 i64 f32 f64) (result f64 i32 i64 f32)
    (local.get 3) (local.get 0) (local.get 1) (local.get 2))
  (func (export "more_results") (param i32) (result i64 i64 i64)
    (i64.extend_i32_u (local.get 0))
    (i64.const -1)
    (i64.extend_i32_s (local.get 0)))
  (func (export "nothing")))
"""

ROTATE_CASES = [
    (0, 0, 0.0, 0.0),
    (-1, -1, -0.0, -2.5),  # negative ints in the signed range are accepted, come back unsigned
    (2**32 - 1, 2**64 - 1, 1.5, float("inf")),
    (-(2**31), -(2**63), float("-inf"), 1e308),
    (7, 42, 3.25, float("nan")),
]


def test_a_plain_call_passes_every_type_as_a_call_on_a_fiber_does(world: World) -> None:
    """Plain calls (unchecked raw values) and fiber calls give the same results, traps
    and argument errors for the same function."""
    plain = world.instance(MIXED, {"noop": (functype([], []), lambda: None, False)})
    on_fiber = world.instance(MIXED, {"noop": (functype([], []), lambda: None, True)})
    assert plain["rotate"].state.plain and not plain["rotate"].state.blocking
    assert on_fiber["rotate"].state.blocking

    def outcome(func: fibers.WasmFunc, args: Any) -> Any:
        try:
            return [x if x == x else "nan" for x in func(*args)]
        except TypeError as e:
            return ("TypeError", str(e))

    for case in ROTATE_CASES:
        got = outcome(plain["rotate"], case)
        assert got == outcome(on_fiber["rotate"], case)
        assert got[1:3] == [case[0] % 2**32, case[1] % 2**64]
    for x in (0, 5, 2**31):
        assert plain["more_results"](x) == on_fiber["more_results"](x)
    assert plain["more_results"](5) == [5, 2**64 - 1, 5]
    assert plain["nothing"]() == [] == on_fiber["nothing"]()
    for bad in [(1, 2, 3.0), (1, 2, 3.0, 4.0, 5), (2**32, 0, 0.0, 0.0), ("x", 0, 0.0, 0.0),
                (0, 2**64, 0.0, 0.0), (0, 0, "f", 0.0)]:
        refused = outcome(plain["rotate"], bad)
        assert refused[0] == "TypeError"
        assert refused == outcome(on_fiber["rotate"], bad)
    with pytest.raises(TypeError):
        plain["nothing"](1)
    assert plain["rotate"](1, 2, 3.0, 4.0) == [4.0, 1, 2, 3.0]  # its buffers are still fine


NO_RESULT = """
(module
  (import "host" "f" (func $f))
  (func (export "g") (call $f)))
"""


@pytest.mark.parametrize("may_block", [False, True])
def test_an_import_with_no_results_may_return_none_or_an_empty_sequence_only(
        world: World, may_block: bool) -> None:
    # _on_sync_call skips CoreCodec.store for None and [] (its early exit, inline): the
    # same outcomes as the blocking path, which calls store for every result.
    for value in (None, [], ()):
        inst = world.instance(NO_RESULT, {"f": (functype([], []), lambda v=value: v, may_block)})
        task = stacks.Continuation(lambda _, i=inst: fibers.call(i["g"]), "t")
        assert task.resume(None) == (True, [])
    for value in (0, [1], 5.0):
        inst = world.instance(NO_RESULT, {"f": (functype([], []), lambda v=value: v, may_block)})
        task = stacks.Continuation(lambda _, i=inst: fibers.call(i["g"]), "t")
        with pytest.raises(TypeError, match="expected 0 core values"):
            task.resume(None)


def test_plain_calls_reuse_one_buffer_and_a_call_finding_it_taken_makes_its_own(
        world: World) -> None:
    inst = world.instance(PLAIN, {"inline": (functype([I32], [I32]), lambda x: x, False)})
    func = inst["boom"]
    assert func(0) == [7]
    kept = func._plain
    assert kept is not None
    with pytest.raises(TypeError, match="expected 1 core values"):
        func(0, 1)  # refused while packing: the buffer is given back
    with pytest.raises(Trap, match="unreachable"):
        func(1)
    assert func(0) == [7] and func._plain is kept
    func._plain = None  # as if a plain call of func were running
    assert func(0) == [7]
    assert func._plain is not None and func._plain is not kept

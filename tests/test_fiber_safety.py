"""What Python code on a wasmtime fiber may do without aborting the process.

A greenlet switch on a fiber kills the interpreter (``wasmtime-stacks.md`` §3);
the crash tests run in a subprocess.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stackswitch import stacks

ROOT = Path(__file__).resolve().parent.parent

DROP_ON_A_FIBER = r'''
import greenlet, wasmtime
import pytest

from stackswitch import stacks
from stackswitch.wasm import fibers
I32 = wasmtime.ValType.i32()
engine = fibers.make_engine()
store, linker = wasmtime.Store(engine), wasmtime.Linker(engine)
holder = {}
def block():
    try:
        greenlet.getcurrent().parent.switch("blocked")
    finally:
        print("unwound", flush=True)
    return 0
def drop():
    holder.clear()  # the suspended greenlet's last reference, dropped on a fiber
    return 1
fibers.define_import(linker, "host", "block", wasmtime.FuncType([], [I32]), block,
                     may_block=True, store=store)
fibers.define_import(linker, "host", "drop", wasmtime.FuncType([], [I32]), drop,
                     may_block=False, store=store)
module = wasmtime.Module(engine, """(module
  (import "host" "block" (func $b (result i32))) (import "host" "drop" (func $d (result i32)))
  (func (export "block") (result i32) call $b) (func (export "drop") (result i32) call $d))""")
instance = fibers.instantiate(linker, store, module)
block_export = fibers.export(store, instance, "block")
drop_export = fibers.export(store, instance, "drop")
g = greenlet.greenlet(lambda: fibers.call(block_export))
print(g.switch(), fibers.live_calls(), flush=True)
holder["g"] = g
del g
print(fibers.call(drop_export), fibers.live_calls(), flush=True)
print("released", stacks.release_dropped(), fibers.live_calls(), flush=True)
'''


def test_a_greenlet_dropped_on_a_fiber_is_killed_later_on_the_threads_own_stack() -> None:
    # A greenlet whose wasm call is suspended on a fiber, dropped for good by a
    # may_block=False handler: greenlet would kill it right there, with a switch on
    # the fiber (the process aborted). It is held until release_dropped runs on the
    # thread's own stack, where the kill unwinds its call and frees the fiber.
    done = subprocess.run([sys.executable, "-c", DROP_ON_A_FIBER], capture_output=True,
                          text=True, timeout=120, cwd=str(ROOT))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["blocked 1", "[1] 1", "unwound", "released 1 0"]


def test_release_dropped_does_nothing_where_switching_is_forbidden() -> None:
    token = stacks.forbid_switching(stacks.StackError, "on a fiber")
    try:
        assert stacks.release_dropped() == 0
    finally:
        stacks.restore_switching(token)


def test_held_greenlets_still_referred_to_are_kept() -> None:
    import greenlet

    def body() -> None:
        stacks.hold_current()
        greenlet.getcurrent().parent.switch()
        stacks.let_go_current()

    g = greenlet.greenlet(body)
    g.switch()
    assert stacks.release_dropped() == 0
    g.switch()
    assert g.dead
    assert g not in stacks._held


AT_THE_RECURSION_LIMIT = r'''
import sys, wasmtime
from stackswitch.wasm import fibers
kind = sys.argv[1]
I32 = wasmtime.ValType.i32()
engine = fibers.make_engine()
store, linker = wasmtime.Store(engine), wasmtime.Linker(engine)
def boom(*_):
    raise ValueError("boom")
options = {"sync": dict(may_block=False), "blocking": dict(may_block=True),
           "on_fiber": dict(may_block=True, on_fiber=boom)}[kind]
fibers.define_import(linker, "h", "f", wasmtime.FuncType([], [I32]), boom, store=store,
                     **options)
module = wasmtime.Module(engine, """(module (import "h" "f" (func $f (result i32)))
  (func (export "r") (result i32) call $f))""")
r = fibers.export(store, fibers.instantiate(linker, store, module), "r")
def at(depth, target):
    if depth < target:
        return at(depth + 1, target)
    try:
        return "returned %r" % (fibers.call(r),)
    except BaseException as e:
        return type(e).__name__
limit = sys.getrecursionlimit()
for target in range(limit - 60, limit):
    try:
        print(at(0, target), flush=True)
    except RecursionError:
        print("RecursionError", flush=True)
print(at(0, 0))  # away from the limit: the spare traps used are made again
print("alive", fibers.live_calls(), fibers._spares_left == fibers.SPARE_TRAPS)
'''


@pytest.mark.parametrize("kind", ["sync", "blocking", "on_fiber"])
def test_an_import_failing_at_the_recursion_limit_never_returns_and_never_crashes(
        kind: str) -> None:
    # Entered near the recursion limit, a callback's except path could not make its
    # trap: the exception escaped the ctypes callback, and wasmtime took garbage for
    # the trap pointer (the process aborted) or went on as if the import had returned.
    done = subprocess.run([sys.executable, "-c", AT_THE_RECURSION_LIMIT, kind],
                          capture_output=True, text=True, timeout=120, cwd=str(ROOT))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Exception ignored" not in done.stderr, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[-1] == "alive 0 True"
    assert not [line for line in lines if line.startswith("returned")]


# -- parked calls dropped unresumed ---------------------------------------------------


class Parker:
    """A store whose ``park`` import parks the call (``Park``) and whose ``drop`` import,
    plain, runs ``on_drop`` on the fiber."""

    WAT = """(module
      (import "h" "park" (func $p (result i32))) (import "h" "drop" (func $d (result i32)))
      (func (export "park") (result i32) call $p)
      (func (export "twice") (result i32) (i32.add (call $p) (call $p)))
      (func (export "drop") (result i32) call $d))"""

    def __init__(self) -> None:
        import wasmtime

        from stackswitch.wasm import fibers

        self.on_drop = lambda: None
        i32 = wasmtime.ValType.i32()
        engine = fibers.make_engine()
        store, linker = wasmtime.Store(engine), wasmtime.Linker(engine)

        def park() -> None:
            raise fibers.Park

        def drop() -> int:
            self.on_drop()
            return 0

        fibers.define_import(linker, "h", "park", wasmtime.FuncType([], [i32]), park,
                             may_block=True, store=store)
        fibers.define_import(linker, "h", "drop", wasmtime.FuncType([], [i32]), drop,
                             may_block=False, store=store)
        instance = fibers.instantiate(linker, store, wasmtime.Module(engine, self.WAT))
        self.exports = {name: fibers.export(store, instance, name)
                        for name in ("park", "twice", "drop")}

    def parked(self, name: str = "park") -> Any:
        from stackswitch.wasm import fibers

        return parked_by(lambda: fibers.call(self.exports[name]))


def parked_by(run: Any) -> Any:
    """The ParkedCall ``run()`` raises, with no frames (they would keep it alive)."""
    from stackswitch.wasm import fibers

    try:
        run()
    except fibers.ParkedCall as e:
        e.__traceback__ = None
        return e
    raise AssertionError("not parked")


def test_a_failed_parked_call_dropped_unresumed_gives_back_its_fiber_and_trap() -> None:
    # Before: the future (its fiber stack, and the trap fail() left in it) was never
    # deleted. wasmtime frees that trap with the call (measured: 200 calls failed with
    # 1 MiB messages and dropped kept 238 MiB of RSS; closed, 39 as without fail).
    from stackswitch.wasm import fibers

    parker = Parker()
    before = fibers.live_calls()
    parked = parker.parked()
    assert fibers.live_calls() == before + 1
    parked.fail(ValueError("never seen"))
    del parked
    assert fibers.live_calls() == before
    closed = parker.parked()
    closed.close()
    closed.close()  # once only
    assert fibers.live_calls() == before
    with pytest.raises(RuntimeError, match="already resumed or closed"):
        closed.resume()


def test_a_resumed_call_parked_again_belongs_to_the_new_parked_call() -> None:
    from stackswitch.wasm import fibers

    parker = Parker()
    before = fibers.live_calls()
    first = parker.parked("twice")
    first.answer(1)
    second = parked_by(first.resume)
    del first  # must not delete the call the second one holds
    assert fibers.live_calls() == before + 1
    second.answer(2)
    assert second.resume() == [3]
    assert fibers.live_calls() == before


def test_a_parked_call_dropped_while_wasm_runs_is_deleted_after_the_outermost_call() -> None:
    from stackswitch.wasm import fibers

    parker = Parker()
    before = fibers.live_calls()
    held = [parker.parked()]
    seen = []

    def drop() -> None:
        held.clear()  # on a fiber: deleting a call here is put off
        seen.append(fibers.live_calls())

    parker.on_drop = drop
    fibers.call(parker.exports["drop"])
    assert seen == [before + 2]  # the parked call, and this one
    assert fibers.live_calls() == before

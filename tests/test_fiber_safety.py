"""What Python code on a wasmtime fiber may do without aborting the process.

A greenlet switch on a fiber kills the interpreter (``wasmtime-stacks.md`` §3);
the crash tests run in a subprocess.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from stackswitch import stacks

ROOT = Path(__file__).resolve().parent.parent

DROP_ON_A_FIBER = r'''
import greenlet, wasmtime
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

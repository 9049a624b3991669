"""One async component, run on wasmtime's native component-model async and on stackswitch.

The component below (text parsed with ``load_component``) nests two
components:

* ``$Callee`` exports ``yield-once: async func()``, lifted with a callback:
  the entry returns YIELD (1); the callback, called with the NONE event,
  calls ``task.return`` and returns EXIT (0).
* ``$Caller`` imports it and exports ``run: async func(n: u32) -> u32``
  (stackful lift): n times it calls ``yield-once`` (lowered async), joins the
  subtask to a waitable set, waits in ``waitable-set.wait`` for its RETURNED
  event, drops it; then ``task.return`` n.

That is the ``stackful-caller`` guest. The ``callback-caller`` guest
(``CALLBACK_CALLER_COMPONENT``) has the same callee and a caller whose
``run`` is callback-lifted too: its entry starts the first ``yield-once``
call, joins the subtask to a set and returns WAIT on the set; the callback,
on each SUBTASK RETURNED event, drops the subtask and starts the next call,
or after n calls ``task.return``s n and returns EXIT. No task of that guest
needs a stack of its own, which is where the ``callback`` strategy should
do no worse than ``stackful`` (issue 15).

(a) native: wasmtime's own component-model async through its C API (the
    wasmtime wheel's library, functions declared here with ctypes):
    ``wasmtime_component_linker_instantiate_async`` and
    ``wasmtime_component_func_call_async``, each future polled until done;
(b) stackswitch: ``Linker().instantiate(binary).func("run").call(n)``.

Prints µs per iteration (one async call + wait + drop) for both, best of
``--repeat``, and the ratio, per guest (``--guest``, default both).
``--cpu`` times with ``time.process_time`` (this process's CPU time) instead
of wall time: on a shared, loaded machine it moves far less with what the
other processes do. Run:
``python benchmarks/native_vs_stackswitch.py [--n N] [--repeat R] [--cpu]
[--guest stackful-caller|callback-caller|both]``.
"""

from __future__ import annotations

import argparse
import ctypes
import sys
import time
from pathlib import Path

import wasmtime
import wasmtime._ffi as ffi
from wasmtime.component import Component
from wasmtime.component import Instance as NativeInstance
from wasmtime.component import Linker as NativeLinker

# Measure this checkout, installed or not; --installed measures whatever ``import
# stackswitch`` finds instead (e.g. the compiled modules of ``pip install .``). Read
# before the imports below, so before argparse runs.
if "--installed" not in sys.argv:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import stackswitch  # noqa: E402
from stackswitch.compiled import describe as describe_build  # noqa: E402
from stackswitch.component.linker import Linker
from stackswitch.component.wasm_tools import load_component

COMPONENT = """
(component
  (component $Callee
    (core module $Mem (memory (export "mem") 1))
    (core instance $mem (instantiate $Mem))
    (core func $task.return (canon task.return))
    (core module $C
      (import "" "task.return" (func $task.return))
      (func (export "entry") (result i32)
        (i32.const 1 (; YIELD ;)))
      (func (export "cb") (param $event i32) (param $p1 i32) (param $p2 i32) (result i32)
        (if (local.get $event) (then unreachable (; only NONE expected ;)))
        (call $task.return)
        (i32.const 0 (; EXIT ;))))
    (core instance $c (instantiate $C (with "" (instance
      (export "task.return" (func $task.return))))))
    (func (export "yield-once") async
      (canon lift (core func $c "entry") async (callback (core func $c "cb"))))
  )

  (component $Caller
    (import "callee" (instance $callee (export "yield-once" (func async))))
    (core module $Mem (memory (export "mem") 1))
    (core instance $mem (instantiate $Mem))
    (alias core export $mem "mem" (core memory $memory))
    (core func $yield-once (canon lower (func $callee "yield-once") async (memory $memory)))
    (core func $task.return (canon task.return (result u32)))
    (core func $waitable-set.new (canon waitable-set.new))
    (core func $waitable-set.wait (canon waitable-set.wait (memory $memory)))
    (core func $waitable-set.drop (canon waitable-set.drop))
    (core func $waitable.join (canon waitable.join))
    (core func $subtask.drop (canon subtask.drop))
    (core module $R
      (import "" "mem" (memory 1))
      (import "" "yield-once" (func $yield-once (result i32)))
      (import "" "task.return" (func $task.return (param i32)))
      (import "" "waitable-set.new" (func $waitable-set.new (result i32)))
      (import "" "waitable-set.wait" (func $waitable-set.wait (param i32 i32) (result i32)))
      (import "" "waitable-set.drop" (func $waitable-set.drop (param i32)))
      (import "" "waitable.join" (func $waitable.join (param i32 i32)))
      (import "" "subtask.drop" (func $subtask.drop (param i32)))
      ;; memory: 0x0 the event payload written by waitable-set.wait
      (func (export "run") (param $n i32) (local $i i32) (local $ws i32) (local $st i32)
        (local $sub i32)
        (local.set $ws (call $waitable-set.new))
        (block $done
          (loop $again
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $st (call $yield-once))
            (if (i32.ne (i32.and (local.get $st) (i32.const 0xf)) (i32.const 1 (; STARTED ;)))
              (then unreachable))
            (local.set $sub (i32.shr_u (local.get $st) (i32.const 4)))
            (call $waitable.join (local.get $sub) (local.get $ws))
            (if (i32.ne (call $waitable-set.wait (local.get $ws) (i32.const 0)) (i32.const 1 (; SUBTASK ;)))
              (then unreachable))
            (if (i32.ne (i32.load (i32.const 0)) (local.get $sub)) (then unreachable))
            (if (i32.ne (i32.load (i32.const 4)) (i32.const 2 (; RETURNED ;))) (then unreachable))
            (call $subtask.drop (local.get $sub))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $again)))
        (call $waitable-set.drop (local.get $ws))
        (call $task.return (local.get $n)))
    )
    (core instance $r (instantiate $R (with "" (instance
      (export "mem" (memory $memory))
      (export "yield-once" (func $yield-once))
      (export "task.return" (func $task.return))
      (export "waitable-set.new" (func $waitable-set.new))
      (export "waitable-set.wait" (func $waitable-set.wait))
      (export "waitable-set.drop" (func $waitable-set.drop))
      (export "waitable.join" (func $waitable.join))
      (export "subtask.drop" (func $subtask.drop))))))
    (func (export "run") async (param "n" u32) (result u32)
      (canon lift (core func $r "run") async))
  )

  (instance $callee (instantiate $Callee))
  (instance $caller (instantiate $Caller (with "callee" (instance $callee))))
  (export "run" (func $caller "run"))
)
"""

_CALLBACK_CALLER = """
  (component $Caller
    (import "callee" (instance $callee (export "yield-once" (func async))))
    (core module $Mem (memory (export "mem") 1))
    (core instance $mem (instantiate $Mem))
    (alias core export $mem "mem" (core memory $memory))
    (core func $yield-once (canon lower (func $callee "yield-once") async (memory $memory)))
    (core func $task.return (canon task.return (result u32)))
    (core func $waitable-set.new (canon waitable-set.new))
    (core func $waitable-set.drop (canon waitable-set.drop))
    (core func $waitable.join (canon waitable.join))
    (core func $subtask.drop (canon subtask.drop))
    (core module $R
      (import "" "yield-once" (func $yield-once (result i32)))
      (import "" "task.return" (func $task.return (param i32)))
      (import "" "waitable-set.new" (func $waitable-set.new (result i32)))
      (import "" "waitable-set.drop" (func $waitable-set.drop (param i32)))
      (import "" "waitable.join" (func $waitable.join (param i32 i32)))
      (import "" "subtask.drop" (func $subtask.drop (param i32)))
      (global $n (mut i32) (i32.const 0))
      (global $done (mut i32) (i32.const 0))
      (global $ws (mut i32) (i32.const 0))
      ;; the next step, as a callback code: start call number $done + 1 and
      ;; WAIT on the set, or, after n calls, return n and EXIT
      (func $step (result i32) (local $st i32)
        (if (i32.ge_u (global.get $done) (global.get $n)) (then
          (call $waitable-set.drop (global.get $ws))
          (call $task.return (global.get $n))
          (return (i32.const 0 (; EXIT ;)))))
        (local.set $st (call $yield-once))
        (if (i32.ne (i32.and (local.get $st) (i32.const 0xf)) (i32.const 1 (; STARTED ;)))
          (then unreachable))
        (call $waitable.join (i32.shr_u (local.get $st) (i32.const 4)) (global.get $ws))
        (i32.or (i32.const 2 (; WAIT ;)) (i32.shl (global.get $ws) (i32.const 4))))
      (func (export "run") (param $n i32) (result i32)
        (global.set $n (local.get $n))
        (global.set $done (i32.const 0))
        (global.set $ws (call $waitable-set.new))
        (call $step))
      (func (export "cb") (param $event i32) (param $sub i32) (param $state i32) (result i32)
        (if (i32.ne (local.get $event) (i32.const 1 (; SUBTASK ;))) (then unreachable))
        (if (i32.ne (local.get $state) (i32.const 2 (; RETURNED ;))) (then unreachable))
        (call $subtask.drop (local.get $sub))
        (global.set $done (i32.add (global.get $done) (i32.const 1)))
        (call $step))
    )
    (core instance $r (instantiate $R (with "" (instance
      (export "yield-once" (func $yield-once))
      (export "task.return" (func $task.return))
      (export "waitable-set.new" (func $waitable-set.new))
      (export "waitable-set.drop" (func $waitable-set.drop))
      (export "waitable.join" (func $waitable.join))
      (export "subtask.drop" (func $subtask.drop))))))
    (func (export "run") async (param "n" u32) (result u32)
      (canon lift (core func $r "run") async (callback (core func $r "cb"))))
  )
"""

CALLBACK_CALLER_COMPONENT = (COMPONENT[:COMPONENT.index("  (component $Caller")]
                             + _CALLBACK_CALLER.lstrip("\n")
                             + COMPONENT[COMPONENT.index("  (instance $callee"):])
"""The ``callback-caller`` guest: the same callee, the caller callback-lifted too."""

GUESTS = {"stackful-caller": COMPONENT, "callback-caller": CALLBACK_CALLER_COMPONENT}
"""The guests by ``--guest`` name: the caller's ``run`` lifted stackful, or with a callback."""

# Declarations of the C API functions the wasmtime wheel's bindings lack
# (signatures from wasmtime's crates/c-api/include/wasmtime/component/*.h
# and config.h).
_lib = ffi.dll
_ERR_PP = ctypes.POINTER(ctypes.POINTER(ffi.wasmtime_error_t))
_FUT_P = ctypes.POINTER(ffi.wasmtime_call_future_t)

for _name in ("wasmtime_config_wasm_component_model_async_set",
              "wasmtime_config_wasm_component_model_async_stackful_set",
              "wasmtime_config_wasm_component_model_more_async_builtins_set"):
    getattr(_lib, _name).restype = None
    getattr(_lib, _name).argtypes = [ctypes.POINTER(ffi.wasm_config_t), ctypes.c_bool]

_instantiate_async = _lib.wasmtime_component_linker_instantiate_async
_instantiate_async.restype = _FUT_P
_instantiate_async.argtypes = [ctypes.POINTER(ffi.wasmtime_component_linker_t),
                               ctypes.POINTER(ffi.wasmtime_context_t),
                               ctypes.POINTER(ffi.wasmtime_component_t),
                               ctypes.POINTER(ffi.wasmtime_component_instance_t), _ERR_PP]

_call_async = _lib.wasmtime_component_func_call_async
_call_async.restype = _FUT_P
_call_async.argtypes = [ctypes.POINTER(ffi.wasmtime_component_func_t),
                        ctypes.POINTER(ffi.wasmtime_context_t),
                        ctypes.POINTER(ffi.wasmtime_component_val_t), ctypes.c_size_t,
                        ctypes.POINTER(ffi.wasmtime_component_val_t), ctypes.c_size_t, _ERR_PP]


def _finish(future: ctypes._Pointer, error: ctypes._Pointer, what: str) -> int:
    """Poll ``future`` until done; return the number of polls; raise its error."""
    if not future:
        raise wasmtime.WasmtimeError._from_ptr(error) if error else RuntimeError(f"{what}: no future")
    polls = 1
    while not ffi.wasmtime_call_future_poll(future):
        polls += 1
    ffi.wasmtime_call_future_delete(future)
    if error:
        raise wasmtime.WasmtimeError._from_ptr(error)
    return polls


class Native:
    """The component on wasmtime's own component-model async."""

    def __init__(self, binary: bytes) -> None:
        config = wasmtime.Config()
        config.wasm_component_model = True
        for setter in ("wasmtime_config_wasm_component_model_async_set",
                       "wasmtime_config_wasm_component_model_async_stackful_set",
                       "wasmtime_config_wasm_component_model_more_async_builtins_set"):
            getattr(_lib, setter)(config.ptr(), True)
        self.engine = wasmtime.Engine(config)
        self.store = wasmtime.Store(self.engine)
        component = Component(self.engine, binary)
        linker = NativeLinker(self.engine)
        raw = ffi.wasmtime_component_instance_t()
        error = ctypes.POINTER(ffi.wasmtime_error_t)()
        future = _instantiate_async(linker.ptr(), self.store._context(), component.ptr(),
                                    ctypes.byref(raw), ctypes.byref(error))
        _finish(future, error, "wasmtime_component_linker_instantiate_async")
        self._keep = (component, linker)
        func = NativeInstance._from_raw(raw).get_func(self.store, "run")
        assert func is not None, "no export run"
        self.func = func

    def run(self, n: int) -> tuple[int, int]:
        """Call ``run(n)``; returns (its result, polls of the call future)."""
        arg = ffi.wasmtime_component_val_t()
        arg.kind = ffi.WASMTIME_COMPONENT_U32
        arg.of.u32 = n
        result = ffi.wasmtime_component_val_t()
        error = ctypes.POINTER(ffi.wasmtime_error_t)()
        future = _call_async(ctypes.byref(self.func._func), self.store._context(),
                             ctypes.byref(arg), 1, ctypes.byref(result), 1, ctypes.byref(error))
        polls = _finish(future, error, "wasmtime_component_func_call_async")
        assert result.kind == ffi.WASMTIME_COMPONENT_U32.value, result.kind
        return result.of.u32, polls


clock = time.perf_counter
"""What the runs are timed with (``--cpu``: ``time.process_time``)."""


def native_us(native: Native, n: int) -> float:
    start = clock()
    value, _ = native.run(n)
    elapsed = clock() - start
    assert value == n, value
    return elapsed / n * 1e6


def stackswitch_us(binary: bytes, n: int, strategy: str = "stackful") -> float:
    run = Linker(strategy=strategy).instantiate(binary).func("run")
    start = clock()
    result = run.call(n)
    elapsed = clock() - start
    assert result == n, result
    return elapsed / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="async calls per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs; best is printed")
    parser.add_argument("--cpu", action="store_true",
                        help="time with process CPU time instead of wall time")
    parser.add_argument("--guest", choices=[*GUESTS, "both"], default="both",
                        help="which caller: stackful-lifted, callback-lifted, or both")
    parser.add_argument("--installed", action="store_true",
                        help="measure the installed stackswitch (e.g. pip install ., compiled "
                             "where a C compiler works) instead of this checkout")
    args = parser.parse_args()
    global clock
    if args.cpu:
        clock = time.process_time

    # Which copy is measured: pure Python, or compiled (pip install ., build_compiled.py).
    print(f"stackswitch from {Path(stackswitch.__file__).parent}: {describe_build()}")
    for guest in GUESTS if args.guest == "both" else [args.guest]:
        print(f"guest {guest}:")
        measure(load_component(GUESTS[guest]), args.n, args.repeat)


def measure(binary: bytes, n: int, repeat: int) -> None:
    """Print native and stackswitch (both strategies) µs per iteration and the ratios."""
    native: float | None = None
    try:
        instance = Native(binary)
        _, polls = instance.run(10)
        print(f"native: run(10) took {polls} polls of the call future")
        native = min(native_us(instance, n) for _ in range(repeat))
        print(f"(a) wasmtime native async (C API):  {native:7.2f} µs per iteration")
    except Exception as exc:  # report and still measure stackswitch
        print(f"(a) wasmtime native async FAILED: {type(exc).__name__}: {exc}")
    ours: dict[str, float] = {}
    for strategy in ("stackful", "callback"):
        ours[strategy] = min(stackswitch_us(binary, n, strategy) for _ in range(repeat))
        print(f"(b) stackswitch, {strategy:8}:          {ours[strategy]:7.2f} µs per iteration")
        if native is not None:
            print(f"    ratio stackswitch / native: {ours[strategy] / native:.1f}x (goal <= 10x)")
    print(f"    callback / stackful: {ours['callback'] / ours['stackful']:.2f}")


if __name__ == "__main__":
    main()

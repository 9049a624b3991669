"""The two strategies run the same guests with the same observable results.

Differential: every script in tests/wast/ runs under ``stackful`` and under
``callback``, and what the guests did (task starts and returns, callback
events, traps, in order) must be identical. Then the callback strategy's own
promises: a callback-lifted task holds no stack while it waits, and a
callback that blocks halfway through still works (its call is parked on its
fiber); under both strategies for callback-lifted wasm.
"""

from pathlib import Path

import pytest

from callback_abi.callback_strategy import CALLBACK
from stackswitch import trace
from stackswitch.canon import threads
from stackswitch.canon.stackless_threads import StacklessThread
from stackswitch.canon.store import Store
from stackswitch.canon.strategy import named
from stackswitch.canon.types import FuncType, U32Type
from stackswitch.cli import main
from stackswitch.cli.wast import run_wast_file
from stackswitch.component.linker import Linker
from stackswitch.component.wasm_tools import load_component
from stackswitch.embed import host
from stackswitch.embed.guest import PyComponent
from stackswitch.errors import LinkError, Trap
from stackswitch.wasm import fibers

WAST_DIR = Path(__file__).parent / "wast"
SCRIPTS = sorted(WAST_DIR.glob("*.wast"))
OBSERVED = ("task.start", "task.return", "task.cancel", "callback.event", "trap")


def observe(script: Path, strategy: str, policy: str = "fifo") -> tuple[list[str], list[str]]:
    """What the script's commands gave (its failure lines) and what the guests did."""
    with trace.Recorder(OBSERVED) as rec:
        result = run_wast_file(script, out=lambda line: None, policy=policy, strategy=strategy)
    assert result.passed
    return result.failures, [str(e) for e in rec.events]


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_both_strategies_do_the_same(script):
    stackful = observe(script, "stackful")
    assert stackful[0] == []
    assert observe(script, "callback") == stackful


@pytest.mark.parametrize("seed", [1, 7])
def test_both_strategies_do_the_same_under_a_random_policy(seed):
    # The same seed makes the same choices under both strategies, so the guests
    # do the same things in the same order; the scripts assert only what the
    # spec guarantees, so they pass under any schedule.
    for script in SCRIPTS:
        policy = f"random:{seed}"
        stackful = observe(script, "stackful", policy)
        assert stackful[0] == []
        assert observe(script, "callback", policy) == stackful


def test_the_wast_command_takes_a_strategy(capsys):
    assert main(["wast", "--strategy", "callback", str(WAST_DIR / "callback.wast")]) == 0
    assert "0 failed" in capsys.readouterr().out


def test_an_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="unknown strategy 'fibers'"):
        Linker(strategy="fibers")
    with pytest.raises(ValueError, match="differs from the store's"):
        Linker(Store(), strategy="callback")
    assert Linker(strategy="callback").store.strategy is CALLBACK
    assert named(CALLBACK) is CALLBACK


# -- no stack per task ----------------------------------------------------------------------

COUNTER = """
(component
  (core func $task.return (canon task.return (result u32)))
  (core func $context.get (canon context.get i32 0))
  (core func $context.set (canon context.set i32 0))
  (core module $M
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "context.get" (func $get (result i32)))
    (import "" "context.set" (func $set (param i32)))
    (func (export "count") (param $n i32) (result i32)
      (call $set (local.get $n))
      (i32.const 1 (; YIELD ;)))
    (func (export "count-cb") (param i32 i32 i32) (result i32)
      (if (i32.eqz (call $get))
        (then (call $task.return (i32.const 7)) (return (i32.const 0 (; EXIT ;)))))
      (call $set (i32.sub (call $get) (i32.const 1)))
      (i32.const 1 (; YIELD ;))))
  (core instance $m (instantiate $M (with "" (instance
    (export "task.return" (func $task.return))
    (export "context.get" (func $context.get))
    (export "context.set" (func $context.set))))))
  (func (export "count") async (param "n" u32) (result u32)
    (canon lift (core func $m "count") async (callback (core func $m "count-cb"))))
)
"""


@pytest.mark.parametrize("strategy", ["stackful", "callback"])
def test_suspended_callback_tasks_hold_no_stack(strategy):
    # Under both strategies: a callback-lifted wasm task needs no stack of its own.
    linker = Linker(strategy=strategy)
    count = linker.instantiate(load_component(COUNTER)).func("count")
    store = linker.store
    switches = trace.counts["switches"]
    calls = [store.invoke(count.func_inst, [5]) for _ in range(50)]
    waiting = store.scheduler.waiting
    assert len(waiting) == 50 and not any(c.resolved for c in calls)
    assert all(type(t) is StacklessThread and t.cont is None for t in waiting)
    store.run_until(lambda: all(c.resolved for c in calls))
    assert [c.value for c in calls] == [[7]] * 50
    assert trace.counts["switches"] == switches  # 50 tasks x 6 events, not one switch


def python_callback_task_calling_a_slow_import(strategy: str):
    """A callback-lifted *Python* core function whose entry blocks in a sync call."""
    store = Store(strategy=named(strategy))
    a = PyComponent(store, "a")
    ft = FuncType([("x", U32Type())], [U32Type()], async_=True)
    slow_ = a.import_(store.host_function(slow, ft, name="slow"), ft)

    @a.export(ft, abi="callback", callback=lambda *event: 0)
    def run(x):
        a.task_return(slow_(x) + 1)
        return 0  # EXIT

    return store, run


def test_a_python_callback_task_keeps_a_stack_under_stackful():
    # It cannot park its frames on a fiber: it runs the "as if" loop on a greenlet.
    store, run = python_callback_task_calling_a_slow_import("stackful")
    call = store.invoke(run, [4])
    [thread] = [t for t in store.scheduler.waiting if t.task.name.startswith("a.run")]
    assert type(thread) is not StacklessThread and thread.cont is not None
    store.run_until(lambda: call.resolved)
    assert call.value == [9]


def test_a_python_callback_task_may_not_block_under_callback():
    store, run = python_callback_task_calling_a_slow_import("callback")
    with pytest.raises(RuntimeError, match="has no stack"):
        store.call(run, [4])


KEPT_OUT = """
(component
  (component $Callee
    (core func $task.return (canon task.return))
    (core func $thread.yield (canon thread.yield))
    (core module $C
      (import "" "task.return" (func $task.return))
      (import "" "thread.yield" (func $thread.yield (result i32)))
      ;; holds the instance's lock while blocked in a yield (ready at once)
      (func (export "hold") (result i32)
        (drop (call $thread.yield))
        (call $task.return)
        (i32.const 0 (; EXIT ;)))
      (func (export "enter") (result i32)
        (call $task.return)
        (i32.const 0 (; EXIT ;)))
      (func (export "cb") (param i32 i32 i32) (result i32) unreachable))
    (core instance $c (instantiate $C (with "" (instance
      (export "task.return" (func $task.return))
      (export "thread.yield" (func $thread.yield))))))
    (func (export "hold") async
      (canon lift (core func $c "hold") async (callback (core func $c "cb"))))
    (func (export "enter") async
      (canon lift (core func $c "enter") async (callback (core func $c "cb")))))
  (component $Caller
    (import "callee" (instance $callee
      (export "hold" (func async))
      (export "enter" (func async))))
    (core func $hold (canon lower (func $callee "hold") async))
    (core func $enter (canon lower (func $callee "enter") async))
    (core func $task.return (canon task.return (result u32)))
    (core module $M
      (import "" "hold" (func $hold (result i32)))
      (import "" "enter" (func $enter (result i32)))
      (import "" "task.return" (func $task.return (param i32)))
      ;; returns the state of the second call (its low 4 bits): STARTING (0) if it
      ;; did not wait for the holder, else RETURNED (2)
      (func (export "run") (result i32)
        (drop (call $hold))
        (call $task.return (i32.and (call $enter) (i32.const 0xf)))
        (i32.const 0 (; EXIT ;)))
      (func (export "cb") (param i32 i32 i32) (result i32) unreachable))
    (core instance $m (instantiate $M (with "" (instance
      (export "hold" (func $hold))
      (export "enter" (func $enter))
      (export "task.return" (func $task.return))))))
    (func (export "run") async (result u32)
      (canon lift (core func $m "run") async (callback (core func $m "cb")))))
  (instance $callee (instantiate $Callee))
  (instance $caller (instantiate $Caller (with "callee" (instance $callee))))
  (export "run" (func $caller "run")))
"""


@pytest.mark.parametrize("strategy", ["stackful", "callback"])
def test_a_callback_caller_lets_a_callee_kept_out_by_the_lock_start_first(strategy):
    # An async call whose callee waits for its instance's lock, held by a ready task:
    # under stackful the caller lets the holder (then the callee) run first, as
    # wasmtime does, even though the callback-lifted caller has no stack of its own
    # (its lower runs on a small continuation, its wasm parked on its fiber); under
    # callback it does not wait, and the call reports STARTING (docs/conformance.md).
    run = Linker(strategy=strategy).instantiate(load_component(KEPT_OUT)).func("run")
    assert run.call() == (2 if strategy == "stackful" else 0)  # RETURNED, or STARTING


def test_a_cancelled_callback_task_gets_task_cancelled():
    linker = Linker(strategy="callback")
    count = linker.instantiate(load_component(COUNTER)).func("count")
    with trace.Recorder(("callback.event", "task.")) as rec:
        call = linker.store.invoke(count.func_inst, [3])
        call.cancel()
        # the guest ignores the cancellation and goes on counting: it still returns
        linker.store.run_until(lambda: call.resolved)
    assert call.value == [7]
    assert [e.fields["event"] for e in rec.of("callback.event")][0] == "TASK_CANCELLED"


# -- a callback that blocks halfway ---------------------------------------------------------

BLOCKING_CALLBACK = """
(component
  (import "slow" (func $slow async (param "x" u32) (result u32)))
  (core func $slow (canon lower (func $slow)))
  (core func $task.return (canon task.return (result u32)))
  (core module $M
    (import "" "slow" (func $slow (param i32) (result i32)))
    (import "" "task.return" (func $task.return (param i32)))
    (func (export "run") (param $x i32) (result i32)
      ;; a sync call of an async import: the callback blocks until it returns
      (call $task.return (i32.add (call $slow (local.get $x)) (i32.const 1)))
      (i32.const 0 (; EXIT ;)))
    (func (export "cb") (param i32 i32 i32) (result i32) unreachable))
  (core instance $m (instantiate $M (with "" (instance
    (export "slow" (func $slow))
    (export "task.return" (func $task.return))))))
  (func (export "run") async (param "x" u32) (result u32)
    (canon lift (core func $m "run") async (callback (core func $m "cb"))))
)
"""


def slow(x):
    host.yield_()
    host.yield_()
    return 2 * x


@pytest.mark.parametrize("strategy", ["stackful", "callback"])
def test_a_callback_blocked_in_a_sync_call_is_parked_on_its_fiber(strategy):
    linker = Linker(strategy=strategy)
    linker.define("slow", slow)
    run = linker.instantiate(load_component(BLOCKING_CALLBACK)).func("run")
    parks, live = trace.counts["parks"], fibers.live_calls()
    store = linker.store
    calls = [store.invoke(run.func_inst, [x]) for x in range(10)]
    assert fibers.live_calls() > live  # blocked inside its core call (the others wait to enter)
    store.run_until(lambda: all(c.resolved for c in calls))
    assert [c.value for c in calls] == [[2 * x + 1] for x in range(10)]
    assert trace.counts["parks"] - parks == 10  # a callback-lifted wasm task parks under both
    assert fibers.live_calls() == live


def test_blocking_a_stackless_thread_outside_a_builtin_is_a_host_bug():
    linker = Linker(strategy="callback")
    count = linker.instantiate(load_component(COUNTER)).func("count")
    store = linker.store
    store.invoke(count.func_inst, [1])
    [thread] = store.scheduler.waiting
    outer = threads._current
    threads._current = thread
    try:
        with pytest.raises(RuntimeError, match="has no stack"):
            thread._block(cancellable=False)
    finally:
        threads._current = outer


# -- stackful guests under the callback strategy: asyncify ----------------------------------

STACKFUL_WAITER = """
(component
  (import "slow" (func $slow async (param "x" u32) (result u32)))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (core func $slow (canon lower (func $slow) async (memory $memory)))
  (core func $task.return (canon task.return (result u32)))
  (core func $waitable-set.new (canon waitable-set.new))
  (core func $waitable-set.wait (canon waitable-set.wait (memory $memory)))
  (core func $waitable.join (canon waitable.join))
  (core func $subtask.drop (canon subtask.drop))
  (core module $M
    (import "" "mem" (memory 1))
    (import "" "slow" (func $slow (param i32 i32) (result i32)))
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "waitable-set.new" (func $ws.new (result i32)))
    (import "" "waitable-set.wait" (func $ws.wait (param i32 i32) (result i32)))
    (import "" "waitable.join" (func $join (param i32 i32)))
    (import "" "subtask.drop" (func $subtask.drop (param i32)))
    ;; sum of slow(i) for i in 1..n, one call at a time, blocking in wait:
    ;; $i, $sum and $n are live across every wait
    (func (export "sum") (param $n i32) (local $i i32) (local $sum i32) (local $st i32)
          (local $ws i32)
      (local.set $ws (call $ws.new))
      (loop $next
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (local.set $st (call $slow (local.get $i) (i32.const 0x100)))
        (if (i32.ne (i32.and (local.get $st) (i32.const 0xf)) (i32.const 2 (; RETURNED ;)))
          (then
            (call $join (i32.shr_u (local.get $st) (i32.const 4)) (local.get $ws))
            (drop (call $ws.wait (local.get $ws) (i32.const 0x200)))
            (call $subtask.drop (i32.shr_u (local.get $st) (i32.const 4)))))
        (local.set $sum (i32.add (local.get $sum) (i32.load (i32.const 0x100))))
        (br_if $next (i32.lt_u (local.get $i) (local.get $n))))
      (call $task.return (local.get $sum))))
  (core instance $m (instantiate $M (with "" (instance
    (export "mem" (memory $memory))
    (export "slow" (func $slow))
    (export "task.return" (func $task.return))
    (export "waitable-set.new" (func $waitable-set.new))
    (export "waitable-set.wait" (func $waitable-set.wait))
    (export "waitable.join" (func $waitable.join))
    (export "subtask.drop" (func $subtask.drop))))))
  (func (export "sum") async (param "n" u32) (result u32)
    (canon lift (core func $m "sum") async))
)
"""


@pytest.mark.parametrize("strategy", ["stackful", "callback"])
def test_a_stackful_guest_runs_unwound_under_the_callback_strategy(strategy):

    linker = Linker(strategy=strategy)
    linker.define("slow", slow)
    sum_ = linker.instantiate(load_component(STACKFUL_WAITER)).func("sum")
    unwinds, rewinds = trace.counts["unwinds"], trace.counts["rewinds"]
    assert sum_.call(10) == 2 * sum(range(1, 11))
    expected = 10 if strategy == "callback" else 0  # one wait per call of slow
    assert (unwinds + expected, rewinds + expected) == (trace.counts["unwinds"], trace.counts["rewinds"])


def test_interleaved_stackful_tasks_each_keep_their_own_unwound_stack():
    linker = Linker(strategy="callback")
    linker.define("slow", slow)
    sum_ = linker.instantiate(load_component(STACKFUL_WAITER)).func("sum")
    store = linker.store
    calls = [store.invoke(sum_.func_inst, [n]) for n in (3, 5, 4, 6)]
    store.run_until(lambda: all(c.resolved for c in calls))
    assert [c.value for c in calls] == [[n * (n + 1)] for n in (3, 5, 4, 6)]


def test_a_stackful_guest_that_cannot_be_asyncified_is_named(monkeypatch):
    monkeypatch.setenv("STACKSWITCH_WASM_OPT", "/nonexistent/wasm-opt")
    from callback_abi import asyncify

    asyncify.clear_cache()
    linker = Linker(strategy="callback")
    linker.define("slow", slow)
    with pytest.raises(LinkError, match=r"stackful-lifted `sum`.*binaryen.*--strategy stackful"):
        linker.instantiate(load_component(STACKFUL_WAITER))
    # the stackful strategy does not need binaryen
    stackful = Linker(strategy="stackful")
    stackful.define("slow", slow)
    assert stackful.instantiate(load_component(STACKFUL_WAITER)).func("sum").call(2) == 6


WAIT_WITH_EVENT_PENDING = """
(component
  (component $Callee
    (core func $task.return (canon task.return))
    (core module $C
      (import "" "task.return" (func $task.return))
      (func (export "entry") (result i32) (i32.const 1 (; YIELD ;)))
      (func (export "cb") (param i32 i32 i32) (result i32)
        (call $task.return)
        (i32.const 0 (; EXIT ;))))
    (core instance $c (instantiate $C (with "" (instance
      (export "task.return" (func $task.return))))))
    (func (export "yield-once") async
      (canon lift (core func $c "entry") async (callback (core func $c "cb")))))
  (component $Caller
    (import "callee" (instance $callee (export "yield-once" (func async))))
    (core module $Mem (memory (export "mem") 1))
    (core instance $mem (instantiate $Mem))
    (alias core export $mem "mem" (core memory $memory))
    (core func $yield-once (canon lower (func $callee "yield-once") async (memory $memory)))
    (core func $task.return (canon task.return (result u32)))
    (core func $waitable-set.new (canon waitable-set.new))
    (core func $waitable-set.wait (canon waitable-set.wait (memory $memory)))
    (core func $waitable.join (canon waitable.join))
    (core func $subtask.drop (canon subtask.drop))
    (core func $thread.yield (canon thread.yield))
    (core module $R
      (import "" "mem" (memory 1))
      (import "" "yield-once" (func $yield-once (result i32)))
      (import "" "task.return" (func $task.return (param i32)))
      (import "" "waitable-set.new" (func $waitable-set.new (result i32)))
      (import "" "waitable-set.wait" (func $waitable-set.wait (param i32 i32) (result i32)))
      (import "" "waitable.join" (func $waitable.join (param i32 i32)))
      (import "" "subtask.drop" (func $subtask.drop (param i32)))
      (import "" "thread.yield" (func $thread.yield (result i32)))
      ;; n times: call yield-once, yield until it returned, then wait (for an
      ;; event pending by then under FIFO); count the RETURNED events
      (func (export "run") (param $n i32) (local $ws i32) (local $sub i32) (local $got i32)
        (local.set $ws (call $waitable-set.new))
        (block $done
          (loop $again
            (br_if $done (i32.eqz (local.get $n)))
            (local.set $sub (call $yield-once))
            (if (i32.eq (local.get $sub) (i32.const 2 (; RETURNED at once ;)))
              (then (local.set $got (i32.add (local.get $got) (i32.const 1))))
              (else
                (local.set $sub (i32.shr_u (local.get $sub) (i32.const 4)))
                (call $waitable.join (local.get $sub) (local.get $ws))
                (drop (call $thread.yield))
                (if (i32.ne (call $waitable-set.wait (local.get $ws) (i32.const 0)) (i32.const 1))
                  (then unreachable))
                (if (i32.ne (i32.load (i32.const 0)) (local.get $sub)) (then unreachable))
                (if (i32.eq (i32.load (i32.const 4)) (i32.const 2 (; RETURNED ;)))
                  (then (local.set $got (i32.add (local.get $got) (i32.const 1)))))
                (call $subtask.drop (local.get $sub))))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br $again)))
        (call $task.return (local.get $got))))
    (core instance $r (instantiate $R (with "" (instance
      (export "mem" (memory $memory))
      (export "yield-once" (func $yield-once))
      (export "task.return" (func $task.return))
      (export "waitable-set.new" (func $waitable-set.new))
      (export "waitable-set.wait" (func $waitable-set.wait))
      (export "waitable.join" (func $waitable.join))
      (export "subtask.drop" (func $subtask.drop))
      (export "thread.yield" (func $thread.yield))))))
    (func (export "run") async (param "n" u32) (result u32)
      (canon lift (core func $r "run") async)))
  (instance $callee (instantiate $Callee))
  (instance $caller (instantiate $Caller (with "callee" (instance $callee))))
  (export "run" (func $caller "run")))
"""


@pytest.mark.parametrize("policy", ["fifo", "random:3"])
@pytest.mark.parametrize("strategy", ["stackful", "callback"])
def test_a_wait_with_an_event_pending_is_answered_on_the_fiber(strategy, policy):
    store = Store(policy, strategy=named(strategy))
    run = Linker(store).instantiate(load_component(WAIT_WITH_EVENT_PENDING)).func("run")
    before = trace.counts["suspensions"]
    assert run.call(5) == 5
    if strategy == "stackful" and policy == "fifo":
        # per round: the async call and the yield block; the wait answers on the fiber
        assert trace.counts["suspensions"] - before == 2 * 5


SYNC_TYPED_WAITER = """
(component
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (core func $waitable-set.new (canon waitable-set.new))
  (core func $waitable-set.wait (canon waitable-set.wait (memory $memory)))
  (core module $M
    (import "" "waitable-set.new" (func $ws.new (result i32)))
    (import "" "waitable-set.wait" (func $ws.wait (param i32 i32) (result i32)))
    ;; waits on an empty set before returning: a sync-typed task may not block
    (func (export "run") (param $n i32) (local $ws i32)
      (local.set $ws (call $ws.new))
      (drop (call $ws.wait (local.get $ws) (i32.const 0x200)))
      (drop (local.get $n))))
  (core instance $m (instantiate $M (with "" (instance
    (export "waitable-set.new" (func $waitable-set.new))
    (export "waitable-set.wait" (func $waitable-set.wait))))))
  (func (export "run") (param "n" u32) (result u32)
    (canon lift (core func $m "run") async))
)
"""


def test_a_wait_that_will_block_unwinds_early_on_the_fiber():
    # waitable-set.wait says itself that it will block (HostCoreFunc.will_block), so
    # under callback each wait on the empty set unwinds at once, on the fiber: the
    # only fiber suspensions left are the 10 async calls of `slow` (20 without).
    linker = Linker(strategy="callback")
    linker.define("slow", slow)
    sum_ = linker.instantiate(load_component(STACKFUL_WAITER)).func("sum")
    suspensions, unwinds = trace.counts["suspensions"], trace.counts["unwinds"]
    assert sum_.call(10) == 2 * sum(range(1, 11))
    assert trace.counts["unwinds"] - unwinds == 10
    assert trace.counts["suspensions"] - suspensions == 10


@pytest.mark.parametrize("strategy", ["stackful", "callback"])
def test_a_wait_unwound_early_that_traps_traps_at_the_import(strategy):
    # Under callback the wait looks like it will block (an empty set), so the
    # wasm unwinds before the built-in runs; its check then traps, and the
    # rewind replays that trap at the import: same trap as under stackful.
    run = Linker(strategy=strategy).instantiate(load_component(SYNC_TYPED_WAITER)).func("run")
    unwinds, rewinds = trace.counts["unwinds"], trace.counts["rewinds"]
    with trace.Recorder(("trap",)) as rec:
        with pytest.raises(Trap, match="cannot block a synchronous task before returning"):
            run.call(1)
    assert [e.fields["message"] for e in rec.events] == [
        "wasm trap: cannot block a synchronous task before returning"]
    expected = 1 if strategy == "callback" else 0
    assert (trace.counts["unwinds"] - unwinds, trace.counts["rewinds"] - rewinds) == (expected, expected)

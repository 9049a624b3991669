"""Every canonical built-in: what it does, and how it traps (wording included).

Streams and futures are in test_builtins_streams.py, the thread.* built-ins in
test_builtins_threads.py. Guests are PyComponents, as in test_scenarios.py.
Trap texts follow messages.py (wasmtime's wording); the rules follow
CanonicalABI.md, "Canonical Definitions".
"""

import re

import pytest
from builtin_helpers import (
    ASYNC_U32,
    BLOCKED,
    CANCELLED_BEFORE_RETURNED,
    CANCELLED_BEFORE_STARTED,
    CANNOT_LEAVE,
    COMPLETED,
    F_U32,
    FUTURE_READ,
    NONE,
    RETURNED,
    S_U8,
    STARTED,
    STARTING,
    SUBTASK,
    SYNC_AND_ASYNC,
    SYNC_NONE,
    SYNC_U32,
    TASK_CANCELLED,
    U32,
    run_async,
    run_sync,
)

from stackswitch.canon.options import CanonicalOptions
from stackswitch.canon.types import (
    BorrowType,
    ErrorContextType,
    FuncType,
    ListType,
    OwnType,
    StringType,
    U8Type,
)
from stackswitch.embed.guest import PyComponent
from stackswitch.errors import Trap
from stackswitch.wasm.memory import LinearMemory

# -- resource.new / resource.rep / resource.drop ----------------------------------------


def test_resource_new_rep_and_drop_of_an_own_handle_run_the_destructor(store):
    a = PyComponent(store, "a")
    dropped = []
    rt = a.resource_type("r", dtor=dropped.append)

    def body():
        h1, h2 = a.resource_new(rt, 42), a.resource_new(rt, 43)
        assert (h1, h2) == (1, 2)
        assert (a.resource_rep(rt, h1), a.resource_rep(rt, h2)) == (42, 43)
        a.resource_drop(rt, h1)
        assert dropped == [42]
        assert a.resource_new(rt, 44) == 1     # the freed slot is reused
        return a.resource_rep(rt, 1)

    assert run_sync(store, a, body) == 44


def test_resource_rep_of_a_dropped_handle_traps(store):
    a = PyComponent(store, "a")
    rt = a.resource_type("r")

    def body():
        h = a.resource_new(rt, 42)
        a.resource_drop(rt, h)
        return a.resource_rep(rt, h)

    with pytest.raises(Trap, match="unknown handle index 1"):
        run_sync(store, a, body)


def test_resource_drop_with_the_wrong_resource_type_traps(store):
    a = PyComponent(store, "a")
    r1, r2 = a.resource_type("r1"), a.resource_type("r2")

    def body():
        a.resource_drop(r2, a.resource_new(r1, 7))

    with pytest.raises(Trap, match=re.escape(
            "handle index 1 used with the wrong type, expected guest-defined resource "
            "but found a different guest-defined resource")):
        run_sync(store, a, body)


@pytest.mark.parametrize("op", ["rep", "drop"])
def test_resource_builtins_on_a_non_resource_handle_trap(store, op):
    a = PyComponent(store, "a")
    rt = a.resource_type("r")

    def body():
        ws = a.waitable_set_new()
        getattr(a, f"resource_{op}")(rt, ws)

    with pytest.raises(Trap, match="index 1 is not a resource"):
        run_sync(store, a, body)


def _make_and_drop(store, *, context_in_caller=0):
    """B implements resource r and hands A an own handle, which A drops."""
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    dropped = []
    rt = b.resource_type("r", dtor=lambda rep: dropped.append((rep, b.context_get(0))))
    make_t = FuncType([("rep", U32)], [OwnType(rt)])

    @b.export(make_t)
    def make(rep):
        return b.resource_new(rt, rep)

    call_make = a.import_(make, make_t)

    def body():
        h = call_make(7)
        assert len(b.inst.handles) == 0        # the own handle moved out of B...
        a.context_set(0, context_in_caller)
        a.resource_drop(rt, h)                 # ...and A's drop destroys it in B
        return h

    assert run_async(store, a, body) == 1
    return dropped


def test_an_own_handle_moves_to_the_caller_whose_drop_calls_the_destructor(store):
    assert _make_and_drop(store) == [(7, 0)]


def test_the_destructor_runs_as_a_call_into_the_implementation_on_a_fresh_thread(store):
    """Spec resource.drop: the destructor is lifted into rt.impl and called like an import,
    so it runs on a new thread whose context-local storage starts at 0."""
    assert _make_and_drop(store, context_in_caller=77) == [(7, 0)]


def test_dropping_an_own_handle_reenters_the_implementation_and_may_trap(store):
    """B (the implementation) calls A, which drops B's resource: re-entering B traps."""
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    rt = b.resource_type("r", dtor=lambda rep: None)
    take_t = FuncType([("r", OwnType(rt))], [])

    @a.export(take_t)
    def take(h):
        a.resource_drop(rt, h)

    call_take = b.import_(take, take_t)

    def body():
        call_take(b.resource_new(rt, 1))
        return 0

    with pytest.raises(Trap, match="cannot enter component instance"):
        run_sync(store, b, body)


def test_dropping_a_resource_without_destructor_still_checks_reentrance(store):
    """Spec resource.drop lifts ``rt.dtor or (lambda rep: [])`` into rt.impl: the
    Store.lift reentrance check applies even when there is no destructor."""
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    rt = b.resource_type("r")      # no destructor
    take_t = FuncType([("r", OwnType(rt))], [])

    @a.export(take_t)
    def take(h):
        a.resource_drop(rt, h)

    call_take = b.import_(take, take_t)

    def body():
        call_take(b.resource_new(rt, 1))
        return 0

    with pytest.raises(Trap, match="cannot enter component instance"):
        run_sync(store, b, body)


def _borrow_pair(store, callee_body, *, async_=False):
    """A owns resource r (A implements it) and lends it to B.use(borrow<r>) -> u32."""
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    dropped = []
    rt = a.resource_type("r", dtor=dropped.append)
    use_t = FuncType([("r", BorrowType(rt))], [U32], async_=async_)
    use = b.export(use_t, abi="stackful" if async_ else "sync")(
        lambda h: callee_body(b, rt, h))
    return a, b, rt, use, use_t, dropped


def test_a_borrow_is_lent_for_the_call_and_dropping_it_does_not_destroy(store):
    def use(b, rt, h):
        b.resource_drop(rt, h)       # a borrow handle: no destructor call
        return h

    a, b, rt, use_f, use_t, dropped = _borrow_pair(store, use)
    call_use = a.import_(use_f, use_t)

    def body():
        h = a.resource_new(rt, 42)
        assert call_use(h) == 1      # B got a handle of its own, not the rep
        assert dropped == []
        a.resource_drop(rt, h)       # the lend is over: A may drop
        return len(dropped)

    assert run_sync(store, a, body) == 1
    assert dropped == [42]


def test_the_implementation_receives_a_borrow_as_its_rep(store):
    a = PyComponent(store, "a")
    rt = a.resource_type("r")
    user = PyComponent(store, "user")
    use_t = FuncType([("r", BorrowType(rt))], [U32])

    @a.export(use_t)
    def use(rep):
        return rep

    call_use = user.import_(use, use_t)
    make_t = FuncType([], [OwnType(rt)])

    @a.export(make_t)
    def make():
        return a.resource_new(rt, 1234)

    call_make = user.import_(make, make_t)
    assert run_sync(store, user, lambda: call_use(call_make())) == 1234


def test_a_sync_callee_that_keeps_a_borrow_traps_at_return(store):
    a, b, rt, use_f, use_t, _ = _borrow_pair(store, lambda b, rt, h: h)
    call_use = a.import_(use_f, use_t)

    with pytest.raises(Trap, match="borrow handles still remain at the end of the call"):
        run_sync(store, a, lambda: call_use(a.resource_new(rt, 1)))


def test_task_return_with_borrows_outstanding_traps(store):
    def use(b, rt, h):
        b.task_return(h)

    a, b, rt, use_f, use_t, _ = _borrow_pair(store, use, async_=True)
    call_use = a.import_(use_f, use_t, async_=True)

    with pytest.raises(Trap, match="borrow handles still remain at the end of the call"):
        run_async(store, a, lambda: call_use(a.resource_new(rt, 1), a.alloc(4, 4)))


@pytest.mark.parametrize("drop_while_lent", [False, True])
def test_num_lends_prevents_dropping_the_lent_handle_until_the_subtask_resolves(
        store, drop_while_lent):
    def use(b, rt, h):
        b.thread_yield()
        b.resource_drop(rt, h)
        b.task_return(h)

    a, b, rt, use_f, use_t, dropped = _borrow_pair(store, use, async_=True)
    call_use = a.import_(use_f, use_t, async_=True)

    def body():
        h = a.resource_new(rt, 42)
        status = call_use(h, a.alloc(4, 4))
        assert status & 0xF == STARTED
        if drop_while_lent:
            a.resource_drop(rt, h)
        ws = a.waitable_set_new()
        a.waitable_join(status >> 4, ws)
        assert a.wait(ws) == (SUBTASK, status >> 4, RETURNED)
        a.subtask_drop(status >> 4)
        a.waitable_set_drop(ws)
        a.resource_drop(rt, h)       # the event was delivered: the lend is over
        return dropped[0]

    if drop_while_lent:
        with pytest.raises(Trap, match="cannot remove owned resource while borrowed"):
            run_async(store, a, body)
    else:
        assert run_async(store, a, body) == 42


def test_an_own_handle_cannot_be_passed_on_while_it_is_lent(store):
    def use(b, rt, h):
        b.thread_yield()
        b.resource_drop(rt, h)
        b.task_return(0)

    a, b, rt, use_f, use_t, dropped = _borrow_pair(store, use, async_=True)
    call_use = a.import_(use_f, use_t, async_=True)
    c = PyComponent(store, "c")
    take_t = FuncType([("r", OwnType(rt))], [])
    call_take = a.import_(c.export(take_t)(lambda h: None), take_t)

    def body():
        h = a.resource_new(rt, 42)
        assert call_use(h, a.alloc(4, 4)) & 0xF == STARTED
        call_take(h)

    with pytest.raises(Trap, match="cannot remove owned resource while borrowed"):
        run_async(store, a, body)


def test_table_lookups_check_the_whole_index_range(store):
    a = PyComponent(store, "a")
    rt = a.resource_type("r")
    with pytest.raises(Trap, match="unknown handle index 4294967295"):
        run_sync(store, a, lambda: a.resource_rep(rt, 0xFFFF_FFFF))


def test_an_own_result_cannot_be_lifted_from_a_borrow_handle(store):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    rt = a.resource_type("r")
    back_t = FuncType([("r", BorrowType(rt))], [OwnType(rt)])

    @b.export(back_t)
    def back(h):
        return h

    call_back = a.import_(back, back_t)
    with pytest.raises(Trap, match="cannot lift own resource from a borrow"):
        run_sync(store, a, lambda: call_back(a.resource_new(rt, 1)))


# -- context.get / context.set -----------------------------------------------------------


def test_context_get_and_set_are_per_thread_and_start_at_zero(store):
    a = PyComponent(store, "a")
    seen = []

    def child(c):
        seen.append((a.context_get(0), a.context_get(1)))
        a.context_set(0, 99)

    def body():
        before = (a.context_get(0), a.context_get(1))
        a.context_set(0, 11)
        a.context_set(1, 0xFFFF_FFFF)
        a.thread_yield_then_resume(a.thread_new(child, 0))
        return before, a.context_get(0), a.context_get(1)

    assert run_async(store, a, body) == ((0, 0), 11, 0xFFFF_FFFF)
    assert seen == [(0, 0)]


def test_context_index_out_of_range_is_a_validation_error_not_a_trap(store):
    """Spec: `$i` must be less than 2 at validation; there is no runtime trap."""
    a = PyComponent(store, "a")
    with pytest.raises(AssertionError):
        run_sync(store, a, lambda: a.context_get(2))


def test_context_and_backpressure_and_resource_rep_are_allowed_in_post_return(store):
    """Spec: these built-ins have no may_leave check (unlike every other)."""
    a = PyComponent(store, "a")
    rt = a.resource_type("r")
    seen = []

    def post_return(h):
        a.context_set(0, 5)
        a.backpressure_inc()
        a.backpressure_dec()
        seen.append((a.context_get(0), a.resource_rep(rt, h)))

    @a.export(SYNC_U32, post_return=post_return)
    def run():
        return a.resource_new(rt, 31)

    assert store.call(run, []) == [1]
    assert seen == [(5, 31)]


# -- backpressure.inc / backpressure.dec ------------------------------------------------------


def test_a_call_waits_for_backpressure_and_starts_after_dec(store):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    log = []

    @b.export(SYNC_NONE)
    def hold():
        b.backpressure_inc()

    @b.export(SYNC_NONE)
    def release():
        b.backpressure_dec()

    @b.export(ASYNC_U32, abi="stackful")
    def work():
        log.append("work started")
        b.task_return(8)

    call_hold, call_release = a.import_(hold, SYNC_NONE), a.import_(release, SYNC_NONE)
    call_work = a.import_(work, ASYNC_U32, async_=True)

    def body():
        call_hold()
        retptr = a.alloc(4, 4)
        status = call_work(retptr)
        sub = status >> 4
        assert status & 0xF == STARTING and sub != 0
        ws = a.waitable_set_new()
        a.waitable_join(sub, ws)
        assert a.poll(ws) == (NONE, 0, 0)
        a.thread_yield()
        assert a.poll(ws) == (NONE, 0, 0) and log == []    # still held back
        call_release()
        assert a.wait(ws) == (SUBTASK, sub, RETURNED)
        a.subtask_drop(sub)
        a.waitable_set_drop(ws)
        return a.memory.load_u32(retptr)

    assert run_async(store, a, body) == 8
    assert log == ["work started"]


def test_backpressure_inc_traps_when_the_counter_would_reach_2_to_the_16(store):
    a = PyComponent(store, "a")

    def body():
        for _ in range(2**16 - 1):
            a.backpressure_inc()
        assert a.inst.backpressure == 2**16 - 1
        a.backpressure_inc()

    with pytest.raises(Trap, match="backpressure counter overflow"):
        run_sync(store, a, body)


def test_backpressure_dec_below_zero_traps(store):
    a = PyComponent(store, "a")

    def body():
        a.backpressure_inc()
        a.backpressure_dec()
        a.backpressure_dec()

    with pytest.raises(Trap, match=re.escape("backpressure counter overflow: backpressure.dec below zero")):
        run_sync(store, a, body)


def test_a_waiting_call_reports_started_and_returned_as_separate_events(store):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")

    @b.export(SYNC_NONE)
    def hold():
        b.backpressure_inc()

    @b.export(SYNC_NONE)
    def release():
        b.backpressure_dec()

    @b.export(ASYNC_U32, abi="stackful")
    def work():
        b.thread_yield()
        b.thread_yield()
        b.task_return(1)

    call_hold, call_release = a.import_(hold, SYNC_NONE), a.import_(release, SYNC_NONE)
    call_work = a.import_(work, ASYNC_U32, async_=True)

    def body():
        call_hold()
        sub = call_work(a.alloc(4, 4)) >> 4
        ws = a.waitable_set_new()
        a.waitable_join(sub, ws)
        call_release()
        return a.wait(ws), a.wait(ws)

    assert run_async(store, a, body) == ((SUBTASK, 1, STARTED), (SUBTASK, 1, RETURNED))


def test_tasks_that_waited_for_backpressure_start_before_new_ones(store):
    """Spec Task.enter_implicit_thread: while num_waiting_to_enter > 0 a new call waits
    too, even with the counter back at 0 ("residual backpressure")."""
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    order = []
    ft = FuncType([("n", U32)], [], async_=True)

    @b.export(SYNC_NONE)
    def hold():
        b.backpressure_inc()

    @b.export(SYNC_NONE)
    def release():
        b.backpressure_dec()

    @b.export(ft, abi="stackful")
    def work(n):
        order.append(n)
        b.task_return()

    call_hold, call_release = a.import_(hold, SYNC_NONE), a.import_(release, SYNC_NONE)
    call_work = a.import_(work, ft, async_=True)

    def body():
        call_hold()
        statuses = [call_work(1), call_work(2)]
        call_release()
        statuses.append(call_work(3))          # backpressure is 0, but 1 and 2 go first
        ws = a.waitable_set_new()
        for status in statuses:
            a.waitable_join(status >> 4, ws)
        events = sorted(a.wait(ws) for _ in statuses)
        return [st & 0xF for st in statuses], [e[2] for e in events]

    assert run_async(store, a, body) == ([STARTING] * 3, [RETURNED] * 3)
    assert order == [1, 2, 3]


def test_a_sync_lifted_async_typed_export_may_block_and_holds_the_instance_meanwhile(store):
    """Spec: only non-async-typed calls may not block; a sync-lifted (or callback) async
    export needs the instance exclusively, so a second call waits to start."""
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    log = []

    @b.export(ASYNC_U32)                       # abi="sync": returns its result, may block
    def get():
        n = len(log) // 2
        log.append(f"start {n}")
        b.thread_yield()
        b.thread_yield()
        log.append(f"end {n}")
        return n

    call = a.import_(get, ASYNC_U32, async_=True)

    def body():
        p1, p2 = a.alloc(4, 4), a.alloc(4, 4)
        s1, s2 = call(p1), call(p2)
        ws = a.waitable_set_new()
        a.waitable_join(s1 >> 4, ws)
        a.waitable_join(s2 >> 4, ws)
        returned = set()
        while len(returned) < 2:
            code, sub, state = a.wait(ws)
            if state == RETURNED:
                returned.add(sub)
        return s1 & 0xF, s2 & 0xF, a.memory.load_u32(p1), a.memory.load_u32(p2)

    # The second call waits to enter while the first holds the instance; since
    # the holder is ready, the caller lets it finish first (as wasmtime does,
    # and the spec's sync-streams test expects), so it sees STARTED.
    assert run_async(store, a, body) == (STARTED, STARTED, 0, 1)
    assert log == ["start 0", "end 0", "start 1", "end 1"]


def test_an_instance_blocked_in_a_sync_call_to_an_async_import_may_be_reentered(store):
    """Spec Store.lower: a sync call of an async-typed import that blocks lets the caller's
    instance be entered again (Component Invariant #2 is not at stake)."""
    a, b = PyComponent(store, "a"), PyComponent(store, "b")

    @b.export(ASYNC_U32, abi="stackful")
    def slow():
        b.thread_yield()
        b.task_return(5)

    call_slow = a.import_(slow, ASYNC_U32)     # sync lower of an async function

    @a.export(ASYNC_U32, abi="stackful")
    def run():
        a.task_return(call_slow(a.alloc(4, 4)) or a.memory.load_u32(a._heap_top - 4))

    @a.export(SYNC_U32)
    def other():
        return 9

    first = store.invoke(run, [])
    assert not first.resolved
    assert store.call(other, []) == [9]        # no "cannot enter component instance"
    store.run_until(lambda: first.resolved)
    assert first.value == [5]


# -- task.return ----------------------------------------------------------------------------


def test_task_return_lifts_a_string_result_from_the_callee_memory(store):
    a = PyComponent(store, "a")
    ft = FuncType([], [StringType()], async_=True)

    @a.export(ft, abi="stackful")
    def run():
        ptr = a.alloc(16, 1)
        a.task_return(ptr, a.memory.store_str(ptr, "héllo"))

    assert store.call(run, []) == ["héllo"]


def test_task_return_options_need_only_the_same_memory_and_encoding(store):
    a = PyComponent(store, "a")
    ft = FuncType([], [StringType()], async_=True)

    @a.export(ft, abi="stackful")
    def run():
        ptr = a.alloc(4, 1)
        a.task_return(ptr, a.memory.store_str(ptr, "ok"),
                      opts=CanonicalOptions(string_encoding="utf8", memory=a.memory))

    assert store.call(run, []) == ["ok"]


TASK_RETURN_MISMATCH = "invalid `task.return` signature and/or options for current task"


@pytest.mark.parametrize("how", ["types", "memory"])
def test_task_return_with_another_signature_or_options_traps(store, how):
    a = PyComponent(store, "a")
    kwargs = {
        "types": {"types": [U8Type()]},
        "memory": {"opts": CanonicalOptions(memory=LinearMemory(1))},
    }[how]

    @a.export(ASYNC_U32, abi="stackful")
    def run():
        a.task_return(1, **kwargs)

    with pytest.raises(Trap, match=re.escape(TASK_RETURN_MISMATCH)):
        store.call(run, [])


def test_task_return_of_a_string_in_another_encoding_traps(store):
    a = PyComponent(store, "a")

    @a.export(FuncType([], [StringType()], async_=True), abi="stackful")
    def run():
        ptr = a.alloc(4, 2)
        a.task_return(ptr, 1, opts=CanonicalOptions(string_encoding="utf16", memory=a.memory))

    with pytest.raises(Trap, match=re.escape(TASK_RETURN_MISMATCH)):
        store.call(run, [])


def test_task_return_compares_the_string_encoding_even_for_a_result_without_strings(store):
    """As wasmtime does (its task-return-traps test) and the spec's LiftOptions.equal: the
    encoding always counts; the memory only where task.return names one or the result needs
    one (tests/test_conformance_gaps.py has the wasm side)."""
    a = PyComponent(store, "a")

    @a.export(ASYNC_U32, abi="stackful")
    def run():
        a.task_return(7, opts=CanonicalOptions(string_encoding="utf16"))

    with pytest.raises(Trap, match=re.escape(TASK_RETURN_MISMATCH)):
        store.call(run, [])

    b = PyComponent(store, "b")

    @b.export(ASYNC_U32, abi="stackful")
    def run_b():
        b.task_return(7, opts=CanonicalOptions())

    assert store.call(run_b, []) == [7]


def test_task_return_twice_traps(store):
    a = PyComponent(store, "a")

    @a.export(ASYNC_U32, abi="stackful")
    def run():
        a.task_return(1)
        a.task_return(2)

    with pytest.raises(Trap, match=re.escape(
            "`task.return` or `task.cancel` called more than once for current task")):
        store.call(run, [])


def test_task_return_from_a_sync_lifted_export_traps(store):
    a = PyComponent(store, "a")

    @a.export(SYNC_U32)
    def run():
        a.task_return(1)
        return 1

    with pytest.raises(Trap, match=re.escape(TASK_RETURN_MISMATCH)):
        store.call(run, [])


def test_an_async_task_may_keep_running_after_task_return(store):
    a = PyComponent(store, "a")
    log = []

    @a.export(ASYNC_U32, abi="stackful")
    def run():
        a.task_return(3)
        log.append("returned")
        a.thread_yield()
        log.append("still running")

    result = store.invoke(run, [])
    assert result.value == [3] and log == ["returned"]
    store.run()
    assert log == ["returned", "still running"]


# -- task.cancel -------------------------------------------------------------------------------


def test_task_cancel_without_a_delivered_cancellation_traps(store):
    a = PyComponent(store, "a")

    @a.export(ASYNC_U32, abi="stackful")
    def run():
        a.task_cancel()

    with pytest.raises(Trap, match=re.escape(
            "`task.cancel` called by task which has not been cancelled")):
        store.call(run, [])


def test_task_cancel_from_a_sync_lifted_export_traps(store):
    a = PyComponent(store, "a")

    @a.export(SYNC_U32)
    def run():
        a.task_cancel()
        return 0

    with pytest.raises(Trap, match=re.escape("`task.cancel` called by task which has not been cancelled")):
        store.call(run, [])


def _cancel_pair(store, callee, *, cancel_async=True, cancel_twice=False):
    """A calls B.work async, yields once, then cancels it; returns A's log."""
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    log = []
    work = b.export(ASYNC_U32, abi="stackful", name="work")(lambda: callee(b, log))
    call = a.import_(work, ASYNC_U32, async_=True)

    def body():
        status = call(a.alloc(4, 4))
        sub = status >> 4
        assert status & 0xF == STARTED
        result = a.subtask_cancel(sub, async_=cancel_async)
        log.append(("cancel", result))
        if cancel_twice:
            a.subtask_cancel(sub, async_=True)
        if result == BLOCKED:
            ws = a.waitable_set_new()
            a.waitable_join(sub, ws)
            event = a.wait(ws)
            log.append(("event", event))
            result = event[2]
            a.waitable_join(sub, 0)
            a.waitable_set_drop(ws)
        a.subtask_drop(sub)
        return result

    log.append(("result", run_async(store, a, body)))
    return log


def test_task_cancel_confirms_a_cancellation_delivered_to_a_cancellable_wait(store):
    def work(b, log):
        ws = b.waitable_set_new()
        log.append(("b saw", b.wait(ws, cancellable=True)))
        b.waitable_set_drop(ws)
        b.task_cancel()

    log = _cancel_pair(store, work)
    assert log == [("b saw", (TASK_CANCELLED, 0, 0)), ("cancel", CANCELLED_BEFORE_RETURNED),
                   ("result", CANCELLED_BEFORE_RETURNED)]


def test_task_cancel_twice_traps(store):
    def work(b, log):
        b.wait(b.waitable_set_new(), cancellable=True)
        b.task_cancel()
        b.task_cancel()

    with pytest.raises(Trap, match=re.escape(
            "`task.cancel` called more than once for current task")):
        _cancel_pair(store, work)


def test_task_return_after_task_cancel_traps(store):
    def work(b, log):
        b.wait(b.waitable_set_new(), cancellable=True)
        b.task_cancel()
        b.task_return(1)

    with pytest.raises(Trap, match="called more than once for current task"):
        _cancel_pair(store, work)


def test_a_pending_cancellation_is_not_delivered_so_task_cancel_traps(store):
    """Spec Task.cancel: with state PENDING_CANCEL (not yet delivered) task.cancel traps."""
    def work(b, log):
        b.thread_yield()                 # not cancellable: cancellation stays pending
        b.task_cancel()

    with pytest.raises(Trap, match="task which has not been cancelled"):
        _cancel_pair(store, work)


def test_a_pending_cancellation_is_delivered_at_the_next_cancellable_point(store):
    def work(b, log):
        log.append(("b yield", b.thread_yield()))
        log.append(("b poll", b.poll(b.waitable_set_new(), cancellable=True)))
        b.task_cancel()

    log = _cancel_pair(store, work)
    assert log == [("cancel", BLOCKED), ("b yield", 0), ("b poll", (TASK_CANCELLED, 0, 0)),
                   ("event", (SUBTASK, 1, CANCELLED_BEFORE_RETURNED)),
                   ("result", CANCELLED_BEFORE_RETURNED)]


def test_a_cancelled_task_may_still_return_a_value(store):
    def work(b, log):
        b.wait(b.waitable_set_new(), cancellable=True)
        b.task_return(9)

    log = _cancel_pair(store, work, cancel_async=False)
    assert log == [("cancel", RETURNED), ("result", RETURNED)]


def test_cancellation_is_not_delivered_into_an_instance_that_is_on_the_stack(store):
    """Spec Task.request_cancellation: no thread is resumed while its instance may not be
    entered; the request stays pending until the next cancellable point."""
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    log, subs = [], []
    cancel_t = FuncType([], [U32])

    @a.export(cancel_t)
    def cancel_t1():
        return a.subtask_cancel(subs[0], async_=True)

    call_cancel = b.import_(cancel_t1, cancel_t)

    @b.export(ASYNC_U32, abi="stackful")
    def t1():
        while not b.thread_yield(cancellable=True):
            log.append("t1 tick")
        log.append("t1 cancelled")
        b.task_cancel()

    @b.export(ASYNC_U32, abi="stackful")
    def t2():
        b.thread_yield()            # so that A is off the stack when t2 calls it
        log.append(("cancel from inside b", call_cancel()))
        b.task_return(0)

    call_t1 = a.import_(t1, ASYNC_U32, async_=True)
    call_t2 = a.import_(t2, ASYNC_U32, async_=True)

    def body():
        subs.append(call_t1(a.alloc(4, 4)) >> 4)
        assert call_t2(a.alloc(4, 4)) & 0xF == STARTED
        ws = a.waitable_set_new()
        a.waitable_join(subs[0], ws)
        return a.wait(ws)

    assert run_async(store, a, body) == (SUBTASK, 1, CANCELLED_BEFORE_RETURNED)
    # t1 was yielding cancellably when the request came, but B was on the stack (t2):
    # the request stayed pending, t1 ticked once more and got it at its next yield
    cancel = log.index(("cancel from inside b", BLOCKED))
    assert log[cancel + 1:] == ["t1 tick", "t1 cancelled"]


# -- subtask.cancel -------------------------------------------------------------------------------


@pytest.mark.parametrize("async_", [False, True])
def test_subtask_cancel_of_a_resolved_but_undelivered_subtask_returns_returned(store, async_):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")

    @b.export(ASYNC_U32, abi="stackful")
    def slow():
        b.thread_yield()
        b.task_return(5)

    call = a.import_(slow, ASYNC_U32, async_=True)

    def body():
        retptr = a.alloc(4, 4)
        status = call(retptr)
        assert status & 0xF == STARTED
        a.thread_yield()                  # B runs first (FIFO) and returns
        state = a.subtask_cancel(status >> 4, async_=async_)
        a.subtask_drop(status >> 4)       # cancel delivered the resolve
        return state * 100 + a.memory.load_u32(retptr)

    assert run_async(store, a, body) == RETURNED * 100 + 5


@pytest.mark.parametrize("async_", [False, True])
def test_subtask_cancel_before_the_callee_starts_returns_cancelled_before_started(store, async_):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    started = []

    @b.export(SYNC_NONE)
    def hold():
        b.backpressure_inc()

    @b.export(FuncType([("x", StringType())], [U32], async_=True), abi="stackful")
    def work(ptr, n):
        started.append(n)
        b.task_return(n)

    call_hold = a.import_(hold, SYNC_NONE)
    call_work = a.import_(work, FuncType([("x", StringType())], [U32], async_=True), async_=True)

    def body():
        call_hold()
        arg = a.alloc(4, 1)
        status = call_work(arg, a.memory.store_str(arg, "abc"), a.alloc(4, 4))
        assert status & 0xF == STARTING
        state = a.subtask_cancel(status >> 4, async_=async_)
        a.subtask_drop(status >> 4)
        return state

    assert run_async(store, a, body) == CANCELLED_BEFORE_STARTED
    assert started == []                  # the callee never ran, its arguments were never read


@pytest.mark.parametrize("cancel_async", [False, True])
def test_subtask_cancel_of_a_callee_that_confirms_at_once_returns_cancelled_before_returned(
        store, cancel_async):
    def work(b, log):
        b.wait(b.waitable_set_new(), cancellable=True)
        b.task_cancel()

    log = _cancel_pair(store, work, cancel_async=cancel_async)
    assert log == [("cancel", CANCELLED_BEFORE_RETURNED), ("result", CANCELLED_BEFORE_RETURNED)]


@pytest.mark.parametrize("cancel_async", [False, True])
def test_subtask_cancel_of_a_callee_that_takes_its_time(store, cancel_async):
    def work(b, log):
        log.append(("b", b.thread_suspend(cancellable=True)))
        b.thread_yield()
        log.append("b confirms")
        b.task_cancel()

    log = _cancel_pair(store, work, cancel_async=cancel_async)
    if cancel_async:
        assert log == [("b", 1), ("cancel", BLOCKED), "b confirms",
                       ("event", (SUBTASK, 1, CANCELLED_BEFORE_RETURNED)),
                       ("result", CANCELLED_BEFORE_RETURNED)]
    else:
        assert log == [("b", 1), "b confirms", ("cancel", CANCELLED_BEFORE_RETURNED),
                       ("result", CANCELLED_BEFORE_RETURNED)]


def test_subtask_cancel_twice_traps(store):
    def work(b, log):
        b.thread_yield()
        b.thread_yield(cancellable=True)
        b.task_cancel()

    with pytest.raises(Trap, match=re.escape(
            "`subtask.cancel` called more than once for the same subtask")):
        _cancel_pair(store, work, cancel_twice=True)


def _returned_subtask(store, then):
    """A calls B.slow, receives its RETURNED event, then calls ``then(a, sub)``."""
    a, b = PyComponent(store, "a"), PyComponent(store, "b")

    @b.export(ASYNC_U32, abi="stackful")
    def slow():
        b.thread_yield()
        b.task_return(5)

    call = a.import_(slow, ASYNC_U32, async_=True)

    def body():
        sub = call(a.alloc(4, 4)) >> 4
        ws = a.waitable_set_new()
        a.waitable_join(sub, ws)
        assert a.wait(ws) == (SUBTASK, sub, RETURNED)
        return then(a, sub, ws)

    return run_async(store, a, body)


@pytest.mark.parametrize("async_", [False, True])
def test_subtask_cancel_after_the_resolve_was_delivered_traps(store, async_):
    def then(a, sub, ws):
        a.waitable_join(sub, 0)
        return a.subtask_cancel(sub, async_=async_)

    with pytest.raises(Trap, match=re.escape(
            "`subtask.cancel` called after terminal status delivered")):
        _returned_subtask(store, then)


def test_sync_subtask_cancel_of_a_subtask_in_a_waitable_set_traps(store):
    def work(b, log):
        b.wait(b.waitable_set_new(), cancellable=True)
        b.task_cancel()

    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    work_f = b.export(ASYNC_U32, abi="stackful", name="work")(lambda: work(b, []))
    call = a.import_(work_f, ASYNC_U32, async_=True)

    def body():
        sub = call(a.alloc(4, 4)) >> 4
        a.waitable_join(sub, a.waitable_set_new())
        return a.subtask_cancel(sub, async_=False)

    with pytest.raises(Trap, match=SYNC_AND_ASYNC):
        run_async(store, a, body)


def test_async_subtask_cancel_of_a_subtask_in_a_waitable_set_is_allowed(store):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")

    @b.export(ASYNC_U32, abi="stackful")
    def work():
        b.wait(b.waitable_set_new(), cancellable=True)
        b.task_cancel()

    call = a.import_(work, ASYNC_U32, async_=True)

    def body():
        sub = call(a.alloc(4, 4)) >> 4
        ws = a.waitable_set_new()
        a.waitable_join(sub, ws)
        state = a.subtask_cancel(sub, async_=True)
        assert a.poll(ws) == (NONE, 0, 0)      # cancel consumed the event
        a.subtask_drop(sub)
        a.waitable_set_drop(ws)                 # the dropped subtask left the set
        return state

    assert run_async(store, a, body) == CANCELLED_BEFORE_RETURNED


@pytest.mark.parametrize("op", ["subtask_cancel", "subtask_drop"])
def test_subtask_builtins_on_a_non_subtask_trap(store, op):
    a = PyComponent(store, "a")
    with pytest.raises(Trap, match="handle is not a subtask"):
        run_async(store, a, lambda: getattr(a, op)(a.waitable_set_new()))


# -- subtask.drop -------------------------------------------------------------------------------


def test_subtask_drop_after_the_returned_event_also_leaves_the_waitable_set(store):
    def then(a, sub, ws):
        a.subtask_drop(sub)
        a.waitable_set_drop(ws)
        with pytest.raises(Trap, match=f"unknown handle index {sub}"):
            a.subtask_drop(sub)
        return sub

    assert _returned_subtask(store, then) == 1


def test_subtask_drop_of_a_resolved_subtask_whose_event_was_not_delivered_traps(store):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")

    @b.export(ASYNC_U32, abi="stackful")
    def slow():
        b.thread_yield()
        b.task_return(5)

    call = a.import_(slow, ASYNC_U32, async_=True)

    def body():
        sub = call(a.alloc(4, 4)) >> 4
        a.thread_yield()          # B has returned, but A was not told yet
        a.subtask_drop(sub)

    with pytest.raises(Trap, match="cannot drop a subtask which has not yet resolved"):
        run_async(store, a, body)


# -- waitable-set.new / wait / poll / drop, waitable.join --------------------------------------------


def _future_ready(a):
    """A future readable end of ``a`` with a pending FUTURE_READ event."""
    r, w = a.future_new(F_U32)
    assert a.future_read(F_U32, r, a.alloc(4, 4)) == BLOCKED
    assert a.future_write(F_U32, w, a.alloc(4, 4)) == COMPLETED
    return r, w


def test_waitable_set_poll_returns_none_then_the_event_and_wait_writes_the_payload(store):
    a = PyComponent(store, "a")

    def body():
        ws = a.waitable_set_new()
        r, w = a.future_new(F_U32)
        a.waitable_join(r, ws)
        assert a.poll(ws) == (NONE, 0, 0)
        assert a.future_read(F_U32, r, a.alloc(4, 4)) == BLOCKED
        assert a.poll(ws) == (NONE, 0, 0)
        assert a.future_write(F_U32, w, a.alloc(4, 4)) == COMPLETED
        a.memory.store_u32(a.scratch, 0xDEAD)
        assert a.waitable_set_poll(ws, a.scratch) == FUTURE_READ
        assert (a.memory.load_u32(a.scratch), a.memory.load_u32(a.scratch + 4)) == (r, COMPLETED)
        assert a.poll(ws) == (NONE, 0, 0)        # delivered once
        a.waitable_join(r, 0)
        a.future_drop_readable(F_U32, r)
        a.future_drop_writable(F_U32, w)
        a.waitable_set_drop(ws)
        return ws

    assert run_async(store, a, body) == 1


def test_waitable_set_wait_blocks_until_an_event_arrives_from_another_instance(store):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")

    @b.export(FuncType([], [F_U32], async_=True), abi="stackful")
    def get():
        r, w = b.future_new(F_U32)
        b.task_return(r)
        b.thread_yield()
        ptr = b.alloc(4, 4)
        b.memory.store_u32(ptr, 77)
        assert b.future_write(F_U32, w, ptr) == COMPLETED
        b.future_drop_writable(F_U32, w)

    call_get = a.import_(get, FuncType([], [F_U32], async_=True), async_=True)

    def body():
        retptr, val = a.alloc(4, 4), a.alloc(4, 4)
        assert call_get(retptr) == RETURNED
        r = a.memory.load_u32(retptr)
        ws = a.waitable_set_new()
        a.waitable_join(r, ws)
        assert a.future_read(F_U32, r, val) == BLOCKED
        assert a.wait(ws) == (FUTURE_READ, r, COMPLETED)
        return a.memory.load_u32(val)

    assert run_async(store, a, body) == 77


def test_waitable_join_moves_between_sets_and_zero_removes(store):
    a = PyComponent(store, "a")

    def body():
        ws1, ws2 = a.waitable_set_new(), a.waitable_set_new()
        r, w = _future_ready(a)
        a.waitable_join(r, ws1)
        a.waitable_join(r, ws2)                   # moved, not copied
        assert a.poll(ws1) == (NONE, 0, 0)
        a.waitable_set_drop(ws1)                  # empty now
        with pytest.raises(Trap, match="cannot drop waitable set with members"):
            a.waitable_set_drop(ws2)
        a.waitable_join(r, ws2)                   # re-joining the same set is fine
        a.waitable_join(r, 0)
        assert a.poll(ws2) == (NONE, 0, 0)        # the event stays with the waitable
        a.waitable_join(r, ws2)
        assert a.poll(ws2) == (FUTURE_READ, r, COMPLETED)
        a.waitable_join(r, 0)
        a.waitable_set_drop(ws2)
        return 0

    assert run_async(store, a, body) == 0


def test_waitable_set_drop_with_members_traps(store):
    a = PyComponent(store, "a")

    def body():
        ws = a.waitable_set_new()
        r, _ = a.future_new(F_U32)
        a.waitable_join(r, ws)
        a.waitable_set_drop(ws)

    with pytest.raises(Trap, match="cannot drop waitable set with members"):
        run_async(store, a, body)


def test_waitable_set_drop_while_another_thread_waits_on_it_traps(store):
    a = PyComponent(store, "a")

    def body():
        ws = a.waitable_set_new()
        a.thread_yield_then_resume(a.thread_new(lambda si: a.wait(si), ws))
        a.waitable_set_drop(ws)

    with pytest.raises(Trap, match="wasm trap: cannot drop waitable set with waiters"):
        run_async(store, a, body)


@pytest.mark.parametrize("op", ["wait", "poll", "drop"])
def test_waitable_set_builtins_on_another_handle_trap(store, op):
    a = PyComponent(store, "a")
    call = {"wait": lambda i: a.waitable_set_wait(i, 16), "poll": lambda i: a.waitable_set_poll(i, 16),
            "drop": a.waitable_set_drop}[op]

    def body():
        r, _ = a.future_new(F_U32)
        call(r)

    with pytest.raises(Trap, match="handle is not a waitable-set"):
        run_async(store, a, body)


def test_waitable_set_wait_on_an_unknown_index_traps(store):
    a = PyComponent(store, "a")
    with pytest.raises(Trap, match="unknown handle index 0"):
        run_async(store, a, lambda: a.waitable_set_wait(0, 16))


def test_waitable_join_of_a_non_waitable_traps(store):
    a = PyComponent(store, "a")

    def body():
        ws = a.waitable_set_new()
        a.waitable_join(ws, ws)

    with pytest.raises(Trap, match="handle is not a waitable$"):
        run_async(store, a, body)


def test_waitable_join_to_a_non_set_traps(store):
    a = PyComponent(store, "a")

    def body():
        r, w = a.future_new(F_U32)
        a.waitable_join(r, w)

    with pytest.raises(Trap, match="handle is not a waitable-set"):
        run_async(store, a, body)


def test_waitable_join_of_a_waitable_with_a_sync_waiter_traps(store):
    a = PyComponent(store, "a")

    def body():
        r, w = a.future_new(F_U32)
        reader = a.thread_new(lambda r: a.future_read(F_U32, r, a.alloc(4, 4), async_=False), r)
        a.thread_yield_then_resume(reader)        # the reader blocks synchronously on r
        a.waitable_join(r, a.waitable_set_new())

    with pytest.raises(Trap, match=SYNC_AND_ASYNC):
        run_async(store, a, body)


# -- error-context.new / debug-message / drop ---------------------------------------------------------


def test_error_context_new_debug_message_and_drop(store):
    a = PyComponent(store, "a")

    def body():
        ptr = a.alloc(16, 1)
        e = a.error_context_new(ptr, a.memory.store_str(ptr, "bööm"))
        out = a.alloc(8, 4)
        a.error_context_debug_message(e, out)
        sptr, slen = a.memory.load_u32(out), a.memory.load_u32(out + 4)
        assert sptr != ptr                   # a fresh copy, from realloc
        a.error_context_drop(e)
        return e, a.memory.load_str(sptr, slen)

    assert run_async(store, a, body) == (1, "bööm")


def test_an_error_context_passed_to_another_instance_keeps_its_message(store):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    ft = FuncType([("e", ErrorContextType())], [U32])

    @b.export(ft)
    def take(e):
        out = b.alloc(8, 4)
        b.error_context_debug_message(e, out)
        b.error_context_drop(e)
        return b.memory.load_u32(out + 4)

    call = a.import_(take, ft)

    def body():
        ptr = a.alloc(8, 1)
        e = a.error_context_new(ptr, a.memory.store_str(ptr, "oops"))
        n = call(e)
        a.error_context_drop(e)             # lifting did not take A's handle away
        return n

    assert run_sync(store, a, body) == 4


@pytest.mark.parametrize("op", ["debug_message", "drop"])
def test_error_context_builtins_on_another_handle_trap(store, op):
    a = PyComponent(store, "a")
    call = {"debug_message": lambda i: a.error_context_debug_message(i, 16),
            "drop": a.error_context_drop}[op]
    with pytest.raises(Trap, match="handle is not an error-context"):
        run_sync(store, a, lambda: call(a.waitable_set_new()))


def test_error_context_debug_message_after_drop_traps(store):
    a = PyComponent(store, "a")

    def body():
        e = a.error_context_new(0, 0)
        a.error_context_drop(e)
        a.error_context_debug_message(e, 16)

    with pytest.raises(Trap, match="unknown handle index 1"):
        run_sync(store, a, body)


# -- may_leave: no built-in or import during post-return or realloc ------------------------------------


MAY_NOT_LEAVE = {
    "resource.new": lambda c: c.resource_new(c.resource_type(), 1),
    "resource.drop": lambda c: c.resource_drop(c.resource_type(), 1),
    "task.return": lambda c: c.task_return(1),
    "task.cancel": lambda c: c.task_cancel(),
    "waitable-set.new": lambda c: c.waitable_set_new(),
    "waitable-set.wait": lambda c: c.waitable_set_wait(1, 16),
    "waitable-set.poll": lambda c: c.waitable_set_poll(1, 16),
    "waitable-set.drop": lambda c: c.waitable_set_drop(1),
    "waitable.join": lambda c: c.waitable_join(1, 0),
    "subtask.cancel": lambda c: c.subtask_cancel(1),
    "subtask.drop": lambda c: c.subtask_drop(1),
    "stream.new": lambda c: c.stream_new(S_U8),
    "stream.read": lambda c: c.stream_read(S_U8, 1, 0, 1),
    "stream.write": lambda c: c.stream_write(S_U8, 1, 0, 1),
    "stream.cancel-read": lambda c: c.stream_cancel_read(S_U8, 1),
    "stream.cancel-write": lambda c: c.stream_cancel_write(S_U8, 1),
    "stream.drop-readable": lambda c: c.stream_drop_readable(S_U8, 1),
    "stream.drop-writable": lambda c: c.stream_drop_writable(S_U8, 1),
    "future.new": lambda c: c.future_new(F_U32),
    "future.read": lambda c: c.future_read(F_U32, 1, 0),
    "future.write": lambda c: c.future_write(F_U32, 1, 0),
    "future.cancel-read": lambda c: c.future_cancel_read(F_U32, 1),
    "future.cancel-write": lambda c: c.future_cancel_write(F_U32, 1),
    "future.drop-readable": lambda c: c.future_drop_readable(F_U32, 1),
    "future.drop-writable": lambda c: c.future_drop_writable(F_U32, 1),
    "thread.index": lambda c: c.thread_index(),
    "thread.new-indirect": lambda c: c.thread_new(lambda x: None, 0),
    "thread.resume-later": lambda c: c.thread_resume_later(1),
    "thread.suspend": lambda c: c.thread_suspend(),
    "thread.yield": lambda c: c.thread_yield(),
    "thread.suspend-then-resume": lambda c: c.thread_suspend_then_resume(1),
    "thread.yield-then-resume": lambda c: c.thread_yield_then_resume(1),
    "thread.suspend-then-promote": lambda c: c.thread_suspend_then_promote(1),
    "thread.yield-then-promote": lambda c: c.thread_yield_then_promote(1),
    "error-context.new": lambda c: c.error_context_new(0, 0),
    "error-context.debug-message": lambda c: c.error_context_debug_message(1, 16),
    "error-context.drop": lambda c: c.error_context_drop(1),
}


@pytest.mark.parametrize("builtin", sorted(MAY_NOT_LEAVE))
def test_calling_a_builtin_from_post_return_traps(store, builtin):
    a = PyComponent(store, "a")

    @a.export(SYNC_U32, post_return=lambda result: MAY_NOT_LEAVE[builtin](a))
    def run():
        return 1

    with pytest.raises(Trap, match=CANNOT_LEAVE):
        store.call(run, [])


def test_calling_an_import_from_post_return_traps(store):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    called = []

    @b.export(SYNC_NONE)
    def noop():
        called.append(1)

    call = a.import_(noop, SYNC_NONE)

    @a.export(SYNC_U32, post_return=lambda result: call())
    def run():
        return 1

    with pytest.raises(Trap, match=CANNOT_LEAVE):
        store.call(run, [])
    assert called == []


def test_post_return_runs_after_the_result_was_lowered_into_the_caller(store):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    log, retptrs = [], []
    ft = FuncType([], [StringType()])

    def post_return(ret):          # gets B's core result: the pointer to (ptr, len)
        log.append(("post-return", b.memory.load_u32(ret + 4),
                    a.memory.load_u32(retptrs[0] + 4)))

    @b.export(ft, post_return=post_return)
    def name():
        ptr, ret = b.alloc(8, 1), b.alloc(8, 4)
        b.memory.store_u32(ret, ptr)
        b.memory.store_u32(ret + 4, b.memory.store_str(ptr, "bee"))
        return ret

    call = a.import_(name, ft)

    def body():
        retptrs.append(a.alloc(8, 4))
        call(retptrs[0])
        log.append("caller resumes")
        return a.memory.load_str(a.memory.load_u32(retptrs[0]), a.memory.load_u32(retptrs[0] + 4))

    assert run_sync(store, a, body) == "bee"
    assert log == [("post-return", 3, 3), "caller resumes"]
    assert store.call(name, []) == ["bee"]


def test_calling_a_builtin_from_realloc_traps(store):
    """B's realloc runs (on B's new task) while the string argument is lowered into B."""
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    ft = FuncType([("s", StringType())], [U32])
    ran = []

    def bad_realloc(old_ptr, old_size, align, new_size):
        b.waitable_set_new()
        return 2048

    b.realloc = bad_realloc

    @b.export(ft)
    def length(ptr, n):
        ran.append(n)
        return n

    call = a.import_(length, ft)

    def body():
        ptr = a.alloc(4, 1)
        return call(ptr, a.memory.store_str(ptr, "abc"))

    with pytest.raises(Trap, match=CANNOT_LEAVE):
        run_sync(store, a, body)
    assert ran == []


# -- the value ABI through calls -------------------------------------------------------------------------


def test_more_than_16_flat_params_are_spilled_to_memory_on_both_sides(store):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    many_t = FuncType([(f"p{i}", U32) for i in range(17)], [U32])
    seen = []

    @b.export(many_t)
    def total(ptr):                       # one pointer into B's memory, from B's realloc
        seen.append(ptr >= 1024)
        return sum(b.memory.load_u32(ptr + 4 * i) for i in range(17))

    call = a.import_(total, many_t)

    def body():
        ptr = a.alloc(4 * 17, 4)
        for i in range(17):
            a.memory.store_u32(ptr + 4 * i, i + 1)
        return call(ptr)                  # and one pointer from A's side too

    assert run_sync(store, a, body) == sum(range(1, 18))
    assert store.call(total, list(range(17))) == [sum(range(17))]
    assert seen == [True, True]


def test_more_than_4_flat_params_of_an_async_lower_are_passed_by_pointer(store):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    five_t = FuncType([(f"p{i}", U32) for i in range(5)], [U32], async_=True)

    @b.export(five_t, abi="stackful")
    def total(*ps):                       # the async lift still gets 5 flat params
        b.task_return(sum(ps) + 1000 * len(ps))

    call = a.import_(total, five_t, async_=True)

    def body():
        ptr, retptr = a.alloc(20, 4), a.alloc(4, 4)
        for i in range(5):
            a.memory.store_u32(ptr + 4 * i, 10 * i)
        assert call(ptr, retptr) == RETURNED
        return a.memory.load_u32(retptr)

    assert run_async(store, a, body) == 5100


@pytest.mark.parametrize("callee_encoding", ["utf8", "utf16"])
def test_a_string_is_lowered_through_realloc_in_each_direction(store, callee_encoding):
    a = PyComponent(store, "a")
    b = PyComponent(store, "b", string_encoding=callee_encoding)
    greet_t = FuncType([("name", StringType())], [StringType()])
    codec = "utf-8" if callee_encoding == "utf8" else "utf-16-le"
    unit = 1 if callee_encoding == "utf8" else 2

    @b.export(greet_t)
    def greet(ptr, units):
        name = b.memory.read(ptr, units * unit).decode(codec)
        data = f"hello {name}".encode(codec)
        out, ret = b.alloc(len(data), 2), b.alloc(8, 4)
        b.memory.write(out, data)
        b.memory.store_u32(ret, out)
        b.memory.store_u32(ret + 4, len(data) // unit)
        return ret

    call = a.import_(greet, greet_t)
    seen = []

    def body():
        p = a.alloc(16, 1)
        n = a.memory.store_str(p, "wörld")
        retptr = a.alloc(8, 4)
        top = a._heap_top
        call(p, n, retptr)                            # the result goes through A's realloc
        sptr, slen = a.memory.load_u32(retptr), a.memory.load_u32(retptr + 4)
        seen.append((sptr >= top, a.memory.load_str(sptr, slen)))
        return slen

    assert run_sync(store, a, body) == len("hello wörld".encode())
    assert seen == [(True, "hello wörld")]
    assert store.call(greet, ["host"]) == ["hello host"]


def test_a_list_result_is_lowered_through_the_callers_realloc(store):
    a, b = PyComponent(store, "a"), PyComponent(store, "b")
    ft = FuncType([("n", U32)], [ListType(U32)])

    @b.export(ft)
    def squares(n):
        out, ret = b.alloc(4 * n, 4), b.alloc(8, 4)
        for i in range(n):
            b.memory.store_u32(out + 4 * i, i * i)
        b.memory.store_u32(ret, out)
        b.memory.store_u32(ret + 4, n)
        return ret

    call = a.import_(squares, ft)

    def body():
        retptr = a.alloc(8, 4)
        call(5, retptr)
        ptr, n = a.memory.load_u32(retptr), a.memory.load_u32(retptr + 4)
        return [a.memory.load_u32(ptr + 4 * i) for i in range(n)]

    assert run_sync(store, a, body) == [0, 1, 4, 9, 16]

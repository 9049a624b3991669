"""The continuation core: cont.new / resume / suspend on greenlets."""

import gc

import pytest

from stackswitch import stacks, trace
from stackswitch.stacks import Continuation, StackError, suspend


def test_resume_runs_until_suspend_and_passes_values_both_ways():
    seen = []

    def body(first):
        seen.append(first)
        second = suspend("out-1")
        seen.append(second)
        return "result"

    c = Continuation(body, "c")
    assert c.state == stacks.NEW
    assert c.resume("in-1") == (False, "out-1")
    assert c.state == stacks.SUSPENDED
    assert c.resume("in-2") == (True, "result")
    assert c.state == stacks.FINISHED
    assert seen == ["in-1", "in-2"]


def test_finished_continuation_cannot_be_resumed():
    c = Continuation(lambda v: v)
    c.resume(1)
    with pytest.raises(StackError, match="finished"):
        c.resume(2)


def test_running_continuation_cannot_be_resumed():
    holder = {}

    def body(_):
        holder["c"].resume(None)

    holder["c"] = c = Continuation(body)
    with pytest.raises(StackError, match="running"):
        c.resume(None)


def test_suspend_outside_any_continuation_is_a_host_error():
    with pytest.raises(StackError, match="outside"):
        suspend(1)


def test_suspend_returns_to_the_innermost_resumer():
    log = []

    def inner(_):
        log.append("inner start")
        suspend("inner suspended")
        log.append("inner resumed")
        return "inner done"

    inner_c = Continuation(inner, "inner")

    def outer(_):
        log.append(("outer got", inner_c.resume(None)))
        suspend("outer suspended")
        return "outer done"

    outer_c = Continuation(outer, "outer")
    assert outer_c.resume(None) == (False, "outer suspended")
    # The inner continuation can now be resumed by somebody else (the host).
    assert inner_c.resume(None) == (True, "inner done")
    assert outer_c.resume(None) == (True, "outer done")
    assert log == ["inner start", ("outer got", (False, "inner suspended")), "inner resumed"]
    assert stacks.current() is None


def test_exception_propagates_to_the_resumer_and_finishes_the_stack():
    def body(_):
        suspend()
        raise ValueError("boom")

    c = Continuation(body)
    c.resume()
    with pytest.raises(ValueError, match="boom"):
        c.resume()
    assert c.state == stacks.FINISHED
    assert stacks.current() is None


def test_every_switch_is_observable():
    c = Continuation(lambda _: suspend(), "watched")
    with trace.Recorder(("stack.",)) as rec:
        c.resume()
        c.resume()
    assert [e.kind for e in rec.events] == ["stack.resume", "stack.suspend", "stack.resume", "stack.return"]
    assert all(e.fields["stack"] == "watched" for e in rec.events)


def test_switch_count_counts_resumes_and_suspends():
    before = trace.counts["switches"]
    c = Continuation(lambda _: suspend())
    c.resume()
    c.resume()
    assert trace.counts["switches"] - before == 3  # resume, suspend, resume (return goes via the parent)


def test_switching_can_be_forbidden_and_restored():
    c = Continuation(lambda _: suspend(), "parked")
    c.resume()

    class NoSwitch(StackError):
        pass

    token = stacks.forbid_switching(NoSwitch, "not on this stack")
    try:
        with pytest.raises(NoSwitch, match="not on this stack"):
            c.resume()
        with pytest.raises(NoSwitch, match="not on this stack"):
            suspend()
    finally:
        stacks.restore_switching(token)
    assert c.resume() == (True, None)


def test_a_stack_reused_from_the_pool_returns_to_its_new_resumer():
    # The inner continuation finishes while resumed from the outer one, so its
    # greenlet goes back to the pool; the next continuation, resumed from the
    # host, must suspend to the host, not to the outer continuation.
    def inner_body(v):
        return v + 1

    def outer_body(_):
        assert Continuation(inner_body).resume(1) == (True, 2)
        return suspend("outer waits")

    outer = Continuation(outer_body)
    assert outer.resume(None) == (False, "outer waits")
    reused = Continuation(lambda v: suspend(v * 10))
    assert reused.resume(4) == (False, 40)
    assert reused.resume("done") == (True, "done")
    assert outer.resume("back") == (True, "back")


def test_pooled_stacks_run_many_continuations_and_survive_errors():
    results = []
    for i in range(3 * stacks.POOL_SIZE):
        c = Continuation(lambda v: suspend(v) + 1, str(i))
        assert c.resume(i) == (False, i)
        if i % 7 == 0:
            with pytest.raises(ZeroDivisionError):
                Continuation(lambda v: v / 0).resume(i)
        results.append(c.resume(i)[1])
    assert results == [i + 1 for i in range(3 * stacks.POOL_SIZE)]
    assert stacks.current() is None


def test_killing_a_suspended_continuation_unwinds_it_and_frees_its_stack():
    unwound = []

    def body(_):
        try:
            suspend("parked")
        finally:
            unwound.append(True)

    c = Continuation(body)
    c.resume(None)
    c.kill()
    assert unwound == [True] and c.state == stacks.FINISHED
    assert Continuation(lambda v: v * 2).resume(21) == (True, 42)


def test_stacks_beyond_the_pool_size_end_when_their_function_returns():
    many = [Continuation(lambda v: suspend(v) * 2, str(i)) for i in range(stacks.POOL_SIZE + 5)]
    for i, c in enumerate(many):
        assert c.resume(i) == (False, i)
    assert [c.resume(i)[1] for i, c in enumerate(many)] == [
        i * 2 for i in range(stacks.POOL_SIZE + 5)]
    assert len(stacks._pool()) <= stacks.POOL_SIZE


def test_a_resume_that_fails_before_switching_leaves_other_stacks_alone():
    # greenlet refuses to switch to a stack from another OS thread: that error comes
    # before the switch, so it must not touch the stack that ran last (c2).
    import threading

    def body(_):
        stacks.suspend("first")
        return "done"

    c1, c2 = stacks.Continuation(body, "c1"), stacks.Continuation(body, "c2")
    assert c1.resume() == (False, "first") and c2.resume() == (False, "first")
    errors = []

    def elsewhere():
        try:
            c1.resume()
        except BaseException as e:  # noqa: BLE001 (the test looks at it)
            errors.append(e)

    worker = threading.Thread(target=elsewhere)
    worker.start()
    worker.join()
    assert errors and c2.state == "suspended"
    assert c2.resume() == (True, "done")


def test_running_a_script_again_and_again_does_not_use_up_recursion_depth(monkeypatch):
    # A greenlet keeps the recursion depth of whoever first switched into it. Pooled
    # greenlets that started others, pooled in turn, once lost ~14 frames per run of
    # this script, until RecursionError (and, on a fiber, a crash) after ~60 runs.
    from pathlib import Path

    from stackswitch.cli.wast import converted, run_converted

    def free_depth() -> int:
        depth = 0

        def down() -> None:
            nonlocal depth
            depth += 1
            down()

        # No collection at the limit: a finalizer run there (a wasmtime store's)
        # fails with RecursionError, and so does the hook reporting it.
        enabled = gc.isenabled()
        gc.disable()
        try:
            down()
        except RecursionError:
            pass
        finally:
            if enabled:
                gc.enable()
        return depth

    seen: list[int] = []

    class Measuring(Continuation):  # (a subclass: the compiled build's type is immutable)
        def __init__(self, fn, name=""):
            def measured(value, fn=fn):
                seen.append(free_depth())
                return fn(value)
            super().__init__(measured, name)

    monkeypatch.setattr(stacks, "Continuation", Measuring)  # every stack is made there
    monkeypatch.setattr(stacks._local, "pool", [], raising=False)  # none from other tests
    lows = []
    with converted(Path(__file__).parent / "wast" / "backpressure.wast") as script:
        for _ in range(40):
            seen.clear()
            assert not run_converted(script, out=lambda line: None, policy="fifo").failed
            lows.append(min(seen))
    assert min(lows[-10:]) >= min(lows[:3]) - 50  # (it lost about 500 by run 40)

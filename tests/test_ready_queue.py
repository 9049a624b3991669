"""The ready queue: a waiting thread is asked ``ready()`` again only after something it
waits on changed (a wait key was touched), or on every tick if its condition is an
arbitrary predicate. ``Scheduler.checks`` counts the ``ready()`` calls."""

import pytest
from builtin_helpers import BLOCKED, COMPLETED, EXIT, F_U32, U32, WAIT, YIELD

from stackswitch.canon import strategy as strategies
from stackswitch.canon.store import Store
from stackswitch.canon.types import FuncType
from stackswitch.embed.guest import PyComponent
from stackswitch.embed.host import wait_until, yield_
from stackswitch.scheduler import (
    ChoicePoint,
    Deadlock,
    Recorder,
    Scheduler,
    WaitKey,
    policy_named,
)

ONE_U32 = FuncType([("i", U32)], [], async_=True)


class Waiters:
    """Tasks of one component, each blocked in ``waitable-set.wait`` on a set of its own
    (an async read of a future of its own); ``fire(i)`` writes waiter i's future."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.woke: list[int] = []
        self.writers: dict[int, int] = {}
        c = self.comp = PyComponent(store, "c")
        buf = c.alloc(4, 4)

        @c.export(ONE_U32, abi="stackful")
        def wait_on(i):
            r, w = c.future_new(F_U32)
            self.writers[i] = w
            assert c.future_read(F_U32, r, buf) == BLOCKED
            ws = c.waitable_set_new()
            c.waitable_join(r, ws)
            c.wait(ws)
            self.woke.append(i)
            c.task_return()

        @c.export(ONE_U32, abi="stackful")
        def fire(i):
            assert c.future_write(F_U32, self.writers[i], buf) == COMPLETED
            c.task_return()

        self.wait_on, self.fire = wait_on, fire

    def start(self, n: int) -> None:
        for i in range(n):
            assert not self.store.invoke(self.wait_on, [i]).resolved
        self.store.run()  # the scheduler looks at each new waiter once

    def fire_all(self, *indices: int) -> None:
        for i in indices:
            assert self.store.invoke(self.fire, [i]).resolved


def full_scan(scheduler):
    return [t for t in scheduler.waiting if t.ready()]


# -- the runtime: which threads an event wakes ------------------------------------------


def test_an_event_on_one_set_checks_only_the_thread_waiting_on_it(store):
    w = Waiters(store)
    w.start(50)
    checks = store.scheduler.checks
    w.fire_all(17)
    assert store.run() == 1
    assert w.woke == [17]
    assert store.scheduler.checks - checks == 1  # waiter 17, ready; the 49 others never asked
    assert len(store.scheduler.waiting) == 49


def test_threads_made_ready_together_run_longest_waiting_first(store):
    w = Waiters(store)
    w.start(6)
    w.fire_all(4, 2, 0, 5)
    store.run()
    assert w.woke == [0, 2, 4, 5]


@pytest.mark.parametrize("policy", ["random:3", "replay:1.2"])
def test_other_policies_see_every_ready_thread(policy):
    store = Store(policy)
    w = Waiters(store)
    w.start(8)
    w.fire_all(6, 1, 3)
    assert store.scheduler.ready_threads() == full_scan(store.scheduler)
    assert len(store.scheduler.ready_threads()) == 3
    store.run()
    assert sorted(w.woke) == [1, 3, 6]


def test_deadlock_is_still_reported_with_every_waiting_thread(store):
    w = Waiters(store)
    w.start(3)
    with pytest.raises(Deadlock) as info:
        store.call(w.wait_on, [3])
    assert len(info.value.waiting) == 4
    assert all("waitable-set.wait" in line for line in info.value.waiting)


@pytest.mark.parametrize("strategy", ["stackful", "callback"])
def test_callback_waiters_are_not_asked_each_time_the_instance_lock_is_released(strategy):
    """A callback-lifted task waiting on a set with no event watches the set only; the
    lock (taken and released around every callback) matters once an event is pending."""
    store = Store(strategy=strategies.named(strategy))
    c = PyComponent(store, "c")
    buf = c.alloc(4, 4)
    readers, writers, woke = {}, {}, []

    def on_event(event, index, payload):
        woke.append(index)
        c.task_return()
        return EXIT

    @c.export(ONE_U32, abi="callback", callback=on_event)
    def wait_on(i):
        r, w = c.future_new(F_U32)
        readers[i], writers[i] = r, w
        assert c.future_read(F_U32, r, buf) == BLOCKED
        ws = c.waitable_set_new()
        c.waitable_join(r, ws)
        return WAIT | (ws << 4)

    def again(event, index, payload):
        c.context_set(0, c.context_get(0) - 1)
        if c.context_get(0) == 0:
            c.task_return()
            return EXIT
        return YIELD

    @c.export(ONE_U32, abi="callback", callback=again)
    def spin(n):
        c.context_set(0, n)
        return YIELD

    @c.export(ONE_U32, abi="stackful")
    def fire(i):
        assert c.future_write(F_U32, writers[i], buf) == COMPLETED
        c.task_return()

    for i in range(30):
        store.invoke(wait_on, [i])
    store.run()
    checks = store.scheduler.checks
    store.call(spin, [20])
    assert store.scheduler.checks - checks <= 25  # ~1 per yield, not 30 per yield
    store.call(fire, [4])
    store.run()
    assert woke == [readers[4]]  # the event's index: waiter 4's future


def test_a_callback_task_whose_event_came_while_the_lock_was_held_wakes_on_release(store):
    """A's event arrives while B holds the instance's lock (B is blocked in a sync call):
    A is found not ready, then must be woken when B releases the lock."""
    c = PyComponent(store, "c")
    buf = c.alloc(4, 4)
    log, writers = [], []

    def slow():
        yield_()
        log.append("slow done")

    host_slow = store.host_function(slow, FuncType([], [], async_=True), name="slow")
    call_slow = c.import_(host_slow, FuncType([], [], async_=True))

    def a_event(event, index, payload):
        log.append("a woke")
        c.task_return()
        return EXIT

    @c.export(FuncType([], [], async_=True), abi="callback", callback=a_event)
    def a():
        r, w = c.future_new(F_U32)
        writers.append(w)
        assert c.future_read(F_U32, r, buf) == BLOCKED
        ws = c.waitable_set_new()
        c.waitable_join(r, ws)
        return WAIT | (ws << 4)

    @c.export(ONE_U32, abi="callback", callback=lambda *event: EXIT)
    def b(w):
        assert c.future_write(F_U32, w, buf) == COMPLETED  # A's event is pending now
        call_slow()                                        # blocks, holding the lock
        log.append("b done")
        c.task_return()
        return EXIT

    store.invoke(a, [])
    call = store.invoke(b, writers)
    store.run()
    assert call.resolved
    assert log == ["slow done", "b done", "a woke"]


def test_a_task_waiting_out_backpressure_wakes_when_it_drops(store):
    b = PyComponent(store, "b")
    ran = []

    @b.export(FuncType([], []))
    def hold():
        b.backpressure_inc()

    @b.export(FuncType([], []))
    def release():
        b.backpressure_dec()

    @b.export(ONE_U32, abi="stackful")
    def work(i):
        ran.append(i)
        b.task_return()

    store.call(hold, [])
    call = store.invoke(work, [1])
    store.run()
    assert not call.resolved and ran == []
    store.call(release, [])  # a host call: touches the instance's enter key
    store.run()
    assert call.resolved and ran == [1]


def test_a_host_predicate_is_asked_on_every_tick_until_it_holds(store):
    flag = {"go": False}

    def blocked():
        wait_until(lambda: flag["go"], "the flag")
        return 7

    host = store.host_function(blocked, FuncType([], [U32], async_=True), name="blocked")
    call = store.invoke(host, [])
    checks = store.scheduler.checks
    assert not store.tick() and not store.tick()
    assert store.scheduler.checks - checks == 2
    flag["go"] = True  # nothing is touched: polling finds it
    assert store.tick()
    assert call.value == [7]


# -- the scheduler alone ------------------------------------------------------------------


class FakeThread:
    def __init__(self, name, scheduler, log):
        self.name, self.scheduler, self.log = name, scheduler, log
        self.is_ready = False
        self.asked = 0

    def ready(self):
        self.asked += 1
        return self.is_ready

    def resume_from_host(self):
        self.log.append(self.name)
        self.scheduler.remove_waiting(self)

    def describe_wait(self):
        return f"{self.name}: a key"


def test_touching_a_key_makes_only_its_waiters_candidates():
    s, log = Scheduler(), []
    a, b, k_a, k_b = FakeThread("a", s, log), FakeThread("b", s, log), WaitKey(), WaitKey()
    s.add_waiting(a, (k_a,))
    s.add_waiting(b, (k_b,))
    assert s.next_ready() is None and (a.asked, b.asked) == (1, 1)  # both start as candidates
    assert s.next_ready() is None and (a.asked, b.asked) == (1, 1)  # neither asked again
    b.is_ready = True
    k_b.touch()
    assert s.tick() and log == ["b"]
    assert (a.asked, b.asked) == (1, 2)
    k_b.touch()  # nobody waits on it any more
    assert not s.tick() and a.asked == 1


def test_a_thread_with_no_keys_is_polled_and_one_with_empty_keys_is_asked_once():
    s, log = Scheduler(), []
    polled, constant = FakeThread("polled", s, log), FakeThread("constant", s, log)
    s.add_waiting(polled)
    s.add_waiting(constant, ())
    for _ in range(3):
        assert s.next_ready() is None
    assert (polled.asked, constant.asked) == (3, 1)
    polled.is_ready = True
    assert s.tick() and log == ["polled"]


def test_fifo_among_candidates_follows_the_order_threads_started_waiting():
    s, log = Scheduler(), []
    threads = [FakeThread(str(i), s, log) for i in range(4)]
    keys = [WaitKey() for _ in threads]
    for t, k in zip(threads, keys, strict=True):
        s.add_waiting(t, (k,))
    assert s.next_ready() is None
    for i in (3, 1, 2):
        threads[i].is_ready = True
        keys[i].touch()
    assert s.run_all() == 3
    assert log == ["1", "2", "3"]


def test_random_choices_are_offered_exactly_the_ready_threads():
    policy = Recorder(policy_named("random:1"))
    s, log = Scheduler(policy), []
    threads = [FakeThread(str(i), s, log) for i in range(5)]
    key = WaitKey()
    for t in threads:
        s.add_waiting(t, (key,))
    assert s.next_ready() is None
    for i in (0, 2, 4):
        threads[i].is_ready = True
    key.touch()
    assert s.ready_threads() == [threads[0], threads[2], threads[4]]
    s.tick()
    assert policy.decisions[-1].point == ChoicePoint.NEXT_THREAD
    assert policy.decisions[-1].options == 3


def test_deadlock_lists_waiters_that_are_not_candidates():
    s, log = Scheduler(), []
    s.add_waiting(FakeThread("a", s, log), (WaitKey(),))
    assert s.next_ready() is None
    with pytest.raises(Deadlock) as info:
        s.run_until(lambda: False)
    assert info.value.waiting == ["a: a key"]

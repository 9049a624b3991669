"""The host scheduler: FIFO and seeded-random policies, deadlock reports."""

import pytest

from stackswitch.errors import Trap
from stackswitch.scheduler import DEADLOCK_MESSAGE, Deadlock, Scheduler


class FakeThread:
    def __init__(self, name, log, ready=True):
        self.name = name
        self.log = log
        self.is_ready = ready

    def ready(self):
        return self.is_ready

    def resume_from_host(self):
        self.log.append(self.name)

    def describe_wait(self):
        return f"{self.name}: something"


def test_fifo_picks_the_longest_waiting_ready_thread():
    log = []
    s = Scheduler()
    a, b, c = FakeThread("a", log, ready=False), FakeThread("b", log), FakeThread("c", log)
    for t in (a, b, c):
        s.add_waiting(t)
    assert s.next_ready() is b
    s.tick()
    assert log == ["b"]
    assert s.choose([c, a]) is c
    assert s.shuffled([1, 2, 3]) == [1, 2, 3]
    # FIFO keeps running when a wait is already satisfied, but a yield yields.
    assert s.keep_running() and not s.keep_running(yielding=True)


def test_random_policy_is_reproducible_from_its_seed():
    def order(seed):
        s = Scheduler(f"random:{seed}")
        return [s.choose(list(range(10))) for _ in range(20)]

    assert order(7) == order(7)
    assert order(7) != order(8)


def test_bad_policies_are_rejected_with_a_clear_error():
    with pytest.raises(ValueError, match="unknown scheduler policy"):
        Scheduler("lifo")
    with pytest.raises(ValueError, match="seed must be an integer"):
        Scheduler("random:x")


def test_run_until_reports_deadlock_with_what_each_thread_waits_on():
    s = Scheduler()
    s.add_waiting(FakeThread("t1", [], ready=False))
    with pytest.raises(Deadlock) as info:
        s.run_until(lambda: False)
    assert isinstance(info.value, Trap)
    assert DEADLOCK_MESSAGE in str(info.value)
    assert "t1: something" in str(info.value)
    assert info.value.waiting == ["t1: something"]


def test_run_all_runs_while_anything_is_ready():
    log = []
    s = Scheduler()
    t = FakeThread("t", log)
    s.add_waiting(t)

    def resume():
        log.append("t")
        s.remove_waiting(t)

    t.resume_from_host = resume
    assert s.run_all() == 1
    assert s.waiting == []

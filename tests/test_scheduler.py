"""The host scheduler: choice points, FIFO / seeded-random / replay policies, deadlock reports."""

import pytest

from stackswitch.errors import Trap
from stackswitch.scheduler import (
    DEADLOCK_MESSAGE,
    ChoicePoint,
    Deadlock,
    Recorder,
    Replay,
    Scheduler,
    decode_choices,
    encode_choices,
)


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
    assert s.choose([c, a], ChoicePoint.EVENT) is c
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
    with pytest.raises(ValueError, match="malformed replay token"):
        Scheduler("replay:1.?")


@pytest.mark.parametrize("choices", [[], [0, 0], [1], [0, 3, 0, 0, 0, 40, 1, 0], [0] * 5 + [2],
                                     [35, 36, 1295, 1296]])
def test_a_token_lists_the_decisions_up_to_the_last_one_that_is_not_fifos(choices):
    token = encode_choices(choices)
    assert " " not in token and token
    expected = list(choices)
    while expected and expected[-1] == 0:
        expected.pop()
    assert decode_choices(token) == expected


def test_replay_makes_the_listed_decisions_then_fifos_and_records_them():
    policy = Recorder(Replay([2, 0, 1]))
    s = Scheduler(policy)
    assert s.choose("abc") == "c"
    assert s.choose("ab") == "a"
    assert not s.keep_running()  # option 1 at a satisfied wait: block anyway
    assert s.choose("abcd") == "a"  # past the token: FIFO's choice
    assert s.choose("x") == "x"  # one option is no choice: not recorded
    assert [(d.point, d.options, d.chosen) for d in policy.decisions] == [
        (ChoicePoint.NEXT_THREAD, 3, 2), (ChoicePoint.NEXT_THREAD, 2, 0),
        (ChoicePoint.KEEP_RUNNING, 2, 1), (ChoicePoint.NEXT_THREAD, 4, 0)]


def test_a_replayed_option_out_of_range_falls_back_to_fifo():
    s = Scheduler("replay:5")
    assert s.choose("ab") == "a"


def test_a_yield_blocks_under_fifo_and_option_1_keeps_running():
    assert Scheduler("replay:1").keep_running(yielding=True)
    assert not Scheduler().keep_running(yielding=True)


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

"""Which member's event a waitable set delivers under FIFO: the first joined among those
with an event pending. The set finds it through a heap on join numbers with stale
entries; these tests compare it with the definition (a walk over the members in join
order) through every way a member's state changes."""

import random

from stackswitch.canon.waitables import EventCode, Waitable, WaitableSet


def _event() -> tuple[EventCode, int, int]:
    return (EventCode.NONE, 0, 0)


def _first_by_walk(wset: WaitableSet) -> Waitable | None:
    return next((w for w in wset.elems if w.pending_event is not None), None)


def test_first_ready_is_the_first_joined_with_an_event_through_random_changes():
    rng = random.Random(15)
    sets = [WaitableSet() for _ in range(3)]
    waitables = [Waitable() for _ in range(40)]
    for _ in range(20_000):
        w = rng.choice(waitables)
        op = rng.randrange(5)
        if op == 0:  # join a set (or re-join its own: it moves to the end)
            w.join(rng.choice(sets))
        elif op == 1:
            w.join(None)
        elif op == 2:
            w.set_pending_event(_event)
        elif op == 3 and w.pending_event is not None:  # taken by a synchronous waiter
            w.get_pending_event()
        elif op == 4:  # the set delivers its FIFO choice
            wset = rng.choice(sets)
            first = wset._first_ready()
            assert first is _first_by_walk(wset)
            if first is not None:
                first.get_pending_event()
        for wset in sets:
            assert wset.has_pending_event() == (_first_by_walk(wset) is not None)
            assert len(wset._ready) <= 2 * len(waitables) + 9  # stale entries stay bounded


def test_stale_entries_do_not_pile_up_in_a_set_nobody_waits_on():
    wset = WaitableSet()
    w = Waitable()
    for _ in range(10_000):
        w.join(wset)
        w.set_pending_event(_event)
        w.join(None)
        w.get_pending_event()
    assert len(wset._ready) <= 2 * 1 + 9

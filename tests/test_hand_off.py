"""The hand-off: a thread the scheduler's loop resumed hands the quantum straight to the
next ready thread when it blocks (``Scheduler.successor``, ``Thread._block``), one
stack switch instead of two. It must not change the run: the same trace events in the
same order (``stack.*`` included), the same decisions offered to and recorded from the
policy, the same results. These tests run the same scripts both ways and compare."""

import json
from pathlib import Path

import pytest

from stackswitch import trace
from stackswitch.canon import store
from stackswitch.cli import main
from stackswitch.cli.wast import run_wast_file
from stackswitch.scheduler import Recorder, Scheduler, policy_named

WAST_DIR = Path(__file__).parent / "wast"
SCRIPTS = sorted(WAST_DIR.glob("*.wast"))


def _set_hand_offs(monkeypatch: pytest.MonkeyPatch, hand_offs: bool,
                   **overrides: object) -> None:
    """New stores get a scheduler with ``hand_offs`` (and ``overrides``) set. A subclass, not
    the class itself, is patched: the compiled build's ``Scheduler`` is an immutable type."""
    patched = type("PatchedScheduler", (Scheduler,), {"hand_offs": hand_offs, **overrides})
    monkeypatch.setattr(store, "Scheduler", patched)


def _run(path: Path, spec: str, strategy: str, hand_offs: bool,
         monkeypatch: pytest.MonkeyPatch) -> tuple[list, list, int, int]:
    _set_hand_offs(monkeypatch, hand_offs)
    policy = Recorder(policy_named(spec))
    with trace.Recorder() as rec:
        result = run_wast_file(path, out=lambda _: None, policy=policy, strategy=strategy)
    events = [str(e) for e in rec.events]
    decisions = [(d.point, d.options, d.chosen) for d in policy.decisions]
    return events, decisions, result.passed, result.failed


@pytest.mark.parametrize("strategy", ["stackful", "callback"])
@pytest.mark.parametrize("spec", ["fifo", "random:3", "random:15"])
@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_a_run_is_the_same_with_and_without_hand_offs(path, spec, strategy, monkeypatch):
    with_hand_offs = _run(path, spec, strategy, True, monkeypatch)
    without = _run(path, spec, strategy, False, monkeypatch)
    assert with_hand_offs[2:] == without[2:]
    assert with_hand_offs[1] == without[1]
    assert with_hand_offs[0] == without[0]


def test_hand_offs_happen(monkeypatch):
    """Not vacuous: in the scripts, some blocking threads do hand off (one switch each)."""
    counts = {}
    for hand_offs in (True, False):
        before = trace.counts["switches"]
        ticks = 0

        def counting(self, thread):
            nonlocal ticks
            ticks += 1
            Scheduler.hand_off(self, thread)

        _set_hand_offs(monkeypatch, hand_offs, hand_off=counting)
        run_wast_file(WAST_DIR / "three-components.wast", out=lambda _: None)
        counts[hand_offs] = (trace.counts["switches"] - before, ticks)
    assert counts[False][1] == 0 and counts[True][1] > 0
    assert counts[True][0] == counts[False][0]  # a hand-off counts as a suspend and a resume


EXPLORE_DIR = Path(__file__).parent / "explore"


@pytest.mark.parametrize("strategy", ["stackful", "callback"])
@pytest.mark.parametrize("script", ["race.wast", "keep-running.wast",
                                    "../wast/three-components.wast"])
def test_the_explorer_enumerates_the_same_schedules_with_and_without_hand_offs(
        script, strategy, capsys, monkeypatch):
    reports = []
    for hand_offs in (True, False):
        _set_hand_offs(monkeypatch, hand_offs)
        main(["explore", str(EXPLORE_DIR / script), "--strategy", strategy, "--max-runs", "200",
              "--json", "--quiet"])
        report = json.loads(capsys.readouterr().out)
        del report["seconds"]
        reports.append(report)
    assert reports[0] == reports[1]
    assert reports[0]["schedules"] > 1


@pytest.mark.parametrize("hand_offs", [False, True])
def test_a_host_predicate_that_raises_reaches_the_loop_not_the_blocking_thread(
        hand_offs, monkeypatch):
    # b blocks at the top of a quantum; choosing its successor asks a's predicate, which
    # raises. With or without a hand-off the error comes out of run_until, and b stays
    # suspended where it blocked (the error is not b's), so the store goes on afterwards.
    from stackswitch.canon.store import Store
    from stackswitch.canon.types import FuncType, U32Type
    from stackswitch.embed.host import wait_until, yield_

    _set_hand_offs(monkeypatch, hand_offs)
    ft = FuncType([], [U32Type()], async_=True)
    store = Store()
    armed = False

    def predicate():
        if armed:
            raise RuntimeError("predicate bug")
        return False

    def a():
        wait_until(predicate, "the flag")
        return 1

    def b():
        nonlocal armed
        yield_()
        armed = True
        yield_()
        return 2

    store.invoke(store.host_function(a, ft, name="a"), [])
    call_b = store.invoke(store.host_function(b, ft, name="b"), [])
    with pytest.raises(RuntimeError, match="predicate bug"):
        store.run_until(lambda: call_b.resolved)
    [b_thread] = [t for t in store.scheduler.waiting if t.name == "host:b"]
    assert b_thread.cont.state == "suspended"
    armed = False
    store.run_until(lambda: call_b.resolved)  # b finishes; a still waits for its flag

"""The two-styles examples: each program written as a synchronous-style C guest
(stackful lift, blocking calls) and as a callback-style one (callback lift,
never blocking), built from source with the committed script; both styles
must give the same results.

* fan-out / fan-in (examples/c/fanout_{sync,callback}.c): run(n) sums
  slow-square(1..n), n concurrent async calls of a Python host import;
* a pipeline over stream<u8> across three components
  (examples/c/pipe_{producer,transform,consumer}_{sync,callback}.c, linked
  by examples/c/pipeline.py): consume(n) hashes n uppercased letters.

The build needs ``ziglang`` (PyPI) and ``wasm-tools``, both in the dev extra:
without them these tests fail, on purpose, rather than skip.
"""

import itertools
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import load_script

from stackswitch import trace
from stackswitch.canon import strategy as strategies
from stackswitch.canon.host_streams import StreamReader
from stackswitch.canon.store import Store
from stackswitch.cli import main
from stackswitch.component import wasm_tools
from stackswitch.component.linker import Linker
from stackswitch.component.wasm_tools import load_component

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCRIPT = EXAMPLES / "build_c_guests.py"
FANOUT_HOST = EXAMPLES / "c" / "fanout_host.py"
STYLES = ("sync", "callback")
PROGRAMS = ("fanout", "pipe_producer", "pipe_transform", "pipe_consumer")


pipeline = load_script(EXAMPLES / "c" / "pipeline.py")


# -- the runtime's options: one place -------------------------------------------------------


@pytest.fixture(params=["stackful", "callback"])
def strategy(request):
    """Every test that takes this fixture runs under each strategy."""
    return request.param


def make_linker(strategy, policy=None):
    """A Linker for one test, under ``strategy`` and (if given) a scheduling policy."""
    return Linker(Store(policy or "fifo", strategies.named(strategy)))


def run_options(strategy):
    """The ``stackswitch run`` options for ``strategy``."""
    return ["--strategy", strategy]


# -- building ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guests(c_guests):
    """Every examples/c/*.c built once for the session (conftest.c_guests), by name."""
    assert {f"{p}_{s}" for p in PROGRAMS for s in STYLES} <= set(c_guests)
    return c_guests


def _canon(path: Path) -> list[str]:
    """The component's canonical definitions, as `wasm-tools print` writes them."""
    text = subprocess.run([wasm_tools.executable(), "print", str(path)], capture_output=True, text=True,
                          check=True).stdout
    return [line.strip() for line in text.splitlines() if "(canon " in line]


def _blocks(canon: str) -> bool:
    """Does this built-in or lowered import block the caller's stack?"""
    if "(canon waitable-set.wait" in canon:
        return True
    may_block = any(f"(canon {op}" in canon for op in ("lower", "stream.read", "stream.write"))
    return may_block and not canon.endswith(" async))")


@pytest.mark.parametrize("program", PROGRAMS)
def test_each_program_is_written_in_both_styles(guests, program):
    sync = _canon(guests[f"{program}_sync"])
    callback = _canon(guests[f"{program}_callback"])
    # Sync style: a stackful lift, which blocks (in a wait, a sync call or copy).
    [lift] = [c for c in sync if "(canon lift" in c]
    assert "[async-lift-stackful]" in lift and "(callback " not in lift
    assert any(_blocks(c) for c in sync), sync
    # Callback style: a callback lift, and nothing that blocks.
    [lift] = [c for c in callback if "(canon lift" in c]
    assert "(callback " in lift
    assert not any(_blocks(c) for c in callback), callback


# -- fan-out / fan-in -----------------------------------------------------------------------


def fanout(guests, style, linker):
    for name, fn in runpy.run_path(str(FANOUT_HOST))["IMPORTS"].items():
        linker.define(name, fn)
    return linker.instantiate(load_component(guests[f"fanout_{style}"]), f"fanout-{style}")

def test_under_the_callback_strategy_the_sync_style_guest_is_unwound_not_switched(guests):
    """The callback strategy runs the stackful guest through asyncify, the callback one as
    records: neither keeps a task's wasm on a suspended fiber (no parked calls)."""

    for style, unwound in (("sync", True), ("callback", False)):
        run = fanout(guests, style, make_linker("callback")).func("run")
        unwinds, rewinds, parks = trace.counts["unwinds"], trace.counts["rewinds"], trace.counts["parks"]
        assert run.call(20) == 2870
        assert (trace.counts["unwinds"] > unwinds) == unwound, style
        assert trace.counts["rewinds"] - rewinds == trace.counts["unwinds"] - unwinds
        assert trace.counts["parks"] == parks



@pytest.mark.parametrize("style", STYLES)
def test_fanout_sums_the_squares(guests, style, strategy):
    run = fanout(guests, style, make_linker(strategy)).func("run")
    assert run.call(10) == 385
    assert run.call(0) == 0
    assert run.call(1) == 1
    assert run.call(100) == sum(x * x for x in range(1, 101))     # 338350


@pytest.mark.parametrize("style", STYLES)
def test_fanout_starts_every_call_then_takes_results_as_they_come(guests, style, strategy):
    instance = fanout(guests, style, make_linker(strategy))
    with trace.Recorder(("thread.block", "task.return")) as rec:
        assert instance.func("run").call(9) == 285
    events = [(e.kind, e.fields.get("thread") or e.fields.get("task"), e.fields)
              for e in rec.events]
    host_returns = [f["result"][0] for kind, who, f in events
                    if kind == "task.return" and who == "slow-square"]
    # The host finished x = 3, 6, 9 first (1 turn each), then 1, 4, 7, then 2, 5, 8.
    assert host_returns == [9, 36, 81, 1, 16, 49, 4, 25, 64]
    # All nine calls were under way before the guest first waited, and it
    # waited before any of them returned (on its stack, or back in the runtime).
    first_wait = next(i for i, (kind, who, f) in enumerate(events)
                      if kind == "thread.block" and who.startswith(f"fanout-{style}.run")
                      and "wait on set" in str(f["on"]))
    first_return = next(i for i, (kind, who, _) in enumerate(events)
                        if kind == "task.return" and who == "slow-square")
    started = [who for kind, who, f in events[:first_wait]
               if kind == "thread.block" and who == "host:slow-square"]
    assert first_wait < first_return
    assert len(started) == 9


@pytest.mark.parametrize("style", STYLES)
def test_fanout_from_the_command_line(guests, style, strategy, capsys):
    code = main(["run", str(guests[f"fanout_{style}"]), "--host", str(FANOUT_HOST),
                 "--invoke", "run(10)", *run_options(strategy)])
    assert code == 0, capsys.readouterr().err
    assert capsys.readouterr().out == "385\n"


@pytest.mark.parametrize("style", STYLES)
def test_fanout_of_more_than_100_traps(guests, style, strategy, capsys):
    code = main(["run", str(guests[f"fanout_{style}"]), "--host", str(FANOUT_HOST),
                 "--invoke", "run(101)", *run_options(strategy)])
    assert code == 1
    assert "unreachable" in capsys.readouterr().err


# -- the pipeline -----------------------------------------------------------------------------


@pytest.mark.parametrize("styles", list(itertools.product(STYLES, repeat=3)),
                         ids="-".join)
def test_pipeline_gives_the_same_hash_whatever_style_each_stage_is_in(guests, styles, strategy):
    build = guests["pipe_producer_sync"].parent
    consume = pipeline.link_pipeline(make_linker(strategy), build, styles).func("consume")
    for n in (1000, 0, 1, 26, 27):
        assert consume.call(n) == pipeline.expected_hash(n), n


def test_expected_hash_is_fnv1a_of_the_uppercased_letters():
    assert pipeline.expected_hash(0) == 0xCBF29CE484222325
    assert pipeline.expected_hash(1) == 0xAF63FC4C860222EC    # FNV-1a 64 of b"A"


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pipeline_under_a_random_scheduler(guests, style, seed, strategy):
    build = guests["pipe_producer_sync"].parent
    linker = make_linker(strategy, policy=f"random:{seed}")
    consume = pipeline.link_pipeline(linker, build, (style,) * 3).func("consume")
    assert consume.call(300) == pipeline.expected_hash(300)


def _waits(events, instance, copy):
    """How often ``instance``'s task waited for a stream ``copy`` ("read"/"write") to finish:
    its stack blocked in one (sync style), or its callback got the copy's event."""
    event = {"read": "STREAM_READ", "write": "STREAM_WRITE"}[copy]
    end = {"read": "readable", "write": "writable"}[copy]
    blocked = [e for e in events if e.kind == "thread.block"
               and e.fields["thread"].startswith(instance + ".")
               and f"stream copy of stream {end} end" in str(e.fields["on"])]
    called_back = [e for e in events if e.kind == "callback.event"
                   and e.fields["task"].startswith(instance + ".") and e.fields["event"] == event]
    return len(blocked) + len(called_back)


@pytest.mark.parametrize("style", STYLES)
def test_pipeline_writers_wait_for_their_readers(guests, style, strategy):
    build = guests["pipe_producer_sync"].parent
    consume = pipeline.link_pipeline(make_linker(strategy), build, (style,) * 3).func("consume")
    with trace.Recorder(("thread.block", "callback.event")) as rec:
        assert consume.call(40) == pipeline.expected_hash(40)
    waits = {(stage, copy): _waits(rec.events, f"{stage}-{style}", copy)
             for stage, copy in [("producer", "write"), ("transform", "read"),
                                 ("transform", "write"), ("consumer", "read")]}
    # Backpressure: 40 bytes in 4-byte writes, 3-byte and 5-byte reads; each
    # writer waited for its reader (and each reader for its writer) in both styles.
    assert all(n > 0 for n in waits.values()), waits
    # Both styles wait at the same points: blocking calls where the other has callbacks.
    assert waits == {("producer", "write"): 8, ("transform", "read"): 4,
                     ("transform", "write"): 4, ("consumer", "read"): 8}


@pytest.mark.parametrize("style", STYLES)
def test_producer_alone_writes_at_the_readers_pace(guests, style, strategy):
    linker = make_linker(strategy)
    produce = linker.instantiate(load_component(guests[f"pipe_producer_{style}"])).func("produce")
    s = produce.call(30)
    reader = StreamReader(linker.store, s)
    # A read takes at most what one write offers (4 bytes); a shorter read
    # leaves the rest of that write for the next one.
    assert bytes(reader.read(1)) == b"a"
    assert bytes(reader.read(6)) == b"bcd"
    assert bytes(reader.read(6)) == b"efgh"
    assert bytes(reader.read_all()) == b"ijklmnopqrstuvwxyzabcd"


@pytest.mark.parametrize("style", STYLES)
def test_producer_stops_when_its_reader_drops(guests, style, strategy):
    linker = make_linker(strategy)
    produce = linker.instantiate(load_component(guests[f"pipe_producer_{style}"]),
                                 "producer").func("produce")
    with trace.Recorder(("thread.exit",)) as rec:
        s = produce.call(1000)
        reader = StreamReader(linker.store, s)
        assert bytes(reader.read(4)) == b"abcd"
        reader.close()
        linker.store.run()                          # until nothing is left to run
    # The task's pending write came back DROPPED, and it finished.
    assert [e.fields["thread"] for e in rec.events] == ["producer.produce#1"]
    s = produce.call(3)                             # the instance goes on
    assert bytes(StreamReader(linker.store, s).read_all()) == b"abc"


@pytest.mark.parametrize("style", STYLES)
def test_a_reader_that_goes_away_stops_the_whole_line(guests, style, strategy):
    linker = make_linker(strategy)
    producer = linker.instantiate(load_component(guests[f"pipe_producer_{style}"]), "producer")
    linker.define("produce", producer.func("produce"))
    transform = linker.instantiate(load_component(guests[f"pipe_transform_{style}"]), "transform")
    with trace.Recorder(("thread.exit",)) as rec:
        s = transform.func("transform").call(1000)
        reader = StreamReader(linker.store, s)
        assert bytes(reader.read(10)) == b"ABC"     # the transform writes what it read: 3 bytes
        reader.close()
        linker.store.run()                          # until nothing is left to run
    # The transform's write came back DROPPED, so it dropped the producer's
    # stream, whose write came back DROPPED too: both tasks finished.
    exits = sorted(e.fields["thread"] for e in rec.events)
    assert exits == ["producer.produce#2", "transform.transform#1"], exits
    s = transform.func("transform").call(5)
    assert bytes(StreamReader(linker.store, s).read_all()) == b"ABCDE"


@pytest.mark.parametrize("style", STYLES)
def test_producer_from_the_command_line(guests, style, strategy, capsys):
    code = main(["run", str(guests[f"pipe_producer_{style}"]), "--invoke", "produce(5)",
                 *run_options(strategy)])
    assert code == 0, capsys.readouterr().err
    assert capsys.readouterr().out == "[97, 98, 99, 100, 101]\n"


def test_pipeline_script_prints_the_hash(guests):
    build = guests["pipe_producer_sync"].parent
    proc = subprocess.run([sys.executable, str(EXAMPLES / "c" / "pipeline.py"), str(build), "100",
                           "--styles", "callback,sync,callback"],
                          capture_output=True, text=True, check=False, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    h = pipeline.expected_hash(100)
    assert proc.stdout == f"consume(100) = {h:#018x} (expected {h:#018x})\n"

"""Limits: a guest that takes too much traps with a message naming the limit, and the
process stays usable (docs/limits.md).

The guests are in tests/limits/: "holder" has an export that waits forever,
"spawner" calls it n times without waiting (n suspended subtasks), makes n
waitable sets, or makes a sync call of it from a callback; "amplifier" names
one MiB of its memory n times in a list of strings, and grows its memory.
"""

import gc
import sys
from pathlib import Path

import pytest

from stackswitch import Component, Limits, Linker
from stackswitch.cli import main
from stackswitch.errors import LinkError, Trap
from stackswitch.limits import DEFAULT
from stackswitch.wasm import fibers

GUESTS = Path(__file__).resolve().parent / "limits"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
STRATEGIES = ["stackful", "callback"]


def spawner(strategy: str, limits: Limits | None = None) -> tuple[Linker, object]:
    linker = Linker(strategy=strategy, limits=limits)
    linker.define("holder", linker.instantiate(Component.from_file(GUESTS / "holder.wat"),
                                               "holder"))
    return linker, linker.instantiate(Component.from_file(GUESTS / "spawner.wat"), "spawner")


def add_still_works() -> None:
    """A fresh linker in this process compiles, instantiates and runs a component."""
    with Linker() as linker:
        assert linker.instantiate(Component.from_file(EXAMPLES / "add.wat"))["add"](2, 40) == 42


def memory_maps() -> int:
    with open("/proc/self/maps") as maps:
        return sum(1 for _ in maps)


def virtual_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1])
    raise AssertionError("no VmSize")


@pytest.fixture(autouse=True)
def default_fiber_limit():
    """The fiber stack limit is process-wide: every test starts and ends at the default."""
    fibers.set_max_fiber_stacks(DEFAULT.fiber_stacks)
    yield
    fibers.set_max_fiber_stacks(DEFAULT.fiber_stacks)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts /proc/self/maps")
def test_200000_suspended_subtasks_trap_at_the_fiber_limit_and_the_process_goes_on():
    # Before: the process ran out of memory maps (65,530) and aborted, or died with
    # MemoryError and could not even compile add.wat afterwards.
    base_calls, base_maps = fibers.live_calls(), memory_maps()
    linker, guest = spawner("stackful")
    with pytest.raises(Trap, match=r"out of fiber stacks \(the limit is 10000; raise it with "
                                   r"--max-fiber-stacks"):
        guest["spawn"](200_000)
    # The trap poisoned both instances: their 10,000 suspended calls were abandoned and
    # gave their fiber stacks back.
    assert fibers.live_calls() == base_calls
    assert memory_maps() < base_maps + 1000
    assert linker.store.live_threads == 0
    add_still_works()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_thread_limit_traps_naming_it(strategy):
    # Under `callback` the holders keep no fiber (asyncify unwinds them): the
    # thread limit is what stops a guest that starts tasks without end.
    linker, guest = spawner(strategy, Limits(threads=1000))
    with pytest.raises(Trap, match=r"too many live threads in this store \(the limit is 1000; "
                                   r"raise it with --max-threads"):
        guest["spawn"](200_000)
    # The caller trapped making the 1000th thread; the 999 holders did nothing wrong
    # and still wait, until the host closes the linker.
    assert linker.store.live_threads == 999
    linker.close()
    assert linker.store.live_threads == 0
    add_still_works()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_limits_can_be_raised(strategy):
    linker, guest = spawner(strategy, Limits(threads=2000, fiber_stacks=2000))
    assert guest["spawn"](1500) == 1500
    linker.close()
    assert linker.store.live_threads == 0


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_closing_a_linker_gives_back_every_fiber_its_tasks_hold(strategy):
    base = fibers.live_calls()
    linker, guest = spawner(strategy)
    assert guest["spawn"](50) == 50
    call = linker.store.invoke(guest["wait-in-callback"].func_inst, [])
    linker.store.run()
    assert not call.resolved
    assert fibers.live_calls() > base  # (callback: the parked call; stackful: all of them)
    linker.close()
    assert fibers.live_calls() == base
    assert linker.store.live_threads == 0
    with pytest.raises(Trap, match="cannot enter component instance"):
        guest["sets"](1)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_handle_limit_traps_naming_it(strategy):
    linker, guest = spawner(strategy, Limits(handles=100))
    assert guest["sets"](100) == 100
    linker, guest = spawner(strategy, Limits(handles=100))
    with pytest.raises(Trap, match=r"too many handles in this instance's table \(the limit is "
                                   r"100; raise it with --max-handles"):
        guest["sets"](101)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_strings_that_all_name_one_mib_exhaust_the_hostcall_fuel(strategy):
    # Before: 7,000 such strings made the host allocate 7 GB and die with MemoryError.
    guest = Linker(strategy=strategy).instantiate(Component.from_file(GUESTS / "amplifier.wat"))
    assert [len(s) for s in guest["strings"](3)] == [1 << 20] * 3
    with pytest.raises(Trap, match="fuel allocated for hostcalls has been exhausted "
                                   r"\(the limit is 134217728 bytes per call"):
        guest["strings"](7000)
    small = Linker(strategy=strategy, limits=Limits(hostcall_fuel=2 << 20))
    guest = small.instantiate(Component.from_file(GUESTS / "amplifier.wat"))
    assert len(guest["strings"](1)) == 1
    with pytest.raises(Trap, match="fuel allocated for hostcalls"):
        guest["strings"](2)


def test_memory_grows_only_to_the_limit():
    limits = Limits(memory_bytes=20 * 65536)
    guest = Linker(limits=limits).instantiate(Component.from_file(GUESTS / "amplifier.wat"))
    assert guest["grow"](3) == 17  # the old size in pages: 17 -> 20
    assert guest["grow"](1) == -1  # memory.grow's failure, as the core spec has it
    with pytest.raises(LinkError, match=r"exceeds memory limits \(the limit is 1048576 bytes per "
                                        r"memory; raise it with --max-memory"):
        Linker(limits=Limits(memory_bytes=1 << 20)).instantiate(
            Component.from_file(GUESTS / "big_memory.wat"))


def test_memory_grow_past_the_limit_fails_without_trapping_and_changes_nothing():
    # docs/limits.md: -1, as the core spec lets any memory.grow fail; the size stays.
    guest = Linker(limits=Limits(memory_bytes=20 * 65536)).instantiate(
        Component.from_file(GUESTS / "amplifier.wat"))
    assert guest["grow"](4) == -1  # 17 + 4 pages > 20
    assert guest["grow"](0) == 17  # memory.grow 0 answers the size: unchanged
    assert guest["grow"](3) == 17  # to exactly the limit
    assert guest["grow"](0) == 20


def test_limits_are_checked():
    with pytest.raises(ValueError, match="limit threads must be a non-negative integer"):
        Limits(threads=-1)
    with pytest.raises(ValueError, match="limits differ from the store's"):
        Linker(Linker().store, limits=Limits(threads=5))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_a_dropped_linker_frees_its_memory_reservations():
    # Before: every linker stayed alive (its imports were held by a module-level dict),
    # with the 4+ GiB of address space each linear memory reserves.
    component = Component.from_file(GUESTS / "amplifier.wat")
    before = virtual_kib()
    for _ in range(5):
        linker = Linker()
        assert linker.instantiate(component)["grow"](0) == 17
        del linker
        gc.collect()
    assert virtual_kib() - before < 4 << 20  # less than one reservation's worth (KiB)


def test_the_command_line_options_set_the_limits(capsys):
    amplifier = str(GUESTS / "amplifier.wat")
    assert main(["run", amplifier, "--invoke", "strings(2)", "--hostcall-fuel", "1MiB"]) == 1
    assert "(the limit is 1048576 bytes per call; raise it with --hostcall-fuel" \
        in capsys.readouterr().err
    assert main(["run", amplifier, "--invoke", "grow(4)", "--max-memory", "20M"]) == 0
    assert capsys.readouterr().out == "17\n"
    assert main(["run", amplifier, "--invoke", "grow(4)", "--max-memory", "1100K"]) == 0
    assert capsys.readouterr().out == "-1\n"
    with pytest.raises(SystemExit):
        main(["run", amplifier, "--max-memory", "lots"])
    assert "not a size: 'lots'" in capsys.readouterr().err


THROWS = """
(component
  (core module $M (tag $t) (func (export "f") (throw $t)))
  (core instance $m (instantiate $M))
  (func (export "f") (canon lift (core func $m "f"))))
"""


def test_whatever_wasmtime_reports_about_a_call_is_a_trap():
    # Before: an exception thrown out of wasm surfaced as WasmtimeError, a traceback.
    guest = Linker().instantiate(Component(THROWS))
    with pytest.raises(Trap, match=r"^wasm trap: uncaught exception propagated out of component \(thrown Wasm exception\)"):
        guest["f"]()


def test_a_host_out_of_stack_during_a_call_is_a_trap(monkeypatch):
    # The limit of 60 runs out during the call in pure Python; lifting the strings also
    # recurses without end, so the host runs out of stack however few Python frames it
    # takes to get there (a compiled build, benchmarks/build_compiled.py, takes fewer).
    from stackswitch.canon import values

    def bottomless(*args):
        return bottomless(*args)

    guest = Linker().instantiate(Component.from_file(GUESTS / "amplifier.wat"))
    monkeypatch.setattr(values, "load_string_from_range", bottomless)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(60)
    try:
        with pytest.raises(Trap, match=r"the host ran out of stack \(Python's recursion limit\) "
                                       r"while running the guest \(RecursionError"):
            guest["strings"](1)
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_deadlocked_tasks_give_their_fibers_back_when_the_linker_closes(strategy):
    from stackswitch import Deadlock

    base = fibers.live_calls()
    linker, guest = spawner(strategy)
    holder = linker.definitions["holder"]
    with pytest.raises(Deadlock):
        holder["hold"]()  # waits forever on an empty set: the host's call can never resolve
    # A deadlock poisons nothing (later host calls could still wake what waits); the
    # waiting task holds its stack until the linker is closed.
    assert linker.store.live_threads == 1
    linker.close()
    assert fibers.live_calls() == base
    assert linker.store.live_threads == 0


def test_wast_takes_the_limit_options_too(capsys):
    streams = str(Path(__file__).resolve().parent / "wast" / "streams.wast")
    assert main(["wast", streams, "--max-handles", "1"]) == 1
    assert "too many handles in this instance's table (the limit is 1;" in capsys.readouterr().out
    assert main(["wast", streams]) == 0


def test_the_host_out_of_memory_during_a_call_is_a_trap(monkeypatch):
    # Fault injection: lifting a string fails as a huge allocation would.
    from stackswitch.canon import values

    def no_memory(*args):
        raise MemoryError()

    guest = Linker().instantiate(Component.from_file(GUESTS / "amplifier.wat"))
    monkeypatch.setattr(values, "load_string_from_range", no_memory)
    with pytest.raises(Trap, match=r"^wasm trap: the host ran out of memory while running the "
                                   r"guest \(MemoryError\)"):
        guest["strings"](1)

"""The extensions beyond the spec (docs/extensions.md): the 2022 design's own examples.

Each scenario runs under both strategies. Payloads: a splice's event (and
result) is ``src_result | dst_result << 2 | count << 4``, a skip's
``result | count << 4``; COMPLETED 0, DROPPED 1, CANCELLED 2.
"""

import importlib.util
import sys
from pathlib import Path

import pytest
from builtin_helpers import (
    BLOCKED,
    CANCELLED,
    COMPLETED,
    CONCURRENT,
    DROPPED,
    EXIT,
    F_U32,
    RETURNED,
    S_U8,
    STREAM_READ,
    STREAM_WRITE,
    SUBTASK,
    U32,
    WAIT,
    bytes_at,
    event_of,
    run_async,
)

from stackswitch.canon import strategy as strategies
from stackswitch.canon.extensions import features, parking, pumps
from stackswitch.canon.extensions.stream_end import StreamEndType
from stackswitch.canon.store import Store
from stackswitch.canon.types import (
    FuncType,
    ListType,
    ResultType,
    StreamType,
    StringType,
    U8Type,
)
from stackswitch.cli import main
from stackswitch.embed.guest import PyComponent
from stackswitch.errors import Trap

ROOT = Path(__file__).resolve().parent.parent
STRATEGIES = ["stackful", "callback"]
S_U32 = StreamType(U32)


def _pipeline_module():
    spec = importlib.util.spec_from_file_location("extensions_pipeline",
                                                  ROOT / "benchmarks" / "extensions_pipeline.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("extensions_pipeline", module)
    spec.loader.exec_module(module)
    return module


pipeline = _pipeline_module()


def new_store(strategy="stackful", enabled="all"):
    return Store(strategy=strategies.named(strategy), features=enabled)


def new_component(strategy="stackful"):
    """A store with every extension enabled and one component ``a`` in it."""
    store = new_store(strategy)
    return store, PyComponent(store, "a")


def two_streams(a):
    """``r1, w1, r2, w2``: the ends of two new ``stream<u8>``, in that order."""
    return (*a.stream_new(S_U8), *a.stream_new(S_U8))


def run_pipeline(mode, n, **options):
    """The benchmark's pipeline in ``mode``: it must deliver all ``n`` bytes, in order.

    The pump counters are reset after building it, so they count this run only."""
    p = pipeline.build(mode, n, **options)
    pumps.counts.reset()
    assert p.store.call(p.consume, [n]) == [n]
    assert bytes(p.received) == pipeline.data(n)
    return p


def splice_payload(n, src=COMPLETED, dst=COMPLETED):
    return src | dst << 2 | n << 4


# -- enabling ------------------------------------------------------------------------------------


def test_features_parse_names_and_all_and_refuse_unknown_ones():
    assert features.parse_features("splice, skip") == {"splice", "skip"}
    assert features.parse_features(["all"]) == set(features.FEATURES)
    assert features.parse_features(()) == frozenset()
    with pytest.raises(ValueError, match="unknown feature 'splize'"):
        features.parse_features("splize")


@pytest.mark.parametrize("call, feature", [
    (lambda a, r, w: a.stream_splice(S_U8, r, w, 1), "splice"),
    (lambda a, r, w: a.stream_skip(S_U8, r, 1), "skip"),
    (lambda a, r, w: a.stream_forward(S_U8, r, w), "forward"),
    (lambda a, r, w: a.stream_write_end(StreamEndType(U8Type(), U32), w, 0), "stream-end"),
    (lambda a, r, w: a.thread_park(a.thread_index()), "park"),
    (lambda a, r, w: a.thread_unpark(a.thread_index()), "park"),
])
def test_with_no_feature_each_extension_traps_naming_its_feature(call, feature):
    store = Store()
    assert store.features == frozenset()
    a = PyComponent(store, "a")
    with pytest.raises(Trap, match=f"the `{feature}` extension is not enabled"):
        run_async(store, a, lambda: call(a, *a.stream_new(S_U8)))


def test_only_the_features_named_are_enabled():
    store = new_store(enabled="skip")
    a = PyComponent(store, "a")

    def body():
        r, w = a.stream_new(S_U8)
        assert a.stream_write(S_U8, w, bytes_at(a, b"xyz"), 3) == BLOCKED
        assert a.stream_skip(S_U8, r, 2) == 2 << 4
        a.stream_splice(S_U8, r, w, 1)

    with pytest.raises(Trap, match="`splice` extension is not enabled"):
        run_async(store, a, body)


# -- splice ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_splice_between_two_streams_moves_no_byte_through_the_splicers_memory(strategy):
    """The design's splice: producer -> relay (splicing) -> consumer, the relay's memory untouched."""
    p = run_pipeline("splice", 10_000, relays=1, chunk=300, strategy=strategy)
    assert p.counters[0].read == p.counters[0].written == 0
    assert pumps.counts.moved == 10_000


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_read_plus_write_moves_every_byte_through_the_relays_memory_twice(strategy):
    p = run_pipeline("copy", 10_000, relays=2, chunk=300, strategy=strategy)
    assert [c.read + c.written for c in p.counters] == [20_000, 20_000]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_chain_of_splices_copies_each_value_once_first_memory_to_last(strategy):
    p = run_pipeline("splice", 5000, relays=3, chunk=128, strategy=strategy)
    assert all(c.read == c.written == 0 for c in p.counters)
    assert pumps.counts.bytes_copied == 5000  # once, not once per relay
    assert pumps.counts.moved == 3 * 5000


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_splice_waits_for_both_sides_then_reports_on_dst(strategy):
    store, a = new_component(strategy)

    def body():
        r1, w1, r2, w2 = two_streams(a)
        dst = a.alloc(8, 1)
        assert a.stream_splice(S_U8, r1, w2, 5) == BLOCKED     # nothing on either side
        assert a.stream_read(S_U8, r2, dst, 8) == BLOCKED      # a reader: still no values
        assert a.stream_write(S_U8, w1, bytes_at(a, b"abcdefgh"), 8) == 5 << 4  # moved at once
        assert event_of(a, r2) == (STREAM_READ, r2, 5 << 4)
        assert event_of(a, w2) == (STREAM_WRITE, w2, splice_payload(5))
        return a.memory.read(dst, 5)

    assert run_async(store, a, body) == b"abcde"


def test_a_splice_ends_when_its_source_or_sink_goes_away():
    store, a = new_component()

    def body():
        r1, w1, r2, w2 = two_streams(a)
        assert a.stream_splice(S_U8, r1, w2, 5) == BLOCKED
        a.stream_drop_writable(S_U8, w1)                        # the source ends
        first = event_of(a, w2)
        with pytest.raises(Trap, match="after being notified"):
            a.stream_read(S_U8, r1, 0, 1)                        # src is DONE now
        r3, w3 = a.stream_new(S_U8)
        assert a.stream_write(S_U8, w3, bytes_at(a, b"zz"), 2) == BLOCKED
        assert a.stream_splice(S_U8, r3, w2, 5) == BLOCKED
        a.stream_drop_readable(S_U8, r2)                        # the sink ends
        return first, event_of(a, w2)

    first, second = run_async(store, a, body)
    assert first == (STREAM_WRITE, 4, splice_payload(0, src=DROPPED))
    assert second == (STREAM_WRITE, 4, splice_payload(0, dst=DROPPED))


def test_a_splice_is_cancelled_through_its_writable_end_only():
    store, a = new_component()

    def body():
        r1, w1, r2, w2 = two_streams(a)
        assert a.stream_splice(S_U8, r1, w2, 5) == BLOCKED
        assert a.stream_cancel_write(S_U8, w2) == splice_payload(0, CANCELLED, CANCELLED)
        assert a.stream_splice(S_U8, r1, w2, 5) == BLOCKED      # both ends are idle again
        a.stream_cancel_read(S_U8, r1)

    with pytest.raises(Trap, match="this readable end is spliced"):
        run_async(store, a, body)


@pytest.mark.parametrize("body, message", [
    (lambda a, r, w: a.stream_splice(S_U8, r, w, 1), "into itself"),
    (lambda a, r, w: a.stream_splice(S_U8, w, r, 1), "concurrent operations"),
    (lambda a, r, w: (a.stream_read(S_U8, r, 0, 1), a.stream_splice(S_U8, r, a.stream_new(S_U8)[1], 1)),
     "concurrent operations"),
    (lambda a, r, w: a.stream_splice(S_U8, r, a.stream_new(S_U32)[1], 1), "different|not a"),
    (lambda a, r, w: (a.stream_splice(S_U8, r, a.stream_new(S_U8)[1], 1),
                      a.stream_drop_readable(S_U8, r)), "busy|pending|operation"),
])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_splice_traps(body, message, strategy):
    store, a = new_component(strategy)
    with pytest.raises(Trap, match=message):
        run_async(store, a, lambda: body(a, *a.stream_new(S_U8)))


# -- skip ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_skip_over_a_prefix_never_writes_the_prefix_into_memory(strategy):
    store, a = new_component(strategy)
    written = pipeline.CountingMemory(a)

    def body():
        r, w = a.stream_new(S_U8)
        src = bytes_at(a, b"HEADER:payload")
        written.written = written.read = 0
        assert a.stream_write(S_U8, w, src, 14) == BLOCKED
        assert a.stream_skip(S_U8, r, 7) == 7 << 4
        dst = a.alloc(16, 1)
        assert a.stream_read(S_U8, r, dst, 16) == 7 << 4
        copied = (written.read, written.written)
        return copied, a.memory.read(dst, 7)

    assert run_async(store, a, body) == ((7, 7), b"payload")  # the payload only, once


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_skip_in_a_pipeline_drops_the_prefix_before_the_relay_copies(strategy):
    p = pipeline.build("skip", 3000, relays=2, chunk=256, skip=1000, strategy=strategy)
    assert p.store.call(p.consume, [3000]) == [2000]
    assert bytes(p.received) == pipeline.data(3000)[1000:]
    assert p.counters[0].written == 2000


def test_a_skip_waits_for_a_writer_and_reports_on_its_end():
    store, a = new_component()

    def body():
        r, w = a.stream_new(S_U8)
        assert a.stream_skip(S_U8, r, 4) == BLOCKED
        src = bytes_at(a, b"abcdef")
        assert a.stream_write(S_U8, w, src, 6) == 4 << 4       # the skip took 4 at once
        assert event_of(a, r) == (STREAM_READ, r, 4 << 4)
        assert a.stream_write(S_U8, w, src + 4, 2) == BLOCKED  # the writer arrives first now
        assert a.stream_skip(S_U8, r, 9) == 2 << 4
        assert event_of(a, w) == (STREAM_WRITE, w, 2 << 4)
        assert a.stream_skip(S_U8, r, 9) == BLOCKED
        assert a.stream_cancel_read(S_U8, r) == CANCELLED
        a.stream_drop_writable(S_U8, w)
        assert a.stream_skip(S_U8, r, 9) == DROPPED

    run_async(store, a, body)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_skip_refuses_values_that_hold_handles(strategy):
    store, a = new_component(strategy)
    s_s = StreamType(S_U8)
    with pytest.raises(Trap, match="cannot discard values that hold handles"):
        run_async(store, a, lambda: a.stream_skip(s_s, a.stream_new(s_s)[0], 1))


# -- forward -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_forward_hands_the_stream_on_and_the_relay_is_done(strategy):
    p = run_pipeline("forward", 20_000, relays=3, chunk=512, strategy=strategy)
    assert all(c.read == c.written == 0 for c in p.counters)
    assert [len(m.inst.handles) for m in p.relays] == [0, 0, 0]   # the ends left at once


def test_forwarded_ends_leave_the_callers_table_at_once():
    store, a = new_component()

    def body():
        r1, w1, r2, w2 = two_streams(a)
        a.stream_forward(S_U8, r1, w2)
        a.stream_drop_readable(S_U8, r1)

    with pytest.raises(Trap):
        run_async(store, a, body)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_forward_of_a_future_returned_to_a_callback(strategy):
    """The design's then(): a callback-lifted relay gets a future from a subtask's result and
    forwards it into the future it already returned."""
    store = new_store(strategy)
    source = PyComponent(store, "source")
    ft_future = FuncType([], [F_U32], async_=True)

    @source.export(ft_future, abi="stackful", name="later")
    def later():
        r, w = source.future_new(F_U32)
        source.task_return(r)
        source.thread_yield()
        ptr = source.alloc(4, 4)
        source.memory.store_u32(ptr, 42)
        source.future_write(F_U32, w, ptr, async_=False)
        source.future_drop_writable(F_U32, w)

    relay = PyComponent(store, "relay")
    call_later = relay.import_(later, ft_future, async_=True)
    retp = relay.alloc(4, 4)
    state = {}

    def then():
        src = relay.memory.load_u32(retp)
        r, w = relay.future_new(F_U32)
        relay.task_return(r)
        relay.future_forward(F_U32, src, w)
        return EXIT

    def start():
        packed = call_later(retp)
        if packed & 0xF == RETURNED:
            return then()
        state["ws"] = relay.waitable_set_new()
        relay.waitable_join(packed >> 4, state["ws"])
        return WAIT | state["ws"] << 4

    def on_event(event, index, payload):
        assert event == SUBTASK
        if payload != RETURNED:
            return WAIT | state["ws"] << 4
        relay.waitable_join(index, 0)
        relay.waitable_set_drop(state["ws"])
        relay.subtask_drop(index)
        return then()

    forwarded = relay.export(ft_future, abi="callback", callback=on_event, name="relay")(start)

    sink = PyComponent(store, "sink")
    get = sink.import_(forwarded, ft_future)

    @sink.export(FuncType([], [U32], async_=True), abi="stackful", name="value")
    def value():
        r = get()
        ptr = sink.alloc(4, 4)
        assert sink.future_read(F_U32, r, ptr, async_=False) == COMPLETED
        sink.future_drop_readable(F_U32, r)
        sink.task_return(sink.memory.load_u32(ptr))

    assert store.call(value, []) == [42]


# -- stream<T, U> -------------------------------------------------------------------------------------


EXPECTED = ResultType(None, None)
S_OUT = StreamEndType(U8Type(), EXPECTED)
MAIN = FuncType([("stdin", S_U8), ("argv", ListType(StringType()))], [S_U8], async_=True)


def _main_program(strategy):
    """``main: (stdin: stream<u8>, argv: list<string>) -> stream<u8, expected<_, _>>``: copies
    stdin to its output, upper-cased with argv ["upper"], and ends the output with ok, or
    with error for any other argument."""
    store = new_store(strategy)
    prog = PyComponent(store, "prog")

    @prog.export(MAIN, abi="stackful", name="main")
    def main(stdin, argv_ptr, argc):
        r, w = prog.stream_new(S_U8)
        prog.task_return(r)
        args = [prog.memory.read(prog.memory.load_u32(argv_ptr + 8 * i),
                                 prog.memory.load_u32(argv_ptr + 8 * i + 4)) for i in range(argc)]
        good = args in ([], [b"upper"])
        buf = prog.alloc(64, 1)
        while good:
            res = prog.stream_read(S_U8, stdin, buf, 64, async_=False)
            data = prog.memory.read(buf, res >> 4)
            prog.memory.write(buf, data.upper() if args else data)
            pipeline._write_all(prog, w, buf, res >> 4)
            if res & 0xF == DROPPED:
                break
        prog.stream_drop_readable(S_U8, stdin)
        end = prog.alloc(1, 1)
        prog.memory.write(end, bytes([0 if good else 1]))   # expected<_, _>: ok / error
        prog.stream_write_end(S_OUT, w, end)

    shell = PyComponent(store, "shell", memory_pages=2)
    call_main = shell.import_(main, MAIN)

    def run(text, argv):
        out = {}

        @shell.export(FuncType([], [U32], async_=True), abi="stackful", name="shell")
        def go():
            r_in, w_in = shell.stream_new(S_U8)
            words = [bytes_at(shell, a) for a in argv]
            lst = shell.alloc(8 * max(len(argv), 1), 4)
            for i, (ptr, a) in enumerate(zip(words, argv, strict=True)):
                shell.memory.store_u32(lst + 8 * i, ptr)
                shell.memory.store_u32(lst + 8 * i + 4, len(a))
            assert shell.stream_write(S_U8, w_in, bytes_at(shell, text), len(text)) == BLOCKED
            r_out = call_main(r_in, lst, len(argv))
            event_of(shell, w_in)                              # main took stdin (or dropped it)
            shell.stream_drop_writable(S_U8, w_in)
            buf, got = shell.alloc(256, 1), b""
            while True:
                res = shell.stream_read(S_U8, r_out, buf, 256, async_=False)
                got += shell.memory.read(buf, res >> 4)
                if res & 0xF == DROPPED:
                    break
            end = shell.alloc(1, 1)
            assert shell.stream_read_end(S_OUT, r_out, end) == 1
            out["got"], out["end"] = got, shell.memory.read(end, 1)[0]
            shell.stream_drop_readable(S_U8, r_out)
            shell.task_return(0)

        assert store.call(go, []) == [0]
        return out["got"], ("ok", "error")[out["end"]]

    return run


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_main_stdin_argv_returns_a_stream_whose_end_is_expected(strategy):
    run = _main_program(strategy)
    assert run(b"hello", [b"upper"]) == (b"HELLO", "ok")
    assert run(b"hello", []) == (b"hello", "ok")
    assert run(b"hello", [b"bogus"]) == (b"", "error")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_stream_end_traps_before_the_end_and_on_a_different_end_type(strategy):
    store, a = new_component(strategy)
    other = StreamEndType(U8Type(), U32)

    def early():
        r, w = a.stream_new(S_U8)
        a.stream_read_end(S_OUT, r, 0)

    with pytest.raises(Trap, match="the stream has not ended"):
        run_async(store, a, early)

    def mismatched():
        r, w = a.stream_new(S_U8)
        a.memory.write(0, b"\0")
        a.stream_write_end(S_OUT, w, 0)
        assert a.stream_read(S_U8, r, 0, 1) == DROPPED
        assert a.stream_read_end(S_OUT, r, 4) == 1
        a.stream_read_end(other, r, 4)

    a = PyComponent(store, "a")
    with pytest.raises(Trap, match="stream end value types differ"):
        run_async(store, a, mismatched)


def test_a_plain_drop_ends_a_stream_without_an_end_value():
    store, a = new_component()

    def body():
        r, w = a.stream_new(S_U8)
        a.stream_drop_writable(S_U8, w)
        assert a.stream_read(S_U8, r, 0, 1) == DROPPED
        return a.stream_read_end(S_OUT, r, 0)

    assert run_async(store, a, body) == 0


def test_write_end_on_a_busy_end_traps():
    store, a = new_component()

    def body():
        r, w = a.stream_new(S_U8)
        assert a.stream_write(S_U8, w, bytes_at(a, b"x"), 1) == BLOCKED
        a.stream_write_end(S_OUT, w, 0)

    with pytest.raises(Trap, match=CONCURRENT):
        run_async(store, a, body)


# -- park / unpark ---------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_park_that_would_close_a_cycle_returns_a_failure_instead_of_hanging(strategy):
    store, a = new_component(strategy)
    log = []

    def body():
        main = a.thread_index()

        def child(_):
            log.append(("child parks on main", a.thread_park(main)))

        t = a.thread_new(child, 0)
        a.thread_resume_later(t)
        a.thread_yield()                                       # the child parks on main
        assert parking.parked_on(store.scheduler.waiting[0]) is not None
        log.append(("main parks on child", a.thread_park(t)))  # a cycle: fails at once
        log.append(("main parks on itself", a.thread_park(main)))
        log.append(("unpark child", a.thread_unpark(t)))
        log.append(("unpark again", a.thread_unpark(t)))
        a.thread_yield()

    run_async(store, a, body)
    assert log == [("main parks on child", parking.PARK_CYCLE),
                   ("main parks on itself", parking.PARK_CYCLE),
                   ("unpark child", parking.UNPARK_DONE),
                   ("unpark again", parking.UNPARK_NOT_PARKED),
                   ("child parks on main", parking.PARK_UNPARKED)]


def test_a_thread_parked_on_one_that_exits_wakes_with_a_failure():
    store, a = new_component()
    log = []

    def body():
        main = a.thread_index()

        def child(_):
            log.append(a.thread_park(main))

        t = a.thread_new(child, 0)
        a.thread_resume_later(t)
        a.thread_yield()

    @a.export(FuncType([], [U32], async_=True), abi="stackful", name="run")
    def run():
        body()
        a.task_return(0)

    assert store.call(run, []) == [0]
    store.run()
    assert log == [parking.PARK_EXITED]


def test_a_longer_cycle_is_found_too():
    """first parks on second, second on main: main parking on first would close the cycle."""
    store, a = new_component()
    log = []

    def body():
        main = a.thread_index()
        ids = {}

        def first(_):
            log.append(("first", a.thread_park(ids["second"])))

        def second(_):
            log.append(("second", a.thread_park(main)))

        ids["first"] = a.thread_new(first, 0)
        ids["second"] = a.thread_new(second, 0)
        a.thread_resume_later(ids["second"])
        a.thread_resume_later(ids["first"])
        a.thread_yield()
        log.append(("main", a.thread_park(ids["first"])))
        log.append(("unpark", a.thread_unpark(ids["second"])))
        a.thread_yield()
        a.thread_yield()

    run_async(store, a, body)
    assert log == [("main", parking.PARK_CYCLE), ("unpark", parking.UNPARK_DONE),
                   ("second", parking.PARK_UNPARKED), ("first", parking.PARK_EXITED)]


# -- binaries: stream.forward as wasm-tools 1.262 writes it, and stackswitch:seed/streams -----------

WAST = ROOT / "tests" / "wast" / "extensions"


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("script", ["forward.wast", "seed.wast", "park.wast"])
def test_extension_scripts_pass_with_their_features(script, strategy, capsys):
    assert main(["wast", "--features", "all", "--strategy", strategy, str(WAST / script)]) == 0
    assert capsys.readouterr().out.strip().endswith("0 failed")
    assert features.default == frozenset()     # the command line restores the default


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_extension_scripts_pass_under_random_schedules(seed, strategy, capsys):
    """They assert only what every schedule guarantees (the explorer checks more)."""
    scripts = [str(WAST / name) for name in ("forward.wast", "seed.wast", "park.wast")]
    assert main(["wast", "--features", "all", "--strategy", strategy,
                 "--policy", f"random:{seed}", *scripts]) == 0


def test_without_the_feature_stream_forward_does_not_link(capsys):
    assert main(["wast", str(WAST / "forward.wast")]) == 1
    out = capsys.readouterr().out
    assert "the `stream.forward` built-in needs the forward extension" in out
    assert "--features forward" in out


def test_an_unknown_feature_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["wast", "--features", "teleport", str(WAST / "forward.wast")])
    assert info.value.code == 2
    assert "unknown feature 'teleport'" in capsys.readouterr().err


def test_explore_tries_every_transfer_size_of_the_pumps(capsys):
    assert main(["explore", "--features", "all", "--max-runs", "400",
                 str(WAST / "seed.wast")]) == 0
    out = capsys.readouterr().out
    assert "1 outcome" in out


def test_a_seed_function_declared_with_another_signature_does_not_link():
    from stackswitch.component.linker import Linker
    from stackswitch.component.wasm_tools import load_component
    from stackswitch.errors import LinkError
    text = """(component
      (import "stackswitch:seed/streams" (instance $seed
        (export "splice" (func (param "src" u32) (result u32)))))
    )"""
    with pytest.raises(LinkError, match="splice: declared as .* which is not its signature"):
        Linker(features="splice").instantiate(load_component(text))
    with pytest.raises(LinkError, match="missing import 'stackswitch:seed/streams'"):
        Linker().instantiate(load_component(text))


def test_linker_features_and_a_given_store_must_agree():
    from stackswitch.component.linker import Linker
    assert Linker(features="park").store.features == {"park"}
    assert Linker(Store(features="park"), features=["park"]).store.features == {"park"}
    with pytest.raises(ValueError, match="features differ"):
        Linker(Store(), features="park")


def test_compare_shows_the_copies_the_pumps_avoided(capsys):
    assert main(["compare", "--features", "forward", "--strategies", "stackful",
                 "--wast", str(WAST / "forward.wast")]) == 0
    table = dict(line.rsplit("  ", 1) for line in capsys.readouterr().out.splitlines()
                 if line.startswith(("values moved by pumps", "bytes kept out")))
    # one run: 10 stream bytes and one future u32, each spared a copy in and out of the relay
    assert {k.strip(): v.strip() for k, v in table.items()} == {
        "values moved by pumps": "11", "bytes kept out of memory": "28"}


def test_a_forward_ends_its_source_when_its_reader_leaves():
    store, a = new_component()

    def body():
        r1, w1, r2, w2 = two_streams(a)
        a.stream_forward(S_U8, r1, w2)
        assert a.stream_write(S_U8, w1, bytes_at(a, b"abc"), 3) == BLOCKED
        dst = a.alloc(2, 1)
        assert a.stream_read(S_U8, r2, dst, 2) == 2 << 4
        a.stream_drop_readable(S_U8, r2)                 # the sink leaves ...
        return event_of(a, w1), a.memory.read(dst, 2)   # ... so the writer hears DROPPED

    assert run_async(store, a, body) == ((STREAM_WRITE, 2, 2 << 4 | DROPPED), b"ab")


def test_zero_length_copies_meeting_a_pump_complete_at_once():
    store, a = new_component()

    def body():
        r1, w1, r2, w2 = two_streams(a)
        assert a.stream_splice(S_U8, r1, w2, 4) == BLOCKED
        assert a.stream_write(S_U8, w1, 0, 0) == COMPLETED     # "is a reader ready?" yes
        assert a.stream_read(S_U8, r2, 0, 0) == COMPLETED      # "is a writer ready?" yes
        assert a.stream_cancel_write(S_U8, w2) == splice_payload(0, CANCELLED, CANCELLED)

    run_async(store, a, body)


def test_a_cycle_of_forwards_moves_nothing_and_does_not_hang():
    store, a = new_component()

    def body():
        r1, w1, r2, w2 = two_streams(a)
        a.stream_forward(S_U8, r1, w2)
        a.stream_forward(S_U8, r2, w1)
        return len(a.inst.handles)

    assert run_async(store, a, body) == 0   # both forwards own their ends; neither can move


@pytest.mark.parametrize("policy", ["random:1", "random:7"])
def test_under_random_transfer_sizes_a_splice_pipeline_still_delivers_every_byte(policy):
    run_pipeline("splice", 2000, relays=2, chunk=100, policy=policy)


@pytest.mark.parametrize("fail, shown", [("false", "[1, 2, 3] end ok(3)"),
                                         ("true", '[1, 2, 3] end err("bad")')])
def test_run_shows_a_streams_end_value_after_its_elements(fail, shown, capsys):
    wat = str(ROOT / "tests" / "component_fixtures" / "ended_stream.wat")
    assert main(["run", "--features", "stream-end", wat, "--invoke", f"run({fail})"]) == 0
    assert capsys.readouterr().out.strip() == shown
    assert main(["run", wat, "--invoke", f"run({fail})"]) == 2
    assert "enable extensions with --features" in capsys.readouterr().err

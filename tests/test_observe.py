"""Observability: --trace (Chrome trace JSON), --log, the task tree, wasm backtraces, progress,
profile. Traces are checked for form (B/E pairs per track, flows inside slices) and for
content (one task slice per task of the run), under both strategies."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from stackswitch import trace
from stackswitch.canon.store import Store
from stackswitch.cli import main
from stackswitch.cli.demo import build
from stackswitch.cli.failures import InputError
from stackswitch.cli.profile import py_spy_command
from stackswitch.observe import trace_checks
from stackswitch.observe.chrome_trace import ChromeTrace, merge
from stackswitch.observe.event_log import EventLog
from stackswitch.wasm.backtrace import WasmFrame, parse

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "tests" / "observe"
WAST = ROOT / "tests" / "wast"
STRATEGIES = ("stackful", "callback")


def _load(path: Path) -> dict:
    document = json.loads(path.read_text())  # json.load reads it: well-formed JSON
    problems = trace_checks.check(document)
    assert problems == [], problems[:5]
    return document


def _task_slices(document: dict) -> Counter:
    return Counter(s.name for s in trace_checks.slices(document) if s.cat == "task")


def _traced_main(argv: list[str]) -> tuple[int, Counter]:
    """Run the command line, counting the tasks that started (by name) as it runs."""
    with trace.Recorder(("task.start",)) as rec:
        status = main(argv)
    return status, Counter(e.fields["task"] for e in rec.events)


# -- the trace ---------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("script", ["subtasks.wast", "streams.wast", "three-components.wast",
                                    "threads.wast", "cancel.wast", "backpressure.wast",
                                    "traps.wast"])
def test_wast_trace_has_one_slice_per_task(tmp_path, strategy, script, capsys):
    out = tmp_path / "t.json"
    status, started = _traced_main(["wast", str(WAST / script), "--strategy", strategy,
                                    "--trace", str(out)])
    assert status == 0
    document = _load(out)
    slices = _task_slices(document)
    assert started and all(slices[name] == n for name, n in started.items())
    assert sum(slices.values()) >= sum(started.values())


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_cross_component_calls_are_flows_from_the_caller(tmp_path, strategy, capsys):
    out = tmp_path / "t.json"
    assert main(["wast", str(WAST / "three-components.wast"), "--strategy", strategy,
                 "--trace", str(out)]) == 0
    events = _load(out)["traceEvents"]
    starts = [e for e in events if e["ph"] == "s"]
    ends = {e["id"]: e for e in events if e["ph"] == "f"}
    assert starts, "a call between components draws an arrow"
    for s in starts:
        f = ends[s["id"]]
        assert (s["pid"], s["tid"]) != (f["pid"], f["tid"])  # caller's track -> callee's
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
             if e.get("name") == "thread_name"}
    assert len(set(names.values())) >= 2
    blocks = [e for e in events if e.get("name") == "thread.block"]
    assert blocks and all(names[e["pid"], e["tid"]] == e["args"]["thread"] for e in blocks)
    assert any(e["ph"] == "C" and e["name"] == "live tasks" for e in events)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_run_trace_of_a_host_call(tmp_path, strategy, capsys):
    out = tmp_path / "t.json"
    status, started = _traced_main([
        "run", str(ROOT / "examples" / "greet.wat"), "--host",
        str(ROOT / "examples" / "greet_host.py"), "--invoke", 'greet("you")',
        "--strategy", strategy, "--trace", str(out)])
    assert status == 0
    slices = _task_slices(_load(out))
    assert slices["greet.greet#1"] == 1 and slices["exclaim"] == 1  # the call, the host's task
    assert started["greet.greet#1"] == 1
    assert all(slices[name] == n for name, n in started.items())  # start functions too


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_deadlock_is_traced_and_prints_the_task_tree(tmp_path, strategy, capsys):
    out = tmp_path / "t.json"
    status = main(["run", str(HERE / "deadlock.wat"), "--invoke", "stuck()", "--strategy",
                   strategy, "--trace", str(out)])
    assert status == 1
    err = capsys.readouterr().err
    assert "deadlock detected" in err
    assert "task tree (strategy " + strategy in err
    assert "task deadlock.stuck#1 in deadlock: STARTED" in err
    assert "waiting on waitable-set.wait on set 1" in err
    assert "handle 1: waitable-set (1 waiting)" in err
    document = _load(out)
    [deadlock] = [e for e in document["traceEvents"] if e.get("name") == "deadlock"]
    assert deadlock["ph"] == "i" and deadlock["s"] == "g"
    [task] = [s for s in trace_checks.slices(document) if s.name == "deadlock.stuck#1"]
    assert task.cat == "task" and task.args.get("unfinished") is True


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_trap_prints_the_wasm_backtrace_and_the_task_chain(tmp_path, strategy, capsys):
    out = tmp_path / "t.json"
    status = main(["run", str(HERE / "trap.wat"), "--invoke", "f()", "--strategy", strategy,
                   "--trace", str(out)])
    assert status == 1
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0] == "error: wasm trap: wasm `unreachable` instruction executed"
    assert lines[1] == "wasm backtrace (innermost first):"
    assert lines[2].startswith("  0: m!inner (offset 0x")
    assert lines[3].startswith("  1: m!")
    assert "tasks (host's call first): trap.f#1" in err
    assert "instance trap (trapped)" in err
    document = _load(out)
    [trap_event] = [e for e in document["traceEvents"] if e.get("name") == "trap"]
    assert "unreachable" in trap_event["args"]["message"]
    [task] = [s for s in trace_checks.slices(document) if s.name == "trap.f#1"]
    assert task.cat == "task" and "unwound by" in task.args


def test_a_trap_in_a_callee_names_the_chain_from_the_host():
    from stackswitch.canon.types import FuncType
    from stackswitch.embed.guest import PyComponent
    from stackswitch.errors import Trap

    store = Store()
    callee = PyComponent(store, "callee")
    caller = PyComponent(store, "caller")

    @callee.export(FuncType([], []))
    def boom() -> None:
        raise Trap("wasm trap: boom")

    call_inner = caller.import_(boom, FuncType([], []))

    @caller.export(FuncType([], []))
    def outer() -> None:
        call_inner()

    with pytest.raises(Trap) as info:
        store.call(outer, [])
    assert info.value.task_chain == ["caller.outer#1", "callee.boom#2"]
    assert "task caller.outer#1 in caller" in info.value.task_tree


# -- the task tree -----------------------------------------------------------------------------


def test_store_task_tree_shows_blocked_tasks_and_what_they_wait_on():
    store = Store()
    run, _ = build(store)
    call = store.invoke(run, [])
    text = store.task_tree()
    assert not call.resolved
    assert text.startswith("task tree (strategy stackful,")
    assert "instance client" in text and "instance server" in text
    assert "task client.run#1 in client: STARTED" in text
    assert "waiting on" in text
    # the callee is listed under its caller
    lines = text.splitlines()
    run_at = next(i for i, line in enumerate(lines) if "task client.run#1" in line)
    fetch_at = next(i for i, line in enumerate(lines) if "task server.fetch#2" in line)
    assert fetch_at > run_at
    indent = len(lines[fetch_at]) - len(lines[fetch_at].lstrip())
    assert indent > len(lines[run_at]) - len(lines[run_at].lstrip())
    dot = store.task_tree_dot()
    assert dot.startswith("digraph task_tree {") and dot.rstrip().endswith("}")
    assert "-> " in dot and "[label=call]" in dot
    store.run_until(lambda: call.resolved)
    assert "no live task" in store.task_tree()


def test_tree_and_tree_dot_options(tmp_path, capsys):
    dot = tmp_path / "tree.dot"
    assert main(["run", str(ROOT / "examples" / "add.wat"), "--invoke", "add(2, 40)", "--tree",
                 "--tree-dot", str(dot)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("42\n")
    assert "task tree (strategy stackful" in out
    assert dot.read_text().startswith("digraph task_tree {")


# -- the event log -----------------------------------------------------------------------------


def test_log_prints_every_event_or_only_the_chosen_instances(capsys):
    argv = ["wast", str(WAST / "three-components.wast")]
    assert main([*argv, "--log"]) == 0
    every = capsys.readouterr().out.splitlines()
    assert any("starts with args" in line for line in every)
    assert any("blocks on" in line for line in every)
    instances = {line.split()[1].split(".")[0] for line in every if "starts with args" in line}
    assert len(instances) >= 2
    chosen = sorted(instances)[0]
    assert main([*argv, "--log", chosen]) == 0
    some = capsys.readouterr().out.splitlines()
    started = [line for line in some if "starts with args" in line]
    assert started and all(line.split()[1].startswith(chosen + ".") for line in started)
    assert len(some) < len(every)


def test_event_log_writes_numbered_lines(tmp_path):
    import io
    store = Store()
    run, _ = build(store)
    out = io.StringIO()
    with EventLog(out=out) as log:
        store.call(run, [])
    lines = out.getvalue().splitlines()
    assert log.lines == len(lines) > 10
    assert lines[0] == "  1  host calls run()"


# -- trace documents ---------------------------------------------------------------------------


def test_the_checker_finds_broken_traces():
    def doc(*events):
        return {"traceEvents": list(events)}

    b = {"ph": "B", "pid": 1, "tid": 1, "ts": 1.0, "name": "x"}
    e = {"ph": "E", "pid": 1, "tid": 1, "ts": 2.0}
    assert trace_checks.check(doc(b, e)) == []
    assert "1 B without E" in trace_checks.check(doc(b))[0]
    assert "no open B" in trace_checks.check(doc(e))[0]
    other = {**e, "tid": 2}
    assert len(trace_checks.check(doc(b, other))) == 2
    assert "dur" in trace_checks.check(doc({"ph": "X", "pid": 1, "tid": 1, "ts": 1}))[0]
    flow_out = {"ph": "s", "id": 1, "pid": 1, "tid": 1, "ts": 5.0}
    flow_in = {"ph": "f", "id": 1, "pid": 1, "tid": 1, "ts": 1.5, "bp": "e"}
    problems = trace_checks.check(doc(b, e, flow_out, flow_in))
    assert problems == ["flow 1 (s) at 5.0 on track (1, 1) is in no slice"]
    assert "lacks its end" in trace_checks.check(doc(b, e, {**flow_in, "ph": "s"}))[0]
    assert trace_checks.check([]) == ["not a trace document: no traceEvents list"]
    assert "unknown" in trace_checks.check(doc({"ph": "?"}))[0]


def test_a_demo_trace_and_two_merged_side_by_side(tmp_path, capsys):
    out = tmp_path / "demo.json"
    assert main(["demo", "--trace", str(out)]) == 0
    document = _load(out)
    assert _task_slices(document) == Counter(
        {"client.run#1": 1, "server.fetch#2": 1, "disk.read": 1, "consumer.consume#3": 1})
    copied = [e for e in document["traceEvents"] if e.get("name") == "stream bytes copied"]
    assert copied and copied[-1]["args"]["value"] == 12
    live = [e["args"]["value"] for e in document["traceEvents"]
            if e.get("name") == "live waitables (all instances)"]
    assert max(live) >= 3 and live[-1] == 0  # every set, subtask and end was dropped
    both = merge([document, document])
    assert trace_checks.check(both) == []
    assert len({e["pid"] for e in both["traceEvents"]}) == 2 * len(
        {e["pid"] for e in document["traceEvents"]})


def test_nobody_listening_after_the_trace_is_written(tmp_path):
    recorder = ChromeTrace()
    with recorder:
        assert trace.enabled()
    assert not trace.enabled()


def test_compare_merges_one_trace_per_strategy(tmp_path, capsys):
    out = tmp_path / "c.json"
    assert main(["compare", "--wast", str(WAST / "streams.wast"), "--trace", str(out)]) == 0
    err = capsys.readouterr().err
    assert "round 1/1 stackful:" in err and "round 1/1 callback:" in err
    document = _load(out)
    processes = {e["args"]["name"] for e in document["traceEvents"]
                 if e.get("name") == "process_name"}
    assert any(p.startswith("stackful: ") for p in processes)
    assert any(p.startswith("callback: ") for p in processes)
    assert main(["compare", "--wast", str(WAST / "streams.wast"), "-q"]) == 0
    assert "round" not in capsys.readouterr().err


# -- wasm backtraces ---------------------------------------------------------------------------


def test_wasmtime_backtrace_text_becomes_frames():
    text = ("error while executing at wasm backtrace:\n"
            "    0:     0x20 - m!inner\n"
            "                    at /src/m.c:3:5\n"
            "    1:     0x24 - <unknown>!<wasm function 1>\n"
            "    2:    0x1ff - bare")
    frames = parse(text)
    assert frames == [WasmFrame("m", "inner", 0x20, "/src/m.c:3:5"),
                      WasmFrame("<unknown>", "<wasm function 1>", 0x24),
                      WasmFrame("<unknown>", "bare", 0x1ff)]
    assert str(frames[0]) == "m!inner (offset 0x20)  at /src/m.c:3:5"
    assert parse("no frames here") == []


# -- progress ----------------------------------------------------------------------------------


def test_wast_prints_a_progress_line_per_file_unless_quiet(capsys):
    files = [str(WAST / "futures.wast"), str(WAST / "streams.wast")]
    assert main(["wast", *files]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"{files[0]}: 13 passed, 0 failed",
                                         f"{files[1]}: 9 passed, 0 failed"]
    assert captured.out == "22 passed, 0 failed\n"
    assert main(["wast", *files, "-q"]) == 0
    assert capsys.readouterr().err == ""


# -- profile -----------------------------------------------------------------------------------


def test_profile_builds_a_py_spy_command_and_refuses_bad_ones():
    if shutil.which("py-spy") is None:
        with pytest.raises(InputError, match="py-spy is not installed"):
            py_spy_command(["demo"], "out.json")
        return
    command = py_spy_command(["demo"], "out.svg", "flamegraph", 50, native=True)
    assert command[1:8] == ["record", "--output", "out.svg", "--format", "flamegraph",
                            "--rate", "50"]
    assert command[-4:] == [sys.executable, "-m", "stackswitch", "demo"]
    for argv, message in (([], "name the command"), (["profile"], "itself")):
        with pytest.raises(InputError, match=message):
            py_spy_command(argv, "out.json")


@pytest.mark.skipif(shutil.which("py-spy") is None, reason="py-spy not installed")
def test_profile_writes_a_speedscope_file(tmp_path):
    out = tmp_path / "p.json"
    proc = subprocess.run([sys.executable, "-m", "stackswitch", "profile", "-o", str(out),
                           "--rate", "200", "--", "demo"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    if proc.returncode != 0 and "ermission" in proc.stderr:
        pytest.skip(f"py-spy may not sample here: {proc.stderr.strip()[-200:]}")
    assert proc.returncode == 0, proc.stderr
    assert "result: client.run() = 4212" in proc.stdout
    profile = json.loads(out.read_text())
    assert profile["$schema"].startswith("https://www.speedscope.app")


def test_explore_traces_every_schedule_it_runs(tmp_path, capsys):
    out = tmp_path / "e.json"
    main(["explore", str(ROOT / "tests" / "explore" / "race.wast"), "--trace", str(out), "-q"])
    assert "replay:" in capsys.readouterr().out
    document = _load(out)
    runs = [e for e in document["traceEvents"] if e.get("name") == "process_name"]
    assert len(runs) > 2  # a process per instance tree of every run


def test_ctrl_c_prints_the_interrupted_chain_and_the_task_tree(tmp_path):
    import signal

    host = tmp_path / "spin.py"
    host.write_text("import sys\n\n"
                    "def exclaim(s):\n"
                    "    print('spinning', file=sys.stderr, flush=True)\n"
                    "    while True:\n"
                    "        pass\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "stackswitch", "run", str(ROOT / "examples" / "greet.wat"),
         "--host", str(host), "--invoke", 'greet("x")'], cwd=ROOT, stderr=subprocess.PIPE,
        text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stderr.readline() == "spinning\n"
        proc.send_signal(signal.SIGINT)
        err = proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130
    assert "interrupted (Ctrl-C) in greet.greet#1 -> exclaim; the task tree then:" in err
    assert "task greet.greet#1 in greet: STARTED" in err
    assert "Traceback" not in err


def test_the_tree_lists_a_task_still_waiting_to_enter():
    from stackswitch.canon.types import FuncType, U32Type
    from stackswitch.embed.guest import PyComponent

    store = Store()
    server = PyComponent(store, "server")
    client = PyComponent(store, "client")
    ft = FuncType([], [U32Type()], async_=True)

    @server.export(FuncType([], []))
    def close() -> None:
        server.backpressure_inc()

    @server.export(ft, abi="stackful")
    def work() -> None:
        server.task_return(7)

    call_work = client.import_(work, ft, async_=True)

    @client.export(ft, abi="stackful")
    def run() -> None:
        status = call_work(client.alloc(4, 4))
        ws = client.waitable_set_new()
        client.waitable_join(status >> 4, ws)
        client.wait(ws)

    store.call(close, [])
    store.invoke(run, [])
    lines = store.task_tree().splitlines()
    assert "  instance server (backpressure 1, 1 waiting to enter)" in lines
    assert "    handle 1: subtask -> server.work#3 STARTING (in a waitable set)" in lines
    assert "      task server.work#3 in server: INITIAL" in lines
    assert "        thread server.work#3: waiting on backpressure on server" in lines
    assert "task2 -> task0 [label=call];" in store.task_tree_dot()

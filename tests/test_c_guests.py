"""C guests built from source (examples/c/) with zig's C compiler and wasm-tools.

The build needs ``ziglang`` (PyPI) and ``wasm-tools``, both in the dev extra:
without them these tests fail, on purpose, rather than skip.
"""

import runpy
import subprocess
from pathlib import Path

import pytest
from conftest import load_script

from stackswitch import trace
from stackswitch.canon.host_streams import StreamReader
from stackswitch.cli import main
from stackswitch.component import wasm_tools
from stackswitch.component.linker import Linker
from stackswitch.component.wasm_tools import load_component, validate

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCRIPT = EXAMPLES / "build_c_guests.py"
BLOCKING_HOST = EXAMPLES / "c" / "blocking_host.py"


@pytest.fixture(scope="module")
def guests(c_guests):
    """Every examples/c/*.c built once for the session (conftest.c_guests), by name."""
    return c_guests


def test_every_c_guest_is_a_valid_async_component(guests):
    for path in guests.values():
        assert validate(path.read_bytes()) is None, path
        proc = subprocess.run([wasm_tools.executable(), "validate", "--features",
                               "cm-async,cm-async-stackful,cm-more-async-builtins", str(path)],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr


def test_blocking_guest_runs_from_the_command_line(guests, capsys):
    code = main(["run", str(guests["blocking"]), "--host", str(BLOCKING_HOST),
                 "--invoke", "run(21)"])
    assert code == 0, capsys.readouterr().err
    assert capsys.readouterr().out == "42\n"


def test_blocking_guest_blocks_in_waitable_set_wait_until_the_host_returns(guests):
    slow_double = runpy.run_path(str(BLOCKING_HOST))["IMPORTS"]["slow-double"]
    linker = Linker()
    linker.define("slow-double", slow_double)
    instance = linker.instantiate(load_component(guests["blocking"]))
    with trace.Recorder(("thread.block", "task.return")) as rec:
        assert instance.func("run").call(21) == 42
    # The stackful export's own stack suspended in waitable-set.wait while the
    # host function (on its stack) yielded, and resumed once it returned.
    order = [(e.kind, e.fields.get("thread") or e.fields.get("task"), str(e.fields.get("on", "")))
             for e in rec.events]
    waits = [i for i, (kind, who, on) in enumerate(order)
             if kind == "thread.block" and who.endswith("run#1") and on.startswith("waitable-set.wait")]
    host_return = [i for i, (kind, who, _) in enumerate(order)
                   if kind == "task.return" and who == "slow-double"]
    assert waits and host_return and waits[0] < host_return[0], order
    assert instance.func("run").call(0) == 0
    assert instance.func("run").call(2**31 - 1) == 2**32 - 2


def test_stream_guest_runs_from_the_command_line(guests, capsys):
    code = main(["run", str(guests["stream"]), "--invoke", "count(5)"])
    assert code == 0, capsys.readouterr().err
    assert capsys.readouterr().out == "[0, 1, 2, 3, 4]\n"


def test_stream_guest_writes_after_task_return_in_chunks(guests):
    linker = Linker()
    instance = linker.instantiate(load_component(guests["stream"]))
    s = instance.func("count").call(300)
    assert StreamReader(linker.store, s).read_all() == [i % 256 for i in range(300)]
    # Short reads complete the guest's 64-byte writes partly: it loops on the count.
    s = instance.func("count").call(100)
    reader = StreamReader(linker.store, s)
    assert reader.read(10) == list(range(10))
    assert reader.read(7) == list(range(10, 17))
    assert reader.read_all() == list(range(17, 100))
    s = instance.func("count").call(0)
    assert StreamReader(linker.store, s).read_all() == []


def test_stream_guest_stops_when_the_reader_drops(guests):
    linker = Linker()
    instance = linker.instantiate(load_component(guests["stream"]))
    with trace.Recorder(("stream.event", "thread.exit")) as rec:
        s = instance.func("count").call(1000)
        reader = StreamReader(linker.store, s)
        assert reader.read(3) == [0, 1, 2]
        reader.close()
        # The instance goes on: a later call runs while the first may still wait.
        s = instance.func("count").call(3)
        assert StreamReader(linker.store, s).read_all() == [0, 1, 2]
    # The first task's blocked write came back DROPPED after 3 values, and
    # instead of writing the rest, it dropped its end and returned.
    events = [(e.kind, e.fields.get("result"), e.fields.get("count"), e.fields.get("thread"))
              for e in rec.events]
    assert ("stream.event", "DROPPED", 3, None) in events, events
    assert sum(kind == "stream.event" for kind, *_ in events) == 2, events
    assert [t for kind, _, _, t in events if kind == "thread.exit"] == \
        [f"{instance.name}.count#1", f"{instance.name}.count#2"], events


def test_a_failing_step_is_named_with_the_tool_output(tmp_path):
    script = load_script(SCRIPT)
    broken = tmp_path / "broken.c"
    broken.write_text("int f(void) { return }\n")
    broken.with_suffix(".wit").write_text("package a:b;\nworld broken {}\n")
    with pytest.raises(script.BuildError) as info:
        script.build_guest(broken, tmp_path / "out", verbose=False)
    message = str(info.value)
    assert "broken: compile broken.c (zig cc) failed" in message
    assert "error" in message

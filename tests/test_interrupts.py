"""Ctrl-C and --timeout stop a guest wherever it is: looping in wasm, blocked in a host
function, under either strategy (stackswitch/wasm/interrupts.py).

Before: a guest looping in wasm ignored SIGINT for as long as anyone waited
(only kill -9 ended it), and a host function blocked forever ignored --timeout.
"""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stackswitch.cli import main

ROOT = Path(__file__).resolve().parent.parent
SPIN = str(ROOT / "tests" / "limits" / "spin.wat")
GREET = str(ROOT / "examples" / "greet.wat")

BLOCKED_HOST = """
import threading

def exclaim(s: str) -> str:
    threading.Event().wait()  # blocks forever, in C, holding no wasm
    return s
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="sends signals, reads /proc")


def start(*args: str) -> subprocess.Popen:
    """``stackswitch ARGS`` in a child process."""
    return subprocess.Popen([sys.executable, "-m", "stackswitch", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def threads_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def interrupt_after(child: subprocess.Popen, seconds: float) -> tuple[float, str]:
    """Send SIGINT ``seconds`` after the command started (its handlers are in place once
    the process has a second thread: the watcher starts before the command runs, and
    anything else only after); how long the child took to exit, and its stderr."""
    deadline = time.monotonic() + 60
    while threads_of(child.pid) < 2 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(seconds)
    assert child.poll() is None, child.communicate()
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    try:
        _, err = child.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise AssertionError("the child ignored SIGINT for 10 s") from None
    return time.monotonic() - sent, err


@pytest.mark.parametrize("strategy", ["stackful", "callback"])
def test_ctrl_c_stops_a_guest_looping_in_wasm_within_a_second(strategy):
    child = start("run", SPIN, "--strategy", strategy)
    took, err = interrupt_after(child, 1.0)
    assert child.returncode == 130
    assert took < 1.0
    assert err.startswith("interrupted (Ctrl-C)")  # then the task tree, no traceback
    assert "Traceback" not in err


@pytest.mark.parametrize("strategy", ["stackful", "callback"])
def test_ctrl_c_stops_a_host_function_blocked_forever(tmp_path, strategy):
    host = tmp_path / "host.py"
    host.write_text(BLOCKED_HOST)
    child = start("run", GREET, "--host", str(host), "--invoke", 'greet("x")',
                  "--strategy", strategy)
    took, err = interrupt_after(child, 1.0)
    assert child.returncode == 130
    assert took < 1.0
    assert err.startswith("interrupted (Ctrl-C) in ")
    assert "Traceback" not in err


@pytest.mark.parametrize("strategy", ["stackful", "callback"])
def test_timeout_stops_a_looping_guest(strategy, capsys):
    started = time.monotonic()
    assert main(["run", SPIN, "--timeout", "0.3", "--strategy", strategy]) == 1
    assert time.monotonic() - started < 5
    assert "error: wasm trap: interrupt: the time limit (--timeout) ran out" \
        in capsys.readouterr().err


def test_timeout_covers_a_host_function_blocked_forever(tmp_path, capsys):
    host = tmp_path / "host.py"
    host.write_text(BLOCKED_HOST)
    started = time.monotonic()
    assert main(["run", GREET, "--host", str(host), "--invoke", 'greet("x")',
                 "--timeout", "0.3"]) == 1
    assert time.monotonic() - started < 5
    assert "the time limit (--timeout) ran out" in capsys.readouterr().err


def test_the_handlers_are_put_back_after_a_command():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGALRM)
    assert main(["run", str(ROOT / "examples" / "add.wat"), "--invoke", "add(1, 2)"]) == 0
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGALRM)) == before
    assert signal.set_wakeup_fd(-1) == -1

"""The Python and JavaScript guests end to end, on stackswitch's WASI host.

Each WASI command runs as ``stackswitch run GUEST --dir D::/data --env
GREETING=hi a b 3`` with bytes on stdin, under both strategies, and must
print what wasmtime itself prints for the same run (wasmtime-py's native
component support with its own WASI 0.2 host, in this process), exit with
the same status and leave the same file in the preopened directory. The
async Python export must await a host call and a WASI 0.3 sleep at once.

These need the WASI host (``stackswitch.wasi``); the guests are built as in
test_toolchain_guests.py (skipped only if a toolchain is missing).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import wasmtime
import wasmtime.component as native
from test_toolchain_guests import ASYNC_HOST, guest, toolchain_guests  # noqa: F401

pytest.importorskip("stackswitch.wasi", reason="the WASI host (stackswitch.wasi) is not here")

ROOT = Path(__file__).resolve().parent.parent
STDIN = b"some input\n"
ARGS = ["a", "b", "3"]


def native_run(path: Path, data: Path, tmp: Path) -> tuple[str, str, int]:
    """stdout, stderr and exit status of ``path`` run by wasmtime itself."""
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.argv = [path.stem, *ARGS]
    wasi.env = [("GREETING", "hi")]
    wasi.preopen_dir(str(data), "/data")
    (tmp / "stdin").write_bytes(STDIN)
    wasi.stdin_file = str(tmp / "stdin")
    wasi.stdout_file = str(tmp / "stdout")
    wasi.stderr_file = str(tmp / "stderr")
    store.set_wasi(wasi)
    linker = native.Linker(engine)
    linker.add_wasip2()
    instance = linker.instantiate(store, native.Component.from_file(engine, str(path)))
    run_index = instance.get_export_index(store, "wasi:cli/run@0.2.12")
    run = instance.get_func(store, instance.get_export_index(store, "run", run_index))
    try:
        run(store)
        status = 0
    except wasmtime.ExitTrap as e:
        status = e.code
    return (tmp / "stdout").read_text(), (tmp / "stderr").read_text(), status


def skip_without_sockets(proc: subprocess.CompletedProcess[str]) -> None:
    """componentize-py's runtime imports wasi:sockets whether the app uses it or not: until
    the WASI host serves those interfaces (even as traps), such a guest cannot link."""
    if proc.returncode == 2 and "'wasi:sockets/" in proc.stderr:
        pytest.skip(f"the WASI host does not serve wasi:sockets yet: {proc.stderr.strip()}")


def ours(path: Path, data: Path, strategy: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "stackswitch", "run", str(path), "--strategy", strategy,
         "--dir", f"{data}::/data", "--env", "GREETING=hi", *ARGS],
        input=STDIN.decode(), capture_output=True, text=True, check=False, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    skip_without_sockets(proc)
    return proc


@pytest.mark.parametrize("name", ["cli_app", "js_cli_app"])
def test_wasi_command_prints_what_wasmtime_prints(toolchain_guests, name,  # noqa: F811
                                                  tmp_path):
    path = guest(toolchain_guests, name)
    (tmp_path / "native").mkdir()
    stdout, stderr, status = native_run(path, tmp_path / "native", tmp_path)
    language = "Python" if name == "cli_app" else "JavaScript"
    assert stdout.splitlines()[0] == f"hello from {language}, argc=4"
    assert "file: written by the guest" in stdout and stderr == "exiting with 3\n"
    assert status == 1  # WASI 0.2's exit(err): any non-zero code is 1
    for strategy in ("stackful", "callback"):
        data = tmp_path / strategy
        data.mkdir()
        proc = ours(path, data, strategy)
        assert (proc.stdout, proc.stderr, proc.returncode) == (stdout, stderr, status), strategy
        assert ((data / "hello.txt").read_text()
                == (tmp_path / "native" / "hello.txt").read_text())


@pytest.mark.parametrize("strategy", ["stackful", "callback"])
def test_async_export_awaits_a_host_call_and_a_wasi_sleep_at_once(toolchain_guests,  # noqa: F811
                                                                  strategy):
    """The host's fetch sleeps 300 ms and the guest's WASI 0.3 wait-for 300 ms: awaited one
    after the other they would take at least 600 ms by the guest's own clock."""
    path = guest(toolchain_guests, "async_app")
    proc = subprocess.run(
        [sys.executable, "-m", "stackswitch", "run", str(path), "--strategy", strategy,
         "--host", str(ASYNC_HOST), "--invoke", 'work("key", 300)'],
        capture_output=True, text=True, check=False, cwd=ROOT)
    skip_without_sockets(proc)
    assert proc.returncode == 0, proc.stderr
    found = re.fullmatch(r'"KEY-ANSWER; slept 300 ms alongside: yes; (\d+) ms in all"\n',
                         proc.stdout)
    assert found, proc.stdout
    assert 300 <= int(found.group(1)) < 600

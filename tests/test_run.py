"""`stackswitch run`: one component, one call, values in WAVE."""

import subprocess
import sys
from pathlib import Path

from stackswitch.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

SPIN = """
(component
  (core module $M (func (export "spin") (loop $l (br $l))))
  (core instance $m (instantiate $M))
  (func (export "spin") (canon lift (core func $m "spin"))))
"""

TRAP = """
(component
  (core module $M (func (export "boom") unreachable))
  (core instance $m (instantiate $M))
  (func (export "boom") (canon lift (core func $m "boom"))))
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_invoke_prints_the_result_in_wave(capsys):
    assert main(["run", str(EXAMPLES / "add.wat"), "--invoke", "add(2, 40)"]) == 0
    assert capsys.readouterr().out == "42\n"


def test_the_only_export_is_called_by_default(tmp_path, capsys):
    assert main(["run", str(EXAMPLES / "add.wat"), "--invoke", "add(1, 1)"]) == 0
    capsys.readouterr()
    spin = write(tmp_path, "trap.wat", TRAP)
    assert main(["run", spin]) == 1
    assert "wasm `unreachable` instruction executed" in capsys.readouterr().err


def test_host_file_supplies_imports_and_strings_cross_both_ways(capsys):
    code = main(["run", str(EXAMPLES / "greet.wat"), "--host", str(EXAMPLES / "greet_host.py"),
                 "--invoke", 'greet("world")'])
    assert code == 0
    assert capsys.readouterr().out == '"hello, world!"\n'


def test_a_missing_import_is_named(capsys):
    assert main(["run", str(EXAMPLES / "greet.wat"), "--invoke", 'greet("x")']) == 2
    assert "missing import 'exclaim'" in capsys.readouterr().err


def test_a_trap_exits_1_with_its_message(tmp_path, capsys):
    assert main(["run", write(tmp_path, "t.wat", TRAP), "--invoke", "boom()"]) == 1
    assert "error: wasm trap: wasm `unreachable` instruction executed" in capsys.readouterr().err


def test_fuel_and_timeout_stop_a_guest_that_loops_forever(tmp_path, capsys):
    spin = write(tmp_path, "spin.wat", SPIN)
    assert main(["run", spin, "--fuel", "100000"]) == 1
    assert "all fuel consumed" in capsys.readouterr().err
    assert main(["run", spin, "--timeout", "0.2"]) == 1
    assert "interrupt" in capsys.readouterr().err


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    add = str(EXAMPLES / "add.wat")
    assert main(["run", add, "--invoke", 'add("x", 1)']) == 2
    assert "argument 1 of add (u32)" in capsys.readouterr().err
    assert main(["run", add, "--invoke", "add(1)"]) == 2
    assert "add takes 2 argument(s), 1 given" in capsys.readouterr().err
    assert main(["run", add, "--invoke", "sub(1, 2)"]) == 2
    assert "no export named 'sub'" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "nope.wasm")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["run", write(tmp_path, "bad.wat", "(component (func"), "--invoke", "f()"]) == 2
    assert "cannot parse component text" in capsys.readouterr().err


def test_run_help_explains_wave():
    out = subprocess.run([sys.executable, "-m", "stackswitch", "run", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "WAVE" in out and "--host" in out and "--fuel" in out


STREAM = """
(component
  (core module $Mem
    (memory (export "mem") 1)
    (data (i32.const 64) "stream!"))
  (core instance $mem (instantiate $Mem))
  (core module $M
    (import "" "mem" (memory 1))
    (import "" "stream.new" (func $stream.new (result i64)))
    (import "" "stream.write" (func $stream.write (param i32 i32 i32) (result i32)))
    (import "" "stream.drop-writable" (func $stream.drop-writable (param i32)))
    (import "" "task.return" (func $task.return (param i32)))
    (func (export "letters") (result i32)
      (local $pair i64) (local $w i32)
      (local.set $pair (call $stream.new))
      (local.set $w (i32.wrap_i64 (i64.shr_u (local.get $pair) (i64.const 32))))
      (call $task.return (i32.wrap_i64 (local.get $pair)))
      ;; a sync write: blocks until the host has read the 7 bytes
      (drop (call $stream.write (local.get $w) (i32.const 64) (i32.const 7)))
      (call $stream.drop-writable (local.get $w))
      (i32.const 0))
    (func (export "cb") (param i32 i32 i32) (result i32) unreachable))
  (type $s (stream u8))
  (core func $new (canon stream.new $s))
  (core func $write (canon stream.write $s (memory (core memory $mem "mem"))))
  (core func $dropw (canon stream.drop-writable $s))
  (core func $ret (canon task.return (result $s)))
  (core instance $m (instantiate $M (with "" (instance
    (export "mem" (memory $mem "mem"))
    (export "stream.new" (func $new)) (export "stream.write" (func $write))
    (export "stream.drop-writable" (func $dropw)) (export "task.return" (func $ret))))))
  (func (export "letters") async (result (stream u8))
    (canon lift (core func $m "letters") async (callback (core func $m "cb")))))
"""


def test_a_returned_stream_is_read_to_its_end(tmp_path, capsys):
    path = write(tmp_path, "letters.wat", STREAM)
    assert main(["run", path, "--invoke", "letters()"]) == 0
    assert capsys.readouterr().out == "[115, 116, 114, 101, 97, 109, 33]\n"

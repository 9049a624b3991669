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
    out = subprocess.run([sys.executable, "-m", "stackswitch.cli", "run", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "WAVE" in out and "--host" in out and "--fuel" in out

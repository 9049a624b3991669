"""The command line: `stackswitch demo` and `--help`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stackswitch.cli import main


def test_demo_prints_an_event_log_and_the_result(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "result: client.run() = 4212  (fetch(7) = 42, bytes consumed = 12)" in out
    assert "server.fetch#2 callback gets SUBTASK (index 1, payload 2)" in out
    assert "blocks on waitable-set.wait" in out
    # Backpressure in the stream: the writer is held until the reader reads.
    assert "client's stream writable end" in out


def test_demo_with_a_seeded_random_policy_is_reproducible(capsys):
    main(["demo", "--policy", "random:3"])
    first = capsys.readouterr().out
    main(["demo", "--policy", "random:3"])
    assert capsys.readouterr().out == first
    assert "result: client.run() = 4212" in first


def test_demo_can_show_raw_stack_switches(capsys):
    main(["demo", "--switches"])
    assert "stack.suspend stack=" in capsys.readouterr().out


def test_bad_policy_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["demo", "--policy", "sometimes"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown scheduler policy 'sometimes'" in err
    assert err.startswith("usage: stackswitch demo ")  # the command's own usage line


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_console_script_help_explains_the_commands():
    out = subprocess.run([sys.executable, "-m", "stackswitch", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "demo" in out and "greenlet" in out


def test_version_is_the_package_version(capsys):
    import stackswitch
    import stackswitch.compiled

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    # The build follows the version: whether the hot modules run compiled (stackswitch.compiled).
    assert capsys.readouterr().out == (f"stackswitch {stackswitch.__version__}, "
                                       f"{stackswitch.compiled.describe()}\n")


ROOT = Path(__file__).resolve().parent.parent
VALUES = str(ROOT / "tests" / "wast" / "values.wast")
RACE = str(ROOT / "tests" / "explore" / "race.wast")


@pytest.mark.parametrize("command", [
    ["demo"],
    ["wast", VALUES],
    ["run", str(ROOT / "examples" / "add.wat"), "--invoke", "add(2, 40)"],
    ["explore", "-q", "--max-runs", "2", "--shrink", "0", RACE],
])
@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
def test_output_into_a_closed_pipe_ends_quietly_with_status_141(command, buffered):
    """``stackswitch ... | head -1`` where head has gone: no traceback, no warning at exit.
    The pipe's read end is closed before the command starts, so every write to stdout
    fails, whether it happens at a print (unbuffered) or at the final flush (buffered)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    try:
        done = subprocess.run([sys.executable, "-m", "stackswitch", *command], cwd=ROOT,
                              stdout=write_end, stderr=subprocess.PIPE, env=env, timeout=120)
    finally:
        os.close(write_end)
    assert done.stderr.decode() == ""
    assert done.returncode == 141


@pytest.mark.parametrize("argv, expected", [
    (["wast", "--", VALUES], "63 passed, 0 failed"),
    (["wast", "--policy", "fifo", "--", VALUES], "63 passed, 0 failed"),
    (["explore", "-q", "--", VALUES], "1 outcome: every schedule gave the same"),
])
def test_double_dash_ends_the_options_before_file_arguments(capsys, argv, expected):
    assert main(argv) == 0
    assert expected in capsys.readouterr().out


def test_after_double_dash_a_dash_word_is_a_file_name(capsys, monkeypatch, tmp_path):
    (tmp_path / "-odd.wast").write_text(Path(VALUES).read_text())
    monkeypatch.chdir(tmp_path)
    assert main(["wast", "--", "-odd.wast"]) == 0
    assert "63 passed, 0 failed" in capsys.readouterr().out


NOT_INSTALLED = """
from importlib import metadata

installed = metadata.version

def version(name):
    if name == "stackswitch":
        raise metadata.PackageNotFoundError(name)
    return installed(name)

metadata.version = version
import stackswitch
from stackswitch.cli import main

print(stackswitch.__version__)
main(["--version"])
"""


def test_version_has_one_source_even_without_installed_metadata():
    """A checkout run without ``pip install`` has no version metadata: the package and
    the command line still agree on what they say instead."""
    done = subprocess.run([sys.executable, "-c", NOT_INSTALLED], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    package, command = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    assert command.startswith(f"stackswitch {package}, ")

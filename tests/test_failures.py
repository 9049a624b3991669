"""How commands report failures: a host function's exception is one line naming the function
and exit status 1 (``--traceback`` adds the trace); a host file that cannot be loaded is bad
input (exit status 2), as is only what the command line got wrong."""

from pathlib import Path

import pytest

from stackswitch.cli import main
from stackswitch.errors import HostError

GREET = str(Path(__file__).resolve().parent.parent / "examples" / "greet.wat")

HOSTS = {
    "raises": ("def exclaim(s):\n    raise ValueError('host boom')\n",
               "error: host function 'exclaim' raised ValueError: host boom"),
    "wrong_type": ("def exclaim(s):\n    return 5\n",
                   "error: host function 'exclaim': its result: expected string (a str), "
                   "got 5 (int)"),
    "recursion": ("def exclaim(s):\n    return exclaim(s)\n",
                  "error: host function 'exclaim' raised RecursionError: maximum recursion "
                  "depth exceeded"),
}


def host_file(tmp_path, text: str) -> str:
    path = tmp_path / "host.py"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("strategy", ["stackful", "callback"])
@pytest.mark.parametrize("case", sorted(HOSTS))
def test_a_host_exception_is_one_line_naming_the_function_and_exits_1(tmp_path, capsys, case,
                                                                      strategy):
    text, expected = HOSTS[case]
    status = main(["run", GREET, "--host", host_file(tmp_path, text), "--invoke", 'greet("x")',
                   "--strategy", strategy])
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    # one line; CPython words a RecursionError differently depending on where it hit
    assert len(lines) == 1 and lines[0].startswith(expected)


def test_traceback_shows_the_python_trace_behind_it(tmp_path, capsys):
    host = host_file(tmp_path, HOSTS["raises"][0])
    assert main(["run", GREET, "--host", host, "--invoke", 'greet("x")', "--traceback"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "raise ValueError('host boom')" in err
    assert err.strip().splitlines()[-1] == HOSTS["raises"][1]


@pytest.mark.parametrize("text, expected", [
    ("import no_such_module_here\n",
     "line 1: ModuleNotFoundError: No module named 'no_such_module_here'"),
    ("x = 1\ndef f(:\n", "line 2: SyntaxError: invalid syntax"),
    ("x = 1\n\nraise RuntimeError('half made')\n", "line 3: RuntimeError: half made"),
])
def test_a_host_file_that_cannot_be_loaded_is_bad_input(tmp_path, capsys, text, expected):
    host = host_file(tmp_path, text)
    assert main(["run", GREET, "--host", host, "--invoke", 'greet("x")']) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"error: --host {host}: cannot be loaded: {expected}"]


def test_a_host_exception_reaches_python_callers_as_host_error():
    from stackswitch import Component, Linker

    def exclaim(s: str) -> str:
        raise KeyError(s)

    linker = Linker()
    linker.define("exclaim", exclaim)
    greet = linker.instantiate(Component.from_file(GREET))["greet"]
    with pytest.raises(HostError, match="host function 'exclaim' raised KeyError: 'x'") as e:
        greet("x")
    assert isinstance(e.value.error, KeyError) and e.value.__cause__ is e.value.error


def test_a_value_error_from_inside_the_runtime_is_a_bug_and_keeps_its_traceback(monkeypatch):
    """Not disguised as a usage error (exit status 2): only bad option values are those."""
    from stackswitch.canon import store
    from stackswitch.scheduler import Scheduler

    class Broken(Scheduler):  # (a subclass: the compiled build's Scheduler is immutable)
        def run_until(self, done):
            raise ValueError("a bug deep in the runtime")

    monkeypatch.setattr(store, "Scheduler", Broken)
    with pytest.raises(ValueError, match="a bug deep in the runtime"):
        main(["run", GREET, "--invoke", 'greet("x")', "--host", str(Path(GREET).with_name(
            "greet_host.py"))])


@pytest.mark.parametrize("argv, message", [
    (["demo", "--policy", "lifo"], "unknown scheduler policy 'lifo'"),
    (["run", GREET, "--policy", "random:x"], "the seed must be an integer"),
    (["run", GREET, "--replay", "1.?"], "malformed replay token '1.?'"),
    (["wast", "x.wast", "--policy", "replay:?"], "malformed replay token '?'"),
    (["explore", "x.wast", "--replay", "?"], "malformed replay token '?'"),
    (["compare", GREET, "--policy", "lifo"], "unknown scheduler policy 'lifo'"),
])
def test_a_bad_policy_or_token_is_a_usage_error_before_the_command_runs(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: stackswitch {argv[0]} ")  # the command's own usage line
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"stackswitch {argv[0]}: error: ") and message in last

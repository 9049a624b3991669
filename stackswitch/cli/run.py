"""``stackswitch run``: instantiate one component and call one export.

Arguments and results are written in WAVE, the value syntax of
``wasmtime run --invoke``; a returned stream is read to its end and printed
as a list, a returned future as its value. Imports come from a Python file (``--host``):
every public callable it defines satisfies the function import of the same
name, and a dict ``IMPORTS`` may map any import name (``ns:pkg/iface``,
``[method]r.f``...) to a callable, or to a dict of callables for an instance
import. Their types come from the component's own import declarations.
"""

from __future__ import annotations

import argparse
import dataclasses
import runpy
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from ..canon import strategy as strategies
from ..canon.host_streams import FutureReader, StreamReader
from ..canon.store import Store
from ..canon.types import FutureType, ListType, StreamType
from ..component.func import Func
from ..component.instance import Instance
from ..component.linker import Linker
from ..component.wasm_tools import load_component
from ..scheduler import Policy
from ..text import wave
from ..wasi import WasiConfig, WasiConfigError, WasiExit
from .failures import InputError


def host_imports(path: str) -> dict[str, Any]:
    """The imports a ``--host`` Python file defines."""
    try:
        namespace = runpy.run_path(path)
    except FileNotFoundError:
        raise InputError(f"--host {path}: no such file") from None
    imports = {name: value for name, value in namespace.items()
               if callable(value) and not name.startswith("_") and not isinstance(value, type)
               and getattr(value, "__module__", None) in (None, "<run_path>")}
    extra = namespace.get("IMPORTS", {})
    if not isinstance(extra, dict):
        raise InputError(f"--host {path}: IMPORTS must be a dict of import names")
    imports.update(extra)
    return imports


def load(component: str, invoke: str | None, *, host: str | None = None,
         policy: str | Policy = "fifo", fuel: int | None = None, interruptible: bool = False,
         strategy: str = "stackful", wasi: WasiConfig | None = None) -> tuple[Linker, Func, list[Any]]:
    """Link ``component`` (with ``host``'s imports, and WASI's as ``wasi`` grants) and parse
    the call: the linker, the export to call and its arguments (canon values).
    ``stackswitch compare`` shares this."""
    imports = host_imports(host) if host is not None else {}
    if not Path(component).exists():
        raise InputError(f"{component}: no such file")
    return prepare(load_component(Path(component)), Path(component).stem, invoke, imports,
                   policy=policy, fuel=fuel, interruptible=interruptible, strategy=strategy,
                   wasi=wasi)


def prepare(binary: bytes, name: str, invoke: str | None, imports: dict[str, Any], *,
            policy: str | Policy = "fifo", fuel: int | None = None,
            interruptible: bool = False,
            strategy: str = "stackful",
            wasi: WasiConfig | None = None) -> tuple[Linker, Func, list[Any]]:
    """:func:`load` from a component binary already read (named ``name``) and the
    imports of a host file already run: ``stackswitch explore`` reads them once and
    links afresh for every run. Without ``invoke``, a component exporting
    ``wasi:cli/run`` is called there."""
    linker = Linker(Store(policy, strategies.named(strategy)), fuel=fuel,
                    interruptible=interruptible)
    for import_name, item in imports.items():
        linker.define(import_name, item)
    linker.add_wasi(wasi if wasi is not None else WasiConfig([name]))
    instance = linker.instantiate(binary, name)
    command = _wasi_command(instance.exports) if invoke is None else None
    if command is not None:
        return linker, command, []
    target = instance
    if invoke is not None and "#" in invoke.split("(", 1)[0]:
        # IFACE#f(...): a function of an exported interface, e.g. 'wasi:cli/run@0.2.12#run()'.
        interface, _, invoke = invoke.partition("#")
        target = instance.exports.get(interface)
        if not isinstance(target, Instance):
            raise InputError(f"--invoke: the component exports no interface {interface!r}")
    export, texts = _choose_call(invoke, target.exports)
    func = target.func(export)
    params = func.ft.param_types()
    if len(texts) != len(params):
        raise InputError(f"{export} takes {len(params)} argument(s), {len(texts)} given")
    args = []
    for i, (text, t) in enumerate(zip(texts, params, strict=True)):
        try:
            args.append(wave.parse_value(text, t))
        except wave.WaveError as e:
            raise InputError(f"argument {i + 1} of {export} ({t}): {e}") from None
    return linker, func, args


def _wasi_command(exports: dict[str, Any]) -> Func | None:
    """The ``run`` function of an exported ``wasi:cli/run@...`` instance, if there is one."""
    for export, item in exports.items():
        if export.startswith("wasi:cli/run@") and isinstance(item, Instance) \
                and isinstance(item.exports.get("run"), Func):
            return dataclasses.replace(item.exports["run"], name=f"{export}#run")
    return None


def show_results(store: Store, func: Func, results: list[Any] | None) -> Iterator[str]:
    """The results of a call of ``func`` in WAVE, one at a time (a stream is read to its end
    only when its turn comes)."""
    for value, t in zip(results or [], func.ft.result_types(), strict=False):
        yield _show_result(store, value, t)


def run(component: str, invoke: str | None, *, host: str | None = None,
        policy: str | Policy = "fifo",
        fuel: int | None = None, timeout: float | None = None, strategy: str = "stackful",
        out: TextIO | None = None, wasi: WasiConfig | None = None) -> int:
    """Run ``component``; print the results in WAVE (to ``out``, default stdout).

    A WASI command (``wasi:cli/run`` exported, no ``invoke``) prints nothing of
    its own: the status is the guest's exit code (0 for ``ok``, 1 for ``err``,
    or what it passed to ``wasi:cli/exit``)."""
    out = sys.stdout if out is None else out
    if wasi is None:
        wasi = WasiConfig([component])
    linker, func, args = load(component, invoke, host=host, policy=policy, fuel=fuel,
                              interruptible=timeout is not None, strategy=strategy, wasi=wasi)
    command = invoke is None and func.name.startswith("wasi:cli/run@")
    timer = threading.Timer(timeout, linker.interrupt) if timeout is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        results = func.call_canon(*args)
    except WasiExit as e:
        out.flush()
        return e.code
    finally:
        if timer is not None:
            timer.cancel()
    if command:
        return 0 if results and results[0].case == "ok" else 1
    for line in show_results(linker.store, func, results):
        print(line, file=out)
    return 0


def _show_result(store: Store, value: Any, t: Any) -> str:
    """A result in WAVE; a stream is read to its end (a list), a future to its value."""
    if isinstance(t, StreamType) and t.t is not None:
        return wave.format_value(StreamReader(store, value).read_all(), ListType(t.t))
    if isinstance(t, FutureType) and t.t is not None:
        return wave.format_value(FutureReader(store, value).get(), t.t)
    return wave.format_value(value, t)


def _choose_call(invoke: str | None, exports: dict[str, Any]) -> tuple[str, list[str]]:
    if invoke is not None:
        try:
            return wave.parse_call(invoke)
        except wave.WaveError as e:
            raise InputError(f"--invoke {invoke!r}: {e}") from None
    functions = [n for n, item in exports.items() if hasattr(item, "ft")]
    if len(functions) == 1:
        return functions[0], []
    raise InputError("which function? pass --invoke 'name(args)' "
                   f"(exports: {', '.join(functions) or 'none'})")


def _stdin() -> Any:
    """The process's stdin for a WASI guest, if it has a descriptor (not under a test runner)."""
    try:
        sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    return sys.stdin.buffer


def command(args: argparse.Namespace) -> int:
    """``stackswitch run``: a trap or bad input is reported by :mod:`.failures`."""
    try:
        wasi = WasiConfig.build([args.component, *args.args], dirs=args.dir, env=args.env,
                                inherit_env=args.inherit_env, allow_network=args.allow_network,
                                stdin=_stdin())
    except WasiConfigError as e:
        raise InputError(str(e)) from None
    return run(args.component, args.invoke, host=args.host, policy=args.policy,
               fuel=args.fuel, timeout=args.timeout, strategy=args.strategy, wasi=wasi)

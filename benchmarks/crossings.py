"""Crossings between Python and wasmtime per iteration of the ping-pong.

Runs the ping-pong of ``native_vs_stackswitch.py`` and counts, per iteration,
every call from Python into wasmtime's C API through ctypes (each function of
:mod:`stackswitch.wasm.capi`, counted by wrapping it) and every call from
wasmtime back into Python (the ctypes callbacks of :mod:`stackswitch.wasm.fibers`,
counted with a profile hook on their code). A count, unlike a time, does not
move with the machine's load. Counting slows the run down: use
``native_vs_stackswitch.py --cpu`` for times. Run:
``python benchmarks/crossings.py [--n N] [--strategy stackful|callback]``.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from native_vs_stackswitch import COMPONENT  # noqa: E402

from stackswitch.component.linker import Linker  # noqa: E402
from stackswitch.component.wasm_tools import load_component  # noqa: E402
from stackswitch.wasm import capi, fibers  # noqa: E402

counts: collections.Counter[str] = collections.Counter()

_CALLBACKS = {"_on_poll", "_always_ready", "_on_async_call", "_on_sync_call", "_async_call",
              "_sync_call"}
"""The Python functions wasmtime calls (through ctypes callbacks); the first two are the
continuation callbacks before 5e15f9a, the next two the import callbacks before their bodies
became ``_async_call`` and ``_sync_call``, so that a copy of this script counts older checkouts."""


def _counting(name: str, f: Any) -> Any:
    def counted(*args: Any) -> Any:
        counts["py->wasm " + name] += 1
        return f(*args)
    return counted


def _instrument() -> None:
    """Count every ctypes function of capi, wherever a module bound it to a name."""
    func_ptr = type(capi.memory_data)
    originals = {id(v): k for k, v in vars(capi).items() if isinstance(v, func_ptr)}
    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if not (name.startswith("stackswitch") or name.startswith("callback_abi")):
            continue
        for attr, value in list(vars(module).items()):
            if isinstance(value, func_ptr) and id(value) in originals:
                setattr(module, attr, _counting(originals[id(value)], value))


def _hook(frame: FrameType, event: str, _arg: Any) -> None:
    if event == "call" and frame.f_code.co_name in _CALLBACKS \
            and frame.f_code.co_filename == fibers.__file__:
        counts["wasm->py " + frame.f_code.co_name] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="iterations counted")
    parser.add_argument("--strategy", default="stackful")
    args = parser.parse_args()

    run = Linker(strategy=args.strategy).instantiate(load_component(COMPONENT)).func("run")
    run.call(10)  # warm up: first-call caches, imports
    _instrument()
    suspensions = fibers.trace.counts["suspensions"]
    sys.setprofile(_hook)
    try:
        result = run.call(args.n)
    finally:
        sys.setprofile(None)
    assert result == args.n, result
    suspensions = fibers.trace.counts["suspensions"] - suspensions
    total = sum(counts.values())
    print(f"{args.strategy}: {total / args.n:.2f} crossings per iteration "
          f"({sum(v for k, v in counts.items() if k.startswith('py->')) / args.n:.2f} into wasmtime, "
          f"{sum(v for k, v in counts.items() if k.startswith('wasm->')) / args.n:.2f} back), "
          f"{suspensions / args.n:.2f} fiber suspensions")
    for name, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"  {n / args.n:6.2f}  {name}")


if __name__ == "__main__":
    main()

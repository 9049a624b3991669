"""Mutated component binaries, run under every strategy in one process (the fuzz harness).

The corpus is every component our own ``.wast`` scripts instantiate on their own (plus the
examples and benchmarks/counter.wat), converted once with ``wasm-tools json-from-wast``. A case is one corpus entry
with a few byte edits; :func:`run_case` decodes, links and instantiates it under each
strategy and calls every export whose parameters it can make up, within a fuel budget and
a wall-clock limit per call. What it may end in: results, or one of the project's own errors
(:data:`EXPECTED`). Anything else, a hang past the limit, or strategies that both return but
disagree, is a finding (:class:`Finding`).

Used by ``tests/test_fuzz.py`` (a short budget, in CI) and ``benchmarks/fuzz_components.py``
(a long one).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackswitch.canon import types as T
from stackswitch.canon.store import Store
from stackswitch.canon.strategy import named
from stackswitch.component.decoder import DecodeError
from stackswitch.component.func import CallCancelled
from stackswitch.component.linker import Linker
from stackswitch.component.wasm_tools import executable, load_component
from stackswitch.errors import HostError, LinkError, Trap

ROOT = Path(__file__).resolve().parent.parent
STRATEGIES = ("stackful", "callback")
EXPECTED: tuple[type[BaseException], ...] = (Trap, LinkError, DecodeError, HostError,
                                              CallCancelled)
"""The project's own errors: every way a bad binary may end (a Deadlock is a Trap)."""

FUEL = 200_000
"""Wasm instructions per instance store: enough for every corpus export, little for a loop."""

CALL_SECONDS = 5.0
"""Wall-clock limit per instantiation or call; past it the linker's epoch interrupt fires."""


class Finding(AssertionError):
    """A case that did not end in results or the project's own errors."""


@dataclass
class Outcome:
    """What one strategy made of one binary: ``kind`` is ``link``, ``trap`` or ``ok``."""

    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


def _zero(t: T.ValType) -> Any:
    """A canon value of type ``t`` (None if we do not make up values of that type)."""
    if isinstance(t, T.BoolType):
        return False
    if isinstance(t, T.F32Type | T.F64Type):
        return 0.0
    if isinstance(t, T.CharType):
        return "a"
    if isinstance(t, T.StringType):
        return "fuzz"
    if isinstance(t, T.PrimValType) and not isinstance(t, T.ErrorContextType):
        return 1
    if isinstance(t, T.ListType) and _zero(t.t) is not None:
        return [_zero(t.t)] * (t.length or 1)
    return None


def _calls(instance: Any) -> Iterator[tuple[str, Any, list[Any]]]:
    for name, item in sorted(instance.exports.items()):
        ft = getattr(item, "ft", None)
        if ft is None:
            continue
        args = [_zero(t) for t in ft.param_types()]
        if all(a is not None for a in args):
            yield name, instance.func(name), args


def _limited(linker: Linker, run: Callable[[], Any]) -> Any:
    """``run()``, interrupted (a trap) if it takes longer than :data:`CALL_SECONDS`;
    a :class:`Finding` if even that does not stop it within twice the time."""
    timer = threading.Timer(CALL_SECONDS, linker.interrupt)
    timer.daemon = True
    started = time.monotonic()
    timer.start()
    try:
        return run()
    finally:
        timer.cancel()
        if time.monotonic() - started > 2 * CALL_SECONDS:
            raise Finding(f"ran {time.monotonic() - started:.1f} s: the time limit did not stop it")


def outcome(binary: bytes, strategy: str) -> Outcome:
    """Instantiate ``binary`` under ``strategy`` and call each export we can; the first
    failure (an expected error) or every result. Unexpected exceptions propagate."""
    linker = Linker(Store("fifo", named(strategy)), fuel=FUEL, interruptible=True)
    try:
        instance = _limited(linker, lambda: linker.instantiate(binary, "fuzzed"))
    except EXPECTED as e:
        return Outcome("link", f"{type(e).__name__}: {e}")
    results = []
    for name, func, args in _calls(instance):
        try:
            value = _limited(linker, lambda f=func, a=args: f.call_canon(*a))
        except EXPECTED as e:
            return Outcome("trap", f"{name}: {type(e).__name__}: {e}")
        results.append(f"{name} -> {value!r}")
    return Outcome("ok", "; ".join(results))


def run_case(binary: bytes, strategies: tuple[str, ...] = STRATEGIES) -> dict[str, Outcome]:
    """Each strategy's outcome; raises :class:`Finding` on anything but the expected ones."""
    outcomes: dict[str, Outcome] = {}
    for strategy in strategies:
        try:
            outcomes[strategy] = outcome(binary, strategy)
        except Finding:
            raise
        except Exception as e:
            raise Finding(f"{strategy}: {type(e).__name__}: {e}") from e
    returned = {s: o.detail for s, o in outcomes.items() if o.kind == "ok"}
    if len(set(returned.values())) > 1:
        raise Finding(f"the strategies disagree: {returned}")
    return outcomes


def mutate(binary: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Apply ``(kind, position, value)`` edits: 0 sets a byte, 1 inserts one, 2 deletes one,
    3 truncates, 4 nudges a byte by +-1 keeping its LEB128 continuation bit (so the binary
    more often still decodes and the edit reaches an index, a count or an opcode);
    positions wrap around the current length (the header is kept)."""
    data = bytearray(binary)
    for kind, position, value in edits:
        if len(data) <= 8:
            break
        at = 8 + position % (len(data) - 8)
        if kind == 0:
            data[at] = value
        elif kind == 1:
            data.insert(at, value)
        elif kind == 2:
            del data[at]
        elif kind == 3:
            del data[at:]
        else:
            byte = data[at]
            data[at] = (byte & 0x80) | ((byte + (1 if value & 1 else -1)) & 0x7F)
    return bytes(data)


def corpus() -> list[bytes]:
    """Every component of tests/wast/*.wast that instantiates alone, and the examples and
    benchmark components that import nothing."""
    texts = [*sorted((ROOT / "examples").glob("*.wat")), ROOT / "benchmarks" / "counter.wat"]
    found: list[bytes] = [load_component(p) for p in texts if "(import" not in p.read_text()]
    with tempfile.TemporaryDirectory() as tmp:
        for script in sorted((ROOT / "tests" / "wast").glob("*.wast")):
            out = Path(tmp) / f"{script.stem}.json"
            subprocess.run([executable(), "json-from-wast", str(script), "-o", str(out),
                            "--wasm-dir", tmp], check=True, capture_output=True)
            for cmd in json.loads(out.read_text())["commands"]:
                if cmd["type"] == "module" and cmd.get("module_type", "binary") == "binary":
                    data = (Path(tmp) / cmd["filename"]).read_bytes()
                    if _instantiates(data):
                        found.append(data)
    return found


def _instantiates(binary: bytes) -> bool:
    try:
        Linker(Store("fifo", named("stackful")), fuel=FUEL).instantiate(binary, "seed")
    except EXPECTED:
        return False
    return True

"""The WASI 0.3 interfaces: the same capabilities on the Component Model's own async machinery.

In 0.3 stdout is a ``stream<u8>`` the guest hands over
(``write-via-stream: func(data: stream<u8>) -> future<result<_, error-code>>``),
stdin one the host hands out, and a sleep is an ``async func``
(``wait-for``, ``wait-until``). So:

* ``write-via-stream`` starts a *pump*, a host task of its own that reads the
  guest's stream a chunk at a time and writes each chunk out before it reads
  the next (a guest that writes faster waits: the stream has no buffer), then
  resolves the returned future with ``ok`` when the guest drops its end;
* ``read-via-stream`` returns a stream whose reads are served from stdin only
  when the guest reads (bytes are never read ahead: backpressure), waiting in
  the event loop for the descriptor when nothing is available;
* ``wait-for`` / ``wait-until`` sleep on an event-loop timer
  (:func:`~stackswitch.canon.host_functions.sleep`): the task waits at no CPU
  cost while the others run.

The filesystem is :mod:`.filesystem3`'s (0.2's descriptors in 0.3's shapes).
Sockets and timezone are not implemented: their functions trap, naming
themselves (docs/wasi.md).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from typing import Any

from ..canon.host_functions import sleep
from ..embed.pyvalues import HostResource, Ok
from ..event_loop import EventLoop
from . import filesystem as fs
from . import filesystem3 as fs3
from . import io_streams as io
from .guest_streams import STDIO_RESULT, SourceStream, pump, resolved_later
from .preview2 import Terminal, WasiExit
from .wasi_config import WasiConfig


class Preview3:
    """The state behind WASI 0.3's interfaces for one guest."""

    def __init__(self, config: WasiConfig, loop: EventLoop, store: Any) -> None:
        self.config = config
        self.loop = loop
        self.store = store
        self.terminal_input = HostResource(Terminal)
        self.terminal_output = HostResource(Terminal)
        self.descriptor = HostResource(fs3.Descriptor3, dtor=fs3.Descriptor3.close)
        self.insecure = random.Random(int.from_bytes(os.urandom(8), "little"))
        self.seed = (int.from_bytes(os.urandom(8), "little"),
                     int.from_bytes(os.urandom(8), "little"))
        self.stdin_taken = False

    def interface(self, name: str) -> dict[str, Any] | None:
        build = _INTERFACES.get(name)
        return None if build is None else build(self)

    # -- wasi:cli ------------------------------------------------------------------------

    def cli_environment(self) -> dict[str, Any]:
        return {"get-environment": lambda: list(self.config.env.items()),
                "get-arguments": lambda: list(self.config.args),
                "get-initial-cwd": lambda: None, "initial-cwd": lambda: None}

    def cli_exit(self) -> dict[str, Any]:
        def exit_(status: Any) -> None:
            raise WasiExit(0 if isinstance(status, Ok) else 1)

        def exit_with_code(code: int) -> None:
            raise WasiExit(code)
        return {"exit": exit_, "exit-with-code": exit_with_code}

    def cli_stdin(self) -> dict[str, Any]:
        def read_via_stream() -> tuple[Any, Any]:
            done = resolved_later(STDIO_RESULT)
            stdin = self.config.stdin
            if self.stdin_taken:
                source: Any = io.BytesSource(b"")  # stdin is read once, by one stream
            elif stdin is None or isinstance(stdin, bytes | bytearray):
                source = io.BytesSource(bytes(stdin or b""))
            else:
                source = io.FdSource(stdin.fileno())
            self.stdin_taken = True
            return SourceStream(source, self.loop, done), done
        return {"read-via-stream": read_via_stream}

    def cli_stdout(self) -> dict[str, Any]:
        return {"write-via-stream": lambda data: pump(
            self.store, data, self.config.stdout or io.ProcessStdio("stdout"),
            "wasi:cli/stdout pump")}

    def cli_stderr(self) -> dict[str, Any]:
        return {"write-via-stream": lambda data: pump(
            self.store, data, self.config.stderr or io.ProcessStdio("stderr"),
            "wasi:cli/stderr pump")}

    def cli_terminal_input(self) -> dict[str, Any]:
        return {"terminal-input": self.terminal_input}

    def cli_terminal_output(self) -> dict[str, Any]:
        return {"terminal-output": self.terminal_output}

    def cli_terminal_stdin(self) -> dict[str, Any]:
        return {"terminal-input": self.terminal_input, "get-terminal-stdin": lambda: None}

    def cli_terminal_stdout(self) -> dict[str, Any]:
        return {"terminal-output": self.terminal_output, "get-terminal-stdout": lambda: None}

    def cli_terminal_stderr(self) -> dict[str, Any]:
        return {"terminal-output": self.terminal_output, "get-terminal-stderr": lambda: None}

    # -- wasi:clocks ---------------------------------------------------------------------

    def clocks_monotonic_clock(self) -> dict[str, Any]:
        return {"now": time.monotonic_ns,
                "get-resolution": lambda: _resolution(time.CLOCK_MONOTONIC),
                "wait-for": lambda how_long: sleep(how_long / 1e9),
                "wait-until": lambda when: sleep((when - time.monotonic_ns()) / 1e9)}

    def clocks_system_clock(self) -> dict[str, Any]:
        def now() -> dict[str, int]:
            ns = time.time_ns()
            return {"seconds": ns // 1_000_000_000, "nanoseconds": ns % 1_000_000_000}
        # The 0.3 release candidates named this interface wall-clock, with `resolution`.
        return {"now": now, "get-resolution": lambda: _resolution(time.CLOCK_REALTIME),
                "resolution": lambda: _resolution(time.CLOCK_REALTIME)}

    # -- wasi:filesystem ------------------------------------------------------------------

    def _descriptor(self, inner: fs.Descriptor) -> fs3.Descriptor3:
        return fs3.Descriptor3(inner, self.store, self.loop)

    def filesystem_types(self) -> dict[str, Any]:
        methods = {f"[method]descriptor.{n}": getattr(fs3.Descriptor3, n.replace("-", "_"))
                   for n in fs3.DESCRIPTOR_METHODS}
        return {"descriptor": self.descriptor, **methods}

    def filesystem_preopens(self) -> dict[str, Any]:
        return {"descriptor": self.descriptor,
                "get-directories": lambda: [(self._descriptor(fs.Descriptor.preopen(host)), guest)
                                            for host, guest in self.config.dirs]}

    # -- wasi:random ---------------------------------------------------------------------

    def random_random(self) -> dict[str, Any]:
        return {"get-random-bytes": lambda n: os.urandom(min(n, 1 << 20)),
                "get-random-u64": lambda: int.from_bytes(os.urandom(8), "little")}

    def random_insecure(self) -> dict[str, Any]:
        return {"get-insecure-random-bytes": lambda n: self.insecure.randbytes(min(n, 1 << 20)),
                "get-insecure-random-u64": lambda: self.insecure.getrandbits(64)}

    def random_insecure_seed(self) -> dict[str, Any]:
        return {"get-insecure-seed": lambda: self.seed, "insecure-seed": lambda: self.seed}


def _resolution(clock: int) -> int:
    return max(1, int(time.clock_getres(clock) * 1_000_000_000))


_INTERFACES: dict[str, Callable[[Preview3], dict[str, Any]]] = {
    "wasi:cli/environment": Preview3.cli_environment,
    "wasi:cli/exit": Preview3.cli_exit,
    "wasi:cli/stdin": Preview3.cli_stdin,
    "wasi:cli/stdout": Preview3.cli_stdout,
    "wasi:cli/stderr": Preview3.cli_stderr,
    "wasi:cli/terminal-input": Preview3.cli_terminal_input,
    "wasi:cli/terminal-output": Preview3.cli_terminal_output,
    "wasi:cli/terminal-stdin": Preview3.cli_terminal_stdin,
    "wasi:cli/terminal-stdout": Preview3.cli_terminal_stdout,
    "wasi:cli/terminal-stderr": Preview3.cli_terminal_stderr,
    "wasi:clocks/monotonic-clock": Preview3.clocks_monotonic_clock,
    "wasi:clocks/system-clock": Preview3.clocks_system_clock,
    "wasi:clocks/wall-clock": Preview3.clocks_system_clock,
    "wasi:filesystem/types": Preview3.filesystem_types,
    "wasi:filesystem/preopens": Preview3.filesystem_preopens,
    "wasi:random/random": Preview3.random_random,
    "wasi:random/insecure": Preview3.random_insecure,
    "wasi:random/insecure-seed": Preview3.random_insecure_seed,
}

INTERFACES = tuple(_INTERFACES)
"""The WASI 0.3 interfaces implemented."""

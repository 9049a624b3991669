"""The WASI 0.2 interfaces, as the dicts of Python functions and resources the linker takes.

Each ``interface`` function gives, for one WASI interface (``wasi:io/streams``
...), the mapping from export names (``get-stdout``, ``[method]descriptor.stat``,
resource names) to what implements them; the component's own import
declaration types each one. The resource types are shared across interfaces
(``wasi:cli/stdout`` returns ``wasi:io/streams``' output-stream), so they live
on the :class:`Preview2` object, one per host.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from ..embed.pyvalues import HostResource, Ok
from ..event_loop import EventLoop
from . import filesystem as fs
from . import io_streams as io
from . import sockets as net
from .wasi_config import WasiConfig


class WasiExit(Exception):
    """The guest called ``wasi:cli/exit``: the process should exit with ``code``."""

    def __init__(self, code: int) -> None:
        super().__init__(f"the guest exited with status {code}")
        self.code = code


class Terminal:
    """``terminal-input`` / ``terminal-output``: the guest's stdio is a terminal (no methods)."""


def methods(resource: str, cls: type, names: list[str]) -> dict[str, Callable[..., Any]]:
    """``[method]RESOURCE.NAME`` entries calling ``cls``'s snake_case methods."""
    return {f"[method]{resource}.{n}": getattr(cls, n.replace("-", "_")) for n in names}


class Preview2:
    """The state behind WASI 0.2's interfaces for one guest: resources, stdio, preopens."""

    def __init__(self, config: WasiConfig, loop: EventLoop) -> None:
        self.config = config
        self.loop = loop
        self.error = HostResource(io.WasiError)
        self.pollable = HostResource(io.Pollable)
        self.input_stream = HostResource(io.InputStream)
        self.output_stream = HostResource(io.OutputStream)
        self.descriptor = HostResource(fs.Descriptor, dtor=fs.Descriptor.close)
        self.directory_entry_stream = HostResource(fs.DirectoryEntryStream)
        self.terminal_input = HostResource(Terminal)
        self.terminal_output = HostResource(Terminal)
        self.network = HostResource(net.Network)
        self.tcp_socket = HostResource(net.TcpSocket, dtor=net.TcpSocket.close)
        self.udp_socket = HostResource(net.UdpSocket, dtor=net.UdpSocket.close)
        self.incoming = HostResource(net.IncomingDatagramStream)
        self.outgoing = HostResource(net.OutgoingDatagramStream)
        self.resolve_stream = HostResource(net.ResolveAddressStream)
        for host, _ in config.dirs:
            fs.Descriptor.preopen(host).close()  # fail now, not in the guest, if it cannot be opened
        self.stdin = io.InputStream(self._stdin_source(config.stdin), loop)
        self.stdout = io.OutputStream(io.BinarySink(config.stdout) if config.stdout
                                      else io.ProcessStdio("stdout"))
        self.stderr = io.OutputStream(io.BinarySink(config.stderr) if config.stderr
                                      else io.ProcessStdio("stderr"))
        self.insecure = random.Random(int.from_bytes(os.urandom(8), "little"))
        self.seed = (int.from_bytes(os.urandom(8), "little"), int.from_bytes(os.urandom(8), "little"))

    @staticmethod
    def _stdin_source(stdin: Any) -> Any:
        if stdin is None:
            return io.BytesSource(b"")
        if isinstance(stdin, bytes | bytearray):
            return io.BytesSource(bytes(stdin))
        return io.FdSource(stdin.fileno())

    def _terminal(self, fd: int | None) -> Terminal | None:
        return Terminal() if fd is not None and os.isatty(fd) else None

    @staticmethod
    def _fd(file: Any) -> int | None:
        try:
            return file.fileno()
        except (AttributeError, OSError, ValueError):
            return None

    def interface(self, name: str) -> dict[str, Any] | None:
        """The mapping for interface ``name`` (``wasi:io/streams``, no version); None if unknown."""
        build = _INTERFACES.get(name)
        return None if build is None else build(self)

    # -- wasi:io -------------------------------------------------------------------------

    def io_error(self) -> dict[str, Any]:
        return {"error": self.error, "[method]error.to-debug-string": io.WasiError.to_debug_string}

    def io_poll(self) -> dict[str, Any]:
        return {"pollable": self.pollable,
                "[method]pollable.ready": io.Pollable.ready,
                "[method]pollable.block": lambda p: io.poll(self.loop, [p]) and None,
                "poll": lambda pollables: io.poll(self.loop, list(pollables))}

    def io_streams(self) -> dict[str, Any]:
        return {"error": self.error, "pollable": self.pollable,
                "input-stream": self.input_stream, "output-stream": self.output_stream,
                **methods("input-stream", io.InputStream,
                          ["read", "blocking-read", "skip", "blocking-skip", "subscribe"]),
                **methods("output-stream", io.OutputStream,
                          ["check-write", "write", "blocking-write-and-flush", "flush",
                           "blocking-flush", "subscribe", "write-zeroes",
                           "blocking-write-zeroes-and-flush", "splice", "blocking-splice"])}

    # -- wasi:cli ------------------------------------------------------------------------

    def cli_environment(self) -> dict[str, Any]:
        return {"get-environment": lambda: list(self.config.env.items()),
                "get-arguments": lambda: list(self.config.args),
                "initial-cwd": lambda: None}

    def cli_exit(self) -> dict[str, Any]:
        def exit_(status: Any) -> None:
            raise WasiExit(0 if isinstance(status, Ok) else 1)

        def exit_with_code(code: int) -> None:
            raise WasiExit(code)
        return {"exit": exit_, "exit-with-code": exit_with_code}

    def cli_stdin(self) -> dict[str, Any]:
        return {"input-stream": self.input_stream, "get-stdin": lambda: self.stdin}

    def cli_stdout(self) -> dict[str, Any]:
        return {"output-stream": self.output_stream, "get-stdout": lambda: self.stdout}

    def cli_stderr(self) -> dict[str, Any]:
        return {"output-stream": self.output_stream, "get-stderr": lambda: self.stderr}

    def cli_terminal_input(self) -> dict[str, Any]:
        return {"terminal-input": self.terminal_input}

    def cli_terminal_output(self) -> dict[str, Any]:
        return {"terminal-output": self.terminal_output}

    def cli_terminal_stdin(self) -> dict[str, Any]:
        stdin = self.config.stdin
        fd = None if stdin is None or isinstance(stdin, bytes | bytearray) else self._fd(stdin)
        return {"terminal-input": self.terminal_input,
                "get-terminal-stdin": lambda: self._terminal(fd)}

    def cli_terminal_stdout(self) -> dict[str, Any]:
        fd = self._fd(self.config.stdout or sys.stdout)
        return {"terminal-output": self.terminal_output,
                "get-terminal-stdout": lambda: self._terminal(fd)}

    def cli_terminal_stderr(self) -> dict[str, Any]:
        fd = self._fd(self.config.stderr or sys.stderr)
        return {"terminal-output": self.terminal_output,
                "get-terminal-stderr": lambda: self._terminal(fd)}

    # -- wasi:clocks ---------------------------------------------------------------------

    def clocks_monotonic_clock(self) -> dict[str, Any]:
        return {"pollable": self.pollable,
                "now": time.monotonic_ns,
                "resolution": lambda: _clock_resolution(time.CLOCK_MONOTONIC),
                "subscribe-instant": io.deadline_pollable,
                "subscribe-duration": lambda d: io.deadline_pollable(time.monotonic_ns() + d)}

    def clocks_wall_clock(self) -> dict[str, Any]:
        def now() -> dict[str, int]:
            ns = time.time_ns()
            return {"seconds": ns // 1_000_000_000, "nanoseconds": ns % 1_000_000_000}
        res = _clock_resolution(time.CLOCK_REALTIME)
        return {"now": now,
                "resolution": lambda: {"seconds": res // 1_000_000_000,
                                       "nanoseconds": res % 1_000_000_000}}

    # -- wasi:random ---------------------------------------------------------------------

    def random_random(self) -> dict[str, Any]:
        return {"get-random-bytes": os.urandom,
                "get-random-u64": lambda: int.from_bytes(os.urandom(8), "little")}

    def random_insecure(self) -> dict[str, Any]:
        return {"get-insecure-random-bytes": self.insecure.randbytes,
                "get-insecure-random-u64": lambda: self.insecure.getrandbits(64)}

    def random_insecure_seed(self) -> dict[str, Any]:
        return {"insecure-seed": lambda: self.seed}

    # -- wasi:filesystem ------------------------------------------------------------------

    def filesystem_types(self) -> dict[str, Any]:
        return {"descriptor": self.descriptor,
                "directory-entry-stream": self.directory_entry_stream,
                "error": self.error, "input-stream": self.input_stream,
                "output-stream": self.output_stream,
                **methods("descriptor", fs.Descriptor, _DESCRIPTOR_METHODS),
                "[method]directory-entry-stream.read-directory-entry":
                    fs.DirectoryEntryStream.read_directory_entry,
                "filesystem-error-code": fs.filesystem_error_code}

    def filesystem_preopens(self) -> dict[str, Any]:
        return {"descriptor": self.descriptor,
                # Fresh descriptors each time: a guest dropping one closes only its own.
                "get-directories": lambda: [(fs.Descriptor.preopen(host), guest)
                                            for host, guest in self.config.dirs]}


    # -- wasi:sockets ----------------------------------------------------------------------

    def sockets_network(self) -> dict[str, Any]:
        return {"network": self.network, "error": self.error,
                "network-error-code": net.network_error_code}

    def sockets_instance_network(self) -> dict[str, Any]:
        return {"network": self.network,
                "instance-network": lambda: net.Network(self.config.allow_network)}

    def sockets_tcp(self) -> dict[str, Any]:
        return {"tcp-socket": self.tcp_socket, "network": self.network,
                "input-stream": self.input_stream, "output-stream": self.output_stream,
                "pollable": self.pollable, **methods("tcp-socket", net.TcpSocket, net.TCP_METHODS)}

    def sockets_tcp_create_socket(self) -> dict[str, Any]:
        return {"tcp-socket": self.tcp_socket, "network": self.network,
                "create-tcp-socket": lambda family: Ok(net.TcpSocket(family, self.loop))}

    def sockets_udp(self) -> dict[str, Any]:
        return {"udp-socket": self.udp_socket, "network": self.network, "pollable": self.pollable,
                "incoming-datagram-stream": self.incoming,
                "outgoing-datagram-stream": self.outgoing,
                **methods("udp-socket", net.UdpSocket, net.UDP_METHODS),
                **methods("incoming-datagram-stream", net.IncomingDatagramStream,
                          ["receive", "subscribe"]),
                **methods("outgoing-datagram-stream", net.OutgoingDatagramStream,
                          ["check-send", "send", "subscribe"])}

    def sockets_udp_create_socket(self) -> dict[str, Any]:
        return {"udp-socket": self.udp_socket, "network": self.network,
                "create-udp-socket": lambda family: Ok(net.UdpSocket(family))}

    def sockets_ip_name_lookup(self) -> dict[str, Any]:
        return {"resolve-address-stream": self.resolve_stream, "network": self.network,
                "pollable": self.pollable, "resolve-addresses": net.resolve_addresses,
                **methods("resolve-address-stream", net.ResolveAddressStream,
                          ["resolve-next-address", "subscribe"])}


_DESCRIPTOR_METHODS = [
    "read-via-stream", "write-via-stream", "append-via-stream", "advise", "sync-data",
    "get-flags", "get-type", "set-size", "set-times", "read", "write", "read-directory", "sync",
    "create-directory-at", "stat", "stat-at", "set-times-at", "link-at", "open-at",
    "readlink-at", "remove-directory-at", "rename-at", "symlink-at", "unlink-file-at",
    "is-same-object", "metadata-hash", "metadata-hash-at",
]


def _clock_resolution(clock: int) -> int:
    return max(1, int(time.clock_getres(clock) * 1_000_000_000))


_INTERFACES: dict[str, Callable[[Preview2], dict[str, Any]]] = {
    "wasi:io/error": Preview2.io_error,
    "wasi:io/poll": Preview2.io_poll,
    "wasi:io/streams": Preview2.io_streams,
    "wasi:cli/environment": Preview2.cli_environment,
    "wasi:cli/exit": Preview2.cli_exit,
    "wasi:cli/stdin": Preview2.cli_stdin,
    "wasi:cli/stdout": Preview2.cli_stdout,
    "wasi:cli/stderr": Preview2.cli_stderr,
    "wasi:cli/terminal-input": Preview2.cli_terminal_input,
    "wasi:cli/terminal-output": Preview2.cli_terminal_output,
    "wasi:cli/terminal-stdin": Preview2.cli_terminal_stdin,
    "wasi:cli/terminal-stdout": Preview2.cli_terminal_stdout,
    "wasi:cli/terminal-stderr": Preview2.cli_terminal_stderr,
    "wasi:clocks/monotonic-clock": Preview2.clocks_monotonic_clock,
    "wasi:clocks/wall-clock": Preview2.clocks_wall_clock,
    "wasi:random/random": Preview2.random_random,
    "wasi:random/insecure": Preview2.random_insecure,
    "wasi:random/insecure-seed": Preview2.random_insecure_seed,
    "wasi:filesystem/types": Preview2.filesystem_types,
    "wasi:filesystem/preopens": Preview2.filesystem_preopens,
    "wasi:sockets/network": Preview2.sockets_network,
    "wasi:sockets/instance-network": Preview2.sockets_instance_network,
    "wasi:sockets/tcp": Preview2.sockets_tcp,
    "wasi:sockets/tcp-create-socket": Preview2.sockets_tcp_create_socket,
    "wasi:sockets/udp": Preview2.sockets_udp,
    "wasi:sockets/udp-create-socket": Preview2.sockets_udp_create_socket,
    "wasi:sockets/ip-name-lookup": Preview2.sockets_ip_name_lookup,
}

INTERFACES = tuple(_INTERFACES)
"""The WASI 0.2 interfaces implemented (each function of each one, unless docs/wasi.md says)."""

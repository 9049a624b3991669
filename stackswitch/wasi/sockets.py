"""WASI 0.2's ``wasi:sockets``: TCP, UDP and name lookup, off unless the user allows the network.

Without ``--allow-network`` (``allow_network=True``) the guest still gets a
``network`` and may create sockets, but every bind, connect and lookup fails
with ``error-code::access-denied``: no socket ever reaches the host's network.
With it, sockets are the host's own, non-blocking, and their readiness goes
through the event loop (``subscribe`` pollables, the streams of a
connection). As with WASI 0.2's other blocking functions, a blocking stream
call waits with the whole store (see docs/wasi.md); name lookup asks the
host's resolver (``getaddrinfo``) and blocks the store while it answers.
"""

from __future__ import annotations

import errno as errnos
import select
import selectors
import socket
from collections.abc import Callable
from typing import Any

from ..canon.types import Variant
from ..embed.pyvalues import Err, Ok
from ..event_loop import EventLoop
from .io_streams import FdSource, InputStream, OutputStream, Pollable, WasiError

_ERRNO_CODES = {
    errnos.EACCES: "access-denied", errnos.EPERM: "access-denied",
    errnos.EADDRINUSE: "address-in-use", errnos.EADDRNOTAVAIL: "address-not-bindable",
    errnos.ECONNREFUSED: "connection-refused", errnos.ECONNRESET: "connection-reset",
    errnos.ECONNABORTED: "connection-aborted", errnos.EHOSTUNREACH: "remote-unreachable",
    errnos.ENETUNREACH: "remote-unreachable", errnos.ETIMEDOUT: "timeout",
    errnos.EINVAL: "invalid-argument", errnos.EAGAIN: "would-block",
    errnos.EMSGSIZE: "datagram-too-large", errnos.ENOMEM: "out-of-memory",
    errnos.EMFILE: "new-socket-limit", errnos.ENFILE: "new-socket-limit",
    errnos.EAFNOSUPPORT: "not-supported", errnos.EOPNOTSUPP: "not-supported",
}


class SocketError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _code(e: OSError) -> str:
    return _ERRNO_CODES.get(e.errno or 0, "unknown")


def _net(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A method returning ``result<T, error-code>``: Ok(its value) or Err(the code)."""
    def method(*args: Any) -> Any:
        try:
            return Ok(fn(*args))
        except SocketError as e:
            return Err(e.code)
        except socket.gaierror:
            return Err("name-unresolvable")
        except OSError as e:
            return Err(_code(e))
    method.__name__ = fn.__name__
    return method


def network_error_code(err: WasiError) -> str | None:
    return _ERRNO_CODES.get(err.errno) if err.errno is not None else None


class Network:
    """``network``: the capability to use the host's network, if the user allowed it."""

    def __init__(self, allowed: bool) -> None:
        self.allowed = allowed

    def check(self) -> None:
        if not self.allowed:
            raise SocketError("access-denied")


# -- addresses ---------------------------------------------------------------------------------

def _family(family: str) -> int:
    return socket.AF_INET if family == "ipv4" else socket.AF_INET6


def to_host(address: Variant) -> tuple[Any, ...]:
    """An ``ip-socket-address`` as a Python socket address."""
    fields = address.value
    if address.case == "ipv4":
        return (".".join(str(b) for b in fields["address"]), fields["port"])
    text = socket.inet_ntop(socket.AF_INET6, b"".join(w.to_bytes(2, "big")
                                                     for w in fields["address"]))
    return (text, fields["port"], fields["flow-info"], fields["scope-id"])


def from_host(address: tuple[Any, ...]) -> Variant:
    """A Python socket address as an ``ip-socket-address``."""
    if len(address) == 2:
        return Variant("ipv4", {"port": address[1], "address": _ip(address[0]).value})
    return Variant("ipv6", {"port": address[1], "flow-info": address[2],
                            "address": _ip(address[0]).value, "scope-id": address[3]})


def _ip(text: str) -> Variant:
    """An ``ip-address`` from its text."""
    try:
        return Variant("ipv4", tuple(socket.inet_pton(socket.AF_INET, text)))
    except OSError:
        packed = socket.inet_pton(socket.AF_INET6, text.split("%")[0])
        return Variant("ipv6", tuple(int.from_bytes(packed[i:i + 2], "big")
                                     for i in range(0, 16, 2)))


def _ready(sock: socket.socket, write: bool) -> bool:
    r, w, _ = select.select([] if write else [sock], [sock] if write else [], [], 0)
    return bool(w if write else r)


def _pollable(sock: socket.socket, write: Callable[[], bool]) -> Pollable:
    def watch(loop: EventLoop, wake: Callable[[], None]) -> Callable[[], None]:
        event = selectors.EVENT_WRITE if write() else selectors.EVENT_READ
        (loop.add_writer if write() else loop.add_reader)(sock.fileno(), wake)
        return lambda: loop.remove(sock.fileno(), event)
    return Pollable(lambda: _ready(sock, write()), watch)


class _SocketSink:
    """Writes all of each chunk (the 0.2 output stream completes writes at once)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def write(self, data: bytes) -> None:
        self.sock.setblocking(True)
        try:
            self.sock.sendall(data)
        finally:
            self.sock.setblocking(False)


# -- TCP -------------------------------------------------------------------------------------------

class TcpSocket:
    """``tcp-socket``: a host socket and its state (the WIT's state machine, simplified)."""

    def __init__(self, family: str, loop: EventLoop, sock: socket.socket | None = None,
                 state: str = "unbound") -> None:
        self.family = family
        self.loop = loop
        self.sock = sock or socket.socket(_family(family), socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.state = state
        self.backlog = 128

    def close(self) -> None:
        self.sock.close()

    def _streams(self) -> tuple[InputStream, OutputStream]:
        return InputStream(FdSource(self.sock.fileno()), self.loop), \
            OutputStream(_SocketSink(self.sock))

    def _expect(self, *states: str, otherwise: str = "invalid-state") -> None:
        if self.state not in states:
            raise SocketError(otherwise)

    @_net
    def start_bind(self, network: Network, address: Variant) -> None:
        network.check()
        self._expect("unbound")
        if address.case != self.family:
            raise SocketError("invalid-argument")
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(to_host(address))
        self.state = "bind-started"

    @_net
    def finish_bind(self) -> None:
        self._expect("bind-started", otherwise="not-in-progress")
        self.state = "bound"

    @_net
    def start_connect(self, network: Network, address: Variant) -> None:
        network.check()
        self._expect("unbound", "bound")
        if address.case != self.family:
            raise SocketError("invalid-argument")
        result = self.sock.connect_ex(to_host(address))
        if result not in (0, errnos.EINPROGRESS):
            raise OSError(result, "connect")
        self.state = "connect-started"

    @_net
    def finish_connect(self) -> tuple[InputStream, OutputStream]:
        self._expect("connect-started", otherwise="not-in-progress")
        if not _ready(self.sock, True):
            raise SocketError("would-block")
        error = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            self.state = "closed"
            raise OSError(error, "connect")
        self.state = "connected"
        return self._streams()

    @_net
    def start_listen(self) -> None:
        self._expect("bound")
        self.sock.listen(self.backlog)
        self.state = "listen-started"

    @_net
    def finish_listen(self) -> None:
        self._expect("listen-started", otherwise="not-in-progress")
        self.state = "listening"

    @_net
    def accept(self) -> tuple[TcpSocket, InputStream, OutputStream]:
        self._expect("listening")
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            raise SocketError("would-block") from None
        client = TcpSocket(self.family, self.loop, conn, "connected")
        return (client, *client._streams())

    @_net
    def local_address(self) -> Variant:
        if self.state == "unbound":
            raise SocketError("invalid-state")
        return from_host(self.sock.getsockname())

    @_net
    def remote_address(self) -> Variant:
        self._expect("connected")
        return from_host(self.sock.getpeername())

    def is_listening(self) -> bool:
        return self.state == "listening"

    def address_family(self) -> str:
        return self.family

    @_net
    def set_listen_backlog_size(self, value: int) -> None:
        if value == 0:
            raise SocketError("invalid-argument")
        self.backlog = min(value, 1 << 16)
        if self.state == "listening":
            self.sock.listen(self.backlog)

    def _option(self, level: int, name: int, value: int | None = None) -> int:
        if value is None:
            return self.sock.getsockopt(level, name)
        self.sock.setsockopt(level, name, value)
        return value

    @_net
    def keep_alive_enabled(self) -> bool:
        return bool(self._option(socket.SOL_SOCKET, socket.SO_KEEPALIVE))

    @_net
    def set_keep_alive_enabled(self, value: bool) -> None:
        self._option(socket.SOL_SOCKET, socket.SO_KEEPALIVE, int(value))

    @_net
    def keep_alive_idle_time(self) -> int:
        return self._option(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) * 1_000_000_000

    @_net
    def set_keep_alive_idle_time(self, value: int) -> None:
        self._option(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, max(1, value // 1_000_000_000))

    @_net
    def keep_alive_interval(self) -> int:
        return self._option(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) * 1_000_000_000

    @_net
    def set_keep_alive_interval(self, value: int) -> None:
        self._option(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, max(1, value // 1_000_000_000))

    @_net
    def keep_alive_count(self) -> int:
        return self._option(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)

    @_net
    def set_keep_alive_count(self, value: int) -> None:
        self._option(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, value)

    @_net
    def hop_limit(self) -> int:
        return self._option(socket.IPPROTO_IP, socket.IP_TTL)

    @_net
    def set_hop_limit(self, value: int) -> None:
        self._option(socket.IPPROTO_IP, socket.IP_TTL, value)

    @_net
    def receive_buffer_size(self) -> int:
        return self._option(socket.SOL_SOCKET, socket.SO_RCVBUF)

    @_net
    def set_receive_buffer_size(self, value: int) -> None:
        self._option(socket.SOL_SOCKET, socket.SO_RCVBUF, min(value, 1 << 30))

    @_net
    def send_buffer_size(self) -> int:
        return self._option(socket.SOL_SOCKET, socket.SO_SNDBUF)

    @_net
    def set_send_buffer_size(self, value: int) -> None:
        self._option(socket.SOL_SOCKET, socket.SO_SNDBUF, min(value, 1 << 30))

    def subscribe(self) -> Pollable:
        return _pollable(self.sock, lambda: self.state == "connect-started")

    @_net
    def shutdown(self, how: str) -> None:
        self._expect("connected")
        self.sock.shutdown({"receive": socket.SHUT_RD, "send": socket.SHUT_WR,
                            "both": socket.SHUT_RDWR}[how])


TCP_METHODS = [
    "start-bind", "finish-bind", "start-connect", "finish-connect", "start-listen",
    "finish-listen", "accept", "local-address", "remote-address", "is-listening",
    "address-family", "set-listen-backlog-size", "keep-alive-enabled", "set-keep-alive-enabled",
    "keep-alive-idle-time", "set-keep-alive-idle-time", "keep-alive-interval",
    "set-keep-alive-interval", "keep-alive-count", "set-keep-alive-count", "hop-limit",
    "set-hop-limit", "receive-buffer-size", "set-receive-buffer-size", "send-buffer-size",
    "set-send-buffer-size", "subscribe", "shutdown",
]


# -- UDP -------------------------------------------------------------------------------------------

class UdpSocket:
    """``udp-socket``."""

    def __init__(self, family: str) -> None:
        self.family = family
        self.sock = socket.socket(_family(family), socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.state = "unbound"

    def close(self) -> None:
        self.sock.close()

    @_net
    def start_bind(self, network: Network, address: Variant) -> None:
        network.check()
        if self.state != "unbound":
            raise SocketError("invalid-state")
        self.sock.bind(to_host(address))
        self.state = "bind-started"

    @_net
    def finish_bind(self) -> None:
        if self.state != "bind-started":
            raise SocketError("not-in-progress")
        self.state = "bound"

    @_net
    def stream(self, remote: Variant | None) -> tuple[IncomingDatagramStream, OutgoingDatagramStream]:
        if self.state != "bound":
            raise SocketError("invalid-state")
        if remote is not None:
            self.sock.connect(to_host(remote))
        return IncomingDatagramStream(self.sock), OutgoingDatagramStream(self.sock, remote)

    @_net
    def local_address(self) -> Variant:
        if self.state == "unbound":
            raise SocketError("invalid-state")
        return from_host(self.sock.getsockname())

    @_net
    def remote_address(self) -> Variant:
        return from_host(self.sock.getpeername())

    def address_family(self) -> str:
        return self.family

    @_net
    def unicast_hop_limit(self) -> int:
        return self.sock.getsockopt(socket.IPPROTO_IP, socket.IP_TTL)

    @_net
    def set_unicast_hop_limit(self, value: int) -> None:
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, value)

    @_net
    def receive_buffer_size(self) -> int:
        return self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)

    @_net
    def set_receive_buffer_size(self, value: int) -> None:
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, min(value, 1 << 30))

    @_net
    def send_buffer_size(self) -> int:
        return self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)

    @_net
    def set_send_buffer_size(self, value: int) -> None:
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, min(value, 1 << 30))

    def subscribe(self) -> Pollable:
        return Pollable(lambda: True)


UDP_METHODS = [
    "start-bind", "finish-bind", "stream", "local-address", "remote-address", "address-family",
    "unicast-hop-limit", "set-unicast-hop-limit", "receive-buffer-size",
    "set-receive-buffer-size", "send-buffer-size", "set-send-buffer-size", "subscribe",
]


class IncomingDatagramStream:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    @_net
    def receive(self, max_results: int) -> list[dict[str, Any]]:
        received = []
        while len(received) < max_results:
            try:
                data, address = self.sock.recvfrom(65536)
            except BlockingIOError:
                break
            received.append({"data": data, "remote-address": from_host(address)})
        return received

    def subscribe(self) -> Pollable:
        return _pollable(self.sock, lambda: False)


class OutgoingDatagramStream:
    def __init__(self, sock: socket.socket, remote: Variant | None) -> None:
        self.sock = sock
        self.remote = remote

    @_net
    def check_send(self) -> int:
        return 64

    @_net
    def send(self, datagrams: list[dict[str, Any]]) -> int:
        sent = 0
        for datagram in datagrams:
            target = datagram["remote-address"]
            if target is None and self.remote is None:
                raise SocketError("invalid-argument")
            if target is None or self.remote is not None:
                self.sock.send(bytes(datagram["data"]))
            else:
                self.sock.sendto(bytes(datagram["data"]), to_host(target))
            sent += 1
        return sent

    def subscribe(self) -> Pollable:
        return Pollable(lambda: True)


# -- name lookup -------------------------------------------------------------------------------

class ResolveAddressStream:
    def __init__(self, addresses: list[Variant]) -> None:
        self.addresses = addresses

    @_net
    def resolve_next_address(self) -> Variant | None:
        return self.addresses.pop(0) if self.addresses else None

    def subscribe(self) -> Pollable:
        return Pollable(lambda: True)


@_net
def resolve_addresses(network: Network, name: str) -> ResolveAddressStream:
    network.check()
    found: list[Variant] = []
    for *_, address in socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP):
        ip = _ip(address[0])
        if ip not in found:
            found.append(ip)
    return ResolveAddressStream(found)

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
from .io_streams import ErrorCode, FdSource, InputStream, OutputStream, Pollable, WasiError

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


class SocketError(ErrorCode):
    """A socket operation failed with ``error-code::code``."""


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
    return err.code(_ERRNO_CODES)


class Network:
    """``network``: the capability to use the host's network, if the user allowed it."""

    def __init__(self, allowed: bool) -> None:
        self.allowed = allowed

    def check(self) -> None:
        if not self.allowed:
            raise SocketError("access-denied")


def _same(value: int) -> int:
    return value


def _seconds_to_ns(seconds: int) -> int:
    return seconds * 1_000_000_000


def _ns_to_seconds(ns: int) -> int:
    return max(1, ns // 1_000_000_000)  # the host takes whole seconds, at least one


def _buffer_size(size: int) -> int:
    return min(size, 1 << 30)


def _option(name: str, level: int, option: int, to_guest: Callable[[int], Any] = _same,
            to_host: Callable[[Any], int] = _same) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The getter and setter methods ``name`` and ``set_name`` of one socket option.

    Both return ``result<_, error-code>`` (through :func:`_net`); the socket is ``self.sock``.
    """
    def get(self: Any) -> Any:
        return to_guest(self.sock.getsockopt(level, option))

    def set_(self: Any, value: Any) -> None:
        self.sock.setsockopt(level, option, to_host(value))
    get.__name__, set_.__name__ = name, f"set_{name}"
    return _net(get), _net(set_)


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


class _Socket:
    """What TCP and UDP sockets share: a non-blocking host socket, its family and its state."""

    def __init__(self, family: str, sock: socket.socket, state: str) -> None:
        self.family = family
        self.sock = sock
        self.sock.setblocking(False)
        self.state = state

    def close(self) -> None:
        self.sock.close()

    @_net
    def local_address(self) -> Variant:
        if self.state == "unbound":
            raise SocketError("invalid-state")
        return from_host(self.sock.getsockname())

    def address_family(self) -> str:
        return self.family

    receive_buffer_size, set_receive_buffer_size = _option(
        "receive_buffer_size", socket.SOL_SOCKET, socket.SO_RCVBUF, to_host=_buffer_size)
    send_buffer_size, set_send_buffer_size = _option(
        "send_buffer_size", socket.SOL_SOCKET, socket.SO_SNDBUF, to_host=_buffer_size)


# -- TCP -------------------------------------------------------------------------------------------

class TcpSocket(_Socket):
    """``tcp-socket``: a host socket and its state (the WIT's state machine, simplified)."""

    def __init__(self, family: str, loop: EventLoop, sock: socket.socket | None = None,
                 state: str = "unbound") -> None:
        super().__init__(family, sock or socket.socket(_family(family), socket.SOCK_STREAM), state)
        self.loop = loop
        self.backlog = 128

    def _streams(self) -> tuple[InputStream, OutputStream]:
        return InputStream(FdSource(self.sock.fileno()), self.loop), \
            OutputStream(_SocketSink(self.sock))

    def _expect(self, *states: str, otherwise: str = "invalid-state") -> None:
        if self.state not in states:
            raise SocketError(otherwise)

    def _start(self, network: Network, address: Variant, *states: str) -> None:
        """What starting a bind or a connect checks: the network, the state, the address's family."""
        network.check()
        self._expect(*states)
        if address.case != self.family:
            raise SocketError("invalid-argument")

    def _finish(self, started: str, done: str) -> None:
        """The second half of a two-phase operation: ``started`` becomes ``done``."""
        self._expect(started, otherwise="not-in-progress")
        self.state = done

    @_net
    def start_bind(self, network: Network, address: Variant) -> None:
        self._start(network, address, "unbound")
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(to_host(address))
        self.state = "bind-started"

    @_net
    def finish_bind(self) -> None:
        self._finish("bind-started", "bound")

    @_net
    def start_connect(self, network: Network, address: Variant) -> None:
        self._start(network, address, "unbound", "bound")
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
        self._finish("listen-started", "listening")

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
    def remote_address(self) -> Variant:
        self._expect("connected")
        return from_host(self.sock.getpeername())

    def is_listening(self) -> bool:
        return self.state == "listening"

    @_net
    def set_listen_backlog_size(self, value: int) -> None:
        if value == 0:
            raise SocketError("invalid-argument")
        self.backlog = min(value, 1 << 16)
        if self.state == "listening":
            self.sock.listen(self.backlog)

    keep_alive_enabled, set_keep_alive_enabled = _option(
        "keep_alive_enabled", socket.SOL_SOCKET, socket.SO_KEEPALIVE, bool, int)
    keep_alive_idle_time, set_keep_alive_idle_time = _option(
        "keep_alive_idle_time", socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, _seconds_to_ns, _ns_to_seconds)
    keep_alive_interval, set_keep_alive_interval = _option(
        "keep_alive_interval", socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, _seconds_to_ns, _ns_to_seconds)
    keep_alive_count, set_keep_alive_count = _option(
        "keep_alive_count", socket.IPPROTO_TCP, socket.TCP_KEEPCNT)
    hop_limit, set_hop_limit = _option("hop_limit", socket.IPPROTO_IP, socket.IP_TTL)

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

class UdpSocket(_Socket):
    """``udp-socket``."""

    def __init__(self, family: str) -> None:
        super().__init__(family, socket.socket(_family(family), socket.SOCK_DGRAM), "unbound")

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
    def remote_address(self) -> Variant:
        return from_host(self.sock.getpeername())

    unicast_hop_limit, set_unicast_hop_limit = _option(
        "unicast_hop_limit", socket.IPPROTO_IP, socket.IP_TTL)

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

"""Published ports: ``-p``/``-P`` parsing into Docker's PortBindings, and the userland proxy the monitor runs.

Why a proxy in the monitor rather than DNAT rules: connections to 127.0.0.1
never pass the nat PREROUTING hook, and the monitor already outlives the
command that started the container. Each TCP connection costs two sockets and
at most one 64 KiB buffer per direction; UDP keeps one connected socket per
client address.
"""

from __future__ import annotations

import errno
import ipaddress
import selectors
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import ContainerStartError, InvalidArgument

__all__ = ["PortProxy", "exposed_ports", "parse_publish_ranges", "port_bindings"]

_CHUNK = 64 * 1024
_UDP_IDLE_SECONDS = 60.0
EXIT_SETUP_FAILED = 125


def _port(text: str, spec: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidArgument(f"invalid port specification: \"{spec}\"")
    return int(text)


def parse_publish_ranges(spec: str) -> list[tuple[str, dict[str, str]]]:
    """``[IP:][HOSTPORT:]CTRPORT[/tcp|udp]`` → [("80/tcp", {"HostIp", "HostPort"})]; no host port means random.

    Docker's ranges too: ``8000-8002:80-82`` pairs them up, ``80-82`` takes random host ports.
    """
    body, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp"):
        raise InvalidArgument(f"invalid proto: {proto}")
    if body.startswith("["):  # [::1]:8080:80
        ip, _, rest = body[1:].partition("]")
        parts = [ip, *rest.lstrip(":").split(":")]
    else:
        parts = body.split(":")
    if len(parts) == 1:
        host_ip, host_port, ctr = "", "", parts[0]
    elif len(parts) == 2:
        host_ip, (host_port, ctr) = "", parts
    elif len(parts) == 3:
        host_ip, host_port, ctr = parts
    else:
        raise InvalidArgument(f"invalid port specification: \"{spec}\"")
    if host_ip:
        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise InvalidArgument(f"invalid IP address: {host_ip}") from None
    ctrs = _range(ctr, spec)
    hosts = _range(host_port, spec) if host_port else [""] * len(ctrs)
    if len(hosts) != len(ctrs):
        raise InvalidArgument(f"invalid ranges specified for container and host Ports: \"{spec}\"")
    return [(f"{c}/{proto}", {"HostIp": host_ip, "HostPort": str(h)}) for c, h in zip(ctrs, hosts, strict=True)]


def _range(text: str, spec: str) -> list[int]:
    first, _, last = text.partition("-")
    low = _port(first, spec)
    high = _port(last, spec) if last else low
    if high < low:
        raise InvalidArgument(f"invalid port range: \"{spec}\"")
    return list(range(low, high + 1))


def port_bindings(specs: Iterable[str], publish_all: bool,
                  exposed: Iterable[str]) -> dict[str, list[dict[str, str]]]:
    """HostConfig.PortBindings from ``-p`` entries, plus every exposed port for ``-P``."""
    out: dict[str, list[dict[str, str]]] = {}
    for spec in specs:
        for key, binding in parse_publish_ranges(spec):
            out.setdefault(key, []).append(binding)
    if publish_all:
        for key in exposed:
            out.setdefault(key if "/" in key else key + "/tcp", [{"HostIp": "", "HostPort": ""}])
    return out


def exposed_ports(image_exposed: dict[str, Any] | None, bindings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Config.ExposedPorts: the image's EXPOSE entries and every published port."""
    keys = [k if "/" in k else k + "/tcp" for k in (image_exposed or {})]
    return {k: {} for k in dict.fromkeys([*keys, *bindings])}


Register = Callable[[socket.socket, int, Callable[[socket.socket], None]], None]


class _Relay:
    """One proxied TCP connection: client ↔ container, half-closes passed on."""

    def __init__(self, proxy: PortProxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy, self.client, self.upstream = proxy, client, upstream
        self.pending = {client: b"", upstream: b""}  # bytes waiting to be written TO that socket
        self.eof = {client: False, upstream: False}  # that socket has sent its FIN
        self.connecting = True
        self.closed = False

    def peer(self, sock: socket.socket) -> socket.socket:
        return self.upstream if sock is self.client else self.client

    def service(self, sock: socket.socket) -> None:
        if self.closed:
            return
        try:
            if self.connecting and sock is self.upstream:
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err == errno.EINPROGRESS:
                    return
                if err:
                    raise OSError(err, "connect")
                self.connecting = False
            if self.connecting:
                return
            self._flush(sock)
            peer = self.peer(sock)
            if not self.eof[sock] and not self.pending[peer]:
                try:
                    data = sock.recv(_CHUNK)
                except BlockingIOError:
                    data = None
                if data == b"":
                    self.eof[sock] = True
                elif data:
                    self.pending[peer] = data
                    self._flush(peer)
            for s in (self.client, self.upstream):
                if self.eof[self.peer(s)] and not self.pending[s]:
                    try:
                        s.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
        except OSError:
            self.close()
            return
        if all(self.eof.values()) and not any(self.pending.values()):
            self.close()
            return
        self._interest()

    def _flush(self, sock: socket.socket) -> None:
        data = self.pending[sock]
        if data:
            try:
                sent = sock.send(data)
            except BlockingIOError:
                sent = 0
            self.pending[sock] = data[sent:]

    def _interest(self) -> None:
        for s in (self.client, self.upstream):
            events = 0
            if self.connecting and s is self.upstream:
                events = selectors.EVENT_WRITE
            elif not self.connecting:
                if self.pending[s]:
                    events |= selectors.EVENT_WRITE
                if not self.eof[s] and not self.pending[self.peer(s)]:
                    events |= selectors.EVENT_READ
            self.proxy.watch(s, events, self.service)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            for s in (self.client, self.upstream):
                self.proxy.forget(s)
                s.close()
            self.proxy.relays.discard(self)


class PortProxy:
    """Every published port of one container, served from the monitor's selector loop."""

    def __init__(self, selector: selectors.BaseSelector, tag: Callable[[Callable[[Any], None]], Any]) -> None:
        self.selector = selector
        self.tag = tag
        """Wraps a callback into the selector key data the monitor dispatches on."""
        self.listeners: list[socket.socket] = []
        self.relays: set[_Relay] = set()
        self.udp_peers: dict[tuple[socket.socket, Any], tuple[socket.socket, float]] = {}
        self.ports: dict[str, list[dict[str, str]] | None] = {}

    def open(self, bindings: dict[str, list[dict[str, str]]], exposed: Iterable[str], ctr_ip: str) -> None:
        """Bind every host port (random where none is given); the first that is taken fails them all."""
        self.ports = {key: None for key in exposed}
        try:
            for key, items in bindings.items():
                port, proto = key.split("/")
                bound = self.ports[key] = []
                for item in items:
                    host_ip = item.get("HostIp") or ""
                    sock = self._listen(host_ip, int(item.get("HostPort") or 0), proto)
                    sock_port = sock.getsockname()[1]
                    bound.append({"HostIp": host_ip or "0.0.0.0", "HostPort": str(sock_port)})
                    target = (ctr_ip, int(port))
                    handler = self._accept_tcp(target) if proto == "tcp" else self._datagram(target)
                    self.watch(sock, selectors.EVENT_READ, handler)
        except BaseException:
            self.close()
            raise

    def _listen(self, host_ip: str, port: int, proto: str) -> socket.socket:
        family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(family, kind | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
        try:
            if proto == "tcp":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host_ip or "0.0.0.0", port))
            if proto == "tcp":
                sock.listen(128)
        except OSError as err:
            sock.close()
            shown = f"{host_ip or '0.0.0.0'}:{port}"
            reason = "port is already allocated" if err.errno == errno.EADDRINUSE else (err.strerror or str(err))
            raise ContainerStartError(f"driver failed programming external connectivity: Bind for {shown} failed: "
                                      f"{reason}", EXIT_SETUP_FAILED) from err
        self.listeners.append(sock)
        return sock

    def watch(self, sock: socket.socket, events: int, callback: Callable[[socket.socket], None]) -> None:
        """(Re-)register ``sock`` for ``events`` (0: none for now)."""
        try:
            key = self.selector.get_key(sock)
        except (KeyError, ValueError):
            key = None
        if not events:
            if key is not None:
                self.selector.unregister(sock)
        elif key is None:
            self.selector.register(sock, events, self.tag(callback))
        elif key.events != events:
            self.selector.modify(sock, events, key.data)

    def forget(self, sock: socket.socket) -> None:
        self.watch(sock, 0, lambda s: None)

    def _accept_tcp(self, target: tuple[str, int]) -> Callable[[socket.socket], None]:
        def accept(listener: socket.socket) -> None:
            while True:
                try:
                    client, _ = listener.accept()
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    return
                client.setblocking(False)
                upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC
                                         | socket.SOCK_NONBLOCK)
                relay = _Relay(self, client, upstream)
                self.relays.add(relay)
                try:
                    upstream.connect_ex(target)
                except OSError:
                    relay.close()
                    continue
                relay._interest()
        return accept

    def _datagram(self, target: tuple[str, int]) -> Callable[[socket.socket], None]:
        def receive(listener: socket.socket) -> None:
            now = time.monotonic()
            while True:
                try:
                    data, client = listener.recvfrom(_CHUNK)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    return
                up, _ = self.udp_peers.get((listener, client), (None, 0.0))
                if up is None:
                    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
                    up.connect(target)
                    self.watch(up, selectors.EVENT_READ, self._reply(listener, client))
                self.udp_peers[(listener, client)] = (up, now)
                try:
                    up.send(data)
                except OSError:
                    pass
            self._expire(now)
        return receive

    def _reply(self, listener: socket.socket, client: Any) -> Callable[[socket.socket], None]:
        def back(up: socket.socket) -> None:
            while True:
                try:
                    data = up.recv(_CHUNK)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    return
                try:
                    listener.sendto(data, client)
                except OSError:
                    pass
        return back

    def _expire(self, now: float) -> None:
        for key, (up, used) in list(self.udp_peers.items()):
            if now - used > _UDP_IDLE_SECONDS:
                del self.udp_peers[key]
                self.forget(up)
                up.close()

    def close(self) -> None:
        """Stop listening and drop every connection (the container is gone)."""
        for relay in list(self.relays):
            relay.close()
        for up, _ in self.udp_peers.values():
            self.forget(up)
            up.close()
        self.udp_peers.clear()
        for sock in self.listeners:
            self.forget(sock)
            sock.close()
        self.listeners.clear()

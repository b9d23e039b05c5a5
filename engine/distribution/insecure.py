"""Which registries berth may reach over plain HTTP or unverified TLS: Docker's ``insecure-registries``.

The list lives in the store root's ``daemon.json`` under the key Docker's own
daemon.json uses; each entry is a ``host[:port]`` (matched exactly, port
included) or a CIDR (matched against the registry host's addresses). As in
Docker, 127.0.0.0/8 and ::1 are always on it, so a registry on loopback needs
no setting. For a listed registry berth tries HTTPS without checking the
certificate first, then plain HTTP; for any other, HTTPS with the system CAs.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import urllib.parse
from dataclasses import dataclass, field

from ..errors import InvalidArgument
from .formats import DAEMON_CONFIG_FILE

__all__ = ["INSECURE_KEY", "InsecureRegistries"]

INSECURE_KEY = "insecure-registries"
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_ALWAYS: tuple[_Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
_NEVER_RESOLVED = frozenset({"docker.io", "registry-1.docker.io", "index.docker.io"})


@dataclass(frozen=True)
class InsecureRegistries:
    """The parsed list; ``allows(domain)`` decides."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[_Network, ...] = field(default=_ALWAYS)
    source: str = ""
    """The file it came from, named in error hints; "" for the defaults."""

    @classmethod
    def parse(cls, entries: object, source: str = "") -> InsecureRegistries:
        """Docker's rules for the entries: a CIDR, or a host[:port] without a scheme."""
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise InvalidArgument(f"{source or 'insecure registries'}: {INSECURE_KEY!r} must be a list of strings")
        hosts: set[str] = set()
        networks = list(_ALWAYS)
        for entry in (e.strip() for e in entries):
            if "://" in entry:
                raise InvalidArgument(f"{source}: insecure registry {entry} should not contain '://'")
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if not entry or "/" in entry or not urllib.parse.urlsplit("//" + entry).hostname:
                raise InvalidArgument(f"{source}: insecure registry {entry!r} is not a host[:port] or a CIDR")
            hosts.add(entry.lower())
        return cls(frozenset(hosts), tuple(networks), source)

    @classmethod
    def for_store(cls, root: str) -> InsecureRegistries:
        """The store's list (``<root>/daemon.json``); the defaults when there is no such file."""
        path = os.path.join(root, DAEMON_CONFIG_FILE)
        try:
            with open(path, encoding="utf-8") as f:
                config = json.load(f)
        except FileNotFoundError:
            return cls(source=path)
        except (OSError, ValueError) as err:
            raise InvalidArgument(f"{path}: {getattr(err, 'strerror', None) or err}") from None
        if not isinstance(config, dict):
            raise InvalidArgument(f"{path}: not a JSON object")
        return cls.parse(config.get(INSECURE_KEY, []), path)

    def allows(self, domain: str) -> bool:
        """Whether ``domain`` (``host[:port]`` as in an image name) may use plain HTTP."""
        if domain.lower() in self.hosts:
            return True
        host = urllib.parse.urlsplit("//" + domain).hostname or ""
        return any(address in network for address in _addresses(host) for network in self.networks)

    def hint(self, domain: str) -> str:
        """What to do when a registry is not on the list but speaks only plain HTTP."""
        where = self.source or DAEMON_CONFIG_FILE + " in the store root"
        return f"pass --insecure, or add {domain!r} to {INSECURE_KEY!r} in {where}"


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The host's addresses: itself when it is one, else what the resolver says (Docker looks names up too)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    if host == "localhost":
        return [ipaddress.ip_address("127.0.0.1")]
    if not host or host in _NEVER_RESOLVED:
        return []
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]

"""Which IPv4 subnets the host already uses, and a free one for a new network (no pyroute2: /proc is enough)."""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Iterable

__all__ = ["DEFAULT_SUBNET", "host_subnets", "overlaps", "pick_subnet"]

DEFAULT_SUBNET = "10.88.0.0/16"
# Where to look when the default is taken: 10.89.0.0/16 … 10.255.0.0/16, then 172.17-31, as Podman/Docker do.
_CANDIDATES = [f"10.{n}.0.0/16" for n in range(89, 256)] + [f"172.{n}.0.0/16" for n in range(17, 32)]


def host_subnets() -> list[ipaddress.IPv4Network]:
    """Every IPv4 route's destination on the host except the default route (addresses show up as their prefix)."""
    found = []
    try:
        with open("/proc/net/route", encoding="ascii") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        dest, mask = (socket.inet_ntoa(struct.pack("<I", int(x, 16))) for x in (fields[1], fields[7]))
        net = ipaddress.IPv4Network(f"{dest}/{mask}", strict=False)
        if net.prefixlen:
            found.append(net)
    return found


def overlaps(subnet: ipaddress.IPv4Network, used: Iterable[ipaddress.IPv4Network]) -> ipaddress.IPv4Network | None:
    """The first of ``used`` that overlaps ``subnet``, or None."""
    return next((u for u in used if subnet.overlaps(u)), None)


def pick_subnet(used: Iterable[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    """The default subnet, or the first candidate that overlaps nothing in ``used``."""
    taken = list(used)
    for text in [DEFAULT_SUBNET, *_CANDIDATES]:
        net = ipaddress.IPv4Network(text)
        if overlaps(net, taken) is None:
            return net
    raise OSError("no free private /16 subnet left for a bridge network")

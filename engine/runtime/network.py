"""What the container's init does about networking itself: bring up a fresh netns's loopback, or join one.

``--network none`` is a new network namespace holding only ``lo``, up, as
Docker leaves it; ``host`` shares the engine's namespace. Bridge networks and
``container:<id>`` are namespaces the engine hands over by path
(``engine/network/``, pyroute2); the init joins them with setns().
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct

from ..kernel import syscalls

__all__ = ["NETWORK_MODES", "join_netns", "loopback_up"]

NETWORK_MODES = ("bridge", "none", "host")
"""The built-in modes; ``container:<name|id>`` and user network names are valid too."""

# <linux/sockios.h>
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
# <net/if.h>
_IFF_UP = 0x1
# struct ifreq: IFNAMSIZ (16) bytes of name, then a union whose first member here is short ifr_flags.
_IFREQ = struct.Struct("16sh14x")


def loopback_up() -> None:
    """Bring ``lo`` up in this process's network namespace (it starts down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = _IFREQ.pack(b"lo", 0)
        _, flags = _IFREQ.unpack(fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request))
        fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, _IFREQ.pack(b"lo", flags | _IFF_UP))


def join_netns(path: str) -> None:
    """Move this process into the network namespace bound at ``path`` (before it unshares the rest)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        syscalls.setns(fd, syscalls.CLONE_NEWNET)
    finally:
        os.close(fd)

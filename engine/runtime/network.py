"""Container networking that needs no helper program: the loopback of a fresh network namespace.

``--network none`` is a new network namespace holding only ``lo``, up, as
Docker leaves it; ``host`` shares the engine's namespace. Bridge networking
(pyroute2) is issue #6.
"""

from __future__ import annotations

import fcntl
import socket
import struct

__all__ = ["loopback_up", "NETWORK_MODES"]

NETWORK_MODES = ("none", "host")

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

"""A container's /etc/hosts and /etc/resolv.conf, Docker's way."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from ..errors import InvalidArgument

__all__ = ["LOCALHOST", "hosts_file", "parse_add_host", "resolv_conf"]

LOCALHOST = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
             "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
# What Docker writes when the host leaves no usable nameserver (libnetwork's resolvconf defaults).
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")


def parse_add_host(entry: str) -> tuple[str, str]:
    """``--add-host NAME:IP`` (or ``NAME=IP``) → (name, ip)."""
    sep = "=" if "=" in entry else ":"
    name, _, ip = entry.partition(sep)
    ip = ip.strip("[]")
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise InvalidArgument(f"invalid argument \"{entry}\" for \"--add-host\" flag: invalid IP address in "
                              "add-host") from None
    if not name:
        raise InvalidArgument(f"invalid argument \"{entry}\" for \"--add-host\" flag: missing host name")
    return name, ip


def hosts_file(own: Sequence[tuple[str, Sequence[str]]], extra: Iterable[str] = (),
               peers: Iterable[tuple[str, Sequence[str]]] = ()) -> str:
    """localhost lines, ``--add-host`` entries, then the container's own addresses and names, then its peers'."""
    lines = [LOCALHOST]
    for entry in extra:
        name, ip = parse_add_host(entry)
        lines.append(f"{ip}\t{name}\n")
    for ip, names in [*own, *peers]:
        lines.append(f"{ip}\t{' '.join(names)}\n")
    return "".join(lines)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def resolv_conf(host_text: str, dns: Sequence[str] = (), search: Sequence[str] = (),
                options: Sequence[str] = ()) -> str:
    """The host's resolv.conf with loopback nameservers dropped; ``--dns`` replaces its nameservers.

    With none left, Docker's fallback (Google's public servers) is written, as dockerd does.
    """
    kept, servers = [], []
    for line in host_text.splitlines():
        words = line.split()
        if words[:1] == ["nameserver"] and len(words) > 1:
            if not _is_loopback(words[1]):
                servers.append(words[1])
            continue
        if (words[:1] == ["search"] and search) or (words[:1] == ["options"] and options):
            continue
        kept.append(line)
    for server in dns:
        try:
            ipaddress.ip_address(server)
        except ValueError:
            raise InvalidArgument(f"{server} is not an ip address") from None
    servers = list(dns) or servers or list(FALLBACK_NAMESERVERS)
    out = [ln for ln in kept if ln.strip()]
    if search:
        out.append("search " + " ".join(search))
    if options:
        out.append("options " + " ".join(options))
    out += [f"nameserver {s}" for s in servers]
    return "\n".join(out) + "\n"

"""Bridges and veth pairs through pyroute2 (netlink): the only module that imports it."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from . import netns

__all__ = ["add_endpoint", "delete_link", "ensure_bridge", "link_names"]

_EEXIST = 17
ALIAS_PREFIX = "berth:"


def orphan_bridges() -> list[tuple[str, str]]:
    """(bridge, store root) of berth bridges whose store root no longer exists (a discarded test store)."""
    found = []
    with IPRoute() as ipr:
        for link in ipr.get_links():
            alias = link.get("ifalias") or ""
            if alias.startswith(ALIAS_PREFIX) and not os.path.isdir(alias[len(ALIAS_PREFIX):]):
                found.append((link.get("ifname"), alias[len(ALIAS_PREFIX):]))
    return found


def _index(ipr: Any, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def ensure_bridge(name: str, cidr: str, owner: str = "") -> None:
    """The bridge ``name`` with ``cidr`` (the gateway), up; made when missing (after a reboot, too).

    ``owner`` (the store root) goes into the link's alias, so a bridge whose store is gone can be found.
    """
    address, prefix = cidr.split("/")
    with IPRoute() as ipr:
        index = _index(ipr, name)
        if index is None:
            try:
                ipr.link("add", ifname=name, kind="bridge")
            except NetlinkError as err:
                if err.code != _EEXIST:
                    raise
            index = _index(ipr, name)
            if owner:
                ipr.link("set", index=index, ifalias=ALIAS_PREFIX + owner)
        if not any(a.get("address") == address for a in ipr.get_addr(index=index)):
            with contextlib.suppress(NetlinkError):
                ipr.addr("add", index=index, address=address, prefixlen=int(prefix))
        ipr.link("set", index=index, state="up")
    _sysctl(f"net/ipv4/conf/{name}/forwarding", "1")


def _sysctl(key: str, value: str) -> None:
    with contextlib.suppress(OSError), open(f"/proc/sys/{key}", "w", encoding="ascii") as f:
        f.write(value)


def delete_link(name: str) -> bool:
    """Delete an interface (a bridge, or a veth and its peer); False when it was not there."""
    with IPRoute() as ipr:
        index = _index(ipr, name)
        if index is None:
            return False
        with contextlib.suppress(NetlinkError):
            ipr.link("del", index=index)
        return True


def link_names() -> list[str]:
    """Every interface name in this namespace."""
    with IPRoute() as ipr:
        return [link.get("ifname") for link in ipr.get_links()]


def add_endpoint(ns_path: str, bridge: str, host_veth: str, ifname: str, ip: str, prefixlen: int, gateway: str,
                 mac: str, default_route: bool) -> None:
    """A veth pair: ``host_veth`` on ``bridge``, its peer as ``ifname`` in the namespace with the address."""
    peer = "vp" + host_veth[2:]
    fd = os.open(ns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with IPRoute() as ipr:
            bridge_index = _index(ipr, bridge)
            if bridge_index is None:
                raise OSError(f"bridge {bridge} is gone")
            ipr.link("add", ifname=host_veth, kind="veth", peer=peer)
            try:
                ipr.link("set", index=_index(ipr, peer), net_ns_fd=fd)
                host_index = _index(ipr, host_veth)
                ipr.link("set", index=host_index, master=bridge_index, state="up")
            except BaseException:
                delete_link(host_veth)
                raise
    finally:
        os.close(fd)
    with netns.entered(ns_path), IPRoute() as inner:
        index = _index(inner, peer)
        inner.link("set", index=index, ifname=ifname, address=mac)
        inner.addr("add", index=index, address=ip, prefixlen=prefixlen)
        inner.link("set", index=index, state="up")
        lo = _index(inner, "lo")
        inner.link("set", index=lo, state="up")
        if default_route:
            inner.route("add", dst="0.0.0.0/0", gateway=gateway)


def loopback_up(ns_path: str) -> None:
    """Only ``lo``, up (a namespace with no endpoint yet)."""
    with netns.entered(ns_path), IPRoute() as inner:
        inner.link("set", index=_index(inner, "lo"), state="up")


def remove_endpoint(ns_path: str, ifname: str) -> None:
    """Delete the container's ``ifname`` (its veth peer on the host goes with it)."""
    with netns.entered(ns_path), IPRoute() as inner:
        index = _index(inner, ifname)
        if index is not None:
            inner.link("del", index=index)

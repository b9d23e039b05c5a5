"""Network records and their IPAM leases: one JSON file under ``network/``, changed only under its lock.

Why one file: a lease is only safe if the allocation and the record of it are
one step; many ``berth`` processes allocate at once, so every change is
read-modify-write under ``network.lock`` with an atomic replace.
A lease lives from ``create`` to ``rm`` of its container, so an address is
never handed out twice and a restarted container keeps its address.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
from collections.abc import Callable, Collection
from typing import Any

from ..errors import BerthError, ContainerConflict, InvalidArgument, StoreCorrupt
from ..store import atomic
from ..store.locks import get_lock
from ..store.paths import DEFAULT_ROOT, NETWORK_LOCK, NETWORKS_FILE, StorePaths
from . import naming, subnets

__all__ = ["BUILTIN_MODES", "DEFAULT_NETWORK", "NOTICES", "NetworkNotFound", "NetworkStore", "network_name_ok"]

DEFAULT_NETWORK = "bridge"
BUILTIN_MODES = ("bridge", "host", "none")
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
# Serialises subnet choice across stores on this host: a subnet is taken once its bridge has an address.
HOST_LOCK = "/run/berth/network.lock"
_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")

NOTICES: list[str] = []
"""Things to say once to the user (a moved default subnet); the CLI prints and clears them."""


class NetworkNotFound(BerthError):
    """No network by that name or ID."""


def network_name_ok(name: str) -> bool:
    return bool(_NAME.fullmatch(name))


def _now() -> str:
    from ..containers.records import now_rfc3339

    return now_rfc3339()


class NetworkStore:
    """The store's networks (Docker's ``network inspect`` shape plus ``Leases``: address → container ID)."""

    def __init__(self, paths: StorePaths) -> None:
        self.paths = paths
        self.lock = get_lock(paths.network_file(NETWORK_LOCK))

    # -- reading -------------------------------------------------------------

    def all(self) -> dict[str, dict[str, Any]]:
        """Every network by ID (a snapshot: readers never see a half-written file)."""
        path = self.paths.network_file(NETWORKS_FILE)
        try:
            with open(path, encoding="utf-8") as f:
                nets = json.load(f).get("Networks", {})
            if not isinstance(nets, dict) or not all(isinstance(r, dict) and "Leases" in r for r in nets.values()):
                raise ValueError("not a networks record")
            return dict(nets)
        except FileNotFoundError:
            return {}
        except (ValueError, AttributeError) as err:  # torn or garbage: never guess (a guess would free leases)
            raise StoreCorrupt(
                f"{path} is unreadable ({err}): restore it, or move it aside to start with no networks "
                "(the default bridge is made again; containers on user networks must be re-created)") from err

    def find(self, ref: str) -> dict[str, Any] | None:
        """By exact name, full ID or unique ID prefix."""
        nets = self.all()
        for rec in nets.values():
            if rec["Name"] == ref:
                return rec
        matches = [rec for nid, rec in nets.items() if nid.startswith(ref)] if ref else []
        return matches[0] if len(matches) == 1 else None

    def resolve(self, ref: str) -> dict[str, Any]:
        rec = self.find(ref)
        if rec is None:
            raise NetworkNotFound(f"network {ref} not found")
        return rec

    # -- changing ------------------------------------------------------------

    def _modify(self, change: Callable[[dict[str, dict[str, Any]]], Any]) -> Any:
        with self.lock:
            nets = self.all()
            result = change(nets)
            os.makedirs(os.path.dirname(self.paths.network_file(NETWORKS_FILE)), exist_ok=True)
            atomic.write_file(self.paths.network_file(NETWORKS_FILE), json.dumps({"Networks": nets}, indent=1))
            return result

    def default(self) -> dict[str, Any]:
        """The ``bridge`` network, made (record and kernel bridge) on first use."""
        rec = self.find(DEFAULT_NETWORK)
        if rec is not None:
            return rec
        with get_lock(HOST_LOCK), self.lock:  # the order create() takes them in
            rec = self.find(DEFAULT_NETWORK)
            if rec is None:
                rec = self.create(DEFAULT_NETWORK, bridge=naming.default_bridge_name(self.paths.root), default=True)
            return rec

    def create(self, name: str, subnet: str = "", gateway: str = "", *, bridge: str = "",
               labels: dict[str, str] | None = None, default: bool = False) -> dict[str, Any]:
        """A bridge network: the record, then its bridge with the gateway address (which takes the subnet)."""
        if not network_name_ok(name):
            raise InvalidArgument(f"invalid network name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        if name == DEFAULT_NETWORK and not default:
            # Before its first use, the default network can be given its subnet: ``network create --subnet S bridge``.
            default, bridge = True, bridge or naming.default_bridge_name(self.paths.root)
        elif name in BUILTIN_MODES and not default:
            raise ContainerConflict(f"network with name {name} already exists")
        from . import links

        nid = secrets.token_hex(32)
        bridge = bridge or naming.user_bridge_name(nid)
        with get_lock(HOST_LOCK), self.lock:
            if self.find(name) is not None:
                raise ContainerConflict(f"network with name {name} already exists")
            net, gw = self._choose_subnet(subnet, gateway, default)
            rec = {
                "Name": name, "Id": nid, "Created": _now(), "Scope": "local", "Driver": "bridge",
                "EnableIPv6": False, "IPAM": {"Driver": "default", "Options": {},
                                               "Config": [{"Subnet": str(net), "Gateway": str(gw)}]},
                "Internal": False, "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""},
                "ConfigOnly": False, "Options": {BRIDGE_NAME_OPTION: bridge}, "Labels": dict(labels or {}),
                "Leases": {},
            }
            links.ensure_bridge(bridge, f"{gw}/{net.prefixlen}", self.paths.root)
            try:
                self._modify(lambda nets: nets.__setitem__(nid, rec))
                self.refresh_nat(first=default)
            except BaseException:
                links.delete_link(bridge)
                raise
        return rec

    def refresh_nat(self, first: bool = False) -> None:
        """Rewrite the store's masquerade rules from its networks; ``first`` says what is missing, once."""
        from . import masquerade

        nets = [(r["IPAM"]["Config"][0]["Subnet"], r["Options"][BRIDGE_NAME_OPTION]) for r in self.all().values()]
        routed = masquerade.apply(self.paths.root, nets)
        if first and not routed and self._says_notices():
            NOTICES.append(masquerade.NOT_ROUTED)
        elif first and os.path.abspath(self.paths.root) == DEFAULT_ROOT:
            # As dockerd does on start; a private store (tests) leaves the host's setting alone.
            _write("/proc/sys/net/ipv4/ip_forward", "1")

    def _choose_subnet(self, subnet: str, gateway: str,
                       default: bool) -> tuple[ipaddress.IPv4Network, ipaddress.IPv4Address]:
        ours = [ipaddress.IPv4Network(r["IPAM"]["Config"][0]["Subnet"]) for r in self.all().values()]
        used = subnets.host_subnets() + ours
        if subnet:
            try:
                net = ipaddress.IPv4Network(subnet, strict=True)
            except ValueError as err:
                raise InvalidArgument(f"invalid subnet {subnet}: {err}") from err
            if net.prefixlen > 30:
                raise InvalidArgument(f"subnet {subnet} is too small for a bridge network")
            clash = subnets.overlaps(net, used)
            if clash is not None:
                raise ContainerConflict(f"Pool overlaps with other one on this address space ({clash})")
        else:
            net = subnets.pick_subnet(used)
            if default and str(net) != subnets.DEFAULT_SUBNET and self._says_notices():
                NOTICES.append(f"the default network uses {net}: {subnets.DEFAULT_SUBNET} overlaps a route on this "
                               "host")
        try:
            gw = ipaddress.IPv4Address(gateway) if gateway else next(net.hosts())
        except ValueError as err:
            raise InvalidArgument(f"invalid gateway {gateway}") from err
        if gw not in net:
            raise InvalidArgument(f"gateway {gw} is not in subnet {net}")
        return net, gw

    def _says_notices(self) -> bool:
        """Only the real store (/var/lib/berth) warns: a private root (tests, CI) keeps stderr to the command's own.

        Its choices stay visible in ``network inspect bridge`` either way.
        """
        return os.path.abspath(self.paths.root) == DEFAULT_ROOT

    def remove(self, ref: str) -> dict[str, Any]:
        """Drop a network nobody is attached to, then its bridge."""
        from . import links

        if ref in BUILTIN_MODES:
            raise ContainerConflict(f"{ref} is a pre-defined network and cannot be removed")
        rec = self.resolve(ref)

        def drop(nets: dict[str, dict[str, Any]]) -> None:
            current = nets.get(rec["Id"])
            if current is None:
                raise NetworkNotFound(f"network {ref} not found")
            if current["Leases"]:
                raise ContainerConflict(f"error while removing network: network {rec['Name']} id {rec['Id']} has "
                                        "active endpoints")
            del nets[rec["Id"]]

        self._modify(drop)
        links.delete_link(rec["Options"][BRIDGE_NAME_OPTION])
        self.refresh_nat()
        return rec

    def allocate(self, net_id: str, cid: str, wanted: str = "") -> dict[str, Any]:
        """A lease for ``cid`` on the network: ``wanted`` if free, else the lowest free address."""
        def take(nets: dict[str, dict[str, Any]]) -> dict[str, Any]:
            rec = nets.get(net_id)
            if rec is None:
                raise NetworkNotFound(f"network {net_id} not found")
            cfg = rec["IPAM"]["Config"][0]
            net, gw = ipaddress.IPv4Network(cfg["Subnet"]), cfg["Gateway"]
            leases = rec["Leases"]
            for ip, owner in leases.items():
                if owner == cid:
                    return _lease(rec, ip)
            if wanted:
                try:
                    addr = ipaddress.IPv4Address(wanted)
                except ValueError as err:
                    raise InvalidArgument(f"invalid IPv4 address: {wanted}") from err
                if addr not in net or addr in (net.network_address, net.broadcast_address):
                    raise InvalidArgument(f"no configured subnet contains IP address {wanted}")
                if str(addr) in leases or str(addr) == gw:
                    raise ContainerConflict(f"Address already in use: {wanted}")
                ip = str(addr)
            else:
                ip = next((str(a) for a in net.hosts() if str(a) not in leases and str(a) != gw), "")
                if not ip:
                    raise ContainerConflict(f"no available IPv4 addresses on this network's address pools: "
                                            f"{rec['Name']} ({net})")
            leases[ip] = cid
            return _lease(rec, ip)

        return self._modify(take)

    def release(self, cid: str, net_id: str = "") -> None:
        """Free ``cid``'s leases (on one network, or all)."""
        self.release_many({cid}, net_id)

    def release_many(self, cids: Collection[str], net_id: str = "") -> None:
        """Free every lease of ``cids`` with one write of the file (``rm`` of many containers)."""
        def drop(nets: dict[str, dict[str, Any]]) -> None:
            for nid, rec in nets.items():
                if not net_id or nid == net_id:
                    rec["Leases"] = {ip: owner for ip, owner in rec["Leases"].items() if owner not in cids}

        if any(owner in cids for rec in self.all().values() for owner in rec["Leases"].values()):
            self._modify(drop)

    def prune(self) -> list[str]:
        """Remove every user network with no container on it; their names."""
        removed = []
        for rec in list(self.all().values()):
            if rec["Name"] != DEFAULT_NETWORK and not rec["Leases"]:
                try:
                    self.remove(rec["Id"])
                except (ContainerConflict, NetworkNotFound):
                    continue
                removed.append(rec["Name"])
        return removed


def _lease(rec: dict[str, Any], ip: str) -> dict[str, Any]:
    """An endpoint's addressing, as NetworkSettings.Networks[name] holds it."""
    cfg = rec["IPAM"]["Config"][0]
    return {"NetworkID": rec["Id"], "IPAddress": ip, "IPPrefixLen": ipaddress.IPv4Network(cfg["Subnet"]).prefixlen,
            "Gateway": cfg["Gateway"], "MacAddress": mac_for(ip)}


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return ""


def _write(path: str, value: str) -> None:
    try:
        with open(path, "w", encoding="ascii") as f:
            f.write(value)
    except OSError:
        pass


def mac_for(ip: str) -> str:
    """Docker's MAC: 02:42 then the four bytes of the IPv4 address."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(ip).packed)

"""A container's place on its networks: records at create, kernel objects at start, teardown at exit and rm.

Create (no pyroute2): leases and NetworkSettings, hosts and resolv.conf.
Start (in the monitor): a netns bound under /run/berth/netns/<store>/<id>,
one veth per network (eth0, eth1, …), then the container's init joins it.
Exit: the netns mount goes, so the namespace and its veths go with the init.
Rm: the leases are freed and the peers' /etc/hosts rewritten.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import BerthError, ContainerNotRunning, InvalidArgument
from . import naming, netns
from .etcfiles import hosts_file, resolv_conf
from .networks import (
    BRIDGE_NAME_OPTION,
    BUILTIN_MODES,
    DEFAULT_NETWORK,
    NetworkNotFound,
    NetworkStore,
)

if TYPE_CHECKING:
    from ..context import StoreContext

__all__ = [
    "Attached",
    "attach",
    "detach",
    "endpoint_settings",
    "network_mode_kind",
    "plan_networks",
    "refresh_hosts",
    "release",
    "render_hosts",
    "render_resolv",
]


def network_mode_kind(mode: str) -> str:
    """``none``, ``host``, ``container`` or ``bridge`` (the default network and user networks alike)."""
    if mode in ("none", "host"):
        return mode
    return "container" if mode.startswith("container:") else "bridge"


def endpoint_settings(lease: dict[str, Any], wanted_ip: str = "", aliases: list[str] | None = None) -> dict[str, Any]:
    """NetworkSettings.Networks[name], Docker's EndpointSettings shape."""
    return {
        "IPAMConfig": {"IPv4Address": wanted_ip} if wanted_ip else None, "Links": None, "Aliases": aliases,
        "NetworkID": lease["NetworkID"], "EndpointID": "", "Gateway": lease["Gateway"],
        "IPAddress": lease["IPAddress"], "IPPrefixLen": lease["IPPrefixLen"], "IPv6Gateway": "",
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "MacAddress": lease["MacAddress"], "DriverOpts": None,
    }


def plan_networks(ctx: StoreContext, cid: str, mode: str, ip: str, name: str) -> dict[str, Any]:
    """NetworkSettings.Networks for a new container: leases taken now (freed by ``release`` on failure or rm)."""
    kind = network_mode_kind(mode)
    if kind in ("none", "host"):
        if ip:
            raise InvalidArgument("user specified IP address is supported only when connecting to networks with "
                                  "user configured subnets")
        return {mode: {}}
    if kind == "container":
        ctx.records.resolve(mode.partition(":")[2])
        return {}
    store = NetworkStore(ctx.paths)
    rec = store.default() if mode == DEFAULT_NETWORK else store.resolve(mode)
    if ip and rec["Name"] == DEFAULT_NETWORK:
        raise InvalidArgument("user specified IP address is supported on user defined networks only")
    lease = store.allocate(rec["Id"], cid, ip)
    aliases = None if rec["Name"] == DEFAULT_NETWORK else [cid[:12]]
    return {rec["Name"]: endpoint_settings(lease, ip, aliases)}


def _bridged(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(n, s) for n, s in (config.get("NetworkSettings", {}).get("Networks") or {}).items()
            if n not in ("none", "host") and s.get("IPAddress")]


def render_hosts(ctx: StoreContext, config: dict[str, Any], host: dict[str, Any]) -> str:
    """/etc/hosts: localhost, ``--add-host``, own address with hostname and name, peers on user networks."""
    mode = str(host.get("NetworkMode", "none"))
    hostname = config["Config"].get("Hostname") or config["ID"][:12]
    name = str(config.get("Name", "")).lstrip("/")
    own_names = list(dict.fromkeys([hostname, *([name] if name else [])]))
    extra = host.get("ExtraHosts") or []
    if mode == "host":
        try:
            with open("/etc/hosts", encoding="utf-8") as f:
                return f.read() + "".join(hosts_file([], extra).split("ip6-allrouters\n", 1)[1:])
        except OSError:
            return hosts_file([], extra)
    bridged = _bridged(config)
    own = [(s["IPAddress"], own_names) for _, s in bridged] or [("127.0.1.1", [hostname])]
    peers: list[tuple[str, list[str]]] = []
    store = NetworkStore(ctx.paths)
    for net_name, settings in bridged:
        if net_name == DEFAULT_NETWORK:
            continue
        rec = store.all().get(settings["NetworkID"])
        for ip, peer in sorted((rec or {}).get("Leases", {}).items()):
            if peer == config["ID"]:
                continue
            try:
                other = ctx.records.load(peer)
            except BerthError:
                continue
            peers.append((ip, [str(other.get("Name", "")).lstrip("/"), peer[:12]]))
    return hosts_file(own, extra, peers)


def render_resolv(host: dict[str, Any]) -> str:
    """resolv.conf from the host's (loopback servers dropped) and ``--dns``/``--dns-search``/``--dns-option``."""
    try:
        with open("/etc/resolv.conf", encoding="utf-8") as f:
            text = f.read()
    except OSError:
        text = ""
    if host.get("NetworkMode") == "host":
        return text
    return resolv_conf(text, host.get("Dns") or [], host.get("DnsSearch") or [], host.get("DnsOptions") or [])


def write_in_place(path: str, text: str) -> None:
    """Rewrite a bind-mounted file through its inode (a rename would leave the container the old one)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def refresh_hosts(ctx: StoreContext, network_id: str, skip: str = "") -> None:
    """Rewrite /etc/hosts of every container on a user network (one joined, left or was removed)."""
    rec = NetworkStore(ctx.paths).all().get(network_id)
    if rec is None or rec["Name"] == DEFAULT_NETWORK:
        return
    for cid in set(rec["Leases"].values()) - {skip}:
        try:
            config, host = ctx.records.load(cid), ctx.records.load_host(cid)
            write_in_place(config["HostsPath"], render_hosts(ctx, config, host))
        except (BerthError, OSError):
            continue


@dataclass
class Attached:
    """What a started container holds on the host: its netns mount (empty for none/host/container modes)."""

    netns_path: str = ""
    """The namespace the init joins; "" means the runtime's own choice (a fresh one for none, the host's)."""
    owned: bool = False
    """True when the namespace is ours to remove at exit."""
    ip: str = ""
    """The first network's address: where published ports are forwarded."""


def attach(ctx: StoreContext, cid: str, config: dict[str, Any], host: dict[str, Any]) -> Attached:
    """Make the container's network before its init runs; NetworkSettings is updated in ``config``."""
    mode = str(host.get("NetworkMode", "none"))
    kind = network_mode_kind(mode)
    if kind == "container":
        other = ctx.records.load(ctx.records.resolve(mode.partition(":")[2]))
        if not other["State"].get("Running"):
            raise ContainerNotRunning(f"cannot join network of a non running container: {other['ID'][:12]}")
        return Attached(f"/proc/{int(other['State']['Pid'])}/ns/net")
    bridged = _bridged(config)
    if kind != "bridge" or not bridged:
        return Attached()
    from . import links

    path = naming.netns_path(ctx.paths.root, cid)
    netns.remove(path)  # a leftover of a crash
    netns.create(path)
    store = NetworkStore(ctx.paths)
    try:
        nets = store.all()
        for index, (net_name, settings) in enumerate(bridged):
            rec = nets.get(settings["NetworkID"])
            if rec is None:
                raise NetworkNotFound(f"network {net_name} not found")
            cfg = rec["IPAM"]["Config"][0]
            bridge = rec["Options"][BRIDGE_NAME_OPTION]
            links.ensure_bridge(bridge, f"{cfg['Gateway']}/{settings['IPPrefixLen']}", ctx.paths.root)
            links.add_endpoint(path, bridge, naming.host_veth_name(cid, rec["Id"]), f"eth{index}",
                               settings["IPAddress"], int(settings["IPPrefixLen"]), settings["Gateway"],
                               settings["MacAddress"], default_route=index == 0)
            settings["EndpointID"] = naming.host_veth_name(cid, rec["Id"])
    except BaseException:
        for _, settings in bridged:
            links.delete_link(naming.host_veth_name(cid, settings["NetworkID"]))
        netns.remove(path)
        raise
    ns = config.setdefault("NetworkSettings", {})
    first = bridged[0][1]
    ns.update(SandboxKey=path, IPAddress=first["IPAddress"], IPPrefixLen=first["IPPrefixLen"],
              Gateway=first["Gateway"], MacAddress=first["MacAddress"],
              Bridge=nets[first["NetworkID"]]["Options"][BRIDGE_NAME_OPTION] if bridged[0][0] == DEFAULT_NETWORK
              else "")
    return Attached(path, owned=True, ip=first["IPAddress"])


def detach(root: str, cid: str) -> None:
    """Drop the netns mount; with the init gone the namespace and its veths go too (no pyroute2 needed)."""
    netns.remove(naming.netns_path(root, cid))


def clear_runtime_settings(config: dict[str, Any]) -> None:
    """A stopped container has no sandbox and no published ports (as ``docker inspect`` shows)."""
    ns = config.setdefault("NetworkSettings", {})
    ns.update(SandboxKey="", Ports={})
    for settings in (ns.get("Networks") or {}).values():
        if isinstance(settings, dict) and "EndpointID" in settings:
            settings["EndpointID"] = ""


def release(ctx: StoreContext, cid: str) -> None:
    """Free ``cid``'s leases and tell its peers (``rm``, or a create that failed)."""
    release_many(ctx, [cid])


def release_many(ctx: StoreContext, cids: Iterable[str]) -> None:
    """``release`` for many containers: one write of the networks file, each touched network's peers told once."""
    wanted = set(cids)
    store = NetworkStore(ctx.paths)
    nets = [nid for nid, rec in store.all().items() if not wanted.isdisjoint(rec["Leases"].values())]
    if not nets:
        return
    store.release_many(wanted)
    for nid in nets:
        refresh_hosts(ctx, nid)


def is_builtin(name: str) -> bool:
    return name in BUILTIN_MODES

"""``network`` verbs behind the Engine facade: create, ls, inspect, rm, prune, connect, disconnect, and teardown."""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

from ..errors import BerthError, ContainerConflict, InvalidArgument
from . import endpoint, masquerade, naming, netns
from .networks import (
    BRIDGE_NAME_OPTION,
    BUILTIN_MODES,
    DEFAULT_NETWORK,
    NetworkNotFound,
    NetworkStore,
)

if TYPE_CHECKING:
    from ..context import StoreContext

__all__ = ["NetworkNotFound", "connect", "disconnect", "find", "inspect", "list_networks", "reap_orphans",
           "teardown_store"]


def _builtin(name: str) -> dict[str, Any]:
    """``host`` and ``none`` as ``network ls``/``inspect`` show them (they have no record)."""
    return {"Name": name, "Id": naming.store_hash(name) * 8, "Created": "", "Scope": "local", "Driver": name if
            name == "host" else "null", "EnableIPv6": False, "IPAM": {"Driver": "default", "Options": None,
                                                                       "Config": []},
            "Internal": False, "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""},
            "ConfigOnly": False, "Options": {}, "Labels": {}, "Leases": {}}


def list_networks(ctx: StoreContext) -> list[dict[str, Any]]:
    """The store's networks, plus ``host`` and ``none``; ``bridge`` once it has been used."""
    recs = sorted(NetworkStore(ctx.paths).all().values(), key=lambda r: r["Name"])
    return recs + [_builtin(n) for n in ("host", "none")]


def find(ctx: StoreContext, ref: str) -> dict[str, Any]:
    if ref in ("host", "none"):
        return _builtin(ref)
    store = NetworkStore(ctx.paths)
    return store.default() if ref == DEFAULT_NETWORK else store.resolve(ref)


def inspect(ctx: StoreContext, ref: str) -> dict[str, Any]:
    """Docker's ``network inspect`` object: the record with ``Containers`` in place of the leases."""
    rec = find(ctx, ref)
    out = {k: v for k, v in rec.items() if k != "Leases"}
    containers = {}
    prefix = rec["IPAM"]["Config"][0]["Subnet"].split("/")[1] if rec["IPAM"]["Config"] else ""
    for ip, cid in sorted(rec["Leases"].items()):
        try:
            config = ctx.records.load(cid)
        except BerthError:
            continue
        settings = (config.get("NetworkSettings", {}).get("Networks") or {}).get(rec["Name"], {})
        containers[cid] = {"Name": str(config.get("Name", "")).lstrip("/"),
                           "EndpointID": settings.get("EndpointID", ""), "MacAddress": settings.get("MacAddress", ""),
                           "IPv4Address": f"{ip}/{prefix}", "IPv6Address": ""}
    out["Containers"] = containers
    return out


def connect(ctx: StoreContext, ref: str, cid: str, ip: str = "") -> None:
    """Attach a container to a user network: a lease now, and an endpoint at once if it is running."""
    if ref in BUILTIN_MODES and ref != DEFAULT_NETWORK:
        raise InvalidArgument(f"container cannot be disconnected from host network or connected to {ref} network")
    store = NetworkStore(ctx.paths)
    rec = store.default() if ref == DEFAULT_NETWORK else store.resolve(ref)
    host = ctx.records.load_host(cid)
    if endpoint.network_mode_kind(str(host.get("NetworkMode"))) != "bridge":
        raise ContainerConflict(f"container sharing network namespace with another container or host cannot be "
                                f"connected to any other network ({host.get('NetworkMode')})")
    with ctx.records.locked(cid):
        config = ctx.records.load(cid)
        nets = config.setdefault("NetworkSettings", {}).setdefault("Networks", {})
        if rec["Name"] in nets:
            raise ContainerConflict(f"endpoint with name {str(config['Name']).lstrip('/')} already exists in "
                                    f"network {rec['Name']}")
        lease = store.allocate(rec["Id"], cid, ip)
        try:
            settings = endpoint.endpoint_settings(lease, ip, [cid[:12]] if rec["Name"] != DEFAULT_NETWORK else None)
            running = bool(config["State"].get("Running"))
            if running:
                from . import links

                path = naming.netns_path(ctx.paths.root, cid)
                cfg = rec["IPAM"]["Config"][0]
                links.ensure_bridge(rec["Options"][BRIDGE_NAME_OPTION], f"{cfg['Gateway']}/{lease['IPPrefixLen']}",
                                    ctx.paths.root)
                veth = naming.host_veth_name(cid, rec["Id"])
                links.add_endpoint(path, rec["Options"][BRIDGE_NAME_OPTION], veth, f"eth{len(nets)}",
                                   lease["IPAddress"], lease["IPPrefixLen"], lease["Gateway"], lease["MacAddress"],
                                   default_route=False)
                settings["EndpointID"] = veth
            nets[rec["Name"]] = settings
            ctx.records.save(cid, config)
        except BaseException:
            store.release(cid, rec["Id"])
            raise
    _rewrite_own_hosts(ctx, cid)
    endpoint.refresh_hosts(ctx, rec["Id"])


def disconnect(ctx: StoreContext, ref: str, cid: str, force: bool = False) -> None:
    """Detach a container from a network: its endpoint (if running) and its lease."""
    store = NetworkStore(ctx.paths)
    rec = store.resolve(ref)
    with ctx.records.locked(cid):
        config = ctx.records.load(cid)
        nets = config.get("NetworkSettings", {}).get("Networks") or {}
        settings = nets.get(rec["Name"])
        if settings is None and not force:
            raise ContainerConflict(f"container {cid[:12]} is not connected to network {rec['Name']}")
        if settings and config["State"].get("Running"):
            from . import links

            with contextlib.suppress(OSError):
                links.delete_link(naming.host_veth_name(cid, rec["Id"]))
        nets.pop(rec["Name"], None)
        ctx.records.save(cid, config)
    store.release(cid, rec["Id"])
    _rewrite_own_hosts(ctx, cid)
    endpoint.refresh_hosts(ctx, rec["Id"])


def _rewrite_own_hosts(ctx: StoreContext, cid: str) -> None:
    config, host = ctx.records.load(cid), ctx.records.load_host(cid)
    endpoint.write_in_place(config["HostsPath"], endpoint.render_hosts(ctx, config, host))


def teardown_store(root: str) -> list[str]:
    """Remove every kernel object of the store's networks (bridges, NAT rules, netns mounts); what went.

    For a store being thrown away (tests, ``system reset``): records are left as they are. Only what this
    store made goes: bridges carrying its own alias (``links.bridges_of``), never another store's, even one
    whose root cannot be seen from here (a test run in a chroot once took the host's live bridges for orphans).
    """
    from ..store.paths import NETWORKS_FILE, StorePaths

    paths = StorePaths(root)
    gone = _remove_netns_dir(root)
    if not os.path.isdir(os.path.dirname(paths.network_file(NETWORKS_FILE))):
        return gone  # never had a network: no bridge, no table (and no pyroute2 import)
    from . import links

    for bridge in links.bridges_of(root, legacy=True):
        if links.delete_link(bridge):
            gone.append("bridge " + bridge)
    if NetworkStore(paths).all() and masquerade.rules_present(root):
        masquerade.remove(root)
        gone.append("nat " + naming.nft_table(root))
    return gone


def reap_orphans() -> list[str]:
    """Bridges (and their NAT tables) of stores provably gone: made from this filesystem view, root removed.

    Nobody else will ever remove them. From a chroot or another mount namespace, another view's stores are
    invisible, not gone: their bridges are left alone (``links.orphan_bridges``).
    """
    from . import links

    gone = []
    for bridge, root in links.orphan_bridges():
        if links.delete_link(bridge):
            gone.append("bridge " + bridge)
        if masquerade.rules_present(root):
            masquerade.remove(root)
            gone.append("nat " + naming.nft_table(root))
        gone += _remove_netns_dir(root)
    return gone


def _remove_netns_dir(root: str) -> list[str]:
    ns_dir = naming.netns_dir(root)
    names = sorted(os.listdir(ns_dir)) if os.path.isdir(ns_dir) else []
    for name in names:
        netns.remove(os.path.join(ns_dir, name))
    with contextlib.suppress(OSError):
        os.rmdir(ns_dir)
    return ["netns " + name for name in names]


__all__ += ["NetworkNotFound", "find"]

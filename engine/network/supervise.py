"""The monitor's side of a container's network: made before the init runs, undone when it exits."""

from __future__ import annotations

import selectors
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import endpoint

if TYPE_CHECKING:
    from ..context import StoreContext
    from .ports import PortProxy

__all__ = ["ContainerNet", "adopt_network", "start_network"]


@dataclass
class ContainerNet:
    """A running container's namespace and port listeners, owned by the monitor."""

    root: str
    cid: str
    attached: endpoint.Attached
    proxy: PortProxy | None = None

    @property
    def netns_path(self) -> str:
        return self.attached.netns_path

    def stop(self) -> None:
        """Close the listeners and drop the netns mount.

        With the init gone that frees the namespace, and the kernel deletes its veths (both ends) on its own,
        a moment later; deleting them here would put ~30 ms of RCU waits on every container's exit.
        """
        if self.proxy is not None:
            self.proxy.close()
            self.proxy = None
        if self.attached.owned:
            endpoint.detach(self.root, self.cid)


_NAT_CHECKED: set[str] = set()


def ensure_nat(store: StoreContext) -> None:
    """Once per monitor: the store's NAT rules are back after a reboot (or a flush) that took them away."""
    from . import masquerade
    from .networks import NetworkStore

    root = store.paths.root
    if root not in _NAT_CHECKED:
        _NAT_CHECKED.add(root)
        if masquerade.tool() and not masquerade.rules_present(root):
            NetworkStore(store.paths).refresh_nat()


def start_network(store: StoreContext, cid: str, config: dict[str, Any], host: dict[str, Any],
                  selector: selectors.BaseSelector, tag: Callable[[Callable[[Any], None]], Any]) -> ContainerNet:
    """Namespace, veths and published ports; NetworkSettings (Ports, SandboxKey, …) are filled in ``config``."""
    attached = endpoint.attach(store, cid, config, host)
    net = ContainerNet(store.paths.root, cid, attached)
    if attached.owned:
        ensure_nat(store)
    bindings = host.get("PortBindings") or {}
    exposed = list(config["Config"].get("ExposedPorts") or {})
    try:
        if bindings and attached.ip:
            from .ports import PortProxy

            net.proxy = PortProxy(selector, tag)
            net.proxy.open(bindings, exposed, attached.ip)
            config["NetworkSettings"]["Ports"] = net.proxy.ports
        elif attached.ip:
            config["NetworkSettings"]["Ports"] = {key: None for key in exposed}
    except BaseException:
        net.stop()
        raise
    return net


def adopt_network(store: StoreContext, cid: str, config: dict[str, Any], host: dict[str, Any],
                  selector: selectors.BaseSelector, tag: Callable[[Callable[[Any], None]], Any]) -> ContainerNet | None:
    """A running container's network as a new monitor takes it over: the netns is there, the listeners are not.

    They died with the old monitor; the same host ports (recorded in NetworkSettings.Ports) are bound again.
    """
    mode = str(host.get("NetworkMode", "none"))
    if mode in ("none", "host"):
        return None
    ns = config.get("NetworkSettings") or {}
    sandbox = str(ns.get("SandboxKey") or "")
    ip = str(ns.get("IPAddress") or "")
    net = ContainerNet(store.paths.root, cid, endpoint.Attached(sandbox, owned=bool(sandbox), ip=ip))
    recorded = {key: items for key, items in (ns.get("Ports") or {}).items() if items}
    if recorded and ip:
        from .ports import PortProxy

        net.proxy = PortProxy(selector, tag)
        net.proxy.open(recorded, list(ns.get("Ports") or {}), ip)
    return net

"""A RUN step's network, as the classic builder gives it: the store's default bridge unless ``--network`` says.

``default`` and ``bridge`` put the step on the default network (a lease, a
veth, a netns of its own, NAT out), as ``run`` does; a user network's name
does the same on that network; ``none`` is a fresh namespace with only ``lo``;
``host`` shares the host's, as it did before. The step's container id owns the
lease and the netns, and everything is taken down when the step ends, however
it ends; a builder killed outright leaves a lease and a netns mount that
``system check --repair`` reclaims once the builder's holder lock is gone.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import BerthError, BuildError, InvalidArgument
from ..kernel import syscalls

if TYPE_CHECKING:
    from ..context import StoreContext

__all__ = ["DEFAULT_MODE", "FORWARDING_WARNING", "StepNetwork", "check_mode", "forwarding_warning", "step_network"]

DEFAULT_MODE = "default"
"""Docker's name for the builder's default: the default bridge network."""


@dataclass(frozen=True)
class StepNetwork:
    """What the step's process needs: a netns to join or a flag to unshare, and its /etc files' text."""

    netns_path: str = ""
    namespaces: int = 0
    hosts: str = ""
    resolv_conf: str = ""


def check_mode(mode: str) -> str:
    """``--network``'s value as the endpoint code names it; refused when it cannot describe a network."""
    if mode in ("", DEFAULT_MODE):
        from ..network.networks import DEFAULT_NETWORK

        return DEFAULT_NETWORK
    if mode.startswith("container:"):
        raise InvalidArgument(f"network mode {mode!r} is not supported for build")
    return mode


_IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"
FORWARDING_WARNING = "[Warning] IPv4 forwarding is disabled. Networking will not work."
"""What the classic builder prints before a bridged RUN step when the host does not forward."""


def forwarding_warning(mode: str) -> str | None:
    """Docker's warning for a bridged step on a host with ip_forward off (the step cannot get out)."""
    from ..network import endpoint

    if endpoint.network_mode_kind(check_mode(mode)) != "bridge":
        return None
    try:
        with open(_IP_FORWARD, encoding="ascii") as f:
            return FORWARDING_WARNING if f.read().strip() == "0" else None
    except OSError:
        return None


@contextlib.contextmanager
def step_network(store: StoreContext, cid: str, mode: str) -> Iterator[StepNetwork]:
    """The step's network for as long as the block runs; lease, veth and netns go when it ends."""
    from ..network import endpoint

    mode = check_mode(mode)
    hostname = cid[:12]
    config: dict[str, Any] = {"ID": cid, "Name": "", "Config": {"Hostname": hostname}, "NetworkSettings": {}}
    host: dict[str, Any] = {"NetworkMode": mode}
    kind = endpoint.network_mode_kind(mode)
    if kind in ("none", "host"):
        yield StepNetwork(namespaces=syscalls.CLONE_NEWNET if kind == "none" else 0,
                          hosts=endpoint.render_hosts(store, config, host), resolv_conf=endpoint.render_resolv(host))
        return
    config["NetworkSettings"]["Networks"] = endpoint.plan_networks(store, cid, mode, "", "")
    try:
        netns_path = _attach(store, cid, config, host)
        try:
            yield StepNetwork(netns_path=netns_path, hosts=endpoint.render_hosts(store, config, host),
                              resolv_conf=endpoint.render_resolv(host))
        finally:
            _detach(store, cid, config)
    finally:
        endpoint.release(store, cid)


def _attach(store: StoreContext, cid: str, config: dict[str, Any], host: dict[str, Any]) -> str:
    """Namespace, veth and NAT rules; a failure (no CAP_NET_ADMIN, netlink refusing) is one BuildError line."""
    from ..network import endpoint
    from ..network.supervise import ensure_nat

    try:
        attached = endpoint.attach(store, cid, config, host)
        try:
            ensure_nat(store)
        except BaseException:
            _detach(store, cid, config)
            raise
    except BerthError:
        raise
    except Exception as err:  # pyroute2's NetlinkError is no OSError
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise BuildError(f"cannot set up the network of the RUN step: {reason}") from err
    return attached.netns_path


def _detach(store: StoreContext, cid: str, config: dict[str, Any]) -> None:
    """Drop the netns mount and delete the host's veth now (not when the kernel gets round to it)."""
    from ..network import endpoint, links, naming

    endpoint.detach(store.paths.root, cid)
    for settings in (config["NetworkSettings"].get("Networks") or {}).values():
        if settings.get("NetworkID"):
            with contextlib.suppress(OSError):
                links.delete_link(naming.host_veth_name(cid, settings["NetworkID"]))


def write_etc_files(directory: str, net: StepNetwork, hostname: str) -> list[tuple[str, str]]:
    """/etc/hosts, /etc/hostname and /etc/resolv.conf for the step in ``directory``: (host path, container path)."""
    out = []
    for name, text in (("hosts", net.hosts), ("hostname", hostname + "\n"), ("resolv.conf", net.resolv_conf)):
        path = os.path.join(directory, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        out.append((path, "/etc/" + name))
    return out

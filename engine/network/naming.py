"""Per-store names of kernel objects, so two stores (a user's and a test's) never touch each other's."""

from __future__ import annotations

import hashlib
import os

from ..store.paths import DEFAULT_ROOT, NETNS_RUN_DIR

__all__ = ["cgroup_dir_name", "default_bridge_name", "filesystem_view", "host_veth_name", "netns_dir", "netns_path",
           "nft_table", "store_hash"]

# IFNAMSIZ - 1: the longest interface name the kernel takes.
MAX_IFNAME = 15


def store_hash(root: str) -> str:
    """Eight hex digits naming one store root."""
    return hashlib.sha256(os.path.abspath(root).encode()).hexdigest()[:8]


def cgroup_dir_name(root: str) -> str:
    """``berth-<hash>``: the dir holding this store's container cgroups, in each hierarchy."""
    return "berth-" + store_hash(root)


def filesystem_view() -> str:
    """Which filesystem this process sees paths in: its mount namespace and its root dir ("" if unknown).

    Kernel objects (bridges, cgroups) are shared by every chroot and mount namespace, but a store root's path
    means something only in the view it was written from: "that path is gone" proves a store gone only when
    judged from the same view as the one that named it. A chroot has the host's mount namespace but another
    root, ``unshare -m`` the same root but another namespace; either changes this string.
    """
    try:
        namespace = os.stat("/proc/self/ns/mnt").st_ino
        top = os.stat("/")
    except OSError:  # no /proc (a bare chroot): nothing can be proved
        return ""
    return f"{namespace:x}.{top.st_dev:x}.{top.st_ino:x}"


def default_bridge_name(root: str) -> str:
    """``berth0`` for /var/lib/berth; ``bt<hash>`` for any other root."""
    return "berth0" if os.path.abspath(root) == DEFAULT_ROOT else "bt" + store_hash(root)


def user_bridge_name(network_id: str) -> str:
    """Docker's ``br-<12 hex of the network ID>``."""
    return "br-" + network_id[:12]


def netns_dir(root: str) -> str:
    return os.path.join(NETNS_RUN_DIR, store_hash(root))


def netns_path(root: str, cid: str) -> str:
    """The nsfs bind mount that keeps a container's network namespace alive."""
    return os.path.join(netns_dir(root), cid)


def nft_table(root: str) -> str:
    """The nftables table (and iptables chain) holding this store's masquerade rules only."""
    return "berth_" + store_hash(root)


def host_veth_name(cid: str, network_id: str) -> str:
    """The host end of a container's veth on one network: ``vb`` + 7 hex of the container + 6 of the network."""
    return ("vb" + cid[:7] + network_id[:6])[:MAX_IFNAME]

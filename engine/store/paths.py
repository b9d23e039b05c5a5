"""Every on-disk name of the store, and one path helper per thing.

The layout mirrors Docker's overlay2 graph driver and its layer/image stores,
so what a Docker user learned about ``/var/lib/docker`` holds here as-is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_ROOT = "/var/lib/berth"

OVERLAY_DIR = "overlay2"
LINK_DIR = "l"
DIFF_DIR = "diff"
WORK_DIR = "work"
MERGED_DIR = "merged"
LOWER_FILE = "lower"
LINK_FILE = "link"
COMMITTED_FILE = "committed"
INIT_SUFFIX = "-init"

# Short link names: 26 base32 characters. A lowerdir entry is then "l/" + 26 +
# ":" = 29 bytes, so 128 layers (the deepest chain we allow) take 3712 bytes and,
# with upperdir/workdir, the mount options still fit in one 4096-byte page.
LINK_ID_LENGTH = 26
MAX_DEPTH = 128

IMAGE_DIR = os.path.join("image", OVERLAY_DIR)
IMAGEDB_CONTENT = os.path.join(IMAGE_DIR, "imagedb", "content", "sha256")
IMAGEDB_METADATA = os.path.join(IMAGE_DIR, "imagedb", "metadata", "sha256")
LAYERDB = os.path.join(IMAGE_DIR, "layerdb", "sha256")
LAYERDB_MOUNTS = os.path.join(IMAGE_DIR, "layerdb", "mounts")
REPOSITORIES_FILE = os.path.join(IMAGE_DIR, "repositories.json")
# How each layer's original tar was laid out, so save/push give back the same bytes.
TAR_SPLIT_DIR = os.path.join(IMAGE_DIR, "distribution", "tar-split")

# Files of one layerdb record (layerdb/sha256/<chain-id>/).
LAYER_DIFF_FILE = "diff"
LAYER_SIZE_FILE = "size"
LAYER_CACHE_ID_FILE = "cache-id"
LAYER_PARENT_FILE = "parent"
# Files of one mount record (layerdb/mounts/<container-id>/).
MOUNT_ID_FILE = "mount-id"
INIT_ID_FILE = "init-id"
# Files of an image's metadata (imagedb/metadata/sha256/<image-id>/).
IMAGE_PARENT_FILE = "parent"
LAST_TAG_TIME_FILE = "lastUpdated"
IMAGE_CONTAINER_CONFIG_FILE = "container_config"  # a built image's run config: the build cache's key

CONTAINERS_DIR = "containers"
CONTAINER_CONFIG_FILE = "config.v2.json"
# Files of one container dir (containers/<id>/), Docker's names.
HOSTCONFIG_FILE = "hostconfig.json"
HOSTNAME_FILE = "hostname"
HOSTS_FILE = "hosts"
RESOLV_CONF_FILE = "resolv.conf"
CONTAINER_LOG_SUFFIX = "-json.log"
# containers/.lock-<id> serialises writes of one container's records (the monitor and CLI
# commands both write them); it sits beside the dir so locking never recreates a removed one.
CONTAINER_LOCK_PREFIX = ".lock-"
# The per-store container monitor: its socket, and the lock it holds for as long as it lives.
MONITOR_SOCKET = "monitor.sock"
MONITOR_LOCK = "monitor.lock"
MONITOR_SPAWN_LOCK = "monitor.spawn.lock"
MONITOR_LOG = "monitor.log"
# The host's boot id when a monitor last started: a different one means the host rebooted since.
MONITOR_BOOT_ID = "monitor.boot-id"
VOLUMES_DIR = "volumes"
VOLUME_DATA_DIR = "_data"
# volumes/<name>/<this>: driver, labels, creation time (Docker keeps these in volumes/metadata.db, a bolt db).
VOLUME_RECORD_FILE = "volume.json"
# Networks: one record file (networks and their IPAM leases) and its lock; container netns files live in
# NETNS_RUN_DIR/<store hash>/ (a tmpfs: they mean nothing after a reboot).
NETWORK_DIR = "network"
NETWORKS_FILE = "networks.json"
NETWORK_LOCK = "network.lock"
NETNS_RUN_DIR = "/run/berth/netns"

# Staging area for layers being written; each stager holds a lock on its
# entry, so a repair can tell abandoned staging dirs from live ones.
STAGING_DIR = "tmp"
STAGING_LOCK_SUFFIX = ".lock"  # tmp/<cache-id>.lock, beside the dir it guards
# An atomic write's temp file sits beside its target as .tmp-<name>-<random>; a removal renames
# its victim aside to .tmp-rm-<name>-<random> first. The checker finds leftovers of both by TMP_PREFIX.
TMP_PREFIX = ".tmp-"
TRASH_PREFIX = TMP_PREFIX + "rm-"
LOCK_FILE = "store.lock"
EVENTS_FILE = "events.jsonl"


def link_target(cache_id: str) -> str:
    """``../<cache-id>/diff``: what ``l/<link-id>`` points at, relative to ``l/`` (as moby's overlay.go makes it)."""
    return os.path.join(os.pardir, cache_id, DIFF_DIR)


@dataclass(frozen=True)
class StorePaths:
    """Absolute paths inside one store root."""

    root: str

    def _p(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    @property
    def overlay(self) -> str:
        return self._p(OVERLAY_DIR)

    @property
    def links(self) -> str:
        return self._p(OVERLAY_DIR, LINK_DIR)

    def link(self, link_id: str) -> str:
        return self._p(OVERLAY_DIR, LINK_DIR, link_id)

    def layer_dir(self, cache_id: str) -> str:
        return self._p(OVERLAY_DIR, cache_id)

    def diff_dir(self, cache_id: str) -> str:
        return self._p(OVERLAY_DIR, cache_id, DIFF_DIR)

    def work_dir(self, cache_id: str) -> str:
        return self._p(OVERLAY_DIR, cache_id, WORK_DIR)

    def merged_dir(self, cache_id: str) -> str:
        return self._p(OVERLAY_DIR, cache_id, MERGED_DIR)

    def lower_file(self, cache_id: str) -> str:
        return self._p(OVERLAY_DIR, cache_id, LOWER_FILE)

    def link_file(self, cache_id: str) -> str:
        return self._p(OVERLAY_DIR, cache_id, LINK_FILE)

    def committed_file(self, cache_id: str) -> str:
        return self._p(OVERLAY_DIR, cache_id, COMMITTED_FILE)

    @property
    def layerdb(self) -> str:
        return self._p(LAYERDB)

    def layer_record(self, chain_hex: str) -> str:
        return self._p(LAYERDB, chain_hex)

    @property
    def mounts(self) -> str:
        return self._p(LAYERDB_MOUNTS)

    def mount_record(self, container_id: str) -> str:
        return self._p(LAYERDB_MOUNTS, container_id)

    @property
    def image_content(self) -> str:
        return self._p(IMAGEDB_CONTENT)

    def image_config(self, image_hex: str) -> str:
        return self._p(IMAGEDB_CONTENT, image_hex)

    @property
    def image_metadata(self) -> str:
        return self._p(IMAGEDB_METADATA)

    def image_metadata_dir(self, image_hex: str) -> str:
        return self._p(IMAGEDB_METADATA, image_hex)

    @property
    def tar_splits(self) -> str:
        return self._p(TAR_SPLIT_DIR)

    def tar_split(self, diff_id: str) -> str:
        return self._p(TAR_SPLIT_DIR, diff_id.removeprefix("sha256:") + ".gz")

    @property
    def repositories(self) -> str:
        return self._p(REPOSITORIES_FILE)

    @property
    def containers(self) -> str:
        return self._p(CONTAINERS_DIR)

    def container_dir(self, container_id: str) -> str:
        return self._p(CONTAINERS_DIR, container_id)

    def container_file(self, container_id: str, name: str) -> str:
        """One of a container's records (``CONTAINER_CONFIG_FILE``, ``HOSTS_FILE``, ...)."""
        return self._p(CONTAINERS_DIR, container_id, name)

    def container_lock(self, container_id: str) -> str:
        return self._p(CONTAINERS_DIR, CONTAINER_LOCK_PREFIX + container_id)

    def container_log(self, container_id: str) -> str:
        return self._p(CONTAINERS_DIR, container_id, container_id + CONTAINER_LOG_SUFFIX)

    @property
    def volumes(self) -> str:
        return self._p(VOLUMES_DIR)

    def volume_data(self, name: str) -> str:
        """``volumes/<name>/_data``: what a named volume's containers see."""
        return self._p(VOLUMES_DIR, name, VOLUME_DATA_DIR)

    def volume_dir(self, name: str) -> str:
        """``volumes/<name>``: the volume's data and its record."""
        return self._p(VOLUMES_DIR, name)

    def volume_record(self, name: str) -> str:
        return self._p(VOLUMES_DIR, name, VOLUME_RECORD_FILE)

    def network_file(self, name: str) -> str:
        """``NETWORKS_FILE`` or ``NETWORK_LOCK`` under ``network/``."""
        return self._p(NETWORK_DIR, name)

    def monitor_file(self, name: str) -> str:
        """``MONITOR_SOCKET``, ``MONITOR_LOCK``, ... at the store root."""
        return self._p(name)

    @property
    def staging(self) -> str:
        return self._p(STAGING_DIR)

    @property
    def lock(self) -> str:
        return self._p(LOCK_FILE)

    @property
    def events(self) -> str:
        return self._p(EVENTS_FILE)

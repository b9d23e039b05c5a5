"""Local volumes: ``volumes/<name>/_data`` plus a record, made on first use and filled from the image once.

Docker's local driver keeps the same directory layout (its records live in a
bolt database; ours in ``volumes/<name>/volume.json``). A volume is *named*
when the user gave it a name (``-v NAME:/path``, ``volume create``) and
*anonymous* when the engine made it for an image's VOLUME or ``-v /path``:
``rm -v`` and ``--rm`` delete only anonymous ones. A volume that any container
record mounts, running or not, is in use and cannot be removed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import BerthError, InvalidArgument, VolumeInUse, VolumeNotFound
from ..runtime.rootfs import resolve_in_root
from ..store import atomic
from ..store.paths import VOLUME_DATA_DIR, VOLUME_RECORD_FILE, StorePaths
from ..store.removal import delete_tree
from .options import VOLUME_NAME, parse_bind
from .records import now_rfc3339

if TYPE_CHECKING:
    from ..context import StoreContext

__all__ = [
    "Volume",
    "create",
    "get",
    "list_volumes",
    "make_missing",
    "mount_points",
    "populate",
    "prune",
    "remove",
    "remove_anonymous",
    "users",
]

# Anonymous volumes are named like IDs: 32 random bytes, 64 hex digits.
_ANONYMOUS_NAME_BYTES = 32
DRIVER = "local"


@dataclass(frozen=True)
class Volume:
    """One local volume, as ``volume ls`` and ``volume inspect`` show it."""

    name: str
    mountpoint: str
    """Host path of its ``_data`` directory."""
    created_at: str
    labels: dict[str, str] | None
    anonymous: bool
    driver: str = DRIVER

    def inspect(self) -> dict[str, Any]:
        """Docker's ``volume inspect`` object."""
        return {"CreatedAt": self.created_at, "Driver": self.driver, "Labels": self.labels,
                "Mountpoint": self.mountpoint, "Name": self.name, "Options": None if self.anonymous else {},
                "Scope": "local"}


def _check_name(name: str) -> None:
    if not VOLUME_NAME.fullmatch(name):
        raise InvalidArgument(f'create {name}: "{name}" includes invalid characters for a local volume name, '
                              'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
                              "directory, use absolute path")


def create(store: StoreContext, name: str = "", labels: dict[str, str] | None = None) -> Volume:
    """The volume ``name``, made now if missing (Docker's create is idempotent); "" picks a random name."""
    name = name or secrets.token_hex(_ANONYMOUS_NAME_BYTES)
    _check_name(name)
    with store.lock:
        if os.path.exists(store.paths.volume_record(name)):
            return get(store, name)
        _write_volume(store, name, _record(name, labels or {}, anonymous=False))
    store.journal.append("volume", "create", name, name)
    return get(store, name)


def _record(name: str, labels: dict[str, str] | None, anonymous: bool) -> dict[str, Any]:
    """What ``volume.json`` holds; an anonymous volume (made for a container) has no labels, as in Docker."""
    return {"Name": name, "Driver": DRIVER, "CreatedAt": now_rfc3339(), "Labels": labels, "Anonymous": anonymous}


def _write_volume(store: StoreContext, name: str, record: dict[str, Any]) -> None:
    """``_data`` and the record staged in a temp dir, renamed into place whole (data before record)."""
    parent = store.paths.volumes
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".tmp-{name}-{uuid.uuid4().hex[:8]}")
    try:
        os.mkdir(tmp, 0o701)
        os.mkdir(os.path.join(tmp, VOLUME_DATA_DIR), 0o755)
        atomic.write_file(os.path.join(tmp, VOLUME_RECORD_FILE), json.dumps(record, separators=(",", ":")), 0o600)
        os.rename(tmp, store.paths.volume_dir(name))
    except BaseException:
        delete_tree(tmp, ignore_errors=True)
        raise
    atomic.fsync_dir(parent)


def get(store: StoreContext, name: str) -> Volume:
    """The volume called ``name``; VolumeNotFound if there is none."""
    if not VOLUME_NAME.fullmatch(name):  # never a path: ``..`` or ``a/b`` would leave volumes/
        raise VolumeNotFound(f"No such volume: {name}")
    try:
        with open(store.paths.volume_record(name), encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError) as err:
        raise VolumeNotFound(f"No such volume: {name}") from err
    return Volume(name=name, mountpoint=store.paths.volume_data(name), created_at=record.get("CreatedAt", ""),
                  labels=record.get("Labels"), anonymous=bool(record.get("Anonymous")),
                  driver=record.get("Driver", DRIVER))


def list_volumes(store: StoreContext) -> list[Volume]:
    """Every volume with a record, by name (a dir without one is a crash's orphan, for ``system check``)."""
    try:
        names = sorted(n for n in os.listdir(store.paths.volumes) if not n.startswith("."))
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        try:
            out.append(get(store, name))
        except VolumeNotFound:
            continue
    return out


def users(store: StoreContext) -> dict[str, list[str]]:
    """Volume name → IDs of the containers (any state) whose records mount it."""
    found: dict[str, list[str]] = {}
    for config in store.records.all():
        for point in (config.get("MountPoints") or {}).values():
            if point.get("Type") == "volume":
                found.setdefault(point["Name"], []).append(config["ID"])
    return found


def remove(store: StoreContext, name: str, force: bool = False) -> None:
    """Delete a volume and its data; refused while a container mounts it. ``force``: a missing one is fine."""
    with store.lock:
        if not VOLUME_NAME.fullmatch(name) or not os.path.exists(store.paths.volume_record(name)):
            if force:
                return
            raise VolumeNotFound(f"No such volume: {name}")
        holders = users(store).get(name)
        if holders:
            raise VolumeInUse(f"remove {name}: volume is in use - [{', '.join(holders)}]")
        atomic.remove_tree(store.paths.volume_dir(name))
    store.journal.append("volume", "destroy", name, name)


def prune(store: StoreContext) -> tuple[list[str], int]:
    """Remove every volume no container mounts; (names removed, bytes freed)."""
    from ..store.sizes import dir_size

    removed, freed = [], 0
    for volume in list_volumes(store):
        size = dir_size(volume.mountpoint)
        try:
            remove(store, volume.name)
        except (VolumeInUse, VolumeNotFound):
            continue
        removed.append(volume.name)
        freed += size
    return removed, freed


def mount_points(paths: StorePaths, binds: tuple[str, ...],
                 image_volumes: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Docker's MountPoints for ``-v`` entries and the image's VOLUMEs, and Config.Volumes.

    A destination given by ``-v`` wins over the image's VOLUME at the same path;
    the others get an anonymous volume each (named when the container is created).
    """
    points: dict[str, Any] = {}
    declared: dict[str, Any] = {key: {} for key in image_volumes or {}}
    for bind in binds:
        source, destination, readonly = parse_bind(bind)
        if not source:
            declared[destination] = {}
            points[destination] = _volume_point(paths, "", destination, readonly, named=False)
        elif os.path.isabs(source):
            points[destination] = {"Source": source, "Destination": destination, "RW": not readonly, "Name": "",
                                   "Driver": "", "Type": "bind", "Mode": "ro" if readonly else "",
                                   "Propagation": "rprivate"}
        else:
            points[destination] = _volume_point(paths, source, destination, readonly, named=True)
    for destination in declared:
        if destination not in points:
            points[destination] = _volume_point(paths, "", destination, False, named=False)
    return points, declared or None


def _volume_point(paths: StorePaths, name: str, destination: str, readonly: bool, named: bool) -> dict[str, Any]:
    name = name or secrets.token_hex(_ANONYMOUS_NAME_BYTES)
    return {"Source": paths.volume_data(name), "Destination": destination, "RW": not readonly,
            "Name": name, "Driver": DRIVER, "Type": "volume", "Mode": ("ro" if readonly else "z") if named else "",
            "Propagation": "", "CopyData": True, "Named": named}


def make_missing(store: StoreContext, config: dict[str, Any]) -> list[str]:
    """Create the volumes ``config`` mounts that do not exist yet; the anonymous ones made (for undo)."""
    made = []
    for point in (config.get("MountPoints") or {}).values():
        if point.get("Type") != "volume" or os.path.exists(store.paths.volume_record(point["Name"])):
            continue
        if point.get("Named"):
            create(store, point["Name"])
        else:
            _create_anonymous(store, point["Name"])
            made.append(point["Name"])
    return made


def _create_anonymous(store: StoreContext, name: str) -> None:
    with store.lock:
        _write_volume(store, name, _record(name, None, anonymous=True))
    store.journal.append("volume", "create", name, name)


def remove_anonymous(store: StoreContext, config: dict[str, Any]) -> None:
    """``rm -v`` / ``--rm``: the container's anonymous volumes go too, unless another container mounts one."""
    for point in (config.get("MountPoints") or {}).values():
        if point.get("Type") == "volume" and not point.get("Named"):
            try:
                remove(store, point["Name"], force=True)
            except BerthError:
                continue


def populate(config: dict[str, Any], rootfs: str) -> None:
    """First mount of an empty volume: copy what the image has at its destination into it, as Docker does.

    Runs before the container starts, on its mounted root; clears ``CopyData``
    so a volume the user emptied later stays empty.
    """
    for point in (config.get("MountPoints") or {}).values():
        if point.get("Type") != "volume" or not point.get("CopyData"):
            continue
        point["CopyData"] = False
        source = resolve_in_root(rootfs, point["Destination"])
        data = point["Source"]
        if os.path.isdir(source) and not os.path.islink(source) and not os.listdir(data):
            _copy_tree(source, data)


def _copy_tree(source: str, target: str) -> None:
    """Files, dirs, symlinks and special files with their modes and owners (files and dirs keep their times).

    A loop over a stack, not ``shutil.copytree`` (which recurses per level in
    3.11): the image chooses how deep its dirs go. Links are copied as links.
    """
    dirs: list[tuple[str, str]] = []
    stack = [""]
    while stack:
        rel = stack.pop()
        src = os.path.join(source, rel) if rel else source
        dst = os.path.join(target, rel) if rel else target
        st = os.lstat(src)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            if rel:
                os.mkdir(dst, 0o700)
            stack.extend(f"{rel}/{name}" if rel else name for name in os.listdir(src))
            dirs.append((src, dst))
        elif stat.S_ISREG(mode):
            shutil.copy2(src, dst, follow_symlinks=False)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(src), dst)
        else:
            os.mknod(dst, mode, st.st_rdev)  # fifos, sockets and device nodes
        os.lchown(dst, st.st_uid, st.st_gid)
        if not stat.S_ISLNK(mode):
            os.chmod(dst, stat.S_IMODE(mode))  # chown clears setuid/setgid bits: put them back
    for src, dst in reversed(dirs):  # children before parents: a dir's time is set once its entries are made
        shutil.copystat(src, dst, follow_symlinks=False)

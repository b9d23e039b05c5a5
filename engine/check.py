"""``system check``: prove every record's data is there, and find what no record owns.

Checks run without the store lock (readers never block writers); repairs take
it and re-check each finding first, so a concurrent writer's fresh work is
never mistaken for an orphan.
"""

from __future__ import annotations

import json
import os
import shutil
import time

from .errors import BerthError
from .models import CheckProblem, CheckReport
from .store import atomic
from .store.images import ImageDB, image_id_for
from .store.layers import Layer, LayerStore, chain_id_for, remove_layer_dir
from .store.locks import FileLock, try_lock_path
from .store.paths import CONTAINER_CONFIG_FILE, LINK_DIR, StorePaths
from .store.sizes import dir_size
from .store.tags import TagStore

__all__ = ["StoreChecker"]

_CGROUP_SETTLE_SECONDS = 5.0


class StoreChecker:
    """Finds inconsistencies in one store root and repairs the repairable ones."""

    def __init__(self, paths: StorePaths, layers: LayerStore, imagedb: ImageDB, tags: TagStore, lock: FileLock) -> None:
        self.paths = paths
        self.layers = layers
        self.imagedb = imagedb
        self.tags = tags
        self.lock = lock

    def run(self, repair: bool = False) -> CheckReport:
        if not repair:
            return self._scan()
        with self.lock:
            found = self._scan()
            fixed = []
            # Unmount first: an orphan dir cannot go while something is mounted in it.
            for problem in sorted(found.problems, key=lambda p: p.kind != "stale mount"):
                if problem.repairable:
                    self._repair(problem)
                    fixed.append(problem)
            after = self._scan()
        return CheckReport(after.problems, tuple(fixed), after.layers, after.images)

    def _scan(self) -> CheckReport:
        problems: list[CheckProblem] = []
        live_cache_ids = self._check_layers(problems)
        live_cache_ids |= self._mount_cache_ids()
        self._check_images(problems)
        self._check_tags(problems)
        self._check_overlay_dirs(live_cache_ids, problems)
        self._check_links(problems)
        self._check_staging(problems)
        self._check_temp_files(problems)
        self._check_mounts(live_cache_ids, problems)
        self._check_containers(problems)
        self._check_build_containers(problems)
        self._check_cgroups(problems)
        self._check_network(problems)
        return CheckReport(tuple(problems), (), len(self.layers.list()), len(self.imagedb.list()))

    # -- records -------------------------------------------------------------

    def _check_layers(self, problems: list[CheckProblem]) -> set[str]:
        live = set()
        for chain_id in self.layers.list():
            record = self.paths.layer_record(chain_id[7:])
            try:
                layer = self.layers.get(chain_id)
            except BerthError as err:
                problems.append(CheckProblem("broken layer record", record, str(err), repairable=False))
                continue
            live.add(layer.cache_id)
            problems.extend(self._layer_problems(layer, record))
        return live

    def _layer_problems(self, layer: Layer, record: str) -> list[CheckProblem]:
        diff = self.paths.diff_dir(layer.cache_id)
        if not os.path.isdir(diff):
            return [CheckProblem("missing layer data", record, f"{diff} does not exist", repairable=False)]
        out = []
        if layer.parent is not None and not self.layers.exists(layer.parent):
            out.append(CheckProblem("missing parent layer", record, f"parent {layer.parent} has no record", False))
        if chain_id_for(layer.parent, layer.diff_id) != layer.chain_id:
            out.append(CheckProblem("wrong chain ID", record, "chainID does not match diffID and parent", False))
        actual = dir_size(diff)
        if actual != layer.size:
            out.append(CheckProblem("wrong layer size", record, f"recorded {layer.size}, found {actual}", False))
        link = _read_quiet(self.paths.link_file(layer.cache_id))
        if not link or os.path.realpath(self.paths.link(link)) != os.path.realpath(diff):
            out.append(CheckProblem("missing short link", self.paths.layer_dir(layer.cache_id),
                                    "l/ link does not point at diff/", False))
        return out

    def _check_images(self, problems: list[CheckProblem]) -> None:
        for image_id in self.imagedb.list():
            path = self.paths.image_config(image_id[7:])
            try:
                with open(path, "rb") as f:
                    data = f.read()
                config = json.loads(data)
            except (OSError, ValueError) as err:
                problems.append(CheckProblem("unreadable image config", path, str(err), False))
                continue
            if image_id_for(data) != image_id:
                problems.append(CheckProblem("image config digest mismatch", path, "content does not match its ID", False))
            chain = None
            for diff_id in config.get("rootfs", {}).get("diff_ids", []):
                chain = chain_id_for(chain, diff_id)
                if not self.layers.exists(chain):
                    problems.append(CheckProblem("image layer missing", path, f"layer {chain} has no record", False))
                    break
        self._check_metadata(problems)

    def _check_metadata(self, problems: list[CheckProblem]) -> None:
        try:
            names = os.listdir(self.paths.image_metadata)
        except FileNotFoundError:
            return
        for name in names:
            if not name.startswith(".") and not self.imagedb.exists(name):
                problems.append(CheckProblem("orphan image metadata", self.paths.image_metadata_dir(name),
                                             "no image config"))

    def _check_tags(self, problems: list[CheckProblem]) -> None:
        try:
            tags = self.tags.all()
        except BerthError as err:
            problems.append(CheckProblem("unreadable tags", self.paths.repositories, str(err), False))
            return
        for ref, image_id in sorted(tags.items()):
            if not self.imagedb.exists(image_id):
                problems.append(CheckProblem("dangling tag", self.paths.repositories, f"{ref} -> {image_id}"))

    # -- orphans -------------------------------------------------------------

    def _mount_cache_ids(self) -> set[str]:
        """cache-ids of container layers (and their -init layers) from layerdb/mounts."""
        ids: set[str] = set()
        try:
            names = os.listdir(self.paths.mounts)
        except FileNotFoundError:
            return ids
        for name in names:
            for fname in ("mount-id", "init-id"):
                value = _read_quiet(os.path.join(self.paths.mount_record(name), fname))
                if value:
                    ids.add(value)
        return ids

    def _check_overlay_dirs(self, live: set[str], problems: list[CheckProblem]) -> None:
        try:
            names = os.listdir(self.paths.overlay)
        except FileNotFoundError:
            return
        for name in names:
            if name != LINK_DIR and name not in live:
                problems.append(CheckProblem("orphan layer dir", self.paths.layer_dir(name), "no record owns it"))

    def _check_links(self, problems: list[CheckProblem]) -> None:
        try:
            names = os.listdir(self.paths.links)
        except FileNotFoundError:
            return
        for name in names:
            path = self.paths.link(name)
            if not os.path.isdir(path):
                problems.append(CheckProblem("dangling short link", path, "points at nothing"))

    def _check_staging(self, problems: list[CheckProblem]) -> None:
        try:
            names = os.listdir(self.paths.staging)
        except FileNotFoundError:
            return
        for name in names:
            if name.endswith(".lock"):
                if not os.path.exists(os.path.join(self.paths.staging, name[:-5])) and self._abandoned(name[:-5]):
                    problems.append(CheckProblem("stale staging lock", os.path.join(self.paths.staging, name), ""))
                continue
            if self._abandoned(name):
                problems.append(CheckProblem("abandoned staging dir", os.path.join(self.paths.staging, name),
                                             "left by an interrupted write"))

    def _staging_live(self) -> bool:
        try:
            names = os.listdir(self.paths.staging)
        except FileNotFoundError:
            return False
        return any(n.endswith(".lock") and not self._abandoned(n[:-5]) for n in names)

    def _abandoned(self, name: str) -> bool:
        fd = try_lock_path(os.path.join(self.paths.staging, name + ".lock"))
        if fd is None:
            return not os.path.exists(os.path.join(self.paths.staging, name + ".lock"))
        os.close(fd)
        return True

    def _check_temp_files(self, problems: list[CheckProblem]) -> None:
        """Half-written ``.tmp-*`` files and dirs left by a killed atomic write.

        A tar-split is written for as long as its layer is staged, so while any
        staging is live those temp files may belong to it and are left alone.
        """
        directories = [self.paths.layerdb, self.paths.image_content, self.paths.image_metadata,
                       os.path.dirname(self.paths.repositories), self.paths.overlay, self.paths.links,
                       self.paths.volumes]
        if not self._staging_live():
            directories.append(self.paths.tar_splits)
        for directory in directories:
            try:
                names = os.listdir(directory)
            except FileNotFoundError:
                continue
            for name in names:
                if name.startswith(".tmp-"):
                    problems.append(CheckProblem("leftover temp file", os.path.join(directory, name),
                                                 "left by an interrupted write"))

    def _check_mounts(self, live: set[str], problems: list[CheckProblem]) -> None:
        prefix = self.paths.overlay + "/"
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            points = [line.split()[4].encode().decode("unicode_escape") for line in f]
        for point in points:
            if point.startswith(prefix):
                cache_id = point[len(prefix):].split("/", 1)[0]
                if cache_id not in live:
                    problems.append(CheckProblem("stale mount", point, "mounted layer has no record"))

    # -- containers ----------------------------------------------------------

    def _check_containers(self, problems: list[CheckProblem]) -> None:
        """Container dirs without a config, running records with no monitor, mounts of stopped containers."""
        from .containers.recovery import monitor_alive_at

        try:
            names = os.listdir(self.paths.containers)
        except FileNotFoundError:
            return
        alive = monitor_alive_at(self.paths)
        mounted = _mount_points()
        for cid in names:
            if cid.startswith("."):
                continue
            config = _read_json(self.paths.container_file(cid, CONTAINER_CONFIG_FILE))
            if config is None:
                problems.append(CheckProblem("orphan container dir", self.paths.container_dir(cid), "no config"))
                continue
            running = bool(config.get("State", {}).get("Running"))
            if running and not alive:
                problems.append(CheckProblem("stale container state", self.paths.container_dir(cid),
                                             "recorded running, but no monitor runs"))
            merged = self.paths.merged_dir(_read_quiet(os.path.join(self.paths.mount_record(cid), "mount-id")))
            if not running and merged in mounted:
                problems.append(CheckProblem("stale mount", merged, "container is not running"))

    def _check_build_containers(self, problems: list[CheckProblem]) -> None:
        """Mount records with no container dir belong to build steps; a dead builder's are reclaimable."""
        try:
            names = os.listdir(self.paths.mounts)
        except FileNotFoundError:
            return
        for cid in names:
            if cid.startswith(".") or os.path.isdir(self.paths.container_dir(cid)):
                continue
            if self._abandoned(cid):  # its builder holds tmp/<container-id>.lock while it lives
                problems.append(CheckProblem("abandoned build container", self.paths.mount_record(cid),
                                             "left by an interrupted build"))

    def _check_cgroups(self, problems: list[CheckProblem]) -> None:
        """Empty container cgroups of containers that are not running: left by a monitor killed mid-exit."""
        from .runtime.cgroups import store_dirs

        running = self._running_containers()
        for group in store_dirs(self.paths.root):  # this store's own: another's are not ours to judge
            try:
                names = os.listdir(group)
            except FileNotFoundError:
                continue
            for cid in names:
                path = os.path.join(group, cid)
                if cid not in running and os.path.isdir(path) and _settled(path) and not _read_quiet(os.path.join(path, "cgroup.procs")):
                    problems.append(CheckProblem("empty container cgroup", path, "no process and no running container"))

    def _check_network(self, problems: list[CheckProblem]) -> None:
        """Netns mounts of stopped containers, address leases of removed ones (engine.network.check)."""
        from .network.check import network_problems

        problems.extend(network_problems(self.paths, self._running_containers()))

    def _running_containers(self) -> set[str]:
        try:
            names = os.listdir(self.paths.containers)
        except FileNotFoundError:
            return set()
        out = set()
        for cid in names:
            config = _read_json(self.paths.container_file(cid, CONTAINER_CONFIG_FILE))
            state = config.get("State") if config else None
            if isinstance(state, dict) and state.get("Running"):
                out.add(cid)
        return out

    def _remove_build_container(self, record: str) -> None:
        from .store.rwlayers import RWLayerStore

        mount_id = _read_quiet(os.path.join(record, "mount-id"))
        rw = RWLayerStore(self.paths, self.layers)
        if mount_id:
            rw.unmount(mount_id)
        rw.forget(os.path.basename(record))
        if mount_id:
            rw.remove(mount_id)
        _unlink_quietly(os.path.join(self.paths.staging, os.path.basename(record) + ".lock"))

    # -- repair --------------------------------------------------------------

    def _repair(self, problem: CheckProblem) -> None:
        kind, path = problem.kind, problem.path
        from .network.check import repair_network

        if repair_network(self.paths, problem):
            return
        if kind == "stale mount":
            from .runtime.syscalls import MNT_DETACH, umount2

            try:
                umount2(path, MNT_DETACH)
            except OSError:
                pass
        elif kind == "empty container cgroup":
            try:
                os.rmdir(path)
            except OSError:
                pass  # a process moved in meanwhile: then it is not ours to remove
            return
        elif kind == "abandoned build container":
            self._remove_build_container(path)
        elif kind == "stale container state":
            from .containers.recovery import mark_dead_at

            mark_dead_at(self.paths, os.path.basename(path))
        elif kind == "orphan layer dir":
            remove_layer_dir(self.paths, os.path.basename(path))
        elif kind == "dangling tag":
            ref = problem.detail.split(" -> ")[0]
            from .reference import parse

            self.tags.remove(parse(ref))
        elif kind in ("dangling short link", "stale staging lock") or os.path.isfile(path) or os.path.islink(path):
            _unlink_quietly(path)
        elif os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
            if kind == "abandoned staging dir":
                _unlink_quietly(path + ".lock")
        atomic.fsync_dir(os.path.dirname(path))


def _settled(path: str) -> bool:
    """A cgroup dir older than a few seconds: a monitor fills a new one within milliseconds of making it."""
    try:
        return time.time() - os.stat(path).st_mtime > _CGROUP_SETTLE_SECONDS
    except OSError:
        return False


def _read_json(path: str) -> dict[str, object] | None:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _mount_points() -> set[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return {line.split()[4].encode().decode("unicode_escape") for line in f}


def _read_quiet(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return ""


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass

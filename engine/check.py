"""``system check``: prove every record's data is there, and find what no record owns.

Checks run without the store lock (readers never block writers); repairs take
it and re-check each finding first, so a concurrent writer's fresh work is
never mistaken for an orphan.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass

from .containers import names
from .errors import BerthError
from .models import CheckProblem, CheckReport
from .store import atomic
from .store.images import ImageDB, image_id_for
from .store.layers import Layer, LayerStore, chain_id_for, remove_layer_dir
from .store.locks import FileLock, try_lock_path
from .store.paths import (
    CONTAINER_CONFIG_FILE,
    DIFF_DIR,
    HOSTCONFIG_FILE,
    INIT_ID_FILE,
    INIT_SUFFIX,
    LAYER_CACHE_ID_FILE,
    LAYER_DIFF_FILE,
    LAYER_PARENT_FILE,
    LAYER_SIZE_FILE,
    LINK_DIR,
    MOUNT_ID_FILE,
    STAGING_LOCK_SUFFIX,
    TMP_PREFIX,
    StorePaths,
)
from .store.removal import delete_tree
from .store.sizes import dir_size
from .store.tags import TagStore

__all__ = ["StoreChecker"]

_CGROUP_SETTLE_SECONDS = 5.0
_CACHE_ID = re.compile(r"[0-9a-f]{64}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
DAMAGED_LAYER = "damaged layer record"
DAMAGED_MOUNT = "damaged mount record"
DAMAGED_CONTAINER = "damaged container record"
ABANDONED_DOWNLOAD = "abandoned download"


@dataclass(frozen=True)
class _Broken:
    """A layerdb record whose cache-id names no layer dir: its data may still be in an unclaimed one."""

    chain_id: str
    record: str
    diff_id: str
    parent: str | None
    size: int | None


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
            self._index_rebuilt = False
            # Unmount first: an orphan dir cannot go while something is mounted in it.
            for problem in sorted(found.problems, key=lambda p: p.kind != "stale mount"):
                if problem.repairable:
                    self._repair(problem)
                    fixed.append(problem)
            after = self._scan()
        return CheckReport(after.problems, tuple(fixed), after.layers, after.images)

    def _scan(self) -> CheckReport:
        problems: list[CheckProblem] = []
        self._rewrites: dict[str, dict[str, str]] = {}  # record dir -> files a repair writes back, proven
        live_cache_ids, broken = self._check_layers(problems)
        mount_ids, mounts_damaged = self._mount_cache_ids(problems)
        live_cache_ids |= mount_ids
        self._check_images(problems)
        self._check_tags(problems)
        live_cache_ids = self._check_overlay_dirs(live_cache_ids, broken, mounts_damaged, problems)
        self._check_links(problems)
        self._check_staging(problems)
        self._check_downloads(problems)
        self._check_temp_files(problems)
        self._check_mounts(live_cache_ids, problems)
        self._check_containers(problems)
        problems += names.check_index(self.paths)
        self._check_build_containers(problems)
        self._check_cgroups(problems)
        self._check_network(problems)
        return CheckReport(tuple(problems), (), len(self.layers.list()), len(self.imagedb.list()))

    # -- records -------------------------------------------------------------

    def _check_layers(self, problems: list[CheckProblem]) -> tuple[set[str], list[_Broken]]:
        """cache-ids the layerdb names, and the records whose cache-id names no layer dir."""
        live: set[str] = set()
        broken: list[_Broken] = []
        known = self._config_chains()
        for chain_id in self.layers.list():
            record = self.paths.layer_record(chain_id[7:])
            cache_id = _read_quiet(os.path.join(record, LAYER_CACHE_ID_FILE))
            if not _CACHE_ID.fullmatch(cache_id) or not os.path.isdir(self.paths.layer_dir(cache_id)):
                broken.append(_broken_record(chain_id, record, known.get(chain_id)))
                continue
            live.add(cache_id)  # whatever else is wrong with the record, its data is not an orphan
            try:
                layer = self.layers.get(chain_id)
            except (BerthError, ValueError) as err:
                problems.append(self._torn_fields(chain_id, record, cache_id, known.get(chain_id), str(err)))
                continue
            if not _DIGEST.fullmatch(layer.diff_id) or not (layer.parent is None or _DIGEST.fullmatch(layer.parent)):
                problems.append(self._torn_fields(chain_id, record, cache_id, known.get(chain_id),
                                                  "torn diff or parent"))
                continue
            problems.extend(self._layer_problems(layer, record))
        return live, broken

    def _config_chains(self) -> dict[str, tuple[str, str | None]]:
        """chainID -> (diffID, parent chainID) as the readable image configs give them."""
        out: dict[str, tuple[str, str | None]] = {}
        for image_id in self.imagedb.list():
            try:
                config = json.loads(self.imagedb.get(image_id))
                chain: str | None = None
                for diff_id in config.get("rootfs", {}).get("diff_ids", []):
                    parent, chain = chain, chain_id_for(chain, diff_id)
                    out[chain] = (diff_id, parent)
            except (BerthError, ValueError, AttributeError, TypeError):
                continue  # check_images reports it
        return out

    def _torn_fields(self, chain_id: str, record: str, cache_id: str, known: tuple[str, str | None] | None,
                     why: str) -> CheckProblem:
        """A record with its data but a torn diff, size or parent: rebuilt when the chainID proves the result.

        The chainID is a hash of parent and diffID, so values taken from an image config that lists this
        chain are right exactly when they hash back to it; the size is the diff dir's own.
        """
        files: dict[str, str] = {}
        diff_id = _read_quiet(os.path.join(record, LAYER_DIFF_FILE))
        parent_path = os.path.join(record, LAYER_PARENT_FILE)
        parent: str | None = _read_quiet(parent_path) if os.path.exists(parent_path) else None
        if not _DIGEST.fullmatch(diff_id):
            diff_id = known[0] if known else ""
            files[LAYER_DIFF_FILE] = diff_id
        if parent is not None and not _DIGEST.fullmatch(parent):
            parent = known[1] if known and known[1] else ""  # a base layer's torn parent file: not ours to guess
            files[LAYER_PARENT_FILE] = parent
        if not _read_quiet(os.path.join(record, LAYER_SIZE_FILE)).isdigit():
            files[LAYER_SIZE_FILE] = str(dir_size(self.paths.diff_dir(cache_id)))
        if not diff_id or parent == "" or chain_id_for(parent, diff_id) != chain_id or None in files.values():
            return CheckProblem("broken layer record", record, f"{why}; no image config proves its values. Fix: "
                                "remove the images that use it (rmi -f) and pull or load them again", False)
        self._rewrites[record] = files
        return CheckProblem(DAMAGED_LAYER, record, f"{', '.join(sorted(files))} unreadable; repair writes back "
                            "what the image config and the layer dir prove (they hash to its chainID)")

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
                problems.append(CheckProblem("image config digest mismatch", path, "content does not match its ID",
                                             False))
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

    def _mount_cache_ids(self, problems: list[CheckProblem]) -> tuple[set[str], bool]:
        """cache-ids of container layers (and their -init layers) from layerdb/mounts.

        A mount-id lost to a torn write is rebuilt from init-id (``<mount-id>-init``) when that dir is there;
        otherwise the record is reported and every unclaimed writable layer dir is kept (see
        ``_check_overlay_dirs``).
        """
        ids: set[str] = set()
        damaged = False
        try:
            names = os.listdir(self.paths.mounts)
        except FileNotFoundError:
            return ids, damaged
        for name in names:
            if name.startswith("."):
                continue
            record = self.paths.mount_record(name)
            mount_id = _read_quiet(os.path.join(record, MOUNT_ID_FILE))
            init_id = _read_quiet(os.path.join(record, INIT_ID_FILE))
            for value in (mount_id, init_id):
                if value:
                    ids.add(value)
            if _CACHE_ID.fullmatch(mount_id) and os.path.isdir(self.paths.layer_dir(mount_id)):
                continue
            guess = init_id.removesuffix(INIT_SUFFIX)
            if (init_id.endswith(INIT_SUFFIX) and _CACHE_ID.fullmatch(guess)
                    and os.path.isdir(self.paths.layer_dir(guess))):
                ids.add(guess)
                self._rewrites[record] = {MOUNT_ID_FILE: guess}
                problems.append(CheckProblem(DAMAGED_MOUNT, record,
                                             f"mount-id is unreadable; init-id names {guess}: repair rewrites it"))
            else:
                damaged = True
                problems.append(CheckProblem(DAMAGED_MOUNT, record,
                                             "mount-id names no layer dir; every unclaimed writable layer dir is "
                                             "kept. Fix: write the container's layer dir name into "
                                             f"{record}/{MOUNT_ID_FILE}, or remove the container", False))
        return ids, damaged

    def _check_overlay_dirs(self, live: set[str], broken: list[_Broken], mounts_damaged: bool,
                            problems: list[CheckProblem]) -> set[str]:
        """Report layer dirs no record owns; returns every dir that must be kept.

        A dir is kept when a record names it (layerdb cache-id, mount-id/init-id), when a kept dir's ``lower``
        names its short link, or when its diff hashes to the diffID of a layerdb record whose cache-id is
        damaged: that record is then rebuilt (one such dir) or reported (none, or several).
        """
        try:
            names = [n for n in os.listdir(self.paths.overlay) if n != LINK_DIR and not n.startswith(".")]
        except FileNotFoundError:
            return live
        by_link = self._link_owners()
        # Candidates for a damaged record: committed dirs no intact record names (a lower may still name them).
        committed = [n for n in names if n not in live and os.path.exists(self.paths.committed_file(n))]
        kept = live | self._lower_owners(live, by_link)
        unclaimed = [n for n in names if n not in kept]
        claimed = self._match_broken(broken, committed, problems)
        kept |= claimed
        kept |= self._lower_owners(claimed, by_link)
        for name in unclaimed:
            if name in kept:
                continue
            if mounts_damaged and not os.path.exists(self.paths.committed_file(name)):
                problems.append(CheckProblem("unclaimed layer dir", self.paths.layer_dir(name),
                                             "kept: a damaged mount record may own it", False))
                kept.add(name)
                continue
            problems.append(CheckProblem("orphan layer dir", self.paths.layer_dir(name), "no record owns it"))
        return kept

    def _link_owners(self) -> dict[str, str]:
        """Short link id -> the layer dir it points into."""
        out = {}
        try:
            names = os.listdir(self.paths.links)
        except FileNotFoundError:
            return out
        for name in names:
            try:
                target = os.readlink(self.paths.link(name))
            except OSError:
                continue
            parts = target.split("/")
            if len(parts) == 3 and parts[0] == os.pardir and parts[2] == DIFF_DIR:
                out[name] = parts[1]
        return out

    def _lower_owners(self, dirs: set[str], by_link: dict[str, str]) -> set[str]:
        """The dirs the ``lower`` files of ``dirs`` name (a lower file lists the whole chain below)."""
        out = set()
        for cache_id in dirs:
            for entry in _read_quiet(self.paths.lower_file(cache_id)).split(":"):
                owner = by_link.get(entry.removeprefix(LINK_DIR + "/"))
                if owner:
                    out.add(owner)
        return out

    def _match_broken(self, broken: list[_Broken], candidates: list[str], problems: list[CheckProblem]) -> set[str]:
        """Pair damaged layer records with the unclaimed committed dirs whose diff hashes to their diffID."""
        claimed: set[str] = set()
        for rec in broken:
            if not rec.diff_id:
                claimed.update(candidates)  # nothing to compare with: no dir can be proven garbage
                problems.append(CheckProblem(DAMAGED_LAYER, rec.record,
                                             f"diff and cache-id are unreadable; {len(candidates)} unclaimed layer "
                                             "dir(s) kept. Fix: remove the images that use it (rmi -f) and "
                                             "pull or load them again, then run system check --repair", False))
                continue
            found = [c for c in candidates if self._holds(rec, c)]
            claimed.update(found)
            if len(found) == 1:
                self._rewrites[rec.record] = {LAYER_CACHE_ID_FILE: found[0]}
                problems.append(CheckProblem(DAMAGED_LAYER, rec.record,
                                             f"cache-id is unreadable; {found[0]} holds its data (diff hashes to "
                                             f"{rec.diff_id}): repair rewrites cache-id"))
            elif found:
                problems.append(CheckProblem(DAMAGED_LAYER, rec.record,
                                             f"cache-id is unreadable; {len(found)} layer dirs hash to its diffID, "
                                             f"all kept. Fix: write one of {', '.join(found)} into "
                                             f"{rec.record}/{LAYER_CACHE_ID_FILE}", False))
            else:
                problems.append(CheckProblem(DAMAGED_LAYER, rec.record,
                                             f"cache-id names no layer dir and no unclaimed dir holds {rec.diff_id}. "
                                             "Fix: remove the images that use it (rmi -f) and pull or load them "
                                             "again", False))
        return claimed

    def _holds(self, rec: _Broken, cache_id: str) -> bool:
        """Whether ``overlay2/<cache_id>`` is that record's data: same size, then the same diffID."""
        from .distribution.tarsplit import layer_tar

        diff = self.paths.diff_dir(cache_id)
        if rec.size is not None and dir_size(diff) != rec.size:
            return False
        try:
            layer = Layer(rec.chain_id, rec.diff_id, rec.parent, cache_id, rec.size or 0)
            digest, _ = layer_tar(self.paths.root, layer, diff, _Discard())  # type: ignore[arg-type]
        except (BerthError, OSError, ValueError, EOFError):
            return False
        return digest == rec.diff_id

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
            if name.endswith(STAGING_LOCK_SUFFIX):
                staged = name.removesuffix(STAGING_LOCK_SUFFIX)
                if not os.path.exists(os.path.join(self.paths.staging, staged)) and self._abandoned(staged):
                    problems.append(CheckProblem("stale staging lock", os.path.join(self.paths.staging, name), ""))
                continue
            if self._abandoned(name):
                problems.append(CheckProblem("abandoned staging dir", os.path.join(self.paths.staging, name),
                                             "left by an interrupted write"))

    def _check_downloads(self, problems: list[CheckProblem]) -> None:
        """Blobs and ``.partial`` blobs of pulls that ended without registering them (no pull holds their lock)."""
        from .distribution.downloads import download_files

        for item in download_files(self.paths.root):
            if not item.held:
                problems.append(CheckProblem(ABANDONED_DOWNLOAD, item.path,
                                             f"{item.size} bytes left by a pull that failed or was interrupted"))

    def _staging_live(self) -> bool:
        try:
            names = os.listdir(self.paths.staging)
        except FileNotFoundError:
            return False
        return any(n.endswith(STAGING_LOCK_SUFFIX) and not self._abandoned(n.removesuffix(STAGING_LOCK_SUFFIX))
                   for n in names)

    def _abandoned(self, name: str) -> bool:
        fd = try_lock_path(os.path.join(self.paths.staging, name + STAGING_LOCK_SUFFIX))
        if fd is None:
            return not os.path.exists(os.path.join(self.paths.staging, name + STAGING_LOCK_SUFFIX))
        os.close(fd)
        return True

    def _check_temp_files(self, problems: list[CheckProblem]) -> None:
        """Half-written ``.tmp-*`` files and dirs left by a killed atomic write.

        A tar-split is written for as long as its layer is staged, so while any
        staging is live those temp files may belong to it and are left alone.
        """
        directories = [self.paths.layerdb, self.paths.image_content, self.paths.image_metadata,
                       os.path.dirname(self.paths.repositories), self.paths.overlay, self.paths.links,
                       self.paths.volumes, self.paths.containers, self.paths.mounts]
        if not self._staging_live():
            directories.append(self.paths.tar_splits)
        for directory in directories:
            try:
                names = os.listdir(directory)
            except FileNotFoundError:
                continue
            for name in names:
                if name.startswith(TMP_PREFIX) and atomic.trash_abandoned(os.path.join(directory, name)):
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
                problems.append(self._container_without_config(cid))
                continue
            running = bool(config.get("State", {}).get("Running"))
            if running and not alive and not _process_in_cgroup_of(cid):
                problems.append(CheckProblem("stale container state", self.paths.container_dir(cid),
                                             "recorded running, but no monitor runs"))
            merged = self.paths.merged_dir(_read_quiet(os.path.join(self.paths.mount_record(cid), MOUNT_ID_FILE)))
            if not running and merged in mounted:
                problems.append(CheckProblem("stale mount", merged, "container is not running"))

    def _container_without_config(self, cid: str) -> CheckProblem:
        """A container dir whose config.v2.json is missing or torn: garbage only if nothing else says it lives.

        Its process may still run (the record was torn, not the container), and its hostconfig and mount
        record still name its layers and settings: such a dir is reported and kept.
        """
        directory = self.paths.container_dir(cid)
        config = self.paths.container_file(cid, CONTAINER_CONFIG_FILE)
        if _process_in_cgroup_of(cid):
            return CheckProblem(DAMAGED_CONTAINER, directory, f"{config} is unreadable and its process still runs. "
                                f"Fix: berth rm -f {cid[:12]} (kills and removes it), or restore the file", False)
        if os.path.exists(config) or os.path.exists(self.paths.container_file(cid, HOSTCONFIG_FILE)) \
                or os.path.isdir(self.paths.mount_record(cid)):
            return CheckProblem(DAMAGED_CONTAINER, directory, f"{config} is unreadable; its layers are kept. "
                                f"Fix: berth rm -f {cid[:12]} removes it, or restore the file", False)
        return CheckProblem("orphan container dir", directory, "no config")

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
                if (cid not in running and os.path.isdir(path) and _settled(path)
                        and not _read_quiet(os.path.join(path, "cgroup.procs"))):
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
            if cid.startswith("."):
                continue
            config = _read_json(self.paths.container_file(cid, CONTAINER_CONFIG_FILE))
            state = config.get("State") if config else None
            if config is None or isinstance(state, dict) and state.get("Running"):
                out.add(cid)  # a torn record may belong to a running container: leave its netns and cgroup be
        return out

    def _remove_build_container(self, record: str) -> None:
        from .store.rwlayers import RWLayerStore

        mount_id = _read_quiet(os.path.join(record, MOUNT_ID_FILE))
        rw = RWLayerStore(self.paths, self.layers)
        if mount_id:
            rw.unmount(mount_id)
        rw.forget(os.path.basename(record))
        if mount_id:
            rw.remove(mount_id)
        _unlink_quietly(os.path.join(self.paths.staging, os.path.basename(record) + STAGING_LOCK_SUFFIX))

    # -- repair --------------------------------------------------------------

    def _repair(self, problem: CheckProblem) -> None:
        kind, path = problem.kind, problem.path
        from .network.check import repair_network

        if repair_network(self.paths, problem):
            return
        if kind == "leftover temp file" and not atomic.trash_abandoned(path):
            return  # a remover took it up since the scan
        if kind in names.INDEX_PROBLEMS:
            if not self._index_rebuilt:  # one rebuild answers every entry
                names.rebuild(self.paths)
                self._index_rebuilt = True
            return
        if kind == "stale mount":
            from .kernel.syscalls import MNT_DETACH, umount2

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
        elif kind == ABANDONED_DOWNLOAD:
            from .distribution.downloads import download_files

            if any(item.path == path and not item.held for item in download_files(self.paths.root)):
                _unlink_quietly(path)  # checked again: a pull may have taken it up since the scan
        elif kind == "orphan layer dir":
            remove_layer_dir(self.paths, os.path.basename(path))
        elif kind in (DAMAGED_LAYER, DAMAGED_MOUNT):
            for name, value in self._rewrites.get(path, {}).items():
                atomic.write_file(os.path.join(path, name), value)
        elif kind == "dangling tag":
            ref = problem.detail.split(" -> ")[0]
            from .reference import parse

            self.tags.remove(parse(ref))
        elif kind in ("dangling short link", "stale staging lock") or os.path.isfile(path) or os.path.islink(path):
            _unlink_quietly(path)
        elif os.path.isdir(path):
            delete_tree(path, ignore_errors=True)
            if kind == "abandoned staging dir":
                _unlink_quietly(path + STAGING_LOCK_SUFFIX)
        atomic.fsync_dir(os.path.dirname(path))


class _Discard:
    """A sink for a layer tar that is only hashed."""

    def write(self, data: bytes) -> int:
        return len(data)


def _broken_record(chain_id: str, record: str, known: tuple[str, str | None] | None) -> _Broken:
    size = _read_quiet(os.path.join(record, LAYER_SIZE_FILE))
    diff_id = _read_quiet(os.path.join(record, LAYER_DIFF_FILE))
    parent = _read_quiet(os.path.join(record, LAYER_PARENT_FILE)) or None
    if not _DIGEST.fullmatch(diff_id):
        diff_id = known[0] if known else ""  # an image config that lists the chain still knows it
    return _Broken(chain_id, record, diff_id, parent, int(size) if size.isdigit() else None)


def _process_in_cgroup_of(cid: str) -> bool:
    """Whether a process still runs for the container, whatever its record says (or fails to say)."""
    from .containers.remove import pids_in_cgroup_of

    return bool(pids_in_cgroup_of(cid))


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
    """A small record's text; "" when it is missing, unreadable or not text (a torn write)."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except (OSError, ValueError):
        return ""


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass

"""Image operations over the store: resolve names, list, history, tag, remove, inspect."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from typing import Any

from . import reference
from .errors import BerthError, ImageConflict, ImageInUse, ImageNotFound, InvalidReference, StoreCorrupt
from .models import HistoryEntry, ImageSummary, RemovedItem
from .rfc3339 import format_time, parse_time
from .store.images import ImageDB
from .store.layers import Layer, LayerStore, chain_id_for
from .store.locks import FileLock
from .store.paths import StorePaths
from .store.tags import TagStore

__all__ = ["ImageService", "parse_time", "format_time"]

_HEX_PREFIX = re.compile(r"^(sha256:)?[a-f0-9]{1,64}$")


class ImageService:
    """Everything about images that does not create layers."""

    def __init__(self, paths: StorePaths, layers: LayerStore, imagedb: ImageDB, tags: TagStore, lock: FileLock) -> None:
        self.paths = paths
        self.layers = layers
        self.imagedb = imagedb
        self.tags = tags
        self.lock = lock

    # -- lookups -------------------------------------------------------------

    def resolve(self, name: str) -> str:
        """Image ID for a reference, a full ID or an unambiguous ID prefix.

        Raises:
            ImageNotFound: nothing matches.
            ImageConflict: an ID prefix matches several images.
        """
        by_ref = self._resolve_ref(name)
        if by_ref is not None:
            return by_ref
        if _HEX_PREFIX.match(name):
            prefix = name.removeprefix("sha256:")
            found = [i for i in self.imagedb.list() if i[7:].startswith(prefix)]
            if len(found) > 1:
                raise ImageConflict(f"multiple IDs found with provided prefix: {name}")
            if found:
                return found[0]
        raise ImageNotFound(f"No such image: {name}")

    def _resolve_ref(self, name: str) -> str | None:
        try:
            ref = reference.parse(name)
        except InvalidReference:
            if _HEX_PREFIX.match(name):
                return None
            raise
        try:
            found = self.tags.resolve(ref)
        except StoreCorrupt:
            if _HEX_PREFIX.match(name):
                return None  # a torn repositories.json hides names, not IDs
            raise
        if found is not None and not self.imagedb.exists(found):
            return None
        return found

    def config(self, image_id: str) -> dict[str, Any]:
        config: dict[str, Any] = json.loads(self.imagedb.get(image_id))
        return config

    def top_layer(self, config: dict[str, Any]) -> str | None:
        """The chainID of the image's top layer; None for an image with no layers."""
        chain: str | None = None
        for diff_id in config.get("rootfs", {}).get("diff_ids", []):
            chain = chain_id_for(chain, diff_id)
        return chain

    def image_layers(self, image_id: str) -> list[Layer]:
        top = self.top_layer(self.config(image_id))
        return self.layers.chain(top) if top else []

    # -- listing -------------------------------------------------------------

    def summaries(self) -> list[ImageSummary]:
        """Every image in the store, newest first."""
        refs: dict[str, list[str]] = {}
        for ref, image_id in self.tags.all().items():
            refs.setdefault(image_id, []).append(ref)
        out = []
        for image_id in self.imagedb.list():
            try:
                config = self.config(image_id)
                chain = self.image_layers(image_id)
            except (BerthError, ValueError, OSError):
                continue  # removed under us, or broken: system check reports it
            out.append(ImageSummary(
                id=image_id,
                repo_tags=tuple(sorted(r for r in refs.get(image_id, []) if "@" not in r)),
                created=parse_time(config.get("created")),
                size=sum(layer.size for layer in chain),
                parent=self.imagedb.get_parent(image_id),
                layers=len(chain),
                containers=len(self.containers_using(image_id)),
            ))
        out.sort(key=lambda s: (s.created, s.id), reverse=True)  # ties in a fixed order, not the directory's
        return out

    def history(self, image_id: str) -> list[HistoryEntry]:
        """The config's history, newest first, with layer sizes and the IDs of local ancestors."""
        config = self.config(image_id)
        layers = self.image_layers(image_id)
        owners = self._history_owners(image_id, len(config.get("history", [])))
        rows = []
        layer_index = 0
        for index, entry in enumerate(config.get("history", [])):
            empty = bool(entry.get("empty_layer"))
            layer = None if empty or layer_index >= len(layers) else layers[layer_index]
            if not empty:
                layer_index += 1
            owner = owners.get(index)
            rows.append(HistoryEntry(
                id=owner or "<missing>",
                created=parse_time(entry.get("created")),
                created_by=entry.get("created_by", ""),
                size=layer.size if layer else 0,
                comment=entry.get("comment", ""),
                empty_layer=empty,
                tags=tuple(self.tags.refs_for(owner)) if owner else (),
                chain_id=layer.chain_id if layer else None,
            ))
        rows.reverse()
        return rows

    def _history_owners(self, image_id: str, count: int) -> dict[int, str]:
        """Map the last history index each local ancestor image covers to that image's ID."""
        owners = {count - 1: image_id}
        parent = self.imagedb.get_parent(image_id)
        while parent and self.imagedb.exists(parent):
            try:
                length = len(self.config(parent).get("history", []))
            except (BerthError, ValueError):
                break  # a torn ancestor: its rows show as <missing>, as for an ancestor that is not here

            owners.setdefault(length - 1, parent)
            parent = self.imagedb.get_parent(parent)
        return owners

    # -- tagging -------------------------------------------------------------

    def tag(self, image_id: str, target: str) -> None:
        ref = reference.parse(target)
        if ref.digest:
            raise InvalidReference(f"refusing to create a tag with a digest reference: {target}")
        with self.lock:
            if not self.imagedb.exists(image_id):
                raise ImageNotFound(f"No such image: {image_id}")
            self.tags.add(ref, image_id)
            self.imagedb.set_last_tag_time(image_id, format_time(datetime.now(UTC).timestamp()))

    # -- removal -------------------------------------------------------------

    def containers_using(self, image_id: str) -> list[tuple[str, bool]]:
        """(container id, running) for every container made from ``image_id``."""
        try:
            names = os.listdir(self.paths.containers)
        except FileNotFoundError:
            return []
        users = []
        for cid in names:
            try:
                with open(os.path.join(self.paths.container_dir(cid), "config.v2.json"), encoding="utf-8") as f:
                    cfg = json.load(f)
            except (OSError, ValueError):
                continue
            if cfg.get("Image") == image_id:
                users.append((cid, bool(cfg.get("State", {}).get("Running"))))
        return users

    def remove(self, name: str, *, force: bool = False, prune: bool = True) -> list[RemovedItem]:
        """``rmi``: untag, and delete the image (and untagged parents) once nothing names it."""
        with self.lock:
            image_id = self.resolve(name)
            refs = self.tags.refs_for(image_id)
            named_by_ref = self._resolve_ref_quiet(name) == image_id and not _is_id(name, image_id)
            self._check_users(name, image_id, force, untag_only=named_by_ref and len(refs) > 1)
            if named_by_ref:
                ref = reference.parse(name)
                self.tags.remove(ref)
                out = [RemovedItem("Untagged", str(ref))]
                if self.tags.refs_for(image_id):
                    return out
            else:
                if len(refs) > 1 and not force:
                    raise ImageConflict(
                        f"conflict: unable to delete {_short(image_id)} (must be forced) - "
                        "image is referenced in multiple repositories")
                out = [RemovedItem("Untagged", r) for r in self.tags.remove_image(image_id)]
            if self.containers_using(image_id):
                return out  # forced: the tag is gone, the image stays for its containers
            out += self._delete_image(image_id, prune)
            return out

    def _resolve_ref_quiet(self, name: str) -> str | None:
        try:
            return self._resolve_ref(name)
        except InvalidReference:
            return None

    def _check_users(self, name: str, image_id: str, force: bool, untag_only: bool) -> None:
        if untag_only:
            return
        children = self.imagedb.children(image_id)
        if children:
            raise ImageInUse(
                f"conflict: unable to delete {_short(image_id)} (cannot be forced) - image has dependent child images")
        for cid, running in self.containers_using(image_id):
            if running:
                raise ImageInUse(
                    f"conflict: unable to delete {_short(image_id)} (cannot be forced) - "
                    f"image is being used by running container {cid[:12]}")
            if not force:
                raise ImageInUse(
                    f"conflict: unable to remove repository reference \"{name}\" (must force) - "
                    f"container {cid[:12]} is using its referenced image {_short(image_id)}")

    def _delete_image(self, image_id: str, prune: bool) -> list[RemovedItem]:
        out = []
        while True:
            try:
                config = self.config(image_id)
            except (BerthError, ValueError):
                config = {}  # torn: its layers are unknown, so none is released (system check reclaims them)
            parent = self.imagedb.get_parent(image_id)
            self.imagedb.delete(image_id)
            out.append(RemovedItem("Deleted", image_id))
            out += self._release_layers(self.top_layer(config))
            if not (prune and parent and self.imagedb.exists(parent)):
                return out
            if self.tags.refs_for(parent) or self.imagedb.children(parent) or self.containers_using(parent):
                return out
            image_id = parent

    def _release_layers(self, top: str | None) -> list[RemovedItem]:
        """Remove the layers of a deleted image that no other image or container needs."""
        if top is None:
            return []
        needed = self.layers_in_use()
        out = []
        try:
            chain = self.layers.chain(top)
        except BerthError:
            return out  # a torn layer record: which dirs are its is for system check to prove, not rmi to guess
        for layer in reversed(chain):
            if layer.chain_id in needed:
                break
            self.layers.remove(layer.chain_id)
            out.append(RemovedItem("Deleted", layer.chain_id))
        return out

    def layers_in_use(self) -> set[str]:
        """chainIDs reachable from any image config or container mount record.

        A torn config could need any layer: while one is in the store, every layer counts as in use (``rmi``
        then frees no layer, rather than one that image still needs).
        """
        needed: set[str] = set()
        for image_id in self.imagedb.list():
            try:
                chain: str | None = None
                for diff_id in self.config(image_id).get("rootfs", {}).get("diff_ids", []):
                    chain = chain_id_for(chain, diff_id)
                    needed.add(chain)
            except ImageNotFound:
                continue  # removed under us
            except (BerthError, ValueError, OSError):
                return set(self.layers.list())
        needed |= self._mount_parents()
        return needed

    def _mount_parents(self) -> set[str]:
        parents: set[str] = set()
        try:
            names = os.listdir(self.paths.mounts)
        except FileNotFoundError:
            return parents
        needed_layers: set[str] = set()
        for name in names:
            try:
                with open(os.path.join(self.paths.mount_record(name), "parent"), encoding="utf-8") as f:
                    parents.add(f.read().strip())
            except OSError:
                continue
        for chain in parents:
            try:
                needed_layers.update(layer.chain_id for layer in self.layers.chain(chain))
            except (BerthError, OSError):
                continue  # a broken record: system check reports it
        return needed_layers


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def _is_id(name: str, image_id: str) -> bool:
    return bool(_HEX_PREFIX.match(name)) and image_id.removeprefix("sha256:").startswith(name.removeprefix("sha256:"))

"""Image configs (imagedb) keyed by image ID = sha256 of the config bytes."""

from __future__ import annotations

import builtins
import hashlib
import os

from ..errors import ImageNotFound, StoreCorrupt
from . import atomic
from .paths import (
    IMAGE_CONTAINER_CONFIG_FILE,
    IMAGE_PARENT_FILE,
    LAST_TAG_TIME_FILE,
    StorePaths,
)

__all__ = ["ImageDB", "image_id_for"]


def image_id_for(config: bytes) -> str:
    """Image ID as the OCI image spec defines it: the digest of the config."""
    return "sha256:" + hashlib.sha256(config).hexdigest()


def _hex(image_id: str) -> str:
    return image_id.split(":", 1)[1] if ":" in image_id else image_id


class ImageDB:
    """The image configs and their metadata; callers hold the store lock to write."""

    def __init__(self, paths: StorePaths) -> None:
        self.paths = paths

    def put(self, config: bytes) -> str:
        """Store ``config`` (idempotent) and return its image ID."""
        image_id = image_id_for(config)
        path = self.paths.image_config(_hex(image_id))
        if not os.path.exists(path):
            atomic.write_file(path, config)
        return image_id

    def get(self, image_id: str) -> bytes:
        """The config bytes, verified against the ID they are stored under."""
        try:
            with open(self.paths.image_config(_hex(image_id)), "rb") as f:
                data = f.read()
        except FileNotFoundError as err:
            raise ImageNotFound(f"No such image: {image_id}") from err
        if image_id_for(data) != "sha256:" + _hex(image_id):
            raise StoreCorrupt(f"image {image_id}: config does not match its digest")
        return data

    def exists(self, image_id: str) -> bool:
        return os.path.isfile(self.paths.image_config(_hex(image_id)))

    def list(self) -> list[str]:
        try:
            names = os.listdir(self.paths.image_content)
        except FileNotFoundError:
            return []
        return ["sha256:" + n for n in names if len(n) == 64 and not n.startswith(".")]

    def delete(self, image_id: str) -> None:
        """Metadata first (it points at the config), then the config."""
        atomic.remove_tree(self.paths.image_metadata_dir(_hex(image_id)))
        path = self.paths.image_config(_hex(image_id))
        if os.path.exists(path):
            os.unlink(path)
            atomic.fsync_dir(os.path.dirname(path))

    def set_parent(self, image_id: str, parent: str) -> None:
        meta = self.paths.image_metadata_dir(_hex(image_id))
        atomic.write_file(os.path.join(meta, IMAGE_PARENT_FILE), parent)

    def get_parent(self, image_id: str) -> str | None:
        return self._read_meta(image_id, IMAGE_PARENT_FILE)

    def set_last_tag_time(self, image_id: str, stamp: str) -> None:
        meta = self.paths.image_metadata_dir(_hex(image_id))
        atomic.write_file(os.path.join(meta, LAST_TAG_TIME_FILE), stamp)

    def get_last_tag_time(self, image_id: str) -> str | None:
        return self._read_meta(image_id, LAST_TAG_TIME_FILE)

    def set_container_config(self, image_id: str, data: str) -> None:
        """The build step's run config (JSON), kept out of the config so Go tools keep the image ID."""
        meta = self.paths.image_metadata_dir(_hex(image_id))
        atomic.write_file(os.path.join(meta, IMAGE_CONTAINER_CONFIG_FILE), data)

    def get_container_config(self, image_id: str) -> str | None:
        return self._read_meta(image_id, IMAGE_CONTAINER_CONFIG_FILE)

    def _read_meta(self, image_id: str, name: str) -> str | None:
        try:
            with open(os.path.join(self.paths.image_metadata_dir(_hex(image_id)), name), encoding="utf-8") as f:
                return f.read().strip() or None
        except FileNotFoundError:
            return None

    def children(self, image_id: str) -> builtins.list[str]:
        """Images whose recorded parent is ``image_id``."""
        try:
            names = os.listdir(self.paths.image_metadata)
        except FileNotFoundError:
            return []
        return ["sha256:" + n for n in names if self.get_parent(n) == image_id and self.exists(n)]

"""The classic builder's cache: a step is done already if a child of the same parent image has its config.

The key is the image's ``container_config`` (kept in its metadata): the run config with ``Cmd`` set to
what the step did (the RUN command with its build args, ``#(nop) COPY
file:<sha256> in /dst``, ...). A hit is the newest matching child whose
layers are all still in the store.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import BerthError
from ..images import parse_time
from ..store.images import ImageDB
from ..store.layers import LayerStore, chain_id_for

__all__ = ["BuildCache"]

_SCRATCH = ""


class BuildCache:
    """Parent → children index of the image store, built once per build and kept current by ``add``."""

    def __init__(self, imagedb: ImageDB, layers: LayerStore) -> None:
        self.imagedb = imagedb
        self.layers = layers
        self._children: dict[str, list[str]] | None = None

    def _index(self) -> dict[str, list[str]]:
        if self._children is None:
            children: dict[str, list[str]] = {}
            for image_id in self.imagedb.list():
                children.setdefault(self.imagedb.get_parent(image_id) or _SCRATCH, []).append(image_id)
            self._children = children
        return self._children

    def add(self, parent: str, image_id: str) -> None:
        """Remember an image this build made, so a later identical step (another stage) finds it."""
        siblings = self._index().setdefault(parent or _SCRATCH, [])
        if image_id not in siblings:
            siblings.append(image_id)

    def lookup(self, parent: str, container_config: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """(image ID, image config) of the newest child of ``parent`` made by the same step, or None."""
        best: tuple[float, str, dict[str, Any]] | None = None
        for image_id in self._index().get(parent or _SCRATCH, []):
            image = self._load(image_id)
            if image is None or self._key(image_id, image) != container_config:
                continue
            if not self._layers_present(image):
                continue
            created = parse_time(image.get("created"))
            if best is None or created > best[0]:
                best = (created, image_id, image)
        return (best[1], best[2]) if best else None

    def _key(self, image_id: str, image: dict[str, Any]) -> Any:
        """The step's run config: in the image's metadata (older berth stores kept it in the config)."""
        recorded = self.imagedb.get_container_config(image_id)
        if recorded is None:
            return image.get("container_config")
        try:
            return json.loads(recorded)
        except ValueError:
            return None

    def _load(self, image_id: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.imagedb.get(image_id))
            return data
        except (BerthError, ValueError, OSError):
            return None  # removed meanwhile, or broken: not a cache candidate

    def _layers_present(self, image: dict[str, Any]) -> bool:
        chain: str | None = None
        for diff_id in image.get("rootfs", {}).get("diff_ids", []):
            chain = chain_id_for(chain, diff_id)
        return chain is None or self.layers.exists(chain)

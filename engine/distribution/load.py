"""``load``: images from a docker-archive (any ``docker save`` since 1.10) or an OCI image layout.

Every blob is checked: a config against the digest that names it, a layer
blob against its descriptor (or its ``blobs/sha256/<hex>`` name) and its
uncompressed stream against the config's ``rootfs.diff_ids``. The config is
stored byte for byte, so the image ID is the one the archive was made with.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import Any

from .. import reference
from ..errors import ArchiveError, InvalidReference
from ..images import ImageService
from ..importer import Importer
from ..store.layers import chain_id_for
from . import formats as fmt
from .layers import BlobRef, LayerImporter
from .platform import Platform, host_platform, select_manifest
from .progress import ProgressFn
from .sources import ArchiveSource, read_small

__all__ = ["ImageLoader", "LoadedImage"]

_BLOB_NAME = re.compile(r"^(?:\./)?blobs/sha256/([a-f0-9]{64})$")
_LEGACY_CONFIG = re.compile(r"^(?:\./)?([a-f0-9]{64})\.json$")


@dataclass(frozen=True)
class LoadedImage:
    """One image ``load`` stored: its ID and the tags it was given."""

    id: str
    refs: tuple[str, ...]


@dataclass
class _Plan:
    """One image found in the archive, before anything is stored."""

    config_name: str
    config_digest: str | None
    layers: list[BlobRef]
    refs: list[reference.Reference]


class ImageLoader:
    """Reads archives into the store."""

    def __init__(self, images: ImageService, importer: Importer) -> None:
        self.images = images
        self.importer = importer
        self.layer_importer = LayerImporter(images)

    def load(self, source: ArchiveSource, *, platform: Platform | None = None, progress: ProgressFn | None = None,
             cancel: threading.Event | None = None) -> list[LoadedImage]:
        """Store every image in ``source``; plans all of them first so a bad index fails early."""
        plans = self._plans(source, platform or host_platform())
        return [self._load_one(source, plan, progress, cancel) for plan in plans]

    def _plans(self, source: ArchiveSource, platform: Platform) -> list[_Plan]:
        if source.exists(fmt.DOCKER_MANIFEST_FILE):
            return _docker_plans(source)
        if source.exists(fmt.OCI_INDEX_FILE):
            return _oci_plans(source, platform)
        raise ArchiveError("not an image archive: it has neither manifest.json (docker-archive) "
                           "nor index.json (OCI image layout)")

    def _load_one(self, source: ArchiveSource, plan: _Plan, progress: ProgressFn | None,
                  cancel: threading.Event | None) -> LoadedImage:
        data = read_small(source, plan.config_name)
        if plan.config_digest is not None:
            fmt.verify_bytes(data, plan.config_digest, f"config {plan.config_name}")
        diff_ids = _diff_ids(data, plan.config_name)
        if len(diff_ids) != len(plan.layers):
            raise ArchiveError(f"config {plan.config_name} lists {len(diff_ids)} layers, "
                               f"the manifest {len(plan.layers)}")
        parent: str | None = None
        for blob, diff_id in zip(plan.layers, diff_ids, strict=True):
            self.layer_importer.add(source.open, blob, diff_id, parent, progress=progress, cancel=cancel)
            parent = chain_id_for(parent, diff_id)
        image_id = self.importer.commit_config_bytes(data, plan.refs)
        return LoadedImage(image_id, tuple(str(r) for r in plan.refs))


def _diff_ids(data: bytes, name: str) -> list[str]:
    try:
        config = json.loads(data)
        diff_ids = config["rootfs"]["diff_ids"]
    except (ValueError, KeyError, TypeError) as err:
        raise ArchiveError(f"config {name} is not an image config ({err})") from err
    if not isinstance(diff_ids, list):
        raise ArchiveError(f"config {name}: rootfs.diff_ids is not a list")
    return [fmt.check_digest_form(d, f"config {name}: diff_id") for d in diff_ids]


def _json(source: ArchiveSource, name: str) -> Any:
    try:
        return json.loads(read_small(source, name))
    except ValueError as err:
        raise ArchiveError(f"{name} is not valid JSON ({err})") from err


# -- docker-archive -----------------------------------------------------------


def _docker_plans(source: ArchiveSource) -> list[_Plan]:
    """manifest.json entries: ``blobs/sha256/<hex>`` names (Docker 25+) or ``<id>.json`` + ``<v1id>/layer.tar``."""
    entries = _json(source, fmt.DOCKER_MANIFEST_FILE)
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ArchiveError("manifest.json is not a list of images")
    plans = []
    for entry in entries:
        config_name = entry.get("Config")
        layers = entry.get("Layers") or []
        if not isinstance(config_name, str) or not isinstance(layers, list):
            raise ArchiveError("manifest.json: an entry lacks Config or Layers")
        plans.append(_Plan(config_name, _name_digest(config_name, config=True),
                           [BlobRef(name, _name_digest(name), source.size(name)) for name in layers],
                           _refs(entry.get("RepoTags") or [])))
    return plans


def _name_digest(name: str, *, config: bool = False) -> str | None:
    """The digest a member name promises, when it is content-addressed."""
    m = _BLOB_NAME.match(name) or (_LEGACY_CONFIG.match(name) if config else None)
    return "sha256:" + m.group(1) if m else None


def _refs(names: list[Any]) -> list[reference.Reference]:
    out = []
    for name in names:
        try:
            out.append(reference.parse(str(name)))
        except InvalidReference as err:
            raise ArchiveError(f"manifest.json: bad RepoTag {name!r}: {err}") from err
    return out


# -- OCI image layout ------------------------------------------------------------


def _oci_plans(source: ArchiveSource, platform: Platform) -> list[_Plan]:
    """Every manifest index.json names; nested indexes are narrowed to ``platform``."""
    index = _json(source, fmt.OCI_INDEX_FILE)
    plans = []
    for desc in index.get("manifests") or []:
        refs = _oci_refs(desc.get("annotations") or {})
        manifest = _resolve_manifest(source, desc, platform)
        plans.append(_manifest_plan(manifest, refs))
    return _merge_same_config(plans)


def _read_blob_json(source: ArchiveSource, desc: dict[str, Any]) -> dict[str, Any]:
    digest = fmt.check_digest_form(desc.get("digest", ""), "index.json descriptor")
    data = fmt.verify_bytes(read_small(source, fmt.blob_path(digest)), digest, f"blob {digest}")
    try:
        value = json.loads(data)
    except ValueError as err:
        raise ArchiveError(f"blob {digest} is not valid JSON ({err})") from err
    if not isinstance(value, dict):
        raise ArchiveError(f"blob {digest} is not a JSON object")
    return value


def _resolve_manifest(source: ArchiveSource, desc: dict[str, Any], platform: Platform) -> dict[str, Any]:
    for _ in range(8):  # an index of indexes is legal; a loop of them is not
        value = _read_blob_json(source, desc)
        if value.get("mediaType", desc.get("mediaType")) not in fmt.INDEX_TYPES and "manifests" not in value:
            return value
        desc = select_manifest(value, platform, desc.get("digest", "index"))
    raise ArchiveError("image indexes nest too deeply")


def _manifest_plan(manifest: dict[str, Any], refs: list[reference.Reference]) -> _Plan:
    config = manifest.get("config") or {}
    digest = fmt.check_digest_form(config.get("digest", ""), "manifest config")
    layers = [BlobRef(fmt.blob_path(fmt.check_digest_form(d.get("digest", ""), "manifest layer")),
                      d["digest"], int(d.get("size", -1))) for d in manifest.get("layers") or []]
    return _Plan(fmt.blob_path(digest), digest, layers, refs)


def _oci_refs(annotations: dict[str, Any]) -> list[reference.Reference]:
    """The full name when containerd/Docker recorded one; a ref.name that is a whole reference; else none."""
    for key in (fmt.ANNOTATION_IMAGE_NAME, fmt.ANNOTATION_REF_NAME):
        name = annotations.get(key)
        if isinstance(name, str) and ("/" in name or ":" in name):
            try:
                return [reference.parse(name)]
            except InvalidReference:
                continue
    return []


def _merge_same_config(plans: list[_Plan]) -> list[_Plan]:
    """One plan per image: index.json has an entry per tag."""
    merged: dict[str, _Plan] = {}
    for plan in plans:
        have = merged.get(plan.config_name)
        if have is None:
            merged[plan.config_name] = plan
        else:
            have.refs.extend(r for r in plan.refs if r not in have.refs)
    return list(merged.values())

"""``save``: images to one tar that is both an OCI image layout and a docker-archive.

Layer blobs are uncompressed tars regenerated from the layer's diff dir, so
their digest is the layer's diffID; the config blob is the stored config bytes,
so its digest is the image ID. ``manifest.json`` (Docker's format) points at
the same blobs as ``index.json`` (OCI's), as ``docker save`` does since 25.0.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

from .. import reference
from ..errors import Cancelled
from ..images import ImageService
from ..store.layers import Layer
from ..store.paths import StorePaths
from . import formats as fmt
from .progress import ProgressFn, report
from .tarsplit import layer_tar
from .tarwriter import TarWriter

__all__ = ["ImageSaver"]


@dataclass
class _Saved:
    """One image going into the archive."""

    image_id: str
    refs: list[reference.Reference]
    config: bytes
    layers: list[Layer]
    manifest: bytes = b""


@dataclass
class _Archive:
    """What has been written so far, so shared layers go in once."""

    sizes: dict[str, int] = field(default_factory=dict)
    """Size of every blob written, by digest."""


class ImageSaver:
    """Writes ``berth save`` archives."""

    def __init__(self, paths: StorePaths, images: ImageService) -> None:
        self.paths = paths
        self.images = images

    def save(self, names: list[str], out: BinaryIO, *, progress: ProgressFn | None = None,
             cancel: threading.Event | None = None) -> None:
        """Write the images ``names`` stand for to ``out`` (a file or a pipe)."""
        saved = self._collect(names)
        try:
            out.seek(0, os.SEEK_CUR)
            seekable = out.seekable()
        except (OSError, AttributeError):
            seekable = False
        if seekable:
            self._write(saved, out, progress, cancel)
            return
        os.makedirs(self.paths.staging, exist_ok=True)
        with tempfile.TemporaryFile(dir=self.paths.staging) as spool:
            self._write(saved, spool, progress, cancel)  # a pipe cannot take headers written afterwards
            spool.seek(0)
            shutil.copyfileobj(spool, out, 1 << 20)

    def _collect(self, names: list[str]) -> list[_Saved]:
        """Resolve every name first, so a typo fails before anything is written."""
        by_id: dict[str, _Saved] = {}
        for name in names:
            image_id = self.images.resolve(name)
            item = by_id.get(image_id)
            if item is None:
                item = _Saved(image_id, [], self.images.imagedb.get(image_id), self.images.image_layers(image_id))
                by_id[image_id] = item
            ref = _named_ref(name, image_id)
            if ref is not None and ref not in item.refs:
                item.refs.append(ref)
        return list(by_id.values())

    def _write(self, saved: list[_Saved], out: BinaryIO, progress: ProgressFn | None,
               cancel: threading.Event | None) -> None:
        tar = TarWriter(out)
        tar.add_dir(fmt.BLOBS_DIR)
        tar.add_dir(fmt.BLOBS_DIR + "/sha256")
        done = _Archive()
        for item in saved:
            for layer in item.layers:
                if layer.diff_id not in done.sizes:
                    done.sizes[layer.diff_id] = self._write_layer(tar, layer, progress, cancel)
            _add_blob(tar, done, item.image_id, item.config)
            item.manifest = _oci_manifest(item, done)
            _add_blob(tar, done, fmt.sha256_digest(item.manifest), item.manifest)
        tar.add_bytes(fmt.OCI_INDEX_FILE, fmt.canonical_json(_oci_index(saved)))
        tar.add_bytes(fmt.DOCKER_MANIFEST_FILE, fmt.canonical_json(_docker_manifest(saved)))
        tar.add_bytes(fmt.OCI_LAYOUT_FILE, fmt.canonical_json({"imageLayoutVersion": fmt.OCI_LAYOUT_VERSION}))
        tar.add_bytes(fmt.DOCKER_REPOSITORIES_FILE, fmt.canonical_json(_repositories(saved)))
        tar.close()

    def _write_layer(self, tar: TarWriter, layer: Layer, progress: ProgressFn | None,
                     cancel: threading.Event | None) -> int:
        """Regenerate the layer tar into the archive; it must hash to the recorded diffID."""
        report(progress, layer.diff_id, "Writing", 0, layer.size)
        diff_dir = self.paths.diff_dir(layer.cache_id)

        sizes: list[int] = []

        def fill(sink: BinaryIO) -> tuple[str, int]:
            meter = _Meter(sink, lambda n: report(progress, layer.diff_id, "Writing", n, layer.size))
            _, size = layer_tar(self.paths.root, layer, diff_dir, cast(BinaryIO, meter), cancel)
            sizes.append(size)
            return fmt.blob_path(layer.diff_id), size

        tar.add_stream(fill)
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        report(progress, layer.diff_id, "Done", layer.size, layer.size)
        return sizes[0]


class _Meter:
    """Counts what a layer writes and reports it about once a MiB."""

    def __init__(self, out: BinaryIO, on_write: Callable[[int], None]) -> None:
        self._out = out
        self._on_write = on_write
        self._done = 0
        self._reported = 0

    def write(self, data: bytes) -> int:
        taken = self._out.write(data)
        self._done += taken
        if self._done - self._reported >= 1 << 20:
            self._reported = self._done
            self._on_write(self._done)
        return taken


def _add_blob(tar: TarWriter, done: _Archive, digest: str, data: bytes) -> None:
    if digest not in done.sizes:
        tar.add_bytes(fmt.blob_path(digest), data)
        done.sizes[digest] = len(data)


def _named_ref(name: str, image_id: str) -> reference.Reference | None:
    """The tag a name stands for, or None when the user named the image by ID."""
    hexpart = image_id.removeprefix("sha256:")
    if name.removeprefix("sha256:") and hexpart.startswith(name.removeprefix("sha256:")):
        return None
    ref = reference.parse(name)
    return None if ref.digest else ref


def _oci_manifest(item: _Saved, done: _Archive) -> bytes:
    value: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": fmt.OCI_MANIFEST,
        "config": fmt.descriptor(fmt.OCI_CONFIG, item.image_id, len(item.config)),
        "layers": [fmt.descriptor(fmt.OCI_LAYER, layer.diff_id, done.sizes[layer.diff_id]) for layer in item.layers],
    }
    return fmt.canonical_json(value)


def _oci_index(saved: list[_Saved]) -> dict[str, Any]:
    """One manifest entry per tag (untagged images get one without annotations)."""
    entries = []
    for item in saved:
        desc = fmt.descriptor(fmt.OCI_MANIFEST, fmt.sha256_digest(item.manifest), len(item.manifest))
        if not item.refs:
            entries.append(desc)
        for ref in item.refs:
            full = f"{ref.name}:{ref.tag}"
            entries.append({**desc, "annotations": {fmt.ANNOTATION_IMAGE_NAME: full, fmt.ANNOTATION_REF_NAME: ref.tag}})
    return {"schemaVersion": 2, "mediaType": fmt.OCI_INDEX, "manifests": entries}


def _docker_manifest(saved: list[_Saved]) -> list[dict[str, Any]]:
    return [{
        "Config": fmt.blob_path(item.image_id),
        "RepoTags": [str(ref) for ref in item.refs] or None,
        "Layers": [fmt.blob_path(layer.diff_id) for layer in item.layers],
    } for item in saved]


def _repositories(saved: list[_Saved]) -> dict[str, dict[str, str]]:
    """The pre-1.10 tag file: repository → tag → top layer; loaders that know manifest.json ignore it."""
    repos: dict[str, dict[str, str]] = {}
    for item in saved:
        if not item.layers:
            continue
        for ref in item.refs:
            top = item.layers[-1].diff_id.removeprefix("sha256:")
            repos.setdefault(ref.familiar_name, {})[ref.tag or "latest"] = top
    return repos

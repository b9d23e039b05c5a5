"""``push``: an image's layers (compressed), config and manifest to a registry.

A layer the repository already has is skipped; one a sibling repository on
the same registry has is mounted from it; anything else is compressed into
the download dir and uploaded in one PUT, or in PATCH chunks when large.
"""

from __future__ import annotations

import gzip
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from .. import reference
from ..archive.digest import HashingWriter
from ..errors import (
    Cancelled,
    ImageNotFound,
    InvalidArgument,
    RegistryError,
)
from ..images import ImageService
from ..store.layers import Layer
from ..store.paths import StorePaths
from . import formats as fmt
from .credentials import CredentialStore
from .insecure import InsecureRegistries
from .metadata import BlobMetadata, KnownBlob
from .progress import ProgressFn, report
from .registry import RegistryClient
from .tarsplit import layer_tar

__all__ = ["PushOptions", "PushResult", "Pusher"]

PARALLEL_UPLOADS = 5  # Docker's default max-concurrent-uploads
CHUNK_SIZE = 16 << 20  # blobs above this go up in PATCH chunks of this size
GZIP_LEVEL = 1  # content-addressed, so the level only trades size for time; 1 is ~4x faster than 6
COMPRESSIONS = {"gzip": (fmt.DOCKER_LAYER_GZIP, fmt.OCI_LAYER_GZIP), "zstd": (None, fmt.OCI_LAYER_ZSTD)}


@dataclass(frozen=True)
class PushOptions:
    """How to push."""

    insecure: bool = False
    compression: str = "gzip"
    """``gzip`` (a Docker schema2 manifest) or ``zstd`` (an OCI manifest)."""
    chunk_size: int = CHUNK_SIZE


@dataclass(frozen=True)
class PushResult:
    """What ``push`` wrote: ``<tag>: digest: <digest> size: <size>``, as Docker prints it."""

    tag: str
    digest: str
    size: int


class Pusher:
    """Pushes images from one store."""

    def __init__(self, paths: StorePaths, images: ImageService, creds: CredentialStore) -> None:
        self.paths = paths
        self.images = images
        self.creds = creds
        self.scratch = os.path.join(paths.root, fmt.DOWNLOADS_DIR)
        self.metadata = BlobMetadata(paths.root, images.lock)

    def push(self, name: str, options: PushOptions, *, progress: ProgressFn | None = None,
             cancel: threading.Event | None = None) -> PushResult:
        if options.compression not in COMPRESSIONS:
            raise InvalidArgument(f"unknown compression {options.compression!r}: use gzip or zstd")
        ref = reference.parse(name)
        if ref.digest:
            raise InvalidArgument(f"cannot push a digest reference: {name}")
        image_id = self._local(ref)
        layers = self.images.image_layers(image_id)
        client = RegistryClient(ref.domain, ref.path, credentials=self.creds.get(ref.domain),
                                insecure=options.insecure, actions="pull,push",
                                insecure_registries=InsecureRegistries.for_store(self.paths.root))
        client.extra_scopes = self._mount_scopes(ref, layers)
        with client:  # one pool of keep-alive connections for the whole push
            client.connect()
            job = _Job(client, ref, options, progress, cancel)
            with ThreadPoolExecutor(PARALLEL_UPLOADS, thread_name_prefix="berth-push") as pool:
                descs = list(pool.map(lambda layer: self._push_layer(job, layer), layers))
            config = self.images.imagedb.get(image_id)
            self._push_bytes(job, image_id, config)
            return self._put_manifest(job, _manifest(options, image_id, config, descs))

    def _local(self, ref: reference.Reference) -> str:
        found = self.images.tags.resolve(ref)
        if found is None:
            raise ImageNotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
        return found

    def _mount_scopes(self, ref: reference.Reference, layers: list[Layer]) -> list[str]:
        """Pull access to the sibling repositories a mount could take blobs from."""
        repos = {b.repository for layer in layers for b in self.metadata.get(layer.diff_id)}
        prefix = ref.domain + "/"
        return sorted(f"repository:{r[len(prefix):]}:pull" for r in repos if r.startswith(prefix) and r != ref.name)

    def _push_layer(self, job: _Job, layer: Layer) -> dict[str, Any]:
        """Every status of a layer goes out under its diffID's short ID, as Docker's do."""
        media_type = job.layer_media_type
        report(job.progress, layer.diff_id, "Preparing")
        for known in self.metadata.get(layer.diff_id):
            if known.media_type in COMPRESSIONS[job.options.compression] and job.reuse(known, layer.diff_id):
                return fmt.descriptor(media_type, known.digest, known.size)
        blob = self._compress(job, layer)
        try:
            if not job.exists(blob.digest, blob.size):
                job.upload(blob.path, blob.digest, blob.size, layer.diff_id)
            else:
                report(job.progress, layer.diff_id, "Layer already exists")
        finally:
            os.unlink(blob.path)
        self.metadata.add(layer.diff_id, KnownBlob(blob.digest, job.ref.name, media_type, blob.size))
        return fmt.descriptor(media_type, blob.digest, blob.size)

    def _compress(self, job: _Job, layer: Layer) -> _Blob:
        """The layer tar, regenerated and compressed into a temp file; its diffID must still match."""
        os.makedirs(self.scratch, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix=".push-", dir=self.scratch)
        try:
            with os.fdopen(fd, "wb") as raw:
                sink = HashingWriter(raw)
                with _compressor(job.options.compression, sink) as packed:
                    layer_tar(self.paths.root, layer, self.paths.diff_dir(layer.cache_id), packed, job.cancel)
        except BaseException:
            os.unlink(path)
            raise
        return _Blob(path, sink.digest, sink.size)

    def _push_bytes(self, job: _Job, digest: str, data: bytes) -> None:
        if not job.exists(digest, len(data)):
            job.upload_bytes(digest, data)

    def _put_manifest(self, job: _Job, manifest: tuple[bytes, str]) -> PushResult:
        data, media_type = manifest
        tag = job.ref.tag or reference.DEFAULT_TAG
        response = job.client.send("PUT", job.client.url(f"manifests/{tag}"), headers={"Content-Type": media_type},
                                   body=data)
        if response.status not in (200, 201):
            raise job.client.fail(response, f"manifest {tag}")
        response.read()
        response.close()
        digest = fmt.sha256_digest(data)
        claimed = response.header("Docker-Content-Digest")
        if claimed and claimed != digest:
            raise RegistryError(f"{job.ref.domain} stored the manifest as {claimed}, berth sent {digest}")
        return PushResult(tag, digest, len(data))


class _Job:
    """One push: the client and options every layer upload shares, and the blob requests."""

    def __init__(self, client: RegistryClient, ref: reference.Reference, options: PushOptions,
                 progress: ProgressFn | None, cancel: threading.Event | None) -> None:
        self.client = client
        self.ref = ref
        self.options = options
        self.progress = progress
        self.cancel = cancel
        types = COMPRESSIONS[options.compression]
        self.layer_media_type = types[0] or types[1]

    def exists(self, digest: str, size: int) -> bool:
        response = self.client.send("HEAD", self.client.url(f"blobs/{digest}"))
        response.close()
        if response.status not in (200, 404):
            raise self.client.fail(response, f"blob {digest}")
        return response.status == 200 and int(response.header("Content-Length") or size) == size

    def reuse(self, known: KnownBlob, label: str) -> bool:
        """True when the repository has the blob already, or it could be mounted from a sibling."""
        if known.repository == self.ref.name:
            if self.exists(known.digest, known.size):
                report(self.progress, label, "Layer already exists")
                return True
            return False
        prefix = self.ref.domain + "/"
        if not known.repository.startswith(prefix):
            return False
        source = known.repository[len(prefix):]
        response = self.client.send("POST", self.client.url(f"blobs/uploads/?mount={known.digest}&from={source}"))
        response.read()
        response.close()
        if response.status == 201:
            report(self.progress, label, f"Mounted from {source}")
            return True
        return False  # 202: the registry opened an upload instead; it expires unused

    def _start(self) -> str:
        response = self.client.send("POST", self.client.url("blobs/uploads/"), body=b"")
        response.read()
        response.close()
        if response.status != 202 or not response.header("Location"):
            raise self.client.fail(response, "starting a blob upload")
        return response.header("Location")

    def upload_bytes(self, digest: str, data: bytes) -> None:
        self._finish(self._start(), digest, data, len(data))

    def upload(self, path: str, digest: str, size: int, label: str) -> None:
        """One PUT for a small blob; PATCH chunks, then an empty PUT, for a large one (progress under ``label``)."""
        location = self._start()
        with open(path, "rb") as f:
            if size <= self.options.chunk_size:
                self._finish(location, digest, f, size, label)
                return
            done = 0
            while done < size:
                if self.cancel is not None and self.cancel.is_set():
                    raise Cancelled("push cancelled")
                chunk = f.read(self.options.chunk_size)
                location = self._patch(location, chunk, done)
                done += len(chunk)
                report(self.progress, label, "Pushing", done, size)
        self._finish(location, digest, b"", size, label)

    def _patch(self, location: str, chunk: bytes, start: int) -> str:
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(chunk)),
                   "Content-Range": f"{start}-{start + len(chunk) - 1}"}
        response = self.client.send("PATCH", location, headers=headers, body=chunk)
        response.read()
        response.close()
        if response.status != 202:
            raise self.client.fail(response, "uploading a chunk")
        return response.header("Location") or location

    def _finish(self, location: str, digest: str, body: bytes | BinaryIO, size: int, label: str | None = None) -> None:
        """The closing PUT; progress under ``label`` (none for the config, which Docker does not show)."""
        progress = self.progress if label else None
        length = len(body) if isinstance(body, bytes) else size
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length)}
        url = location + ("&" if "?" in location else "?") + f"digest={digest}"
        report(progress, label or digest, "Pushing", size - length if length < size else 0, size)
        response = self.client.send("PUT", url, headers=headers, body=body)
        response.read()
        response.close()
        if response.status != 201:
            raise self.client.fail(response, f"blob {digest}")
        report(progress, label or digest, "Pushed", size, size)


@dataclass(frozen=True)
class _Blob:
    path: str
    digest: str
    size: int


class _Sink:
    """Adapts a compressor to write_layer, which wants ``write`` to return what it took."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def write(self, data: bytes) -> int:
        self.inner.write(data)
        return len(data)


class _compressor:
    """A context manager giving a gzip or zstd writer over ``sink``, finished on exit."""

    def __init__(self, kind: str, sink: HashingWriter) -> None:
        self.kind = kind
        self.sink = sink
        self.writer: Any = None

    def __enter__(self) -> BinaryIO:
        if self.kind == "gzip":
            self.writer = gzip.GzipFile(fileobj=cast(Any, self.sink), mode="wb", mtime=0, compresslevel=GZIP_LEVEL)
        else:
            import zstandard

            self.writer = zstandard.ZstdCompressor().stream_writer(cast(Any, self.sink), closefd=False)
        return _Sink(self.writer)  # type: ignore[return-value]

    def __exit__(self, *exc: object) -> None:
        self.writer.close()


def _manifest(options: PushOptions, config_digest: str, config: bytes,
              layers: list[dict[str, Any]]) -> tuple[bytes, str]:
    """Docker schema2 for gzip layers (what every client reads); OCI when zstd needs it."""
    docker_type = COMPRESSIONS[options.compression][0]
    mtype, ctype = (fmt.DOCKER_MANIFEST, fmt.DOCKER_CONFIG) if docker_type else (fmt.OCI_MANIFEST, fmt.OCI_CONFIG)
    value = {"schemaVersion": 2, "mediaType": mtype, "config": fmt.descriptor(ctype, config_digest, len(config)),
             "layers": layers}
    return fmt.canonical_json(value), mtype

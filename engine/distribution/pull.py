"""``pull``: an image from a registry, layers fetched in parallel and registered in order.

Blobs land in the store's download dir, named by digest once verified, under a
lock per blob (``downloads``). A pull whose connection drops keeps them (and
the ``.partial`` of a blob cut off mid-way), so the next pull resumes instead
of starting again; a cancelled pull drops its partial blobs, and one that fills
the disk drops every blob it had not registered yet. Whatever no pull holds is
``system check --repair``'s to reclaim.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any

from .. import reference
from ..errors import Cancelled, DigestMismatch, RegistryError, StoreFull
from ..images import ImageService
from ..importer import Importer
from ..store.layers import chain_id_for
from ..store.paths import StorePaths
from . import formats as fmt
from .credentials import CredentialStore
from .downloads import BlobLock
from .insecure import InsecureRegistries
from .layers import BlobRef, LayerImporter
from .manifests import Manifest, fetch_image_manifest
from .metadata import BlobMetadata, KnownBlob
from .platform import Platform, host_platform
from .progress import ProgressFn, report
from .registry import RegistryClient

__all__ = ["PullResult", "Puller"]

PARALLEL_DOWNLOADS = 3  # Docker's default max-concurrent-downloads
_CHUNK = 1 << 20


@dataclass(frozen=True)
class PullResult:
    """What ``pull`` stored."""

    image_id: str
    ref: str
    """The normalised reference pulled, e.g. ``docker.io/library/busybox:latest``."""
    digest: str
    """The manifest's digest (the platform's, when the tag names an index)."""
    updated: bool = True
    """False when the tag already named this image ("Image is up to date")."""


class Puller:
    """Pulls images into one store."""

    def __init__(self, paths: StorePaths, images: ImageService, importer: Importer, creds: CredentialStore) -> None:
        self.paths = paths
        self.images = images
        self.importer = importer
        self.creds = creds
        self.downloads = os.path.join(paths.root, fmt.DOWNLOADS_DIR)
        self.metadata = BlobMetadata(paths.root, images.lock)
        self._locks: dict[str, BlobLock] = {}
        self._locks_mutex = threading.Lock()

    def pull(self, name: str, *, platform: Platform | None = None, insecure: bool = False,
             progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> PullResult:
        ref = reference.parse(name)
        client = RegistryClient(ref.domain, ref.path, credentials=self.creds.get(ref.domain), insecure=insecure,
                                insecure_registries=InsecureRegistries.for_store(self.paths.root))
        with client:  # one pool of keep-alive connections for the whole pull
            return self._pull(client, ref, platform, progress, cancel)

    def _pull(self, client: RegistryClient, ref: reference.Reference, platform: Platform | None,
              progress: ProgressFn | None, cancel: threading.Event | None) -> PullResult:
        manifest = fetch_image_manifest(client, ref.digest or ref.tag or reference.DEFAULT_TAG,
                                        platform or host_platform(), str(ref))
        config = self._config(client, manifest)
        diff_ids = _diff_ids(config, len(manifest.value.get("layers") or []))
        layers = [_blob(d) for d in manifest.value.get("layers") or []]
        try:
            self._layers(client, layers, diff_ids, progress, cancel)
            before = self.images.tags.resolve(ref) if ref.tag else None
            image_id = self.importer.commit_config_bytes(config, [ref] if ref.tag else [])
            self._finish(ref, layers, diff_ids)
        except StoreFull:
            self._drop_downloads()  # free what this pull took: the user needs the space more than a resume
            raise
        finally:
            self._release_locks()
        return PullResult(image_id, f"{ref.name}{':' + ref.tag if ref.tag else ''}", manifest.digest,
                          updated=before != image_id)

    def _config(self, client: RegistryClient, manifest: Manifest) -> bytes:
        desc = manifest.value.get("config") or {}
        digest = fmt.check_digest_form(desc.get("digest", ""), "manifest config")
        response = client.send("GET", client.url(f"blobs/{digest}"))
        if response.status != 200:
            raise client.fail(response, f"config blob {digest}")
        data = response.read()
        response.close()
        return fmt.verify_bytes(data, digest, f"config {digest}")

    def _layers(self, client: RegistryClient, layers: list[BlobRef], diff_ids: list[str],
                progress: ProgressFn | None, cancel: threading.Event | None) -> None:
        """Download what the store lacks, PARALLEL_DOWNLOADS at a time; register each as soon as its turn comes."""
        stop = threading.Event()
        importer = LayerImporter(self.images)
        chains, parent = [], None
        for diff_id in diff_ids:
            parent = chain_id_for(parent, diff_id)
            chains.append(parent)
        with ThreadPoolExecutor(PARALLEL_DOWNLOADS, thread_name_prefix="berth-pull") as pool:
            jobs: dict[int, Future[str]] = {}
            by_digest: dict[str | None, Future[str]] = {}  # images repeat blobs (the empty layer): fetch each once
            wanted = [i for i, blob in enumerate(layers) if not self.images.layers.exists(chains[i])]
            fresh = list(dict.fromkeys(layers[i].digest for i in wanted))
            for digest in fresh:
                report(progress, digest or "", "Pulling fs layer")
            for digest in fresh[PARALLEL_DOWNLOADS:]:
                report(progress, digest or "", "Waiting")  # queued behind the downloads that start now
            for i in wanted:
                blob = layers[i]
                if blob.digest not in by_digest:
                    by_digest[blob.digest] = pool.submit(self._download, client, blob, progress, stop, cancel)
                jobs[i] = by_digest[blob.digest]
            try:
                self._register(layers, diff_ids, jobs, importer, progress, cancel)
            except BaseException:
                stop.set()  # the other downloads stop; what they finished stays for the next pull
                raise

    def _register(self, layers: list[BlobRef], diff_ids: list[str], jobs: dict[int, Future[str]],
                  importer: LayerImporter, progress: ProgressFn | None, cancel: threading.Event | None) -> None:
        parent = None
        for i, (blob, diff_id) in enumerate(zip(layers, diff_ids)):
            if i in jobs:
                path = jobs[i].result()
                importer.add(_opener(path), blob, diff_id, parent, progress=progress, cancel=cancel,
                             done="Pull complete")
            else:
                report(progress, blob.digest or "", "Already exists")
            parent = chain_id_for(parent, diff_id)

    def _download(self, client: RegistryClient, blob: BlobRef, progress: ProgressFn | None,
                  stop: threading.Event, cancel: threading.Event | None) -> str:
        """The verified blob's path in the download dir, resuming a ``.partial`` left by an earlier pull."""
        assert blob.digest is not None
        final = os.path.join(self.downloads, blob.digest.removeprefix("sha256:"))
        partial = final + fmt.PARTIAL_SUFFIX
        try:
            os.makedirs(self.downloads, exist_ok=True)
            self._lock(blob.digest.removeprefix("sha256:"))
            if os.path.exists(final):  # an earlier pull (or one we waited for) finished it
                report(progress, blob.digest, "Download complete", blob.size, blob.size)
                return final
            hasher, have = _hash_existing(partial)
            response = client.send("GET", client.url(f"blobs/{blob.digest}"),
                                   headers={"Range": f"bytes={have}-"} if have else {})
            if response.status not in (200, 206):
                raise client.fail(response, f"blob {blob.digest}")
            if response.status == 200 and have:
                hasher, have = hashlib.sha256(), 0  # the registry ignored the range: start over
            with open(partial, "ab" if have else "wb") as out:
                have = self._copy(response, out, hasher, have, blob, progress, stop, cancel)
                out.flush()
                os.fsync(out.fileno())
        except Cancelled:
            _unlink_quietly(partial)
            raise
        except OSError as err:
            full = StoreFull.from_os_error(err, partial)
            if full is None:
                raise
            _unlink_quietly(partial)
            raise full from err
        report(progress, blob.digest, "Verifying Checksum", have, blob.size)
        verified = self._verified(partial, final, blob, "sha256:" + hasher.hexdigest(), have)
        report(progress, blob.digest, "Download complete", have, blob.size)
        return verified

    def _copy(self, response: Any, out: Any, hasher: hashlib._Hash, have: int, blob: BlobRef,
              progress: ProgressFn | None, stop: threading.Event, cancel: threading.Event | None) -> int:
        try:
            while chunk := response.read_chunk():
                if stop.is_set() or (cancel is not None and cancel.is_set()):
                    raise Cancelled("pull cancelled; finished layers are kept for the next pull")
                out.write(chunk)
                hasher.update(chunk)
                have += len(chunk)
                report(progress, blob.digest or "", "Downloading", have, blob.size)
        finally:
            response.close()
        return have

    def _verified(self, partial: str, final: str, blob: BlobRef, got: str, size: int) -> str:
        if blob.size >= 0 and size < blob.size:
            raise RegistryError(f"blob {blob.digest}: connection dropped after {size} of {blob.size} bytes; "
                                "pull again to resume")
        if got != blob.digest or (blob.size >= 0 and size != blob.size):
            os.unlink(partial)
            raise DigestMismatch(f"blob {blob.digest}: digest mismatch: got {got} ({size} bytes)")
        os.rename(partial, final)
        return final

    def _finish(self, ref: reference.Reference, layers: list[BlobRef], diff_ids: list[str]) -> None:
        """Remember which blobs the layers came from (push mounts them), and free the download dir."""
        for blob, diff_id in zip(layers, diff_ids):
            assert blob.digest is not None
            self.metadata.add(diff_id, KnownBlob(blob.digest, ref.name, blob.media_type, blob.size))
            path = os.path.join(self.downloads, blob.digest.removeprefix("sha256:"))
            if os.path.exists(path):
                os.unlink(path)


    def _lock(self, blob_hex: str) -> None:
        """Hold the blob's lock until the pull ends (the registered layer no longer needs its blob)."""
        with self._locks_mutex:
            if blob_hex in self._locks:
                return
        lock = BlobLock(self.downloads, blob_hex)
        with self._locks_mutex:
            self._locks[blob_hex] = lock

    def _release_locks(self) -> None:
        with self._locks_mutex:
            locks, self._locks = self._locks, {}
        for blob_hex, lock in locks.items():
            final = os.path.join(self.downloads, blob_hex)
            lock.release(unlink=not os.path.exists(final) and not os.path.exists(final + fmt.PARTIAL_SUFFIX))

    def _drop_downloads(self) -> None:
        """Delete every blob (whole or partial) this pull holds."""
        with self._locks_mutex:
            held = list(self._locks)
        for blob_hex in held:
            final = os.path.join(self.downloads, blob_hex)
            _unlink_quietly(final)
            _unlink_quietly(final + fmt.PARTIAL_SUFFIX)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _opener(path: str) -> Callable[[str], IO[bytes]]:
    """LayerImporter opens blobs by name; a downloaded blob's name is its path."""
    return lambda _name: open(path, "rb")


def _hash_existing(partial: str) -> tuple[hashlib._Hash, int]:
    hasher = hashlib.sha256()
    have = 0
    try:
        with open(partial, "rb") as f:
            while chunk := f.read(_CHUNK):
                hasher.update(chunk)
                have += len(chunk)
    except FileNotFoundError:
        pass
    return hasher, have


def _blob(desc: dict[str, Any]) -> BlobRef:
    """A layer descriptor as a BlobRef."""
    if desc.get("mediaType") == fmt.DOCKER_FOREIGN_LAYER or desc.get("urls"):
        raise RegistryError("the image has foreign layers (Windows base layers), which berth does not pull")
    digest = fmt.check_digest_form(desc.get("digest", ""), "manifest layer")
    return BlobRef(f"blob {digest}", digest, int(desc.get("size", -1)), str(desc.get("mediaType", fmt.OCI_LAYER_GZIP)))


def _diff_ids(config: bytes, layers: int) -> list[str]:
    try:
        diff_ids = json.loads(config)["rootfs"]["diff_ids"]
    except (ValueError, KeyError, TypeError) as err:
        raise RegistryError(f"the image config is not an image config ({err})") from err
    if not isinstance(diff_ids, list) or len(diff_ids) != layers:
        raise RegistryError(f"the image config lists {len(diff_ids)} layers, the manifest {layers}")
    return [fmt.check_digest_form(d, "config diff_id") for d in diff_ids]


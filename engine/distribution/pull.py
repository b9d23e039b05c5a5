"""``pull``: an image from a registry, layers fetched in parallel and registered in order.

Each layer is applied while it downloads: the applier follows the blob's file as
the download writes it (``feed``), and reaches the end of it only once the
download has verified the digest, so no layer is committed from unverified bytes.

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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .. import reference
from ..errors import Cancelled, DigestMismatch, RegistryError, StoreFull
from ..images import ImageService
from ..importer import Importer
from ..store.layers import chain_id_for
from ..store.paths import StorePaths
from . import formats as fmt
from .credentials import CredentialStore
from .downloads import BlobLock
from .feed import BlobFeed
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
        """Download what the store lacks, PARALLEL_DOWNLOADS at a time; apply each, in order, as it arrives."""
        stop = threading.Event()
        importer = LayerImporter(self.images)
        chains, parent = [], None
        for diff_id in diff_ids:
            parent = chain_id_for(parent, diff_id)
            chains.append(parent)
        wanted = [i for i, blob in enumerate(layers) if not self.images.layers.exists(chains[i])]
        fresh = list(dict.fromkeys(layers[i].digest for i in wanted))
        for digest in fresh:
            report(progress, digest or "", "Pulling fs layer")
        for digest in fresh[PARALLEL_DOWNLOADS:]:
            report(progress, digest or "", "Waiting")  # queued behind the downloads that start now
        # Images repeat blobs (the empty layer): each is fetched once, and its feed read once per use.
        feeds = {digest: BlobFeed() for digest in fresh}
        jobs = {i: feeds[layers[i].digest] for i in wanted}
        try:
            with ThreadPoolExecutor(PARALLEL_DOWNLOADS, thread_name_prefix="berth-pull") as pool:
                for digest in fresh:
                    pool.submit(self._download, client, next(layers[i] for i in wanted if layers[i].digest == digest),
                                feeds[digest], progress, stop, cancel)
                try:
                    self._register(layers, diff_ids, jobs, importer, progress, cancel)
                except BaseException:
                    stop.set()  # the other downloads stop; what they finished stays for the next pull
                    raise
        finally:
            for feed in feeds.values():
                feed.close()  # the pool has ended: no download opens one any more

    def _register(self, layers: list[BlobRef], diff_ids: list[str], jobs: dict[int, BlobFeed],
                  importer: LayerImporter, progress: ProgressFn | None, cancel: threading.Event | None) -> None:
        parent = None
        for i, (blob, diff_id) in enumerate(zip(layers, diff_ids, strict=True)):
            if i in jobs:
                # The feed's reader ends only on a verified blob, and raises what failed its download.
                importer.add(_follower(jobs[i]), blob, diff_id, parent, progress=progress, cancel=cancel,
                             done="Pull complete", verified=True)
            else:
                report(progress, blob.digest or "", "Already exists")
            parent = chain_id_for(parent, diff_id)

    def _download(self, client: RegistryClient, blob: BlobRef, feed: BlobFeed, progress: ProgressFn | None,
                  stop: threading.Event, cancel: threading.Event | None) -> str:
        """The verified blob's path in the download dir; ``feed`` follows it as it is written."""
        try:
            path = self._fetch(client, blob, feed, progress, stop, cancel)
        except BaseException as err:
            feed.fail(err)
            raise
        feed.finish()
        return path

    def _fetch(self, client: RegistryClient, blob: BlobRef, feed: BlobFeed, progress: ProgressFn | None,
               stop: threading.Event, cancel: threading.Event | None) -> str:
        """Fetch into ``.partial`` (resuming one left by an earlier pull), verify, rename to the final name."""
        assert blob.digest is not None
        final = os.path.join(self.downloads, blob.digest.removeprefix("sha256:"))
        partial = final + fmt.PARTIAL_SUFFIX
        try:
            os.makedirs(self.downloads, exist_ok=True)
            self._lock(blob.digest.removeprefix("sha256:"))
            if os.path.exists(final):  # an earlier pull (or one we waited for) finished it
                feed.start(final, os.path.getsize(final))
                report(progress, blob.digest, "Download complete", blob.size, blob.size)
                return self._recheck(final, blob)
            hasher, have = _hash_existing(partial)
            response = client.send("GET", client.url(f"blobs/{blob.digest}"),
                                   headers={"Range": f"bytes={have}-"} if have else {})
            if response.status not in (200, 206):
                raise client.fail(response, f"blob {blob.digest}")
            if response.status == 200 and have:
                hasher, have = hashlib.sha256(), 0  # the registry ignored the range: start over
            # Unbuffered: what the feed says is written must be in the file for its reader.
            with open(partial, "ab" if have else "wb", buffering=0) as out:
                feed.start(partial, have)
                have = self._copy(response, out.fileno(), feed, hasher, have, blob, progress, stop, cancel)
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

    def _copy(self, response: Any, out: int, feed: BlobFeed, hasher: hashlib._Hash, have: int, blob: BlobRef,
              progress: ProgressFn | None, stop: threading.Event, cancel: threading.Event | None) -> int:
        try:
            while chunk := response.read_chunk():
                if stop.is_set() or (cancel is not None and cancel.is_set()):
                    raise Cancelled("pull cancelled; finished layers are kept for the next pull")
                view = memoryview(chunk)
                while view:
                    view = view[os.write(out, view):]
                feed.grow(len(chunk))
                hasher.update(chunk)
                have += len(chunk)
                report(progress, blob.digest or "", "Downloading", have, blob.size)
        finally:
            response.close()
        return have

    def _recheck(self, final: str, blob: BlobRef) -> str:
        """A blob kept by an earlier pull, hashed again (while the applier reads it) before the feed ends it."""
        hasher, size = _hash_existing(final)
        got = "sha256:" + hasher.hexdigest()
        if got != blob.digest or (blob.size >= 0 and size != blob.size):
            os.unlink(final)  # the next pull fetches it again instead of failing on it forever
            raise DigestMismatch(f"blob {blob.digest}: the copy kept from an earlier pull is damaged "
                                 f"(got {got}, {size} bytes); pull again")
        return final

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
        for blob, diff_id in zip(layers, diff_ids, strict=True):
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


def _follower(feed: BlobFeed) -> Callable[[str], Any]:
    """LayerImporter opens blobs by name; a pulled blob is read from its feed, from the first byte."""
    return lambda _name: feed.reader()


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


"""``DistributionService``: save, load, pull, push, login and logout over one store, and their events.

``load`` appends one ``image load`` per image stored, ``pull`` one ``image pull``
and ``push`` one ``image push`` (it records in the store which blobs a registry
holds). ``save``, ``login`` and ``logout`` change nothing in the store: no event.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from ..context import StoreContext
    from .load import LoadedImage
    from .progress import ProgressFn
    from .pull import PullResult
    from .push import PushResult

__all__ = ["DistributionService"]


class DistributionService:
    """Images in and out of one store: archives, OCI layouts and registries."""

    def __init__(self, store: StoreContext) -> None:
        self.store = store

    def save(self, names: list[str], out: BinaryIO, *, progress: ProgressFn | None = None,
             cancel: threading.Event | None = None) -> None:
        from .save import ImageSaver

        ImageSaver(self.store.paths, self.store.images).save(names, out, progress=progress, cancel=cancel)

    def load(self, path: str | None, stdin: BinaryIO | None = None, *, platform: str | None = None,
             progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> list[LoadedImage]:
        import sys

        from .load import ImageLoader
        from .platform import parse_platform
        from .sources import open_source

        self.store.writable()
        want = parse_platform(platform) if platform else None
        with open_source(path, stdin or sys.stdin.buffer, self.store.paths.staging) as source:
            loaded = ImageLoader(self.store.images, self.store.importer).load(source, platform=want,
                                                                              progress=progress, cancel=cancel)
        for image in loaded:
            self.store.journal.append("image", "load", image.id, ",".join(image.refs))
        return loaded

    def pull(self, name: str, *, platform: str | None = None, insecure: bool = False,
             config_path: str | None = None, progress: ProgressFn | None = None,
             cancel: threading.Event | None = None) -> PullResult:
        from .credentials import CredentialStore
        from .platform import parse_platform
        from .pull import Puller

        self.store.writable()
        want = parse_platform(platform) if platform else None
        puller = Puller(self.store.paths, self.store.images, self.store.importer, CredentialStore(config_path))
        result = puller.pull(name, platform=want, insecure=insecure, progress=progress, cancel=cancel)
        self.store.journal.append("image", "pull", result.image_id, result.ref)
        return result

    def push(self, name: str, *, insecure: bool = False, compression: str = "gzip",
             chunk_size: int | None = None, config_path: str | None = None,
             progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> PushResult:
        from .credentials import CredentialStore
        from .push import CHUNK_SIZE, Pusher, PushOptions

        self.store.writable()  # push records which blobs a registry holds, in the store
        options = PushOptions(insecure, compression, chunk_size or CHUNK_SIZE)
        result = Pusher(self.store.paths, self.store.images, CredentialStore(config_path)).push(
            name, options, progress=progress, cancel=cancel)
        self.store.journal.append("image", "push", self.store.images.resolve(name), name)
        return result

    def login(self, server: str, username: str, password: str, *, insecure: bool = False,
              config_path: str | None = None) -> None:
        from .credentials import Credentials, CredentialStore, registry_domain
        from .insecure import InsecureRegistries
        from .registry import RegistryClient

        domain = registry_domain(server)
        creds = Credentials(username, password)
        with RegistryClient(domain, "", credentials=creds, insecure=insecure,
                            insecure_registries=InsecureRegistries.for_store(self.store.paths.root)) as client:
            client.verify_login()
        CredentialStore(config_path).store(domain, creds)

    def logout(self, server: str | None = None, *, config_path: str | None = None) -> bool:
        from .credentials import CredentialStore, registry_domain

        return CredentialStore(config_path).erase(registry_domain(server or "docker.io"))

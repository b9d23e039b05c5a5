"""Which registry blobs a layer is known by: diffID → [(digest, repository, media type)].

Pull records what it fetched; push records what it uploaded. Push uses it to
skip a blob the repository has, or to mount it from a sibling repository.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from ..store import atomic
from ..store.locks import FileLock
from . import formats as fmt

__all__ = ["BlobMetadata", "KnownBlob"]

_MAX_ENTRIES = 50  # Docker keeps a bounded list too; old repositories fall off the end


@dataclass(frozen=True)
class KnownBlob:
    """A compressed form of a layer some repository holds."""

    digest: str
    repository: str
    """Full name with the registry, e.g. ``127.0.0.1:5000/team/app``."""
    media_type: str
    size: int


class BlobMetadata:
    """The v2metadata-by-diffid records of one store."""

    def __init__(self, root: str, lock: FileLock) -> None:
        self.dir = os.path.join(root, fmt.V2METADATA_DIR)
        self.lock = lock

    def get(self, diff_id: str) -> list[KnownBlob]:
        try:
            with open(os.path.join(self.dir, diff_id.removeprefix("sha256:")), encoding="utf-8") as f:
                entries = json.load(f)
            return [KnownBlob(e["Digest"], e["SourceRepository"], e["MediaType"], int(e["Size"])) for e in entries]
        except (OSError, ValueError, KeyError, TypeError):
            return []  # missing or unreadable: only an optimisation is lost

    def add(self, diff_id: str, blob: KnownBlob) -> None:
        with self.lock:
            entries = [b for b in self.get(diff_id) if (b.digest, b.repository) != (blob.digest, blob.repository)]
            entries.insert(0, blob)
            value = [{"Digest": b.digest, "SourceRepository": b.repository, "MediaType": b.media_type, "Size": b.size}
                     for b in entries[:_MAX_ENTRIES]]
            atomic.write_file(os.path.join(self.dir, diff_id.removeprefix("sha256:")), json.dumps(value))

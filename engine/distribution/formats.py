"""Media types and file names of the formats berth reads and writes.

Sources: the OCI image-spec (image-layout.md, manifest.md, image-index.md,
annotations.md), Docker's image manifest v2 schema 2, and the files
``docker save`` writes (manifest.json since Docker 1.10; blobs/ since 25.0).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from ..errors import DigestMismatch

OCI_LAYOUT_FILE = "oci-layout"
OCI_LAYOUT_VERSION = "1.0.0"
OCI_INDEX_FILE = "index.json"
BLOBS_DIR = "blobs"
DOCKER_MANIFEST_FILE = "manifest.json"
DOCKER_REPOSITORIES_FILE = "repositories"

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
# containerd and Docker 25+ put the full image name here; ref.name holds the tag only.
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"

_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest_form(digest: str, what: str) -> str:
    """Refuse a digest berth cannot verify (only sha256 is supported) or a malformed one."""
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise DigestMismatch(f"{what}: unsupported or malformed digest {digest!r}")
    return digest


def verify_bytes(data: bytes, digest: str, what: str) -> bytes:
    """``data`` if it hashes to ``digest``; DigestMismatch otherwise."""
    got = sha256_digest(data)
    if got != check_digest_form(digest, what):
        raise DigestMismatch(f"{what}: digest mismatch: expected {digest}, got {got}")
    return data


def blob_path(digest: str) -> str:
    """``blobs/sha256/<hex>``: where a blob lives in an OCI layout (and a Docker 25 archive)."""
    algo, _, hexpart = check_digest_form(digest, "blob").partition(":")
    return f"{BLOBS_DIR}/{algo}/{hexpart}"


def descriptor(media_type: str, data_digest: str, size: int, **extra: Any) -> dict[str, Any]:
    """An OCI content descriptor."""
    out: dict[str, Any] = {"mediaType": media_type, "digest": data_digest, "size": size}
    out.update(extra)
    return out


def canonical_json(value: Any) -> bytes:
    """Compact JSON for the manifests and indexes berth writes."""
    import json

    return json.dumps(value, separators=(",", ":")).encode()


# Store-side names, under the store root (Docker keeps the same records in image/overlay2/distribution/).
DAEMON_CONFIG_FILE = "daemon.json"
"""Settings in Docker's daemon.json shape; berth reads ``insecure-registries`` from it (``insecure.py``)."""
DISTRIBUTION_DIR = "image/overlay2/distribution"  # the store's paths.TAR_SPLIT_DIR lives below it
DOWNLOADS_DIR = DISTRIBUTION_DIR + "/downloads"
"""Blobs of unfinished pulls: ``<hex>.partial`` while arriving, ``<hex>`` once verified."""
V2METADATA_DIR = DISTRIBUTION_DIR + "/v2metadata-by-diffid/sha256"
"""Per diffID, the compressed blobs it is known by on registries (for push: skip or mount)."""
PARTIAL_SUFFIX = ".partial"
TAR_SPLIT_DIR = DISTRIBUTION_DIR + "/tar-split"
"""Per diffID, what it takes to rebuild a layer tar that berth did not write itself (``tarsplit.py``)."""

"""Fetching and parsing manifests and image indexes from a registry, digests checked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import DigestMismatch, RegistryError
from . import formats as fmt
from .platform import Platform, select_manifest
from .registry import RegistryClient

__all__ = ["Manifest", "fetch_image_manifest"]

_MANIFEST_LIMIT = 4 << 20  # the distribution spec lets registries refuse manifests over 4 MiB
_ACCEPT = f"{fmt.OCI_INDEX}, {fmt.DOCKER_LIST}, {fmt.OCI_MANIFEST}, {fmt.DOCKER_MANIFEST}"


@dataclass(frozen=True)
class Manifest:
    """One image manifest: its bytes' digest and the parsed document."""

    digest: str
    media_type: str
    value: dict[str, Any]


def fetch(client: RegistryClient, ref: str, what: str) -> tuple[bytes, str, str]:
    """(bytes, media type, digest) of the manifest or index at a tag or digest."""
    response = client.send("GET", client.url(f"manifests/{ref}"), headers={"Accept": _ACCEPT})
    if response.status != 200:
        raise client.fail(response, f"manifest for {what}")
    data = response.read()
    response.close()
    if len(data) > _MANIFEST_LIMIT:
        raise RegistryError(f"manifest for {what} is larger than {_MANIFEST_LIMIT} bytes")
    digest = fmt.sha256_digest(data)
    claimed = response.header("Docker-Content-Digest")
    if ref.startswith("sha256:"):
        fmt.verify_bytes(data, ref, f"manifest for {what}")
    elif claimed.startswith("sha256:") and claimed != digest:
        raise DigestMismatch(f"manifest for {what}: digest mismatch: registry says {claimed}, content is {digest}")
    return data, response.header("Content-Type").split(";")[0].strip(), digest


def _parse(data: bytes, media_type: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError as err:
        raise RegistryError(f"manifest for {what} is not JSON ({err})") from err
    if not isinstance(value, dict):
        raise RegistryError(f"manifest for {what} is not a JSON object")
    if value.get("schemaVersion") == 1:
        raise RegistryError(f"manifest for {what} is Docker schema 1, which berth does not pull")
    value.setdefault("mediaType", media_type)
    return value


def fetch_image_manifest(client: RegistryClient, ref: str, platform: Platform, what: str) -> Manifest:
    """The image manifest for ``platform``, going through an index or manifest list when there is one."""
    data, media_type, digest = fetch(client, ref, what)
    value = _parse(data, media_type, what)
    if value["mediaType"] in fmt.INDEX_TYPES or "manifests" in value:
        desc = select_manifest(value, platform, what)
        digest = fmt.check_digest_form(desc.get("digest", ""), f"index of {what}")
        data, media_type, _ = fetch(client, digest, what)
        value = _parse(data, media_type, what)
    if value["mediaType"] not in fmt.MANIFEST_TYPES and "layers" not in value:
        raise RegistryError(f"manifest for {what} has unsupported media type {value['mediaType']!r}")
    return Manifest(digest, value["mediaType"], value)

"""Image names: ``[registry/]repo[:tag][@digest]``, normalised the way Docker does.

``busybox`` is ``docker.io/library/busybox:latest``; the familiar form drops the
default registry and ``library/`` again for display and for repositories.json.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidReference

__all__ = ["Reference", "parse", "DEFAULT_TAG", "DEFAULT_REGISTRY"]

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
_OFFICIAL = "library"
_LEGACY_REGISTRIES = ("index.docker.io", "registry-1.docker.io")

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_DOMAIN = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$"
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_FULL_ID = re.compile(r"^[a-f0-9]{64}$")
_NAME_MAX = 255


@dataclass(frozen=True)
class Reference:
    """A parsed, normalised image reference."""

    domain: str
    path: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """The full repository name, e.g. ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The repository as Docker prints it, e.g. ``busybox``."""
        if self.domain != DEFAULT_REGISTRY:
            return self.name
        prefix = _OFFICIAL + "/"
        return self.path[len(prefix):] if self.path.startswith(prefix) else self.path

    def __str__(self) -> str:
        text = self.familiar_name
        if self.tag is not None:
            text += ":" + self.tag
        if self.digest is not None:
            text += "@" + self.digest
        return text


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        if first in _LEGACY_REGISTRIES:
            first = DEFAULT_REGISTRY
        return first, rest
    return DEFAULT_REGISTRY, name


def parse(text: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalise ``text``; ``busybox`` gets ``:latest`` unless ``default_tag`` is false.

    Raises:
        InvalidReference: when ``text`` is not a valid reference.
    """
    if not text or len(text) > _NAME_MAX + 200:
        raise InvalidReference(f"invalid reference format: {text!r}")
    if _FULL_ID.match(text):
        raise InvalidReference(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    remainder, _, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        raise InvalidReference(f"invalid reference format: digest {digest!r} is not sha256:<64 hex digits>")
    name, tag = _split_tag(remainder)
    domain, path = _split_domain(name)
    _check_path(text, domain, path)
    if domain == DEFAULT_REGISTRY and "/" not in path:
        path = f"{_OFFICIAL}/{path}"
    if tag is None and not digest and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest or None)


def _split_tag(remainder: str) -> tuple[str, str | None]:
    colon = remainder.rfind(":")
    if colon > remainder.rfind("/"):
        tag = remainder[colon + 1:]
        if not _TAG.match(tag):
            raise InvalidReference(f"invalid reference format: tag {tag!r} is not valid")
        return remainder[:colon], tag
    return remainder, None


def _check_path(text: str, domain: str, path: str) -> None:
    if not _DOMAIN.match(domain):
        raise InvalidReference(f"invalid reference format: {text!r}")
    if any(c.isupper() for c in path):
        raise InvalidReference(f"invalid reference format: repository name must be lowercase: {text!r}")
    if not path or not all(_COMPONENT.match(part) for part in path.split("/")):
        raise InvalidReference(f"invalid reference format: {text!r}")
    if len(domain) + 1 + len(path) > _NAME_MAX:
        raise InvalidReference("invalid reference format: repository name must not be more than "
                               f"{_NAME_MAX} characters")

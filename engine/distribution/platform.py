"""Platforms (``linux/amd64``, ``linux/arm64/v8``) and picking one manifest out of an index."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgument, PlatformNotFound

__all__ = ["Platform", "host_platform", "parse_platform", "select_manifest"]

# uname -m → GOARCH, the names image indexes use (image-index.md, "platform").
_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm",
           "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


@dataclass(frozen=True)
class Platform:
    """An OS, architecture and optional variant."""

    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def host_platform() -> Platform:
    """This machine's platform; linux/amd64 on the usual server."""
    machine = os.uname().machine
    return Platform("linux", _GOARCH.get(machine, machine), "v8" if machine == "aarch64" else "")


def parse_platform(text: str) -> Platform:
    """``os/arch[/variant]``, as ``--platform`` takes it."""
    parts = text.strip().lower().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidArgument(f"invalid platform {text!r}: expected os/arch[/variant], e.g. linux/amd64")
    return Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else "")


def _matches(entry: dict[str, Any], want: Platform) -> bool:
    plat = entry.get("platform") or {}
    if plat.get("os") != want.os or plat.get("architecture") != want.architecture:
        return False
    variant = plat.get("variant", "")
    # arm64 images often omit v8; a wanted variant only rules out a different explicit one.
    return not want.variant or not variant or variant == want.variant


def select_manifest(index: dict[str, Any], want: Platform, name: str) -> dict[str, Any]:
    """The descriptor in ``index`` for ``want``; PlatformNotFound names what there is instead."""
    entries = [e for e in index.get("manifests") or [] if isinstance(e, dict)]
    for entry in entries:
        if _matches(entry, want):
            return entry
    have = sorted({_describe(e) for e in entries if e.get("platform")})
    raise PlatformNotFound(
        f"no matching manifest for {want} in the manifest list entries of {name}"
        + (f" (it has: {', '.join(have)})" if have else ""))


def _describe(entry: dict[str, Any]) -> str:
    plat = entry["platform"]
    return str(Platform(str(plat.get("os", "?")), str(plat.get("architecture", "?")), str(plat.get("variant", ""))))

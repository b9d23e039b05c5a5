"""``--security-opt`` and ``--privileged``: from flags to hostconfig.json, and from there to the runtime's settings.

Docker's CLI replaces ``seccomp=FILE`` by the file's JSON before it reaches the
daemon, so ``HostConfig.SecurityOpt`` holds the profile itself; berth does the
same at create, so a later edit or removal of the file does not change the
container. ``apparmor=`` and ``label=`` are accepted and have no effect, as on a
Docker host without AppArmor or SELinux.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgument
from ..runtime.capabilities import CAPABILITIES, DEFAULT_CAPABILITIES
from ..runtime.seccomp_profile import DEFAULT_PROFILE, Profile, load_profile

__all__ = ["normalize_security_opts", "Security", "container_security"]

_BOOLS = {"1": True, "t": True, "true": True, "T": True, "TRUE": True, "True": True,
          "0": False, "f": False, "false": False, "F": False, "FALSE": False, "False": False}


def _split(opt: str) -> tuple[str, str]:
    """Docker's KEY=VALUE (or the old KEY:VALUE) split; ``no-new-privileges`` and ``disable`` stand alone."""
    if opt in ("no-new-privileges", "disable"):
        return opt, ""
    sep = "=" if "=" in opt else ":" if ":" in opt else ""
    if not sep:
        raise InvalidArgument(f'invalid --security-opt 1: "{opt}"')
    key, _, value = opt.partition(sep)
    return key, value


def normalize_security_opts(entries: tuple[str, ...]) -> list[str]:
    """Check each ``--security-opt`` and load ``seccomp=FILE`` into the entry (as compact JSON)."""
    out = []
    for opt in entries:
        key, value = _split(opt)
        if key == "seccomp" and value != "unconfined":
            try:
                with open(value, encoding="utf-8") as f:
                    text = f.read()
            except OSError as err:
                raise InvalidArgument(f"opening seccomp profile ({value}) failed: {err.strerror}") from err
            try:
                compact = json.dumps(json.loads(text), separators=(",", ":"))
            except ValueError as err:
                raise InvalidArgument(f"compacting json for seccomp profile ({value}) failed: {err}") from err
            _profile(compact)  # refuse a profile berth cannot compile now, not at start
            opt = "seccomp=" + compact
        elif key == "no-new-privileges" and value and value not in _BOOLS:
            raise InvalidArgument(f'invalid --security-opt 2: "{opt}"')
        elif key not in ("seccomp", "no-new-privileges", "apparmor", "label", "disable"):
            raise InvalidArgument(f'invalid --security-opt 2: "{opt}"')
        out.append(opt)
    return out


@functools.lru_cache(maxsize=16)
def _profile(text: str) -> Profile:
    profile = load_profile(text)
    from ..runtime.seccomp import build_program

    build_program(profile)
    return profile


@dataclass(frozen=True)
class Security:
    """What the runtime applies to a container's processes (its init and every exec)."""

    capabilities: frozenset[str] = DEFAULT_CAPABILITIES
    seccomp: Profile | None = DEFAULT_PROFILE
    no_new_privileges: bool = False
    privileged: bool = False


def container_security(host: dict[str, Any]) -> Security:
    """The settings hostconfig.json asks for: Docker's defaults, ``--security-opt`` entries, ``--privileged``."""
    privileged = bool(host.get("Privileged"))
    profile: Profile | None = None if privileged else DEFAULT_PROFILE
    no_new_privileges = False
    for opt in host.get("SecurityOpt") or ():
        key, value = _split(opt)
        if key == "no-new-privileges":
            no_new_privileges = _BOOLS.get(value, True) if value else True
        elif key == "seccomp" and not privileged:
            profile = None if value == "unconfined" else _profile(value)
    caps = frozenset(CAPABILITIES) if privileged else DEFAULT_CAPABILITIES
    return Security(caps, profile, no_new_privileges, privileged)

"""From a container's records to the ProcessSpec the runtime executes."""

from __future__ import annotations

import signal
from typing import Any

from ..errors import InvalidArgument
from ..kernel import syscalls
from ..runtime.process import ProcessSpec
from ..runtime.rootfs import BindMount
from .security import container_security

__all__ = ["process_spec", "stop_signal", "parse_signal"]

# Docker's default grace period before SIGKILL (seconds).
DEFAULT_STOP_TIMEOUT = 10


def _etc_mounts(config: dict[str, Any]) -> list[BindMount]:
    """The container's own hostname, hosts and resolv.conf over the init layer's empty files."""
    return [
        BindMount(config["HostnamePath"], "/etc/hostname"),
        BindMount(config["HostsPath"], "/etc/hosts"),
        BindMount(config["ResolvConfPath"], "/etc/resolv.conf"),
    ]


def process_spec(config: dict[str, Any], host: dict[str, Any], rootfs: str, *, stdin: int, stdout: int,
                 stderr: int, cgroup_procs: tuple[str, ...] = (), netns_path: str = "") -> ProcessSpec:
    """The first process of ``config``, on the mounted root ``rootfs``, with the given stdio fds.

    ``netns_path``: a network namespace the engine made (bridge) or another container's to join.
    """
    cfg = config["Config"]
    argv = [config["Path"], *config["Args"]] if config.get("Path") else []
    if not argv:
        raise InvalidArgument("no command specified")
    binds = [BindMount(m["Source"], m["Destination"], not m["RW"]) for m in (config.get("MountPoints") or {}).values()]
    tmpfs = tuple((path, opts) for path, opts in (host.get("Tmpfs") or {}).items())
    namespaces = syscalls.CLONE_NEWCGROUP if cgroup_procs else 0
    if host.get("NetworkMode", "none") != "host" and not netns_path:
        namespaces |= syscalls.CLONE_NEWNET
    security = container_security(host)
    return ProcessSpec(
        rootfs=rootfs, argv=argv, env=cfg.get("Env") or [], cwd=cfg.get("WorkingDir") or "/",
        capabilities=security.capabilities, seccomp=security.seccomp,
        no_new_privileges=security.no_new_privileges, privileged=security.privileged,
        user=cfg.get("User") or "", hostname=cfg.get("Hostname") or "", stdin=stdin, stdout=stdout,
        stderr=stderr, mounts=[*_etc_mounts(config), *binds], namespaces=namespaces, cgroup_procs=cgroup_procs,
        tmpfs=tmpfs, readonly_rootfs=bool(host.get("ReadonlyRootfs")), netns_path=netns_path,
    )


def parse_signal(name: str | int) -> int:
    """``SIGTERM``, ``TERM``, ``15`` → 15."""
    text = str(name).upper()
    if text.isdigit():
        return int(text)
    try:
        return int(signal.Signals["SIG" + text.removeprefix("SIG")])
    except KeyError as err:
        raise InvalidArgument(f"invalid signal: {name}") from err


def stop_signal(config: dict[str, Any]) -> int:
    return parse_signal(config["Config"].get("StopSignal") or "SIGTERM")


def stop_timeout(config: dict[str, Any]) -> int:
    value = config["Config"].get("StopTimeout")
    return DEFAULT_STOP_TIMEOUT if value is None else int(value)

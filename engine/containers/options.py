"""What ``create``/``run`` were asked for, parsed from flags into one frozen value."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from ..errors import InvalidArgument
from ..runtime.network import NETWORK_MODES

__all__ = ["CreateOptions", "parse_bind", "parse_restart", "parse_size"]

RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")
LOG_OPTS = ("max-size", "max-file")
VOLUME_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


@dataclass(frozen=True)
class CreateOptions:
    """A container to create: the image and Docker's ``create`` flags."""

    image: str
    cmd: tuple[str, ...] | None = None
    """Arguments after the image; None keeps the image's CMD."""
    entrypoint: tuple[str, ...] | None = None
    """``--entrypoint``; None keeps the image's, () clears it."""
    name: str = ""
    env: tuple[str, ...] = ()
    workdir: str = ""
    user: str = ""
    hostname: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    binds: tuple[str, ...] = ()
    """``HOST:CTR[:ro|rw]`` entries."""
    network: str = "bridge"
    auto_remove: bool = False
    restart: str = "no"
    stop_signal: str = ""
    stop_timeout: int | None = None
    tty: bool = False
    open_stdin: bool = False
    read_only: bool = False
    tmpfs: tuple[str, ...] = ()
    """``--tmpfs PATH[:OPTIONS]`` entries."""
    memory: int = 0
    nano_cpus: int = 0
    pids_limit: int = 0
    log_opts: dict[str, str] = field(default_factory=dict)
    """``--log-opt``: json-file's ``max-size`` and ``max-file``."""
    ip: str = ""
    """``--ip``: the address on a user network."""
    add_hosts: tuple[str, ...] = ()
    """``--add-host NAME:IP`` entries for /etc/hosts."""
    dns: tuple[str, ...] = ()
    """``--dns`` servers, replacing the host's in resolv.conf."""
    publish: tuple[str, ...] = ()
    """``-p [IP:][HOSTPORT:]CTRPORT[/proto]`` entries."""
    publish_all: bool = False
    """``-P``: every EXPOSEd port on a random host port."""
    security_opt: tuple[str, ...] = ()
    """``--security-opt`` entries: ``no-new-privileges[:true|false]``, ``seccomp=unconfined|FILE``,
    ``apparmor=…``/``label=…`` (accepted, no effect)."""
    privileged: bool = False
    """``--privileged``: every capability, no seccomp, the host's devices, /sys writable, nothing masked."""

    def validate(self) -> None:
        """Reject what Docker rejects before anything is created."""
        self._validate_network()
        if self.workdir and not self.workdir.startswith("/"):
            raise InvalidArgument(f"the working directory '{self.workdir}' is invalid, it needs to be an absolute path")
        parse_restart(self.restart)
        from .security import normalize_security_opts

        normalize_security_opts(self.security_opt)
        if self.auto_remove and self.restart != "no":
            raise InvalidArgument("conflicting options: --restart and --rm")
        for bind in self.binds:
            parse_bind(bind)
        for entry in self.tmpfs:
            if not entry.startswith("/"):
                raise InvalidArgument(f"invalid mount path for --tmpfs: '{entry}': it needs to be absolute")
        for key, value in self.log_opts.items():
            if key not in LOG_OPTS:
                raise InvalidArgument(f"unknown log opt '{key}' for json-file log driver")
            if key == "max-size":
                parse_size(value)
            elif not value.isdigit() or int(value) < 1:
                raise InvalidArgument(f"invalid value for max-file: {value}")


    def _validate_network(self) -> None:
        """Docker's checks on ``--network`` and the flags that depend on it (existence is checked at create)."""
        from ..network.etcfiles import parse_add_host
        from ..network.networks import network_name_ok
        from ..network.ports import parse_publish_ranges

        mode = self.network
        if mode.startswith("container:"):
            if not mode.partition(":")[2]:
                raise InvalidArgument("--network: container: needs a container name or ID")
            if self.publish or self.publish_all:
                raise InvalidArgument("conflicting options: port publishing and the container type network mode")
            if self.hostname:
                raise InvalidArgument("conflicting options: hostname and the network mode")
            if self.dns or self.add_hosts:
                raise InvalidArgument("conflicting options: dns and the network mode")
        elif mode not in NETWORK_MODES and not network_name_ok(mode):
            raise InvalidArgument(f"network {mode} not found")
        for entry in self.add_hosts:
            parse_add_host(entry)
        for spec in self.publish:
            parse_publish_ranges(spec)
        if self.ip and mode in NETWORK_MODES:
            raise InvalidArgument("user specified IP address is supported on user defined networks only")


def parse_bind(spec: str) -> tuple[str, str, bool]:
    """``HOST:CTR[:ro|rw]``, ``VOLUME:CTR[:ro|rw]`` or ``CTR`` → (host path, volume name or "" for an anonymous
    volume; container path; read-only)."""
    if os.path.isabs(spec) and ":" not in spec:
        return "", spec, False  # ``-v /path``: an anonymous volume
    parts = spec.split(":")
    mode = parts.pop() if len(parts) == 3 else "rw"
    if len(parts) != 2 or mode not in ("ro", "rw") or not all(parts):
        raise InvalidArgument(f"invalid volume specification: '{spec}'")
    host, ctr = parts
    if not os.path.isabs(host) and not VOLUME_NAME.fullmatch(host):
        raise InvalidArgument(f"invalid volume specification: '{spec}': \"{host}\" is not an absolute host path "
                              "or a valid volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)")
    if not os.path.isabs(ctr):
        raise InvalidArgument(f"invalid volume specification: '{spec}': mount path must be absolute")
    return host, ctr, mode == "ro"


def parse_restart(policy: str) -> tuple[str, int]:
    """``on-failure:3`` → ("on-failure", 3)."""
    name, _, count = policy.partition(":")
    if name not in RESTART_POLICIES or (count and (name != "on-failure" or not count.isdigit())):
        raise InvalidArgument(f"invalid restart policy '{policy}'")
    return name, int(count or 0)


def parse_size(text: str) -> int:
    """Docker's RAMInBytes: a number and an optional binary unit (``512m``, ``1g``, ``10kb``)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmgt]?)b?", text.strip().lower())
    if not m:
        raise InvalidArgument(f"invalid size: '{text}'")
    return int(float(m.group(1)) * _UNITS[m.group(2)])

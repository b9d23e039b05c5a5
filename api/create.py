"""``POST /containers/create``: Docker's Config + HostConfig JSON onto the CLI's ``CreateOptions``.

A field berth cannot honour is refused with 400 naming it, never silently dropped: a client that
asked for ``CapAdd`` must not get a container without it. Zero values (which clients send for
every field they know) are not requests.
"""

from __future__ import annotations

from typing import Any

from engine import CreateOptions

from .errors import ApiError

__all__ = ["create_options"]

_CONFIG_KEYS = {"Image", "Cmd", "Entrypoint", "Env", "Tty", "OpenStdin", "Labels", "WorkingDir", "User",
                "Hostname", "ExposedPorts", "StopSignal", "StopTimeout", "Volumes", "HostConfig",
                "NetworkingConfig"}
_CONFIG_IGNORED = {"AttachStdin", "AttachStdout", "AttachStderr", "StdinOnce", "Domainname", "ArgsEscaped",
                   "NetworkDisabled", "MacAddress", "OnBuild", "Shell", "platform"}
"""Accepted without effect: attach flags are the attach call's business, StdinOnce is how a pipe ends."""
_HOST_KEYS = {"Binds", "PortBindings", "PublishAllPorts", "AutoRemove", "RestartPolicy", "NetworkMode",
              "Memory", "NanoCpus", "PidsLimit", "Privileged", "ReadonlyRootfs", "Tmpfs", "ExtraHosts", "Dns",
              "SecurityOpt", "LogConfig"}
_HOST_IGNORED = {"ConsoleSize", "Isolation", "CgroupnsMode", "MemorySwappiness", "OomKillDisable",
                 "MaskedPaths", "ReadonlyPaths", "Init"}
"""Hints and defaults: the console size comes again by resize; masks are berth's own unless privileged."""


def _empty(value: Any) -> bool:
    return value in (None, "", 0, False, [], {}) or value == -1


def _refuse_unknown(body: dict[str, Any], known: set[str], ignored: set[str], where: str) -> None:
    for key, value in body.items():
        if key not in known and key not in ignored and not _empty(value):
            raise ApiError(400, f"berth does not support {where}{key} (got {value!r})")


def _words(value: Any, field: str) -> tuple[str, ...] | None:
    """Cmd/Entrypoint: a list, or a string Docker splits on nothing (it is one word); None keeps the image's."""
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ApiError(400, f"{field} must be a list of strings")


def _publish(bindings: dict[str, Any] | None) -> tuple[str, ...]:
    """PortBindings ``{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`` → ``-p`` entries."""
    specs = []
    for port, hosts in (bindings or {}).items():
        for host in hosts or [{}]:
            ip, hport = (host or {}).get("HostIp") or "", (host or {}).get("HostPort") or ""
            if ip:
                specs.append(f"{ip}:{hport}:{port}")
            elif hport:
                specs.append(f"{hport}:{port}")
            else:
                specs.append(port)  # an empty HostPort: a free port, as ``-p 80``
    return tuple(specs)


def _restart(policy: dict[str, Any] | None) -> str:
    name = (policy or {}).get("Name") or "no"
    count = int((policy or {}).get("MaximumRetryCount") or 0)
    return f"{name}:{count}" if name == "on-failure" and count else name


def _log_opts(config: dict[str, Any] | None) -> dict[str, str]:
    kind = (config or {}).get("Type") or "json-file"
    if kind != "json-file":
        raise ApiError(400, f"berth has only the json-file log driver, not {kind}")
    return {str(k): str(v) for k, v in ((config or {}).get("Config") or {}).items()}


def _ip(networking: dict[str, Any] | None, mode: str) -> str:
    endpoints = (networking or {}).get("EndpointsConfig") or {}
    for name, endpoint in endpoints.items():
        if name not in (mode, "default") and not (name == "bridge" and mode == "default"):
            raise ApiError(400, f"berth connects a new container to its NetworkMode only, not also to {name}")
        return ((endpoint or {}).get("IPAMConfig") or {}).get("IPv4Address") or ""
    return ""


def _exposed_only(body: dict[str, Any], publish: dict[str, Any] | None) -> list[str]:
    return [port for port in (body.get("ExposedPorts") or {}) if port not in (publish or {})]


def create_options(body: dict[str, Any], name: str = "") -> CreateOptions:
    """The container Docker's create body asks for.

    Raises:
        ApiError: 400 for a field berth does not support or a value of the wrong type.
    """
    if not isinstance(body, dict) or not body.get("Image"):
        raise ApiError(400, "config is missing the Image")
    host = body.get("HostConfig") or {}
    _refuse_unknown(body, _CONFIG_KEYS, _CONFIG_IGNORED, "")
    _refuse_unknown(host, _HOST_KEYS, _HOST_IGNORED, "HostConfig.")
    exposed = _exposed_only(body, host.get("PortBindings"))
    if exposed and not host.get("PublishAllPorts"):
        raise ApiError(400, f"berth cannot expose ports without publishing them: {', '.join(exposed)}")
    mode = host.get("NetworkMode") or "default"
    network = "bridge" if mode == "default" else mode
    anonymous = tuple(path for path in (body.get("Volumes") or {}))
    entrypoint = _words(body.get("Entrypoint"), "Entrypoint")
    return CreateOptions(
        image=str(body["Image"]), cmd=_words(body.get("Cmd"), "Cmd"),
        entrypoint=() if entrypoint in ((), ("",)) else entrypoint,
        name=name.lstrip("/"), env=tuple(body.get("Env") or ()), workdir=body.get("WorkingDir") or "",
        user=body.get("User") or "", hostname=body.get("Hostname") or "",
        labels={str(k): str(v) for k, v in (body.get("Labels") or {}).items()},
        binds=tuple(host.get("Binds") or ()) + anonymous, network=network,
        auto_remove=bool(host.get("AutoRemove")), restart=_restart(host.get("RestartPolicy")),
        stop_signal=body.get("StopSignal") or "", stop_timeout=body.get("StopTimeout"),
        tty=bool(body.get("Tty")), open_stdin=bool(body.get("OpenStdin")),
        read_only=bool(host.get("ReadonlyRootfs")),
        tmpfs=tuple(f"{path}:{opts}" if opts else path for path, opts in (host.get("Tmpfs") or {}).items()),
        memory=int(host.get("Memory") or 0), nano_cpus=int(host.get("NanoCpus") or 0),
        pids_limit=max(0, int(host.get("PidsLimit") or 0)), log_opts=_log_opts(host.get("LogConfig")),
        ip=_ip(body.get("NetworkingConfig"), mode), add_hosts=tuple(host.get("ExtraHosts") or ()),
        dns=tuple(host.get("Dns") or ()), publish=_publish(host.get("PortBindings")),
        publish_all=bool(host.get("PublishAllPorts")), security_opt=tuple(host.get("SecurityOpt") or ()),
        privileged=bool(host.get("Privileged")),
    )

"""``/_ping``, ``/version``, ``/info``, ``/events``, and Docker's answers to what berth does not serve."""

from __future__ import annotations

import asyncio
import os
import platform
import threading
import time
from typing import Any

from aiohttp import web

from . import API_VERSION, MIN_API_VERSION
from .context import blocking, engine_of
from .convert import event_json, parse_filters
from .errors import ApiError, json_error
from .streams import Send, json_line, pump, watch_disconnect

__all__ = ["BERTH_VERSION", "PING_HEADERS", "routes", "unsupported"]

BERTH_VERSION = "0.1.0"
"""Shown as the Engine's version; pyproject's, as the tree is run uninstalled."""
PING_HEADERS = {"Api-Version": API_VERSION, "Ostype": "linux", "Builder-Version": "1",
                "Docker-Experimental": "false", "Cache-Control": "no-cache, no-store, must-revalidate",
                "Pragma": "no-cache"}
"""``Builder-Version: 1``: the classic builder; a client must not try BuildKit's session protocol."""
SWARM_PREFIXES = ("swarm", "nodes", "services", "tasks", "secrets", "configs")
"""Docker answers these 503 on a node that is not a swarm manager; so does berth, which never is one."""


async def ping(request: web.Request) -> web.Response:
    body = None if request.method == "HEAD" else "OK"
    return web.Response(text=body, content_type="text/plain", headers=PING_HEADERS)


def _arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


async def version(request: web.Request) -> web.Response:
    details = {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "GitCommit": "",
               "GoVersion": f"python{platform.python_version()}", "Os": "linux", "Arch": _arch(),
               "KernelVersion": os.uname().release, "BuildTime": "", "Experimental": "false"}
    return web.json_response({
        "Platform": {"Name": "berth"},
        "Components": [{"Name": "Engine", "Version": BERTH_VERSION, "Details": details}],
        "Version": BERTH_VERSION, **{k: v for k, v in details.items() if k != "Experimental"},
    })


def _mem_total() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _os_name() -> str:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME", "Linux")
    except OSError:
        return "Linux"


def _info(engine: Any) -> dict[str, Any]:
    containers = engine.container_list(all=True)
    states = [c.state for c in containers]
    cgroup2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    return {
        "ID": "", "Name": os.uname().nodename, "Containers": len(containers),
        "ContainersRunning": states.count("running"), "ContainersPaused": states.count("paused"),
        "ContainersStopped": len(states) - states.count("running") - states.count("paused"),
        "Images": len(engine.image_list()), "Driver": "overlay2", "DriverStatus": [["Backing Filesystem", ""]],
        "DockerRootDir": engine.root, "MemTotal": _mem_total(), "NCPU": os.cpu_count() or 1,
        "OperatingSystem": _os_name(),
        "OSType": "linux", "OSVersion": "", "Architecture": platform.machine(),
        "KernelVersion": os.uname().release, "ServerVersion": BERTH_VERSION, "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs", "CgroupVersion": "2" if cgroup2 else "1", "MemoryLimit": True,
        "SwapLimit": False, "PidsLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
        "IPv4Forwarding": True, "Debug": False, "ExperimentalBuild": False, "LiveRestoreEnabled": True,
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "none"], "Log": ["json-file"]},
        "Runtimes": {"berth": {"path": "berth"}}, "DefaultRuntime": "berth", "SecurityOptions": ["name=seccomp"],
        "Swarm": {"LocalNodeState": "inactive", "NodeID": "", "NodeAddr": "", "ControlAvailable": False},
        "Labels": [], "Warnings": [], "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": []},
        "IndexServerAddress": "https://index.docker.io/v1/", "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
    }


async def info(request: web.Request) -> web.Response:
    return web.json_response(await blocking(_info, engine_of(request)))


def _moment(request: web.Request, name: str) -> float | None:
    value = request.query.get(name)
    if not value:
        return None
    try:
        return float(value)
    except ValueError as err:
        raise ApiError(400, f"invalid value for {name}: {value}") from err


def _wanted(line: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    """Docker's event filters: type, event (action), container/image (ID or name); AND across keys."""
    names = {line["id"], line["Actor"]["Attributes"].get("name", "")}
    checks = {"type": lambda v: line["Type"] == v, "event": lambda v: line["Action"] == v,
              "container": lambda v: line["Type"] == "container" and (v in names or line["id"].startswith(v)),
              "image": lambda v: line["Type"] == "image" and (v in names or line["id"].startswith(v))}
    for key, values in filters.items():
        if key not in checks:
            raise ApiError(400, f"invalid filter '{key}'")
        if values and not any(checks[key](v) for v in values):
            return False
    return True


async def events(request: web.Request) -> web.StreamResponse:
    """The journal as Docker's JSON lines: history from ``since``, then follow until ``until`` or hang-up."""
    engine = engine_of(request)
    since, until = _moment(request, "since"), _moment(request, "until")
    filters = parse_filters(request.query.get("filters"))
    _wanted({"Type": "", "Action": "", "id": "", "Actor": {"Attributes": {}}}, filters)  # 400 before streaming
    offset = await blocking(engine.events_offset, since)
    cancel = threading.Event()
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    if until is not None:
        threading.Timer(max(0.0, until - time.time()), cancel.set).start()

    def follow(send: Send) -> None:
        for event in engine.events_follow(offset, cancel):
            if (since is not None and event.time < since) or (until is not None and event.time > until):
                continue
            line = event_json(event)
            if _wanted(line, filters):
                send(json_line(line))

    watcher = asyncio.create_task(watch_disconnect(request, cancel))
    try:
        await pump(response, follow)
    finally:
        cancel.set()
        watcher.cancel()
    await response.write_eof()
    return response


async def unsupported(request: web.Request) -> web.Response:
    """Swarm's endpoints answer 503 as on any non-manager; the rest of Docker's API berth lacks, 501."""
    path = request.match_info.get("tail", "")
    if path.split("/", 1)[0] in SWARM_PREFIXES:
        return json_error(503, "This node is not a swarm manager. berth does not run swarm.")
    return json_error(501, f"berth does not serve {request.method} /{path} yet")


def routes() -> list[tuple[str, str, Any]]:
    return [
        ("GET", "/_ping", ping),
        ("HEAD", "/_ping", ping),
        ("GET", "/version", version),
        ("GET", "/info", info),
        ("GET", "/events", events),
    ]


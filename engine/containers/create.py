"""``container create``: a writable layer with its ``-init`` layer, then the container's records.

Order (data before the record that points at it): overlay2 dirs, then
``layerdb/mounts/<id>/``, then ``containers/<id>/`` renamed into place whole.
A crash in between leaves orphans that ``system check`` reclaims.
"""

from __future__ import annotations

import json
import os
import random
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..store import atomic
from ..store.paths import (
    CONTAINER_CONFIG_FILE,
    HOSTCONFIG_FILE,
    HOSTNAME_FILE,
    HOSTS_FILE,
    RESOLV_CONF_FILE,
    StorePaths,
)
from ..store.rwlayers import fill_init_layer
from . import names, volumes
from .options import CreateOptions, parse_restart
from .records import new_state, now_rfc3339
from .security import normalize_security_opts

if TYPE_CHECKING:
    from ..context import StoreContext

__all__ = ["create_container"]

# Docker's daemon/initlayer: mount points that must exist before the container's root is pivoted into.

_ADJECTIVES = ("brave", "calm", "eager", "fond", "gentle", "happy", "jolly", "keen", "lucid", "merry",
               "nifty", "proud", "quirky", "sharp", "tender", "vivid", "witty", "zealous")
_NAMES = ("babbage", "curie", "darwin", "euler", "fermat", "gauss", "hopper", "kepler", "lovelace",
          "noether", "pascal", "ramanujan", "shannon", "turing", "volta", "wiles")


def random_name(taken: Callable[[str], bool]) -> str:
    """A Docker-style ``adjective_scientist`` name not yet in use."""
    while True:
        name = f"{random.choice(_ADJECTIVES)}_{random.choice(_NAMES)}"
        if taken(name):
            name += str(random.randint(1, 99))
        if not taken(name):
            return name


def create_container(store: StoreContext, opts: CreateOptions) -> str:
    """Create the container's layers and records; returns its ID."""
    opts.validate()
    wanted = names.valid_name(opts.name) if opts.name else ""  # before anything is looked up or made
    image_id = store.images.resolve(opts.image)
    image_config = store.images.config(image_id)
    parent = store.images.top_layer(image_config)
    cid, mount_id = secrets.token_hex(32), secrets.token_hex(32)
    from ..network import endpoint

    with store.lock:
        name = wanted or random_name(lambda n: names.taken(store.paths, n))
        names.claim(store.paths, name, cid)  # before the record: the index may hold too much, never too little
        try:
            store.rwlayers.create(mount_id, parent, init=fill_init_layer)
        except BaseException:
            names.release(store.paths, name, cid)
            raise
        config: dict[str, Any] | None = None
        try:
            networks = endpoint.plan_networks(store, cid, opts.network, opts.ip, name)
            store.rwlayers.record(cid, mount_id, parent, True)
            files = _records(store, cid, name, image_id, image_config.get("config", {}), opts, networks)
            config = json.loads(files[CONTAINER_CONFIG_FILE])
            _make_sources(store, config)
            names.make_containers_dir(store.paths)
            atomic.write_dir(store.paths.container_dir(cid), files, mode=names.CONTAINER_DIR_MODE,
                             file_modes={_log_name(store.paths, cid): names.LOG_MODE, CONTAINER_CONFIG_FILE: 0o600})
        except BaseException:
            if config is not None:
                volumes.remove_anonymous(store, config)
            store.rwlayers.forget(cid)
            store.rwlayers.remove(mount_id)
            endpoint.release(store, cid)
            names.release(store.paths, name, cid)
            raise
    for settings in networks.values():
        if settings.get("NetworkID"):  # peers on a user network learn the new name
            endpoint.refresh_hosts(store, settings["NetworkID"], skip=cid)
    store.journal.append("container", "create", cid, name)
    return cid


def _log_name(paths: StorePaths, cid: str) -> str:
    return os.path.basename(paths.container_log(cid))


def _records(store: StoreContext, cid: str, name: str, image_id: str, image_cfg: dict[str, Any],
             opts: CreateOptions, networks: dict[str, Any]) -> dict[str, bytes | str]:
    from ..network.endpoint import render_hosts, render_resolv
    from ..network.ports import exposed_ports, port_bindings

    paths = store.paths
    hostname = opts.hostname or (os.uname().nodename if opts.network == "host" else cid[:12])
    config = container_config(paths, cid, name, image_id, image_cfg, opts, hostname)
    hostcfg = host_config(opts)
    if opts.network != "host":
        hostcfg["PortBindings"] = port_bindings(opts.publish, opts.publish_all, image_cfg.get("ExposedPorts") or {})
    if hostcfg["PortBindings"] or image_cfg.get("ExposedPorts"):
        config["Config"]["ExposedPorts"] = exposed_ports(image_cfg.get("ExposedPorts"), hostcfg["PortBindings"])
    config["NetworkSettings"] = {"Bridge": "", "SandboxID": "", "SandboxKey": "", "Ports": {}, "Networks": networks}
    return {
        CONTAINER_CONFIG_FILE: json.dumps(config, separators=(",", ":")),
        HOSTCONFIG_FILE: json.dumps(hostcfg, separators=(",", ":")),
        HOSTNAME_FILE: hostname + "\n",
        HOSTS_FILE: render_hosts(store, config, hostcfg),
        RESOLV_CONF_FILE: render_resolv(hostcfg),
        _log_name(paths, cid): b"",
    }


def _command(image_cfg: dict[str, Any], opts: CreateOptions) -> tuple[list[str], list[str]]:
    """(Entrypoint, Cmd) as Docker combines the image's with the flags: a new entrypoint drops the image's CMD."""
    entrypoint = list(opts.entrypoint) if opts.entrypoint is not None else list(image_cfg.get("Entrypoint") or [])
    if opts.cmd:
        cmd = list(opts.cmd)
    elif opts.entrypoint is not None:
        cmd = []
    else:
        cmd = list(image_cfg.get("Cmd") or [])
    return entrypoint, cmd


def _env(image_env: list[str], extra: tuple[str, ...]) -> list[str]:
    """The image's Env with ``-e`` entries replacing same-named ones, in Docker's order."""
    merged = {e.partition("=")[0]: e for e in image_env}
    for entry in extra:
        merged[entry.partition("=")[0]] = entry
    return list(merged.values())


def container_config(paths: StorePaths, cid: str, name: str, image_id: str, image_cfg: dict[str, Any],
                     opts: CreateOptions, hostname: str) -> dict[str, Any]:
    """config.v2.json, Docker's shape."""
    entrypoint, cmd = _command(image_cfg, opts)
    argv = entrypoint + cmd
    mount_points, declared_volumes = volumes.mount_points(paths, opts.binds, image_cfg.get("Volumes"))
    labels = {**(image_cfg.get("Labels") or {}), **opts.labels}
    config = {
        "Hostname": hostname, "Domainname": "", "User": opts.user or image_cfg.get("User", ""),
        "AttachStdin": opts.open_stdin, "AttachStdout": True, "AttachStderr": True, "Tty": opts.tty,
        "OpenStdin": opts.open_stdin, "StdinOnce": opts.open_stdin, "Env": _env(image_cfg.get("Env") or [], opts.env),
        "Cmd": cmd or None, "Image": opts.image, "Volumes": declared_volumes,
        "WorkingDir": opts.workdir or image_cfg.get("WorkingDir", ""), "Entrypoint": entrypoint or None,
        "OnBuild": None, "Labels": labels,
    }
    if opts.stop_signal or image_cfg.get("StopSignal"):
        config["StopSignal"] = opts.stop_signal or image_cfg["StopSignal"]
    if opts.stop_timeout is not None:
        config["StopTimeout"] = opts.stop_timeout
    return {
        "StreamConfig": {}, "State": new_state(), "ID": cid, "Created": now_rfc3339(), "Managed": False,
        "Path": argv[0] if argv else "", "Args": argv[1:], "Config": config, "Image": image_id,
        "NetworkSettings": {"Networks": {opts.network: {}}}, "LogPath": paths.container_log(cid),
        "Name": "/" + name, "Driver": "overlay2", "OS": "linux", "RestartCount": 0,
        "HasBeenStartedBefore": False, "HasBeenManuallyStopped": False, "MountPoints": mount_points,
        "HostnamePath": paths.container_file(cid, HOSTNAME_FILE), "HostsPath": paths.container_file(cid, HOSTS_FILE),
        "ResolvConfPath": paths.container_file(cid, RESOLV_CONF_FILE),
    }


def _make_sources(store: StoreContext, config: dict[str, Any]) -> None:
    """Missing bind sources become directories (as ``docker run -v`` does); missing volumes are created."""
    for point in config["MountPoints"].values():
        if point["Type"] == "bind":
            os.makedirs(point["Source"], 0o755, exist_ok=True)
    volumes.make_missing(store, config)


def host_config(opts: CreateOptions) -> dict[str, Any]:
    """hostconfig.json, Docker's shape (the fields berth acts on, and their neighbours)."""
    policy, retries = parse_restart(opts.restart)
    return {
        "Binds": list(opts.binds) or None, "ContainerIDFile": "",
        "LogConfig": {"Type": "json-file", "Config": dict(opts.log_opts)},
        "NetworkMode": opts.network, "PortBindings": {}, "RestartPolicy": {"Name": policy,
                                                                           "MaximumRetryCount": retries},
        "AutoRemove": opts.auto_remove, "VolumeDriver": "", "VolumesFrom": None, "CapAdd": None, "CapDrop": None,
        "Privileged": opts.privileged, "SecurityOpt": normalize_security_opts(opts.security_opt) or None,
        "ReadonlyRootfs": opts.read_only, "Memory": opts.memory, "NanoCpus": opts.nano_cpus,
        "PidsLimit": opts.pids_limit or None, "MaskedPaths": None, "ReadonlyPaths": None,
        "Tmpfs": dict((t.partition(":")[0], t.partition(":")[2]) for t in opts.tmpfs) or None,
        "ExtraHosts": list(opts.add_hosts) or None, "Dns": list(opts.dns), "DnsOptions": [], "DnsSearch": [],
        "PublishAllPorts": opts.publish_all,
    }

"""Container records on disk: ``containers/<id>/config.v2.json`` and ``hostconfig.json``, in Docker's shapes.

Writers (CLI commands and the monitor) take the container's own lock and
replace files atomically; readers never lock. ``State`` keeps Docker's fields
and adds ``Status``, so another process can print ``ps`` from the file alone.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import ContainerConflict, ContainerNotFound, StoreCorrupt
from ..rfc3339 import format_time
from ..store import atomic
from ..store.locks import get_lock
from ..store.paths import CONTAINER_CONFIG_FILE, HOSTCONFIG_FILE, StorePaths
from . import names

__all__ = ["ContainerRecords", "ZERO_TIME", "new_state", "now_rfc3339"]

# Go's zero time.Time, which Docker writes for "never".
ZERO_TIME = "0001-01-01T00:00:00Z"

Config = dict[str, Any]


def now_rfc3339() -> str:
    return format_time(time.time())


def new_state() -> dict[str, Any]:
    """The State of a container that has never run."""
    return {
        "Status": "created", "Running": False, "Paused": False, "Restarting": False, "OOMKilled": False,
        "RemovalInProgress": False, "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "",
        "StartedAt": ZERO_TIME, "FinishedAt": ZERO_TIME, "Health": None,
    }


class ContainerRecords:
    """Read, write and look up the records of every container in one store."""

    def __init__(self, paths: StorePaths) -> None:
        self.paths = paths

    def ids(self) -> list[str]:
        """Every container ID with a config file, in no particular order."""
        try:
            names = os.listdir(self.paths.containers)
        except FileNotFoundError:
            return []
        return [n for n in names if not n.startswith(".") and len(n) == 64]

    def load(self, cid: str) -> Config:
        """config.v2.json of one container."""
        return self._read(cid, CONTAINER_CONFIG_FILE)

    def load_host(self, cid: str) -> Config:
        return self._read(cid, HOSTCONFIG_FILE)

    def _read(self, cid: str, name: str) -> Config:
        path = self.paths.container_file(cid, name)
        try:
            with open(path, encoding="utf-8") as f:
                data: Config = json.load(f)
        except FileNotFoundError as err:
            raise ContainerNotFound(f"No such container: {cid}") from err
        except (OSError, ValueError) as err:
            raise StoreCorrupt(f"cannot read {path}: {err}") from err
        return data

    def all(self) -> list[Config]:
        """Every readable config; a container removed while we read is skipped."""
        out = []
        for cid in self.ids():
            try:
                out.append(self.load(cid))
            except (ContainerNotFound, StoreCorrupt):
                continue
        return out

    def save(self, cid: str, config: Config) -> None:
        atomic.write_file(self.paths.container_file(cid, CONTAINER_CONFIG_FILE), _dump(config), 0o600)

    @contextmanager
    def locked(self, cid: str) -> Iterator[None]:
        """Hold the container's own lock (never the store's) while its records change."""
        lock = get_lock(self.paths.container_lock(cid))
        with lock:
            yield

    def update(self, cid: str, change: Callable[[Config], None]) -> Config:
        """Load, change and save one config under the container's lock; returns the new config."""
        with self.locked(cid):
            config = self.load(cid)
            change(config)
            try:
                self.save(cid, config)
            except FileNotFoundError as err:  # removed meanwhile (the monitor's --rm): as if never found
                raise ContainerNotFound(f"No such container: {cid}") from err
            return config

    def resolve(self, name: str) -> str:
        """The container ID a full ID, a name (with or without ``/``) or a unique ID prefix stands for.

        Docker's order. A full ID and a name cost one lookup each (the name index);
        only a prefix lists ``containers/`` (names of dirs, no record is read).
        """
        if len(name) == 64 and os.path.isfile(self.paths.container_file(name, CONTAINER_CONFIG_FILE)):
            return name
        owner = names.lookup(self.paths, name) if name else None
        if owner is not None:
            return owner
        matches = [cid for cid in self.ids() if name and cid.startswith(name)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise ContainerConflict(f"multiple IDs found with provided prefix: {name}")
        raise ContainerNotFound(f"No such container: {name}")

    def name_owner(self, name: str) -> str | None:
        """The ID of the container called ``name``, if any."""
        return names.lookup(self.paths, name)


def _dump(config: Config) -> str:
    return json.dumps(config, separators=(",", ":"))

"""Smaller container operations: rename, prune, top."""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

from ..errors import ContainerNotRunning, InvalidArgument, MissingDependency
from ..store.sizes import dir_size
from . import names
from .lifecycle import current
from .remove import mount_id_of, remove_many_files

if TYPE_CHECKING:
    from ..context import StoreContext

__all__ = ["rename", "prune", "top"]


def rename(store: StoreContext, cid: str, new_name: str) -> None:
    """Docker's name rules: ``[a-zA-Z0-9][a-zA-Z0-9_.-]+``, unique in the store.

    The new name is linked before the record changes and the old one unlinked
    after: a crash leaves a stale entry in the name index, never a missing one.
    """
    bare = names.valid_name(new_name)
    with store.lock:
        old = str(store.records.load(cid).get("Name", "")).lstrip("/")
        if old == bare:
            raise InvalidArgument("Renaming a container with the same name as its current name")
        names.claim(store.paths, bare, cid)
        try:
            store.records.update(cid, lambda c: c.update(Name="/" + bare))
        except BaseException:
            names.release(store.paths, bare, cid)
            raise
        names.release(store.paths, old, cid)


def prune(store: StoreContext) -> tuple[list[str], int]:
    """Remove every container that is not running; (their IDs, bytes reclaimed from their layers)."""
    removed, reclaimed = [], 0
    for config in store.records.all():
        cid = config["ID"]
        if current(store, cid)["State"]["Running"]:
            continue
        try:
            reclaimed += dir_size(store.paths.diff_dir(mount_id_of(store, cid)))
        except Exception:
            pass
        removed.append(cid)
    remove_many_files(store, removed)  # one store lock and one pass for all of them, as ``rm`` of many
    return removed, reclaimed


def _pids_in_namespace(pid: int) -> set[int]:
    """Host pids of every process in the pid namespace of ``pid``."""
    target = os.readlink(f"/proc/{pid}/ns/pid")
    found = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.readlink(f"/proc/{name}/ns/pid") == target:
                    found.add(int(name))
            except OSError:
                continue
    return found


def top(store: StoreContext, cid: str, ps_args: list[str]) -> tuple[list[str], list[list[str]]]:
    """Docker's way: run the host's ``ps`` (default ``-ef``) and keep the container's processes."""
    state = current(store, cid)["State"]
    if not state["Running"]:
        raise ContainerNotRunning(f"Container {cid} is not running")
    pids = _pids_in_namespace(int(state["Pid"]))
    try:
        out = subprocess.run(["ps", *(ps_args or ["-ef"])], capture_output=True, text=True, check=False).stdout
    except FileNotFoundError as err:
        raise MissingDependency("top runs the host's ps: install Debian's procps package") from err
    lines = out.splitlines()
    if not lines:
        raise InvalidArgument("ps printed nothing")
    header = lines[0].split()
    if "PID" not in header:
        raise InvalidArgument('Couldn\'t find PID field in ps output')
    column = header.index("PID")
    rows = []
    for line in lines[1:]:
        fields = line.split(None, len(header) - 1)
        if len(fields) > column and fields[column].isdigit() and int(fields[column]) in pids:
            rows.append(fields)
    return header, rows

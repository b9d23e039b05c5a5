"""``ContainerService``: every container verb over one store, and the event each change leaves.

The ``Engine`` facade hands each container call to this service; the
modules beside it (lifecycle, copy, exec, commit, listing, …) each do one
job on a ``StoreContext``. An event is appended here (or, for create, start
and exit, by the module that writes the record), right after the record it
describes is durable, so every berth process following the journal sees it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import BerthError

if TYPE_CHECKING:
    from ..context import StoreContext
    from .lifecycle import Attachment
    from .logs import LogEntry
    from .models import Change, ContainerSummary
    from .options import CreateOptions
    from .stats import ContainerStats

__all__ = ["ContainerService"]

ChangeFn = Callable[[dict[str, Any]], None]


class ContainerService:
    """Containers of one store: create, run, signal, inspect, copy, commit and remove them."""

    def __init__(self, store: StoreContext) -> None:
        self.store = store

    def _event(self, cid: str, action: str, label: str | None = None) -> None:
        self.store.journal.append("container", action, cid,
                                  self.store.container_label(cid) if label is None else label)

    def resolve(self, name: str) -> str:
        return self.store.records.resolve(name)

    # -- lifecycle -------------------------------------------------------------

    def create(self, options: CreateOptions) -> str:
        from .create import create_container

        self.store.writable()
        return create_container(self.store, options)  # appends ``create`` once its records are in place

    def start(self, name: str, *, stdin: int | None = None, attach: bool = False,
              console_size: tuple[int, int] | None = None) -> Attachment | None:
        """Ask the monitor to start it (the monitor appends ``start``); with ``attach``, follow it."""
        from ..errors import ContainerConflict
        from . import lifecycle

        self.store.writable()
        cid = self.store.records.resolve(name)
        # Read before starting: a ``--rm`` container can be gone by the time start returns.
        tty = bool(self.store.records.load(cid)["Config"].get("Tty"))
        log_fd = os.open(self.store.paths.container_log(cid), os.O_RDONLY | os.O_CLOEXEC) if attach else -1
        try:
            channel = lifecycle.start(self.store, cid, stdin=stdin, attach=attach, console_size=console_size)
        except BaseException:
            if log_fd >= 0:
                os.close(log_fd)
            raise
        if channel is None:
            if log_fd >= 0:
                os.close(log_fd)
            return None
        attachment = lifecycle.Attachment(self.store, cid, log_fd, channel)
        if tty:
            try:
                attachment.terminal = lifecycle.attach_terminal(self.store, cid)
            except ContainerConflict:
                pass  # it already ended (``run -t IMG tty``): its whole output is in the log we follow
        return attachment

    def attach(self, name: str) -> Attachment:
        from ..errors import ContainerNotRunning
        from . import lifecycle

        cid = self.store.records.resolve(name)
        config = lifecycle.current(self.store, cid)
        if not config["State"]["Running"]:
            raise ContainerNotRunning("You cannot attach to a stopped container, start it first")
        log_fd = os.open(self.store.paths.container_log(cid), os.O_RDONLY | os.O_CLOEXEC)
        os.lseek(log_fd, 0, os.SEEK_END)
        attachment = lifecycle.Attachment(self.store, cid, log_fd, lifecycle.open_wait(self.store, cid))
        if config["Config"].get("Tty"):
            attachment.terminal = lifecycle.attach_terminal(self.store, cid)
        return attachment

    def wait(self, name: str) -> int:
        from . import lifecycle

        return lifecycle.wait(self.store, self.store.records.resolve(name))

    def stop(self, name: str, *, timeout: int | None = None) -> str:
        from . import lifecycle

        self.store.writable()
        cid = self.store.records.resolve(name)
        lifecycle.stop(self.store, cid, timeout)
        self._event(cid, "stop")
        return cid

    def kill(self, name: str, *, signal: str | int = "KILL") -> str:
        from . import lifecycle
        from .spec import parse_signal

        cid = self.store.records.resolve(name)
        lifecycle.kill(self.store, cid, parse_signal(signal))
        self._event(cid, "kill")
        return cid

    def pause(self, name: str, frozen: bool = True) -> str:
        """Freeze (``frozen``) or thaw every process of the container; appends ``pause`` or ``unpause``."""
        from . import lifecycle

        cid = self.store.records.resolve(name)
        lifecycle.pause(self.store, cid, frozen)
        self._event(cid, "pause" if frozen else "unpause")
        return cid

    def restart(self, name: str, *, timeout: int | None = None) -> str:
        """Stop (if running) and start again: a ``stop`` event, then the monitor's ``start``."""
        cid = self.stop(name, timeout=timeout)
        self.start(cid)
        return cid

    def exec(self, name: str, cmd: list[str], *, env: list[str] | None = None, workdir: str = "",
             user: str = "", detach: bool = False, stdin: int | None = None, stdout: int | None = None,
             stderr: int | None = None, tty: bool = False) -> int:
        """Run a command in a running container; no record changes, so no event (as the container's row)."""
        from .exec import exec_command

        return exec_command(self.store, self.store.records.resolve(name), cmd, env=env or [], workdir=workdir,
                            user=user, detach=detach, stdio=(stdin, stdout, stderr), terminal=tty)

    # -- records -----------------------------------------------------------------

    def rename(self, name: str, new_name: str) -> None:
        from .manage import rename

        self.store.writable()
        cid = self.store.records.resolve(name)
        rename(self.store, cid, new_name)
        self._event(cid, "rename")

    def prune(self) -> tuple[list[str], int]:
        from .manage import prune

        self.store.writable()
        removed, reclaimed = prune(self.store)
        for cid in removed:
            self._event(cid, "destroy", "")
        return removed, reclaimed

    def remove(self, name: str, *, force: bool = False, volumes: bool = False) -> str:
        from . import lifecycle

        self.store.writable()
        cid = self.store.records.resolve(name)
        label = self.store.records.load(cid).get("Name", "").lstrip("/")
        lifecycle.remove(self.store, cid, force=force, volumes=volumes)
        self._event(cid, "destroy", label)
        return cid

    def remove_many(self, names: list[str], *, force: bool = False,
                    volumes: bool = False) -> list[BerthError | None]:
        from .remove import remove_containers

        self.store.writable()
        results = remove_containers(self.store, names, force=force, volumes=volumes)
        for cid, label, err in results:
            if err is None:
                self._event(cid, "destroy", label)
        return [err for _cid, _label, err in results]

    def commit(self, name: str, ref: str | None = None, *, message: str = "", author: str = "",
               changes: ChangeFn | None = None, pause: bool = True) -> str:
        """The writable layer as a new image; one ``container commit`` event (Docker's), ``ref`` as its name."""
        from .commit import commit_container

        self.store.writable()
        cid = self.store.records.resolve(name)
        image_id = commit_container(self.store, cid, ref, message=message, author=author, changes=changes,
                                    pause_container=pause)
        self._event(cid, "commit", ref or "")
        return image_id

    def copy(self, source: str, dest: str, *, follow_link: bool = False, archive: bool = False,
             stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """``cp``; a copy into a container changes its writable layer, so it appends ``extract-to-dir``."""
        from ..errors import InvalidArgument
        from .copy import container_path, copy_from, copy_to

        src_ctr, dst_ctr = container_path(source), container_path(dest)
        if (src_ctr is None) == (dst_ctr is None):
            raise InvalidArgument("copying between containers or between host paths is not supported: "
                                  "use CONTAINER:SRC_PATH DEST_PATH or SRC_PATH CONTAINER:DEST_PATH")
        self.store.writable()
        if src_ctr is not None:
            out: str | BinaryIO = dest
            if dest == "-":
                if stdout is None:
                    raise InvalidArgument("cp to - needs a stream for the tar")
                out = stdout
            copy_from(self.store, self.store.records.resolve(src_ctr[0]), src_ctr[1], out,
                      follow_link=follow_link, name=src_ctr[0])
        elif dst_ctr is not None:
            into: str | BinaryIO = source
            if source == "-":
                if stdin is None:
                    raise InvalidArgument("cp from - needs a stream of the tar")
                into = stdin
            cid = self.store.records.resolve(dst_ctr[0])
            copy_to(self.store, cid, into, dst_ctr[1], follow_link=follow_link, archive=archive,
                    name=dst_ctr[0])
            self._event(cid, "extract-to-dir")

    # -- views -------------------------------------------------------------------

    def summaries(self, *, all: bool = False, filters: list[str] | None = None, last: int = -1,
             size: bool = False, ids: Collection[str] | None = None) -> list[ContainerSummary]:
        from .listing import list_containers

        return list_containers(self.store, all=all, filters=filters, last=last, size=size, ids=ids)

    def inspect(self, name: str, *, size: bool = False) -> dict[str, Any]:
        from .inspect import container_inspect
        from .lifecycle import current

        return container_inspect(self.store, current(self.store, self.store.records.resolve(name)), size)

    def ports(self, name: str) -> dict[str, list[dict[str, str]] | None]:
        from .lifecycle import current

        config = current(self.store, self.store.records.resolve(name))
        if not config["State"].get("Running"):
            return {}
        return dict(config.get("NetworkSettings", {}).get("Ports") or {})

    def top(self, name: str, ps_args: list[str] | None = None) -> tuple[list[str], list[list[str]]]:
        from .manage import top

        return top(self.store, self.store.records.resolve(name), ps_args or [])

    def logs(self, name: str, *, follow: bool = False, tail: int = -1, since: float = 0.0,
             until: float = 0.0) -> Iterator[LogEntry]:
        from .logs_follow import log_entries

        return log_entries(self.store, self.store.records.resolve(name), follow=follow, tail=tail, since=since,
                           until=until)

    def log_chunks(self, name: str, *, follow: bool = False, tail: int = -1, since: float = 0.0,
                   until: float = 0.0, timestamps: bool = False) -> Iterator[tuple[str, bytes]]:
        from .logs_follow import log_chunks

        return log_chunks(self.store, self.store.records.resolve(name), follow=follow, tail=tail, since=since,
                          until=until, timestamps=timestamps)

    def changes(self, name: str) -> list[Change]:
        from .changes import changes
        from .remove import mount_id_of

        return changes(self.store, mount_id_of(self.store, self.store.records.resolve(name)))

    def stats(self, name: str, *, previous: ContainerStats | None = None) -> ContainerStats:
        from .stats import sample

        return sample(self.store, self.store.records.resolve(name), previous)

    def stats_stream(self, names: list[str] | None = None, *, all: bool = False, interval: float = 1.0,
                     cancel: threading.Event | None = None) -> Iterator[list[ContainerStats]]:
        from .stats import stream

        ids = None if names is None else [self.store.records.resolve(n) for n in names]
        return stream(self.store, ids, all=all, interval=interval, cancel=cancel)

"""``Engine``: the one facade the front ends call."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Collection, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from .errors import BerthError, NotRoot, StoreCorrupt
from .store.locks import get_lock
from .store.paths import DEFAULT_ROOT, StorePaths

if TYPE_CHECKING:
    from .containers.lifecycle import Attachment
    from .importer import Importer
    from .distribution.load import LoadedImage
    from .distribution.pull import PullResult
    from .distribution.push import PushResult
    from .distribution.progress import ProgressFn
    from .containers.logs import LogEntry
    from .containers.models import Change, ContainerSummary, DiskUsage
    from .containers.options import CreateOptions
    from .layer_contents import ImageEfficiency, LayerContents
    from .containers.records import ContainerRecords
    from .containers.volumes import Volume
    from .containers.stats import ContainerStats
    from .store.rwlayers import RWLayerStore
    from .events import Event, EventJournal
    from .images import ImageService
    from .models import CheckReport, HistoryEntry, ImageSummary, RemovedItem
    from .store.images import ImageDB
    from .store.layers import LayerStore
    from .store.tags import TagStore

__all__ = ["Engine"]

ChangeFn = Callable[[dict[str, Any]], None]


class Engine:
    """One store root and everything done to it.

    Progress of save, load, pull and push: pass ``progress=fn``; ``fn`` is
    called with ``engine.distribution.TransferProgress(id, action, current,
    total)`` (short blob ID, Docker's status word, bytes done, bytes in all or
    0) once per change of one blob, from worker threads, so hand it on to the
    UI thread (Textual: ``app.call_from_thread``). A pull sends per layer
    ``Pulling fs layer``, maybe ``Waiting``, ``Downloading`` x/y …,
    ``Verifying Checksum``, ``Download complete``, ``Extracting`` x/y …,
    ``Pull complete`` (or only ``Already exists``); ``item.final`` is True on
    the last item of a blob. To stop a transfer, set the ``cancel`` event.

    Args:
        root: the store root; created on first write.
    """

    def __init__(self, root: str = DEFAULT_ROOT) -> None:
        self.root = os.path.abspath(root)
        self.paths = StorePaths(self.root)
        self.lock = get_lock(self.paths.lock)

    # The stores load on first use: ``logs``, ``ps`` or ``rm`` need few of them, and start-up time matters.

    @functools.cached_property
    def layers(self) -> LayerStore:
        from .store.layers import LayerStore

        return LayerStore(self.paths, self.lock)

    @functools.cached_property
    def imagedb(self) -> ImageDB:
        from .store.images import ImageDB

        return ImageDB(self.paths)

    @functools.cached_property
    def tags(self) -> TagStore:
        from .store.tags import TagStore

        return TagStore(self.paths)

    @functools.cached_property
    def images(self) -> ImageService:
        from .images import ImageService

        return ImageService(self.paths, self.layers, self.imagedb, self.tags, self.lock)

    @functools.cached_property
    def journal(self) -> EventJournal:
        """Every change, appended after it is durable, for other processes to follow."""
        from .events import EventJournal

        return EventJournal(self.paths.events)

    @functools.cached_property
    def _importer(self) -> "Importer":
        """Loaded on first use: most commands never write images, and start-up time matters."""
        from .importer import Importer

        return Importer(self.layers, self.imagedb, self.tags, self.lock)

    def _writable(self) -> None:
        if os.geteuid() != 0:
            raise NotRoot("berth needs root to change the store (it mounts overlays): run it with sudo")
        try:
            os.makedirs(self.root, 0o711, exist_ok=True)
        except OSError as err:
            raise StoreCorrupt(f"cannot create store root {self.root}: {err.strerror}") from err

    # -- images --------------------------------------------------------------

    def image_import(
        self,
        source: BinaryIO,
        *,
        source_name: str,
        ref: str | None = None,
        changes: ChangeFn | None = None,
        message: str = "",
        progress: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> str:
        """Import a root filesystem tarball (any compression) as a one-layer image.

        Args:
            source: the tarball stream; need not be seekable.
            source_name: shown in errors and in the history comment (``-`` for stdin).
            ref: optional ``REPO[:TAG]`` to tag the image with.
            changes: applied to the image's ``config`` (``-c CMD …`` and friends).
            progress: called with the compressed bytes read so far.
            cancel: set it to stop; the store is left as before.

        Returns:
            The new image's ID.

        Raises:
            ArchiveError: unreadable or unsafe tarball.
            InvalidReference: ``ref`` is not a valid name.
        """
        self._writable()
        image_id = self._importer.import_tar(
            source, source_name=source_name, ref=ref, config_changes=changes,
            message=message, progress=progress, cancel=cancel,
        )
        self.journal.append("image", "import", image_id, ref or "")
        return image_id

    def image_bootstrap(self, ref: str = "busybox:latest") -> str:
        """Make a small base image from the host's busybox-static.

        Raises:
            MissingDependency: /bin/busybox is missing or not static.
        """
        self._writable()
        image_id = self._importer.bootstrap(ref)
        self.journal.append("image", "import", image_id, ref)
        return image_id

    def image_list(self, *, all: bool = False) -> list[ImageSummary]:
        """Images as ``berth images`` shows them; ``all`` includes intermediate images."""
        summaries = self.images.summaries()
        if all:
            return summaries
        parents = {s.parent for s in summaries if s.parent}
        return [s for s in summaries if s.repo_tags or s.id not in parents]

    def image_resolve(self, name: str) -> str:
        """The image ID a name, ID or ID prefix stands for."""
        return self.images.resolve(name)

    def image_history(self, name: str) -> list[HistoryEntry]:
        """``berth history`` rows, newest first."""
        return self.images.history(self.images.resolve(name))

    def image_config(self, name: str) -> dict[str, Any]:
        """The OCI image config of an image."""
        return self.images.config(self.images.resolve(name))

    def image_tag(self, source: str, target: str) -> None:
        """Point ``target`` at the image ``source`` names."""
        self._writable()
        image_id = self.images.resolve(source)
        self.images.tag(image_id, target)
        self.journal.append("image", "tag", image_id, target)

    def image_remove(self, name: str, *, force: bool = False, prune: bool = True) -> list[RemovedItem]:
        """``rmi``: untag, and delete what nothing else needs.

        Raises:
            ImageNotFound, ImageInUse, ImageConflict.
        """
        self._writable()
        removed = self.images.remove(name, force=force, prune=prune)
        self._journal_removals(removed)
        return removed

    def _journal_removals(self, removed: list[RemovedItem]) -> None:
        for item in removed:
            if item.action == "Untagged":
                self.journal.append("image", "untag", "", item.name)
            else:
                self.journal.append("image", "delete", item.name)

    def image_inspect(self, name: str) -> dict[str, Any]:
        """Docker's ``image inspect`` JSON for one image."""
        from .inspect import image_inspect

        return image_inspect(self, self.images.resolve(name))

    # -- containers ----------------------------------------------------------

    @functools.cached_property
    def containers(self) -> "ContainerRecords":
        """The records under containers/ (read without locks; writers lock per container)."""
        from .containers.records import ContainerRecords

        return ContainerRecords(self.paths)

    @functools.cached_property
    def rwlayers(self) -> "RWLayerStore":
        """Writable layers (``<mount-id>`` and ``<mount-id>-init``) of containers."""
        from .store.rwlayers import RWLayerStore

        return RWLayerStore(self.paths, self.layers)

    def _container_event(self, cid: str, action: str) -> None:
        try:
            label = str(self.containers.load(cid).get("Name", "")).lstrip("/")
        except BerthError:
            label = ""
        self.journal.append("container", action, cid, label)

    def container_resolve(self, name: str) -> str:
        """The full ID of the container a name, ID or unique ID prefix stands for.

        Raises:
            ContainerNotFound, ContainerConflict (ambiguous prefix).
        """
        return self.containers.resolve(name)

    def container_create(self, options: "CreateOptions") -> str:
        """Create a container (writable layer, ``-init`` layer, records); returns its ID.

        Raises:
            ImageNotFound, InvalidArgument, ContainerConflict (name in use).
        """
        from .containers.create import create_container

        self._writable()
        return create_container(self, options)

    def container_start(self, name: str, *, stdin: int | None = None, attach: bool = False,
                        console_size: tuple[int, int] | None = None) -> "Attachment | None":
        """Start a container under the store's monitor; it keeps running after this process exits.

        Args:
            name: container name or ID.
            stdin: an fd the container reads as its stdin (``-i``); /dev/null otherwise.
            attach: return an ``Attachment`` that streams its output and exit code.
            console_size: (rows, cols) of a ``-t`` container's pty before its command runs.

        Raises:
            ContainerStartError: exit_code 125 (setup), 126 (cannot execute), 127 (not found).
        """
        from .containers import lifecycle
        from .errors import ContainerConflict

        self._writable()
        cid = self.containers.resolve(name)
        # Read before starting: a ``--rm`` container can be gone by the time start returns.
        tty = bool(self.containers.load(cid)["Config"].get("Tty"))
        log_fd = os.open(self.paths.container_log(cid), os.O_RDONLY | os.O_CLOEXEC) if attach else -1
        try:
            channel = lifecycle.start(self, cid, stdin=stdin, attach=attach, console_size=console_size)
        except BaseException:
            if log_fd >= 0:
                os.close(log_fd)
            raise
        if channel is None:
            if log_fd >= 0:
                os.close(log_fd)
            return None
        attachment = lifecycle.Attachment(self, cid, log_fd, channel)
        if tty:
            try:
                attachment.terminal = lifecycle.attach_terminal(self, cid)
            except ContainerConflict:
                pass  # it already ended (``run -t IMG tty``): its whole output is in the log we follow
        return attachment

    def container_attach(self, name: str) -> "Attachment":
        """Follow a running container's output from now on, with its pty when it has one (``attach``).

        Raises:
            ContainerNotRunning.
        """
        from .containers import lifecycle
        from .errors import ContainerNotRunning

        cid = self.containers.resolve(name)
        config = lifecycle.current(self, cid)
        if not config["State"]["Running"]:
            raise ContainerNotRunning("You cannot attach to a stopped container, start it first")
        log_fd = os.open(self.paths.container_log(cid), os.O_RDONLY | os.O_CLOEXEC)
        os.lseek(log_fd, 0, os.SEEK_END)
        attachment = lifecycle.Attachment(self, cid, log_fd, lifecycle.open_wait(self, cid))
        if config["Config"].get("Tty"):
            attachment.terminal = lifecycle.attach_terminal(self, cid)
        return attachment

    def container_wait(self, name: str) -> int:
        """Block until the container stops; returns its exit code."""
        from .containers import lifecycle

        return lifecycle.wait(self, self.containers.resolve(name))

    def container_stop(self, name: str, *, timeout: int | None = None) -> str:
        """Send the stop signal, then SIGKILL after ``timeout`` (default: StopTimeout or 10 s); returns the ID."""
        from .containers import lifecycle

        self._writable()
        cid = self.containers.resolve(name)
        lifecycle.stop(self, cid, timeout)
        self._container_event(cid, "stop")
        return cid

    def container_kill(self, name: str, *, signal: str | int = "KILL") -> str:
        """Send a signal to the container's first process; returns the ID.

        Raises:
            ContainerNotRunning, InvalidArgument (unknown signal).
        """
        from .containers import lifecycle
        from .containers.spec import parse_signal

        cid = self.containers.resolve(name)
        lifecycle.kill(self, cid, parse_signal(signal))
        self._container_event(cid, "kill")
        return cid

    def container_pause(self, name: str) -> str:
        """Freeze every process of the container (freezer cgroup); returns the ID.

        Raises:
            ContainerNotRunning, ContainerConflict (already paused).
        """
        from .containers import lifecycle

        cid = self.containers.resolve(name)
        lifecycle.pause(self, cid, True)
        self._container_event(cid, "pause")
        return cid

    def container_unpause(self, name: str) -> str:
        """Thaw a paused container; returns the ID."""
        from .containers import lifecycle

        cid = self.containers.resolve(name)
        lifecycle.pause(self, cid, False)
        self._container_event(cid, "unpause")
        return cid

    def container_exec(self, name: str, cmd: list[str], *, env: list[str] | None = None, workdir: str = "",
                       user: str = "", detach: bool = False, stdin: int | None = None, stdout: int | None = None,
                       stderr: int | None = None, tty: bool = False) -> int:
        """Run another command inside a running container (its namespaces and cgroups); its exit code.

        Args:
            stdin, stdout, stderr: the caller's fds, copied to and from the command's own pipes (it never
                holds them: Docker's model); stdin None gives it the container's /dev/null, stdout and
                stderr None copy to this process's. Detached, it gets the container's /dev/null on all three.
            tty: run it on a new pty of the container's devpts copied to and from stdin/stdout
                (``exec -t``; ctrl-p ctrl-q detaches input).

        Raises:
            ContainerNotRunning, ContainerStartError (126/127 when the command cannot run).
        """
        from .containers.exec import exec_command

        return exec_command(self, self.containers.resolve(name), cmd, env=env or [], workdir=workdir, user=user,
                            detach=detach, stdio=(stdin, stdout, stderr), terminal=tty)

    def container_rename(self, name: str, new_name: str) -> None:
        """Give a container another name.

        Raises:
            ContainerConflict: the name is taken; InvalidArgument: not a valid name.
        """
        from .containers.manage import rename

        self._writable()
        cid = self.containers.resolve(name)
        rename(self, cid, new_name)
        self._container_event(cid, "rename")

    def container_prune(self) -> tuple[list[str], int]:
        """Remove all stopped containers; (their IDs, bytes reclaimed)."""
        from .containers.manage import prune

        self._writable()
        removed, reclaimed = prune(self)
        for cid in removed:
            self.journal.append("container", "destroy", cid)
        return removed, reclaimed

    def container_top(self, name: str, ps_args: list[str] | None = None) -> tuple[list[str], list[list[str]]]:
        """The container's processes as the host's ``ps`` shows them: (header, rows)."""
        from .containers.manage import top

        return top(self, self.containers.resolve(name), ps_args or [])

    def container_copy(self, source: str, dest: str, *, follow_link: bool = False, archive: bool = False,
                       stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """``cp``: exactly one of ``source``/``dest`` is ``CONTAINER:PATH``; the other is a host path, or
        ``-`` for a tar read from ``stdin`` / written to ``stdout``, as Docker streams it.

        ``follow_link`` (``-L``) follows a link named as the source; ``archive`` (``-a``) gives what is
        copied in the container user's uid/gid.

        Raises:
            InvalidArgument: both or neither name a container, a path is missing, or an entry is refused.
        """
        from .containers.copy import container_path, copy_from, copy_to
        from .errors import InvalidArgument

        src_ctr, dst_ctr = container_path(source), container_path(dest)
        if (src_ctr is None) == (dst_ctr is None):
            raise InvalidArgument("copying between containers or between host paths is not supported: "
                                  "use CONTAINER:SRC_PATH DEST_PATH or SRC_PATH CONTAINER:DEST_PATH")
        self._writable()
        if src_ctr is not None:
            out: str | BinaryIO = dest
            if dest == "-":
                if stdout is None:
                    raise InvalidArgument("cp to - needs a stream for the tar")
                out = stdout
            copy_from(self, self.containers.resolve(src_ctr[0]), src_ctr[1], out, follow_link=follow_link,
                      name=src_ctr[0])
        elif dst_ctr is not None:
            into: str | BinaryIO = source
            if source == "-":
                if stdin is None:
                    raise InvalidArgument("cp from - needs a stream of the tar")
                into = stdin
            copy_to(self, self.containers.resolve(dst_ctr[0]), into, dst_ctr[1], follow_link=follow_link,
                    archive=archive, name=dst_ctr[0])

    def container_commit(self, name: str, ref: str | None = None, *, message: str = "", author: str = "",
                         changes: ChangeFn | None = None, pause: bool = True) -> str:
        """``commit``: the container's writable layer as a new image over its image; returns the image ID.

        Raises:
            InvalidReference: ``ref`` is not a valid name.
        """
        from .containers.commit import commit_container

        self._writable()
        cid = self.containers.resolve(name)
        image_id = commit_container(self, cid, ref, message=message, author=author, changes=changes,
                                    pause_container=pause)
        self.journal.append("container", "commit", cid, ref or "")
        return image_id

    def container_restart(self, name: str, *, timeout: int | None = None) -> str:
        """Stop (if running) and start again; returns the ID."""
        cid = self.container_stop(name, timeout=timeout)
        self.container_start(cid)
        return cid

    def container_remove(self, name: str, *, force: bool = False, volumes: bool = False) -> str:
        """Delete a container and its writable layers; ``force`` kills a running one first.

        ``volumes`` (``rm -v``) also deletes its anonymous volumes; named ones stay.

        Raises:
            ContainerConflict: it is running and ``force`` is not set.
        """
        from .containers import lifecycle

        self._writable()
        cid = self.containers.resolve(name)
        label = self.containers.load(cid).get("Name", "").lstrip("/")
        lifecycle.remove(self, cid, force=force, volumes=volumes)
        self.journal.append("container", "destroy", cid, label)
        return cid

    def container_remove_many(self, names: list[str], *, force: bool = False,
                              volumes: bool = False) -> list[BerthError | None]:
        """``rm`` of several containers: the stopped ones in one pass under one store lock.

        Returns:
            Per name, in order: None when it was removed, else why not (as ``container_remove`` raises it).
        """
        from .containers.remove import remove_containers

        self._writable()
        results = remove_containers(self, names, force=force, volumes=volumes)
        for cid, label, err in results:
            if err is None:
                self.journal.append("container", "destroy", cid, label)
        return [err for _cid, _label, err in results]

    def container_list(self, *, all: bool = False, filters: list[str] | None = None, last: int = -1,
                       size: bool = False, ids: Collection[str] | None = None) -> "list[ContainerSummary]":
        """``ps`` rows, newest first; stale records of a dead monitor are fixed on the way.

        ``ids`` reads only those containers' records (full IDs; removed ones are left out), so a
        viewer told by the event journal which containers changed need not read thousands.
        """
        from .containers.listing import list_containers

        return list_containers(self, all=all, filters=filters, last=last, size=size, ids=ids)

    def container_inspect(self, name: str, *, size: bool = False) -> dict[str, Any]:
        """Docker's ``container inspect`` JSON."""
        from .containers.inspect import container_inspect
        from .containers.lifecycle import current

        return container_inspect(self, current(self, self.containers.resolve(name)), size)

    def container_logs(self, name: str, *, follow: bool = False, tail: int = -1, since: float = 0.0,
                       until: float = 0.0) -> "Iterator[LogEntry]":
        """The container's json-file log entries; ``follow`` keeps reading until the container stops."""
        from .containers.logs_follow import log_entries

        return log_entries(self, self.containers.resolve(name), follow=follow, tail=tail, since=since,
                           until=until)

    def container_log_chunks(self, name: str, *, follow: bool = False, tail: int = -1, since: float = 0.0,
                             until: float = 0.0, timestamps: bool = False) -> Iterator[tuple[str, bytes]]:
        """``container_logs`` as (stream, bytes to print): what ``berth logs`` writes, without a per-line object.

        Args:
            timestamps: prefix every line with its RFC 3339 time and a space (``logs -t``).
        """
        from .containers.logs_follow import log_chunks

        return log_chunks(self, self.containers.resolve(name), follow=follow, tail=tail, since=since,
                          until=until, timestamps=timestamps)

    def container_changes(self, name: str) -> "list[Change]":
        """``diff``: A/C/D entries from the container's upper dir."""
        from .containers.changes import changes
        from .containers.remove import mount_id_of

        return changes(self, mount_id_of(self, self.containers.resolve(name)))

    def container_stats(self, name: str, *, previous: "ContainerStats | None" = None) -> "ContainerStats":
        """One ``stats`` sample from the container's cgroup and netns; zeros when it is not running.

        Args:
            previous: an earlier sample of the same container; CPU % is measured since it (0.0 without).

        Raises:
            ContainerNotFound.
        """
        from .containers.stats import sample

        return sample(self, self.containers.resolve(name), previous)

    def container_stats_stream(self, names: list[str] | None = None, *, all: bool = False, interval: float = 1.0,
                               cancel: threading.Event | None = None) -> "Iterator[list[ContainerStats]]":
        """``stats`` without ``--no-stream``: a list of samples every ``interval`` seconds until ``cancel`` is set.

        Args:
            names: containers to watch; None follows the running containers (every one with ``all``).

        Raises:
            ContainerNotFound: a name matches nothing (before anything is yielded).
        """
        from .containers.stats import stream

        ids = None if names is None else [self.containers.resolve(n) for n in names]
        return stream(self, ids, all=all, interval=interval, cancel=cancel)

    def system_df(self) -> "DiskUsage":
        """``system df``: images, containers, volumes and build cache, shared layers counted once."""
        from .diskusage import disk_usage

        return disk_usage(self)

    # -- volumes -------------------------------------------------------------

    def volume_create(self, name: str = "", *, labels: dict[str, str] | None = None) -> "Volume":
        """Create a local volume (``volumes/<name>/_data``); an existing one is returned as it is.

        Args:
            name: the volume's name; "" makes an anonymous one with a random 64-hex name.

        Raises:
            InvalidArgument: the name is not ``[a-zA-Z0-9][a-zA-Z0-9_.-]+``.
        """
        from .containers import volumes

        self._writable()
        return volumes.create(self, name, labels)

    def volume_list(self) -> "list[Volume]":
        """Every volume, by name."""
        from .containers import volumes

        return volumes.list_volumes(self)

    def volume_inspect(self, name: str) -> dict[str, Any]:
        """Docker's ``volume inspect`` object.

        Raises:
            VolumeNotFound.
        """
        from .containers import volumes

        return volumes.get(self, name).inspect()

    def volume_remove(self, name: str, *, force: bool = False) -> None:
        """Delete a volume and its data.

        Args:
            force: a missing volume is not an error.

        Raises:
            VolumeNotFound; VolumeInUse: a container (running or not) mounts it.
        """
        from .containers import volumes

        self._writable()
        volumes.remove(self, name, force=force)

    def volume_prune(self) -> tuple[list[str], int]:
        """Remove every volume no container mounts; (names removed, bytes reclaimed)."""
        from .containers import volumes

        self._writable()
        return volumes.prune(self)

    # -- networks ------------------------------------------------------------

    def network_create(self, name: str, *, subnet: str = "", gateway: str = "",
                       labels: dict[str, str] | None = None) -> str:
        """A user bridge network (its own bridge and subnet); returns its ID.

        Raises:
            InvalidArgument (bad name or subnet), ContainerConflict (name taken, subnet overlaps).
        """
        from .network.networks import NetworkStore

        self._writable()
        rec = NetworkStore(self.paths).create(name, subnet, gateway, labels=labels)
        self.journal.append("network", "create", rec["Id"], name)
        return str(rec["Id"])

    def network_list(self) -> list[dict[str, Any]]:
        """Every network (Docker's inspect shape, ``Leases`` included), ``host`` and ``none`` last."""
        from .network.manage import list_networks

        return list_networks(self)

    def network_inspect(self, name: str) -> dict[str, Any]:
        """Docker's ``network inspect`` object, with the attached ``Containers``."""
        from .network.manage import inspect

        return inspect(self, name)

    def network_remove(self, name: str) -> str:
        """Remove a network no container is attached to (and its bridge); returns its name."""
        from .network.networks import NetworkStore

        self._writable()
        rec = NetworkStore(self.paths).remove(name)
        self.journal.append("network", "destroy", rec["Id"], rec["Name"])
        return str(rec["Name"])

    def network_prune(self) -> list[str]:
        """Remove every user network without containers; their names."""
        from .network.networks import NetworkStore

        self._writable()
        return NetworkStore(self.paths).prune()

    def network_connect(self, network: str, container: str, *, ip: str = "") -> None:
        """Attach a container to a network (at once, if it is running)."""
        from .network.manage import connect

        self._writable()
        connect(self, network, self.container_resolve(container), ip)

    def network_disconnect(self, network: str, container: str, *, force: bool = False) -> None:
        from .network.manage import disconnect

        self._writable()
        disconnect(self, network, self.container_resolve(container), force)

    def container_ports(self, name: str) -> dict[str, list[dict[str, str]] | None]:
        """NetworkSettings.Ports of a container: ``"80/tcp" → [{"HostIp", "HostPort"}]`` while it runs."""
        from .containers.lifecycle import current

        config = current(self, self.container_resolve(name))
        if not config["State"].get("Running"):
            return {}
        return dict(config.get("NetworkSettings", {}).get("Ports") or {})

    def network_notices(self) -> list[str]:
        """Things networking wants said once (a moved default subnet, no NAT tool); cleared when read."""
        import sys

        module = sys.modules.get("engine.network.networks")
        if module is None:
            return []
        notices = list(module.NOTICES)
        module.NOTICES.clear()
        return notices

    def network_teardown(self) -> list[str]:
        """Remove this store's bridges, NAT rules and netns mounts from the kernel (a store being discarded)."""
        from .network.manage import teardown_store

        return teardown_store(self.root)

    # -- layer contents --------------------------------------------------------

    def image_layer_contents(self, name: str, chain_id: str) -> "LayerContents":
        """What one layer of an image adds, changes and deletes, as a tree with sizes.

        Args:
            name: image name or ID.
            chain_id: one of the image's layers (``HistoryEntry.chain_id``).

        Raises:
            ImageNotFound; LayerNotFound: the image has no such layer.
        """
        from .layer_contents import layer_contents

        return layer_contents(self, self.images.resolve(name), chain_id)

    def image_efficiency(self, name: str) -> "ImageEfficiency":
        """dive's wasted space and efficiency for an image: bytes later overwritten or deleted.

        Raises:
            ImageNotFound.
        """
        from .layer_contents import image_efficiency

        return image_efficiency(self, self.images.resolve(name))

    # -- system --------------------------------------------------------------

    def events_offset(self, since: float | None = None) -> int:
        """Where to start reading to see only changes made from now on, or (``since``) from that Unix time.

        With ``since`` the journal is searched by time, not read from its start; a few
        events just before ``since`` may come too (filter on ``Event.time``).
        """
        return self.journal.end() if since is None else self.journal.offset_at(since)

    def events_read(self, offset: int) -> tuple[list[Event], int]:
        """Changes recorded after ``offset``, and the offset to read from next."""
        return self.journal.read(offset)

    def events_follow(self, offset: int, cancel: threading.Event) -> Iterator[Event]:
        """Changes as they happen, until ``cancel`` is set."""
        return self.journal.follow(offset, cancel)

    def system_check(self, *, repair: bool = False) -> CheckReport:
        """Verify the whole store; with ``repair``, reclaim orphans and stale mounts."""
        if repair:
            self._writable()
        from .check import StoreChecker

        return StoreChecker(self.paths, self.layers, self.imagedb, self.tags, self.lock).run(repair)

    # -- build ---------------------------------------------------------------

    def image_build(
        self,
        context: str | BinaryIO,
        *,
        dockerfile: str | None = None,
        tags: tuple[str, ...] | list[str] = (),
        build_args: dict[str, str] | None = None,
        no_cache: bool = False,
        target: str | None = None,
        progress: Callable[[Any], None] | None = None,
        cancel: threading.Event | None = None,
        network: str = "default",
    ) -> str:
        """Build an image from a Dockerfile, one image per instruction, as the classic builder does.

        Args:
            context: a directory, or a stream holding a tar of one (any compression) or a lone Dockerfile.
            dockerfile: host path of the Dockerfile; ``Dockerfile`` in the context when None.
            tags: ``NAME[:TAG]`` references to point at the result.
            build_args: ``--build-arg`` values.
            no_cache: do every step even when an earlier build did it already.
            target: stop after the stage with this name.
            progress: called with each ``engine.builder.progress`` event (step started, output, cached, done).
            cancel: set it to stop; the running step is killed and undone.
            network: RUN steps' network (``--network``): ``default`` (the default bridge), ``bridge``, ``none``,
                ``host`` or a user network's name.

        Returns:
            The final image's ID.

        Raises:
            BuildError: a bad Dockerfile (``Dockerfile line N: …``), a failing step, a missing source.
            Cancelled: ``cancel`` was set.
        """
        from .builder.builder import BuildOptions, build_image

        self._writable()
        options = BuildOptions(dockerfile, tuple(tags), dict(build_args or {}), no_cache, target, network)
        image_id = build_image(self, context, options, progress, cancel)
        self.journal.append("image", "build", image_id, ",".join(tags))
        return image_id

    def image_prune(self, *, all: bool = False) -> tuple[list[RemovedItem], int]:
        """Delete dangling images (untagged, no children, no containers); ``all``: every unused image.

        Returns:
            What was deleted, and the bytes of layer data freed.
        """
        from .builder.prune import prune_images

        self._writable()
        removed, freed = prune_images(self, all=all)
        self._journal_removals(removed)
        return removed, freed

    # -- distribution --------------------------------------------------------

    def image_save(self, names: list[str], out: BinaryIO, *, progress: "ProgressFn | None" = None,
                   cancel: threading.Event | None = None) -> None:
        """``save``: write images to one tar that is both an OCI image layout and a docker-archive.

        Args:
            names: image names or IDs; a name is recorded as the image's tag in the archive.
            out: a file or a pipe (a pipe is spooled through a temp file under the store).
            progress: called with ``TransferProgress`` items per layer.
            cancel: set it to stop; ``out`` then holds a partial archive.

        Raises:
            ImageNotFound: a name matches no image.
            StoreCorrupt: a layer's files no longer hash to its diffID.
        """
        from .distribution.save import ImageSaver

        ImageSaver(self.paths, self.images).save(names, out, progress=progress, cancel=cancel)

    def image_load(self, path: str | None, stdin: BinaryIO | None = None, *, platform: str | None = None,
                   progress: "ProgressFn | None" = None,
                   cancel: threading.Event | None = None) -> "list[LoadedImage]":
        """``load``: images from a docker-archive, an OCI layout dir, or an OCI layout tar.

        Args:
            path: the archive or layout dir; None reads ``stdin``.
            platform: ``os/arch[/variant]`` to pick out of a multi-platform index (default: this host).
            progress: called with ``TransferProgress`` items per layer.

        Returns:
            Each image stored, with the tags it got.

        Raises:
            ArchiveError: not an image archive, or truncated.
            DigestMismatch: a blob does not hash to its digest.
            PlatformNotFound: an index has nothing for ``platform``.
        """
        import sys

        from .distribution.load import ImageLoader
        from .distribution.platform import parse_platform
        from .distribution.sources import open_source

        self._writable()
        want = parse_platform(platform) if platform else None
        with open_source(path, stdin or sys.stdin.buffer, self.paths.staging) as source:
            loaded = ImageLoader(self.images, self._importer).load(source, platform=want, progress=progress,
                                                                   cancel=cancel)
        for image in loaded:
            self.journal.append("image", "load", image.id, ",".join(image.refs))
        return loaded

    def image_pull(self, name: str, *, platform: str | None = None, insecure: bool = False,
                   config_path: str | None = None, progress: "ProgressFn | None" = None,
                   cancel: threading.Event | None = None) -> "PullResult":
        """``pull``: fetch an image from its registry; an interrupted pull resumes where it stopped.

        Args:
            name: ``[registry/]repo[:tag|@digest]``; Docker Hub names normalise (``ubuntu``).
            platform: ``os/arch[/variant]`` to take from an index (default: this host, linux/amd64).
            insecure: allow plain HTTP and unverified TLS. Without it, loopback registries and those
                listed under ``insecure-registries`` in ``<root>/daemon.json`` (host[:port] or CIDR) still may.
            config_path: Docker's config.json with credentials (default: $DOCKER_CONFIG or ~/.docker).
            progress: called with ``TransferProgress`` items per layer, from several threads.

        Raises:
            ManifestUnknown: no such tag or digest. AuthError: refused credentials.
            PlatformNotFound, RegistryError, DigestMismatch.
        """
        from .distribution.credentials import CredentialStore
        from .distribution.platform import parse_platform
        from .distribution.pull import Puller

        self._writable()
        want = parse_platform(platform) if platform else None
        puller = Puller(self.paths, self.images, self._importer, CredentialStore(config_path))
        result = puller.pull(name, platform=want, insecure=insecure, progress=progress, cancel=cancel)
        self.journal.append("image", "pull", result.image_id, result.ref)
        return result

    def image_push(self, name: str, *, insecure: bool = False, compression: str = "gzip",
                   chunk_size: int | None = None, config_path: str | None = None,
                   progress: "ProgressFn | None" = None, cancel: threading.Event | None = None) -> "PushResult":
        """``push``: upload an image's blobs and manifest; blobs the registry has are skipped or mounted.

        Args:
            name: a local tag, ``registry/repo[:tag]``.
            compression: ``gzip`` (schema2 manifest) or ``zstd`` (OCI manifest).
            chunk_size: blobs larger than this go up in chunks (default 16 MiB).

        Raises:
            ImageNotFound: no local image has that tag. AuthError, RegistryError.
        """
        from .distribution.credentials import CredentialStore
        from .distribution.push import CHUNK_SIZE, PushOptions, Pusher

        self._writable()  # push records which blobs a registry holds, in the store
        options = PushOptions(insecure, compression, chunk_size or CHUNK_SIZE)
        result = Pusher(self.paths, self.images, CredentialStore(config_path)).push(
            name, options, progress=progress, cancel=cancel)
        self.journal.append("image", "push", self.images.resolve(name), name)
        return result

    def registry_login(self, server: str, username: str, password: str, *, insecure: bool = False,
                       config_path: str | None = None) -> None:
        """``login``: check the credentials against the registry, then store them in config.json.

        Raises:
            AuthError: the registry refused them.
        """
        from .distribution.credentials import Credentials, CredentialStore, registry_domain
        from .distribution.insecure import InsecureRegistries
        from .distribution.registry import RegistryClient

        domain = registry_domain(server)
        creds = Credentials(username, password)
        with RegistryClient(domain, "", credentials=creds, insecure=insecure,
                            insecure_registries=InsecureRegistries.for_store(self.paths.root)) as client:
            client.verify_login()
        CredentialStore(config_path).store(domain, creds)

    def registry_logout(self, server: str | None = None, *, config_path: str | None = None) -> bool:
        """``logout``: forget a registry's credentials (Docker Hub's by default); False when none were stored."""
        from .distribution.credentials import CredentialStore, registry_domain

        return CredentialStore(config_path).erase(registry_domain(server or "docker.io"))

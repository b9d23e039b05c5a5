"""``Engine``: the one facade the front ends call.

Every method hands its call to one service built from the engine's
``StoreContext`` (``engine/context.py``); the services append the events.
Nothing under engine/ imports this module but ``engine/__init__.py``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Collection, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from .context import StoreContext
from .store.paths import DEFAULT_ROOT, StorePaths

if TYPE_CHECKING:
    from .builder.service import BuildService
    from .containers.lifecycle import Attachment
    from .containers.logs import LogEntry
    from .containers.models import Change, ContainerSummary, DiskUsage
    from .containers.options import CreateOptions
    from .containers.service import ContainerService
    from .containers.stats import ContainerStats
    from .containers.volume_service import VolumeService
    from .containers.volumes import Volume
    from .distribution.load import LoadedImage
    from .distribution.progress import ProgressFn
    from .distribution.pull import PullResult
    from .distribution.push import PushResult
    from .distribution.service import DistributionService
    from .errors import BerthError
    from .events import Event
    from .imageops import ImageOps
    from .layer_contents import ImageEfficiency, LayerContents
    from .models import CheckReport, HistoryEntry, ImageSummary, RemovedItem
    from .network.service import NetworkService
    from .system import CheckService

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
        self.store = StoreContext(root)

    @property
    def root(self) -> str:
        """The store root, absolute."""
        return self.store.root

    @property
    def paths(self) -> StorePaths:
        """Where everything lives under the root."""
        return self.store.paths

    # Each service is built on first use, so a short command imports only the modules it needs.

    @functools.cached_property
    def _images(self) -> ImageOps:
        from .imageops import ImageOps

        return ImageOps(self.store)

    @functools.cached_property
    def _containers(self) -> ContainerService:
        from .containers.service import ContainerService

        return ContainerService(self.store)

    @functools.cached_property
    def _volumes(self) -> VolumeService:
        from .containers.volume_service import VolumeService

        return VolumeService(self.store)

    @functools.cached_property
    def _networks(self) -> NetworkService:
        from .network.service import NetworkService

        return NetworkService(self.store)

    @functools.cached_property
    def _build(self) -> BuildService:
        from .builder.service import BuildService

        return BuildService(self.store)

    @functools.cached_property
    def _distribution(self) -> DistributionService:
        from .distribution.service import DistributionService

        return DistributionService(self.store)

    @functools.cached_property
    def _check(self) -> CheckService:
        from .system import CheckService

        return CheckService(self.store)

    # -- images ----------------------------------------------------------------

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
        return self._images.import_tar(source, source_name=source_name, ref=ref, changes=changes, message=message,
                                      progress=progress, cancel=cancel)

    def image_bootstrap(self, ref: str = "busybox:latest") -> str:
        """Make a small base image from the host's busybox-static.

        Raises:
            MissingDependency: /bin/busybox is missing or not static.
        """
        return self._images.bootstrap(ref)

    def image_list(self, *, all: bool = False) -> list[ImageSummary]:
        """Images as ``berth images`` shows them; ``all`` includes intermediate images."""
        return self._images.summaries(all=all)

    def image_resolve(self, name: str) -> str:
        """The image ID a name, ID or ID prefix stands for."""
        return self.store.images.resolve(name)

    def image_history(self, name: str) -> list[HistoryEntry]:
        """``berth history`` rows, newest first."""
        return self._images.history(name)

    def image_config(self, name: str) -> dict[str, Any]:
        """The OCI image config of an image."""
        return self._images.config(name)

    def image_tag(self, source: str, target: str) -> None:
        """Point ``target`` at the image ``source`` names."""
        self._images.tag(source, target)

    def image_remove(self, name: str, *, force: bool = False, prune: bool = True) -> list[RemovedItem]:
        """``rmi``: untag, and delete what nothing else needs.

        Raises:
            ImageNotFound, ImageInUse, ImageConflict.
        """
        return self._images.remove(name, force=force, prune=prune)

    def image_inspect(self, name: str) -> dict[str, Any]:
        """Docker's ``image inspect`` JSON for one image."""
        return self._images.inspect(name)

    # -- containers ------------------------------------------------------------

    def container_resolve(self, name: str) -> str:
        """The full ID of the container a name, ID or unique ID prefix stands for.

        Raises:
            ContainerNotFound, ContainerConflict (ambiguous prefix).
        """
        return self._containers.resolve(name)

    def container_create(self, options: CreateOptions) -> str:
        """Create a container (writable layer, ``-init`` layer, records); returns its ID.

        Raises:
            ImageNotFound, InvalidArgument, ContainerConflict (name in use).
        """
        return self._containers.create(options)

    def container_start(self, name: str, *, stdin: int | None = None, attach: bool = False,
                        console_size: tuple[int, int] | None = None) -> Attachment | None:
        """Start a container under the store's monitor; it keeps running after this process exits.

        Args:
            name: container name or ID.
            stdin: an fd the container reads as its stdin (``-i``); /dev/null otherwise.
            attach: return an ``Attachment`` that streams its output and exit code.
            console_size: (rows, cols) of a ``-t`` container's pty before its command runs.

        Raises:
            ContainerStartError: exit_code 125 (setup), 126 (cannot execute), 127 (not found).
        """
        return self._containers.start(name, stdin=stdin, attach=attach, console_size=console_size)

    def container_attach(self, name: str) -> Attachment:
        """Follow a running container's output from now on, with its pty when it has one (``attach``).

        Raises:
            ContainerNotRunning.
        """
        return self._containers.attach(name)

    def container_wait(self, name: str) -> int:
        """Block until the container stops; returns its exit code."""
        return self._containers.wait(name)

    def container_stop(self, name: str, *, timeout: int | None = None) -> str:
        """Send the stop signal, then SIGKILL after ``timeout`` (default: StopTimeout or 10 s); returns the ID."""
        return self._containers.stop(name, timeout=timeout)

    def container_kill(self, name: str, *, signal: str | int = "KILL") -> str:
        """Send a signal to the container's first process; returns the ID.

        Raises:
            ContainerNotRunning, InvalidArgument (unknown signal).
        """
        return self._containers.kill(name, signal=signal)

    def container_pause(self, name: str) -> str:
        """Freeze every process of the container (freezer cgroup); returns the ID.

        Raises:
            ContainerNotRunning, ContainerConflict (already paused).
        """
        return self._containers.pause(name, True)

    def container_unpause(self, name: str) -> str:
        """Thaw a paused container; returns the ID."""
        return self._containers.pause(name, False)

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
        return self._containers.exec(name, cmd, env=env, workdir=workdir, user=user, detach=detach, stdin=stdin,
                                    stdout=stdout, stderr=stderr, tty=tty)

    def container_rename(self, name: str, new_name: str) -> None:
        """Give a container another name.

        Raises:
            ContainerConflict: the name is taken; InvalidArgument: not a valid name.
        """
        self._containers.rename(name, new_name)

    def container_prune(self) -> tuple[list[str], int]:
        """Remove all stopped containers; (their IDs, bytes reclaimed)."""
        return self._containers.prune()

    def container_top(self, name: str, ps_args: list[str] | None = None) -> tuple[list[str], list[list[str]]]:
        """The container's processes as the host's ``ps`` shows them: (header, rows)."""
        return self._containers.top(name, ps_args)

    def container_copy(self, source: str, dest: str, *, follow_link: bool = False, archive: bool = False,
                       stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """``cp``: exactly one of ``source``/``dest`` is ``CONTAINER:PATH``; the other is a host path, or
        ``-`` for a tar read from ``stdin`` / written to ``stdout``, as Docker streams it.

        ``follow_link`` (``-L``) follows a link named as the source; ``archive`` (``-a``) gives what is
        copied in the container user's uid/gid.

        Raises:
            InvalidArgument: both or neither name a container, a path is missing, or an entry is refused.
        """
        self._containers.copy(source, dest, follow_link=follow_link, archive=archive, stdin=stdin, stdout=stdout)

    def container_commit(self, name: str, ref: str | None = None, *, message: str = "", author: str = "",
                         changes: ChangeFn | None = None, pause: bool = True) -> str:
        """``commit``: the container's writable layer as a new image over its image; returns the image ID.

        Raises:
            InvalidReference: ``ref`` is not a valid name.
        """
        return self._containers.commit(name, ref, message=message, author=author, changes=changes, pause=pause)

    def container_restart(self, name: str, *, timeout: int | None = None) -> str:
        """Stop (if running) and start again; returns the ID."""
        return self._containers.restart(name, timeout=timeout)

    def container_remove(self, name: str, *, force: bool = False, volumes: bool = False) -> str:
        """Delete a container and its writable layers; ``force`` kills a running one first.

        ``volumes`` (``rm -v``) also deletes its anonymous volumes; named ones stay.

        Raises:
            ContainerConflict: it is running and ``force`` is not set.
        """
        return self._containers.remove(name, force=force, volumes=volumes)

    def container_remove_many(self, names: list[str], *, force: bool = False,
                              volumes: bool = False) -> list[BerthError | None]:
        """``rm`` of several containers: the stopped ones in one pass under one store lock.

        Returns:
            Per name, in order: None when it was removed, else why not (as ``container_remove`` raises it).
        """
        return self._containers.remove_many(names, force=force, volumes=volumes)

    def container_list(self, *, all: bool = False, filters: list[str] | None = None, last: int = -1,
                       size: bool = False, ids: Collection[str] | None = None) -> list[ContainerSummary]:
        """``ps`` rows, newest first; stale records of a dead monitor are fixed on the way.

        ``ids`` reads only those containers' records (full IDs; removed ones are left out), so a
        viewer told by the event journal which containers changed need not read thousands.
        """
        return self._containers.summaries(all=all, filters=filters, last=last, size=size, ids=ids)

    def container_inspect(self, name: str, *, size: bool = False) -> dict[str, Any]:
        """Docker's ``container inspect`` JSON."""
        return self._containers.inspect(name, size=size)

    def container_logs(self, name: str, *, follow: bool = False, tail: int = -1, since: float = 0.0,
                       until: float = 0.0) -> Iterator[LogEntry]:
        """The container's json-file log entries; ``follow`` keeps reading until the container stops."""
        return self._containers.logs(name, follow=follow, tail=tail, since=since, until=until)

    def container_log_chunks(self, name: str, *, follow: bool = False, tail: int = -1, since: float = 0.0,
                             until: float = 0.0, timestamps: bool = False) -> Iterator[tuple[str, bytes]]:
        """``container_logs`` as (stream, bytes to print): what ``berth logs`` writes, without a per-line object.

        Args:
            timestamps: prefix every line with its RFC 3339 time and a space (``logs -t``).
        """
        return self._containers.log_chunks(name, follow=follow, tail=tail, since=since, until=until,
                                           timestamps=timestamps)

    def container_changes(self, name: str) -> list[Change]:
        """``diff``: A/C/D entries from the container's upper dir."""
        return self._containers.changes(name)

    def container_stats(self, name: str, *, previous: ContainerStats | None = None) -> ContainerStats:
        """One ``stats`` sample from the container's cgroup and netns; zeros when it is not running.

        Args:
            previous: an earlier sample of the same container; CPU % is measured since it (0.0 without).

        Raises:
            ContainerNotFound.
        """
        return self._containers.stats(name, previous=previous)

    def container_stats_stream(self, names: list[str] | None = None, *, all: bool = False, interval: float = 1.0,
                               cancel: threading.Event | None = None) -> Iterator[list[ContainerStats]]:
        """``stats`` without ``--no-stream``: a list of samples every ``interval`` seconds until ``cancel`` is set.

        Args:
            names: containers to watch; None follows the running containers (every one with ``all``).

        Raises:
            ContainerNotFound: a name matches nothing (before anything is yielded).
        """
        return self._containers.stats_stream(names, all=all, interval=interval, cancel=cancel)

    def system_df(self) -> DiskUsage:
        """``system df``: images, containers, volumes and build cache, shared layers counted once."""
        return self._check.disk_usage()

    # -- volumes ---------------------------------------------------------------

    def volume_create(self, name: str = "", *, labels: dict[str, str] | None = None) -> Volume:
        """Create a local volume (``volumes/<name>/_data``); an existing one is returned as it is.

        Args:
            name: the volume's name; "" makes an anonymous one with a random 64-hex name.

        Raises:
            InvalidArgument: the name is not ``[a-zA-Z0-9][a-zA-Z0-9_.-]+``.
        """
        return self._volumes.create(name, labels)

    def volume_list(self) -> list[Volume]:
        """Every volume, by name."""
        return self._volumes.volumes()

    def volume_inspect(self, name: str) -> dict[str, Any]:
        """Docker's ``volume inspect`` object.

        Raises:
            VolumeNotFound.
        """
        return self._volumes.inspect(name)

    def volume_remove(self, name: str, *, force: bool = False) -> None:
        """Delete a volume and its data.

        Args:
            force: a missing volume is not an error.

        Raises:
            VolumeNotFound; VolumeInUse: a container (running or not) mounts it.
        """
        self._volumes.remove(name, force=force)

    def volume_prune(self) -> tuple[list[str], int]:
        """Remove every volume no container mounts; (names removed, bytes reclaimed)."""
        return self._volumes.prune()

    # -- networks --------------------------------------------------------------

    def network_create(self, name: str, *, subnet: str = "", gateway: str = "",
                       labels: dict[str, str] | None = None) -> str:
        """A user bridge network (its own bridge and subnet); returns its ID.

        Raises:
            InvalidArgument (bad name or subnet), ContainerConflict (name taken, subnet overlaps).
        """
        return self._networks.create(name, subnet=subnet, gateway=gateway, labels=labels)

    def network_list(self) -> list[dict[str, Any]]:
        """Every network (Docker's inspect shape, ``Leases`` included), ``host`` and ``none`` last."""
        return self._networks.networks()

    def network_inspect(self, name: str) -> dict[str, Any]:
        """Docker's ``network inspect`` object, with the attached ``Containers``."""
        return self._networks.inspect(name)

    def network_remove(self, name: str) -> str:
        """Remove a network no container is attached to (and its bridge); returns its name."""
        return self._networks.remove(name)

    def network_prune(self) -> list[str]:
        """Remove every user network without containers; their names."""
        return self._networks.prune()

    def network_connect(self, network: str, container: str, *, ip: str = "") -> None:
        """Attach a container to a network (at once, if it is running)."""
        self._networks.connect(network, container, ip=ip)

    def network_disconnect(self, network: str, container: str, *, force: bool = False) -> None:
        self._networks.disconnect(network, container, force=force)

    def container_ports(self, name: str) -> dict[str, list[dict[str, str]] | None]:
        """NetworkSettings.Ports of a container: ``"80/tcp" → [{"HostIp", "HostPort"}]`` while it runs."""
        return self._containers.ports(name)

    def network_notices(self) -> list[str]:
        """Things networking wants said once (a moved default subnet, no NAT tool); cleared when read."""
        return self._networks.notices()

    def network_teardown(self) -> list[str]:
        """Remove this store's bridges, NAT rules and netns mounts from the kernel (a store being discarded)."""
        return self._networks.teardown()

    # -- layer contents --------------------------------------------------------

    def image_layer_contents(self, name: str, chain_id: str) -> LayerContents:
        """What one layer of an image adds, changes and deletes, as a tree with sizes.

        Args:
            name: image name or ID.
            chain_id: one of the image's layers (``HistoryEntry.chain_id``).

        Raises:
            ImageNotFound; LayerNotFound: the image has no such layer.
        """
        return self._images.layer_contents(name, chain_id)

    def image_efficiency(self, name: str) -> ImageEfficiency:
        """dive's wasted space and efficiency for an image: bytes later overwritten or deleted.

        Raises:
            ImageNotFound.
        """
        return self._images.efficiency(name)

    # -- system ----------------------------------------------------------------

    def events_offset(self, since: float | None = None) -> int:
        """Where to start reading to see only changes made from now on, or (``since``) from that Unix time.

        With ``since`` the journal is searched by time, not read from its start; a few
        events just before ``since`` may come too (filter on ``Event.time``).
        """
        return self.store.journal.end() if since is None else self.store.journal.offset_at(since)

    def events_read(self, offset: int) -> tuple[list[Event], int]:
        """Changes recorded after ``offset``, and the offset to read from next."""
        return self.store.journal.read(offset)

    def events_follow(self, offset: int, cancel: threading.Event) -> Iterator[Event]:
        """Changes as they happen, until ``cancel`` is set."""
        return self.store.journal.follow(offset, cancel)

    def system_check(self, *, repair: bool = False) -> CheckReport:
        """Verify the whole store; with ``repair``, reclaim orphans and stale mounts."""
        return self._check.check(repair=repair)

    # -- build -----------------------------------------------------------------

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
        return self._build.build(context, dockerfile=dockerfile, tags=tags, build_args=build_args, no_cache=no_cache,
                                 target=target, progress=progress, cancel=cancel, network=network)

    def image_prune(self, *, all: bool = False) -> tuple[list[RemovedItem], int]:
        """Delete dangling images (untagged, no children, no containers); ``all``: every unused image.

        Returns:
            What was deleted, and the bytes of layer data freed.
        """
        return self._build.prune(all=all)

    # -- distribution ----------------------------------------------------------

    def image_save(self, names: list[str], out: BinaryIO, *, progress: ProgressFn | None = None,
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
        self._distribution.save(names, out, progress=progress, cancel=cancel)

    def image_load(self, path: str | None, stdin: BinaryIO | None = None, *, platform: str | None = None,
                   progress: ProgressFn | None = None,
                   cancel: threading.Event | None = None) -> list[LoadedImage]:
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
        return self._distribution.load(path, stdin, platform=platform, progress=progress, cancel=cancel)

    def image_pull(self, name: str, *, platform: str | None = None, insecure: bool = False,
                   config_path: str | None = None, progress: ProgressFn | None = None,
                   cancel: threading.Event | None = None) -> PullResult:
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
        return self._distribution.pull(name, platform=platform, insecure=insecure, config_path=config_path,
                                       progress=progress, cancel=cancel)

    def image_push(self, name: str, *, insecure: bool = False, compression: str = "gzip",
                   chunk_size: int | None = None, config_path: str | None = None,
                   progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> PushResult:
        """``push``: upload an image's blobs and manifest; blobs the registry has are skipped or mounted.

        Args:
            name: a local tag, ``registry/repo[:tag]``.
            compression: ``gzip`` (schema2 manifest) or ``zstd`` (OCI manifest).
            chunk_size: blobs larger than this go up in chunks (default 16 MiB).

        Raises:
            ImageNotFound: no local image has that tag. AuthError, RegistryError.
        """
        return self._distribution.push(name, insecure=insecure, compression=compression, chunk_size=chunk_size,
                                       config_path=config_path, progress=progress, cancel=cancel)

    def registry_login(self, server: str, username: str, password: str, *, insecure: bool = False,
                       config_path: str | None = None) -> None:
        """``login``: check the credentials against the registry, then store them in config.json.

        Raises:
            AuthError: the registry refused them.
        """
        self._distribution.login(server, username, password, insecure=insecure, config_path=config_path)

    def registry_logout(self, server: str | None = None, *, config_path: str | None = None) -> bool:
        """``logout``: forget a registry's credentials (Docker Hub's by default); False when none were stored."""
        return self._distribution.logout(server, config_path=config_path)

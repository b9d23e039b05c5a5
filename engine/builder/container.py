"""A build step's container: a writable layer over the image so far, where RUN runs and COPY writes.

Like the classic builder's intermediate containers it is recorded in
``layerdb/mounts/<container-id>`` while it lives (so ``system check`` and
``rmi`` see it and leave its parent alone), gets an ``-init`` layer with the
mount points a running container needs (so they never land in the step's
layer), and is removed, record first, whatever happens. Its upper dir becomes
the step's layer: written as a layer tar and registered like any other.
"""

from __future__ import annotations

import codecs
import dataclasses
import os
import secrets
import select
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..archive import write_layer
from ..errors import Cancelled
from ..runtime.process import BindMount, ContainerStartError, ProcessSpec, empty_stdin, start
from ..runtime.rootfs import resolve_in_root
from ..store.layers import Layer, LayerStore
from ..store.locks import get_lock
from ..store.paths import StorePaths
from ..store.rwlayers import fill_init_layer
from .stepnet import DEFAULT_MODE, step_network, write_etc_files

if TYPE_CHECKING:
    from ..context import StoreContext

__all__ = ["BuildContainer", "holder_lock_path"]

_READ_CHUNK = 65536
_POLL_MS = 100


def holder_lock_path(paths: StorePaths, container_id: str) -> str:
    """The lock a live build container's builder holds (``tmp/<container-id>.lock``)."""
    return os.path.join(paths.staging, container_id + ".lock")


class BuildContainer:
    """Context manager: create, record and mount on enter; unmount, forget and delete on exit."""

    def __init__(self, store: StoreContext, parent: str | None, *, init: bool) -> None:
        from ..store.rwlayers import RWLayerStore

        self.store = store
        self.rw = RWLayerStore(store.paths, store.layers)
        self.parent = parent
        self.init = init
        self.container_id = secrets.token_hex(32)
        self.mount_id = secrets.token_hex(32)
        self.rootfs = ""
        """The mounted merged dir while the container is up."""

    def __enter__(self) -> BuildContainer:
        # Held while the container lives: a repair reclaims only containers whose holder is gone.
        self._holder = get_lock(holder_lock_path(self.store.paths, self.container_id))
        self._holder.acquire()
        try:
            self._enter()
        except BaseException:
            self._release_holder()
            raise
        return self

    def _release_holder(self) -> None:
        try:
            os.unlink(self._holder.path)
        except FileNotFoundError:
            pass
        self._holder.release()

    def _enter(self) -> None:
        with self.store.lock:
            self.rw.create(self.mount_id, self.parent, init=fill_init_layer if self.init else None)
            try:
                self.rw.record(self.container_id, self.mount_id, self.parent, self.init)
            except BaseException:
                self.rw.remove(self.mount_id)
                raise
        try:
            self.rootfs = self.rw.mount(self.mount_id)
        except BaseException:
            self._remove()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            self._remove()
        finally:
            self._release_holder()

    def _remove(self) -> None:
        """Record first, then data: no record ever names a deleted dir."""
        self.rw.unmount(self.mount_id)
        self.rootfs = ""
        with self.store.lock:
            self.rw.forget(self.container_id)
            self.rw.remove(self.mount_id)

    def commit(self, cancel: threading.Event | None = None) -> Layer | None:
        """Unmount and turn the upper dir into a layer; None when the step changed nothing."""
        self.rw.unmount(self.mount_id)
        self.rootfs = ""
        upper = self.store.paths.diff_dir(self.mount_id)
        if not os.listdir(upper):
            return None
        return register_dir(self.store.layers, upper, self.parent, cancel)

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Sequence[str],
        cwd: str,
        user: str,
        output: Callable[[str], None],
        cancel: threading.Event | None = None,
        network: str = DEFAULT_MODE,
    ) -> int:
        """Run one command in the container, streaming its stdout and stderr to ``output``; its exit code.

        The command gets /dev/null as stdin, a pipe as stdout and stderr, a session of its own (no
        controlling terminal) and the step's own network (``stepnet``): nothing of the caller's terminal,
        files or network namespace.
        """
        workdir = resolve_in_root(self.rootfs, cwd)
        if not os.path.isdir(workdir):
            os.makedirs(workdir, 0o755)  # Docker creates a missing WORKDIR when the container starts
        # Beside the container's layer, so a killed build leaves nothing outside the store.
        files = os.path.join(self.store.paths.layer_dir(self.mount_id), "etc-files")
        os.makedirs(files, exist_ok=True)
        hostname = self.container_id[:12]
        with step_network(self.store, self.container_id, network) as net:
            mounts = [BindMount(path, target) for path, target in write_etc_files(files, net, hostname)]
            spec = ProcessSpec(rootfs=self.rootfs, argv=list(argv), env=list(env), cwd=cwd, user=user,
                               hostname=hostname, mounts=mounts, namespaces=net.namespaces,
                               netns_path=net.netns_path,
                               no_new_privileges=False)  # as Docker's build containers: setuid works
            return _run_streaming(spec, output, cancel)


def _run_streaming(spec: ProcessSpec, output: Callable[[str], None], cancel: threading.Event | None) -> int:
    """Start the process with stdout and stderr on one pipe, pump the pipe, reap; cancel kills it."""
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    devnull = empty_stdin()  # never the host's /dev/null inode
    try:
        try:
            process = start(dataclasses.replace(spec, stdin=devnull, stdout=write_end, stderr=write_end))
        except ContainerStartError as err:
            output(f"{err}\n")
            return err.exit_code
        os.close(write_end)
        write_end = -1
        try:
            _pump(read_end, output, cancel, process.kill)
            code = process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
        if cancel is not None and cancel.is_set():
            raise Cancelled("build cancelled")
        return code
    finally:
        for fd in (read_end, write_end, devnull):
            if fd >= 0:
                os.close(fd)


def _pump(fd: int, output: Callable[[str], None], cancel: threading.Event | None, kill: Callable[[], None]) -> None:
    """Hand the pipe's text to ``output`` until every writer is gone (the pid namespace dies with its init)."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        if cancel is not None and cancel.is_set():
            kill()
        if not poller.poll(_POLL_MS):
            continue
        chunk = os.read(fd, _READ_CHUNK)
        if not chunk:
            break
        text = decoder.decode(chunk)
        if text:
            output(text)
    tail = decoder.decode(b"", final=True)
    if tail:
        output(tail)


def register_dir(layers: LayerStore, upper: str, parent: str | None, cancel: threading.Event | None) -> Layer:
    """Stream ``upper`` as a layer tar through a pipe into ``LayerStore.register``: no temp file."""
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    failures: list[BaseException] = []

    def produce() -> None:
        try:
            with open(write_end, "wb") as out:
                write_layer(upper, out, upper=True, cancel=cancel)
        except BaseException as err:  # handed to the registering thread below
            failures.append(err)

    writer = threading.Thread(target=produce, name="berth-layer-writer", daemon=True)
    writer.start()
    try:
        with open(read_end, "rb") as source:
            layer = layers.register(source, parent, archive_name="build step", cancel=cancel)
    except BaseException as err:
        writer.join()
        if failures and not isinstance(failures[0], BrokenPipeError):
            raise failures[0] from err
        raise
    writer.join()
    if failures:
        raise failures[0]
    return layer

"""Named network namespaces as ``ip netns add`` makes them: an nsfs bind mount that keeps the namespace alive.

The engine makes the container's namespace before the container exists, so
its veth, address and routes are ready when the init ``setns()``\\ s into it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from ..kernel import syscalls

__all__ = ["create", "entered", "exists", "remove"]


def create(path: str) -> None:
    """A new, empty network namespace bound at ``path`` (made in a short-lived thread: unshare is per thread)."""
    os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444))
    failure: list[OSError] = []

    def make() -> None:
        try:
            syscalls.unshare(syscalls.CLONE_NEWNET)
            syscalls.mount(f"/proc/self/task/{threading.get_native_id()}/ns/net", path, None, syscalls.MS_BIND)
        except OSError as err:  # handed to the caller's thread
            failure.append(err)

    worker = threading.Thread(target=make, name="netns")
    worker.start()
    worker.join()
    if failure:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise failure[0]


def exists(path: str) -> bool:
    """True when ``path`` is a live netns mount (not just the empty file a crash can leave)."""
    try:
        return os.stat(path).st_dev != os.stat(os.path.dirname(path)).st_dev
    except OSError:
        return False


def remove(path: str) -> None:
    """Unmount and delete: the namespace goes when its last process and mount are gone."""
    try:
        syscalls.umount2(path, syscalls.MNT_DETACH)
    except OSError:
        pass
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


@contextlib.contextmanager
def entered(path: str) -> Iterator[None]:
    """Run the block with this thread in the namespace at ``path`` (sockets made here stay bound to it)."""
    own = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        syscalls.setns(target, syscalls.CLONE_NEWNET)
        try:
            yield
        finally:
            syscalls.setns(own, syscalls.CLONE_NEWNET)
    finally:
        os.close(target)
        os.close(own)

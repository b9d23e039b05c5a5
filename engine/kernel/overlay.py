"""Mount and unmount overlayfs stacks: the merged view of image layers plus a writable upper dir.

The store keeps mount options under a page by naming lower dirs through short
``l/<id>`` links relative to its ``overlay2`` directory (moby does the same).
Relative paths in overlay options are resolved against the mounting task's
current directory, and ``os.chdir`` moves the whole process. So a mount with
``cwd`` runs on a short-lived thread that first calls ``unshare(CLONE_FS)``:
that thread gets its own cwd, changes into ``cwd`` and mounts, while every other
thread keeps the process's cwd. moby re-execs a child to get the same effect;
a thread costs far less and reports errors as ordinary exceptions.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable, Sequence

from engine.errors import MountError
from engine.kernel import syscalls

__all__ = ["mount_overlay", "mount_overlay_ro", "unmount", "overlay_options"]

# The kernel copies mount data into a single page; longer options are cut off (EINVAL).
_MAX_OPTIONS = 4096 - 1


def _escape(path: str) -> str:
    """Escape the separators overlayfs splits on (``,`` between options, ``:`` between lowers)."""
    return path.replace("\\", "\\\\").replace(",", "\\,").replace(":", "\\:")


def overlay_options(lowerdirs: Sequence[str], upperdir: str | None = None, workdir: str | None = None) -> str:
    """The ``lowerdir=…[,upperdir=…,workdir=…]`` option string; ``lowerdirs`` is top-most first."""
    if not lowerdirs:
        raise MountError("an overlay needs at least one lower dir")
    options = "lowerdir=" + ":".join(_escape(d) for d in lowerdirs)
    if upperdir is not None:
        if workdir is None:
            raise MountError("an overlay with an upper dir needs a work dir")
        options += f",upperdir={_escape(upperdir)},workdir={_escape(workdir)}"
    if len(options.encode()) > _MAX_OPTIONS:
        raise MountError(
            f"overlay options are {len(options.encode())} bytes, over the kernel's {_MAX_OPTIONS}: "
            "use shorter lower dir paths (the store's l/ links)"
        )
    return options


def _in_own_cwd(cwd: str, action: Callable[[], None]) -> None:
    """Run ``action`` on a thread whose current directory is ``cwd``, leaving the process's alone."""
    failure: list[BaseException] = []

    def body() -> None:
        try:
            syscalls.unshare(syscalls.CLONE_FS)
            os.chdir(cwd)
            action()
        except BaseException as err:  # handed to the caller's thread below
            failure.append(err)

    worker = threading.Thread(target=body, name="berth-mount", daemon=True)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None, cwd: str | None) -> None:
    """mount(2), from inside ``cwd`` when given."""

    def call() -> None:
        syscalls.mount(source, target, fstype, flags, data)

    if cwd is None:
        call()
    else:
        _in_own_cwd(cwd, call)


def mount_overlay(
    lowerdirs: Sequence[str], upperdir: str, workdir: str, target: str, *, cwd: str | None = None
) -> None:
    """Mount a writable overlay of ``lowerdirs`` (top-most first) under ``upperdir`` at ``target``.

    Relative paths (lowers, upper, work and target) are resolved against ``cwd``
    when given, without changing the process's current directory.

    Raises:
        MountError: the options are malformed or too long, or the kernel refused the mount.
    """
    options = overlay_options(lowerdirs, upperdir, workdir)
    try:
        _mount("overlay", target, "overlay", 0, options, cwd)
    except OSError as err:
        raise MountError(f"cannot mount overlay on {target}: {err.strerror} ({options})") from err


def mount_overlay_ro(lowerdirs: Sequence[str], target: str, *, cwd: str | None = None) -> None:
    """Mount a read-only view of ``lowerdirs`` (top-most first) at ``target``.

    overlayfs needs two lowers when there is no upper dir, so a single lower is
    bind-mounted and then remounted read-only instead.

    Raises:
        MountError: the options are malformed or too long, or the kernel refused the mount.
    """
    if len(lowerdirs) == 1:
        _bind_ro(lowerdirs[0], target, cwd)
        return
    options = overlay_options(lowerdirs)
    try:
        _mount("overlay", target, "overlay", syscalls.MS_RDONLY, options, cwd)
    except OSError as err:
        raise MountError(f"cannot mount overlay on {target}: {err.strerror} ({options})") from err


def _bind_ro(source: str, target: str, cwd: str | None) -> None:
    """Bind ``source`` at ``target`` and make that bind read-only (a second, remount step)."""
    try:
        _mount(source, target, None, syscalls.MS_BIND, None, cwd)
    except OSError as err:
        raise MountError(f"cannot bind {source} on {target}: {err.strerror}") from err
    try:
        _mount("", target, None, syscalls.MS_BIND | syscalls.MS_REMOUNT | syscalls.MS_RDONLY, None, cwd)
    except BaseException as err:
        _detach_quietly(target, cwd)
        if isinstance(err, OSError):
            raise MountError(f"cannot make {target} read-only: {err.strerror}") from err
        raise


def _detach_quietly(target: str, cwd: str | None) -> None:
    """Best-effort lazy unmount, used only to undo a half-made mount."""
    try:
        if cwd is None:
            syscalls.umount2(target, syscalls.MNT_DETACH)
        else:
            _in_own_cwd(cwd, lambda: syscalls.umount2(target, syscalls.MNT_DETACH))
    except OSError:
        pass


def unmount(target: str, *, detach: bool = False) -> None:
    """Unmount ``target``; a target that is not mounted is left alone (like moby's ``mount.Unmount``).

    Args:
        target: the mount point.
        detach: unmount lazily (``MNT_DETACH``) instead of failing while the mount is busy.

    Raises:
        MountError: the kernel refused, e.g. the mount is busy.
    """
    try:
        syscalls.umount2(target, syscalls.MNT_DETACH if detach else 0)
    except OSError as err:
        if err.errno in (errno.EINVAL, errno.ENOENT):
            return
        raise MountError(f"cannot unmount {target}: {err.strerror}") from err

"""Turn a mounted container root into the process's whole world: /proc, /dev, /sys, volumes, pivot_root.

Everything here runs in the container's first process, after it has its own
mount namespace and before it execs; nothing here is safe to call in the engine
process itself. Mount targets inside the root are resolved with
``resolve_in_root`` so a symlink in an image (``/proc -> /etc``) cannot steer a
mount onto a host path.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from engine.kernel import syscalls

__all__ = ["MASKED_PATHS", "READONLY_PATHS", "BindMount", "make_mounts_private", "prepare_rootfs",
           "resolve_in_root"]

# Same limit as the kernel's MAXSYMLINKS.
_MAX_SYMLINKS = 40

_NOSUID_NODEV_NOEXEC = syscalls.MS_NOSUID | syscalls.MS_NODEV | syscalls.MS_NOEXEC

# (name, major, minor) from the kernel's Documentation/admin-guide/devices.txt; runc's default set.
_DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))

_DEV_SYMLINKS = (
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("core", "/proc/kcore"),
    ("ptmx", "pts/ptmx"),
)

# 64 MiB, Docker's default for /dev/shm; /dev itself only holds nodes.
_DEV_OPTIONS = "mode=755,size=65536k"
_SHM_OPTIONS = "mode=1777,size=65536k"
# gid 5 is "tty" in every distribution Docker supports; ptmxmode lets non-root open /dev/ptmx.
# newinstance: the container's own pty numbering; a ``-t`` console is made here (pty.setup_console), so the
# command sees /dev/pts/0 of this instance and the host's ptys stay invisible.
_DEVPTS_OPTIONS = "newinstance,ptmxmode=0666,mode=0620,gid=5"

# moby's oci/defaults.go: hidden (tmpfs or /dev/null on top) and read-only paths.
MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


@dataclass(frozen=True)
class BindMount:
    """A host file or directory shown inside the container (a volume or bind mount)."""

    source: str
    """Absolute host path."""
    destination: str
    """Absolute path inside the container."""
    readonly: bool = False


def _split(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


def resolve_in_root(root: str, path: str) -> str:
    """The host path of container path ``path``, following symlinks as if ``root`` were ``/``.

    ``..`` stops at ``root`` and absolute link targets restart from it, so the
    result is always inside ``root``. Missing components are kept as they are.
    """
    pending = _split(path)
    resolved: list[str] = []
    followed = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            resolved = resolved[:-1]
            continue
        try:
            target = os.readlink(os.path.join(root, *resolved, part))
        except OSError:
            resolved.append(part)
            continue
        followed += 1
        if followed > _MAX_SYMLINKS:
            raise OSError(errno.ELOOP, f"too many levels of symbolic links in {path}")
        if target.startswith("/"):
            resolved = []
        pending = _split(target) + pending
    return os.path.join(root, *resolved)


def _mount_point(root: str, path: str, directory: bool = True) -> str:
    """Resolve ``path`` in ``root`` and create it (a directory, or an empty file) if missing."""
    host = resolve_in_root(root, path)
    if directory:
        os.makedirs(host, exist_ok=True)
    elif not os.path.lexists(host):
        os.makedirs(os.path.dirname(host), exist_ok=True)
        os.close(os.open(host, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
    return host


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None, root: str) -> None:
    """mount(2) with an error that names the container path, not the host one."""
    try:
        syscalls.mount(source, target, fstype, flags, data)
    except OSError as err:
        shown = "/" + os.path.relpath(target, root).removeprefix(".")
        what = fstype or source
        raise OSError(err.errno, f"cannot mount {what} on {shown}: {err.strerror}") from err


def _bind_readonly(source: str, target: str, root: str, recursive: bool = False) -> None:
    """Bind ``source`` on ``target``, then remount the bind read-only (a bind cannot start read-only)."""
    _mount(source, target, None, syscalls.MS_BIND | (syscalls.MS_REC if recursive else 0), None, root)
    # A remount replaces the per-mount flags, so keep the nosuid/nodev/noexec the source had
    # (statvfs's ST_NOSUID/ST_NODEV/ST_NOEXEC have the same values as the MS_ flags).
    kept = os.statvfs(target).f_flag & _NOSUID_NODEV_NOEXEC
    flags = syscalls.MS_BIND | syscalls.MS_REMOUNT | syscalls.MS_RDONLY | kept
    _mount("", target, None, flags, None, root)


def make_mounts_private(anchor: str) -> None:
    """Stop mount events crossing between this (new) mount namespace and the host's, in either direction.

    In a chroot whose ``/`` is a plain directory, first re-root on ``anchor``, a mount point this process can
    see (``_reroot_on_a_mount``); every path stays what it was.
    """
    try:
        syscalls.mount("", "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE, None)
    except OSError as err:
        if err.errno != errno.EINVAL:
            raise
        _reroot_on_a_mount(anchor)  # a chroot: "/" is a plain directory, which neither this nor pivot_root takes
        syscalls.mount("", "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE, None)


def _visible_mount_points() -> list[str]:
    """Mount points this process can reach (in a chroot, only those under its root), from mountinfo."""
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return [line.split()[4].encode().decode("unicode_escape") for line in f]


def _reroot_on_a_mount(anchor: str) -> None:
    """Give a process whose ``/`` is a chroot's plain directory a ``/`` that is a mount, keeping every path.

    Every mount it can see is made private first; ``anchor`` is one of them (a container's overlay root),
    so the recursive bind of ``/`` attached on top of it propagates nowhere. Moving into that bind (chdir,
    chroot .) makes ``/`` a mount root, the same tree seen through a copy, ``anchor`` included: making it
    all private and pivot_root then work as on a host, and the chroot's own tree is detached after the
    pivot as the host's is elsewhere (runc stops here; a bare chroot + MS_MOVE would leave it reachable).
    """
    points = _visible_mount_points()
    if os.path.normpath(anchor) not in points:
        raise OSError(errno.EINVAL, "the root directory is not a mount point (a chroot?) and neither is the "
                      "container's root: bind-mount the chroot onto itself", anchor)
    for point in points:
        try:
            syscalls.mount("", point, None, syscalls.MS_PRIVATE, None)
        except OSError:
            pass  # covered by a later mount: unreachable, so nothing is mounted through it
    syscalls.mount("/", anchor, None, syscalls.MS_BIND | syscalls.MS_REC, None)
    os.chdir(anchor)
    os.chroot(".")
    os.chdir("/")


def _bind_root_onto_itself(root: str) -> None:
    """pivot_root needs the new root to be a mount point of its own in this namespace."""
    _mount(root, root, None, syscalls.MS_BIND | syscalls.MS_REC, None, root)


def _mount_proc(root: str) -> None:
    """A fresh procfs: it shows the pid namespace of this process, not the host's."""
    _mount("proc", _mount_point(root, "/proc"), "proc", _NOSUID_NODEV_NOEXEC, None, root)


def _make_device(root: str, dev: str, name: str, major: int, minor: int) -> None:
    """mknod one character device; where mknod is refused, bind the host's node instead."""
    path = os.path.join(dev, name)
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(major, minor))
        os.chmod(path, 0o666)
    except PermissionError:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666))
        _mount(os.path.join("/dev", name), path, None, syscalls.MS_BIND, None, root)


def _mount_dev(root: str) -> None:
    """/dev as a tmpfs holding only the standard nodes, a private devpts, shm, mqueue and the fd links."""
    dev = _mount_point(root, "/dev")
    _mount("tmpfs", dev, "tmpfs", syscalls.MS_NOSUID | syscalls.MS_STRICTATIME, _DEV_OPTIONS, root)
    for name, major, minor in _DEVICES:
        _make_device(root, dev, name, major, minor)
    for sub, fstype, flags, data in (
        ("pts", "devpts", syscalls.MS_NOSUID | syscalls.MS_NOEXEC, _DEVPTS_OPTIONS),
        ("shm", "tmpfs", _NOSUID_NODEV_NOEXEC, _SHM_OPTIONS),
        ("mqueue", "mqueue", _NOSUID_NODEV_NOEXEC, None),
    ):
        os.mkdir(os.path.join(dev, sub), 0o755)
        _mount(fstype, os.path.join(dev, sub), fstype, flags, data, root)
    for name, target in _DEV_SYMLINKS:
        os.symlink(target, os.path.join(dev, name))


def _mount_sys(root: str, writable: bool = False) -> None:
    """A read-only sysfs (``--privileged``: writable); where the kernel refuses a new one (no own net
    namespace), the host's, bound."""
    target = _mount_point(root, "/sys")
    try:
        syscalls.mount("sysfs", target, "sysfs", (0 if writable else syscalls.MS_RDONLY) | _NOSUID_NODEV_NOEXEC,
                       None)
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.EBUSY):
            raise OSError(err.errno, f"cannot mount sysfs on /sys: {err.strerror}") from err
        if writable:
            _mount("/sys", target, None, syscalls.MS_BIND | syscalls.MS_REC, None, root)
        else:
            _bind_readonly("/sys", target, root, recursive=True)


# Host /dev entries a privileged container does not copy: its own devpts, shm and mqueue, and links.
_HOST_DEV_SKIP = frozenset({"pts", "shm", "mqueue", "fd", "console", "core", "ptmx", "stdin", "stdout", "stderr"})


def _copy_host_devices(root: str, dev: str, host: str = "/dev") -> None:
    """``--privileged``: every character and block device of the host's /dev, as runc's HostDevices."""
    for entry in os.scandir(host):
        if entry.name in _HOST_DEV_SKIP or entry.name.startswith("."):
            continue
        path = os.path.join(dev, os.path.relpath(entry.path, "/dev"))
        if entry.is_dir(follow_symlinks=False):
            os.makedirs(path, 0o755, exist_ok=True)
            _copy_host_devices(root, dev, entry.path)
            continue
        st = entry.stat(follow_symlinks=False)
        if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)) or os.path.lexists(path):
            continue
        try:
            os.mknod(path, st.st_mode, st.st_rdev)
            os.chown(path, st.st_uid, st.st_gid)
            os.chmod(path, stat.S_IMODE(st.st_mode))
        except PermissionError:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
            _mount(entry.path, path, None, syscalls.MS_BIND, None, root)


def _mount_binds(root: str, mounts: Sequence[BindMount]) -> None:
    """The caller's volumes and bind mounts, in order, so a later one can sit inside an earlier one."""
    for bind in mounts:
        is_dir = os.path.isdir(bind.source)
        target = _mount_point(root, bind.destination, directory=is_dir)
        if bind.readonly:
            _bind_readonly(bind.source, target, root, recursive=True)
        else:
            _mount(bind.source, target, None, syscalls.MS_BIND | syscalls.MS_REC, None, root)


def _mask_paths(root: str) -> None:
    """Hide host-revealing /proc and /sys entries, and make the kernel-tuning ones read-only."""
    null = os.path.join(root, "dev/null")
    for path in MASKED_PATHS:
        host = resolve_in_root(root, path)
        if os.path.isdir(host):
            _mount("tmpfs", host, "tmpfs", syscalls.MS_RDONLY, "size=0", root)
        elif os.path.exists(host):
            _mount(null, host, None, syscalls.MS_BIND, None, root)
    for path in READONLY_PATHS:
        host = resolve_in_root(root, path)
        if os.path.exists(host):
            _bind_readonly(host, host, root, recursive=True)


def _pivot_into(root: str) -> None:
    """Make ``root`` the process's ``/`` and detach the host's tree entirely.

    ``pivot_root(".", ".")`` stacks the old root on top of the new one, so no
    put_old directory has to be made in the image (runc's trick); the old root is
    then lazily unmounted from underneath, through an fd opened on it beforehand.
    """
    old_root = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.chdir(root)
        syscalls.pivot_root(".", ".")
        os.fchdir(old_root)
        syscalls.umount2(".", syscalls.MNT_DETACH)
    finally:
        os.close(old_root)
    os.chdir("/")


def _mount_tmpfs(root: str, tmpfs: Sequence[tuple[str, str]]) -> None:
    """``--tmpfs PATH[:OPTIONS]``: Docker's defaults are nosuid, nodev, noexec."""
    for path, options in tmpfs:
        _mount("tmpfs", _mount_point(root, path), "tmpfs", _NOSUID_NODEV_NOEXEC, options or None, root)


def _readonly_root(root: str) -> None:
    """``--read-only``: only the root bind goes read-only; /proc, /dev, volumes and tmpfs keep their own flags."""
    _mount("", root, None, syscalls.MS_BIND | syscalls.MS_REMOUNT | syscalls.MS_RDONLY, None, root)


def prepare_rootfs(root: str, mounts: Sequence[BindMount] = (), *, tmpfs: Sequence[tuple[str, str]] = (),
                   readonly: bool = False, privileged: bool = False) -> None:
    """Mount /proc, /dev, /sys and ``mounts`` under ``root`` and pivot into it (in a new mount namespace only).

    ``privileged``: Docker's ``--privileged``: the host's devices, a writable /sys, nothing masked.
    """
    make_mounts_private(root)
    _bind_root_onto_itself(root)
    _mount_proc(root)
    _mount_dev(root)
    if privileged:
        _copy_host_devices(root, resolve_in_root(root, "/dev"))
    _mount_sys(root, writable=privileged)
    _mount_binds(root, mounts)
    _mount_tmpfs(root, tmpfs)
    if readonly:
        # Last of the mount points made in the root; the mounts on top keep their own flags.
        _readonly_root(root)
    if not privileged:
        _mask_paths(root)
    _pivot_into(root)

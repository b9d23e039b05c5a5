"""One exception tree for the engine; every message is fit to print after ``Error: ``."""

from __future__ import annotations

import errno
import os

__all__ = [
    "BerthError",
    "NotRoot",
    "InvalidReference",
    "ImageNotFound",
    "ImageInUse",
    "ImageConflict",
    "LayerNotFound",
    "ArchiveError",
    "UnsafeEntry",
    "StoreCorrupt",
    "StoreFull",
    "FULL_ERRNOS",
    "MountError",
    "MissingDependency",
    "InvalidArgument",
    "DockerfileParseError",
    "BuildError",
    "Cancelled",
    "ContainerStartError",
    "ContainerNotFound",
    "ContainerConflict",
    "ContainerNotRunning",
    "VolumeNotFound",
    "VolumeInUse",
    "MonitorError",
    "DigestMismatch",
    "RegistryError",
    "AuthError",
    "ManifestUnknown",
    "PlatformNotFound",
]


class BerthError(Exception):
    """Anything the user can get wrong or the host can refuse; ``str(e)`` is the whole message."""

    exit_code: int = 1


class NotRoot(BerthError):
    """The engine needs root (mounts, namespaces) and the caller is not."""


class InvalidArgument(BerthError):
    """A flag or argument has a value berth cannot use."""


class InvalidReference(BerthError):
    """An image name that is not ``[registry/]repo[:tag][@digest]``."""


class ImageNotFound(BerthError):
    """No image in the store answers to that name or ID."""


class ImageInUse(BerthError):
    """The image is needed by a container or a child image."""


class ImageConflict(BerthError):
    """A reference is ambiguous, or an ID prefix matches several images."""


class LayerNotFound(BerthError):
    """A layer record names data that is not in the store."""


class ArchiveError(BerthError):
    """A tarball cannot be read: unreadable, truncated or not a tar at all."""


class UnsafeEntry(ArchiveError):
    """A tar entry would create or change something outside the layer it is applied to."""

    def __init__(self, archive: str, name: str) -> None:
        super().__init__(f"{archive}: unsafe entry {name}")
        self.archive = archive
        self.name = name


class StoreCorrupt(BerthError):
    """A record in the store is unreadable or points at missing data."""


# What a filesystem says when it cannot take a write: full, over quota, read-only, failing. An environment
# condition, not a bug: it becomes one ``Error:`` line (StoreFull), never a traceback.
FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO)


class StoreFull(BerthError):
    """The filesystem under the store refused a write (full, over quota, read-only or failing)."""

    def __init__(self, path: str, errno_: int = errno.ENOSPC, root: str = "") -> None:
        self.path, self.errno, self.root = path, errno_, root or _store_root_of(path)
        super().__init__(self._message())

    def _message(self) -> str:
        shown = self.path
        if self.root and (self.path + "/").startswith(self.root.rstrip("/") + "/"):
            shown = os.path.relpath(self.path, self.root)
        return f"{os.strerror(self.errno).lower()} (writing {shown})" if shown else os.strerror(self.errno).lower()

    def relative_to(self, root: str) -> StoreFull:
        """The same error, its path shown relative to the store ``root``."""
        return StoreFull(self.path, self.errno, root)

    @classmethod
    def from_os_error(cls, err: OSError, path: str = "") -> StoreFull | None:
        """A StoreFull for an OSError that is one of FULL_ERRNOS, else None (keep it: it is a bug)."""
        if err.errno not in FULL_ERRNOS:
            return None
        return cls(str(path or err.filename or ""), err.errno)


def _store_root_of(path: str) -> str:
    """The nearest ancestor of ``path`` holding a store lock: paths in messages are shown relative to it."""
    from .store.paths import LOCK_FILE

    parent = os.path.dirname(path)
    while path and parent != path:
        if os.path.exists(os.path.join(parent, LOCK_FILE)):
            return parent
        path, parent = parent, os.path.dirname(parent)
    return ""


class MountError(BerthError):
    """The kernel refused a mount or unmount."""


class MissingDependency(BerthError):
    """A host program or package berth needs is not installed."""


class DockerfileParseError(BerthError):
    """A Dockerfile that the parser cannot read."""


class BuildError(BerthError):
    """A build step failed."""


class CommandFailed(BuildError):
    """A RUN command exited non-zero; the message is the classic builder's."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class Cancelled(BerthError):
    """The user cancelled a long operation; everything it did was undone."""


class ContainerStartError(BerthError):
    """The container's command never ran: berth's setup failed, or exec did.

    ``exit_code`` is what Docker reports for it: 125 setup, 126 cannot execute, 127 not found.
    """

    def __init__(self, message: str, exit_code: int, errno_: int = 0) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.errno = errno_


class ContainerNotFound(BerthError):
    """No container answers to that name or ID (prefix)."""


class ContainerConflict(BerthError):
    """The name is taken, an ID prefix is ambiguous, or the container's state forbids the action."""


class ContainerNotRunning(BerthError):
    """The action needs a running container."""


class VolumeNotFound(BerthError):
    """No volume has that name."""


class VolumeInUse(BerthError):
    """A container (running or not) mounts the volume, so it cannot be removed."""


class MonitorError(BerthError):
    """The container monitor could not be started or reached."""


class DigestMismatch(BerthError):
    """Content does not hash to the digest that names it: corrupt, truncated or tampered with."""


class RegistryError(BerthError):
    """A registry refused a request, answered nonsense, or could not be reached."""


class AuthError(RegistryError):
    """A registry wants credentials berth does not have, or refused the ones it has."""


class ManifestUnknown(RegistryError):
    """The registry has no manifest for that tag or digest."""


class PlatformNotFound(RegistryError):
    """An image index has no manifest for the requested platform."""

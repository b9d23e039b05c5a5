"""The build context: the only files a build may read, and the rules for naming them.

A context is a directory, or a tar (any compression) read from a stream and
unpacked into a private temp dir. ``.dockerignore`` hides paths as if they were
not there. Every source path is resolved inside the context the way Docker
resolves it (``..`` stops at the context root, a symlink is followed as if the
root were ``/``), so nothing outside is ever read.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO, Self

from ..errors import BuildError
from ..runtime.rootfs import resolve_in_root
from ..store.removal import delete_tree
from .dockerignore import DOCKERIGNORE, PatternMatcher, read_patterns
from .globs import compile_glob

__all__ = ["DEFAULT_DOCKERFILE", "BuildContext", "contains_wildcards"]

DEFAULT_DOCKERFILE = "Dockerfile"
_DIR_NOFOLLOW = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_TAR_MAGIC_OFFSET = 257  # POSIX ustar header: "ustar" at byte 257 of the first block


def contains_wildcards(path: str) -> bool:
    """Whether a COPY source is a pattern (Go's filepath.Match syntax); ``\\`` escapes."""
    i = 0
    while i < len(path):
        if path[i] == "\\":
            i += 2
            continue
        if path[i] in "*?[":
            return True
        i += 1
    return False


class BuildContext:
    """A context root with its ignore rules; ``close()`` removes an unpacked tar."""

    def __init__(self, root: str, *, temporary: bool = False, ignore: bool = True) -> None:
        self.root = os.path.realpath(root)
        """Absolute path of the context dir (symlinks resolved once, here)."""
        self._temporary = temporary
        patterns = read_patterns(self._read_text(DOCKERIGNORE) or "") if ignore else []
        self.matcher = PatternMatcher(patterns)
        """The .dockerignore rules."""
        self.stdin_dockerfile: str | None = None
        """The Dockerfile when the stream was a Dockerfile rather than a tar (``build - < Dockerfile``)."""

    @classmethod
    def from_dir(cls, path: str) -> BuildContext:
        """A directory on this machine."""
        if not os.path.isdir(path):
            raise BuildError(f"unable to prepare context: path {path!r} not found")
        return cls(path)

    @classmethod
    def from_stream(cls, stream: BinaryIO, cancel: threading.Event | None = None) -> BuildContext:
        """A tar (or a lone Dockerfile) read from ``stream``, unpacked into a temp dir."""
        from ..archive import open_maybe_compressed

        tmp = tempfile.mkdtemp(prefix="berth-context-")
        try:
            data = open_maybe_compressed(stream, "build context")
            head = _read_exactly(data, 512)
            if head and head[_TAR_MAGIC_OFFSET:_TAR_MAGIC_OFFSET + 5] != b"ustar":
                context = cls(tmp, temporary=True)
                context.stdin_dockerfile = (head + data.read()).decode("utf-8", "replace")
                return context
            _unpack(head, data, tmp, cancel)
            return cls(tmp, temporary=True)
        except BaseException:
            delete_tree(tmp, ignore_errors=True)
            raise

    def close(self) -> None:
        if self._temporary:
            delete_tree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_text(self, rel: str) -> str | None:
        try:
            with open(os.path.join(self.root, rel), encoding="utf-8", errors="replace") as f:
                return f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def read_dockerfile(self, name: str | None) -> str:
        """The Dockerfile text: ``name`` is a host path (``-f``), else ``Dockerfile`` in the context."""
        if self.stdin_dockerfile is not None and name is None:
            return self.stdin_dockerfile
        path = name if name is not None else os.path.join(self.root, DEFAULT_DOCKERFILE)
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError as err:
            shown = name or DEFAULT_DOCKERFILE
            raise BuildError(f"unable to prepare context: unable to read Dockerfile {shown}: {err.strerror}") from err

    # -- naming sources ------------------------------------------------------

    def clean(self, rel: str) -> str:
        """``rel`` cleaned to a context-relative path ("." for the root); refused if it climbs out."""
        cleaned = posixpath.normpath(rel.lstrip("/") or ".")
        if cleaned == ".." or cleaned.startswith("../"):
            raise BuildError(f"forbidden path outside the build context: {rel} ()")
        return cleaned

    def resolve(self, rel: str) -> tuple[str, str]:
        """(host path, context-relative path) of a source, symlinks followed inside the context only."""
        cleaned = self.clean(rel)
        missing = BuildError(
            f"file not found in build context or excluded by .dockerignore: stat {cleaned}: file does not exist")
        try:
            host = resolve_in_root(self.root, cleaned)
        except OSError:  # a symlink loop
            raise missing from None
        resolved = os.path.relpath(host, self.root)
        if not os.path.lexists(host) or self.excluded(cleaned) or self.excluded(resolved):
            raise missing
        return host, resolved

    def open_source(self, host: str) -> BinaryIO:
        """The regular file at ``host`` (a path ``resolve`` or ``walk`` gave), opened one component at a time.

        Every component is opened with ``O_NOFOLLOW`` below the root's fd, and the file with ``O_NONBLOCK``
        until it is known to be a regular file: a path that has turned into a link (or a FIFO) since it was
        resolved, because someone changed the tree under the build, is refused, never followed or waited on.
        """
        rel = os.path.relpath(host, self.root)
        leaf = self._open_below(rel, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        if not stat.S_ISREG(os.fstat(leaf).st_mode):
            os.close(leaf)
            raise _changed(rel)
        os.set_blocking(leaf, True)
        return os.fdopen(leaf, "rb", buffering=0)

    def _open_below(self, rel: str, flags: int) -> int:
        """``rel`` (no links in it: resolved already) opened by fd from the root, refusing any link met."""
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if parts[:1] == [".."]:
            raise BuildError(f"forbidden path outside the build context: {rel} ()")
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                try:
                    nxt = os.open(part, flags if last else _DIR_NOFOLLOW, dir_fd=fd)
                except OSError as err:
                    if err.errno in (errno.ELOOP, errno.ENXIO) or (err.errno == errno.ENOTDIR and (
                            not last or _is_link(part, fd))):  # O_DIRECTORY|O_NOFOLLOW on a link: ENOTDIR
                        raise _changed(rel) from None
                    raise
                os.close(fd)
                fd = nxt
            if not parts and not flags & os.O_DIRECTORY:
                raise IsADirectoryError(errno.EISDIR, "is a directory")
        except BaseException:
            os.close(fd)
            raise
        return fd

    def excluded(self, rel: str) -> bool:
        return rel not in ("", ".") and self.matcher.excluded(rel)

    def glob(self, pattern: str) -> list[str]:
        """Context paths matching a wildcard source, in walk order; a matched dir is not descended."""
        matches = _go_match(self.clean(pattern))
        return _drop_nested([rel for rel, _ in self.walk(".") if matches(rel)])

    def walk(self, rel_dir: str) -> Iterator[tuple[str, os.stat_result]]:
        """(context-relative path, lstat) below ``rel_dir``, depth first, names sorted, ignored paths left out.

        Dirs are read by fd, each opened with ``O_NOFOLLOW`` from the root: a dir turned into a link while
        the build walks is refused, never listed. A loop over a stack, not a recursion (the context chooses
        how deep its dirs go), holding one fd at a time.
        """
        try:
            fd = self._open_below(rel_dir, _DIR_NOFOLLOW)
        except NotADirectoryError:
            return
        stack = _entries(fd, rel_dir)
        while stack:
            rel, st = stack.pop()
            excluded = self.excluded(rel)
            if not excluded:
                yield rel, st
            if stat.S_ISDIR(st.st_mode) and (not excluded or self.matcher.may_reinclude_below(rel)):
                try:
                    sub = self._open_below(rel, _DIR_NOFOLLOW)
                except NotADirectoryError:
                    raise _changed(rel) from None
                stack.extend(_entries(sub, rel))


def _entries(fd: int, rel_dir: str) -> list[tuple[str, os.stat_result]]:
    """The entries of the dir open at ``fd`` (closed here), lstat'ed by fd, in reverse name order (a stack)."""
    try:
        prefix = "" if rel_dir in (".", "") else rel_dir + "/"
        out = []
        for name in sorted(os.listdir(fd), reverse=True):
            try:
                out.append((prefix + name, os.stat(name, dir_fd=fd, follow_symlinks=False)))
            except FileNotFoundError:
                continue  # gone since the listing
        return out
    finally:
        os.close(fd)


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _changed(rel: str) -> BuildError:
    return BuildError(f"file changed while the build read it: {rel}")


def _go_match(pattern: str) -> Callable[[str], bool]:
    """Go's filepath.Match for one COPY source pattern (``**`` is two ``*``, as there)."""
    try:
        regex = compile_glob(pattern)
    except ValueError as err:
        raise BuildError(str(err)) from None
    return lambda path: regex.match(path) is not None


def _drop_nested(paths: list[str]) -> list[str]:
    """Keep a matched dir but not matches inside it: the dir's copy includes them."""
    kept: list[str] = []
    for path in paths:
        if not any(path.startswith(k + "/") for k in kept):
            kept.append(path)
    return kept


def _read_exactly(stream: object, size: int) -> bytes:
    chunks = b""
    while len(chunks) < size:
        chunk = stream.read(size - len(chunks))  # type: ignore[attr-defined]
        if not chunk:
            break
        chunks += chunk
    return chunks


class _Replay:
    def __init__(self, head: bytes, rest: object) -> None:
        self._head, self._rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            data, self._head = (self._head, b"") if size < 0 else (self._head[:size], self._head[size:])
            return data
        return self._rest.read(size)  # type: ignore[attr-defined, no-any-return]


def _unpack(head: bytes, data: object, dest: str, cancel: threading.Event | None) -> None:
    """Unpack the context tar inside ``dest`` only (``untar``: names and links resolved as if it were ``/``)."""
    from .untar import UntarError, unpack_context

    try:
        with tarfile.open(fileobj=_Replay(head, data), mode="r|") as tar:  # type: ignore[call-overload]
            unpack_context(tar, dest, cancel)
    except UntarError as err:
        raise BuildError(f"unable to prepare context: {err}") from err
    except tarfile.TarError as err:
        raise BuildError(f"unable to prepare context: {err}") from err
    except OSError as err:
        raise BuildError(f"unable to prepare context: {err.strerror or err}") from err

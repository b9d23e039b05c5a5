"""The build context: the only files a build may read, and the rules for naming them.

A context is a directory, or a tar (any compression) read from a stream and
unpacked into a private temp dir. ``.dockerignore`` hides paths as if they were
not there. Every source path is resolved inside the context the way Docker
resolves it (``..`` stops at the context root, a symlink is followed as if the
root were ``/``), so nothing outside is ever read.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO, Self

from ..errors import BuildError, Cancelled
from ..runtime.rootfs import resolve_in_root
from ..store.removal import delete_tree
from .dockerignore import DOCKERIGNORE, PatternMatcher, read_patterns
from .globs import compile_glob

__all__ = ["DEFAULT_DOCKERFILE", "BuildContext", "contains_wildcards"]

DEFAULT_DOCKERFILE = "Dockerfile"
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
        host = resolve_in_root(self.root, cleaned)
        resolved = os.path.relpath(host, self.root)
        if not os.path.lexists(host) or self.excluded(cleaned) or self.excluded(resolved):
            raise BuildError(
                f"file not found in build context or excluded by .dockerignore: stat {rel}: file does not exist")
        return host, resolved

    def excluded(self, rel: str) -> bool:
        return rel not in ("", ".") and self.matcher.excluded(rel)

    def glob(self, pattern: str) -> list[str]:
        """Context paths matching a wildcard source, in walk order; a matched dir is not descended."""
        matches = _go_match(self.clean(pattern))
        return _drop_nested([rel for rel, _ in self.walk(".") if matches(rel)])

    def walk(self, rel_dir: str) -> Iterator[tuple[str, os.stat_result]]:
        """(context-relative path, lstat) below ``rel_dir``, depth first, names sorted, ignored paths left out.

        A loop over a stack of paths, not a recursion: the context chooses how deep its dirs go.
        """
        try:
            names = sorted(os.listdir(os.path.join(self.root, rel_dir)), reverse=True)
        except NotADirectoryError:
            return
        prefix = "" if rel_dir in (".", "") else rel_dir + "/"
        stack = [prefix + name for name in names]
        while stack:
            rel = stack.pop()
            st = os.lstat(os.path.join(self.root, rel))
            excluded = self.excluded(rel)
            if not excluded:
                yield rel, st
            if stat.S_ISDIR(st.st_mode) and (not excluded or self.matcher.may_reinclude_below(rel)):
                stack.extend(f"{rel}/{name}" for name in sorted(os.listdir(os.path.join(self.root, rel)), reverse=True))


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
    """Unpack the context tar; the 'tar' filter refuses absolute names and anything landing outside ``dest``."""
    try:
        with tarfile.open(fileobj=_Replay(head, data), mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                if cancel is not None and cancel.is_set():
                    raise Cancelled("build cancelled")
                _extract(tar, member, dest)
    except (tarfile.TarError, OSError) as err:
        raise BuildError(f"unable to prepare context: {err}") from err


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: str) -> None:
    """Extract with tarfile's 'tar' filter, or, on a Python without it (Debian 12's 3.11.2), the same checks by hand."""
    if hasattr(tarfile, "tar_filter"):
        tar.extract(member, dest, filter="tar")
        return
    member.name = member.name.lstrip("/")
    root = os.path.realpath(dest)
    if not _inside(root, os.path.join(root, member.name)):
        raise tarfile.TarError(f"{member.name!r} would be extracted outside the context")
    if member.issym() or member.islnk():
        base = root if member.islnk() else os.path.dirname(os.path.join(root, member.name))
        if os.path.isabs(member.linkname) or not _inside(root, os.path.join(base, member.linkname)):
            raise tarfile.TarError(f"{member.name!r} links outside the context")
    if member.isdev():
        raise tarfile.TarError(f"{member.name!r} is a device node")
    member.mode &= 0o7777 & ~0o6000  # like the 'tar' filter: no set-id bits
    tar.extract(member, dest, set_attrs=True)


def _inside(root: str, path: str) -> bool:
    return os.path.commonpath([root, os.path.realpath(path)]) == root

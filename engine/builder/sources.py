"""COPY/ADD sources from their words: context paths, wildcards, heredocs and (ADD only) URLs."""

from __future__ import annotations

import os
import posixpath
import stat
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack

from ..errors import BuildError
from ..store.removal import delete_tree
from . import parser
from .context import BuildContext, contains_wildcards
from .copy import Source, is_archive

__all__ = ["collect", "is_url", "DOWNLOAD_MODE"]

DOWNLOAD_MODE = 0o600  # Docker gives downloaded files 0600
_DOWNLOAD_TIMEOUT = 60
_CHUNK = 1 << 20


def is_url(word: str) -> bool:
    return word.startswith(("http://", "https://"))


class _Scratch:
    """A temp dir, made on first use and removed with the step, for heredoc bodies and downloads."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._tree: BuildContext | None = None

    @property
    def tree(self) -> BuildContext:
        if self._tree is None:
            path = tempfile.mkdtemp(prefix="berth-sources-")
            self._stack.callback(delete_tree, path, ignore_errors=True)
            self._tree = BuildContext(path, ignore=False)
        return self._tree

    def new_dir(self) -> str:
        """A fresh sub dir, so two sources with the same name never collide."""
        return tempfile.mkdtemp(dir=self.tree.root)


def collect(stack: ExitStack, tree: BuildContext, words: Sequence[str], ins: parser.Instruction,
            *, add: bool) -> tuple[Source, ...]:
    """Every source the words name, in order; refuses a source that is missing or excluded."""
    scratch = _Scratch(stack)
    docs = {doc.name: doc for doc in ins.heredocs}
    found: list[Source] = []
    for word in words:
        doc = parser.parse_heredoc(word) if word.startswith("<<") or word[:1].isdigit() else None
        if doc is not None and doc.name in docs:
            found.append(_heredoc(scratch, docs[doc.name]))
        elif add and is_url(word):
            found.append(_download(scratch, word))
        elif is_url(word):
            raise BuildError("source can't be a URL for COPY")
        elif contains_wildcards(word):
            found += [_local(tree, rel, add) for rel in tree.glob(word)]
        else:
            found.append(_local(tree, word, add))
    if not found:
        raise BuildError("no source files were specified")
    return tuple(found)


def _local(tree: BuildContext, word: str, add: bool) -> Source:
    host, rel = tree.resolve(word)
    if stat.S_ISSOCK(os.stat(host).st_mode):  # Docker's context tar never holds sockets
        raise BuildError(f"file not found in build context or excluded by .dockerignore: stat {rel}: "
                         "file does not exist")
    is_dir = os.path.isdir(host)
    name = posixpath.basename(posixpath.normpath(word.lstrip("/")) or ".")
    return Source(tree, rel, name, is_dir, archive=add and not is_dir and is_archive(tree, host))


def _heredoc(scratch: _Scratch, doc: parser.Heredoc) -> Source:
    content = parser.chomp_heredoc_content(doc.content) if doc.chomp else doc.content
    directory = scratch.new_dir()
    with open(os.path.join(directory, doc.name), "w", encoding="utf-8") as f:
        f.write(content)
    os.chmod(os.path.join(directory, doc.name), 0o644)
    rel = os.path.relpath(os.path.join(directory, doc.name), scratch.tree.root)
    return Source(scratch.tree, rel, doc.name, False)


def _download(scratch: _Scratch, url: str) -> Source:
    """Fetch a URL into the scratch dir; the file keeps the URL's last path element as its name."""
    import email.utils  # only ADD <url> pays for these imports
    import urllib.error
    import urllib.parse
    import urllib.request

    name = posixpath.basename(urllib.parse.urlparse(url).path)
    if not name:
        raise BuildError(f"cannot determine filename from url: {url}")
    path = os.path.join(scratch.new_dir(), name)
    try:
        with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT) as response, open(path, "wb") as out:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
            modified = response.headers.get("Last-Modified")
    except urllib.error.HTTPError as err:
        raise BuildError(f"failed to GET {url} with status {err.code}: {err.reason}") from err
    except (urllib.error.URLError, OSError) as err:
        raise BuildError(f"failed to GET {url}: {getattr(err, 'reason', err)}") from err
    if modified:
        stamp = email.utils.parsedate_to_datetime(modified).timestamp()
        os.utime(path, (stamp, stamp))
    os.chmod(path, DOWNLOAD_MODE)
    return Source(scratch.tree, os.path.relpath(path, scratch.tree.root), name, False, mode=DOWNLOAD_MODE)

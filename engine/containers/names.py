"""Container names: Docker's rules, and the index ``containers/.names/<name>`` → ID that finds one in O(1).

Each entry is a symlink whose target is the container's ID: ``symlink(2)`` creates
it whole or not at all and fails if the name is taken, so claiming a name is one
syscall under the store lock. The index may only ever hold too much, never too
little: a name is linked before its record appears and unlinked after its record
is gone, so after a crash an entry can be stale (its ID gone, or the record now
has another name) but a container is never missing from it. Every lookup checks
the entry against the record's ``Name``, which makes a stale entry harmless;
``system check`` lists stale and missing entries and ``--repair`` rebuilds the
index from the records (``rebuild``). A store from before the index has no
``.names`` dir: readers then scan the records, and the first writer builds it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil

from ..errors import ContainerConflict, InvalidArgument
from ..models import CheckProblem
from ..store import atomic
from ..store.paths import CONTAINER_CONFIG_FILE, CONTAINER_LOG_SUFFIX, StorePaths

__all__ = ["NAME_CHARS", "check_index", "claim", "ensure_index", "index_dir", "lookup", "rebuild", "release",
           "taken", "valid_name", "CONTAINERS_DIR_MODE", "CONTAINER_DIR_MODE", "LOG_MODE", "make_containers_dir"]

NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
"""Docker's ``validContainerNameChars``, quoted as-is in its error message."""
_NAME = re.compile(NAME_CHARS + "+")
INDEX_DIR = ".names"

# Docker's modes: only root (and root's group, which may traverse) sees into containers/ and a container's dir;
# a log is readable by root's group, never by other users (a log may hold secrets).
CONTAINERS_DIR_MODE = 0o710
CONTAINER_DIR_MODE = 0o710
LOG_MODE = 0o640


def valid_name(name: str) -> str:
    """``name`` without its one optional leading ``/``, or Docker's error for a name it would refuse."""
    bare = name[1:] if name.startswith("/") else name
    if not _NAME.fullmatch(bare):
        raise InvalidArgument(f"Invalid container name ({_shown(name)}), only {NAME_CHARS} are allowed")
    return bare


def _shown(name: str) -> str:
    """The name with control characters escaped: an error line must not carry a terminal escape sequence."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in name)


def index_dir(paths: StorePaths) -> str:
    return os.path.join(paths.containers, INDEX_DIR)


def make_containers_dir(paths: StorePaths) -> None:
    """``containers/`` with Docker's mode (an older store's is narrowed here, at its next create)."""
    os.makedirs(paths.containers, CONTAINERS_DIR_MODE, exist_ok=True)
    if os.stat(paths.containers).st_mode & 0o7777 != CONTAINERS_DIR_MODE:
        os.chmod(paths.containers, CONTAINERS_DIR_MODE)


def _record_name(paths: StorePaths, cid: str) -> str | None:
    """The ``Name`` (without ``/``) in a container's record; None when it has no readable record."""
    try:
        with open(paths.container_file(cid, CONTAINER_CONFIG_FILE), encoding="utf-8") as f:
            name = json.load(f).get("Name")
    except (OSError, ValueError, AttributeError):
        return None
    return name.lstrip("/") if isinstance(name, str) else None


def _target(paths: StorePaths, name: str) -> str | None:
    try:
        return os.readlink(os.path.join(index_dir(paths), name))
    except (FileNotFoundError, NotADirectoryError):
        return None


def lookup(paths: StorePaths, name: str) -> str | None:
    """The ID of the container called ``name`` (with or without ``/``); None when there is none.

    One readlink and one record read; a store without an index (or a name the
    index cannot hold, from before names were checked) is answered by a scan.
    """
    bare = name[1:] if name.startswith("/") else name
    if not os.path.isdir(index_dir(paths)) or not _NAME.fullmatch(bare):
        return _scan(paths, bare)
    cid = _target(paths, bare)
    if cid is None or "/" in cid or _record_name(paths, cid) != bare:
        return None
    return cid


def _scan(paths: StorePaths, bare: str) -> str | None:
    for cid, name in _records(paths):
        if name == bare:
            return cid
    return None


def _records(paths: StorePaths) -> list[tuple[str, str]]:
    """(ID, name) of every container with a readable record."""
    try:
        entries = os.listdir(paths.containers)
    except FileNotFoundError:
        return []
    out = []
    for cid in entries:
        if len(cid) == 64 and not cid.startswith("."):
            name = _record_name(paths, cid)
            if name is not None:
                out.append((cid, name))
    return out


def claim(paths: StorePaths, name: str, cid: str) -> None:
    """Link ``name`` to ``cid`` (the store lock held), or Docker's conflict if a container has the name."""
    ensure_index(paths)
    link = os.path.join(index_dir(paths), name)
    try:
        os.symlink(cid, link)
    except FileExistsError:
        owner = lookup(paths, name)
        if owner is not None and owner != cid:
            raise ContainerConflict(f'Conflict. The container name "/{name}" is already in use by container '
                                    f'"{owner}". You have to remove (or rename) that container to be able to '
                                    "reuse that name.") from None
        _replace_link(link, cid)  # a stale entry, left by a crash: taken over
    atomic.fsync_dir(index_dir(paths))


def release(paths: StorePaths, name: str, cid: str) -> None:
    """Unlink ``name`` if it still stands for ``cid`` (the store lock held); after the record is gone or renamed."""
    bare = name.lstrip("/")
    if _target(paths, bare) == cid:
        try:
            os.unlink(os.path.join(index_dir(paths), bare))
        except FileNotFoundError:
            pass


def _replace_link(link: str, cid: str) -> None:
    tmp = f"{link}.tmp-{secrets.token_hex(4)}"
    os.symlink(cid, tmp)
    os.replace(tmp, link)


def taken(paths: StorePaths, name: str) -> bool:
    """Whether a container is called ``name`` (a stale entry does not count: ``claim`` takes it over)."""
    return lookup(paths, name) is not None


def ensure_index(paths: StorePaths) -> None:
    """Build the index if the store has none yet (the store lock held)."""
    if not os.path.isdir(index_dir(paths)):
        make_containers_dir(paths)
        _narrow_modes(paths)
        rebuild(paths)


def rebuild(paths: StorePaths) -> int:
    """A new index from the records, swapped in whole (the store lock held); returns how many names it holds."""
    make_containers_dir(paths)
    fresh = os.path.join(paths.containers, f".tmp-names-{secrets.token_hex(4)}")
    os.mkdir(fresh, 0o700)
    try:
        count = 0
        for cid, name in _records(paths):
            if _NAME.fullmatch(name) and not os.path.lexists(os.path.join(fresh, name)):
                os.symlink(cid, os.path.join(fresh, name))
                count += 1
        atomic.fsync_dir(fresh)
        old = atomic.rename_aside(index_dir(paths))
        os.rename(fresh, index_dir(paths))
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    atomic.fsync_dir(paths.containers)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return count


INDEX_PROBLEMS = ("missing name index entry", "stale name index entry")


def check_index(paths: StorePaths) -> list[CheckProblem]:
    """What is wrong with the index (for ``system check``): a missing or stale entry; ``rebuild`` repairs all."""
    where = index_dir(paths)
    if not os.path.isdir(where):
        return []  # an older store: names are found by a scan until the first create builds the index
    problems = []
    records = _records(paths)
    by_id = dict(records)
    for cid, name in records:
        if _NAME.fullmatch(name) and _target(paths, name) != cid:
            problems.append(CheckProblem(INDEX_PROBLEMS[0], os.path.join(where, name),
                                         f"container {cid[:12]} is called {name}"))
    for entry in sorted(os.listdir(where)):
        cid = _target(paths, entry)
        if cid is None or by_id.get(cid) != entry:
            problems.append(CheckProblem(INDEX_PROBLEMS[1], os.path.join(where, entry),
                                         f"points at {str(cid)[:12]}, which is not called {entry}"))
    return problems


def _narrow_modes(paths: StorePaths) -> None:
    """Give an older store's container dirs and logs Docker's modes (once, when its index is built)."""
    for cid, _name in _records(paths):
        try:
            os.chmod(paths.container_dir(cid), CONTAINER_DIR_MODE)
            for entry in os.listdir(paths.container_dir(cid)):
                if entry.startswith(cid + CONTAINER_LOG_SUFFIX):
                    os.chmod(os.path.join(paths.container_dir(cid), entry), LOG_MODE)
        except FileNotFoundError:
            continue

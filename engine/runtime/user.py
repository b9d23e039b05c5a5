"""Resolve a Docker ``USER`` string (``uid[:gid]``, ``name[:group]``) against a container's own files.

Runs inside the container after pivot_root, so ``/etc/passwd`` is the image's
and a symlink in the image cannot point the lookup at a host file.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ExecUser", "resolve_user", "UnknownUser", "PASSWD_PATH", "GROUP_PATH"]

PASSWD_PATH = "/etc/passwd"
GROUP_PATH = "/etc/group"


class UnknownUser(LookupError):
    """A user or group name that the container's passwd or group file does not list."""


@dataclass(frozen=True)
class ExecUser:
    """The credentials the container's command runs with."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    """Supplementary groups: every group in /etc/group that lists the user."""
    home: str
    """The user's home from /etc/passwd, "/" when not listed."""


def _read_table(path: str) -> list[list[str]]:
    """The colon-separated rows of a passwd/group file; a missing file is an empty table."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    return [line.split(":") for line in lines if line and not line.startswith("#")]


def _find_passwd(rows: list[list[str]], who: str) -> list[str] | None:
    """The passwd row for a name or numeric uid (a name wins, as in libcontainer)."""
    for row in rows:
        if len(row) >= 7 and row[0] == who:
            return row
    for row in rows:
        if len(row) >= 7 and who.isdigit() and row[2] == who:
            return row
    return None


def _find_group(rows: list[list[str]], which: str) -> int:
    """The gid of a group name or numeric gid."""
    for row in rows:
        if len(row) >= 3 and row[0] == which and row[2].isdigit():
            return int(row[2])
    if which.isdigit():
        return int(which)
    raise UnknownUser(f"unable to find group {which}: no matching entries in group file")


def _groups_of(rows: list[list[str]], name: str | None, gid: int) -> tuple[int, ...]:
    """Supplementary gids: the primary group plus every group listing ``name`` as a member."""
    found = [gid]
    if name is not None:
        for row in rows:
            if len(row) >= 4 and row[2].isdigit() and name in row[3].split(","):
                found.append(int(row[2]))
    return tuple(dict.fromkeys(found))


def resolve_user(spec: str) -> ExecUser:
    """Resolve ``spec`` against the current root's /etc/passwd and /etc/group ("" means root)."""
    who, _, group = (spec or "0").partition(":")
    row = _find_passwd(_read_table(PASSWD_PATH), who)
    if row is None and not who.isdigit():
        raise UnknownUser(f"unable to find user {who}: no matching entries in passwd file")
    uid = int(row[2]) if row is not None else int(who)
    gid = int(row[3]) if row is not None and row[3].isdigit() else 0
    group_rows = _read_table(GROUP_PATH)
    if group:
        gid = _find_group(group_rows, group)
        groups: tuple[int, ...] = (gid,)
    else:
        groups = _groups_of(group_rows, row[0] if row is not None else None, gid)
    home = row[5] if row is not None and row[5] else "/"
    return ExecUser(uid=uid, gid=gid, groups=groups, home=home)

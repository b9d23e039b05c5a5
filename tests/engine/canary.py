"""A host directory that no hostile input may change: the hostile suites' shared witness."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest


def snapshot(root: Path) -> dict[str, tuple[int, int, int, int, str]]:
    """Every path at and below ``root``: mode, owner, size and content (a link's target, a file's hash), never
    following a link."""
    out = {}
    for path in sorted([root, *root.rglob("*")]):
        st = path.lstat()
        content = os.readlink(path) if path.is_symlink() else (
            hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "")
        out[str(path)] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, content)
    return out


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[Path]:
    """A directory outside the store (and any context) whose content, modes, owners and entries must stay."""
    root = tmp_path / "canary"
    (root / "sub").mkdir(parents=True)
    (root / "secret").write_text("do not touch\n")
    (root / "sub/file").write_text("nor this\n")
    os.chmod(root / "secret", 0o600)
    before = snapshot(root)
    yield root
    assert snapshot(root) == before, "something outside the store changed"
    assert not (tmp_path / "pwned").exists()

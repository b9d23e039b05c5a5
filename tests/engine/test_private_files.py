"""Files of the store are private (issue 13 item 5): Docker's modes, and another local user reads no container's log."""

from __future__ import annotations

import os
import shutil
import stat

from engine.containers import names
from engine.store.paths import CONTAINER_CONFIG_FILE
from tests.engine.containers_fixtures import cengine, run  # noqa: F401

NOBODY = 65534


def _mode(path: str) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _as_nobody(root: str, attempts: dict[str, str]) -> dict[str, str]:
    """Try each (label → path under ``root``) as uid/gid 65534 in a forked child; label → "ok" or the errno name.

    The child holds a descriptor of the store root opened before it dropped root,
    so it is where any user is on a real host (``/var/lib/berth`` is 0711): the
    test's own temp dirs above the root are no part of what is tested.
    """
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            results = []
            for label, rel in attempts.items():
                try:
                    if label.startswith("list"):
                        fd = os.open(rel, os.O_RDONLY | os.O_DIRECTORY, dir_fd=root_fd)
                        os.listdir(fd)
                    elif label.startswith("stat"):
                        os.stat(rel, dir_fd=root_fd)
                        fd = -1
                    else:
                        fd = os.open(rel, os.O_RDONLY, dir_fd=root_fd)
                        os.read(fd, 1)
                    if fd >= 0:
                        os.close(fd)
                    results.append(f"{label}=ok")
                except OSError as err:
                    results.append(f"{label}={err.__class__.__name__}")
            os.write(write_end, "\n".join(results).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.close(root_fd)
    with os.fdopen(read_end, "rb") as f:
        text = f.read().decode()
    os.waitpid(pid, 0)
    return dict(line.split("=", 1) for line in text.splitlines())


def test_another_user_cannot_list_containers_or_read_a_log(cengine) -> None:  # type: ignore[no-untyped-def]
    cid, code, text = run(cengine, "sh", "-c", "echo the-secret-token", name="secretive")
    assert (code, text) == (0, "the-secret-token\n")
    log = cengine.paths.container_log(cid)
    assert _mode(cengine.paths.containers) == 0o710
    assert _mode(cengine.paths.container_dir(cid)) == 0o710
    assert _mode(log) == 0o640
    assert _mode(cengine.paths.container_file(cid, CONTAINER_CONFIG_FILE)) == 0o600
    rel = os.path.relpath(log, cengine.root)
    seen = _as_nobody(cengine.root, {
        "stat-containers": "containers",  # the control: the child does reach the store
        "list-containers": "containers",
        "list-container-dir": os.path.dirname(rel),
        "read-log": rel,
        "read-config": os.path.relpath(cengine.paths.container_file(cid, CONTAINER_CONFIG_FILE), cengine.root),
    })
    assert seen == {"stat-containers": "ok", "list-containers": "PermissionError",
                    "list-container-dir": "PermissionError", "read-log": "PermissionError",
                    "read-config": "PermissionError"}


def test_rotated_logs_keep_the_mode(cengine) -> None:  # type: ignore[no-untyped-def]
    cid, _, _ = run(cengine, "sh", "-c", "for i in $(seq 50); do echo line-$i; done",
                    log_opts={"max-size": "2k", "max-file": "3"})
    log = cengine.paths.container_log(cid)
    files = [log, *(f"{log}.{i}" for i in (1, 2) if os.path.exists(f"{log}.{i}"))]
    assert len(files) == 2, "one rotation: log.1 is the file create made"
    assert {_mode(f) for f in files} == {0o640}


def test_an_older_stores_modes_are_narrowed_at_its_next_create(cengine) -> None:  # type: ignore[no-untyped-def]
    cid, _, _ = run(cengine, "echo", "old")
    shutil.rmtree(names.index_dir(cengine.paths))  # as a store from before the modes and the index
    os.chmod(cengine.paths.containers, 0o755)
    os.chmod(cengine.paths.container_dir(cid), 0o755)
    os.chmod(cengine.paths.container_log(cid), 0o644)
    run(cengine, "echo", "new")
    assert _mode(cengine.paths.containers) == 0o710
    assert _mode(cengine.paths.container_dir(cid)) == 0o710
    assert _mode(cengine.paths.container_log(cid)) == 0o640

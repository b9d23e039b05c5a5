"""``rm`` of many containers in one batch: every record, mount record, layer and link goes; nothing else does."""

from __future__ import annotations

import os
import time

from engine.containers import CreateOptions
from engine.errors import ContainerConflict, ContainerNotFound
from engine.store.paths import INIT_SUFFIX, MOUNT_ID_FILE
from tests.engine.containers_fixtures import cengine, clean_containers  # noqa: F401


def _mount_id(engine, cid: str) -> str:  # type: ignore[no-untyped-def]
    with open(os.path.join(engine.paths.mount_record(cid), MOUNT_ID_FILE)) as f:
        return f.read()


def _read(path: str) -> str:
    with open(path, encoding="ascii") as f:
        return f.read()


def _store_files(engine) -> set[str]:  # type: ignore[no-untyped-def]
    """Every path under the store root except the event journal and lock files (which only grow)."""
    found = set()
    for top, dirs, files in os.walk(engine.root):
        for name in dirs + files:
            path = os.path.relpath(os.path.join(top, name), engine.root)
            if not (path.startswith(("events", "monitor")) or name.endswith(".lock") or name.startswith(".lock")):
                found.add(path)
    return found


def test_rm_many_removes_exactly_their_files(cengine) -> None:  # type: ignore[no-untyped-def]
    before = _store_files(cengine)
    created = [cengine.container_create(CreateOptions(image="busybox", cmd=("true",), network="none"))
               for _ in range(6)]
    for cid in created[:3]:  # three have run and exited, three were only created
        cengine.container_start(cid)
        assert cengine.container_wait(cid) == 0
    running = cengine.container_create(CreateOptions(image="busybox", cmd=("sleep", "60"), network="none",
                                                     name="busy"))
    cengine.container_start(running)
    layers = {cid: _mount_id(cengine, cid) for cid in created}
    links = {cid: [_read(cengine.paths.link_file(m)) for m in (mid, mid + INIT_SUFFIX)] for cid, mid in layers.items()}

    names = [created[0][:12], created[1], "no-such-thing", created[0], "busy", *created[2:]]
    results = cengine.container_remove_many(names)

    assert [type(r) if r else None for r in results] == [None, None, ContainerNotFound, ContainerNotFound,
                                                         ContainerConflict, None, None, None, None]
    assert {s.id for s in cengine.container_list(all=True)} == {running}, "the running one stays"
    for cid, mid in layers.items():
        for path in (cengine.paths.container_dir(cid), cengine.paths.mount_record(cid),
                     cengine.paths.layer_dir(mid), cengine.paths.layer_dir(mid + INIT_SUFFIX),
                     *(cengine.paths.link(link) for link in links[cid])):
            assert not os.path.lexists(path), path
    assert not [p for p in _store_files(cengine) if ".tmp-rm-" in p], "no trash is left"
    destroyed = [e.id for e in cengine.events_read(0)[0] if e.type == "container" and e.action == "destroy"]
    assert sorted(destroyed) == sorted(created)

    assert cengine.container_remove_many(["busy"], force=True) == [None]
    parents = {"containers", os.path.join("containers", ".names"),  # made by the first create
               os.path.join("image", "overlay2", "layerdb", "mounts")}
    assert _store_files(cengine) - parents == before, "the store is as it was before the containers"
    assert cengine.system_check().ok


def test_rm_one_container_still_works_alone(cengine) -> None:  # type: ignore[no-untyped-def]
    """``--rm`` and ``container_remove`` take the same path with a batch of one."""
    cid = cengine.container_create(CreateOptions(image="busybox", cmd=("true",), network="none", auto_remove=True))
    mid = _mount_id(cengine, cid)
    attachment = cengine.container_start(cid, attach=True)
    list(attachment.entries())
    attachment.close()
    paths = [cengine.paths.container_dir(cid), cengine.paths.layer_dir(mid), cengine.paths.layer_dir(mid + INIT_SUFFIX)]
    deadline = time.monotonic() + 5
    while any(map(os.path.exists, paths)) and time.monotonic() < deadline:
        time.sleep(0.05)  # the monitor removes it after telling us the exit code
    assert not any(map(os.path.exists, paths))
    other = cengine.container_create(CreateOptions(image="busybox", cmd=("true",), network="none"))
    assert cengine.container_remove(other) == other
    assert cengine.container_list(all=True) == []

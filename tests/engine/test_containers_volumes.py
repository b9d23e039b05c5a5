"""Volumes on real containers: named and anonymous, copied up from the image, kept or removed as Docker does."""

from __future__ import annotations

import json
import os
import time

import pytest

from engine.containers import CreateOptions
from engine.errors import InvalidArgument, VolumeInUse, VolumeNotFound
from engine.store.paths import VOLUME_RECORD_FILE
from tests.engine import containers_fixtures

cengine = containers_fixtures.cengine

_DOCKERFILE = """FROM busybox
RUN mkdir -p /data/sub && echo seed > /data/seed && chown 1000:2000 /data/seed && chmod 4750 /data/seed \\
 && ln -s seed /data/link && mkfifo /data/fifo && chmod 700 /data/sub
VOLUME /data
"""


def _run(engine, *argv: str, **kw: object) -> tuple[str, int, str]:  # type: ignore[no-untyped-def]
    kw.setdefault("image", "busybox")
    kw.setdefault("network", "none")
    cid = engine.container_create(CreateOptions(cmd=argv or None, **kw))  # type: ignore[arg-type]
    attachment = engine.container_start(cid, attach=True)
    text = "".join(e.log for e in attachment.entries())
    attachment.close()
    return cid, int(attachment.exit_code), text


@pytest.fixture
def volimg(cengine, tmp_path) -> str:  # type: ignore[no-untyped-def]
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text(_DOCKERFILE)
    cengine.image_build(str(tmp_path / "ctx"), tags=("volimg",))
    return "volimg"


def test_named_volume_made_on_first_use_outlives_its_containers(cengine) -> None:  # type: ignore[no-untyped-def]
    cid, code, _ = _run(cengine, "sh", "-c", "echo kept > /data/f", binds=("store1:/data",))
    assert code == 0
    data = cengine.paths.volume_data("store1")
    with open(os.path.join(data, "f")) as f:
        assert f.read() == "kept\n"
    with open(os.path.join(cengine.paths.volume_dir("store1"), VOLUME_RECORD_FILE)) as f:
        record = json.load(f)
    assert record["Name"] == "store1" and record["Anonymous"] is False
    with pytest.raises(VolumeInUse, match=f"remove store1: volume is in use - \\[{cid}\\]"):
        cengine.volume_remove("store1")
    cengine.container_remove(cid, volumes=True)  # -v never takes a named volume
    _, code, text = _run(cengine, "cat", "/data/f", binds=("store1:/data:ro",))
    assert (code, text) == (0, "kept\n")
    _, code, text = _run(cengine, "sh", "-c", "echo x > /data/g", binds=("store1:/data:ro",))
    assert code != 0 and "Read-only file system" in text
    assert [v.name for v in cengine.volume_list()] == ["store1"]


def test_volume_create_inspect_rm_prune(cengine) -> None:  # type: ignore[no-untyped-def]
    made = cengine.volume_create("v1", labels={"a": "b"})
    assert cengine.volume_create("v1").created_at == made.created_at  # create is idempotent
    shown = cengine.volume_inspect("v1")
    assert shown == {"CreatedAt": made.created_at, "Driver": "local", "Labels": {"a": "b"},
                     "Mountpoint": cengine.paths.volume_data("v1"), "Name": "v1", "Options": {}, "Scope": "local"}
    anonymous = cengine.volume_create()  # a random name, but the user's own: not an anonymous (container's) one
    assert len(anonymous.name) == 64 and not anonymous.anonymous and anonymous.labels == {}
    with pytest.raises(InvalidArgument, match="invalid characters"):
        cengine.volume_create("a/b")
    with pytest.raises(VolumeNotFound, match="No such volume: nope"):
        cengine.volume_inspect("nope")
    for outside in ("..", "../volumes/v1", "v1/../v1"):  # names are never paths
        with pytest.raises(VolumeNotFound):
            cengine.volume_inspect(outside)
        with pytest.raises(VolumeNotFound):
            cengine.volume_remove(outside)
    cid = cengine.container_create(CreateOptions(image="busybox", cmd=("true",), binds=("v2:/x",), network="none"))
    with open(os.path.join(cengine.paths.volume_data("v1"), "blob"), "wb") as f:
        f.write(b"z" * 5000)
    removed, freed = cengine.volume_prune()
    assert sorted(removed) == sorted(["v1", anonymous.name]) and freed == 5000
    assert [v.name for v in cengine.volume_list()] == ["v2"]  # a created (never run) container holds it
    cengine.container_remove(cid)
    cengine.volume_remove("v2")
    cengine.volume_remove("v2", force=True)
    with pytest.raises(VolumeNotFound):
        cengine.volume_remove("v2")
    assert os.listdir(cengine.paths.volumes) == []


def test_image_volume_is_anonymous_and_copied_up_once(cengine, volimg) -> None:  # type: ignore[no-untyped-def]
    cid, code, text = _run(cengine, "sh", "-c", "ls -ln /data | sed 1d | awk '{print $1, $3, $4, $9}'; "
                           "cat /data/link; rm /data/seed; echo new > /data/new", image=volimg)
    assert code == 0, text
    lines = sorted(text.splitlines())
    assert "-rwsr-x--- 1000 2000 seed" in lines and "seed" in lines  # owner, mode and setuid bit kept
    assert any(line.startswith("prw") and line.endswith("fifo") for line in lines)
    assert "drwx------ 0 0 sub" in lines and any(line.startswith("lrwx") for line in lines)
    config = cengine.container_inspect(cid)
    [mount] = config["Mounts"]
    assert mount["Type"] == "volume" and mount["Destination"] == "/data" and len(mount["Name"]) == 64
    assert config["Config"]["Volumes"] == {"/data": {}}
    shown = cengine.volume_inspect(mount["Name"])
    assert (shown["Labels"], shown["Options"]) == (None, None)  # Docker's anonymous volumes have neither
    # a restart mounts the same volume without copying again: the user's changes stay
    attachment = cengine.container_start(cid, attach=True)
    assert attachment is not None
    list(attachment.entries())
    attachment.close()
    assert sorted(os.listdir(mount["Source"])) == ["fifo", "link", "new", "sub"]
    cengine.container_remove(cid, volumes=True)
    assert not os.path.exists(cengine.paths.volume_dir(mount["Name"]))


def test_dash_v_path_and_rm_flag_remove_anonymous_volumes(cengine, volimg) -> None:  # type: ignore[no-untyped-def]
    cid, code, _ = _run(cengine, "sh", "-c", "test -f /data/seed && touch /scratch/x", image=volimg,
                        binds=("/scratch", "keep:/data"))
    assert code == 0
    points = {m["Destination"]: m for m in cengine.container_inspect(cid)["Mounts"]}
    assert points["/data"]["Name"] == "keep" and points["/data"]["Mode"] == "z"
    assert len(points["/scratch"]["Name"]) == 64 and points["/scratch"]["Mode"] == ""
    assert os.listdir(points["/scratch"]["Source"]) == ["x"]
    assert sorted(os.listdir(cengine.paths.volume_data("keep"))) == ["fifo", "link", "seed", "sub"]
    cengine.container_remove(cid)  # without -v the anonymous volume stays, as in Docker
    assert os.path.exists(points["/scratch"]["Source"])
    cengine.volume_remove(points["/scratch"]["Name"])
    _, code, _ = _run(cengine, "true", image=volimg, auto_remove=True)
    assert code == 0
    deadline = time.monotonic() + 10  # the monitor removes a --rm container just after reporting its exit
    while [v.name for v in cengine.volume_list()] != ["keep"]:  # --rm takes its anonymous /data volume
        assert time.monotonic() < deadline, cengine.volume_list()
        time.sleep(0.02)


def test_system_df_counts_volumes(cengine) -> None:  # type: ignore[no-untyped-def]
    cid, _, _ = _run(cengine, "sh", "-c", "head -c 3000 /dev/zero > /data/z", binds=("used:/data",))
    cengine.volume_create("idle")
    with open(os.path.join(cengine.paths.volume_data("idle"), "z"), "wb") as f:
        f.write(b"z" * 1000)
    usage = cengine.system_df()
    [row] = [r for r in usage.rows if r.type == "Local Volumes"]
    assert (row.total, row.active, row.size, row.reclaimable) == (2, 1, 4000, 1000)
    assert sorted(usage.volumes) == [("idle", 0, 1000), ("used", 1, 3000)]
    cengine.container_remove(cid)


def test_system_check_reclaims_a_half_made_volume(cengine) -> None:  # type: ignore[no-untyped-def]
    cengine.volume_create("whole")
    half = os.path.join(cengine.paths.volumes, ".tmp-half-0123abcd")
    os.makedirs(os.path.join(half, "_data"))  # a create killed before its rename: no record points at it
    report = cengine.system_check()
    assert [(p.kind, p.path) for p in report.problems] == [("leftover temp file", half)]
    assert cengine.system_check(repair=True).repaired and not os.path.exists(half)
    assert [v.name for v in cengine.volume_list()] == ["whole"] and cengine.system_check().ok

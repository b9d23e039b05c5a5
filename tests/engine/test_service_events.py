"""Every change a service makes leaves one event: the ones the facade never journalled before (#12)."""

from __future__ import annotations

from pathlib import Path

from engine.containers import CreateOptions
from tests.engine import containers_fixtures
from tests.engine.containers_fixtures import start_d, stop_monitor

cengine = containers_fixtures.cengine


def _since(engine, offset: int) -> list[tuple[str, str, str, str]]:  # type: ignore[no-untyped-def]
    events, _next = engine.events_read(offset)
    return [(e.type, e.action, e.id, e.name) for e in events]


def test_network_prune_connect_and_disconnect_are_journalled(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = cengine.container_create(CreateOptions(image="busybox", cmd=["true"], name="netev"))
    start = cengine.events_offset()
    kept = cengine.network_create("evkept")
    spare = cengine.network_create("evspare")
    cengine.network_connect("evkept", "netev")
    cengine.network_disconnect("evkept", "netev")
    cengine.network_connect("evkept", "netev")
    assert cengine.network_prune() == ["evspare"]
    assert _since(cengine, start) == [
        ("network", "create", kept, "evkept"), ("network", "create", spare, "evspare"),
        ("network", "connect", kept, cid), ("network", "disconnect", kept, cid),
        ("network", "connect", kept, cid), ("network", "destroy", spare, "evspare")]


def test_volume_prune_journals_each_volume_it_removes(cengine) -> None:  # type: ignore[no-untyped-def]
    cengine.volume_create("evused")
    cengine.container_create(CreateOptions(image="busybox", cmd=["true"], binds=("evused:/data",)))
    cengine.volume_create("evgone")
    start = cengine.events_offset()
    assert cengine.volume_prune()[0] == ["evgone"]
    assert _since(cengine, start) == [("volume", "destroy", "evgone", "evgone")]


def test_a_copy_into_a_container_is_journalled_and_one_out_is_not(cengine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cid = cengine.container_create(CreateOptions(image="busybox", cmd=["true"], name="cpev"))
    (tmp_path / "f").write_text("x")
    start = cengine.events_offset()
    cengine.container_copy(str(tmp_path / "f"), "cpev:/f")
    cengine.container_copy("cpev:/f", str(tmp_path / "back"))
    assert (tmp_path / "back").read_text() == "x"
    assert _since(cengine, start) == [("container", "extract-to-dir", cid, "cpev")]


def test_a_dead_monitors_container_found_by_ps_is_journalled_dead(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = start_d(cengine, "sleep", "60", name="orphan")
    stop_monitor(cengine)  # the keeper goes, and the container with it; its record still says running
    start = cengine.events_offset()
    (row,) = [s for s in cengine.container_list(all=True) if s.id == cid]
    assert row.state != "running"
    assert _since(cengine, start) == [("container", "die", cid, "orphan")]
    cengine.container_list(all=True)
    assert _since(cengine, start) == [("container", "die", cid, "orphan")]  # once, not on every read

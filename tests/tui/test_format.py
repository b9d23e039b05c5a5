"""``ps``'s columns, written once in ``tui.format`` for ``berth ps`` and the containers panel alike."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine import ContainerSummary
from tui import format
from tui.widgets import containers_panel

NOW = 1_700_000_000.0
BASE = ContainerSummary(id="f" * 64, name="web", image="busybox", image_id="sha256:" + "a" * 64,
                        command="sleep 1d", created=NOW - 180, state="running", exit_code=0,
                        started_at=NOW - 120, finished_at=0.0)


@pytest.mark.parametrize(("changes", "status"), [
    ({}, "Up 2 minutes"),
    ({"state": "paused"}, "Up 2 minutes (Paused)"),
    ({"state": "exited", "exit_code": 3, "finished_at": NOW - 3}, "Exited (3) 3 seconds ago"),
    ({"state": "exited", "finished_at": 0.0}, ""),  # Docker's State.String() with no finish time
    ({"state": "created", "started_at": 0.0}, "Created"),
    ({"state": "dead"}, "Dead"),
])
def test_status_column(changes: dict[str, object], status: str) -> None:
    assert format.container_status(replace(BASE, **changes), NOW) == status  # type: ignore[arg-type]


def test_the_panel_and_ps_share_every_cell() -> None:
    """The panel once wrote its own STATUS, and an exit with no finish time read ``Exited (0) N/A`` there."""
    for c in (BASE, replace(BASE, state="exited", finished_at=0.0), replace(BASE, size_rw=0, size_root_fs=1_980_000)):
        cid, _name, image, status, size, created, command = containers_panel._cells(c, NOW)
        assert (cid, image, status, created, command) == (
            format.short_id(c.id), format.image_cell(c.image), format.container_status(c, NOW),
            format.since(c.created, NOW), format.command_cell(c.command))
        assert size == ("" if c.size_rw is None else format.container_size(c))


def test_size_image_command_and_ports_cells() -> None:
    assert format.container_size(replace(BASE, size_rw=0, size_root_fs=1_980_000)) == "0B (virtual 1.98MB)"
    assert format.image_cell("sha256:" + "ab" * 32) == "ab" * 6
    assert format.image_cell("sha256:" + "ab" * 32, no_trunc=True) == "sha256:" + "ab" * 32
    assert format.command_cell("sh -c 'while true; do date; done'") == '"sh -c \'while true; …"'
    assert format.ports_text({"443/tcp": None, "80/tcp": [{"HostIp": "", "HostPort": "8080"}]}) == \
        "0.0.0.0:8080->80/tcp, 443/tcp"

"""``ContainersPanel``: ``berth ps -a -s``, live, with the container actions.

Status and uptime tick once a second from the last list (no engine call); the
list itself reloads when the store changes.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from ..format import command_cell, container_size, container_status, image_cell, short_id, since
from .filter_bar import FilterBar
from .keyed_table import KeyedTable
from .stats import StatsView

if TYPE_CHECKING:
    from engine import ContainerSummary

__all__ = ["ContainersPanel"]

# NAMES and STATUS come before COMMAND so they stay on screen at 80 columns.
_COLUMNS = (("id", "CONTAINER ID"), ("names", "NAMES"), ("image", "IMAGE"), ("status", "STATUS"),
            ("size", "SIZE"), ("created", "CREATED"), ("command", "COMMAND"))

EMPTY_HELP = """\
No containers yet. Run one from a terminal:

  berth run -d --name web busybox sleep 1d

It shows up here within a second.
"""


def _fixed_cells(c: ContainerSummary) -> tuple[str, str, str, str, str]:
    """The cells that do not move with the clock: ID, NAMES, IMAGE, SIZE, COMMAND."""
    size = "" if c.size_rw is None else container_size(c)  # not measured yet: blank, not 0B
    return short_id(c.id), c.name, image_cell(c.image), size, command_cell(c.command)


def _cells(c: ContainerSummary, now: float, fixed: tuple[str, str, str, str, str] | None = None) -> tuple[str, ...]:
    """One row in ``_COLUMNS`` order; ``fixed``: ``_fixed_cells(c)`` when already known."""
    cid, name, image, size, command = fixed or _fixed_cells(c)
    return (cid, name, image, container_status(c, now), size, since(c.created, now), command)


class ContainersPanel(Vertical):
    """Every container, newest first, one row per container keyed by its ID."""

    PANEL_TITLE = "Containers"
    BINDINGS = [
        Binding("enter", "inspect", "Inspect", id="containers.inspect", tooltip="container inspect, as JSON"),
        Binding("slash", "filter", "Filter", id="containers.filter", tooltip="Filter containers as you type"),
        Binding("l", "logs", "Logs", id="containers.logs", tooltip="Follow the container's log (panel 5)"),
        Binding("s", "start", "Start", id="containers.start"),
        Binding("x", "stop", "Stop", id="containers.stop"),
        Binding("R", "restart", "Restart", id="containers.restart", show=False),
        Binding("K", "kill", "Kill", id="containers.kill", show=False, tooltip="SIGKILL (asks first)"),
        Binding("p", "pause", "Pause", id="containers.pause", show=False, tooltip="Pause or unpause"),
        Binding("d", "remove", "Remove", id="containers.remove", tooltip="Remove (asks first)"),
        Binding("e", "exec", "Shell", id="containers.exec", tooltip="A shell inside; the app returns when it exits"),
        Binding("a", "attach", "Attach", id="containers.attach", show=False,
                tooltip="Its terminal (-t: ctrl-p ctrl-q detaches) or its output (Ctrl-C detaches)"),
        Binding("D", "diff", "Diff", id="containers.diff", show=False, tooltip="What the container changed"),
        Binding("t", "stats", "Stats", id="containers.stats", show=False, tooltip="Live CPU and memory (show/hide)"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.containers: tuple[ContainerSummary, ...] = ()
        self.filter_text = ""
        self.now = time.time()
        self._fixed: dict[str, tuple[str, str, str, str, str]] = {}
        """``_fixed_cells`` of each container in ``containers``: a tick redoes only STATUS and CREATED."""

    def compose(self) -> ComposeResult:
        yield FilterBar(placeholder="filter containers…", id="containers-filter")
        yield KeyedTable[str](_COLUMNS, id="containers-table")
        yield Static(EMPTY_HELP, id="containers-empty")
        yield StatsView(id="containers-stats")

    def show(self, containers: tuple[ContainerSummary, ...], now: float) -> None:
        self.containers = containers
        self._fixed = {c.id: _fixed_cells(c) for c in containers}
        self.tick(now)

    def tick(self, now: float) -> None:
        """Re-render from the last list at ``now`` (uptimes move without asking the engine)."""
        self.now = now
        wanted = {}
        fixed = self._fixed
        for c in self.containers:
            cells = _cells(c, now, fixed.get(c.id))
            if self.filter_text and not any(self.filter_text in x.lower() for x in cells[:4]):
                continue
            wanted[c.id] = cells
        table: KeyedTable[str] = self.query_one("#containers-table", KeyedTable)
        table.set_rows(wanted)
        self.query_one("#containers-empty").display = not self.containers
        table.display = bool(self.containers)

    def selected(self) -> ContainerSummary | None:
        key = self.query_one("#containers-table", KeyedTable).selected_key()
        return next((c for c in self.containers if c.id == key), None)

    @on(FilterBar.Filtered)
    def _filter(self, event: FilterBar.Filtered) -> None:
        event.stop()
        self.filter_text = event.text
        self.tick(self.now)

    @on(FilterBar.Done)
    def _filter_done(self, event: FilterBar.Done) -> None:
        event.stop()
        self.query_one(KeyedTable).focus()

    @on(KeyedTable.RowSelected, "#containers-table")
    def _row_selected(self, event: KeyedTable.RowSelected) -> None:
        """Enter on the table: the table takes the key before the panel's own binding, so this is the one inspect."""
        event.stop()
        self.action_inspect()

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()

    def _act(self, action: str) -> None:
        if (c := self.selected()) is not None:
            self.app.container_action(action, c)  # type: ignore[attr-defined]

    def action_inspect(self) -> None:
        self._act("inspect")

    def action_logs(self) -> None:
        self._act("logs")

    def action_start(self) -> None:
        self._act("start")

    def action_stop(self) -> None:
        self._act("stop")

    def action_restart(self) -> None:
        self._act("restart")

    def action_kill(self) -> None:
        self._act("kill")

    def action_pause(self) -> None:
        self._act("pause")

    def action_remove(self) -> None:
        self._act("remove")

    def action_exec(self) -> None:
        self._act("exec")

    def action_attach(self) -> None:
        self._act("attach")

    def action_diff(self) -> None:
        self._act("diff")

    def action_stats(self) -> None:
        """Toggle the stats view; it follows the cursor while shown and reads nothing while hidden."""
        view = self.query_one(StatsView)
        view.display = not view.display
        if not view.display:
            view.stop()
            return
        if (c := self.selected()) is not None:
            view.follow(c.id, c.name)
        view.start()

    @on(KeyedTable.RowHighlighted, "#containers-table")
    def _highlighted(self, event: KeyedTable.RowHighlighted) -> None:
        event.stop()
        view = self.query_one(StatsView)
        if view.display and (c := self.selected()) is not None:
            view.follow(c.id, c.name)

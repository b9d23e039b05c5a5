"""``LogsPanel``: panel 5, one container's log followed live, with search, toggles and save."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from .filter_bar import FilterBar
from .log_source import LogBuffer, LogFollower, LogGrew
from .log_view import NEXT_STREAMS, LogView

if TYPE_CHECKING:
    from engine import Engine

__all__ = ["LogsPanel"]

STATUS_INTERVAL = 0.25
"""Seconds between redraws of the status line while lines pour in."""


class LogsPanel(Vertical):
    """The log of one container: a status line, the search box and the view."""

    PANEL_TITLE = "Logs"
    BINDINGS = [
        Binding("f", "toggle_follow", "Follow", id="logs.follow", tooltip="Follow new lines (on/off)"),
        Binding("t", "toggle_timestamps", "Times", id="logs.timestamps", tooltip="Show timestamps (on/off)"),
        Binding("o", "toggle_streams", "Streams", id="logs.streams",
                tooltip="Show both streams, then stdout only, then stderr only"),
        Binding("w", "toggle_wrap", "Wrap", id="logs.wrap", tooltip="Wrap long lines at the view's width (on/off)"),
        Binding("slash", "search", "Search", id="logs.search", tooltip="Highlight matches; n/N jump"),
        Binding("n", "next_match", "Next", id="logs.next"),
        Binding("N", "previous_match", "Prev", id="logs.previous", show=False),
        Binding("s", "save", "Save", id="logs.save", tooltip="Save the log to a file"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.container_name = ""
        self.container_id = ""
        self.follower: LogFollower | None = None
        self.ended = False
        self.search_from = 0
        self.status_at = 0.0

    def compose(self) -> ComposeResult:
        yield Static("Choose a container in panel 3 and press l.", id="logs-status", markup=False)
        yield FilterBar(placeholder="search the log…", id="logs-search")
        yield LogView(id="log-view")

    def on_mount(self) -> None:
        # The follower posts at most every POST_INTERVAL, so a burst's last lines wait for this look.
        self.set_interval(0.2, self._catch_up)

    def _catch_up(self) -> None:
        view = self.query_one(LogView)
        if self.follower is not None and len(view.buffer) != view.measured:
            view.grow(len(view.buffer))
            self._status()

    def follow_container(self, engine: Engine, container_id: str, name: str) -> None:
        """Show ``container_id``'s log from its last MAX_LINES lines, then follow it."""
        if container_id == self.container_id and self.follower is not None and not self.ended:
            return
        self.stop()
        self.container_id, self.container_name, self.ended = container_id, name, False
        view = self.query_one(LogView)
        buffer = LogBuffer()
        view.reset(buffer)
        view.follow = True
        self.follower = LogFollower(engine, container_id, buffer, self.post_message, self._failed)
        self.follower.start()
        self._status()

    def _failed(self, err: BaseException) -> None:
        self.app.call_from_thread(self.app.report_error, "Reading the log", err)  # type: ignore[attr-defined]

    def stop(self) -> None:
        if self.follower is not None:
            self.follower.stop()
            self.follower = None

    def on_unmount(self) -> None:
        self.stop()

    @on(LogGrew)
    def _grew(self, event: LogGrew) -> None:
        event.stop()
        self.ended = self.ended or event.ended
        self.query_one(LogView).grow(event.lines)
        # The status line's text changes with every batch; redrawing it 4 times a second is plenty.
        if event.ended or time.monotonic() - self.status_at >= STATUS_INTERVAL:
            self._status()

    def _status(self, extra: str = "") -> None:
        self.status_at = time.monotonic()
        view = self.query_one(LogView)
        if not self.container_id:
            return
        state = "ended" if self.ended else ("following" if view.follow else "paused")
        text = f"{self.container_name} · {view.measured:,} lines · {state}"
        if view.timestamps:
            text += " · timestamps"
        if view.streams != "both":
            text += f" · {view.streams} only"
        if view.wrap:
            text += " · wrap"
        if view.search:
            text += f" · /{view.search} " + (f"at line {view.match + 1:,}" if view.match is not None else "(no match)")
        self.query_one("#logs-status", Static).update(text + (f" · {extra}" if extra else ""))

    @on(FilterBar.Filtered)
    def _search_changed(self, event: FilterBar.Filtered) -> None:
        event.stop()
        view = self.query_one(LogView)
        view.search = event.text
        if event.text:
            found = view.find(forward=True, start=self.search_from)
            self._status(f"{view.count_matches():,} matching lines" if found is not None else "no match")
        else:
            self._status()

    @on(FilterBar.Done)
    def _search_done(self, event: FilterBar.Done) -> None:
        event.stop()
        self.query_one(LogView).focus()

    def action_search(self) -> None:
        self.search_from = self.query_one(LogView).top_line()
        """A new search looks from the top line on screen when ``/`` was pressed."""
        self.query_one(FilterBar).open()

    def action_next_match(self) -> None:
        if self.query_one(LogView).find(forward=True) is None:
            self._status("no match")

    def action_previous_match(self) -> None:
        if self.query_one(LogView).find(forward=False) is None:
            self._status("no match")

    def action_toggle_follow(self) -> None:
        view = self.query_one(LogView)
        view.follow = not view.follow
        self._status()

    def action_toggle_timestamps(self) -> None:
        view = self.query_one(LogView)
        view.timestamps = not view.timestamps
        self._status()

    def action_toggle_streams(self) -> None:
        view = self.query_one(LogView)
        view.streams = NEXT_STREAMS[view.streams]
        self._status()

    def action_toggle_wrap(self) -> None:
        view = self.query_one(LogView)
        view.wrap = not view.wrap
        self._status()

    def action_save(self) -> None:
        if self.container_id:
            self.app.save_log(self.container_name, list(self.query_one(LogView).buffer.lines))  # type: ignore[attr-defined]

"""``LogsPanel`` and its ``LogView``: a container's json-file log, followed live and never rendered whole.

A ``LogFollower`` thread appends the engine's log entries to a bounded
``LogBuffer``; the view only learns how many lines there are (``LogGrew``,
coalesced) and renders the lines on screen, one cached ``Strip`` each (the Line
API). Search highlights matches in place and jumps with n/N, so the lines around
a match stay in view.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.segment import Segment
from rich.style import Style
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.cache import LRUCache
from textual.containers import Vertical
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from .filter_bar import FilterBar

if TYPE_CHECKING:
    from engine import Engine
    from engine.containers.logs import LogEntry

__all__ = ["LogBuffer", "LogFollower", "LogGrew", "LogView", "LogsPanel"]

MAX_LINES = 100_000
"""Lines kept in memory; older ones are dropped a tenth at a time (memory stays bounded)."""
POST_INTERVAL = 0.05
"""The follower tells the view about new lines at most this often (20 Hz is smooth and cheap)."""
STATUS_INTERVAL = 0.25
"""Seconds between redraws of the status line while lines pour in."""
TIMESTAMP_WIDTH = 31
"""``2025-11-28T02:40:00.123456789Z `` as the json-file log writes it, plus a space."""


class LogBuffer:
    """One container's log lines: the follower thread appends, the view reads by index."""

    def __init__(self, max_lines: int = MAX_LINES) -> None:
        self.lines: list[LogEntry] = []
        self.max_lines = max_lines
        self.dropped = 0
        """Lines dropped from the front to keep memory bounded."""
        self.lock = threading.Lock()

    def extend(self, entries: list[LogEntry]) -> None:
        with self.lock:
            self.lines.extend(entries)
            if len(self.lines) > self.max_lines:
                cut = len(self.lines) - self.max_lines + self.max_lines // 10
                del self.lines[:cut]
                self.dropped += cut

    def __len__(self) -> int:
        return len(self.lines)


@dataclass
class LogGrew(Message, bubble=False):
    """The buffer has more lines (or the log ended); only the newest count matters."""

    lines: int
    ended: bool = False

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LogGrew)


class LogFollower:
    """Reads ``Engine.container_logs(follow=True)`` on a daemon thread into a ``LogBuffer``.

    A daemon thread, not a Textual worker: the engine's follow generator only
    returns between lines, so a quiet container would keep a worker (and app
    exit) waiting; a daemon thread just stops at its next line.
    """

    def __init__(self, engine: Engine, container_id: str, buffer: LogBuffer,
                 grew: Callable[[LogGrew], None], failed: Callable[[BaseException], None]) -> None:
        self.engine, self.container_id, self.buffer = engine, container_id, buffer
        self.grew, self.failed = grew, failed
        self.stopped = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"berth-logs-{self.container_id[:12]}", daemon=True).start()

    def stop(self) -> None:
        self.stopped.set()

    def _run(self) -> None:
        last_post = 0.0
        try:
            entries = self.engine.container_logs(self.container_id, follow=True, tail=self.buffer.max_lines)
            for entry in entries:
                if self.stopped.is_set():
                    return
                self.buffer.extend([entry])
                if time.monotonic() - last_post >= POST_INTERVAL:
                    last_post = time.monotonic()
                    self.grew(LogGrew(len(self.buffer)))
        except Exception as err:  # noqa: BLE001 - handed to the app's one error handler
            if not self.stopped.is_set():
                self.failed(err)
        finally:
            if not self.stopped.is_set():
                self.grew(LogGrew(len(self.buffer), ended=True))


class LogView(ScrollView, can_focus=True):
    """The lines of a ``LogBuffer``; only rows on screen are rendered, each cached as a Strip."""

    COMPONENT_CLASSES = {"log-view--stderr", "log-view--timestamp", "log-view--match"}
    DEFAULT_CSS = """
    LogView { background: $surface; }
    LogView .log-view--stderr { color: $error; }
    LogView .log-view--timestamp { color: $text-muted; }
    LogView .log-view--match { background: $warning; color: $background; }
    """
    BINDINGS = [
        Binding("j", "scroll_down", "Down", show=False, id="logs.down"),
        Binding("k", "scroll_up", "Up", show=False, id="logs.up"),
        Binding("g", "scroll_home", "Top", show=False, id="logs.top"),
        Binding("G", "scroll_end", "Bottom", show=False, id="logs.bottom"),
    ]

    follow: reactive[bool] = reactive(True)
    timestamps: reactive[bool] = reactive(False)
    search: reactive[str] = reactive("")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.buffer = LogBuffer()
        self.width = 0
        """The widest line seen, for the horizontal scrollbar."""
        self.measured = 0
        """Lines whose width has been measured."""
        self._cache: LRUCache[tuple[int, int, int], Strip] = LRUCache(1024)
        self.match: int | None = None
        """The line of the current search match."""
        self.dropped_seen = 0
        """``buffer.dropped`` when last measured: how far indexes have shifted since."""

    def reset(self, buffer: LogBuffer) -> None:
        self.buffer, self.width, self.measured, self.dropped_seen = buffer, 0, 0, buffer.dropped
        self._cache.clear()
        self.virtual_size = Size(0, 0)
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    def grow(self, lines: int) -> None:
        """The buffer holds ``lines`` lines now: measure the new ones and follow the end."""
        extra = TIMESTAMP_WIDTH if self.timestamps else 0
        snapshot = self.buffer.lines
        dropped = self.buffer.dropped - self.dropped_seen
        if dropped:  # the buffer dropped its front: every index moved down by that much
            self.dropped_seen = self.buffer.dropped
            self.measured = max(0, self.measured - dropped)
            if self.match is not None:
                self.match = self.match - dropped if self.match >= dropped else None
            if not self.follow:
                self.scroll_to(y=max(0, self.scroll_offset.y - dropped), animate=False)
            self._cache.clear()
        for entry in snapshot[self.measured:lines]:
            self.width = max(self.width, len(entry.log) + extra)
        self.measured = min(lines, len(snapshot))
        self.virtual_size = Size(self.width, self.measured)
        if self.follow:
            self.scroll_end(animate=False, immediate=False, x_axis=False)
        self.refresh()

    def watch_timestamps(self) -> None:
        self._cache.clear()
        self.width = max(self.width, self.width + (TIMESTAMP_WIDTH if self.timestamps else 0))
        self.virtual_size = Size(self.width, self.measured)
        self.refresh()

    def watch_search(self) -> None:
        self.match = None
        self._cache.clear()
        self.refresh()

    def watch_follow(self, follow: bool) -> None:
        if follow:
            self.scroll_end(animate=False, x_axis=False)

    def on_resize(self) -> None:
        # A scroll_end that ran before the first layout (or a terminal resize) left the view short of the end.
        if self.follow:
            self.scroll_end(animate=False, immediate=False, x_axis=False)

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        lines = self.buffer.lines
        # The follower may have dropped the front since the last grow(); that line shows at the next one.
        if index >= self.measured or index >= len(lines):
            return Strip.blank(width, self.rich_style)
        key = (index, self.scroll_offset.x, width)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render_entry(lines[index]).crop_extend(
                self.scroll_offset.x, self.scroll_offset.x + width, self.rich_style)
            self._cache[key] = strip
        return strip

    def _render_entry(self, entry: LogEntry) -> Strip:
        base = self.rich_style
        style = base + self.get_component_rich_style("log-view--stderr") if entry.stream == "stderr" else base
        segments: list[Segment] = []
        if self.timestamps:
            segments.append(Segment(entry.time.ljust(TIMESTAMP_WIDTH - 1) + " ",
                                    base + self.get_component_rich_style("log-view--timestamp")))
        text = entry.log.rstrip("\n").expandtabs(8).replace("\r", "")
        segments += self._highlight(text, style, base + self.get_component_rich_style("log-view--match"))
        return Strip(segments)

    def _highlight(self, text: str, style: Style, match: Style) -> list[Segment]:
        if not self.search:
            return [Segment(text, style)]
        segments, start, lower, needle = [], 0, text.lower(), self.search
        while (found := lower.find(needle, start)) >= 0:
            segments.append(Segment(text[start:found], style))
            segments.append(Segment(text[found:found + len(needle)], match))
            start = found + len(needle)
        segments.append(Segment(text[start:], style))
        return segments

    # -- moving ----------------------------------------------------------------

    def action_scroll_up(self) -> None:
        self.follow = False
        super().action_scroll_up()

    def action_page_up(self) -> None:
        self.follow = False
        super().action_page_up()

    def action_scroll_home(self) -> None:
        self.follow = False
        super().action_scroll_home()

    def action_scroll_end(self) -> None:
        self.follow = True
        super().action_scroll_end()

    def find(self, forward: bool, start: int | None = None) -> int | None:
        """Scroll to the next (or previous) line holding the search text, wrapping around; its index.

        From ``start`` when given (a new search starts where the user was looking),
        else from the last match. The match sits a third of the way down the view,
        so the lines before it stay visible.
        """
        if not self.search or not self.measured:
            return None
        lines = self.buffer.lines
        count = min(self.measured, len(lines))
        if start is None:
            start = (self.match + (1 if forward else -1)) if self.match is not None else self.scroll_offset.y
        start = min(max(start, 0), count - 1)
        order = ([*range(start, count), *range(start)] if forward
                 else [*range(start, -1, -1), *range(count - 1, start, -1)])
        for index in order:
            if self.search in lines[index].log.lower():
                self.match = index
                self.follow = False
                self.scroll_to(y=max(0, index - self.size.height // 3), animate=False)
                return index
        return None

    def count_matches(self) -> int:
        return sum(1 for entry in self.buffer.lines[: self.measured] if self.search in entry.log.lower())  # a copy


class LogsPanel(Vertical):
    """The log of one container: a status line, the search box and the view."""

    PANEL_TITLE = "Logs"
    BINDINGS = [
        Binding("f", "toggle_follow", "Follow", id="logs.follow", tooltip="Follow new lines (on/off)"),
        Binding("t", "toggle_timestamps", "Times", id="logs.timestamps", tooltip="Show timestamps (on/off)"),
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
        self.search_from = self.query_one(LogView).scroll_offset.y
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

    def action_save(self) -> None:
        if self.container_id:
            self.app.save_log(self.container_name, list(self.query_one(LogView).buffer.lines))  # type: ignore[attr-defined]

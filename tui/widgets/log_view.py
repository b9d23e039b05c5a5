"""``LogView``: a container's log lines, never rendered whole.

It renders only the rows on screen, one cached ``Strip`` each (the Line API), from
a ``LogBuffer`` it learns the length of through ``grow``. Search highlights
matches in place and jumps with n/N, so the lines around a match stay in view.
Hiding a stream or wrapping long lines switches from "row = line" to a small
row index (two integer arrays), kept up to date as lines arrive.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate, chain
from typing import TYPE_CHECKING

from rich import cells as rich_cells
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from .log_source import LogBuffer
from .log_wrap import plain, row_starts

if TYPE_CHECKING:
    from engine import LogEntry

__all__ = ["NEXT_STREAMS", "TIMESTAMP_WIDTH", "LogView"]

TIMESTAMP_WIDTH = 31
"""``2025-11-28T02:40:00.123456789Z `` as the json-file log writes it, plus a space."""
NEXT_STREAMS = {"both": "stdout", "stdout": "stderr", "stderr": "both"}
"""What ``o`` shows next."""


class LogView(ScrollView, can_focus=True):
    """The lines of a ``LogBuffer``; only rows on screen are rendered, each cached as a Strip.

    Every line is one row (row == line index) unless a stream is hidden or long
    lines wrap; then a row index maps rows to lines, grown with the buffer and
    rebuilt only when a toggle, the width or the buffer's front changes.
    """

    COMPONENT_CLASSES = {"log-view--stderr", "log-view--timestamp", "log-view--match"}
    DEFAULT_CSS = """
    LogView { background: $surface; }
    LogView.-wrap { overflow-x: hidden; scrollbar-gutter: stable; }
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
    streams: reactive[str] = reactive("both")
    """The lines shown: ``both`` streams, ``stdout`` only or ``stderr`` only."""
    wrap: reactive[bool] = reactive(False)

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
        self.rows = 0
        """Rows in the view: ``measured`` on the fast path, else what the row index counts."""
        self._lines: array[int] | None = None
        """The buffer index of each shown line, in order; None while every line is one row (the fast path)."""
        self._starts: array[int] | None = None
        """While wrapping, the first row of each shown line (two ints a line, however long the lines)."""
        self._wrap_width = 0
        """The width the rows were wrapped at; 0 before the first layout (then a line is one row)."""
        self._rewrap_pending = False
        self._spans: LRUCache[int, list[int]] = LRUCache(256)
        """Row starts of recently drawn wrapped lines, by line index."""
        self._full: tuple[int, Strip] | None = None
        """The last wrapped line rendered whole: its rows are cut from it without rendering it again."""

    def reset(self, buffer: LogBuffer) -> None:
        self.buffer, self.width, self.measured, self.dropped_seen = buffer, 0, 0, buffer.dropped
        self.match = None
        self._clear_index()
        self._forget()
        self.virtual_size = Size(0, 0)
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    def grow(self, lines: int, *, known: int = 0) -> None:
        """The buffer holds ``lines`` lines now: measure (and index) the new ones and follow the end.

        ``known``: lines at the front whose width is already counted (a rebuild re-indexes them only).
        """
        buffer = self.buffer
        with buffer.lock:  # the count, the drop and the copy agree: the follower may drop the front any time
            dropped = buffer.dropped - self.dropped_seen
            self.dropped_seen = buffer.dropped
            start = max(0, self.measured - dropped)
            end = max(start, min(lines, len(buffer.lines)))
            new = buffer.lines[start:end]
        if dropped:  # the buffer dropped its front: every index moved down by that much
            self._drop_front(dropped)
        extra = TIMESTAMP_WIDTH if self.timestamps else 0
        for entry in new[max(0, known - dropped - start):]:
            self.width = max(self.width, len(entry.log) + extra)
        self.measured = end
        if self._lines is None:
            self.rows = end
        else:
            self._index(new, start)
        self._set_virtual_size()
        if self.follow:
            self.scroll_end(animate=False, immediate=False, x_axis=False)
        self.refresh()

    # -- the row index -----------------------------------------------------------

    def _clear_index(self) -> None:
        """An empty row index for the current stream filter and wrap; none at all for the fast path."""
        self._lines = array("i") if self.streams != "both" or self.wrap else None
        self._starts = array("i") if self.wrap else None
        self.rows = 0

    def _forget(self) -> None:
        self._cache.clear()
        self._spans.clear()
        self._full = None

    def _set_virtual_size(self) -> None:
        self.virtual_size = Size(self._wrap_width if self._starts is not None else self.width, self.rows)

    def _wrap_width_now(self) -> int:
        """The width rows wrap at: the content less a vertical scrollbar (the gutter is kept while wrapping)."""
        return max(0, self.content_region.width - self.styles.scrollbar_size_vertical)

    def _index(self, entries: list[LogEntry], first: int) -> None:
        """Add the rows of ``entries``, the buffer's lines from ``first`` on, to the row index."""
        assert self._lines is not None
        only = None if self.streams == "both" else self.streams
        if only is None:
            picked: Sequence[int] = range(first, first + len(entries))
        else:
            picked = [index for index, entry in enumerate(entries, first) if entry.stream == only]
            entries = [entries[index - first] for index in picked]
        self._lines.extend(picked)
        if self._starts is None:
            self.rows = len(self._lines)
            return
        ends = list(accumulate(self._row_counts(entries), initial=self.rows))
        self._starts.extend(ends[:-1])
        self.rows = ends[-1]

    def _row_counts(self, entries: list[LogEntry]) -> list[int]:
        """Rows each of ``entries`` wraps to, in bulk where lines are plain ASCII (most logs: 100,000 in ~50 ms)."""
        width = self._wrap_width
        if width <= 0:
            return [1] * len(entries)
        stamp = TIMESTAMP_WIDTH - 1
        counts: list[int] = []
        for at in range(0, len(entries), 256):
            chunk = entries[at:at + 256]
            texts = [entry.log.rstrip("\n") for entry in chunk]
            prefixes = [max(len(entry.time), stamp) + 1 for entry in chunk] if self.timestamps else [0] * len(chunk)
            blob = "".join(texts)
            if plain(blob):  # one cell a character
                counts += [-(-(prefix + len(text)) // width) or 1 for prefix, text in zip(prefixes, texts, strict=True)]
            else:
                counts += [-(-(prefix + len(text)) // width) or 1
                           if plain(text)
                           else len(row_starts(prefix, self._text(entry), width))
                           for prefix, text, entry in zip(prefixes, texts, chunk, strict=True)]
        return counts

    def _drop_front(self, dropped: int) -> None:
        """The buffer dropped ``dropped`` lines from its front: shift the match, the index and the scroll."""
        self._forget()
        if self.match is not None:
            self.match = self.match - dropped if self.match >= dropped else None
        removed = dropped
        if self._lines is not None:
            kept = bisect_left(self._lines, dropped)
            if self._starts is not None:
                removed = self._starts[kept] if kept < len(self._starts) else self.rows
                self._starts = array("i", [row - removed for row in self._starts[kept:]])
            else:
                removed = kept
            self._lines = array("i", [line - dropped for line in self._lines[kept:]])
            self.rows -= removed
        if not self.follow:
            self.scroll_to(y=max(0, self.scroll_offset.y - removed), animate=False)

    def _rebuild(self) -> None:
        """Index every row again (a toggle or the width changed); the top line, or a match on screen, stays in view."""
        top, height = self.top_line(), self.size.height
        match_row = self.row_of(self.match) if self.match is not None else -1
        match_seen = self.scroll_offset.y <= match_row < self.scroll_offset.y + height
        seen = self.dropped_seen
        self._wrap_width = self._wrap_width_now() if self.wrap else 0
        self._clear_index()
        self._forget()
        count, self.measured = self.measured, 0
        self.grow(count, known=count)
        top = max(0, top - (self.dropped_seen - seen))
        if self.match is not None and not self._shown(self.match):
            self.match = None
        if self.wrap:
            self.scroll_to(x=0, animate=False)
        if self.follow:
            return
        if match_seen and self.match is not None:
            self.scroll_to(y=max(0, self.row_of(self.match) - height // 3), animate=False)
        else:
            self.scroll_to(y=self.row_of(top), animate=False)

    def _rewrap(self) -> None:
        self._rewrap_pending = False
        if self.wrap and self._wrap_width_now() != self._wrap_width:
            self._rebuild()

    def _shown(self, line: int) -> bool:
        lines = self.buffer.lines
        return self.streams == "both" or (line < len(lines) and lines[line].stream == self.streams)

    def _locate(self, row: int) -> tuple[int, int]:
        """(position among the shown lines, row within that line) of a view row."""
        if self._starts is None:
            return row, 0
        position = bisect_right(self._starts, row) - 1
        return position, row - self._starts[position]

    def row_of(self, line: int) -> int:
        """The first row of buffer line ``line``, or of the next shown line when it is hidden."""
        if self._lines is None:
            return line
        position = bisect_left(self._lines, line)
        if self._starts is None:
            return position
        return self._starts[position] if position < len(self._starts) else self.rows

    def top_line(self) -> int:
        """The buffer index of the line at the top of the view: where a new search starts."""
        row = self.scroll_offset.y
        if self._lines is None:
            return row
        if not self._lines:
            return 0
        return self._lines[self._locate(max(0, min(row, self.rows - 1)))[0]]

    # -- toggles -------------------------------------------------------------------

    def watch_timestamps(self) -> None:
        self._forget()
        self.width = max(self.width, self.width + (TIMESTAMP_WIDTH if self.timestamps else 0))
        if self.wrap:  # the stamp is wrapped with the line, so row counts change
            self._rebuild()
        else:
            self._set_virtual_size()
        self.refresh()

    def watch_streams(self) -> None:
        self._rebuild()
        self.refresh()

    def watch_wrap(self, wrap: bool) -> None:
        self.set_class(wrap, "-wrap")
        self._rebuild()
        self.refresh()

    def watch_search(self) -> None:
        self.match = None
        self._forget()
        self.refresh()

    def watch_follow(self, follow: bool) -> None:
        if follow:
            self.scroll_end(animate=False, x_axis=False)

    def on_resize(self) -> None:
        if self.wrap and self._wrap_width_now() != self._wrap_width:
            self._rebuild()
        # A scroll_end that ran before the first layout (or a terminal resize) left the view short of the end.
        if self.follow:
            self.scroll_end(animate=False, immediate=False, x_axis=False)

    # -- drawing -------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        row = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        lines = self.buffer.lines
        sub = 0
        # The follower may have dropped the front since the last grow(); that line shows at the next one.
        if self._lines is None:
            index = row
            if index >= self.measured or index >= len(lines):
                return Strip.blank(width, self.rich_style)
        else:
            if self._starts is not None and not self._rewrap_pending and self._wrap_width_now() != self._wrap_width:
                self._rewrap_pending = True  # laid out at last, or the scrollbar gutter came: wrap again
                self.call_after_refresh(self._rewrap)
            if row >= self.rows:
                return Strip.blank(width, self.rich_style)
            position, sub = self._locate(row)
            index = self._lines[position]
            if index >= len(lines):
                return Strip.blank(width, self.rich_style)
        key = (row, self.scroll_offset.x, width)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render_row(index, lines[index], sub, width)
            self._cache[key] = strip
        return strip

    def _render_row(self, index: int, entry: LogEntry, sub: int, width: int) -> Strip:
        if self._starts is None or self._wrap_width <= 0:
            x = self.scroll_offset.x
            return self._render_entry(entry).crop_extend(x, x + width, self.rich_style)
        if self._full is not None and self._full[0] == index:
            full = self._full[1]
        else:
            full = self._render_entry(entry)
            self._full = (index, full)
        starts = self._row_starts(index, entry)
        begin = starts[sub] if sub < len(starts) else full.cell_length
        end = starts[sub + 1] if sub + 1 < len(starts) else begin + self._wrap_width
        return full.crop(begin, end).crop_extend(0, width, self.rich_style)

    def _row_starts(self, index: int, entry: LogEntry) -> list[int]:
        starts = self._spans.get(index)
        if starts is None:
            prefix = len(self._stamp(entry)) if self.timestamps else 0
            starts = row_starts(prefix, self._text(entry), self._wrap_width)
            self._spans[index] = starts
        return starts

    @staticmethod
    def _text(entry: LogEntry) -> str:
        return entry.log.rstrip("\n").expandtabs(8).replace("\r", "")

    @staticmethod
    def _stamp(entry: LogEntry) -> str:
        return entry.time.ljust(TIMESTAMP_WIDTH - 1) + " "

    def _render_entry(self, entry: LogEntry) -> Strip:
        base = self.rich_style
        style = base + self.get_component_rich_style("log-view--stderr") if entry.stream == "stderr" else base
        segments: list[Segment] = []
        if self.timestamps:
            segments.append(Segment(self._stamp(entry), base + self.get_component_rich_style("log-view--timestamp")))
        text = self._text(entry)
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
        """Scroll to the next (or previous) shown line holding the search text, wrapping around; its index.

        From line ``start`` when given (a new search starts where the user was
        looking), else from the last match. The match sits a third of the way down
        the view, so the lines before it stay visible. Hidden streams' lines never match.
        """
        if not self.search or not self.measured:
            return None
        lines = self.buffer.lines
        shown: Sequence[int] = range(min(self.measured, len(lines))) if self._lines is None else self._lines
        count = len(shown)
        if not count:
            return None
        if start is None:
            start = (self.match + (1 if forward else -1)) if self.match is not None else self.top_line()
        position = bisect_left(shown, start)
        if forward:
            position = position if position < count else 0
            order = chain(range(position, count), range(position))
        else:
            position = position if position < count and shown[position] == start else position - 1
            position = position if position >= 0 else count - 1
            order = chain(range(position, -1, -1), range(count - 1, position, -1))
        for at in order:
            index = shown[at]
            if index < len(lines) and self.search in lines[index].log.lower():
                self.match = index
                self.follow = False
                self.scroll_to(y=max(0, self._match_row(index) - self.size.height // 3), animate=False)
                return index
        return None

    def _match_row(self, index: int) -> int:
        """The row showing the first match in line ``index`` (a long wrapped line spans many)."""
        row = self.row_of(index)
        if self._starts is None or self._wrap_width <= 0:
            return row
        entry = self.buffer.lines[index]
        text = self._text(entry)
        found = max(0, text.lower().find(self.search))
        cell = (len(self._stamp(entry)) if self.timestamps else 0) + rich_cells.cell_len(text[:found])
        return row + bisect_right(self._row_starts(index, entry), cell) - 1

    def count_matches(self) -> int:
        only = None if self.streams == "both" else self.streams
        return sum(1 for entry in self.buffer.lines[: self.measured]  # a copy
                   if (only is None or entry.stream == only) and self.search in entry.log.lower())

"""``KeyedTable``: a table of rows by key, replaced whole in one call and rendered only where it shows.

Textual's DataTable keeps a row object per row and updates cell by cell, which
costs hundreds of milliseconds for a few thousand rows that change every second
(the containers' uptimes). This table holds plain strings, replaces every row
in one ``set_rows`` call (O(n), no per-cell bookkeeping) and draws only the
lines on screen with the Line API, each cached as a Strip while its cells stay
the same. The header is line 0 of the view: it never scrolls away vertically
and follows the horizontal scroll with the rows.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

__all__ = ["KeyedTable"]

K = TypeVar("K", bound=Hashable)

CELL_PADDING = 1
"""Blank cells on each side of every cell, as DataTable draws them."""


def _width(column: Sequence[str]) -> int:
    """The widest string of a column in cells; an ASCII column is measured in C."""
    if not column:
        return 0
    if all(map(str.isascii, column)):
        return max(map(len, column))
    return max(map(cell_len, column))


class KeyedTable(ScrollView, Generic[K], can_focus=True):
    """Rows of short single-line strings by key, with a row cursor that stays on its key across ``set_rows``."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"keyed-table--header", "keyed-table--cursor"}
    DEFAULT_CSS = """
    KeyedTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .keyed-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .keyed-table--header {
                background-tint: $foreground 5%;
            }
        }
        & > .keyed-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .keyed-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .keyed-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False, id="table.select"),
        Binding("up,k", "cursor_up", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("pageup", "cursor_page_up", "Page up", show=False, id="table.page_up"),
        Binding("pagedown", "cursor_page_down", "Page down", show=False, id="table.page_down"),
        Binding("home,ctrl+home", "cursor_first", "First", show=False, id="table.first"),
        Binding("end,ctrl+end", "cursor_last", "Last", show=False, id="table.last"),
    ]

    class _RowMessage(Message):
        """About one row of ``table``, by its key (``control`` lets ``@on(…, "#id")`` pick the table)."""

        def __init__(self, table: KeyedTable[Any], key: Hashable) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> KeyedTable[Any]:
            return self.table

    class RowHighlighted(_RowMessage):
        """The cursor came to a different key (a move, or ``set_rows`` removed the row it was on)."""

    class RowSelected(_RowMessage):
        """Enter (or a click on the cursor row) chose the row under the cursor."""

    def __init__(self, columns: Sequence[tuple[str, str]], *, id: str | None = None,
                 classes: str | None = None) -> None:
        """``columns``: (key, label) pairs, in order."""
        super().__init__(id=id, classes=classes)
        self.column_keys = tuple(key for key, _ in columns)
        self.labels = tuple(label for _, label in columns)
        self._keys: list[K] = []
        self._cells: dict[K, tuple[str, ...]] = {}
        self._widths = tuple(cell_len(label) for label in self.labels)
        self._cursor = 0
        self._highlighted: K | None = None
        """The key last announced with RowHighlighted."""
        self._cache: LRUCache[tuple[K, bool], tuple[tuple[str, ...], Strip]] = LRUCache(256)
        """Each drawn row's full-width strip (cursor or not), with the cells it was drawn from."""
        self._header: Strip | None = None
        self._set_virtual_size()

    # -- data ------------------------------------------------------------------------

    def set_rows(self, rows: Mapping[K, Sequence[str]]) -> None:
        """Show exactly ``rows``, in their order; the cursor keeps its key if that row is still there.

        Every row must have one string per column. Only rows whose cells changed are drawn again.
        """
        count = len(self.column_keys)
        cells = {key: tuple(row) for key, row in rows.items()}
        if any(len(row) != count for row in cells.values()):
            raise ValueError(f"every row needs {count} cells")
        if cells == self._cells and self._keys == list(cells):
            return  # a tick where no uptime moved: nothing to draw
        before = self.selected_key()
        self._keys = list(cells)
        self._cells = cells
        columns = list(zip(*cells.values(), strict=True)) if cells else [()] * count
        widths = tuple(max(cell_len(label), _width(column)) for label, column in zip(self.labels, columns, strict=True))
        if widths != self._widths:
            self._widths = widths
            self._forget()
        old_cursor = self._cursor
        if before is not None and before in cells:
            self._cursor = self._keys.index(before)
        else:
            self._cursor = max(0, min(self._cursor, len(self._keys) - 1))
        self._set_virtual_size()
        if self._cursor != old_cursor:
            self._scroll_cursor_into_view()
        self._announce()
        self.refresh()

    @property
    def row_count(self) -> int:
        return len(self._keys)

    @property
    def keys(self) -> list[K]:
        """The row keys in display order (a copy)."""
        return list(self._keys)

    def get_row(self, key: K) -> tuple[str, ...]:
        """The cells of row ``key``; KeyError if there is none."""
        return self._cells[key]

    def get_row_at(self, index: int) -> tuple[str, ...]:
        return self._cells[self._keys[index]]

    @property
    def cursor_row(self) -> int:
        """The index of the row under the cursor (0 for an empty table)."""
        return self._cursor

    def selected_key(self) -> K | None:
        """The key of the row under the cursor, or None for an empty table."""
        return self._keys[self._cursor] if self._keys else None

    def move_cursor(self, row: int) -> None:
        """Put the cursor on row ``row`` (clamped) and scroll it into view."""
        row = max(0, min(row, len(self._keys) - 1))
        if row != self._cursor:
            previous, self._cursor = self._cursor, row
            self._refresh_row(previous)
            self._refresh_row(row)
        self._scroll_cursor_into_view()
        self._announce()

    def _announce(self) -> None:
        key = self.selected_key()
        if key != self._highlighted:
            self._highlighted = key
            if key is not None:
                self.post_message(self.RowHighlighted(self, key))

    # -- geometry --------------------------------------------------------------------

    @property
    def _table_width(self) -> int:
        return sum(self._widths) + 2 * CELL_PADDING * len(self._widths)

    def _set_virtual_size(self) -> None:
        self.virtual_size = Size(self._table_width, len(self._keys) + 1)  # + the header line

    def _rows_shown(self) -> int:
        """How many rows fit below the header."""
        return max(0, self.scrollable_content_region.height - 1)

    def _scroll_cursor_into_view(self) -> None:
        shown = self._rows_shown()
        if not shown:
            return  # not laid out yet: on_resize does it
        top = self.scroll_offset.y
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False)
        elif self._cursor >= top + shown:
            self.scroll_to(y=self._cursor - shown + 1, animate=False)

    def on_resize(self) -> None:
        self._scroll_cursor_into_view()

    def _refresh_row(self, row: int) -> None:
        y = row - self.scroll_offset.y + 1
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    # -- drawing ---------------------------------------------------------------------

    def _forget(self) -> None:
        self._cache.clear()
        self._header = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._forget()  # focus, blur or a theme change restyle every line
        self.refresh()

    def _line(self, cells: Sequence[str], style: Style) -> Strip:
        """One table line at full width: every cell padded to its column, as one segment."""
        pad = " " * CELL_PADDING
        parts = []
        for text, width in zip(cells, self._widths, strict=True):
            parts.append(pad + text + " " * (width - (len(text) if text.isascii() else cell_len(text))) + pad)
        line = "".join(parts)
        return Strip([Segment(line, style)], self._table_width)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        x = self.scroll_offset.x
        base = self.rich_style
        if y == 0:
            if self._header is None:
                self._header = self._line(self.labels, base + self.get_component_rich_style("keyed-table--header"))
            return self._header.crop_extend(x, x + width, base)
        row = self.scroll_offset.y + y - 1
        if row >= len(self._keys):
            return Strip.blank(width, base)
        key = self._keys[row]
        cells = self._cells[key]
        cursor = row == self._cursor
        cached = self._cache.get((key, cursor))
        if cached is None or cached[0] != cells:
            style = base + self.get_component_rich_style("keyed-table--cursor") if cursor else base
            cached = (cells, self._line(cells, style))
            self._cache[(key, cursor)] = cached
        return cached[1].crop_extend(x, x + width, base)

    # -- keys and mouse --------------------------------------------------------------

    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor + 1)

    def action_cursor_page_up(self) -> None:
        self.move_cursor(self._cursor - max(1, self._rows_shown()))

    def action_cursor_page_down(self) -> None:
        self.move_cursor(self._cursor + max(1, self._rows_shown()))

    def action_cursor_first(self) -> None:
        self.move_cursor(0)

    def action_cursor_last(self) -> None:
        self.move_cursor(len(self._keys) - 1)

    def action_select_cursor(self) -> None:
        if (key := self.selected_key()) is not None:
            self.post_message(self.RowSelected(self, key))

    def on_click(self, event: events.Click) -> None:
        """A click puts the cursor on a row; a click on the cursor row selects it, as in DataTable."""
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        row = self.scroll_offset.y + offset.y - 1
        if row >= len(self._keys):
            return
        event.stop()
        if row == self._cursor:
            self.action_select_cursor()
        else:
            self.move_cursor(row)

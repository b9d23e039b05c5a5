"""KeyedTable: rows by key replaced whole, a cursor that keeps its key, and only the rows on screen drawn."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.strip import Strip

from tui.widgets.keyed_table import KeyedTable

COLUMNS = (("id", "ID"), ("name", "NAME"), ("state", "STATE"))


def rows(*names: str) -> dict[str, tuple[str, str, str]]:
    return {name: (name.upper(), name, "up") for name in names}


class CountingTable(KeyedTable[str]):
    """Counts the rows it draws (the header line is not a row)."""

    drawn = 0

    def render_line(self, y: int) -> Strip:
        if y > 0 and self.scroll_offset.y + y - 1 < self.row_count:
            self.drawn += 1
        return super().render_line(y)


class TableApp(App[None]):
    """The table alone, plus an app binding on Enter that must not fire while the table has focus."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "app_enter", "Enter")]

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, object]] = []
        self.app_enters = 0

    def compose(self) -> ComposeResult:
        yield CountingTable(COLUMNS, id="table")

    def on_mount(self) -> None:
        self.query_one(KeyedTable).focus()

    def action_app_enter(self) -> None:
        self.app_enters += 1

    def on_keyed_table_row_highlighted(self, event: KeyedTable.RowHighlighted) -> None:
        self.seen.append(("highlighted", event.key))

    def on_keyed_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        self.seen.append(("selected", event.key))


def lines(table: KeyedTable[str]) -> list[str]:
    return [table.render_line(y).text.rstrip() for y in range(table.size.height)]


async def test_header_and_rows_render_padded_to_the_widest_cell() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:
        table = app.query_one(KeyedTable)
        table.set_rows({"a": ("1", "alpha", "up"), "b": ("22", "b", "exited (0)"), "c": ("3", "日本語の名前", "up")})
        await pilot.pause()
        assert lines(table)[:4] == [" ID  NAME          STATE",  # the wide name: 6 characters, 12 cells
                                    " 1   alpha         up",
                                    " 22  b             exited (0)",
                                    " 3   日本語の名前  up"]
        assert table.render_line(0).cell_length == table.scrollable_content_region.width
        assert table.virtual_size.width == 4 + 14 + 12 and table.virtual_size.height == 4
        assert table.get_row("b") == ("22", "b", "exited (0)") and table.row_count == 3

        table.set_rows({"a": ("1", "omega", "up"), "b": ("22", "b", "exited (0)"), "c": ("3", "日本語の名前", "up")})
        await pilot.pause()  # same widths, one row's cells changed: that row is drawn again
        assert lines(table)[1] == " 1   omega         up"


async def test_keys_move_the_cursor_and_it_keeps_its_key_across_set_rows() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:
        table = app.query_one(KeyedTable)
        table.set_rows(rows("a", "b", "c", "d"))
        await pilot.press("down", "j")
        assert table.cursor_row == 2 and table.selected_key() == "c"
        await pilot.press("k")
        assert table.selected_key() == "b"
        await pilot.press("end")
        assert table.selected_key() == "d"
        await pilot.press("home", "down")
        assert table.selected_key() == "b"

        table.set_rows(rows("x", "d", "b"))  # others removed, one added before it: the cursor follows "b"
        assert table.selected_key() == "b" and table.cursor_row == 2
        table.set_rows(rows("x", "d"))  # its row went: the same index, clamped
        assert table.selected_key() == "d" and table.cursor_row == 1
        table.set_rows({})
        assert table.selected_key() is None and table.cursor_row == 0
        await pilot.press("down", "enter")  # nothing to move to or select
        assert table.selected_key() is None


async def test_enter_selects_once_and_moves_post_highlighted() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:
        table = app.query_one(KeyedTable)
        table.set_rows(rows("a", "b", "c"))
        await pilot.pause()
        assert app.seen == [("highlighted", "a")]
        await pilot.press("down", "down", "down")  # the third press finds no row below: no message
        await pilot.press("enter")
        assert app.seen == [("highlighted", "a"), ("highlighted", "b"), ("highlighted", "c"), ("selected", "c")]
        assert app.app_enters == 0  # the table took Enter: one selection, nothing else ran

        app.seen.clear()
        table.set_rows(rows("c", "a", "b"))  # same key under the cursor, another index: nothing to say
        await pilot.pause()
        assert app.seen == []
        table.set_rows(rows("a", "b"))  # its row went: the cursor stays at index 0, on another key
        await pilot.pause()
        assert app.seen == [("highlighted", "a")]


async def test_only_rows_on_screen_are_drawn() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(CountingTable)
        table.set_rows(rows(*(f"c{i:04}" for i in range(2000))))
        await pilot.pause()
        shown = table.scrollable_content_region.height - 1
        assert 0 < table.drawn <= 4 * shown  # the first frames (the scrollbar arrives), never 2,000 rows

        async def one_frame() -> None:
            table.drawn = 0
            table._cache.clear()
            table.refresh()
            await pilot.pause()

        await one_frame()
        assert table.drawn == shown and len(table._cache) == shown

        await pilot.press("end")
        await one_frame()
        assert table.selected_key() == "c1999"
        assert table.scroll_offset.y == 2000 - shown  # the cursor row is the bottom line
        assert table.drawn == shown and len(table._cache) == shown
        assert lines(table)[-1].split()[1] == "c1999" and lines(table)[0].split() == ["ID", "NAME", "STATE"]


async def test_pages_scroll_the_cursor_into_view() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:
        table = app.query_one(KeyedTable)
        table.set_rows(rows(*(f"r{i:02}" for i in range(30))))
        await pilot.pause()
        shown = table.scrollable_content_region.height - 1
        await pilot.press("pagedown")
        assert table.cursor_row == shown
        assert table.scroll_offset.y <= table.cursor_row < table.scroll_offset.y + shown
        await pilot.press("pageup")
        assert table.cursor_row == 0 and table.scroll_offset.y == 0


async def test_horizontal_scroll_moves_header_and_rows_together() -> None:
    app = TableApp()
    async with app.run_test(size=(20, 6)) as pilot:
        table = app.query_one(KeyedTable)
        table.set_rows({"a": ("0123456789", "abcdefghijklmnop", "up")})
        await pilot.pause()
        full_header = " ID          NAME              STATE  "
        full_row = " 0123456789  abcdefghijklmnop  up     "
        table.scroll_to(x=7, animate=False)
        await pilot.pause()
        assert table.scroll_offset.x == 7
        width = table.scrollable_content_region.width
        assert table.render_line(0).text == full_header[7:7 + width].ljust(width)
        assert table.render_line(1).text == full_row[7:7 + width].ljust(width)


async def test_click_moves_the_cursor_and_a_second_click_selects() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:
        table = app.query_one(KeyedTable)
        table.set_rows(rows("a", "b", "c"))
        await pilot.pause()
        await pilot.click(KeyedTable, offset=(2, 3))  # line 3: the header, then a, b, c
        assert table.selected_key() == "c"
        assert ("selected", "c") not in app.seen
        await pilot.click(KeyedTable, offset=(2, 3))
        assert app.seen[-1] == ("selected", "c")
        await pilot.click(KeyedTable, offset=(2, 0))  # the header: nothing
        assert table.selected_key() == "c"


async def test_cursor_row_has_its_own_style_and_follows_focus() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:
        table = app.query_one(KeyedTable)
        table.set_rows(rows("a", "b"))
        await pilot.pause()

        def style(y: int) -> object:
            return next(iter(table.render_line(y))).style

        focused = style(1)
        assert focused != style(2) and style(0) != style(2)
        table.blur()
        await pilot.pause()
        assert style(1) != focused  # the blurred cursor colours, drawn again rather than from the cache

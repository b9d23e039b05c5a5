"""The log view's stream filter and wrapping: rows on screen, search and follow in every mode."""

from __future__ import annotations

import re
from typing import Any

import pytest
from textual.app import App, ComposeResult

from engine.containers.logs import LogEntry
from tui.widgets.log_source import LogBuffer
from tui.widgets.log_view import LogView
from tui.widgets.log_wrap import row_starts

from .test_app import synthetic_logs

TIME = "2025-11-28T00:00:00.000000000Z"


def entry(text: str, stream: str = "stdout") -> LogEntry:
    return LogEntry(stream, text + "\n", TIME)


def mixed(count: int) -> list[LogEntry]:
    """Even lines on stdout, odd ones on stderr, each saying which."""
    return [entry(f"out {i}") if i % 2 == 0 else entry(f"err {i}", "stderr") for i in range(count)]


class ViewApp(App[None]):
    """Just the view, to look at its rows without the rest of the app."""

    def compose(self) -> ComposeResult:
        yield LogView()


def screen_rows(view: LogView) -> list[str]:
    return [view.render_line(y).text.rstrip() for y in range(view.size.height)]


def fill(view: LogView, entries: list[LogEntry], buffer: LogBuffer | None = None) -> LogBuffer:
    buffer = LogBuffer() if buffer is None else buffer
    buffer.extend(entries)
    view.reset(buffer)
    view.grow(len(buffer))
    return buffer



def status(app: App[Any]) -> str:
    return str(app.query_one("#logs-status").render())



async def test_o_cycles_both_stdout_stderr_and_hides_the_other_stream(engine) -> None:
    async with synthetic_logs(engine, (80, 24)) as (app, pilot, view, panel):
        view.follow = False  # stay at the top
        fill(view, mixed(40))
        view.focus()
        await pilot.pause()
        assert screen_rows(view)[:2] == ["out 0", "err 1"]

        await pilot.press("o")
        await pilot.pause()
        assert view.streams == "stdout"
        rows = [r for r in screen_rows(view) if r]
        assert rows[:3] == ["out 0", "out 2", "out 4"] and not any(r.startswith("err") for r in rows)
        assert view.virtual_size.height == 20
        assert "stdout only" in status(app)

        await pilot.press("o")
        await pilot.pause()
        assert view.streams == "stderr"
        rows = [r for r in screen_rows(view) if r]
        assert rows[:2] == ["err 1", "err 3"] and not any(r.startswith("out") for r in rows)
        assert "stderr only" in status(app)

        await pilot.press("o")
        await pilot.pause()
        assert view.streams == "both" and "only" not in status(app)
        assert view._lines is None and view._starts is None  # back on the fast path: row == line
        assert view.virtual_size.height == 40 and screen_rows(view)[:2] == ["out 0", "err 1"]


async def test_new_lines_of_a_hidden_stream_stay_hidden() -> None:
    app = ViewApp()
    async with app.run_test(size=(60, 12)) as pilot:
        view = app.query_one(LogView)
        buffer = fill(view, mixed(10))
        view.streams = "stderr"
        buffer.extend(mixed(30)[10:])
        view.grow(len(buffer))
        await pilot.pause()
        assert view.rows == 15 and view.scroll_offset.y == view.max_scroll_y  # following the end
        assert [r for r in screen_rows(view) if r][-1] == "err 29"


async def test_search_only_finds_shown_lines(engine) -> None:
    async with synthetic_logs(engine, (80, 24)) as (app, pilot, view, panel):
        # "hit" on lines 10 (stdout), 11 (stderr), 51 (stderr) and 90 (stdout).
        entries = mixed(100)
        for i in (10, 11, 51, 90):
            entries[i] = entry(f"hit {i}", entries[i].stream)
        fill(view, entries)
        view.focus()
        await pilot.press("o")  # stdout only
        await pilot.press("slash", *"hit", "enter")
        await pilot.pause()
        assert view.match in (10, 90)
        seen = {view.match}
        await pilot.press("n")
        seen.add(view.match)
        await pilot.press("n")
        seen.add(view.match)
        assert seen == {10, 90}  # the stderr hits are skipped, both ways round
        await pilot.press("N")
        assert view.match in (10, 90)
        assert view.count_matches() == 2
        view.streams = "stderr"
        assert view.count_matches() == 2 and view.find(forward=True, start=0) == 11
        assert view.find(forward=True) == 51
        assert view.find(forward=True) == 11  # wrapped round, never to a stdout hit
        assert view.find(forward=False) == 51
        view.streams = "both"
        assert view.count_matches() == 4


async def test_a_search_from_a_hidden_line_starts_at_the_next_shown_one() -> None:
    app = ViewApp()
    async with app.run_test(size=(60, 12)) as pilot:
        view = app.query_one(LogView)
        entries = [entry(f"x {i}", "stderr" if i % 2 else "stdout") for i in range(20)]
        fill(view, entries)
        view.streams = "stdout"
        view.search = "x"
        await pilot.pause()
        assert view.find(forward=True, start=5) == 6
        assert view.find(forward=False, start=5) == 4
        assert view.find(forward=False, start=0) == 0
        assert view.find(forward=False) == 18  # from line 0 back round to the last shown line


def test_row_starts_cut_on_cells_and_never_split_a_wide_character() -> None:
    assert row_starts(0, "a" * 200, 80) == [0, 80, 160]
    assert row_starts(0, "", 80) == [0]
    assert row_starts(31, "a" * 49, 80) == [0]
    assert row_starts(31, "a" * 50, 80) == [0, 80]
    # 2-cell characters at an odd width: each row holds 40 of them (80 cells), never half of one.
    assert row_starts(0, "字" * 100, 81) == [0, 80, 160]
    assert row_starts(1, "字" * 3, 4) == [0, 3]
    assert row_starts(1, "字" * 3, 3) == [0, 3, 5]


async def test_wrap_splits_a_long_line_into_rows_and_never_scrolls_sideways(engine) -> None:
    async with synthetic_logs(engine, (84, 24)) as (app, pilot, view, panel):
        long = "".join(chr(ord("a") + i % 26) for i in range(200))
        fill(view, [entry("before"), entry(long), entry("m" * 60), entry("after")])
        view.focus()
        await pilot.pause()
        assert view.max_scroll_x > 0  # unwrapped, the long line scrolls sideways
        await pilot.press("w")
        await pilot.pause()
        await pilot.pause()
        width = view.scrollable_content_region.width
        assert 70 <= width <= 84 and view._wrap_width == width
        rows = [r for r in screen_rows(view) if r]
        pieces = [long[i:i + width] for i in range(0, 200, width)]
        assert rows == ["before", *pieces, "m" * 60, "after"]
        assert view.virtual_size.height == 3 + len(pieces) == 6
        assert view.max_scroll_x == 0 and not view.show_horizontal_scrollbar
        assert "· wrap" in status(app)
        await pilot.press("t")  # the timestamp is wrapped with its line
        await pilot.pause()
        rows = [r for r in screen_rows(view) if r]
        assert rows[1] == (TIME + " " + long)[:width]
        assert rows[4:6] == [(TIME + " " + "m" * 60)[:width], (TIME + " " + "m" * 60)[width:]]
        assert view.virtual_size.height == 1 + -(-(31 + 200) // width) + 2 + 1
        await pilot.press("t", "w")
        await pilot.pause()
        assert view._lines is None and view.virtual_size.height == 4 and view.max_scroll_x > 0
        assert "wrap" not in status(app)


async def test_wrapped_wide_characters_fill_rows_whole() -> None:
    app = ViewApp()
    async with app.run_test(size=(43, 12)) as pilot:
        view = app.query_one(LogView)
        fill(view, [entry("字" * 50, "stderr")])
        view.wrap = True
        await pilot.pause()
        width = view.scrollable_content_region.width
        assert width % 2 == 1  # so a character would straddle the edge if cut by cells alone
        per_row = width // 2
        rows = [r for r in screen_rows(view) if r]
        assert rows == ["字" * per_row for _ in range(50 // per_row)] + ["字" * (50 % per_row)]


async def test_follow_stays_at_the_end_while_wrapped_lines_arrive() -> None:
    app = ViewApp()
    async with app.run_test(size=(60, 12)) as pilot:
        view = app.query_one(LogView)
        buffer = fill(view, [entry("start")])
        view.wrap = True
        await pilot.pause()
        width = view.scrollable_content_region.width
        for batch in range(5):
            buffer.extend([entry(f"line {batch}-{i} " + "y" * 150) for i in range(7)])
            view.grow(len(buffer))
            await pilot.pause()
            assert view.follow and view.scroll_offset.y == view.max_scroll_y > 0
            last = (f"line {batch}-6 " + "y" * 150)
            tail = last[(len(last) - 1) // width * width:]
            assert [r for r in screen_rows(view) if r][-1] == tail
        assert view.virtual_size.height == 1 + 35 * -(-len(last) // width)


async def test_a_search_jump_puts_the_matching_row_a_third_down_when_wrapped() -> None:
    app = ViewApp()
    async with app.run_test(size=(60, 31)) as pilot:
        view = app.query_one(LogView)
        filler = "z" * 170
        entries = [entry(f"{i} {filler}") for i in range(100)]
        entries[60] = entry(f"60 {filler} needle at the end")
        fill(view, entries)
        view.wrap = True
        await pilot.pause()
        view.search = "needle"
        assert view.find(forward=True, start=0) == 60
        await pilot.pause()
        height = view.size.height
        assert view.rows > 100
        y = next(y for y, row in enumerate(screen_rows(view)) if "needle" in row)
        assert y == height // 3
        # The match is highlighted in its row.
        strip = view.render_line(y)
        match_style = view.get_component_rich_style("log-view--match")
        assert any(seg.text == "needle" and seg.style and seg.style.bgcolor == match_style.bgcolor
                   for seg in strip)


async def test_resizing_rewraps_and_toggles_keep_the_top_line() -> None:
    app = ViewApp()
    async with app.run_test(size=(100, 20)) as pilot:
        view = app.query_one(LogView)
        fill(view, [entry(f"{i:03} " + "q" * 150) for i in range(200)])
        view.wrap = True
        await pilot.pause()
        rows_wide = view.rows
        view.follow = False
        view.scroll_to(y=view.row_of(120), animate=False)
        await pilot.pause()
        await pilot.resize_terminal(50, 20)
        await pilot.pause()
        await pilot.pause()
        assert view._wrap_width == view.scrollable_content_region.width < 50
        assert view.rows > rows_wide
        assert view.top_line() == 120 and screen_rows(view)[0].startswith("120 ")
        view.streams = "stderr"  # nothing left to show
        await pilot.pause()
        assert view.rows == 0 and view.top_line() == 0 and screen_rows(view)[0] == ""
        view.streams = "both"
        view.wrap = False
        await pilot.pause()
        assert view.rows == 200 and view._lines is None


async def test_dropping_the_front_keeps_the_row_index_right() -> None:
    app = ViewApp()
    async with app.run_test(size=(60, 12)) as pilot:
        view = app.query_one(LogView)
        buffer = LogBuffer(max_lines=1000)
        fill(view, [entry(f"{i} " + "w" * (i % 130), "stderr" if i % 3 else "stdout") for i in range(900)], buffer)
        view.streams = "stderr"
        view.wrap = True
        await pilot.pause()
        buffer.extend([entry(f"{i} " + "w" * (i % 130), "stderr" if i % 3 else "stdout") for i in range(900, 1300)])
        assert buffer.dropped
        view.grow(len(buffer))
        grown = (list(view._lines or []), list(view._starts or []), view.rows)
        view._rebuild()
        assert grown == (list(view._lines or []), list(view._starts or []), view.rows)
        assert all(buffer.lines[line].stream == "stderr" for line in grown[0])
        await pilot.pause()
        width, text = view.scrollable_content_region.width, "1298 " + "w" * (1298 % 130)  # the last stderr line
        assert [r for r in screen_rows(view) if r][-1] == text[(len(text) - 1) // width * width:]


CONTROL = re.compile("[\x00-\x1f\x7f]")
AWKWARD = {
    "unicode": ["日本語", "ab", "\x1b[31mred\x1b[0m", "é", "e\u0301", "👍", "👨\u200d👩\u200d👧", "x\ty", "cr\rlf"],
    "ascii": ["\x1b[1mb\x1b[0m", "plain", "\x07\x07bell", "x\ty", "cr\rlf"],  # control characters take no cells
}


@pytest.mark.parametrize("kind", AWKWARD)
async def test_wrapped_rows_of_awkward_lines_put_back_together_are_the_line(kind: str) -> None:
    from rich.cells import cell_len

    app = ViewApp()
    async with app.run_test(size=(23, 40)) as pilot:
        view = app.query_one(LogView)
        pieces = AWKWARD[kind]
        lines = ["".join(pieces[(i + j) % len(pieces)] for j in range(12)) for i in range(len(pieces))]
        fill(view, [entry(line) for line in lines])
        view.follow = False
        view.wrap = True
        await pilot.pause()
        width = view.scrollable_content_region.width
        assert width % 2 == 1  # so a wide character would straddle the edge if cut by cells alone
        assert view.rows < view.size.height  # every row is on screen
        y = 0
        for line in lines:
            full = view._render_entry(entry(line))
            starts = row_starts(0, view._text(entry(line)), width)
            ends = [*starts[1:], full.cell_length]
            assert all(width - 1 <= end - start <= width for start, end in zip(starts[:-1], ends[:-1], strict=True))
            assert 0 < ends[-1] - starts[-1] <= width
            rows = [view.render_line(y + i) for i in range(len(starts))]
            assert all(row.cell_length == width for row in rows)
            # Each row is its piece of the line, then blanks to the width. (A control character right at a
            # cut takes no cell and may fall out of both rows, as when the line scrolls sideways.)
            texts = [row.text for row in rows]
            pieces = list(zip(texts, starts, ends, strict=True))
            assert all(text.endswith(" " * (width - (end - start))) for text, start, end in pieces)
            joined = "".join(text[:len(text) - (width - (end - start))] for text, start, end in pieces)
            assert CONTROL.sub("", joined) == CONTROL.sub("", full.text)
            assert cell_len(full.text) == full.cell_length
            y += len(starts)
        assert y == view.rows


async def test_plain_lines_next_to_a_wide_one_wrap_by_their_length() -> None:
    app = ViewApp()
    async with app.run_test(size=(43, 12)) as pilot:
        view = app.query_one(LogView)
        fill(view, [entry("字" * 30), *(entry("p" * (10 * i)) for i in range(20))])
        view.wrap = True
        await pilot.pause()
        width = view.scrollable_content_region.width
        assert view.rows == len(row_starts(0, "字" * 30, width)) + sum(-(-(10 * i) // width) or 1 for i in range(20))

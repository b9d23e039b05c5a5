"""Where a log line wraps: cell widths measured the way the renderer crops, fast for ASCII."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from itertools import accumulate

from rich import cells as rich_cells

__all__ = ["plain", "row_starts"]

_ONE_CELL_ASCII = bytes(c for c in range(128) if rich_cells.get_character_cell_size(chr(c)) == 1)
"""ASCII characters one cell wide; the others (control characters) take none."""


class _CellWidths(dict[int, str]):
    """Code point → its width in cells as a character, learnt on first sight, so ``str.translate`` measures in C."""

    def __missing__(self, codepoint: int) -> str:
        if len(self) >= 65_536:  # a log of every script there is: start again rather than grow without end
            self.clear()
        self[codepoint] = width = chr(rich_cells.get_character_cell_size(chr(codepoint)))
        return width


_CELL_WIDTHS = _CellWidths()


def _joined(text: str) -> bool:
    """Zero-width joiners or emoji selectors: rich measures those by grapheme, not by character."""
    return "\u200d" in text or "\ufe0f" in text


def _ascii_cells(text: str) -> int:
    """``rich.cells.cell_len`` of ASCII text, counted in C (colour codes in a log line take no cells)."""
    raw = text.encode("ascii")
    return len(raw) - len(raw.translate(None, _ONE_CELL_ASCII))


def _cell_widths(text: str) -> Iterable[int]:
    """The cells of each character as the renderer crops them (zero-width marks stay with the character before)."""
    split_graphemes = getattr(rich_cells, "split_graphemes", None)
    if split_graphemes is not None and _joined(text):
        return [span[2] for span in split_graphemes(text)[0]]
    return text.translate(_CELL_WIDTHS).encode("latin-1")


def row_starts(prefix: int, text: str, width: int) -> list[int]:
    """The cell at which each row of a line wrapped at ``width`` starts.

    The line is ``prefix`` cells (the timestamp), then ``text``.

    A character never straddles two rows: a wide one that does not fit moves to the next.
    """
    if prefix + 2 * len(text) <= width:  # no character takes more than two cells: it fits, whatever it holds
        return [0]
    if text.isascii():
        return list(range(0, max(prefix + _ascii_cells(text), 1), width))
    widths = _cell_widths(text)
    end = prefix + sum(widths)
    if end <= width or 2 not in widths:  # nothing wider than a cell: cut at every ``width`` cells
        return list(range(0, max(end, 1), width))
    edges = list(accumulate(widths, initial=prefix))  # the cell before each character, then the end
    starts, start = [0], 0
    while end - start > width:
        limit = start + width
        if limit <= prefix:  # the timestamp alone is wider than the view
            start = limit
        else:
            start = edges[bisect_right(edges, limit) - 1]  # the last character boundary that fits
            if start <= starts[-1]:  # one character wider than the whole row: it gets the row alone
                start = edges[bisect_right(edges, starts[-1])]
        starts.append(start)
    return starts


def plain(text: str) -> bool:
    """ASCII without control characters: one cell a character, so its width is its length."""
    return text.isascii() and not text.encode("ascii").translate(None, _ONE_CELL_ASCII)

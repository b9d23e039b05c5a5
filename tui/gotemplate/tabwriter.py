"""Go's text/tabwriter (elastic tabstops), as docker/cli's fork configures it for ``table`` output.

Cells are tab-*terminated*: the text after a line's last tab is not part of any column. A
column is a run of consecutive lines that all have a cell in it; its width is the widest
cell plus the padding, never less than the minimum width. Cell widths count East Asian
wide runes as two columns and combining marks as none (docker measures with go-runewidth).
"""

from __future__ import annotations

import unicodedata

__all__ = ["MIN_WIDTH", "PADDING", "cell_width", "tabulate"]

# docker/cli formatter.go: tabwriter.NewWriter(output, 10, 1, 3, ' ', 0)
MIN_WIDTH = 10  # a column is at least this wide, padding included
PADDING = 3  # spaces added to the widest cell of a column
PAD_CHAR = " "


def cell_width(text: str) -> int:
    """Display width: 2 for wide and fullwidth runes, 0 for combining marks, else 1."""
    width = 0
    for c in text:
        if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
    return width


def tabulate(text: str, minwidth: int = MIN_WIDTH, padding: int = PADDING) -> str:
    """Align the tab-separated ``text`` the way a flushed tabwriter.Writer would."""
    raw = text.split("\n")
    lines = [line.split("\t") for line in raw[:-1]]
    lines.append(raw[-1].split("\t") if raw[-1] else [])
    out: list[str] = []
    widths: list[int] = []

    def write_lines(line0: int, line1: int) -> None:
        for i in range(line0, line1):
            for j, cell in enumerate(lines[i]):
                out.append(cell)
                if j < len(widths):
                    out.append(PAD_CHAR * (widths[j] - cell_width(cell)))
            if i + 1 < len(lines):
                out.append("\n")

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            # a block of lines that all have a cell in this column starts here
            write_lines(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, cell_width(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write_lines(line0, line1)

    fmt(0, len(lines))
    return "".join(out)

"""``sync_rows``: bring a DataTable to a wanted set of rows by key, never clearing and refilling it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

__all__ = ["selected_key", "sync_rows"]


def sync_rows(table: DataTable[str], columns: Sequence[str], wanted: Mapping[str, Sequence[Any]]) -> None:
    """Remove rows not wanted, update changed cells, add new rows, then order rows as ``wanted`` is ordered.

    The cursor stays on the same row key when that row survives.
    """
    for key in [str(k.value) for k in table.rows if str(k.value) not in wanted]:
        table.remove_row(key)
    for key, cells in wanted.items():
        if key in table.rows:
            old = table.get_row(key)
            for column, value, before in zip(columns, cells, old, strict=True):
                if value != before:
                    table.update_cell(key, column, value, update_width=True)  # else the column keeps its first width
        else:
            table.add_row(*cells, key=key)
    order = {key: index for index, key in enumerate(wanted)}
    if [str(k.value) for k in table.rows] != list(order):
        # sort() hands the key function cell values, not row keys: map them back by their text.
        keys = {_plain(cells): key for key, cells in wanted.items()}
        table.sort(*columns, key=lambda row: order.get(keys.get(_plain(row), ""), 0))


def _plain(cells: Sequence[Any]) -> tuple[str, ...]:
    return tuple(str(c) for c in cells)


def selected_key(table: DataTable[str]) -> str | None:
    """The key of the row under the cursor, or None for an empty table."""
    if not table.row_count:
        return None
    try:
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
    except (CellDoesNotExist, RowDoesNotExist):  # the cursor points past a row just removed
        return None

"""``HelpScreen``: every binding, grouped by panel, generated from the bindings themselves."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

if TYPE_CHECKING:
    from ..keymap import BoundAction

__all__ = ["HelpScreen"]


class HelpScreen(ModalScreen[None]):
    """A table of KEY, ACTION and what it does; Esc, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help.close")]

    def __init__(self, actions: list[BoundAction], keymap_path: str | None) -> None:
        super().__init__()
        self.actions = actions
        """From ``BerthApp.bound_actions``."""
        self.keymap_path = keymap_path

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static("berth keys", classes="modal-title")
            table: DataTable[str] = DataTable(cursor_type="row", id="help-table")
            table.add_columns("PANEL", "KEY", "ACTION", "ID")
            for action in self.actions:
                table.add_row(action.section, action.keys, action.tooltip or action.description, action.binding_id)
            yield table
            where = f"Rebind keys by id in {self.keymap_path}" if self.keymap_path else "User keymap is off"
            yield Static(f"{where}   ctrl+p palette   Esc close", classes="modal-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()

    def action_close(self) -> None:
        self.dismiss(None)

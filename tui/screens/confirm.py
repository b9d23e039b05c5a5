"""``ConfirmScreen``: a yes/no question before anything destructive."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["ConfirmScreen"]


class ConfirmScreen(ModalScreen[bool]):
    """Asks one question; ``y`` answers True, ``n`` or Esc False."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, body: str) -> None:
        super().__init__()
        self.title_text = title
        """The question, one line."""
        self.body = body
        """What will happen (names, sizes), possibly many lines."""

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="modal-box"):
            yield Static(self.title_text, classes="modal-title")
            yield Static(self.body, id="confirm-body", markup=False)
            yield Static("y yes   n / Esc no", classes="modal-keys")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

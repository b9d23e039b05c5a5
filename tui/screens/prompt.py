"""``PromptScreen``: one line of text (a new tag, a filter), or None on Esc."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

__all__ = ["PromptScreen"]


class PromptScreen(ModalScreen["str | None"]):
    """Asks for one value; Enter returns it, Esc returns None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(self, title: str, placeholder: str = "", value: str = "") -> None:
        super().__init__()
        self.title_text = title
        """What to type, one line."""
        self.placeholder = placeholder
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box", classes="modal-box"):
            yield Static(self.title_text, classes="modal-title")
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")
            yield Static("Enter ok   Esc cancel", classes="modal-keys")

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)

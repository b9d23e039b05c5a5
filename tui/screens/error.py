"""``ErrorScreen``: a failure the user must see, with a traceback when it is a bug."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["ErrorScreen"]


class ErrorScreen(ModalScreen[None]):
    """Shows a title, a message and optional details; Esc, Enter or q closes it."""

    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close", id="error.close")]

    def __init__(self, title: str, message: str, details: str = "") -> None:
        super().__init__()
        self.title_text = title
        """What failed, e.g. "Removing image"."""
        self.message = message
        """The one-line reason."""
        self.details = details
        """A traceback, for bugs."""

    def compose(self) -> ComposeResult:
        with Vertical(id="error-box", classes="modal-box"):
            yield Static(self.title_text, classes="modal-title")
            yield Static(self.message, id="error-message", markup=False)
            if self.details:
                with VerticalScroll(id="error-details"):
                    yield Static(self.details, markup=False)
            yield Static("Esc close", classes="modal-keys")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)

"""``InspectScreen``: Docker's inspect JSON, highlighted, scrollable by keyboard."""

from __future__ import annotations

import json
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["InspectScreen"]


class InspectScreen(ModalScreen[None]):
    """Full-screen JSON (or any text) with j/k, arrows, PgUp/PgDn; Esc or q closes."""

    BINDINGS = [
        Binding("escape,q", "close", "Close", id="inspect.close"),
        Binding("j", "scroll('down')", "Down", show=False, id="inspect.down"),
        Binding("k", "scroll('up')", "Up", show=False, id="inspect.up"),
    ]

    def __init__(self, title: str, data: Any, *, language: str = "json") -> None:
        super().__init__()
        self.title_text = title
        """E.g. "image inspect web:1.0"."""
        self.data = data
        """A JSON-able value, or text when ``language`` is "text"."""
        self.language = language

    def compose(self) -> ComposeResult:
        # Pygments is heavy; it loads only when someone inspects something.
        from rich.syntax import Syntax

        text = json.dumps(self.data, indent=4) if self.language == "json" else str(self.data)
        body = Syntax(text, self.language, theme="ansi_dark", background_color="default", word_wrap=False)
        with Vertical(id="inspect-box"):
            yield Static(self.title_text, classes="modal-title")
            with VerticalScroll(id="inspect-scroll"):
                yield Static(body, id="inspect-body")
            yield Static("j/k scroll   Esc close", classes="modal-keys")

    def on_mount(self) -> None:
        self.query_one("#inspect-scroll").focus()

    def action_scroll(self, direction: str) -> None:
        scroll = self.query_one("#inspect-scroll", VerticalScroll)
        scroll.scroll_down() if direction == "down" else scroll.scroll_up()

    def action_close(self) -> None:
        self.dismiss(None)

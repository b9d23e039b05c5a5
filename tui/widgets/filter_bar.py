"""``FilterBar``: the ``/`` input that filters a panel as you type; Esc clears it, Enter keeps it."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input

__all__ = ["FilterBar"]


class FilterBar(Input):
    """Hidden until opened; posts ``FilterBar.Filtered`` on every key and ``Done`` when left."""

    BINDINGS = [
        Binding("escape", "clear", "Clear", id="filter.clear"),
        Binding("enter", "done", "Keep", id="filter.keep"),
    ]

    @dataclass
    class Filtered(Message):
        """The filter text is now ``text``."""

        text: str

    @dataclass
    class Done(Message):
        """The user left the filter (Enter keeps it, Esc cleared it)."""

    DEFAULT_CSS = """
    FilterBar { display: none; }
    FilterBar.-open { display: block; }
    """

    def open(self) -> None:
        self.return_focus = self.screen.focused
        """Where focus goes back to; moved in the key's own action, so the next key already lands there."""
        self.add_class("-open")
        self.focus()

    def _leave(self) -> None:
        target = getattr(self, "return_focus", None)
        if target is not None and target.is_attached:
            target.focus()
        self.post_message(self.Done())

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Filtered(event.value.strip().lower()))

    def action_done(self) -> None:
        if not self.value:
            self.remove_class("-open")
        self._leave()

    def action_clear(self) -> None:
        self.value = ""
        self.remove_class("-open")
        self._leave()

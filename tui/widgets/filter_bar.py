"""``FilterBar``: the ``/`` input that filters a panel as you type; Esc clears it, Enter keeps it."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input

__all__ = ["FilterBar"]


class FilterBar(Input):
    """Hidden until opened; posts ``FilterBar.Changed`` on every key and ``Done`` when left."""

    BINDINGS = [Binding("escape", "clear", "Clear filter", id="filter.clear")]

    @dataclass
    class Changed(Message):
        """The filter text is now ``text``."""

        text: str

    @dataclass
    class Done(Message):
        """The user left the filter (Enter keeps it, Esc cleared it)."""

    def open(self) -> None:
        self.display = True
        self.focus()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Changed(event.value.strip().lower()))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.value:
            self.display = False
        self.post_message(self.Done())

    def action_clear(self) -> None:
        self.value = ""
        self.display = False
        self.post_message(self.Done())

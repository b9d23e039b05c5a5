"""Every binding the app has, grouped by where it works, with the keys the user's keymap gives it.

The footer, the ``?`` help screen and the command palette all read this, so no
list of keys is ever written by hand.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.binding import Binding

if TYPE_CHECKING:
    from textual.app import App
    from textual.dom import DOMNode

__all__ = ["BoundAction", "bound_actions"]


@dataclass(frozen=True)
class BoundAction:
    """One binding as the user sees it: section, keys (after the keymap), description, and what runs it."""

    section: str
    keys: str
    description: str
    tooltip: str
    binding_id: str
    action: str
    target: DOMNode


def _bindings(node: DOMNode) -> Iterator[Binding]:
    for binding in node.BINDINGS:
        if isinstance(binding, Binding) and binding.id:
            yield binding


def bound_actions(app: App[object], sections: list[tuple[str, DOMNode]]) -> list[BoundAction]:
    """The bindings of each (title, node) in ``sections``, keys shown as the footer shows them."""
    keymap: dict[str, str] = getattr(app, "keymap", {})
    found = []
    for title, node in sections:
        for binding in _bindings(node):
            keys = keymap.get(binding.id or "", binding.key)
            shown = ", ".join(app.get_key_display(dataclasses.replace(binding, key=k.strip(), key_display=None))
                              for k in keys.split(","))
            found.append(BoundAction(title, shown, binding.description, binding.tooltip,
                                     binding.id or "", binding.action, node))
    return found

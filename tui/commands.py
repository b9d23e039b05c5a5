"""The command palette's provider: every bound action, searchable by name, showing its key."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from .keymap import BoundAction

__all__ = ["BerthCommands"]


class BerthCommands(Provider):
    """Offers each binding of the app and its panels as ``Section: Description``, with the key as help."""

    def _actions(self) -> list[BoundAction]:
        return [a for a in self.app.bound_actions() if a.description]  # type: ignore[attr-defined]

    def _title(self, action: BoundAction) -> str:
        return f"{action.section}: {action.description}"

    def _help(self, action: BoundAction) -> str:
        return f"key {action.keys}" + (f" · {action.tooltip}" if action.tooltip else "")

    def _run(self, action: BoundAction) -> None:
        self.app.run_bound_action(action)  # type: ignore[attr-defined]

    async def discover(self) -> Hits:
        for action in self._actions():
            yield DiscoveryHit(self._title(action), partial(self._run, action), help=self._help(action))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for action in self._actions():
            title = self._title(action)
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, action), help=self._help(action))

"""``HistoryPanel``: an image's layers as ``berth history`` lists them, and what the chosen layer changes.

The lower half is a tree of the layer's diff: A added, C changed (a lower layer
had it), D deleted (a whiteout, or hidden by an opaque dir), each with sizes. The
title line carries the image's wasted space and efficiency, as dive shows them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static, Tree
from textual.widgets.tree import TreeNode

from ..format import human_size, short_id, since
from .table_rows import selected_key, sync_rows

if TYPE_CHECKING:
    from engine import FileNode, HistoryEntry, ImageEfficiency, LayerContents

__all__ = ["HistoryPanel"]

_COLUMNS = (("id", "IMAGE"), ("created", "CREATED"), ("created_by", "CREATED BY"), ("size", "SIZE"),
            ("comment", "COMMENT"))
_CREATED_BY_WIDTH = 38
_EMPTY_MARK = "—"
"""SIZE of a step that made no layer (ENV, CMD, LABEL…)."""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


class HistoryPanel(Vertical):
    """The selected image's steps (top) and the highlighted layer's tree of changes (bottom)."""

    PANEL_TITLE = "Layers"
    COMPONENT_CLASSES = {"history-panel--added", "history-panel--changed", "history-panel--deleted",
                         "history-panel--size"}
    DEFAULT_CSS = """
    HistoryPanel .history-panel--added { color: $success; }
    HistoryPanel .history-panel--changed { color: $warning; }
    HistoryPanel .history-panel--deleted { color: $error; }
    HistoryPanel .history-panel--size { color: $text-muted; }
    """
    BINDINGS = [
        Binding("enter", "contents", "Contents", id="history.contents", tooltip="Focus the layer's tree"),
        Binding("w", "wasted", "Wasted", id="history.wasted", tooltip="Paths that waste space, as dive lists them"),
        Binding("escape", "back", "Back", id="history.back", tooltip="Back to the layers table"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.image = ""
        """The reference whose history is shown."""
        self.rows: tuple[HistoryEntry, ...] = ()
        self.efficiency: ImageEfficiency | None = None
        self.now = time.time()

    def compose(self) -> ComposeResult:
        yield Static("Choose an image in panel 1 and press Enter.", id="history-title", markup=False)
        table: DataTable[str] = DataTable(cursor_type="row", id="history-table")
        for key, label in _COLUMNS:
            table.add_column(label, key=key)
        yield table
        yield Static("", id="layer-summary", markup=False)
        tree: Tree[FileNode] = Tree("/", id="layer-tree")
        tree.show_root = False
        yield tree

    # -- data in ---------------------------------------------------------------

    def begin(self, image: str) -> None:
        """Another image is coming: forget the last one's figures and tree."""
        if image != self.image:
            self.image, self.rows, self.efficiency = image, (), None
            self.query_one("#layer-tree", Tree).clear()
            self.query_one("#layer-summary", Static).update("")
            self._title()

    def show_history(self, image: str, rows: tuple[HistoryEntry, ...], now: float) -> None:
        self.begin(image)
        self.rows, self.now = rows, now
        wanted = {}
        for index, row in enumerate(rows):
            created_by = row.created_by.replace("\t", " ")
            if len(created_by) > _CREATED_BY_WIDTH:
                created_by = created_by[: _CREATED_BY_WIDTH - 1] + "…"
            size = _EMPTY_MARK if row.empty_layer else human_size(row.size)
            ident = short_id(row.id) if row.id and row.id != "<missing>" else "<missing>"
            wanted[str(index)] = (ident, since(row.created, now), created_by, size, row.comment)
        sync_rows(self.query_one("#history-table", DataTable), [c for c, _ in _COLUMNS], wanted)
        self._title()

    def show_efficiency(self, efficiency: ImageEfficiency) -> None:
        self.efficiency = efficiency
        self._title()

    def _title(self) -> None:
        layers = sum(1 for r in self.rows if not r.empty_layer)
        text = f"{self.image}: {_count(len(self.rows), 'step')}, {_count(layers, 'layer')}"
        if self.efficiency is not None:
            e = self.efficiency
            text += f" · wasted {human_size(e.wasted)} · efficiency {e.efficiency * 100:.1f}%"
        self.query_one("#history-title", Static).update(text)

    def show_contents(self, contents: LayerContents) -> None:
        summary = (f"layer {short_id(contents.chain_id)}: "
                   f"+{contents.added} {human_size(contents.added_bytes)}  "
                   f"~{contents.changed} {human_size(contents.changed_bytes)}  "
                   f"-{contents.deleted} {human_size(contents.deleted_bytes)}")
        self.query_one("#layer-summary", Static).update(summary)
        tree = self.query_one("#layer-tree", Tree)
        tree.clear()
        tree.root.data = contents.root
        self._add_children(tree.root)
        tree.root.expand()

    def _label(self, node: FileNode) -> Text:
        kinds = {"A": "history-panel--added", "C": "history-panel--changed", "D": "history-panel--deleted"}
        label = Text()
        kind = node.kind or " "
        style = self.get_component_rich_style(kinds[node.kind]) if node.kind in kinds else None
        label.append(f"{kind} ", style=style)
        label.append(f"{human_size(node.size):>7} ", style=self.get_component_rich_style("history-panel--size"))
        label.append(node.name + ("/" if node.is_dir else ""), style=style)
        return label

    def _add_children(self, parent: TreeNode[FileNode]) -> None:
        """Add one level; deeper levels are added when a dir is expanded, so a huge layer stays cheap."""
        assert parent.data is not None
        for child in parent.data.children:
            if child.is_dir and child.children:
                parent.add(self._label(child), data=child)
            else:
                parent.add_leaf(self._label(child), data=child)

    @on(Tree.NodeExpanded, "#layer-tree")
    def _expand(self, event: Tree.NodeExpanded[FileNode]) -> None:
        event.stop()
        if not event.node.children and event.node.data is not None:
            self._add_children(event.node)

    # -- selection -------------------------------------------------------------

    def selected_row(self) -> HistoryEntry | None:
        key = selected_key(self.query_one("#history-table", DataTable))
        return None if key is None else self.rows[int(key)]

    @on(DataTable.RowHighlighted, "#history-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        row = self.selected_row()
        if row is None:
            return
        if row.empty_layer or not row.chain_id:
            self.query_one("#layer-summary", Static).update("This step made no layer (metadata only).")
            self.query_one("#layer-tree", Tree).clear()
            return
        self.app.load_layer(self.image, row.chain_id)  # type: ignore[attr-defined]

    @on(DataTable.RowSelected, "#history-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_contents()

    def action_contents(self) -> None:
        self.query_one("#layer-tree", Tree).focus()

    def action_back(self) -> None:
        self.query_one("#history-table", DataTable).focus()

    def action_wasted(self) -> None:
        if self.efficiency is None:
            self.app.notify("Choose an image first.", title="Wasted space")
            return
        from ..format import tabulate

        e = self.efficiency
        rows = [(human_size(p.wasted), str(p.layers), p.path) for p in e.paths]
        text = (f"{self.image}: {human_size(e.written)} written, {human_size(e.wasted)} wasted, "
                f"efficiency {e.efficiency * 100:.1f}%\n\n" + tabulate(("WASTED", "LAYERS", "PATH"), rows))
        from ..screens.inspect import InspectScreen

        self.app.push_screen(InspectScreen(f"wasted space: {self.image}", text, language="text"))

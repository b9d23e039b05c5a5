"""``DiskPanel``: ``system df`` rows, each image's shared vs unique bytes as a bar, and prunes that preview."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ..format import human_size, short_id
from .table_rows import sync_rows

if TYPE_CHECKING:
    from engine.containers.models import DiskUsage

__all__ = ["DiskPanel", "size_bar"]

_SUMMARY = (("type", "TYPE"), ("total", "TOTAL"), ("active", "ACTIVE"), ("size", "SIZE"),
            ("reclaimable", "RECLAIMABLE"))
_IMAGES = (("image", "IMAGE"), ("size", "SIZE"), ("shared", "SHARED"), ("unique", "UNIQUE"),
           ("bar", "UNIQUE █ SHARED ░"), ("containers", "CONTAINERS"))
BAR_WIDTH = 20


def size_bar(unique: int, shared: int, largest: int, width: int = BAR_WIDTH) -> str:
    """``█`` for unique bytes then ``░`` for shared, scaled so the largest image fills ``width``."""
    if largest <= 0:
        return ""
    full = round(width * unique / largest)
    part = round(width * (unique + shared) / largest) - full
    return "█" * full + "░" * max(0, part)


def _reclaimable(size: int, reclaimable: int) -> str:
    percent = f" ({reclaimable * 100 // size}%)" if size else ""
    return human_size(reclaimable) + percent


class DiskPanel(Vertical):
    """Where the bytes are: the four ``system df`` rows, then one row per image."""

    PANEL_TITLE = "Disk"
    COMPONENT_CLASSES = {"disk-panel--unique", "disk-panel--shared"}
    DEFAULT_CSS = """
    DiskPanel .disk-panel--unique { color: $accent; }
    DiskPanel .disk-panel--shared { color: $text-muted; }
    """
    BINDINGS = [
        Binding("p", "prune_images", "Prune images", id="disk.prune_images", tooltip="Dangling images (asks first)"),
        Binding("c", "prune_containers", "Prune containers", id="disk.prune_containers",
                tooltip="Stopped containers (asks first)"),
    ]

    def compose(self) -> ComposeResult:
        summary: DataTable[str] = DataTable(cursor_type="row", id="disk-summary", show_cursor=False)
        for key, label in _SUMMARY:
            summary.add_column(label, key=key)
        yield summary
        yield Static("Images: unique bytes are freed by removing the image; shared ones are not.",
                     id="disk-note", markup=False)
        images: DataTable[str] = DataTable(cursor_type="row", id="disk-images")
        for key, label in _IMAGES:
            images.add_column(label, key=key)
        yield images

    def show(self, usage: DiskUsage, names: dict[str, str]) -> None:
        rows = {row.type: (row.type, str(row.total), str(row.active), human_size(row.size),
                           _reclaimable(row.size, row.reclaimable)) for row in usage.rows}
        sync_rows(self.query_one("#disk-summary", DataTable), [c for c, _ in _SUMMARY], rows)
        largest = max((size for _, size, _, _, _ in usage.images), default=0)
        table = self.query_one("#disk-images", DataTable)
        wanted = {}
        for image_id, size, shared, unique, containers in sorted(usage.images, key=lambda r: (-r[1], r[0])):
            wanted[image_id] = (names.get(image_id, short_id(image_id)), human_size(size), human_size(shared),
                                human_size(unique), self._bar(unique, shared, largest), str(containers))
        sync_rows(table, [c for c, _ in _IMAGES], wanted)

    def _bar(self, unique: int, shared: int, largest: int) -> Text:
        bar = size_bar(unique, shared, largest)
        split = len(bar) - len(bar.lstrip("█"))
        text = Text()
        text.append(bar[:split], style=self.get_component_rich_style("disk-panel--unique"))
        text.append(bar[split:], style=self.get_component_rich_style("disk-panel--shared"))
        return text

    def action_prune_images(self) -> None:
        self.app.prune_images()  # type: ignore[attr-defined]

    def action_prune_containers(self) -> None:
        self.app.prune_containers()  # type: ignore[attr-defined]

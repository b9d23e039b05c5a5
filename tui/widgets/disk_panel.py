"""``DiskPanel``: ``system df`` rows, then where the bytes are — per image (shared vs unique, as bars), per
container (its writable layer) or per volume — and prunes that preview what they free."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ..format import human_size, image_cell, short_id
from .table_rows import sync_rows

if TYPE_CHECKING:
    from engine import ContainerSummary, DiskUsage

__all__ = ["DiskPanel", "size_bar"]

_SUMMARY = (("type", "TYPE"), ("total", "TOTAL"), ("active", "ACTIVE"), ("size", "SIZE"),
            ("reclaimable", "RECLAIMABLE"))
_IMAGES = (("image", "IMAGE"), ("size", "SIZE"), ("shared", "SHARED"), ("unique", "UNIQUE"),
           ("bar", "UNIQUE █ SHARED ░"), ("containers", "CONTAINERS"))
_CONTAINERS = (("id", "CONTAINER ID"), ("name", "NAME"), ("writable", "WRITABLE"), ("bar", "WRITABLE LAYER"),
               ("state", "STATE"), ("image", "IMAGE"))
_VOLUMES = (("name", "VOLUME NAME"), ("links", "LINKS"), ("size", "SIZE"), ("bar", "SIZE"))
BAR_WIDTH = 20
DETAILS = ("images", "containers", "volumes")
"""What the lower table shows, in the order ``v`` cycles through."""
_NOTES = {
    "images": "Per image: unique bytes go with the image, shared ones stay.  v: per container",
    "containers": "Per container: its writable layer, what rm frees.  v: per volume",
    "volumes": "Per volume: LINKS 0 means no container mounts it (u prunes).  v: per image",
}


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
        Binding("v", "cycle_detail", "Breakdown", id="disk.detail",
                tooltip="Show the bytes per image, per container or per volume"),
        Binding("p", "prune_images", "Prune images", id="disk.prune_images", tooltip="Dangling images (asks first)"),
        Binding("c", "prune_containers", "Prune containers", id="disk.prune_containers",
                tooltip="Stopped containers (asks first)"),
        Binding("u", "prune_volumes", "Prune volumes", id="disk.prune_volumes", show=False,
                tooltip="Volumes no container mounts (asks first)"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.detail = "images"

    def compose(self) -> ComposeResult:
        summary: DataTable[str] = DataTable(cursor_type="row", id="disk-summary", show_cursor=False)
        for key, label in _SUMMARY:
            summary.add_column(label, key=key)
        yield summary
        yield Static(_NOTES["images"], id="disk-note", markup=False)
        for detail, columns in (("images", _IMAGES), ("containers", _CONTAINERS), ("volumes", _VOLUMES)):
            table: DataTable[str] = DataTable(cursor_type="row", id=f"disk-{detail}")
            for key, label in columns:
                table.add_column(label, key=key)
            table.display = detail == self.detail
            yield table

    def show(self, usage: DiskUsage, names: dict[str, str], containers: tuple[ContainerSummary, ...] = ()) -> None:
        rows = {row.type: (row.type, str(row.total), str(row.active), human_size(row.size),
                           _reclaimable(row.size, row.reclaimable)) for row in usage.rows}
        sync_rows(self.query_one("#disk-summary", DataTable), [c for c, _ in _SUMMARY], rows)
        largest = max((size for _, size, _, _, _ in usage.images), default=0)
        table = self.query_one("#disk-images", DataTable)
        wanted = {}
        for image_id, size, shared, unique, users in sorted(usage.images, key=lambda r: (-r[1], r[0])):
            wanted[image_id] = (names.get(image_id, short_id(image_id)), human_size(size), human_size(shared),
                                human_size(unique), self._bar(unique, shared, largest), str(users))
        sync_rows(table, [c for c, _ in _IMAGES], wanted)
        largest = max((c.size_rw or 0 for c in containers), default=0)
        rows = {c.id: (short_id(c.id), c.name, human_size(c.size_rw or 0), self._bar(c.size_rw or 0, 0, largest),
                       c.state, image_cell(c.image))
                for c in sorted(containers, key=lambda c: (-(c.size_rw or 0), c.name))}
        sync_rows(self.query_one("#disk-containers", DataTable), [c for c, _ in _CONTAINERS], rows)
        largest = max((size for _, _, size in usage.volumes), default=0)
        rows = {name: (name, str(links), human_size(size), self._bar(size, 0, largest))
                for name, links, size in sorted(usage.volumes, key=lambda v: (-v[2], v[0]))}
        sync_rows(self.query_one("#disk-volumes", DataTable), [c for c, _ in _VOLUMES], rows)

    def action_cycle_detail(self) -> None:
        self.detail = DETAILS[(DETAILS.index(self.detail) + 1) % len(DETAILS)]
        for detail in DETAILS:
            self.query_one(f"#disk-{detail}", DataTable).display = detail == self.detail
        self.query_one("#disk-note", Static).update(_NOTES[self.detail])
        self.query_one(f"#disk-{self.detail}", DataTable).focus()

    def _bar(self, unique: int, shared: int, largest: int) -> Text:
        bar = size_bar(unique, shared, largest)
        split = len(bar) - len(bar.lstrip("█"))
        text = Text()
        text.append(bar[:split], style=self.get_component_rich_style("disk-panel--unique"))
        text.append(bar[split:], style=self.get_component_rich_style("disk-panel--shared"))
        return text

    def action_prune_images(self) -> None:
        self.app.prune("images")  # type: ignore[attr-defined]

    def action_prune_containers(self) -> None:
        self.app.prune("containers")  # type: ignore[attr-defined]

    def action_prune_volumes(self) -> None:
        self.app.prune("volumes")  # type: ignore[attr-defined]

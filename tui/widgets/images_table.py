"""``ImagesTable``: the images panel, with ``berth images``'s columns, a filter and the image actions."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ..format import human_size, short_id, since
from .filter_bar import FilterBar
from .table_rows import selected_key, sync_rows

if TYPE_CHECKING:
    from engine import ImageSummary

__all__ = ["ImagesTable"]

EMPTY_HELP = """\
No images in this store yet. Make a first one:

  press b, or run  berth bootstrap
      a small busybox image from the host's busybox-static
  press n to build from a Dockerfile, or run  berth build DIR
  press P to pull from a registry, or run  berth pull NAME[:TAG]
  berth import ROOTFS.tar NAME
      any root filesystem tarball (gzip, bzip2, xz, zstd)
  berth load -i IMAGE.tar
"""

_COLUMNS = (("repository", "REPOSITORY"), ("tag", "TAG"), ("id", "IMAGE ID"), ("created", "CREATED"), ("size", "SIZE"))


class ImagesTable(Vertical, can_focus=True):
    """Images, one row per tag; rows are updated by key, never cleared and refilled."""

    PANEL_TITLE = "Images"
    BINDINGS = [
        Binding("enter", "history", "History", id="images.history", tooltip="The selected image's layers"),
        Binding("slash", "filter", "Filter", id="images.filter", tooltip="Filter images as you type"),
        Binding("n", "build", "Build", id="images.build", tooltip="Build an image from a Dockerfile"),
        Binding("P", "pull", "Pull", show=False, id="images.pull",
                tooltip="Pull an image from a registry, with Docker's per-layer progress"),
        Binding("R", "run", "Run", id="images.run",
                tooltip="Run a container of the selected image (detached, or -it on this terminal)"),
        Binding("t", "tag", "Tag", show=False, id="images.tag", tooltip="Give the selected image another name"),
        Binding("d", "remove", "Remove", id="images.remove", tooltip="Remove the selected tag (asks first)"),
        Binding("p", "prune", "Prune", show=False, id="images.prune",
                tooltip="Remove dangling images (shows what goes)"),
        Binding("i", "inspect", "Inspect", id="images.inspect", tooltip="image inspect, as JSON"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.images: tuple[ImageSummary, ...] = ()
        """The last list the engine gave."""
        self.filter_text = ""
        self.now = time.time()

    def compose(self) -> ComposeResult:
        yield FilterBar(placeholder="filter images…", id="images-filter")
        table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=False, id="images-table")
        for key, label in _COLUMNS:
            table.add_column(label, key=key)
        yield table
        yield Static(EMPTY_HELP, id="images-empty")

    def show(self, images: tuple[ImageSummary, ...], now: float | None = None) -> None:
        self.images = images
        self.now = time.time() if now is None else now
        self._render_rows()

    def _render_rows(self) -> None:
        table = self.query_one(DataTable)
        wanted: dict[str, tuple[str, ...]] = {}
        for image in self.images:
            for ref in image.repo_tags or ("<none>:<none>",):
                repo, _, tag = ref.rpartition(":")
                cells = (repo, tag, short_id(image.id), since(image.created, self.now), human_size(image.size))
                if self.filter_text and not any(self.filter_text in c.lower() for c in cells[:3]):
                    continue
                wanted[f"{image.id} {ref}"] = cells
        sync_rows(table, [c for c, _ in _COLUMNS], wanted)
        self.query_one("#images-empty").display = not self.images
        table.display = bool(self.images)

    def selected(self) -> tuple[str, str] | None:
        """(image ID, reference) under the cursor; the reference is the ID for an untagged image."""
        key = selected_key(self.query_one(DataTable))
        if key is None:
            return None
        image_id, _, ref = key.partition(" ")
        return image_id, (image_id if ref == "<none>:<none>" else ref)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_history()

    @on(FilterBar.Filtered)
    def _filter(self, event: FilterBar.Filtered) -> None:
        event.stop()
        self.filter_text = event.text
        self._render_rows()

    @on(FilterBar.Done)
    def _filter_done(self, event: FilterBar.Done) -> None:
        event.stop()
        self.query_one(DataTable).focus()

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()

    def action_history(self) -> None:
        if (chosen := self.selected()) is not None:
            self.app.show_history(chosen[1])  # type: ignore[attr-defined]

    def action_build(self) -> None:
        self.app.open_build()  # type: ignore[attr-defined]

    def action_pull(self) -> None:
        self.app.pull_image()  # type: ignore[attr-defined]

    def action_run(self) -> None:
        if (chosen := self.selected()) is not None:
            self.app.run_container(chosen[1])  # type: ignore[attr-defined]

    def action_tag(self) -> None:
        if (chosen := self.selected()) is not None:
            self.app.tag_image(chosen[1])  # type: ignore[attr-defined]

    def action_remove(self) -> None:
        if (chosen := self.selected()) is not None:
            self.app.remove_image(chosen[1])  # type: ignore[attr-defined]

    def action_prune(self) -> None:
        self.app.prune("images")  # type: ignore[attr-defined]

    def action_inspect(self) -> None:
        if (chosen := self.selected()) is not None:
            self.app.inspect_image(chosen[1])  # type: ignore[attr-defined]

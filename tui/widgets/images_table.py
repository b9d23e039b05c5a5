"""``ImagesTable``: the images panel, with ``berth images``'s columns."""

from __future__ import annotations

import time

from textual.widgets import DataTable, Static
from textual.containers import Vertical
from textual.app import ComposeResult

from engine.models import ImageSummary

from ..format import human_size, short_id, since

__all__ = ["ImagesTable"]

EMPTY_HELP = """\
No images in this store yet. Make a first one:

  press b, or run  berth bootstrap
      a small busybox image from the host's busybox-static
  berth import ROOTFS.tar NAME
      any root filesystem tarball (gzip, bzip2, xz, zstd)
"""

_COLUMNS = (("repository", "REPOSITORY"), ("tag", "TAG"), ("id", "IMAGE ID"), ("created", "CREATED"), ("size", "SIZE"))


class ImagesTable(Vertical):
    """Images, one row per tag; rows are updated by key, never cleared and refilled."""

    def compose(self) -> ComposeResult:
        table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=False, id="images-table")
        for key, label in _COLUMNS:
            table.add_column(label, key=key)
        yield table
        yield Static(EMPTY_HELP, id="images-empty")

    def show(self, images: tuple[ImageSummary, ...], now: float | None = None) -> None:
        now = time.time() if now is None else now
        table = self.query_one(DataTable)
        wanted = {}
        for image in images:
            for ref in image.repo_tags or ("<none>:<none>",):
                repo, _, tag = ref.rpartition(":")
                wanted[f"{image.id} {ref}"] = (repo, tag, short_id(image.id), since(image.created, now), human_size(image.size))
        for key in [str(k.value) for k in table.rows if str(k.value) not in wanted]:
            table.remove_row(key)
        for key, cells in wanted.items():
            if key in table.rows:
                for (column, _), value in zip(_COLUMNS, cells, strict=True):
                    table.update_cell(key, column, value)
            else:
                table.add_row(*cells, key=key)
        self.query_one("#images-empty").display = not wanted
        table.display = bool(wanted)

"""The berth Textual app: the store's images, layers and containers at a glance.

Engine calls run in thread workers; only message handlers touch widgets.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header

from engine import Engine
from engine.errors import BerthError

from .messages import ImagesLoaded
from .widgets.images_table import ImagesTable

__all__ = ["BerthApp", "run_app"]


class BerthApp(App[int]):
    """The keyboard-driven front end over one store."""

    CSS_PATH = "berth.tcss"
    TITLE = "berth"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("r", "refresh", "Refresh", id="refresh"),
        Binding("b", "bootstrap", "Bootstrap", id="bootstrap", tooltip="Make busybox:latest from the host's busybox-static"),
    ]

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.engine = engine
        """The engine every panel reads through."""
        self.clock = clock
        """Where "now" comes from for ages like "2 weeks ago" (frozen in snapshots)."""
        self.sub_title = engine.root

    def compose(self) -> ComposeResult:
        yield Header(icon="⚓")
        yield ImagesTable(id="images")
        yield Footer()

    def on_mount(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        self.load_images()

    def action_bootstrap(self) -> None:
        self.notify("Making busybox:latest from /bin/busybox…", title="Bootstrap")
        self.bootstrap()

    @work(thread=True, exclusive=True, group="bootstrap", exit_on_error=False, description="Bootstrapping")
    def bootstrap(self) -> None:
        try:
            image_id = self.engine.image_bootstrap("busybox:latest")
        except BerthError as err:
            self.call_from_thread(self.notify, str(err), title="Bootstrap failed", severity="error")
            return
        self.call_from_thread(self.notify, image_id[:19], title="busybox:latest is ready")
        self.call_from_thread(self.load_images)

    @work(thread=True, exclusive=True, group="images", exit_on_error=False, description="Reading images")
    def load_images(self) -> None:
        try:
            images = self.engine.image_list(all=False)
        except BerthError as err:
            self.call_from_thread(self.notify, str(err), title="Cannot read the store", severity="error")
            return
        self.post_message(ImagesLoaded(tuple(images)))

    @on(ImagesLoaded)
    def show_images(self, event: ImagesLoaded) -> None:
        self.query_one(ImagesTable).show(event.images, now=self.clock())


def run_app(root: str) -> int:
    """Open the app on the store at ``root``; returns its exit status."""
    return BerthApp(Engine(root)).run() or 0

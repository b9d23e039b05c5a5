"""``PullScreen``: the pull dialog; Docker's per-layer progress draws live below the reference.

The pull runs in a thread worker (group ``pull``, so quitting asks first). The
engine reports from several download threads at once; those only record the
latest item per layer and ask for one redraw, and the dialog redraws at most
``REDRAW_INTERVAL`` apart, so a fast download never floods the UI thread.
Esc while a pull runs sets the engine's cancel Event (the store keeps no new
image) and closes the dialog once the pull has stopped; Esc or Enter closes it
when idle.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Log, Static
from textual.worker import get_current_worker

from ..format import short_id
from ..transfer import BAR_WIDTH, TransferLines, pull_intro, pull_outcome

if TYPE_CHECKING:
    from engine import TransferProgress

__all__ = ["REDRAW_INTERVAL", "PullScreen"]

REDRAW_INTERVAL = 0.05
"""Seconds between redraws of the layer lines at most (≤ 20 a second)."""
_LINE_ROOM = 48
"""Columns of a layer line that are not its bar: ID, status, byte counts."""


@dataclass
class PullProgress(Message, bubble=False):
    """Some layer's status changed; the dialog redraws from its ``TransferLines``."""


@dataclass
class PullEnded(Message, bubble=False):
    """The pull finished: the image ID and Docker's closing lines, or the error that stopped it."""

    image_id: str
    outcome: list[str]
    error: BaseException | None = None


class PullScreen(ModalScreen["str | None"]):
    """Asks for NAME[:TAG] or registry/name:tag, then shows the pull; returns the pulled image's ID or None."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel / close", id="pull.cancel",
                tooltip="Cancel a running pull; close the dialog when idle"),
        Binding("enter", "close", "Close", show=False, id="pull.close", tooltip="Close the dialog once done"),
        # A modal screen hides the app's bindings; q (never typed: the field is disabled while pulling) still quits.
        Binding("q", "app.quit", "Quit", show=False, id="pull.quit", tooltip="Quit (asks first while the pull runs)"),
    ]

    def __init__(self, name: str = "") -> None:
        super().__init__()
        self.initial_name = name
        self.cancel_event: threading.Event | None = None
        """Set while a pull runs; setting it cancels the pull (``action_quit`` does, too)."""
        self.image_id: str | None = None
        """The pulled image, once done."""
        self.blobs = TransferLines()
        """The latest item per layer; written by the pull's threads, read by the redraw."""
        self.intro: list[str] = []
        """Docker's lines before the layers (``latest: Pulling from …``)."""
        self.outcome: list[str] = []
        """Docker's lines after them (digest, status) and ours (done, failed)."""
        self._asked = threading.Lock()
        self._redraw_asked = False
        """A redraw is on its way (under ``_asked``); the pull's threads post no other until it has run."""
        self._last_redraw = 0.0
        self._close_when_stopped = False
        """Esc came while the pull ran: close when it has stopped."""

    def compose(self) -> ComposeResult:
        with Vertical(id="pull-box"):
            yield Static("Pull an image", classes="modal-title")
            yield Label("Image (NAME[:TAG], registry/name:tag or NAME@DIGEST)")
            yield Input(value=self.initial_name, placeholder="busybox:latest", id="pull-ref")
            yield Log(id="pull-log", highlight=False)
            yield Static("Enter pull   Esc cancel/close", id="pull-keys", classes="modal-keys")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.start_pull(event.value.strip())

    def start_pull(self, name: str) -> None:
        """Begin pulling ``name`` (ignored while a pull runs or when empty)."""
        if self.cancel_event is not None or not name:
            return
        self.cancel_event = threading.Event()
        self.image_id = None
        self.blobs = TransferLines()
        self.intro, self.outcome = [], []
        self.query_one(Input).disabled = True
        self.query_one("#pull-keys", Static).update("Esc cancel the pull")
        log = self.query_one(Log)
        log.clear()
        log.write_line(f"Pulling {name} …")
        self.run_pull(name, self.blobs, self.cancel_event)

    @work(thread=True, exclusive=True, group="pull", exit_on_error=False, description="Pulling")
    def run_pull(self, name: str, blobs: TransferLines, cancel: threading.Event) -> str | None:
        """The engine's pull, off the UI thread; every outcome comes back to the dialog as one ``PullEnded``."""
        from engine import Cancelled

        engine = self.app.engine  # type: ignore[attr-defined]
        worker = get_current_worker()

        def progress(item: TransferProgress) -> None:
            if worker.is_cancelled:
                cancel.set()
            blobs.update(item)
            self._ask_redraw()

        try:
            self.intro = pull_intro(name)
            self._ask_redraw()
            result = engine.image_pull(name, progress=progress, cancel=cancel)
        except Cancelled as err:
            self.post_message(PullEnded("", [], err))
            return None  # asked for: not a failure to report
        except BaseException as err:
            self.post_message(PullEnded("", [], err))
            raise
        self.post_message(PullEnded(result.image_id, pull_outcome(name, result)))
        image_id: str = result.image_id
        return image_id

    def _ask_redraw(self) -> None:
        """From any thread: have the dialog redraw soon, unless a redraw is already on its way."""
        with self._asked:
            if self._redraw_asked:
                return
            self._redraw_asked = True
        self.post_message(PullProgress())

    @on(PullProgress)
    def _progress(self, event: PullProgress) -> None:
        wait = self._last_redraw + REDRAW_INTERVAL - time.monotonic()
        if wait > 0:
            self.set_timer(wait, self._redraw)
        else:
            self._redraw()

    def _redraw(self) -> None:
        with self._asked:
            self._redraw_asked = False  # changes from now on ask again; earlier ones are drawn below
        self._last_redraw = time.monotonic()
        log = self.query_one(Log)
        bar = max(10, min(BAR_WIDTH, log.scrollable_content_region.width - _LINE_ROOM))
        log.clear()
        log.write_lines([*self.intro, *self.blobs.lines(bar_width=bar), *self.outcome])

    @on(PullEnded)
    def _ended(self, event: PullEnded) -> None:
        from engine import BerthError, Cancelled

        self.cancel_event = None
        self.query_one(Input).disabled = False
        if isinstance(event.error, Cancelled):
            self.outcome = ["Pull cancelled; the store keeps no new image."]
        elif event.error is not None:
            # A screen's worker tells only its screen (Worker.StateChanged does not bubble): report it here.
            self.app.report_error("Pull", event.error)  # type: ignore[attr-defined]
            why = event.error if isinstance(event.error, BerthError) else f"a bug ({type(event.error).__name__})"
            self.outcome = [f"Pull failed: {why}", "Edit the reference and press Enter to try again, or Esc to close."]
        else:
            self.image_id = event.image_id
            self.outcome = [*event.outcome, f"Done: {short_id(event.image_id)}. Enter or Esc closes."]
            self.query_one(Input).disabled = True
            self.app.after_action()  # type: ignore[attr-defined]  # the pull's image event reloads the images
        self.query_one("#pull-keys", Static).update(
            "Enter / Esc close" if self.image_id else "Enter pull   Esc close")
        self._redraw()
        if self._close_when_stopped:
            if isinstance(event.error, Cancelled):
                self.app.notify("Pull cancelled; the store keeps no new image.", title="Pull")
            self.dismiss(self.image_id)
        elif self.image_id is None:
            self.query_one(Input).focus()

    def action_cancel(self) -> None:
        if self.cancel_event is None or self._close_when_stopped:
            self.dismiss(self.image_id)  # a second Esc does not wait for the pull to notice
            return
        self.cancel_event.set()
        self._close_when_stopped = True
        self.outcome = ["Cancelling…"]
        self._redraw()

    def action_close(self) -> None:
        if self.image_id is not None and self.cancel_event is None:
            self.dismiss(self.image_id)

    def on_unmount(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()  # the dialog went away (second Esc, app exit): the pull stops too

"""``BuildScreen``: the build dialog; the classic builder's output streams below the form.

Esc while a build runs sets the engine's cancel Event (the running step is
killed and undone); Esc when idle closes the dialog.
"""

from __future__ import annotations

import shlex
import threading

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Log, Static
from textual.worker import get_current_worker

from engine import build_event_text as build_text

from ..format import short_id
from ..messages import BuildEnded, BuildProgress

__all__ = ["BuildScreen", "parse_build_args"]


def parse_build_args(text: str) -> dict[str, str]:
    """``A=1 B="two words"`` → {"A": "1", "B": "two words"}; a bare ``NAME`` takes it from the environment."""
    import os

    args = {}
    for word in shlex.split(text):
        name, sep, value = word.partition("=")
        args[name] = value if sep else os.environ.get(name, "")
    return args


class BuildScreen(ModalScreen["str | None"]):
    """Context dir, Dockerfile, tags and build args; ctrl+s builds; returns the image ID or None."""

    BINDINGS = [
        Binding("ctrl+s", "build", "Build", id="build.start", tooltip="Start the build"),
        Binding("escape", "cancel", "Cancel / close", id="build.cancel",
                tooltip="Cancel a running build; close the dialog when idle"),
    ]

    def __init__(self, context: str = ".") -> None:
        super().__init__()
        self.context = context
        self.cancel_event: threading.Event | None = None
        """Set while a build runs; setting it cancels the build."""
        self.image_id: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="build-box"):
            yield Static("Build an image", classes="modal-title")
            yield Label("Context dir")
            yield Input(value=self.context, id="build-context")
            yield Label("Dockerfile (empty: Dockerfile in the context)")
            yield Input(placeholder="Dockerfile", id="build-dockerfile")
            yield Label("Tags (space separated NAME[:TAG])")
            yield Input(placeholder="myapp:latest", id="build-tags")
            yield Label("Build args (NAME=VALUE …)")
            yield Input(placeholder="VERSION=1.0", id="build-args")
            yield Log(id="build-log", highlight=False)
            yield Static("ctrl+s build   Esc cancel/close   Tab next field", classes="modal-keys")

    def on_mount(self) -> None:
        self.query_one("#build-context", Input).focus()

    def _value(self, name: str) -> str:
        return self.query_one(f"#build-{name}", Input).value.strip()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_build()

    def action_build(self) -> None:
        if self.cancel_event is not None:
            return
        self.cancel_event = threading.Event()
        log = self.query_one(Log)
        log.clear()
        log.write_line(f"Building {self._value('context')} …")
        self.run_build(self._value("context"), self._value("dockerfile") or None, tuple(self._value("tags").split()),
                       parse_build_args(self._value("args")), self.cancel_event)

    @work(thread=True, exclusive=True, group="build", exit_on_error=False, description="Building")
    def run_build(self, context: str, dockerfile: str | None, tags: tuple[str, ...], build_args: dict[str, str],
                  cancel: threading.Event) -> str:
        engine = self.app.engine  # type: ignore[attr-defined]
        worker = get_current_worker()

        def progress(event: object) -> None:
            if worker.is_cancelled:
                cancel.set()
            if text := build_text(event):  # type: ignore[arg-type]
                self.post_message(BuildProgress(text))

        try:
            image_id: str = engine.image_build(context, dockerfile=dockerfile, tags=tags, build_args=build_args,
                                               progress=progress, cancel=cancel)
        except BaseException as err:
            self.post_message(BuildEnded("", err))
            raise
        self.post_message(BuildEnded(image_id))
        return image_id

    @on(BuildProgress)
    def _progress(self, event: BuildProgress) -> None:
        self.query_one(Log).write(event.text)

    @on(BuildEnded)
    def _ended(self, event: BuildEnded) -> None:
        self.cancel_event = None
        log = self.query_one(Log)
        if event.error is not None:
            log.write_line(f"Build stopped: {event.error}")
            return
        self.image_id = event.image_id
        log.write_line(f"Done: {short_id(event.image_id)}. Esc closes.")
        self.app.after_action()  # type: ignore[attr-defined]  # the build's image event reloads the images

    def action_cancel(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()
            self.query_one(Log).write_line("Cancelling…")
            return
        self.dismiss(self.image_id)

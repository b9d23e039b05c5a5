"""``RunScreen``: ``berth run -d`` as a form: name, command, env, volumes, memory and CPU limits."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

if TYPE_CHECKING:
    from engine.containers.options import CreateOptions

__all__ = ["RunScreen", "run_options"]


def run_options(image: str, name: str, command: str, env: str, volumes: str, memory: str,
                cpus: str) -> "CreateOptions":
    """The form's text as Docker's create flags.

    Raises:
        InvalidArgument: a memory size or CPU count that does not parse.
    """
    from engine.containers.options import CreateOptions, parse_size
    from engine.errors import InvalidArgument

    try:
        nano_cpus = int(float(cpus) * 1e9) if cpus else 0
    except ValueError as err:
        raise InvalidArgument(f"invalid CPU count {cpus!r}: give a number such as 0.5") from err
    return CreateOptions(
        image=image, name=name, cmd=tuple(shlex.split(command)) or None, env=tuple(shlex.split(env)),
        binds=tuple(volumes.split()), memory=parse_size(memory) if memory else 0, nano_cpus=nano_cpus)


class RunScreen(ModalScreen["CreateOptions | None"]):
    """Fields for a detached container of ``image``; ctrl+s or Enter runs it, Esc closes."""

    BINDINGS = [
        Binding("ctrl+s", "run", "Run", id="run.start", tooltip="Create and start the container"),
        Binding("escape", "cancel", "Cancel", id="run.cancel"),
    ]

    def __init__(self, image: str) -> None:
        super().__init__()
        self.image = image
        """The reference the container is made from."""

    def compose(self) -> ComposeResult:
        with Vertical(id="run-box", classes="modal-box"):
            yield Static(f"Run {self.image} (detached)", classes="modal-title", markup=False)
            for field, label, placeholder in (
                ("name", "Name", "web"),
                ("command", "Command (empty: the image's CMD)", "sh -c 'echo hello; sleep 1d'"),
                ("env", "Environment (NAME=VALUE …)", "MODE=dev"),
                ("volumes", "Volumes (HOST:CONTAINER[:ro] …)", "/srv/data:/data"),
                ("memory", "Memory limit", "256m"),
                ("cpus", "CPUs", "0.5"),
            ):
                yield Label(label)
                yield Input(placeholder=placeholder, id=f"run-{field}")
            yield Static("ctrl+s / Enter run   Esc cancel   Tab next field", classes="modal-keys")

    def _value(self, field: str) -> str:
        return self.query_one(f"#run-{field}", Input).value.strip()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_run()

    def action_run(self) -> None:
        from engine.errors import BerthError

        try:
            options = run_options(self.image, *(self._value(f) for f in
                                                ("name", "command", "env", "volumes", "memory", "cpus")))
        except BerthError as err:
            self.notify(str(err), title="Run", severity="error")
            return
        self.dismiss(options)

    def action_cancel(self) -> None:
        self.dismiss(None)

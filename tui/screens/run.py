"""``RunScreen``: ``berth run`` as a form: name, command, env, volumes, ports, limits; detached or ``-it`` here."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, Static

if TYPE_CHECKING:
    from engine import CreateOptions

__all__ = ["Flag", "RunScreen", "run_options"]


def run_options(image: str, name: str, command: str, env: str, volumes: str, memory: str,
                cpus: str, ports: str = "", *, interactive: bool = False, remove: bool = False) -> CreateOptions:
    """The form's text as Docker's create flags; ``interactive`` is ``-it``, ``remove`` is ``--rm``.

    Raises:
        InvalidArgument: a memory size, CPU count, port or volume that does not parse.
    """
    from engine import CreateOptions, InvalidArgument, parse_size

    try:
        nano_cpus = int(float(cpus) * 1e9) if cpus else 0
    except ValueError as err:
        raise InvalidArgument(f"invalid CPU count {cpus!r}: give a number such as 0.5") from err
    options = CreateOptions(
        image=image, name=name, cmd=tuple(shlex.split(command)) or None, env=tuple(shlex.split(env)),
        binds=tuple(volumes.split()), memory=parse_size(memory) if memory else 0, nano_cpus=nano_cpus,
        publish=tuple(ports.split()), tty=interactive, open_stdin=interactive, auto_remove=remove)
    options.validate()  # Docker's checks (ports, volumes, --rm) before the dialog closes
    return options


class Flag(Checkbox):
    """A checkbox whose mark is a character, not only a colour: it reads the same under NO_COLOR and on 16 colours."""

    BUTTON_INNER = " "

    def watch_value(self) -> None:
        self.BUTTON_INNER = "X" if self.value else " "
        super().watch_value()


class RunScreen(ModalScreen["CreateOptions | None"]):
    """Fields for a container of ``image``; ctrl+s or Enter runs it, Esc closes.

    Detached by default (its log opens in panel 5); "Interactive" is ``run -it``: the
    app hands the terminal to the container until it exits or ctrl-p ctrl-q detaches.
    """

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
            yield Static(f"Run {self.image}", classes="modal-title", markup=False)
            for field, label, placeholder in (
                ("name", "Name", "web"),
                ("command", "Command (empty: the image's CMD)", "sh -c 'echo hello; sleep 1d'"),
                ("env", "Environment (NAME=VALUE …)", "MODE=dev"),
                ("volumes", "Volumes (HOST:CONTAINER[:ro] …)", "/srv/data:/data"),
                ("ports", "Ports ([IP:]HOST:CONTAINER[/udp] …)", "8080:80"),
                ("memory", "Memory limit", "256m"),
                ("cpus", "CPUs", "0.5"),
            ):
                yield Label(label, markup=False)
                yield Input(placeholder=placeholder, id=f"run-{field}")
            with Horizontal(id="run-flags"):
                yield Flag("Interactive here (-it)", id="run-interactive")
                yield Flag("Remove on exit (--rm)", id="run-remove")
            yield Static("ctrl+s / Enter run   Esc cancel   Tab next field", classes="modal-keys")

    def _value(self, field: str) -> str:
        return self.query_one(f"#run-{field}", Input).value.strip()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_run()

    def action_run(self) -> None:
        from engine import BerthError

        try:
            options = run_options(self.image, *(self._value(f) for f in
                                                ("name", "command", "env", "volumes", "memory", "cpus", "ports")),
                                  interactive=self.query_one("#run-interactive", Checkbox).value,
                                  remove=self.query_one("#run-remove", Checkbox).value)
        except BerthError as err:
            self.notify(str(err), title="Run", severity="error")
            return
        self.dismiss(options)

    def action_cancel(self) -> None:
        self.dismiss(None)

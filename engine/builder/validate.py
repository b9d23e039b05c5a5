"""Checks a whole Dockerfile before any step runs, as the classic builder does when it parses instructions."""

from __future__ import annotations

import re

from ..errors import BuildError, DockerfileParseError
from . import parser

__all__ = ["parse_dockerfile", "check_instruction", "flag_values", "line_error"]

_PARSE_ERROR = re.compile(r"^Dockerfile parse error on line (\d+): (.*)$", re.DOTALL)
_KNOWN = frozenset({
    "add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck", "label",
    "maintainer", "onbuild", "run", "shell", "stopsignal", "user", "volume", "workdir",
})
_FLAGS: dict[str, frozenset[str]] = {
    "from": frozenset({"platform"}),
    "copy": frozenset({"from", "chown", "chmod"}),
    "add": frozenset({"chown", "chmod"}),
    "healthcheck": frozenset({"interval", "timeout", "start-period", "retries"}),
}
_AT_LEAST_ONE = frozenset({"env", "label", "arg", "expose", "volume", "shell", "maintainer", "healthcheck",
                           "run", "from", "onbuild"})
_EXACTLY_ONE = frozenset({"workdir", "user", "stopsignal"})
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*$")


def line_error(line: int, message: str) -> BuildError:
    """The one shape every Dockerfile mistake is reported in."""
    return BuildError(f"Dockerfile line {line}: {message}")


def parse_dockerfile(text: str) -> parser.Dockerfile:
    """Parse, turning the parser's message into ``Dockerfile line N: what``."""
    try:
        return parser.parse(text)
    except DockerfileParseError as err:
        match = _PARSE_ERROR.match(str(err))
        if match is None:
            raise BuildError(f"Dockerfile: {err}") from err
        raise line_error(int(match.group(1)), match.group(2)) from err


def flag_values(ins: parser.Instruction) -> dict[str, str]:
    """``--name=value`` flags as a dict (a bare ``--name`` is ``"true"``)."""
    out = {}
    for flag in ins.flags:
        name, sep, value = flag[2:].partition("=")
        out[name] = value if sep else "true"
    return out


def check_instruction(ins: parser.Instruction, *, trigger: bool = False) -> None:
    """Raise ``Dockerfile line N: …`` for an unknown instruction, bad flags or too few arguments."""
    cmd = ins.cmd
    if cmd not in _KNOWN:
        raise line_error(ins.start_line, f"unknown instruction: {ins.original.split()[0].upper()}")
    allowed = _FLAGS.get(cmd, frozenset())
    for name in flag_values(ins):
        if name not in allowed:
            raise line_error(ins.start_line, f"Unknown flag: {name}")
    _check_args(ins)
    if cmd == "onbuild":
        if ins.child is None:
            raise line_error(ins.start_line, "ONBUILD requires at least one argument")
        if ins.child.cmd in ("onbuild", "from", "maintainer"):
            raise line_error(ins.start_line, f"{ins.child.cmd.upper()} isn't allowed as an ONBUILD trigger")
        check_instruction(ins.child, trigger=True)
    if cmd == "from" and not trigger:
        _check_from(ins)


def _check_args(ins: parser.Instruction) -> None:
    cmd, count = ins.cmd, len([a for a in ins.args if a != ""] if ins.cmd != "onbuild" else [ins.child])
    name = cmd.upper()
    if cmd in _EXACTLY_ONE and (count != 1 if cmd != "user" else count < 1):
        raise line_error(ins.start_line, f"{name} requires exactly one argument")
    if cmd in _AT_LEAST_ONE and count < 1:
        raise line_error(ins.start_line, f"{name} requires at least one argument")
    if cmd in ("copy", "add") and count < 2 and not ins.heredocs:
        raise line_error(ins.start_line, f"{name} requires at least two arguments")
    if cmd == "shell" and not ins.json_form:
        raise line_error(ins.start_line, "SHELL requires the arguments to be in JSON form")


def _check_from(ins: parser.Instruction) -> None:
    words = ins.args
    if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
        raise line_error(ins.start_line, "FROM requires either one or three arguments")
    if len(words) == 3 and not _STAGE_NAME.match(words[2].lower()):
        raise line_error(ins.start_line, f"invalid name for build stage: {words[2]!r}, "
                                         "name can't start with a number or contain symbols")

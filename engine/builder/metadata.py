"""Instructions that change only an image's config: CMD, ENV, WORKDIR and friends.

Shared by the builder and by ``import``/``commit`` ``--change``. Each one
returns the comment the classic builder records for it (the text after
``#(nop)`` in ``docker history``), built the way its Go code builds it.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import BerthError, InvalidArgument
from . import parser
from .shell_lex import process_word, process_words

__all__ = [
    "apply_metadata",
    "apply_instruction",
    "config_changes",
    "env_map",
    "go_quote_list",
    "CHANGE_INSTRUCTIONS",
    "DEFAULT_SHELL",
    "METADATA_INSTRUCTIONS",
]

DEFAULT_SHELL = ("/bin/sh", "-c")
CHANGE_INSTRUCTIONS = (
    "cmd", "entrypoint", "env", "expose", "label", "onbuild", "user", "volume", "workdir", "stopsignal",
)
METADATA_INSTRUCTIONS = (*CHANGE_INSTRUCTIONS, "healthcheck", "shell", "maintainer")

_Handler = Callable[[dict[str, Any], parser.Instruction, str, Mapping[str, str]], str]


def env_map(config: dict[str, Any]) -> dict[str, str]:
    """The config's ``Env`` list as a dict, later entries winning."""
    out = {}
    for item in config.get("Env") or []:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def go_quote_list(items: Sequence[str]) -> str:
    """Go's ``%q`` of a string slice: ``["/bin/sh" "-c" "echo hi"]``."""
    from .shell_lex import go_quote

    return "[" + " ".join(go_quote(item) for item in items) + "]"


def _command(ins: parser.Instruction, config: dict[str, Any]) -> list[str]:
    if ins.json_form:
        return list(ins.args)
    shell = config.get("Shell") or list(DEFAULT_SHELL)
    return [*shell, ins.args[0] if ins.args else ""]


def _cmd(config: dict[str, Any], ins: parser.Instruction, escape: str, env: Mapping[str, str]) -> str:
    config["Cmd"] = _command(ins, config)
    return f"CMD {go_quote_list(config['Cmd'])}"


def _entrypoint(config: dict[str, Any], ins: parser.Instruction, escape: str, env: Mapping[str, str]) -> str:
    config["Entrypoint"] = _command(ins, config) if (ins.json_form or (ins.args and ins.args[0])) else None
    return f"ENTRYPOINT {go_quote_list(config['Entrypoint'] or [])}"


def _set_env(config: dict[str, Any], ins: parser.Instruction, escape: str, env: Mapping[str, str]) -> str:
    current = env_map(config)
    pairs = []
    for i in range(0, len(ins.args), 3):
        # Every value sees the environment from before this instruction.
        key = process_word(ins.args[i], env, escape)
        value = process_word(ins.args[i + 1], env, escape)
        current[key] = value
        pairs.append(f"{key}={value}")
    config["Env"] = [f"{k}={v}" for k, v in current.items()]
    return "ENV " + " ".join(pairs)


def _set_labels(config: dict[str, Any], ins: parser.Instruction, escape: str, env: Mapping[str, str]) -> str:
    labels = dict(config.get("Labels") or {})
    pairs = []
    for i in range(0, len(ins.args), 3):
        key, value = process_word(ins.args[i], env, escape), process_word(ins.args[i + 1], env, escape)
        labels[key] = value
        pairs.append(f"{key}={value}")
    config["Labels"] = labels
    return "LABEL " + " ".join(pairs)


def _set_workdir(config: dict[str, Any], ins: parser.Instruction, escape: str, env: Mapping[str, str]) -> str:
    path = process_word(ins.args[0], env, escape) if ins.args else ""
    if not path:
        raise InvalidArgument("WORKDIR requires exactly one argument")
    workdir = posixpath.normpath(posixpath.join("/", config.get("WorkingDir") or "/", path))
    config["WorkingDir"] = workdir
    return "WORKDIR " + workdir


def _words(ins: parser.Instruction, env: Mapping[str, str], escape: str) -> list[str]:
    return [w for arg in ins.args for w in process_words(arg, env, escape)]


_PORT = re.compile(r"^(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?$", re.IGNORECASE)


def _set_expose(config: dict[str, Any], ins: parser.Instruction, escape: str, env: Mapping[str, str]) -> str:
    ports = dict(config.get("ExposedPorts") or {})
    words = _words(ins, env, escape)
    for word in words:
        match = _PORT.match(word.split(":")[-1])
        if match is None:
            raise InvalidArgument(f"invalid containerPort: {word}")
        low, high, proto = int(match.group(1)), int(match.group(2) or match.group(1)), (match.group(3) or "tcp")
        for port in range(low, high + 1):
            ports[f"{port}/{proto.lower()}"] = {}
    config["ExposedPorts"] = ports
    return "EXPOSE " + " ".join(words)


def _set_volume(config: dict[str, Any], ins: parser.Instruction, escape: str, env: Mapping[str, str]) -> str:
    volumes = dict(config.get("Volumes") or {})
    words = list(ins.args) if ins.json_form else _words(ins, env, escape)
    for word in words:
        if not word.strip():
            raise InvalidArgument("VOLUME specified can not be an empty string")
        volumes[word] = {}
    config["Volumes"] = volumes
    return "VOLUME [" + " ".join(words) + "]"


def _user(config: dict[str, Any], ins: parser.Instruction, escape: str, env: Mapping[str, str]) -> str:
    config["User"] = process_word(ins.args[0], env, escape)
    return f"USER {config['User']}"


def _stopsignal(config: dict[str, Any], ins: parser.Instruction, escape: str, env: Mapping[str, str]) -> str:
    value = process_word(ins.args[0], env, escape)
    if not _valid_signal(value):
        raise InvalidArgument(f"Invalid signal: {value}")
    config["StopSignal"] = value
    return f"STOPSIGNAL {value}"


def _valid_signal(value: str) -> bool:
    import signal

    if value.isdigit():
        return 0 < int(value) < 65
    name = value.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    return hasattr(signal.Signals, name) or re.fullmatch(r"SIGRTM(IN|AX)([+-]\d+)?", name) is not None


def _onbuild(config: dict[str, Any], ins: parser.Instruction, escape: str, env: Mapping[str, str]) -> str:
    trigger = re.sub(r"^\s*onbuild\s*", "", ins.original, flags=re.IGNORECASE)
    child = ins.child.cmd if ins.child is not None else ""
    if child in ("onbuild", "from", "maintainer"):
        raise InvalidArgument(f"{child.upper()} isn't allowed as an ONBUILD trigger")
    if not trigger:
        raise InvalidArgument("ONBUILD requires at least one argument")
    config["OnBuild"] = [*(config.get("OnBuild") or []), trigger]
    return "ONBUILD " + trigger


def _shell(config: dict[str, Any], ins: parser.Instruction, escape: str, env: Mapping[str, str]) -> str:
    if not ins.json_form:
        raise InvalidArgument("SHELL requires the arguments to be in JSON form")
    if not ins.args:
        raise InvalidArgument("SHELL requires at least one argument")
    config["Shell"] = list(ins.args)
    return "SHELL [" + " ".join(ins.args) + "]"


def _maintainer(config: dict[str, Any], ins: parser.Instruction, escape: str, env: Mapping[str, str]) -> str:
    # The author lives outside ``config``, in the image itself: the builder records it.
    return "MAINTAINER " + (ins.args[0] if ins.args else "")


def _healthcheck(config: dict[str, Any], ins: parser.Instruction, escape: str, env: Mapping[str, str]) -> str:
    from .healthcheck import health_comment, health_config

    health = health_config(ins)
    config["Healthcheck"] = health
    return health_comment(health)


_HANDLERS: dict[str, _Handler] = {
    "cmd": _cmd, "entrypoint": _entrypoint, "env": _set_env, "label": _set_labels, "workdir": _set_workdir,
    "user": _user, "expose": _set_expose, "volume": _set_volume, "stopsignal": _stopsignal, "onbuild": _onbuild,
    "shell": _shell, "maintainer": _maintainer, "healthcheck": _healthcheck,
}


def apply_instruction(
    config: dict[str, Any], ins: parser.Instruction, escape: str = "\\", env: Mapping[str, str] | None = None
) -> str | None:
    """Apply a config-only instruction and return its history comment; None if it is not one.

    ``env`` is what ``$VAR`` expands to (the builder adds build args); the
    config's own ``Env`` when not given.
    """
    handler = _HANDLERS.get(ins.cmd)
    if handler is None:
        return None
    return handler(config, ins, escape, env_map(config) if env is None else env)


def apply_metadata(config: dict[str, Any], ins: parser.Instruction, escape: str = "\\") -> bool:
    """Apply a config-only instruction to ``config`` (the OCI ``config`` object); False if it is not one."""
    return apply_instruction(config, ins, escape) is not None


def config_changes(lines: Sequence[str]) -> Callable[[dict[str, Any]], None]:
    """Parse ``--change`` lines now (so errors come before any work) and return their application."""
    instructions = []
    for line in lines:
        try:
            parsed = parser.parse(line).instructions
        except BerthError as err:
            raise InvalidArgument(f"invalid change {line!r}: {err}") from err
        for ins in parsed:
            if ins.cmd not in CHANGE_INSTRUCTIONS:
                raise InvalidArgument(
                    f"{ins.cmd.upper()} is not a valid change command; use one of "
                    + ", ".join(c.upper() for c in CHANGE_INSTRUCTIONS))
            instructions.append(ins)

    def apply(config: dict[str, Any]) -> None:
        for ins in instructions:
            apply_metadata(config, ins)

    return apply

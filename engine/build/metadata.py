"""Instructions that change only an image's config: CMD, ENV, WORKDIR and friends.

Shared by the builder and by ``import``/``commit`` ``--change``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import InvalidArgument
from . import parser
from .shell_lex import process_word, process_words

__all__ = ["apply_metadata", "config_changes", "env_map", "CHANGE_INSTRUCTIONS", "DEFAULT_SHELL"]

DEFAULT_SHELL = ("/bin/sh", "-c")
CHANGE_INSTRUCTIONS = ("cmd", "entrypoint", "env", "expose", "label", "onbuild", "user", "volume", "workdir", "stopsignal")


def env_map(config: dict[str, Any]) -> dict[str, str]:
    """The config's ``Env`` list as a dict, later entries winning."""
    out = {}
    for item in config.get("Env") or []:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def _command(ins: parser.Instruction, config: dict[str, Any]) -> list[str]:
    if ins.json_form:
        return list(ins.args)
    shell = config.get("Shell") or list(DEFAULT_SHELL)
    return [*shell, ins.args[0] if ins.args else ""]


def _set_env(config: dict[str, Any], ins: parser.Instruction, escape: str) -> None:
    current = env_map(config)
    lookup = dict(current)
    pairs = [ins.args[i:i + 3] for i in range(0, len(ins.args), 3)]
    for key, value, *_ in pairs:
        # Every value sees the environment from before this instruction.
        current[process_word(key, lookup, escape)] = process_word(value, lookup, escape)
    config["Env"] = [f"{k}={v}" for k, v in current.items()]


def _set_labels(config: dict[str, Any], ins: parser.Instruction, escape: str) -> None:
    env = env_map(config)
    labels = dict(config.get("Labels") or {})
    for i in range(0, len(ins.args), 3):
        labels[process_word(ins.args[i], env, escape)] = process_word(ins.args[i + 1], env, escape)
    config["Labels"] = labels


def _set_workdir(config: dict[str, Any], ins: parser.Instruction, escape: str) -> None:
    path = process_word(ins.args[0], env_map(config), escape) if ins.args else ""
    if not path:
        raise InvalidArgument("WORKDIR requires exactly one argument")
    config["WorkingDir"] = posixpath.normpath(posixpath.join("/", config.get("WorkingDir") or "/", path))


def _words(ins: parser.Instruction, config: dict[str, Any], escape: str) -> list[str]:
    env = env_map(config)
    return [w for arg in ins.args for w in process_words(arg, env, escape)]


def _set_expose(config: dict[str, Any], ins: parser.Instruction, escape: str) -> None:
    ports = dict(config.get("ExposedPorts") or {})
    for word in _words(ins, config, escape):
        port = word if "/" in word else f"{word}/tcp"
        ports[port.lower()] = {}
    config["ExposedPorts"] = ports


def _set_volume(config: dict[str, Any], ins: parser.Instruction, escape: str) -> None:
    volumes = dict(config.get("Volumes") or {})
    for word in (ins.args if ins.json_form else _words(ins, config, escape)):
        if not word.strip():
            raise InvalidArgument("VOLUME specified can not be an empty string")
        volumes[word] = {}
    config["Volumes"] = volumes


def apply_metadata(config: dict[str, Any], ins: parser.Instruction, escape: str = "\\") -> bool:
    """Apply a config-only instruction to ``config`` (the OCI ``config`` object); False if it is not one."""
    cmd = ins.cmd
    if cmd == "cmd":
        config["Cmd"] = _command(ins, config)
    elif cmd == "entrypoint":
        config["Entrypoint"] = _command(ins, config) if (ins.json_form or ins.args[0]) else None
    elif cmd == "env":
        _set_env(config, ins, escape)
    elif cmd == "label":
        _set_labels(config, ins, escape)
    elif cmd == "workdir":
        _set_workdir(config, ins, escape)
    elif cmd == "user":
        config["User"] = process_word(ins.args[0], env_map(config), escape)
    elif cmd == "expose":
        _set_expose(config, ins, escape)
    elif cmd == "volume":
        _set_volume(config, ins, escape)
    elif cmd == "stopsignal":
        config["StopSignal"] = process_word(ins.args[0], env_map(config), escape)
    elif cmd == "onbuild":
        trigger = ins.original.split(None, 1)[1] if " " in ins.original.strip() else ""
        config["OnBuild"] = [*(config.get("OnBuild") or []), trigger.strip()]
    else:
        return False
    return True


def config_changes(lines: Sequence[str]) -> Callable[[dict[str, Any]], None]:
    """Parse ``--change`` lines now (so errors come before any work) and return their application."""
    instructions = []
    for line in lines:
        try:
            parsed = parser.parse(line).instructions
        except Exception as err:
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

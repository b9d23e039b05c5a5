"""HEALTHCHECK: its flags, Go's duration syntax, and the history comment Docker prints for it.

The classic builder records ``HEALTHCHECK %q`` of its Go struct, so history
shows ``&{["CMD-SHELL" "curl -f x"] "30s" "3s" "0s" '\\x03'}``: quoted slice,
durations in Go's ``String()`` form, and the retry count as a quoted rune.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import InvalidArgument
from . import parser
from .shell_lex import go_quote

__all__ = ["health_config", "health_comment", "parse_duration", "format_duration"]

_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
       "m": 60_000_000_000, "h": 3_600_000_000_000}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_FLAGS = ("interval", "timeout", "start-period", "retries")
_MIN_DURATION = 1_000_000  # Docker refuses durations under 1ms (but allows 0: "use the default")


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration (``1m30s``, ``1.5h``, ``300ms``) in nanoseconds."""
    if text in ("0", "+0", "-0"):
        return 0
    body = text.lstrip("+")
    if not body or _PART.sub("", body):
        raise InvalidArgument(f'time: invalid duration "{text}"')
    return int(sum(float(num) * _NS[unit] for num, unit in _PART.findall(body)))


def format_duration(ns: int) -> str:
    """Go's time.Duration.String(): ``0s``, ``1.5s``, ``1m30s``, ``500ms``, ``2h0m0s``."""
    if ns == 0:
        return "0s"
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return _trim(ns / size) + unit
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = _trim(rest / 1_000_000_000) + "s"
    if hours:
        return f"{hours}h{minutes}m{seconds}"
    return f"{minutes}m{seconds}" if minutes else seconds


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"


def _go_quote_rune(value: int) -> str:
    """Go's ``%q`` of an int: a quoted character literal (``'\\x03'``, ``'A'``)."""
    escapes = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 39: "\\'", 92: "\\\\"}
    if value in escapes:
        return f"'{escapes[value]}'"
    if 0x20 <= value < 0x7F or (value > 0xA0 and chr(value).isprintable()):
        return f"'{chr(value)}'"
    if value < 0x100:
        return f"'\\x{value:02x}'"
    return f"'\\u{value:04x}'" if value < 0x10000 else f"'\\U{value:08x}'"


def _flags(ins: parser.Instruction) -> dict[str, str]:
    out = {}
    for flag in ins.flags:
        name, sep, value = flag[2:].partition("=")
        if name not in _FLAGS:
            raise InvalidArgument(f"Unknown flag: {name}")
        if not sep:
            raise InvalidArgument(f"Missing a value on flag: {name}")
        out[name] = value
    return out


def _duration_flag(flags: dict[str, str], name: str) -> int:
    if name not in flags:
        return 0
    value = parse_duration(flags[name])
    if value and value < _MIN_DURATION:
        raise InvalidArgument(f"{name.replace('-', ' ').capitalize()} cannot be less than 1ms")
    return value


def health_config(ins: parser.Instruction) -> dict[str, Any]:
    """The config's ``Healthcheck`` for a HEALTHCHECK instruction (zero fields left out, as Go's omitempty)."""
    if not ins.args:
        raise InvalidArgument("HEALTHCHECK requires an argument")
    kind = ins.args[0].upper()
    if kind == "NONE":
        if len(ins.args) > 1 or ins.flags:
            raise InvalidArgument("HEALTHCHECK NONE takes no arguments")
        return {"Test": ["NONE"]}
    if kind != "CMD":
        raise InvalidArgument(f"Unknown type {kind!r} in HEALTHCHECK (try CMD)")
    if len(ins.args) < 2 or not any(ins.args[1:]):
        raise InvalidArgument("Missing command after HEALTHCHECK CMD")
    test = ["CMD", *ins.args[1:]] if ins.json_form else ["CMD-SHELL", ins.args[1]]
    flags = _flags(ins)
    config: dict[str, Any] = {"Test": test}
    for flag, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod")):
        value = _duration_flag(flags, flag)
        if value:
            config[key] = value
    if "retries" in flags:
        if not flags["retries"].lstrip("-").isdigit() or int(flags["retries"]) < 0:
            raise InvalidArgument("--retries must be a non-negative integer")
        if int(flags["retries"]):
            config["Retries"] = int(flags["retries"])
    return config


def health_comment(config: dict[str, Any]) -> str:
    """``HEALTHCHECK &{[...] "30s" "0s" "0s" '\\x00'}``: Go's ``%q`` of the struct."""
    test = "[" + " ".join(go_quote(t) for t in config.get("Test", [])) + "]"
    durations = " ".join(go_quote(format_duration(config.get(k, 0))) for k in ("Interval", "Timeout", "StartPeriod"))
    return f"HEALTHCHECK &{{{test} {durations} {_go_quote_rune(config.get('Retries', 0))}}}"

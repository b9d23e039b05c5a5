"""Image config bytes exactly as Go's encoding/json would write the OCI ``Image`` struct.

Why: the image ID is the digest of the config bytes, and tools written in Go
(skopeo turning a docker-archive into an OCI layout, for one) decode a config
into image-spec's ``v1.Image`` and marshal it again. When berth's bytes are
already what that marshal produces, the copy keeps the image ID.

What Go does, and so this module: struct fields in declaration order (not
sorted), map keys sorted, ``omitempty`` fields left out when empty, no spaces,
``<``, ``>``, ``&``, U+2028 and U+2029 escaped as ``\\u003c``…, other control
characters as ``\\u00XX`` except ``\\n``, ``\\r``, ``\\t`` (Go before 1.22, as
Debian 12's skopeo is built, writes backspace and form feed that way too),
non-ASCII as UTF-8, and times in RFC 3339 with the fraction's trailing zeros
dropped (RFC3339Nano). Field orders below are those of image-spec's
``specs-go/v1/config.go`` as Debian 12's skopeo (1.9.3) vendors it, checked by
running it. Keys the OCI struct lacks (Docker's ``Healthcheck``, ``OnBuild``,
``Shell``…) follow the OCI ones in Docker's ``container.Config`` order; a Go
tool drops those, so an image using them cannot keep its ID through one.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["encode_config", "go_time"]

# (key, omitempty) in the Go struct's order.
_IMAGE = (("created", True), ("author", True), ("architecture", False), ("variant", True), ("os", False),
          ("os.version", True), ("os.features", True), ("config", False), ("rootfs", False), ("history", True))
_IMAGE_CONFIG = (("User", True), ("ExposedPorts", True), ("Env", True), ("Entrypoint", True), ("Cmd", True),
                 ("Volumes", True), ("WorkingDir", True), ("Labels", True), ("StopSignal", True),
                 ("ArgsEscaped", True))
# Docker's container.Config fields the OCI struct has not, in Docker's order.
_DOCKER_CONFIG_EXTRA = ("Hostname", "Domainname", "AttachStdin", "AttachStdout", "AttachStderr", "Tty",
                        "OpenStdin", "StdinOnce", "Healthcheck", "Image", "NetworkDisabled", "MacAddress", "OnBuild",
                        "StopTimeout", "Shell")
_ROOTFS = (("type", False), ("diff_ids", False))
_HISTORY = (("created", True), ("created_by", True), ("author", True), ("comment", True), ("empty_layer", True))
_HEALTHCHECK = ("Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries")

_ZERO_FRACTION = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d*?)0*)?(Z|[+-]\d\d:\d\d)$")
_NEEDS_ESCAPE = re.compile("[\x00-\x1f\"\\\\<>&\u2028\u2029\ud800-\udfff]")
_SHORT = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def go_time(stamp: str) -> str:
    """An RFC 3339 time as Go's ``time.Time`` marshals it: fraction without trailing zeros."""
    m = _ZERO_FRACTION.match(stamp)
    if not m:
        return stamp
    return m.group(1) + ("." + m.group(2) if m.group(2) else "") + m.group(3)


def encode_config(config: dict[str, Any]) -> bytes:
    """The config's bytes in Go's form (see the module docstring)."""
    image = _struct(config, _IMAGE, ())
    if isinstance(image.get("created"), str):
        image["created"] = go_time(image["created"])
    image["config"] = _run_config(config.get("config") or {})
    image["rootfs"] = _struct(config.get("rootfs") or {}, _ROOTFS, ())
    if "history" in image:
        image["history"] = [_history(entry) for entry in image["history"]]
    return _dump(image).encode("utf-8")


def _run_config(config: dict[str, Any]) -> _Struct:
    out = _struct(config, _IMAGE_CONFIG, _DOCKER_CONFIG_EXTRA)
    if isinstance(out.get("Healthcheck"), dict):
        out["Healthcheck"] = _ordered(out["Healthcheck"], _HEALTHCHECK)
    return out


def _history(entry: Any) -> Any:
    if not isinstance(entry, dict):
        return entry
    out = _struct(entry, _HISTORY, ())
    if isinstance(out.get("created"), str):
        out["created"] = go_time(out["created"])
    return out


def _struct(value: dict[str, Any], fields: tuple[tuple[str, bool], ...], extra_order: tuple[str, ...]) -> _Struct:
    """Known fields in order (empty ``omitempty`` ones left out), then the rest: ``extra_order`` first, then sorted."""
    out = _Struct()
    for key, omitempty in fields:
        item = value.get(key)
        if omitempty and _empty(item):
            continue
        out[key] = "" if item is None and key in ("architecture", "os", "type") else item
    known = {key for key, _ in fields}
    out.update(_ordered({k: v for k, v in value.items() if k not in known and v is not None}, extra_order))
    return out


def _ordered(value: dict[str, Any], order: tuple[str, ...]) -> _Struct:
    out = _Struct((k, value[k]) for k in order if k in value)
    out.update((k, value[k]) for k in sorted(value) if k not in out)
    return out


def _empty(item: Any) -> bool:
    """Go's omitempty: false, 0, "", nil, and empty slices and maps."""
    if isinstance(item, (list, dict, str)):
        return not item
    return item is None or item is False or (type(item) in (int, float) and item == 0)


class _Struct(dict):  # type: ignore[type-arg]
    """A Go struct's fields: written in this order. Plain dicts are Go maps: written with sorted keys."""


def _dump(value: Any) -> str:
    """JSON without spaces, Go's way."""
    if isinstance(value, dict):
        keys = list(value) if isinstance(value, _Struct) else sorted(value)
        return "{" + ",".join(_string(k) + ":" + _dump(value[k]) for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    if isinstance(value, str):
        return _string(value)
    return json.dumps(value)


def _string(text: str) -> str:
    return '"' + _NEEDS_ESCAPE.sub(_escape, text) + '"'


def _escape(m: re.Match[str]) -> str:
    char = m.group(0)
    if char in _SHORT:
        return _SHORT[char]
    if "\ud800" <= char <= "\udfff":
        return "\ufffd"  # Go writes invalid UTF-8 as the replacement character
    return f"\\u{ord(char):04x}"

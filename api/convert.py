"""Engine records as Docker's list JSON: ``/containers/json``, ``/images/json``, history, events, filters."""

from __future__ import annotations

import json
import time
from typing import Any

from .errors import ApiError

__all__ = ["container_row", "event_json", "filter_items", "history_row", "human_duration", "image_row",
           "parse_filters"]


def parse_filters(text: str | None) -> dict[str, list[str]]:
    """``filters=`` in either form Docker accepts: ``{"k": ["v"]}`` or the map form ``{"k": {"v": true}}``."""
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except ValueError as err:
        raise ApiError(400, f"invalid filters: {text}") from err
    if not isinstance(raw, dict):
        raise ApiError(400, f"invalid filters: {text}")
    out: dict[str, list[str]] = {}
    for key, values in raw.items():
        if isinstance(values, dict):
            out[key] = [v for v, on in values.items() if on]
        elif isinstance(values, list):
            out[key] = [str(v) for v in values]
        else:
            raise ApiError(400, f"invalid filters: {text}")
    return out


def filter_items(filters: dict[str, list[str]]) -> list[str]:
    """The CLI's ``--filter key=value`` strings for the same filters."""
    return [f"{key}={value}" for key, values in filters.items() for value in values]


_UNITS = ((60, "second"), (60, "minute"), (24, "hour"), (7, "day"), (52, "week"))


def human_duration(seconds: float) -> str:
    """Docker's ``units.HumanDuration``, as ``ps`` prints it in Status (``Up 5 seconds``)."""
    if seconds < 1:
        return "Less than a second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = seconds / 60
    if minutes < 60:
        return "About a minute" if int(minutes) == 1 else f"{int(minutes)} minutes"
    hours = minutes / 60
    if hours < 48:
        return "About an hour" if int(hours) == 1 else f"{int(hours)} hours"
    days = hours / 24
    if days < 14:
        return f"{int(days)} days"
    if days < 60:
        return f"{int(days / 7)} weeks"
    if days < 730:
        return f"{int(days / 30)} months"
    return f"{int(days / 365)} years"


def _status(row: Any, now: float) -> str:
    if row.state in ("running", "paused", "restarting"):
        up = f"Up {human_duration(now - row.started_at)}"
        return up + (" (Paused)" if row.state == "paused" else "")
    if row.state == "created":
        return "Created"
    if row.state == "dead":
        return "Dead"
    return f"Exited ({row.exit_code}) {human_duration(now - row.finished_at)} ago"


def _ports(ports: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key, hosts in ports.items():
        number, _, proto = key.partition("/")
        if not hosts:
            out.append({"PrivatePort": int(number), "Type": proto or "tcp"})
        for host in hosts or []:
            out.append({"IP": host.get("HostIp") or "0.0.0.0", "PrivatePort": int(number),
                        "PublicPort": int(host.get("HostPort") or 0), "Type": proto or "tcp"})
    return out


def container_row(row: Any, now: float | None = None) -> dict[str, Any]:
    """One ``ContainerSummary`` as Docker's ``/containers/json`` item."""
    out: dict[str, Any] = {
        "Id": row.id, "Names": [f"/{row.name}"], "Image": row.image, "ImageID": row.image_id,
        "Command": row.command, "Created": int(row.created), "Ports": _ports(row.ports), "Labels": row.labels,
        "State": row.state, "Status": _status(row, time.time() if now is None else now),
        "HostConfig": {"NetworkMode": row.networks[0] if row.networks else "none"},
        "NetworkSettings": {"Networks": {name: {} for name in row.networks}},
        "Mounts": [{"Destination": path} for path in row.mounts],
    }
    if row.size_rw is not None:
        out["SizeRw"] = row.size_rw
    if row.size_root_fs is not None:
        out["SizeRootFs"] = row.size_root_fs
    return out


def image_row(image: Any, digests: list[str] | None = None) -> dict[str, Any]:
    """One ``ImageSummary`` as Docker's ``/images/json`` item."""
    return {
        "Id": image.id, "ParentId": image.parent or "", "RepoTags": list(image.repo_tags),
        "RepoDigests": digests or [], "Created": int(image.created), "Size": image.size,
        "VirtualSize": image.size, "SharedSize": -1, "Labels": {}, "Containers": image.containers,
    }


def history_row(entry: Any) -> dict[str, Any]:
    """One ``HistoryEntry`` as Docker's ``/images/{name}/history`` item (``<missing>`` for a layerless step)."""
    return {"Id": entry.id or "<missing>", "Created": int(entry.created), "CreatedBy": entry.created_by,
            "Tags": list(entry.tags) or None, "Size": entry.size, "Comment": entry.comment}


def event_json(event: Any) -> dict[str, Any]:
    """One journal ``Event`` as a line of Docker's ``/events`` stream."""
    attributes = {"name": event.name} if event.name else {}
    return {"Type": event.type, "Action": event.action, "Actor": {"ID": event.id, "Attributes": attributes},
            "scope": "local", "time": int(event.time), "timeNano": int(event.time * 1e9),
            "status": event.action, "id": event.id}

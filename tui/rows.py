"""The rows docker's ``--format`` templates see, and the two ways a verb prints them.

Each row's attributes are Docker's field names (``{{.ID}}``, ``{{.Names}}``) and its values are the
strings Docker prints; the texts come from ``tui.format`` so a template and the default table never
disagree. ``*_HEADERS`` are docker/cli's column titles for ``table`` formats.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

from .format import (
    command_cell,
    container_size,
    container_status,
    ellipsis,
    human_size,
    image_cell,
    ports_text,
    short_id,
    since,
)

__all__ = [
    "CONTAINER_HEADERS",
    "DF_HEADERS",
    "HISTORY_HEADERS",
    "IMAGE_HEADERS",
    "NETWORK_HEADERS",
    "VOLUME_HEADERS",
    "Row",
    "add_inspect_format",
    "container_row",
    "go_time",
    "history_row",
    "image_row",
    "network_row",
    "uses_template",
    "volume_row",
    "write_inspect",
    "write_rows",
]

CONTAINER_HEADERS = {
    "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT", "RunningFor": "CREATED",
    "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE", "Names": "NAMES", "Labels": "LABELS",
    "Mounts": "MOUNTS", "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES",
}
IMAGE_HEADERS = {
    "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS", "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE",
}
HISTORY_HEADERS = {
    "ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY", "Size": "SIZE",
    "Comment": "COMMENT",
}
VOLUME_HEADERS = {
    "Driver": "DRIVER", "Name": "VOLUME NAME", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS",
    "Links": "LINKS", "Size": "SIZE",
}
NETWORK_HEADERS = {
    "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6", "Internal": "INTERNAL",
    "Labels": "LABELS", "CreatedAt": "CREATED AT",
}

DF_HEADERS = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
              "Reclaimable": "RECLAIMABLE"}

_CREATED_BY_WIDTH = 45


class Row:
    """A struct for the template: public attributes are its fields; ``Label(name)`` reads its labels.

    Fields are stored in sorted order so ``{{json .}}`` prints keys as docker does (its contexts marshal a map).
    """

    def __init__(self, labels: Mapping[str, str] | None = None, **fields: str) -> None:
        self._labels = dict(labels or {})
        self.__dict__.update(sorted(fields.items()))

    def Label(self, name: str) -> str:  # noqa: N802 - docker's method name, called from templates
        """``{{.Label "com.example"}}``: one label's value, "" when it is not set."""
        return self._labels.get(name, "")


def go_time(epoch: float) -> str:
    """Go's ``time.Time.String()`` in UTC to the second: ``2026-12-03 17:08:00 +0000 UTC``."""
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(epoch))


def _labels_text(labels: Mapping[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in (labels or {}).items())


def container_row(s: Any, no_trunc: bool = False, size: bool = False) -> Row:
    """``ps``: one ``ContainerSummary``."""
    return Row(
        s.labels, ID=s.id if no_trunc else short_id(s.id), Image=image_cell(s.image, no_trunc),
        Command=command_cell(s.command, no_trunc), CreatedAt=go_time(s.created), RunningFor=since(s.created),
        Ports=ports_text(s.ports), State=s.state, Status=container_status(s),
        Size=container_size(s) if size else "0B", Names=s.name, Labels=_labels_text(s.labels),
        Mounts=",".join(s.mounts), Networks=",".join(s.networks), LocalVolumes="0",
    )


def image_row(repo: str, tag: str, image_id: str, s: Any, no_trunc: bool = False) -> Row:
    """``images``: one tag of one ``ImageSummary``."""
    return Row(
        getattr(s, "labels", None), ID=image_id if no_trunc else short_id(image_id), Repository=repo, Tag=tag,
        Digest="<none>", CreatedSince=since(s.created), CreatedAt=go_time(s.created), Size=human_size(s.size),
        Containers=str(s.containers), SharedSize="N/A", UniqueSize="N/A", VirtualSize=human_size(s.size),
    )


def history_row(r: Any, no_trunc: bool = False, human: bool = True) -> Row:
    """``history``: one layer, with docker's ``-H``/``--no-trunc`` texts."""
    created_by = r.created_by.replace("\t", " ")
    created_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(r.created)) if r.created else "N/A"
    return Row(
        ID=r.id if no_trunc or r.id == "<missing>" else short_id(r.id),
        CreatedSince=since(r.created) if human else created_at, CreatedAt=created_at,
        CreatedBy=created_by if no_trunc else ellipsis(created_by, _CREATED_BY_WIDTH),
        Size=human_size(r.size) if human else str(r.size), Comment=r.comment,
    )


def volume_row(v: Any) -> Row:
    """``volume ls``: one ``Volume`` (size and links are ``N/A`` as in docker without ``system df``)."""
    return Row(v.labels, Driver=v.driver, Name=v.name, Scope="local", Mountpoint=v.mountpoint,
               Labels=_labels_text(v.labels), Links="N/A", Size="N/A")


def network_row(rec: Mapping[str, Any], no_trunc: bool = False) -> Row:
    """``network ls``: one network's inspect record."""
    from engine import parse_time

    created = parse_time(rec.get("Created") or "")
    return Row(rec.get("Labels"), ID=rec["Id"] if no_trunc else short_id(rec["Id"]), Name=rec["Name"],
               Driver=rec["Driver"], Scope=rec["Scope"], IPv6=str(bool(rec.get("EnableIPv6"))).lower(),
               Internal=str(bool(rec.get("Internal"))).lower(), Labels=_labels_text(rec.get("Labels")),
               CreatedAt=go_time(created) if created else "")


def uses_template(fmt: str | None, json: bool = False) -> bool:
    """True when ``--format`` goes to the evaluator: any text but "" and ``table`` (docker's default table).

    ``json`` too when ``json`` is true: verbs that print their own JSON keep it (tests pin its bytes).
    """
    return bool(fmt) and fmt.strip() != "table" and (json or fmt != "json")


def write_rows(fmt: str, rows: Iterable[Row], headers: Mapping[str, str]) -> None:
    """docker's list formatter: a ``table …`` under a header row, else one rendered line per row."""
    from .gotemplate import format_rows

    sys.stdout.write(format_rows(fmt, list(rows), headers))


def write_inspect(fmt: str | None, objects: list[Any]) -> None:
    """``inspect``: the list as indented JSON, or with ``-f`` the template once per object, a newline after each."""
    if not fmt:
        print(json.dumps(objects, indent=4))
        return
    from .gotemplate import parse, preformat

    tmpl = parse(preformat(fmt))
    sys.stdout.write("".join(tmpl.execute(obj) + "\n" for obj in objects))


def add_inspect_format(p: Any) -> None:
    """Docker's ``-f/--format`` on every ``inspect``."""
    p.add_argument("-f", "--format", default="", help="Format output using a Go template ('json' for one line each)")

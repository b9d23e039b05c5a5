"""System verbs: ``system check``, ``events``; ``system df``/``prune`` are in disk.py, ``service`` in service.py."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine import Engine, InvalidArgument

from ..rows import Row

if TYPE_CHECKING:
    from engine import Event

__all__ = ["register"]


def register(sub: Any) -> None:
    system = sub.add_parser("system", help="Manage the store")
    ssub = system.add_subparsers(dest="system_verb", metavar="COMMAND", required=True, parser_class=sub._parser_class)
    p = ssub.add_parser("check", help="Verify the store; exit 1 if anything is wrong")
    p.add_argument("--repair", action="store_true", help="Reclaim orphans, stale mounts and temp files")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("events", help="Show changes to the store as they happen")
    p.add_argument("--since", help="Also show earlier events: a duration (10m, 2h) or a Unix time")
    p.add_argument("--until", help="Stop after this duration (10s, 1m) or Unix time")
    p.add_argument("--format", default="", help="'json' (docker's event message) or a Go template")
    p.set_defaults(func=cmd_events)
    from .disk import register as register_disk
    from .service import register as register_service

    register_disk(ssub)
    register_service(ssub)


def cmd_check(engine: Engine, args: argparse.Namespace) -> int:
    report = engine.system_check(repair=args.repair)
    for problem in report.repaired:
        print(f"repaired: {problem.kind}: {problem.path}")
    for problem in report.problems:
        hint = "" if problem.repairable else " (not repairable)"
        detail = f" ({problem.detail})" if problem.detail else ""
        print(f"{problem.kind}: {problem.path}{detail}{hint}")
    verdict = "consistent" if report.ok else f"{len(report.problems)} problem(s)"
    print(f"store {engine.root}: {report.images} images, {report.layers} layers, {verdict}")
    return 0 if report.ok else 1


def _moment(text: str, now: float, future: bool) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text[-1:] in units:
            seconds = float(text[:-1]) * units[text[-1]]
            return now + seconds if future else now - seconds
        return float(text)
    except ValueError as err:
        raise InvalidArgument(f"invalid time {text!r}: use a duration like 10m or a Unix time") from err


def _event_printer(fmt: str) -> Callable[[Event], str]:
    """The line for one event: berth's default, docker's JSON message, or a template over that message."""
    from engine import format_time

    if not fmt:
        return lambda e: f"{format_time(e.time)} {e.type} {e.action} {e.id}" + (f" (name={e.name})" if e.name else "")
    if fmt == "json":
        return lambda e: json.dumps(_event_json(e), ensure_ascii=False, separators=(",", ":"))
    from ..gotemplate import parse, preformat

    tmpl = parse(preformat(fmt))
    return lambda e: tmpl.execute(_event_row(e))


def _event_json(e: Event) -> dict[str, Any]:
    """docker's ``events.Message`` as its JSON tags name it.

    The deprecated ``status``/``id`` are set for container and image events only, as docker does; ``from``
    (the container's image) is left out: the engine's journal does not record it.
    """
    whole = int(e.time)
    nanos = whole * 10**9 + round((e.time - whole) * 1e9)  # as format_time rounds: a float loses the last digits
    legacy = {"status": e.action, "id": e.id} if e.type in ("container", "image") else {}
    return {**legacy, "Type": e.type, "Action": e.action,
            "Actor": {"ID": e.id, "Attributes": {"name": e.name} if e.name else {}}, "scope": "local",
            "time": whole, "timeNano": nanos}


def _event_row(e: Event) -> Row:
    """The same message under its Go field names, which is what docker's templates see."""
    msg = _event_json(e)
    return Row(Status=msg.get("status", ""), ID=msg.get("id", ""), From="", Type=msg["Type"], Action=msg["Action"],
               Actor=Row(ID=e.id, Attributes=msg["Actor"]["Attributes"]), Scope="local", Time=msg["time"],
               TimeNano=msg["timeNano"])


def cmd_events(engine: Engine, args: argparse.Namespace) -> int:
    import threading
    import time

    now = time.time()
    since = _moment(args.since, now, future=False) if args.since else None
    until = _moment(args.until, now, future=True) if args.until else None
    stop = threading.Event()
    if until is not None:
        threading.Timer(max(0.0, until - now), stop.set).start()
    line = _event_printer(args.format)
    offset = engine.events_offset(since)  # since: a search by time, not a read from the journal's start
    try:
        for event in engine.events_follow(offset, stop):
            if since is not None and event.time < since:
                continue
            if until is not None and event.time > until:
                continue  # --until in the past: the history up to it, then stop
            print(line(event), flush=True)
    finally:
        stop.set()
    return 0

"""Image verbs: import, bootstrap, images, history, tag, rmi, inspect."""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from engine import (
    ArchiveError,
    BerthError,
    ContainerNotFound,
    Engine,
    ImageNotFound,
    ImageSummary,
)

from ..format import human_size, short_id, since, tabulate
from ..rows import (
    HISTORY_HEADERS,
    IMAGE_HEADERS,
    add_inspect_format,
    history_row,
    image_row,
    uses_template,
    write_inspect,
    write_rows,
)

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("import", help="Import a root filesystem tarball as an image")
    p.add_argument("file", metavar="FILE|-")
    p.add_argument("ref", nargs="?", metavar="REPOSITORY[:TAG]")
    p.add_argument("-c", "--change", action="append", default=[], help="Apply a Dockerfile instruction to the image")
    p.add_argument("-m", "--message", default="", help="Set a commit message for the imported image")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("bootstrap", help="Make a small base image from the host's busybox-static")
    p.add_argument("ref", nargs="?", default="busybox:latest", metavar="NAME[:TAG]")
    p.set_defaults(func=cmd_bootstrap)

    p = sub.add_parser("images", help="List images")
    _images_flags(p)

    image = sub.add_parser("image", help="Manage images")
    isub = image.add_subparsers(dest="image_verb", metavar="COMMAND", required=True, parser_class=sub._parser_class)
    _images_flags(isub.add_parser("ls", aliases=["list"], help="List images"))
    _history_flags(isub.add_parser("history", help="Show the history of an image"))
    _rmi_flags(isub.add_parser("rm", aliases=["remove"], help="Remove images"))
    _tag_flags(isub.add_parser("tag", help="Tag an image"))
    _inspect_flags(isub.add_parser("inspect", help="Show an image's configuration"))
    p = isub.add_parser("prune", help="Remove unused images")
    p.add_argument("-a", "--all", action="store_true", help="Remove all unused images, not just dangling ones")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.set_defaults(func=_image_prune)

    _history_flags(sub.add_parser("history", help="Show the history of an image"))
    _tag_flags(sub.add_parser("tag", help="Create a tag TARGET that refers to SOURCE"))
    _rmi_flags(sub.add_parser("rmi", help="Remove one or more images"))
    _inspect_flags(sub.add_parser("inspect", help="Show low-level information on images"))


def _images_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", metavar="REPOSITORY[:TAG]")
    p.add_argument("-a", "--all", action="store_true", help="Show all images (default hides intermediate images)")
    p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-f", "--filter", action="append", default=[],
                   help="Filter output (dangling=true, reference=PATTERN)")
    p.add_argument("--format", help="'json' (one JSON object per image), 'table TEMPLATE' or a Go template")
    p.set_defaults(func=cmd_images)


def _history_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-H", "--human", type=_bool, default=True, metavar="BOOL",
                   help="Print sizes and dates in human readable format (default true)")
    p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    p.add_argument("--format", default="", help="'json', 'table TEMPLATE' or a Go template")
    p.set_defaults(func=cmd_history)


def _tag_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    p.add_argument("target", metavar="TARGET_IMAGE[:TAG]")
    p.set_defaults(func=cmd_tag)


def _rmi_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-f", "--force", action="store_true", help="Force removal of the image")
    p.add_argument("--no-prune", action="store_true", help="Do not delete untagged parents")
    p.set_defaults(func=cmd_rmi)


def _inspect_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="+", metavar="NAME")
    add_inspect_format(p)
    p.set_defaults(func=cmd_inspect)


def _bool(text: str) -> bool:
    if text.lower() in ("1", "t", "true", "yes"):
        return True
    if text.lower() in ("0", "f", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


# -- import ------------------------------------------------------------------


def cmd_import(engine: Engine, args: argparse.Namespace) -> int:
    from engine import config_changes

    changes = config_changes(args.change) if args.change else None
    with _open_source(args.file) as (stream, total):
        with _progress("Importing", total) as advance:
            image_id = engine.image_import(
                stream, source_name=args.file, ref=args.ref, changes=changes,
                message=args.message, progress=advance,
            )
    print(image_id)
    return 0


@contextmanager
def _open_source(name: str) -> Iterator[tuple[IO[bytes], int]]:
    if name == "-":
        yield sys.stdin.buffer, 0
        return
    try:
        f = open(name, "rb")
    except OSError as err:
        raise ArchiveError(f"{name}: {err.strerror}") from err
    with f:
        yield f, os.fstat(f.fileno()).st_size


@contextmanager
def _progress(label: str, total: int) -> Iterator[Callable[[int], None] | None]:
    """A Rich progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(binary_units=False),
                  TransferSpeedColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total or None)
        yield lambda done: bar.update(task, completed=done)


def _image_prune(engine: Engine, args: argparse.Namespace) -> int:
    from .build import cmd_image_prune

    return cmd_image_prune(engine, args)


def cmd_bootstrap(engine: Engine, args: argparse.Namespace) -> int:
    print(engine.image_bootstrap(args.ref))
    return 0


# -- images ------------------------------------------------------------------


def cmd_images(engine: Engine, args: argparse.Namespace) -> int:
    rows = _image_rows(engine.image_list(all=args.all), args)
    if args.quiet:
        for _, _, image_id, _ in rows:
            print(image_id if args.no_trunc else short_id(image_id))
        return 0
    if args.format == "json":
        for repo, tag, image_id, summary in rows:
            print(json.dumps(_image_json(repo, tag, image_id, summary, args.no_trunc), sort_keys=True))
        return 0
    if uses_template(args.format):
        write_rows(args.format, (image_row(*row, no_trunc=args.no_trunc) for row in rows), IMAGE_HEADERS)
        return 0
    table = [[repo, tag, image_id if args.no_trunc else short_id(image_id), since(s.created), human_size(s.size)]
             for repo, tag, image_id, s in rows]
    print(tabulate(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], table))
    return 0


def _image_rows(summaries: list[ImageSummary], args: argparse.Namespace) -> list[tuple[str, str, str, ImageSummary]]:
    """One row per tag (an untagged image gets one ``<none>`` row), filtered."""
    filters = _parse_filters(args.filter)
    pattern = args.name or filters.get("reference")
    rows = []
    for s in summaries:
        if filters.get("dangling") == "true" and s.repo_tags:
            continue
        if filters.get("dangling") == "false" and not s.repo_tags:
            continue
        tags = [t.rsplit(":", 1) for t in s.repo_tags] or [["<none>", "<none>"]]
        for repo, tag in tags:
            if pattern and not _matches(pattern, repo, tag):
                continue
            rows.append((repo, tag, s.id, s))
    return rows


def _parse_filters(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in ("dangling", "reference"):
            raise BerthError(f"invalid filter '{item}': use dangling=true|false or reference=PATTERN")
        out[key] = value.lower() if key == "dangling" else value
    return out


def _matches(pattern: str, repo: str, tag: str) -> bool:
    name, _, want_tag = pattern.rpartition(":") if ":" in pattern.rsplit("/", 1)[-1] else (pattern, "", "")
    return fnmatch.fnmatchcase(repo, name) and (not want_tag or fnmatch.fnmatchcase(tag, want_tag))


def _image_json(repo: str, tag: str, image_id: str, s: ImageSummary, no_trunc: bool) -> dict[str, str]:
    from engine import format_time

    return {
        "Containers": str(s.containers), "CreatedAt": format_time(s.created), "CreatedSince": since(s.created),
        "Digest": "<none>", "ID": image_id if no_trunc else short_id(image_id), "Repository": repo,
        "SharedSize": "N/A", "Size": human_size(s.size), "Tag": tag, "UniqueSize": "N/A",
        "VirtualSize": human_size(s.size),
    }


# -- history, tag, rmi, inspect ---------------------------------------------


def cmd_history(engine: Engine, args: argparse.Namespace) -> int:
    rows = engine.image_history(args.image)
    if args.quiet:
        for r in rows:
            print(r.id if args.no_trunc or r.id == "<missing>" else short_id(r.id))
        return 0
    if uses_template(args.format, json=True):
        write_rows(args.format, (history_row(r, args.no_trunc, args.human) for r in rows), HISTORY_HEADERS)
        return 0
    table = []
    for r in rows:
        image = r.id if args.no_trunc or r.id == "<missing>" else short_id(r.id)
        created_by = r.created_by.replace("\t", " ")
        if not args.no_trunc:
            created_by = _ellipsis(created_by, 45)
        if args.human:
            created, size = since(r.created), human_size(r.size)
        else:
            from engine import format_time

            created, size = (format_time(r.created)[:19] + "Z") if r.created else "N/A", str(r.size)
        table.append([image, created, created_by, size, r.comment])
    print(tabulate(["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], table))
    return 0


def _ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_tag(engine: Engine, args: argparse.Namespace) -> int:
    engine.image_tag(args.source, args.target)
    return 0


def cmd_rmi(engine: Engine, args: argparse.Namespace) -> int:
    status = 0
    for name in args.images:
        try:
            for item in engine.image_remove(name, force=args.force, prune=not args.no_prune):
                print(f"{item.action}: {item.name}")
        except BerthError as err:
            print(f"Error: {err}", file=sys.stderr)
            status = 1
    return status


def inspect_any(engine: Engine, name: str) -> dict[str, Any]:
    """``berth inspect NAME``: a container if one answers to the name, else an image (Docker's order)."""
    try:
        return engine.container_inspect(name)
    except ContainerNotFound:
        pass
    try:
        return engine.image_inspect(name)
    except ImageNotFound as err:
        raise BerthError(f"No such object: {name}") from err


def cmd_inspect(engine: Engine, args: argparse.Namespace) -> int:
    found, status = [], 0
    for name in args.names:
        try:
            found.append(inspect_any(engine, name))
        except BerthError as err:
            print(f"Error: {err}", file=sys.stderr)
            status = 1
    write_inspect(args.format, found)
    return status

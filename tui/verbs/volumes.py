"""``volume create|ls|inspect|rm|prune``: Docker's local volumes, with its columns and messages."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine import BerthError, Engine, InvalidArgument

from ..format import human_size, tabulate
from ..rows import VOLUME_HEADERS, add_inspect_format, uses_template, volume_row, write_inspect, write_rows
from .prune import confirm, print_deleted

__all__ = ["register"]


def register(sub: Any) -> None:
    volume = sub.add_parser("volume", help="Manage volumes")
    vsub = volume.add_subparsers(dest="volume_verb", metavar="COMMAND", required=True,
                                 parser_class=sub._parser_class)
    p = vsub.add_parser("create", help="Create a volume")
    p.add_argument("name", nargs="?", default="", metavar="VOLUME")
    p.add_argument("--name", dest="name_flag", default="", help="Specify volume name")
    p.add_argument("-d", "--driver", default="local", help="Specify volume driver name")
    p.add_argument("--label", action="append", default=[], help="Set metadata for a volume")
    p.set_defaults(func=cmd_create)
    p = vsub.add_parser("ls", aliases=["list"], help="List volumes")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display volume names")
    p.add_argument("--format", default="", help="'json', 'table TEMPLATE' or a Go template")
    p.set_defaults(func=cmd_ls)
    p = vsub.add_parser("inspect", help="Display detailed information on one or more volumes")
    p.add_argument("volumes", nargs="+", metavar="VOLUME")
    add_inspect_format(p)
    p.set_defaults(func=cmd_inspect)
    p = vsub.add_parser("rm", aliases=["remove"], help="Remove one or more volumes")
    p.add_argument("-f", "--force", action="store_true", help="Do not fail when a volume does not exist")
    p.add_argument("volumes", nargs="+", metavar="VOLUME")
    p.set_defaults(func=cmd_rm)
    p = vsub.add_parser("prune", help="Remove all unused local volumes")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.set_defaults(func=cmd_prune)


def cmd_create(engine: Engine, args: argparse.Namespace) -> int:
    if args.name and args.name_flag and args.name != args.name_flag:
        raise InvalidArgument("conflicting options: either specify --name or provide positional arg, not both")
    if args.driver != "local":
        raise InvalidArgument(f"create {args.name or args.name_flag}: volume driver {args.driver!r} not found "
                              "(berth has only \"local\")")
    labels = {item.partition("=")[0]: item.partition("=")[2] for item in args.label}
    print(engine.volume_create(args.name or args.name_flag, labels=labels).name)
    return 0


def cmd_ls(engine: Engine, args: argparse.Namespace) -> int:
    volumes = engine.volume_list()
    if args.quiet:
        for volume in volumes:
            print(volume.name)
        return 0
    if uses_template(args.format, json=True):
        write_rows(args.format, map(volume_row, volumes), VOLUME_HEADERS)
        return 0
    print(tabulate(["DRIVER", "VOLUME NAME"], [[v.driver, v.name] for v in volumes], padding=4))
    return 0


def cmd_inspect(engine: Engine, args: argparse.Namespace) -> int:
    found, status = [], 0
    for name in args.volumes:
        try:
            found.append(engine.volume_inspect(name))
        except BerthError as err:
            print(f"Error: {err}", file=sys.stderr)
            status = 1
    write_inspect(args.format, found)
    return status


def cmd_rm(engine: Engine, args: argparse.Namespace) -> int:
    status = 0
    for name in args.volumes:
        try:
            engine.volume_remove(name, force=args.force)
        except BerthError as err:
            print(f"Error: {err}", file=sys.stderr)
            status = 1
            continue
        print(name)
    return status


def cmd_prune(engine: Engine, args: argparse.Namespace) -> int:
    if not args.force and not confirm("WARNING! This will remove all local volumes not used by at least one "
                                      "container."):
        return 0
    removed, reclaimed = engine.volume_prune()
    print_deleted("Volumes", removed)
    print(f"Total reclaimed space: {human_size(reclaimed)}")
    return 0

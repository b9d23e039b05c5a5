"""``network`` (create, ls, inspect, rm, prune, connect, disconnect) and ``port``: Docker's verbs over the engine."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine import BerthError, Engine, InvalidArgument

from ..format import short_id, tabulate
from ..rows import NETWORK_HEADERS, add_inspect_format, network_row, uses_template, write_inspect, write_rows
from .prune import confirm, print_deleted

__all__ = ["register"]


def register(sub: Any) -> None:
    network = sub.add_parser("network", help="Manage networks")
    nsub = network.add_subparsers(dest="network_verb", metavar="COMMAND", required=True,
                                  parser_class=sub._parser_class)
    p = nsub.add_parser("create", help="Create a network")
    p.add_argument("-d", "--driver", default="bridge", help="Driver to manage the Network (bridge only)")
    p.add_argument("--subnet", default="", help="Subnet in CIDR format that represents a network segment")
    p.add_argument("--gateway", default="", help="IPv4 Gateway for the master subnet")
    p.add_argument("--label", action="append", default=[], help="Set metadata on a network")
    p.add_argument("name", metavar="NETWORK")
    p.set_defaults(func=cmd_create)

    p = nsub.add_parser("ls", aliases=["list"], help="List networks")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display network IDs")
    p.add_argument("--no-trunc", action="store_true", help="Do not truncate the output")
    p.add_argument("--format", help="'json' (one JSON object per network), 'table TEMPLATE' or a Go template")
    p.set_defaults(func=cmd_ls)

    p = nsub.add_parser("inspect", help="Display detailed information on one or more networks")
    p.add_argument("names", nargs="+", metavar="NETWORK")
    add_inspect_format(p)
    p.set_defaults(func=cmd_inspect)

    p = nsub.add_parser("rm", aliases=["remove"], help="Remove one or more networks")
    p.add_argument("names", nargs="+", metavar="NETWORK")
    p.set_defaults(func=cmd_rm)

    p = nsub.add_parser("prune", help="Remove all unused networks")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.set_defaults(func=cmd_prune)

    p = nsub.add_parser("connect", help="Connect a container to a network")
    p.add_argument("--ip", default="", help="IPv4 address (e.g., 172.30.100.104)")
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("container", metavar="CONTAINER")
    p.set_defaults(func=cmd_connect)

    p = nsub.add_parser("disconnect", help="Disconnect a container from a network")
    p.add_argument("-f", "--force", action="store_true", help="Force the container to disconnect from a network")
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("container", metavar="CONTAINER")
    p.set_defaults(func=cmd_disconnect)

    p = sub.add_parser("port", help="List port mappings or a specific mapping for the container")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("private", nargs="?", metavar="PRIVATE_PORT[/PROTO]")
    p.set_defaults(func=cmd_port)


def _labels(items: list[str]) -> dict[str, str]:
    return {k: v for k, _, v in (item.partition("=") for item in items)}


def _notices(engine: Engine) -> None:
    for notice in engine.network_notices():
        print(f"WARNING: {notice}", file=sys.stderr)


def cmd_create(engine: Engine, args: argparse.Namespace) -> int:
    if args.driver != "bridge":
        raise InvalidArgument(f"plugin \"{args.driver}\" not found: berth supports the bridge driver only")
    nid = engine.network_create(args.name, subnet=args.subnet, gateway=args.gateway, labels=_labels(args.label))
    _notices(engine)
    print(nid)
    return 0


def cmd_ls(engine: Engine, args: argparse.Namespace) -> int:
    nets = engine.network_list()
    if args.quiet:
        for rec in nets:
            print(rec["Id"] if args.no_trunc else short_id(rec["Id"]))
        return 0
    if args.format == "json":
        for rec in nets:
            print(json.dumps({"ID": rec["Id"] if args.no_trunc else short_id(rec["Id"]), "Name": rec["Name"],
                              "Driver": rec["Driver"], "Scope": rec["Scope"], "CreatedAt": rec["Created"],
                              "IPv6": "false", "Internal": "false",
                              "Labels": ",".join(f"{k}={v}" for k, v in rec["Labels"].items())}, sort_keys=True))
        return 0
    if uses_template(args.format):
        write_rows(args.format, (network_row(rec, args.no_trunc) for rec in nets), NETWORK_HEADERS)
        return 0
    rows = [[rec["Id"] if args.no_trunc else short_id(rec["Id"]), rec["Name"], rec["Driver"], rec["Scope"]]
            for rec in nets]
    print(tabulate(["NETWORK ID", "NAME", "DRIVER", "SCOPE"], rows))
    return 0


def cmd_inspect(engine: Engine, args: argparse.Namespace) -> int:
    found, code = [], 0
    for name in args.names:
        try:
            found.append(engine.network_inspect(name))
        except BerthError as err:
            print(f"Error: {err}", file=sys.stderr)
            code = 1
    write_inspect(args.format, found)
    return code


def cmd_rm(engine: Engine, args: argparse.Namespace) -> int:
    code = 0
    for name in args.names:
        try:
            engine.network_remove(name)
            print(name)
        except BerthError as err:
            print(f"Error: {err}", file=sys.stderr)
            code = 1
    return code


def cmd_prune(engine: Engine, args: argparse.Namespace) -> int:
    if not args.force and not confirm("WARNING! This will remove all custom networks not used by at least one "
                                      "container."):
        return 0
    print_deleted("Networks", engine.network_prune(), blank_after=False)
    return 0


def cmd_connect(engine: Engine, args: argparse.Namespace) -> int:
    engine.network_connect(args.network, args.container, ip=args.ip)
    return 0


def cmd_disconnect(engine: Engine, args: argparse.Namespace) -> int:
    engine.network_disconnect(args.network, args.container, force=args.force)
    return 0


def cmd_port(engine: Engine, args: argparse.Namespace) -> int:
    ports = engine.container_ports(args.container)
    if args.private:
        key = args.private if "/" in args.private else args.private + "/tcp"
        bound = ports.get(key)
        if not bound:
            raise BerthError(f"No public port '{key}' published for {args.container}")
        for b in bound:
            print(f"{b['HostIp']}:{b['HostPort']}")
        return 0
    for key, bound in sorted(ports.items(), key=lambda kv: (int(kv[0].split("/")[0]), kv[0])):
        for b in bound or []:
            print(f"{key} -> {b['HostIp']}:{b['HostPort']}")
    return 0

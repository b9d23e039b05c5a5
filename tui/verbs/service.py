"""``system service``: serve the Docker Engine API on a unix socket, in the foreground (as podman's)."""

from __future__ import annotations

import argparse
from typing import Any

from engine import DEFAULT_ROOT, Engine

__all__ = ["register"]

DEFAULT_IDLE = 5
"""Seconds with no request before the service exits, as ``podman system service``'s ``--time``."""


def register(ssub: Any) -> None:
    """``service`` under ``system`` (system.py hands over its subcommands)."""
    p = ssub.add_parser("service", help="Serve the Docker Engine API on a unix socket (foreground)")
    p.add_argument("uri", nargs="?", help="unix:///path (default: /run/berth/docker.sock for the default store, "
                                          "<root>/docker.sock beside any other)")
    p.add_argument("-t", "--time", type=int, default=DEFAULT_IDLE,
                   help=f"exit after this many idle seconds; 0 never (default {DEFAULT_IDLE})")
    p.set_defaults(func=cmd_service)


def cmd_service(engine: Engine, args: argparse.Namespace) -> int:
    from api.server import default_uri, serve

    serve(engine, args.uri or default_uri(engine.root, DEFAULT_ROOT), idle_seconds=max(0, args.time))
    return 0

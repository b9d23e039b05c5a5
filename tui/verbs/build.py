"""``berth build`` (and ``image prune``): the classic builder's output, from the engine's progress events."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any

from engine import Engine

from ..format import human_size
from .prune import confirm, print_deleted

__all__ = ["register", "cmd_build", "cmd_image_prune"]


def register(sub: Any) -> None:
    p = sub.add_parser("build", help="Build an image from a Dockerfile")
    p.add_argument("path", metavar="PATH|-", help="the context directory, or - for a tar (or a Dockerfile) on stdin")
    p.add_argument("-t", "--tag", action="append", default=[], metavar="NAME[:TAG]", help="Name and optionally a tag")
    p.add_argument("-f", "--file", metavar="FILE", help="Name of the Dockerfile (default: 'PATH/Dockerfile')")
    p.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE", help="Set build-time variables")
    p.add_argument("--no-cache", action="store_true", help="Do not use cache when building the image")
    p.add_argument("--target", metavar="STAGE", help="Set the target build stage to build")
    p.add_argument("--network", default="default", metavar="string",
                   help='Set the networking mode for the RUN instructions during build (default "default")')
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress the build output and print image ID on success")
    p.set_defaults(func=cmd_build)


def _build_args(items: list[str]) -> dict[str, str]:
    """``K=V``; a bare ``K`` takes the value from the environment, or is dropped (Docker's rule)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if sep:
            out[key] = value
        elif key in os.environ:
            out[key] = os.environ[key]
    return out


def _write(text: str) -> None:
    if text:
        sys.stdout.write(text)
        sys.stdout.flush()


def cmd_build(engine: Engine, args: argparse.Namespace) -> int:
    from engine import BuildError, CommandFailed
    from engine import build_event_text as build_text

    dockerfile, cleanup = _dockerfile(args)
    context: Any = sys.stdin.buffer if args.path == "-" else args.path
    progress = None if args.quiet else (lambda event: _write(build_text(event)))
    try:
        image_id = engine.image_build(
            context, dockerfile=dockerfile, tags=args.tag, build_args=_build_args(args.build_arg),
            no_cache=args.no_cache, target=args.target, progress=progress, network=args.network,
        )
    except CommandFailed as err:
        print(err, file=sys.stderr)  # Docker prints this one without "Error:"
        return 1
    except BuildError:
        raise
    finally:
        if cleanup:
            os.unlink(cleanup)
    if args.quiet:
        print(image_id)
    return 0


def _dockerfile(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """The ``-f`` path; ``-f -`` reads the Dockerfile from stdin into a temp file (path, temp to delete)."""
    if args.file != "-":
        return args.file, None
    if args.path == "-":
        from engine import InvalidArgument

        raise InvalidArgument("invalid argument: can't use stdin for both build context and dockerfile")
    fd, path = tempfile.mkstemp(prefix="berth-Dockerfile-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(sys.stdin.read())
    return path, path


def cmd_image_prune(engine: Engine, args: argparse.Namespace) -> int:
    what = "all images without at least one container associated to them" if args.all else "all dangling images"
    if not args.force and not confirm(f"WARNING! This will remove {what}."):
        return 0
    removed, freed = engine.image_prune(all=args.all)
    print_deleted("Images", (f"{item.action.lower()}: {item.name}" for item in removed))
    print(f"Total reclaimed space: {human_size(freed)}")
    return 0

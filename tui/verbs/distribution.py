"""Distribution verbs: save, load, pull, push, login, logout."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

from engine import ArchiveError, Engine, InvalidArgument

if TYPE_CHECKING:
    from engine import TransferProgress

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("save", help="Save one or more images to a tar archive (streamed to STDOUT by default)")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-o", "--output", help="Write to a file, instead of STDOUT")
    p.set_defaults(func=cmd_save)

    p = sub.add_parser("load", help="Load an image from a tar archive or an OCI layout (STDIN by default)")
    p.add_argument("-i", "--input", help="Read from tar archive file or OCI layout dir, instead of STDIN")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress the load output")
    p.add_argument("--platform", help="Load only the given platform variant (os/arch[/variant])")
    p.set_defaults(func=cmd_load)

    p = sub.add_parser("pull", help="Download an image from a registry")
    p.add_argument("name", metavar="NAME[:TAG|@DIGEST]")
    p.add_argument("--platform", help="Set platform if server is multi-platform capable (os/arch[/variant])")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    p.add_argument("--insecure", action="store_true", help="Allow plain HTTP and unverified TLS")
    p.set_defaults(func=cmd_pull)

    p = sub.add_parser("push", help="Upload an image to a registry")
    p.add_argument("name", metavar="NAME[:TAG]")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    p.add_argument("--insecure", action="store_true", help="Allow plain HTTP and unverified TLS")
    p.add_argument("--compression", choices=["gzip", "zstd"], default="gzip",
                   help="Layer compression (zstd pushes an OCI manifest)")
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("login", help="Log in to a registry")
    p.add_argument("server", nargs="?", default="docker.io", metavar="SERVER")
    p.add_argument("-u", "--username", help="Username")
    p.add_argument("-p", "--password", help="Password")
    p.add_argument("--password-stdin", action="store_true", help="Take the password from stdin")
    p.add_argument("--insecure", action="store_true", help="Allow plain HTTP and unverified TLS")
    p.set_defaults(func=cmd_login)

    p = sub.add_parser("logout", help="Log out from a registry")
    p.add_argument("server", nargs="?", default="docker.io", metavar="SERVER")
    p.set_defaults(func=cmd_logout)


@contextmanager
def transfer_progress(enabled: bool = True, lines: bool = False,
                      stream: IO[str] | None = None) -> Iterator[Callable[[TransferProgress], None] | None]:
    """Docker's per-blob progress on ``stream`` (stderr by default).

    On a terminal: one line per blob, redrawn in place (bars for Downloading,
    Extracting, Pushing, Writing), left standing at the end as Docker leaves
    them. Elsewhere, with ``lines``: one plain line per change of status, the
    byte counts left out, as Docker prints into a pipe or a log.
    """
    out = stream or sys.stderr
    if not enabled or not out.isatty():
        yield _status_lines(out) if enabled and lines else None
        return
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    from ..transfer import TransferLines

    blobs = TransferLines()
    console = Console(file=out)

    class _View:
        def __rich__(self) -> Text:
            return Text("\n".join(blobs.lines(console.width)))

    with Live(_View(), console=console, refresh_per_second=8, transient=False) as live:

        def update(item: TransferProgress) -> None:
            if blobs.update(item):
                live.refresh()  # every new status is drawn; byte counts wait for the next tick

        yield update


def _status_lines(out: IO[str]) -> Callable[[TransferProgress], None]:
    from engine import PROGRESS_ACTIONS

    shown: dict[str, str] = {}
    lock = threading.Lock()  # pull and push report from several threads

    def update(item: TransferProgress) -> None:
        with lock:
            if item.action in PROGRESS_ACTIONS or shown.get(item.id) == item.action:
                return
            shown[item.id] = item.action
            print(f"{item.id}: {item.action}", file=out, flush=True)

    return update


def cmd_save(engine: Engine, args: argparse.Namespace) -> int:
    if args.output is None:
        if sys.stdout.isatty():
            raise InvalidArgument("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        with transfer_progress() as progress:
            engine.image_save(args.images, sys.stdout.buffer, progress=progress)
        return 0
    tmp = args.output + ".tmp-berth-save"
    try:
        with open(tmp, "wb") as out, transfer_progress() as progress:
            engine.image_save(args.images, out, progress=progress)
        os.replace(tmp, args.output)  # a failed save never leaves a half archive under the real name
    except OSError as err:
        raise ArchiveError(f"{args.output}: {err.strerror}") from err
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return 0


def cmd_load(engine: Engine, args: argparse.Namespace) -> int:
    stdin: IO[bytes] = sys.stdin.buffer
    if args.input is None and sys.stdin.isatty():
        raise InvalidArgument("requested load from stdin, but stdin is empty")
    with transfer_progress(not args.quiet) as progress:
        loaded = engine.image_load(args.input, stdin, platform=args.platform, progress=progress)
    for image in loaded:
        if args.quiet:
            continue
        for ref in image.refs:
            print(f"Loaded image: {ref}")
        if not image.refs:
            print(f"Loaded image ID: {image.id}")
    return 0


def cmd_pull(engine: Engine, args: argparse.Namespace) -> int:
    from ..transfer import pull_intro, pull_outcome

    intro = pull_intro(args.name)  # a bad reference fails here, before any request
    if not args.quiet:
        print("\n".join(intro))
    with transfer_progress(not args.quiet, lines=True, stream=sys.stdout) as progress:
        result = engine.image_pull(args.name, platform=args.platform, insecure=args.insecure, progress=progress)
    if not args.quiet:
        print("\n".join(pull_outcome(args.name, result)))
    print(result.ref)
    return 0


def cmd_push(engine: Engine, args: argparse.Namespace) -> int:
    from engine import parse_reference

    ref = parse_reference(args.name)
    if not args.quiet:
        print(f"The push refers to repository [{ref.name}]")
    with transfer_progress(not args.quiet, lines=True, stream=sys.stdout) as progress:
        result = engine.image_push(args.name, insecure=args.insecure, compression=args.compression, progress=progress)
    print(f"{result.tag}: digest: {result.digest} size: {result.size}")
    return 0


def cmd_login(engine: Engine, args: argparse.Namespace) -> int:
    username = args.username
    password = args.password
    if args.password_stdin:
        if args.password:
            raise InvalidArgument("--password and --password-stdin are mutually exclusive")
        password = sys.stdin.readline().rstrip("\r\n")
    if not username:
        if not sys.stdin.isatty():
            raise InvalidArgument("cannot ask for a username: stdin is not a terminal; use -u")
        username = input("Username: ").strip()
    if not password:
        import getpass

        password = getpass.getpass("Password: ")
    if not username or not password:
        raise InvalidArgument("a username and a password are required")
    engine.registry_login(args.server, username, password, insecure=args.insecure)
    print("Login Succeeded")
    return 0


def cmd_logout(engine: Engine, args: argparse.Namespace) -> int:
    if engine.registry_logout(args.server):
        print(f"Removing login credentials for {args.server}")
    else:
        print(f"Not logged in to {args.server}")
    return 0

"""The ``berth`` command line: Docker's verbs and flags over the engine.

``berth`` with no arguments opens the Textual app. Errors the user can fix
print one ``Error: …`` line; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main", "build_parser", "UsageError"]

USAGE_EXIT = 125  # Docker's status for a command line it cannot parse


class UsageError(Exception):
    """A command line that does not parse; printed with a hint, exit 125."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.prog = prog


class Parser(argparse.ArgumentParser):
    """argparse that reports errors Docker's way instead of exiting 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, self.prog)


VERB_MODULES: dict[str, str] = {
    **dict.fromkeys(("import", "bootstrap", "images", "image", "history", "tag", "rmi", "inspect"), "images"),
    "build": "build",
    "stats": "stats",
    **dict.fromkeys(("system", "events"), "service"),  # service.py registers system.py's verbs, then its own
    **dict.fromkeys(("run", "create", "start", "stop", "restart", "kill", "pause", "unpause", "rm", "wait", "logs",
                     "exec", "attach", "cp", "commit", "rename", "top", "diff", "ps", "container"), "containers"),
    **dict.fromkeys(("save", "load", "pull", "push", "login", "logout"), "distribution"),
    **dict.fromkeys(("network", "port"), "network"),
    "volume": "volumes",
}
"""Which ``tui.verbs`` module registers each verb: a command imports only its own (start-up time is Python's)."""


def _chosen_verb(argv: Sequence[str]) -> str | None:
    """The verb of ``argv`` when it names one we know (after an optional ``--root``), else None."""
    rest = list(argv)
    if rest[:1] == ["--root"]:
        rest = rest[2:]
    elif rest[:1] and rest[0].startswith("--root="):
        rest = rest[1:]
    return rest[0] if rest and rest[0] in VERB_MODULES else None


def build_parser(verb: str | None = None) -> Parser:
    """The whole command line, or only ``verb``'s module's part of it (the rest is never imported)."""
    import importlib

    parser = Parser(prog="berth", description="A daemonless container manager that shows its layers.")
    parser.add_argument("--root", help="store root (default: $BERTH_ROOT or /var/lib/berth)")
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND", parser_class=Parser)
    modules = [VERB_MODULES[verb]] if verb is not None else list(dict.fromkeys(VERB_MODULES.values()))
    for name in modules:
        importlib.import_module(f"tui.verbs.{name}").register(sub if verb is None else _OnlyVerb(sub, verb))
    return parser


class _OnlyVerb:
    """The subcommands action, building only ``verb``'s parser: a module's other verbs cost argparse time."""

    def __init__(self, sub: Any, verb: str) -> None:
        self._sub, self._verb = sub, verb

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if name == self._verb or self._verb in kwargs.get("aliases", ()):
            return self._sub.add_parser(name, **kwargs)
        return _Unbuilt()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sub, name)


class _Unbuilt:
    """Stands in for a parser that is never built: every call on it (add_argument…) does nothing."""

    def __getattr__(self, _name: str) -> Any:
        return lambda *_args, **_kwargs: self


def _root(args: argparse.Namespace) -> str:
    from engine.store.paths import DEFAULT_ROOT

    return args.root or os.environ.get("BERTH_ROOT") or DEFAULT_ROOT


def _app_only(argv: list[str]) -> str | None:
    """The ``--root`` value ("" when absent) when the command line names no verb, else None."""
    if not argv:
        return ""
    if len(argv) == 2 and argv[0] == "--root":
        return argv[1]
    if len(argv) == 1 and argv[0].startswith("--root="):
        return argv[0].split("=", 1)[1]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from engine.errors import BerthError, StoreFull

    try:
        app_root = _app_only(argv)
        if app_root is not None:
            # No verb: open the app without building every verb's parser first (first frame matters).
            from .app import run_app

            return run_app(_root(argparse.Namespace(root=app_root or None)))
        args = build_parser(_chosen_verb(argv)).parse_args(argv)
        root = _root(args)
        if args.verb is None:
            from .app import run_app

            return run_app(root)
        from engine import Engine

        try:
            return int(args.func(Engine(root), args) or 0)
        except StoreFull as err:
            print(f"Error: {err.relative_to(root)}", file=sys.stderr)
            return err.exit_code
        except OSError as err:
            # A full, read-only or failing disk is the environment, not a bug: one line. Any other
            # OSError keeps its traceback.
            full = StoreFull.from_os_error(err)
            if full is None:
                raise
            print(f"Error: {full.relative_to(root)}", file=sys.stderr)
            return full.exit_code
    except UsageError as err:
        print(f"Error: {err}\nSee '{err.prog} --help'.", file=sys.stderr)
        return USAGE_EXIT
    except BerthError as err:
        print(f"Error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("Error: interrupted; nothing was changed", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def entry() -> None:
    """The ``berth`` command: ``main``, then exit without tearing the interpreter down when nothing needs it.

    Freeing every module's objects at exit costs a short command ~7 ms (15 ms on a busy host), a tenth of
    ``run --rm true``. It is skipped only when output is flushed, no other thread runs and no atexit hook
    is registered (the app, loggers, temp dirs): then the kernel's cleanup is all there is to do.
    """
    status = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(status)  # the usual path reports a broken pipe the usual way
    threading = sys.modules.get("threading")
    if (threading is None or threading.active_count() == 1) and atexit._ncallbacks() == 0:
        os._exit(status)
    sys.exit(status)


if __name__ == "__main__":
    entry()

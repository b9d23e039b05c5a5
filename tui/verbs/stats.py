"""``berth stats``: Docker's live table of CPU, memory, network, block I/O and pids per container."""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from engine import InvalidArgument

from ..format import human_size, short_id, tabulate

if TYPE_CHECKING:
    from engine import ContainerStats, Engine

__all__ = ["binary_size", "cmd_stats", "register", "render", "stats_cells"]

_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
HEADERS = {"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
           "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
           "PIDs": "PIDS"}
"""Docker's template fields and their column titles."""
DEFAULT_FORMAT = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}"
                  "\t{{.PIDs}}")
_FIELD = re.compile(r"{{\s*\.(\w+)\s*}}")
# Home, then each line clears its own tail and the rest of the screen goes: no blank flash between frames.
_HOME, _CLEAR_LINE, _CLEAR_BELOW, _CLEAR_SCREEN = "\033[H", "\033[K", "\033[J", "\033[2J"


def register(sub: Any) -> None:
    p = sub.add_parser("stats", help="Display a live stream of container(s) resource usage statistics")
    p.add_argument("-a", "--all", action="store_true", help="Show all containers (default shows just running)")
    p.add_argument("--no-stream", action="store_true", help="Disable streaming stats and only pull the first result")
    p.add_argument("--no-trunc", action="store_true", help="Do not truncate output")
    p.add_argument("--format", default="", help="'json', or a template like 'table {{.Name}}\\t{{.CPUPerc}}'")
    p.add_argument("names", nargs="*", metavar="CONTAINER")
    p.set_defaults(func=cmd_stats)


def binary_size(size: float) -> str:
    """Docker's ``units.BytesSize``: binary units, four significant digits (``1.543MiB``, ``64MiB``)."""
    unit = 0
    while size >= 1024 and unit < len(_BINARY_UNITS) - 1:
        size /= 1024
        unit += 1
    return f"{size:.4g}{_BINARY_UNITS[unit]}"


def stats_cells(s: ContainerStats, label: str = "", no_trunc: bool = False) -> dict[str, str]:
    """One container's figures as Docker prints them, keyed by template field."""
    return {
        "Container": label or (s.id if no_trunc else short_id(s.id)),
        "ID": s.id if no_trunc else short_id(s.id),
        "Name": s.name or "--",
        "CPUPerc": f"{s.cpu_percent:.2f}%",
        "MemUsage": f"{binary_size(s.memory_usage)} / {binary_size(s.memory_limit)}",
        "MemPerc": f"{s.memory_percent:.2f}%",
        "NetIO": f"{human_size(s.net_rx)} / {human_size(s.net_tx)}",
        "BlockIO": f"{human_size(s.block_read)} / {human_size(s.block_write)}",
        "PIDs": str(s.pids),
    }


def _check_template(fmt: str) -> None:
    for name in _FIELD.findall(fmt):
        if name not in HEADERS:
            raise InvalidArgument(f'template: can\'t evaluate field {name} in --format {fmt!r}: '
                                  f'known fields are {", ".join("." + k for k in HEADERS)}')


def _fill(template: str, row: dict[str, str]) -> str:
    return _FIELD.sub(lambda m: row[m.group(1)], template)


def render(rows: Sequence[dict[str, str]], fmt: str) -> str:
    """The frame for ``rows`` in ``--format`` (json, ``table …`` with a header, or a plain template per line)."""
    if fmt == "json":
        return "\n".join(json.dumps(r, sort_keys=True) for r in rows)
    if fmt != DEFAULT_FORMAT:  # a user's template: the Go evaluator (the default table keeps its bytes)
        from ..gotemplate import format_rows
        from ..rows import Row

        return format_rows(fmt, [Row(**r) for r in rows], HEADERS).removesuffix("\n")
    template = fmt.replace("\\t", "\t").replace("\\n", "\n")
    table = template.startswith("table")
    if table:
        template = template[len("table"):].lstrip(" ")
    lines = [_fill(template, r) for r in rows]
    if not table:
        return "\n".join(lines)
    header = _FIELD.sub(lambda m: HEADERS[m.group(1)], template).split("\t")
    return tabulate(header, [line.split("\t") for line in lines])


def _frame(samples: list[ContainerStats], labels: dict[str, str], args: argparse.Namespace) -> str:
    rows = [stats_cells(s, labels.get(s.id, ""), args.no_trunc) for s in samples]
    return render(rows, args.format or DEFAULT_FORMAT)


def _draw(text: str, first: bool) -> None:
    """One streamed frame, drawn over the last one as Docker does."""
    lines = "".join(line + _CLEAR_LINE + "\n" for line in text.split("\n")) if text else ""
    sys.stdout.write((_CLEAR_SCREEN if first else "") + _HOME + lines + _CLEAR_BELOW)
    sys.stdout.flush()


def _labels(engine: Engine, names: list[str]) -> dict[str, str]:
    """Full ID → what the user typed (Docker's ``.Container``); resolving here reports unknown names first."""
    return {engine.container_resolve(n): n for n in names}


def cmd_stats(engine: Engine, args: argparse.Namespace) -> int:
    if args.format != "json":
        _check_template(args.format or DEFAULT_FORMAT)
    labels = _labels(engine, args.names)
    cancel = threading.Event()
    samples = engine.container_stats_stream(list(labels) or None, all=args.all, cancel=cancel)
    show: Callable[[str, bool], None] = (lambda text, _: print(text) if text else None) if args.no_stream else _draw
    try:
        for first, frame in enumerate(samples):
            text = _frame(frame, labels, args)
            show(text, first == 0)
            if args.no_stream:
                break
    except KeyboardInterrupt:
        cancel.set()  # Ctrl-C is how a streamed stats ends: not an error
    return 0

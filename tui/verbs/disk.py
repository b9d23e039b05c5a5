"""Disk verbs: ``system df [-v]`` and ``system prune``, registered under ``system`` by its module."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from engine import Engine

from ..format import human_size, short_id, tabulate
from ..rows import DF_HEADERS, Row, uses_template, write_rows
from .prune import confirm, print_deleted

if TYPE_CHECKING:
    from engine import DiskUsage

__all__ = ["register"]


def register(ssub: Any) -> None:
    """Add ``df`` and ``prune`` to the ``system`` subcommands ``ssub``."""
    p = ssub.add_parser("df", help="Show disk usage")
    p.add_argument("-v", "--verbose", action="store_true", help="Show detailed information on space usage")
    p.add_argument("--format", default="", help="'json', 'table TEMPLATE' or a Go template (summary rows only)")
    p.set_defaults(func=cmd_df)
    p = ssub.add_parser("prune", help="Remove stopped containers and dangling (with -a: unused) images")
    p.add_argument("-a", "--all", action="store_true", help="Remove all unused images, not just dangling ones")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.add_argument("--volumes", action="store_true", help="Prune volumes")
    p.set_defaults(func=cmd_system_prune)


def cmd_system_prune(engine: Engine, args: argparse.Namespace) -> int:
    images = "all images without at least one container associated to them" if args.all else "all dangling images"
    volumes = "  - all volumes not used by at least one container\n" if args.volumes else ""
    warning = f"WARNING! This will remove:\n  - all stopped containers\n{volumes}  - {images}\n"
    if not args.force and not confirm(warning):
        return 0
    removed, reclaimed = engine.container_prune()
    print_deleted("Containers", removed)
    if args.volumes:
        gone, volume_bytes = engine.volume_prune()
        reclaimed += volume_bytes
        print_deleted("Volumes", gone)
    deleted, freed = engine.image_prune(all=args.all)
    print_deleted("Images", (f"{i.action.lower()}: {i.name}" for i in deleted))
    print(f"Total reclaimed space: {human_size(reclaimed + freed)}")
    return 0


def cmd_df(engine: Engine, args: argparse.Namespace) -> int:
    usage = engine.system_df()
    table = []
    for row in usage.rows:
        percent = f" ({round(100 * row.reclaimable / row.size)}%)" if row.size else ""
        table.append([row.type, str(row.total), str(row.active), human_size(row.size),
                      human_size(row.reclaimable) + percent])
    if uses_template(args.format, json=True):
        rows = (Row(Type=t, TotalCount=total, Active=active, Size=size, Reclaimable=free)
                for t, total, active, size, free in table)
        write_rows(args.format, rows, DF_HEADERS)
        return 0
    print(tabulate(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], table))
    if args.verbose:
        _df_images(engine, usage)
        print("\nLocal Volumes space usage:\n")
        print(tabulate(["VOLUME NAME", "LINKS", "SIZE"],
                       [[name, str(links), human_size(size)] for name, links, size in usage.volumes]))
    return 0


def _df_images(engine: Engine, usage: DiskUsage) -> None:
    tags = {s.id: s.repo_tags for s in engine.image_list(all=True)}
    rows = []
    for image_id, size, shared, unique, containers in usage.images:
        for tag in tags.get(image_id) or ("<none>:<none>",):
            repo, _, name = tag.rpartition(":")
            rows.append([repo, name, short_id(image_id), human_size(size), human_size(shared), human_size(unique),
                         str(containers)])
    print("\nImages space usage:\n")
    print(tabulate(["REPOSITORY", "TAG", "IMAGE ID", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"], rows))

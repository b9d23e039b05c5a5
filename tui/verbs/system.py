"""System verbs: ``system check``."""

from __future__ import annotations

import argparse
from typing import Any

from engine import Engine

__all__ = ["register"]


def register(sub: Any) -> None:
    system = sub.add_parser("system", help="Manage the store")
    ssub = system.add_subparsers(dest="system_verb", metavar="COMMAND", required=True, parser_class=sub._parser_class)
    p = ssub.add_parser("check", help="Verify the store; exit 1 if anything is wrong")
    p.add_argument("--repair", action="store_true", help="Reclaim orphans, stale mounts and temp files")
    p.set_defaults(func=cmd_check)
    from .containers import register_system_df

    register_system_df(ssub)


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

"""Start-up and exit of the ``berth`` command: only the chosen verb is built, output survives the fast exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tui.cli import build_parser

REPO = Path(__file__).resolve().parents[2]


def _verbs(verb: str | None) -> set[str]:
    parser = build_parser(verb)
    sub = next(a for a in parser._actions if a.dest == "verb")
    return set(sub.choices)


def test_a_verb_builds_only_its_own_parser() -> None:
    everything = _verbs(None)
    assert {"run", "rm", "logs", "ps", "images", "container"} <= everything
    assert _verbs("rm") == {"rm"}
    assert _verbs("container") == {"container"}
    args = build_parser("rm").parse_args(["rm", "-f", "a", "b"])
    assert (args.verb, args.force, args.containers) == ("rm", True, ["a", "b"])
    args = build_parser("container").parse_args(["container", "ls", "-a"])
    assert args.all and args.func.__name__ == "cmd_ps"
    args = build_parser("run").parse_args(["run", "--rm", "-e", "A=1", "busybox", "sh", "-c", "true"])
    assert args.rm and args.env == ["A=1"] and args.command == ["sh", "-c", "true"]


def _berth(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": ""}  # buffered, as for any user
    return subprocess.run([sys.executable, "-m", "tui.cli", "--root", str(root), *argv], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_output_and_status_survive_the_fast_exit(tmp_path: Path) -> None:
    """stdout is a pipe here, so block-buffered: an exit that skipped the flush would lose it."""
    listed = _berth(tmp_path, "images")
    assert (listed.returncode, listed.stdout.split()[:2], listed.stderr) == (0, ["REPOSITORY", "TAG"], "")
    missing = _berth(tmp_path, "logs", "nope")
    assert (missing.returncode, missing.stdout, missing.stderr) == (1, "", "Error: No such container: nope\n")
    unparsable = _berth(tmp_path, "rm")
    assert unparsable.returncode == 125 and unparsable.stderr.startswith("Error: ")
    many = _berth(tmp_path, "images", "--format", "json", "-a")
    assert many.returncode == 0


def test_a_verb_without_a_registry_does_not_import_httpx(tmp_path: Path) -> None:
    """The registry transport is imported when a verb needs it: ``images`` must not pay for httpx."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "tui.cli", "--root", str(tmp_path), "images"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "tui.verbs.images" in imported or "engine" in imported  # importtime did report
    assert not {m for m in imported if m == "httpx" or m.startswith(("httpx.", "httpcore"))}

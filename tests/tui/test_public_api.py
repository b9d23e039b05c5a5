"""The front end reaches the engine through its public API only: what ``engine/__init__.py`` exports.

Any ``engine.<module>`` import in ``tui/`` (top level, inside a function or under
TYPE_CHECKING) ties the front end to where the engine keeps things today; the
engine's helpers may move those modules, the exported names stay.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import engine

REPO = Path(__file__).resolve().parents[2]
TUI = REPO / "tui"
FRONT_ENDS = ("tui", "api")
"""Every package that fronts the engine: the CLI and app, and the Docker API server."""


def engine_imports(source: str) -> list[tuple[int, str]]:
    """(line, what) for every import in ``source`` that is not ``import engine`` or ``from engine import <public>``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names if a.name.startswith("engine.")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("engine."):
                found.append((node.lineno, f"from {node.module} import …"))
            elif node.module == "engine":
                found += [(node.lineno, f"from engine import {a.name}") for a in node.names
                          if a.name not in engine.__all__]
    return found


def test_the_checker_catches_every_way_in() -> None:
    planted = (
        "import engine\n"
        "from engine import Engine, errors\n"
        "import engine.runtime.pty\n"
        "from engine.containers.models import ContainerSummary\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from engine.models import ImageSummary\n"
        "def f():\n"
        "    from engine import reference\n"
    )
    assert engine_imports(planted) == [
        (3, "import engine.runtime.pty"),
        (4, "from engine.containers.models import …"),
        (7, "from engine.models import …"),
        (9, "from engine import reference"),
    ]


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_front_ends_import_only_the_engines_public_names(front_end: str) -> None:
    files = sorted((REPO / front_end).rglob("*.py"))
    assert len(files) > 5  # the scan found the package
    offenders = [f"{path.relative_to(REPO)}:{line}: {what}" for path in files
                 for line, what in engine_imports(path.read_text(encoding="utf-8"))]
    assert offenders == []


@pytest.mark.parametrize("name", engine.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(engine, name) is not None
    assert name in dir(engine)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        engine.no_such_name  # noqa: B018


def test_importing_engine_loads_no_engine_module() -> None:
    """The package itself stays lazy: ``berth ps`` pays only for what ``ps`` uses."""
    code = "import sys, engine; print(sorted(m for m in sys.modules if m.startswith('engine')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=TUI.parent).stdout
    assert out.strip() == "['engine']"


def test_the_public_names_are_the_engines_own_objects() -> None:
    """A re-export, not a copy: ``except engine.ContainerNotFound`` catches what the engine raises."""
    assert engine.ContainerNotFound is importlib.import_module("engine.errors").ContainerNotFound
    assert engine.CreateOptions is importlib.import_module("engine.containers.options").CreateOptions
    assert engine.parse_reference is importlib.import_module("engine.reference").parse

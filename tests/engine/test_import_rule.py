"""One way down: nothing under engine/ imports the ``Engine`` facade (engine/engine.py), or a UI library.

The facade delegates to services built from a ``StoreContext``; a module that
imported it back would make the cycle this rule removed. Only
``engine/__init__.py`` may import it (it exports ``Engine``). TYPE_CHECKING
imports count too: they are how the cycle came back last time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENGINE = REPO / "engine"
FACADE = "engine.engine"
UI_PACKAGES = ("textual", "rich")
ALLOWED = {ENGINE / "__init__.py"}


def _module_name(path: Path) -> str:
    """``engine/containers/lifecycle.py`` → ``engine.containers.lifecycle`` (a package's ``__init__``: the package)."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str | None, level: int, importer: str, is_package: bool) -> str:
    """The absolute name a ``from`` import names, as Python resolves ``from ..x import``."""
    if level == 0:
        return module or ""
    base = importer.split(".")
    if not is_package:
        base.pop()  # a module's own name is not a package to import from
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """What in ``source`` (the text of the module ``module``) breaks the rule, as ``line: import`` strings."""
    found = []
    for node in ast.walk(ast.parse(source)):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module, node.level, module, is_package)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in targets:
            if name == FACADE or name.startswith(FACADE + "."):
                found.append(f"{node.lineno}: imports {FACADE}")
                break
            if name.split(".")[0] in UI_PACKAGES:
                found.append(f"{node.lineno}: imports {name.split('.')[0]}")
                break
    return found


def _engine_modules() -> list[Path]:
    return sorted(p for p in ENGINE.rglob("*.py") if p not in ALLOWED and p != ENGINE / "engine.py")


def test_no_module_under_engine_imports_the_facade_or_a_ui() -> None:
    modules = _engine_modules()
    assert len(modules) > 100  # the scan saw the tree, not an empty glob
    broken = {}
    for path in modules:
        found = violations(path.read_text(encoding="utf-8"), _module_name(path), path.name == "__init__.py")
        if found:
            broken[str(path.relative_to(REPO))] = found
    assert broken == {}


def test_the_facade_itself_imports_no_ui() -> None:
    assert [v for v in violations((ENGINE / "engine.py").read_text(encoding="utf-8"), FACADE)
            if FACADE not in v] == []


@pytest.mark.parametrize(("source", "module"), [
    ("from ..engine import Engine\n", "engine.containers.lifecycle"),
    ("from .engine import Engine\n", "engine.diskusage"),
    ("from . import engine\n", "engine.inspect"),
    ("from .. import engine\n", "engine.network.manage"),
    ("import engine.engine\n", "engine.images"),
    ("from engine.engine import Engine\n", "engine.images"),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..engine import Engine\n", "engine.builder.prune"),
    ("def f():\n    from ...engine import Engine\n", "engine.containers.x.y"),
    ("import textual.app\n", "engine.images"),
    ("from rich.text import Text\n", "engine.images"),
])
def test_a_planted_import_is_flagged(source: str, module: str) -> None:
    assert violations(source, module) != []


@pytest.mark.parametrize(("source", "module", "package"), [
    ("from .engine import Engine\n", "engine.containers.service", False),  # engine.containers.engine
    ("from ..context import StoreContext\n", "engine.containers.lifecycle", False),
    ("from .store import paths\n", "engine", True),
    ("import engine.errors\n", "engine.images", False),
    ("from ..engine_notes import x\n", "engine.network.manage", False),
])
def test_what_is_not_the_facade_passes(source: str, module: str, package: bool) -> None:
    assert violations(source, module, package) == []


def test_a_planted_file_fails_the_scan(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from ..engine import Engine\n")
    assert violations(planted.read_text(), "engine.containers.planted") == ["4: imports engine.engine"]

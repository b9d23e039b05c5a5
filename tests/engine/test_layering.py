"""One way down: the lower packages of the engine never import the upper ones.

``engine/kernel`` (ctypes syscalls, overlay mounts) sits at the bottom and may
use only ``engine.errors``. ``engine/store`` sits on it and may use what it
uses today: the kernel, the archive code (a layer writer applies a tar), the
errors and ``engine.reference`` (tags parse references). Nothing in either
package may reach up into runtime/, containers/, network/, builder/ or the
facade; a lazy import inside a function counts the same as one at the top.

The scan reads the source with ``ast`` rather than importing it, so a module
that is never imported by the suite is checked too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Engine modules each lower package may import (a package name allows its
# submodules). Its own package is always allowed.
ALLOWED: dict[str, frozenset[str]] = {
    "engine.kernel": frozenset({"engine.errors"}),
    "engine.store": frozenset({"engine.errors", "engine.reference", "engine.kernel", "engine.archive"}),
}


def _module_name(path: Path) -> str:
    """``engine/store/layers.py`` -> ``engine.store.layers`` (``__init__`` names its package)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Every engine module ``tree`` imports, resolved to an absolute dotted name, with its line."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.module and target != "engine":
                found.append((node.lineno, target))
            else:
                # ``from .. import archive`` imports the module engine.archive, not a name of engine.
                found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
    return [(line, name) for line, name in found if name == "engine" or name.startswith("engine.")]


def _allowed(name: str, own: str, allowed: frozenset[str]) -> bool:
    return any(name == ok or name.startswith(ok + ".") for ok in allowed | {own})


def violations(source: str, path: Path) -> list[str]:
    """The imports in ``source`` (the text of the file at ``path``) that break its package's rule."""
    module = _module_name(path)
    own = next((pkg for pkg in ALLOWED if module == pkg or module.startswith(pkg + ".")), None)
    if own is None:
        return []
    tree = ast.parse(source, filename=str(path))
    return [
        f"{path.relative_to(ROOT)}:{line}: {module} imports {name}"
        for line, name in _imported(tree, module, path.name == "__init__.py")
        if not _allowed(name, own, ALLOWED[own])
    ]


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package.replace(".", "/")).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_lower_packages_import_only_what_they_may(package: str) -> None:
    files = _sources(package)
    assert files, f"no sources under {package}"
    bad = [v for path in files for v in violations(path.read_text(), path)]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    ("where", "source"),
    [
        ("engine/store/layers.py", "from ..runtime import overlay\n"),
        ("engine/store/layers.py", "def f():\n    from ..containers.records import load\n"),
        ("engine/store/__init__.py", "from ..network import netns\n"),
        ("engine/store/paths.py", "import engine.builder.builder\n"),
        ("engine/store/paths.py", "from engine import Engine\n"),
        ("engine/store/paths.py", "from .. import runtime\n"),
        ("engine/kernel/overlay.py", "from ..store import paths\n"),
        ("engine/kernel/syscalls.py", "from engine.archive import apply\n"),
    ],
)
def test_checker_catches_a_planted_upward_import(where: str, source: str) -> None:
    assert violations(source, ROOT / where), f"{source!r} in {where} was not caught"


@pytest.mark.parametrize(
    ("where", "source"),
    [
        ("engine/store/layers.py", "from ..kernel.syscalls import syncfs\nfrom .. import archive\n"),
        ("engine/store/tags.py", "from ..reference import Reference\nfrom . import atomic\n"),
        ("engine/kernel/overlay.py", "from engine.errors import MountError\nfrom . import syscalls\n"),
        ("engine/store/paths.py", "import os\nfrom dataclasses import dataclass\n"),
    ],
)
def test_checker_passes_allowed_imports(where: str, source: str) -> None:
    assert violations(source, ROOT / where) == []

"""BuildKit's own parser test files: our parser must read them exactly as BuildKit does."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.builder.parser import dump, parse
from engine.errors import DockerfileParseError

# The repo and shared/ sit side by side (/work/main and /work/shared; likewise in CI).
CASES = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "dockerfile-parser"


def _cases(folder: str) -> list[Path]:
    root = CASES / folder
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def _read(path: Path) -> str:
    # newline="" keeps \r\n and lone \r as written: line handling is part of what is tested.
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def test_cases_are_present() -> None:
    """A missing shared/ folder must fail loudly, not collect zero cases."""
    assert len(_cases("testfiles")) == 33
    assert len(_cases("testfiles-negative")) == 4


@pytest.mark.parametrize("case", _cases("testfiles"), ids=lambda p: p.name)
def test_dump_matches_buildkit(case: Path) -> None:
    df = parse(_read(case / "Dockerfile"))
    assert dump(df) + "\n" == _read(case / "result")


@pytest.mark.parametrize("case", _cases("testfiles-negative"), ids=lambda p: p.name)
def test_negative_case_fails(case: Path) -> None:
    with pytest.raises(DockerfileParseError, match=r"^Dockerfile parse error on line \d+: "):
        parse(_read(case / "Dockerfile"))

"""``ruff check`` stays clean on the whole tree, with the rules in pyproject.toml ([tool.ruff]).

Runs the ruff the test extras install (``sys.executable -m ruff``), from the repository root
so it reads our config; no cache, so the test writes nothing into the checkout.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ruff") is None,
                                reason="ruff is not installed (pip install -e '.[test]' brings it)")


def _ruff(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", *args],
                          cwd=REPO, input=stdin, capture_output=True, text=True, timeout=120, check=False)


def test_ruff_check_finds_nothing_in_the_repository() -> None:
    done = _ruff(".")
    assert done.returncode == 0, ("ruff check found problems (fix them, or noqa one with its reason):\n"
                                  f"{done.stdout}{done.stderr}")


def test_ruff_reads_our_config_and_reports_what_it_selects() -> None:
    # Guards the test above: a config ruff ignored, or a selection that lost a family, would pass it vacuously.
    bad = "import sys\nimport os\n\n\ndef f(a, b):\n    return zip(a, b)  # " + "x" * 120 + "\n"
    done = _ruff("--stdin-filename", "engine/lint_probe.py", "-", stdin=bad)
    assert done.returncode == 1, done.stdout + done.stderr
    for code in ("F401", "I001", "E501", "B905"):
        assert code in done.stdout, f"{code} not reported:\n{done.stdout}"

"""One glob translator for COPY sources and .dockerignore: Go's filepath.Match, plus moby's ``**`` for the latter."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.builder.context import BuildContext
from engine.builder.dockerignore import PatternMatcher
from engine.builder.globs import compile_glob
from engine.errors import BuildError


def _match(pattern: str, path: str, double_star: bool = False) -> bool:
    return compile_glob(pattern, double_star=double_star).match(path) is not None


@pytest.mark.parametrize(("pattern", "path", "want"), [
    ("*.txt", "a.txt", True),
    ("*.txt", "d/a.txt", False),        # * stops at /
    ("?", "/", False),
    ("a[^x]b", "a/b", True),            # a negated class is not stopped by / (Go's matchChunk never checks it)
    ("[\\]]", "]", True),               # an escaped ] is a member
    ("[a-c]x", "bx", True),
    ("[c-a]x", "bx", False),            # Go takes a reversed range and matches nothing with it
    ("[^c-a]", "b", True),
    ("[!a]", "!", True),                # ! is a member, not a negation
    ("\\[x]", "[x]", True),
    ("a.b", "axb", False),              # regex characters are literal
    ("a**b", "axxb", True),             # COPY: ** is two *
    ("a**b", "a/b", False),
])
def test_copy_patterns_follow_filepath_match(pattern: str, path: str, want: bool) -> None:
    assert _match(pattern, path) is want


@pytest.mark.parametrize("bad", ["[]a]", "[^]a]", "[a-]", "[-a]", "[]", "[abc", "ab\\", "[a\\"])
def test_malformed_patterns_are_refused_in_both_places(bad: str, tmp_path: Path) -> None:
    """Go refuses these (``]`` or ``-`` unescaped at a range's start, no close, trailing ``\\``);
    moby runs every .dockerignore line through filepath.Match first, so it refuses them too."""
    with pytest.raises(ValueError, match="syntax error in pattern"):
        compile_glob(bad)
    with pytest.raises(ValueError, match="invalid .dockerignore pattern"):
        PatternMatcher([bad])
    (tmp_path / "a").write_text("")
    with pytest.raises(BuildError, match="syntax error in pattern"):
        BuildContext.from_dir(str(tmp_path)).glob(bad)


@pytest.mark.parametrize(("pattern", "path", "want"), [
    ("**", "a/b/c", True),
    ("**/a", "a", True),                # **/ may stand for no directory
    ("**/a", "x/y/a", True),
    ("**/a", "xa", False),
    ("**.go", "x/y.go", True),          # moby's suffix fast path: ** then plain characters
    ("**.go", "y.go", True),
    ("a/**", "a/b/c", True),
    ("a/**", "a", False),
    ("a/**/b", "a/b", True),
    ("a/**/b", "a/x/y/b", True),
    ("a**b", "a/x/b", True),            # ** in the middle eats the / after it: (.*/)?
    ("a**b", "axb", False),
    ("**/*.go", "main.go", True),
    ("**/*.go", "x/main.go", True),
])
def test_dockerignore_double_star_is_mobys(pattern: str, path: str, want: bool) -> None:
    assert _match(pattern, path, double_star=True) is want

"""``.dockerignore``: which context paths the build may not see, by Docker's pattern rules.

The rules are moby's ``patternmatcher``: one pattern a line, ``#`` comments,
paths cleaned and made relative (a leading ``/`` means nothing), globs as
``globs.compile_glob`` with ``**`` (it spans any number of directories), ``!``
re-includes, and the last pattern that matches a path (or one of its parent
dirs) wins.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .globs import compile_glob

__all__ = ["DOCKERIGNORE", "IgnorePattern", "PatternMatcher", "read_patterns"]

DOCKERIGNORE = ".dockerignore"


@dataclass(frozen=True)
class IgnorePattern:
    """One cleaned pattern; ``exclusion`` for a ``!`` line (it re-includes what it matches)."""

    text: str
    exclusion: bool
    regex: re.Pattern[str]

    def match(self, path: str) -> bool:
        return self.regex.match(path) is not None


def read_patterns(text: str) -> list[str]:
    """The pattern lines of a .dockerignore file: comments and blanks gone, each path cleaned."""
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        if not line:
            continue
        line = posixpath.normpath(line)
        if len(line) > 1 and line.startswith("/"):
            line = line.lstrip("/") or "/"
        out.append(("!" if exclusion else "") + line)
    return out


class PatternMatcher:
    """Decides whether a context path is excluded by a list of .dockerignore patterns."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: list[IgnorePattern] = []
        for text in patterns:
            exclusion = text.startswith("!")
            body = text[1:] if exclusion else text
            try:
                regex = compile_glob(body, double_star=True)
            except (ValueError, re.error) as err:
                raise ValueError(f"invalid .dockerignore pattern {text!r}: {err}") from None
            self.patterns.append(IgnorePattern(body, exclusion, regex))
        self.has_exclusions = any(p.exclusion for p in self.patterns)
        """True when some ``!`` pattern may re-include a path inside an excluded dir."""

    def excluded(self, path: str) -> bool:
        """True when ``path`` (relative, ``/``-separated) is ignored: the last match decides."""
        if not self.patterns:
            return False
        path = posixpath.normpath(path)
        parents = path.split("/")[:-1]
        matched = False
        for pattern in self.patterns:
            hit = pattern.match(path)
            if not hit:
                hit = any(pattern.match("/".join(parents[: i + 1])) for i in range(len(parents)))
            if hit:
                matched = not pattern.exclusion
        return matched

    def may_reinclude_below(self, directory: str) -> bool:
        """Whether an excluded dir must still be walked because a ``!`` pattern could match inside it."""
        if not self.has_exclusions:
            return False
        prefix = directory.rstrip("/") + "/"
        for pattern in self.patterns:
            if not pattern.exclusion:
                continue
            literal = re.split(r"[*?\[\\]", pattern.text, maxsplit=1)[0]
            if literal.startswith(prefix) or prefix.startswith(literal) or not literal:
                return True
        return False

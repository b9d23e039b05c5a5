"""Glob patterns as anchored regexes, for COPY/ADD sources and ``.dockerignore`` lines.

Both follow Go's ``path/filepath.Match``: ``*`` and ``?`` never cross ``/``;
``[...]`` classes with ranges, ``^`` (only) negates, ``\\`` escapes; and a
malformed pattern is an error wherever it stands (a class that is empty, opens
with an unescaped ``]`` or ``-``, or never closes; a trailing ``\\``). moby's
``patternmatcher`` checks every ``.dockerignore`` line with ``filepath.Match``
first, so ``[]a]`` is refused there too.

``.dockerignore`` (``double_star=True``) adds moby's ``**``: it eats one ``/``
after it, spans any directories (none too) in the middle, and anything at the
end. A pattern that is ``**`` followed by plain characters only is matched by
suffix, as moby's fast path does: ``**.go`` matches ``a/b.go``.
"""

from __future__ import annotations

import re

__all__ = ["compile_glob"]

_NOT_SLASH = "[^/]"


def compile_glob(pattern: str, *, double_star: bool = False) -> re.Pattern[str]:
    """The pattern as a regex matching whole ``/``-separated paths; ValueError when Go would refuse it."""
    if double_star and pattern.startswith("**") and not any(c in "*?[]\\" for c in pattern[2:]):
        suffix = pattern[2:]
        if suffix.startswith("/"):
            return re.compile("(?:.*/)?" + re.escape(suffix[1:]) + r"\Z", re.DOTALL)
        return re.compile(".*" + re.escape(suffix) + r"\Z", re.DOTALL)
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*" and double_star and pattern.startswith("*", i):
            i += 1
            if pattern.startswith("/", i):
                i += 1
            out.append(".*" if i == len(pattern) else "(?:.*/)?")
        elif ch == "*":
            out.append(_NOT_SLASH + "*")
        elif ch == "?":
            out.append(_NOT_SLASH)
        elif ch == "\\":
            if i == len(pattern):
                raise ValueError(f"syntax error in pattern: {pattern}")
            out.append(re.escape(pattern[i]))
            i += 1
        elif ch == "[":
            regex, i = _char_class(pattern, i)
            out.append(regex)
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _char_class(pattern: str, i: int) -> tuple[str, int]:
    """The class that starts at ``pattern[i]`` (just after ``[``), by Go's rules; (regex, index after ``]``)."""
    negated = pattern.startswith("^", i)
    if negated:
        i += 1
    ranges: list[tuple[str, str]] = []
    while True:
        if pattern.startswith("]", i) and ranges:
            i += 1
            break
        lo, i = _class_char(pattern, i)
        hi = lo
        if pattern.startswith("-", i):
            hi, i = _class_char(pattern, i + 1)
        ranges.append((lo, hi))
    body = "".join(re.escape(lo) if lo == hi else f"{re.escape(lo)}-{re.escape(hi)}"
                   for lo, hi in ranges if lo <= hi)  # Go accepts a reversed range; it matches nothing
    if not body:
        return ("." if negated else "(?!)"), i
    return "[" + ("^" if negated else "") + body + "]", i


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    """One possibly escaped character of a class; Go refuses an unescaped ``-`` or ``]`` and the pattern's end."""
    if i >= len(pattern) or pattern[i] in "-]":
        raise ValueError(f"syntax error in pattern: {pattern}")
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise ValueError(f"syntax error in pattern: {pattern}")
    return pattern[i], i + 1

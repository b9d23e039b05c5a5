"""Dockerfile parser: text to a tree of instructions, the way BuildKit reads it.

The builder sees what ``docker build`` would see: the same line joining, the
same per-instruction argument splitting, the same quirks (unknown instructions
parse and fail later; ``ENV key value`` is the legacy form). ``dump`` prints the
tree in BuildKit's AST dump format so the parser can be checked against
BuildKit's own test files (frontend/dockerfile/parser). Variables are not
substituted here: that needs the build's ARG/ENV state (see ``shell_lex``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from engine.builder.shell_lex import ShellLex, go_quote, is_go_space
from engine.errors import DockerfileParseError

__all__ = [
    "DEFAULT_ESCAPE",
    "Directive",
    "Dockerfile",
    "Heredoc",
    "Instruction",
    "ParseWarning",
    "chomp_heredoc_content",
    "dump",
    "parse",
    "parse_heredoc",
]

DEFAULT_ESCAPE = "\\"
# Directives BuildKit knows; any other "# key=value" ends the directive block.
_DIRECTIVE_NAMES = frozenset({"syntax", "escape", "check"})
# Instructions whose shell form may carry heredocs; ONBUILD may wrap one of them.
_HEREDOC_COMMANDS = frozenset({"add", "copy", "run"})
# Go's \s (ASCII only) and BuildKit's reWhitespace, which leaves out \n.
_GO_S = "\t\n\f\r "
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_DIRECTIVE = re.compile(rf"([a-zA-Z][a-zA-Z0-9]*)[{_GO_S}]*=[{_GO_S}]*(.+?)[{_GO_S}]*")
_HEREDOC = re.compile(rf"([0-9]*)<<(-?)[{_GO_S}]*([^<]*)")
_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)
_NOT_STRINGS = "when using JSON array syntax, arrays must be comprised of strings only"


@dataclass(frozen=True)
class Heredoc:
    """A here-document attached to RUN, COPY or ADD (``<<EOF`` ... ``EOF``)."""

    name: str
    """The delimiter word, quotes removed."""
    content: str
    """Every line between the instruction and the delimiter, newlines kept."""
    file_descriptor: int = 0
    """The fd written before ``<<`` (``3<<EOF``); 0 when absent."""
    expand: bool = True
    """False when any part of the delimiter was quoted: the content is taken literally."""
    chomp: bool = False
    """``<<-``: leading tabs are stripped from the delimiter line (and from content on use)."""


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction with its arguments split the way BuildKit splits them.

    ``args`` per instruction: ENV and LABEL give (key, value, sep) triples, with
    sep "=" for ``key=value`` and "" for the legacy ``ENV key value``; ARG gives
    one word per definition; FROM, EXPOSE and shell-form COPY/ADD/VOLUME give
    whitespace-separated words; RUN/CMD/ENTRYPOINT/SHELL give the JSON array's
    strings or the whole command line; HEALTHCHECK gives its type (CMD, NONE)
    then the command like CMD. An unknown instruction gives ``("",)``.
    """

    cmd: str
    """The instruction, lowercased (``run``)."""
    original: str
    """The logical line as written, continuations joined, comments dropped."""
    flags: tuple[str, ...] = ()
    """Leading ``--name=value`` flags, quotes removed."""
    args: tuple[str, ...] = ()
    """The argument words (see the class docstring)."""
    json_form: bool = False
    """True for the exec form: ``["a", "b"]``."""
    start_line: int = 0
    """First line (1-based) of the instruction."""
    end_line: int = 0
    """Last line, heredoc bodies included."""
    heredocs: tuple[Heredoc, ...] = ()
    """Here-documents, in the order their ``<<`` appear (on the ONBUILD for ONBUILD RUN <<EOF)."""
    child: Instruction | None = None
    """The trigger of an ONBUILD."""


@dataclass(frozen=True)
class Directive:
    """A parser directive from the leading comments (``# syntax=...``, ``# escape=...``)."""

    name: str
    """Lowercased name."""
    value: str
    line: int


@dataclass(frozen=True)
class ParseWarning:
    """Something BuildKit accepts but warns about (an empty line inside a continuation)."""

    message: str
    line: int


@dataclass(frozen=True)
class Dockerfile:
    """A parsed Dockerfile: its instructions, escape character and directives."""

    instructions: tuple[Instruction, ...]
    escape: str = DEFAULT_ESCAPE
    """The escape and line-continuation character: \\ or ` (``# escape=``)."""
    directives: tuple[Directive, ...] = ()
    warnings: tuple[ParseWarning, ...] = ()

    def directive(self, name: str) -> str | None:
        """The value of directive ``name`` (e.g. ``syntax``), or None."""
        for d in self.directives:
            if d.name == name:
                return d.value
        return None


class _Error(Exception):
    """A parse failure not yet tied to a line."""


class _DirectiveState:
    """The directive block at the top of the file: it ends at the first line that is not one."""

    def __init__(self) -> None:
        self.escape = DEFAULT_ESCAPE
        self.found: list[Directive] = []
        self._done = False

    def feed(self, line: str, line_no: int) -> None:
        """Look at one line (newline and leading blanks gone) for a directive."""
        if self._done:
            return
        match = _DIRECTIVE.fullmatch(_trim_left(line[1:])) if line.startswith("#") else None
        if match is None or match.group(1).lower() not in _DIRECTIVE_NAMES:
            self._done = True
            return
        name, value = match.group(1).lower(), match.group(2)
        if any(d.name == name for d in self.found):
            raise _Error(f"only one {name} parser directive can be used")
        if name == "escape":
            if value not in ("\\", "`"):
                raise _Error(f"invalid escape token '{value}' does not match ` or \\")
            self.escape = value
        self.found.append(Directive(name, value, line_no))


class _Lines:
    """The file's physical lines, newlines kept, and how many have been read."""

    def __init__(self, text: str) -> None:
        # Split on "\n" only, as BuildKit's scanner does: a lone \r or \f is not a line break.
        parts = text.removeprefix("\ufeff").split("\n")
        self._lines = [part + "\n" for part in parts[:-1]]
        if parts[-1]:
            self._lines.append(parts[-1])
        self.count = 0
        """Lines read so far, which is the 1-based number of the last one read."""

    def next(self) -> str | None:
        if self.count >= len(self._lines):
            return None
        self.count += 1
        return self._lines[self.count - 1]


def parse(text: str) -> Dockerfile:
    """Parse a Dockerfile; raises DockerfileParseError naming the line for anything BuildKit rejects."""
    state = _DirectiveState()
    lines = _Lines(text)
    instructions: list[Instruction] = []
    warnings: list[ParseWarning] = []
    while (raw := lines.next()) is not None:
        start = lines.count
        try:
            first = _process_line(state, raw, start, strip_left=True)
        except _Error as err:
            raise _located(err, start) from None
        first, done = _trim_continuation(first, state.escape)
        if done and not first:
            continue
        try:
            logical, empty_line = _join_continuation(lines, state, first, done)
            ins = _new_instruction(logical, state.escape)
            heredocs = _read_heredocs(lines, ins, logical)
        except _Error as err:
            raise _located(err, start) from None
        if empty_line:
            warnings.append(ParseWarning(f"Empty continuation line found in: {logical}", lines.count))
        instructions.append(_with_lines(ins, start, lines.count, heredocs))
    if not instructions:
        raise _located(_Error("file with no instructions"), max(lines.count, 1))
    return Dockerfile(tuple(instructions), state.escape, tuple(state.found), tuple(warnings))


def _located(err: _Error, line: int) -> DockerfileParseError:
    return DockerfileParseError(f"Dockerfile parse error on line {line}: {err}")


def _with_lines(ins: Instruction, start: int, end: int, heredocs: tuple[Heredoc, ...]) -> Instruction:
    child = ins.child
    if child is not None:
        child = replace(child, start_line=start, end_line=end)
    return replace(ins, start_line=start, end_line=end, heredocs=heredocs, child=child)


def _trim_left(text: str) -> str:
    i = 0
    while i < len(text) and is_go_space(text[i]):
        i += 1
    return text[i:]


def _trim_space(text: str) -> str:
    end = len(text)
    while end and is_go_space(text[end - 1]):
        end -= 1
    return _trim_left(text[:end])


def _is_comment(line: str) -> bool:
    return _trim_left(line).startswith("#")


def _process_line(state: _DirectiveState, raw: str, line_no: int, *, strip_left: bool) -> str:
    """One physical line without its newline; "" for a comment. Feeds the directive block."""
    line = raw.rstrip("\r\n")
    if strip_left:
        line = _trim_left(line)
    state.feed(line, line_no)
    return "" if _is_comment(line) else line


def _trim_continuation(line: str, escape: str) -> tuple[str, bool]:
    """Drop a trailing escape (plus blanks); the bool is True when the line does not continue.

    An escape preceded by another escape is an escaped escape, not a continuation.
    """
    body = line.rstrip(" \t")
    if body.endswith(escape):
        before = body[:-1]
        if not before:
            return "", False
        if before[-1] != escape:
            return before, False
    return line, True


def _join_continuation(lines: _Lines, state: _DirectiveState, first: str, done: bool) -> tuple[str, bool]:
    """The logical line; comments and blank lines inside a continuation are skipped."""
    parts = [first]
    empty_line = False
    while not done and (raw := lines.next()) is not None:
        line = _process_line(state, raw, lines.count, strip_left=False)
        if _is_comment(raw):
            continue
        if not _trim_left(line):
            empty_line = True
            continue
        line, done = _trim_continuation(line, state.escape)
        parts.append(line)
    return "".join(parts), empty_line


def _new_instruction(line: str, escape: str) -> Instruction:
    cmd, flags, rest = _split_command(line, escape)
    if cmd.lower() == "onbuild":
        return Instruction(cmd.lower(), line, flags, child=_parse_subcommand(rest, escape))
    args, json_form = _DISPATCH.get(cmd.lower(), _parse_ignore)(rest, escape)
    return Instruction(cmd.lower(), line, flags, args, json_form)


def _split_command(line: str, escape: str) -> tuple[str, tuple[str, ...], str]:
    """The instruction word, its flags, and the rest of the line."""
    parts = _WHITESPACE.split(_trim_space(line), maxsplit=1)
    if len(parts) < 2:
        return parts[0], (), ""
    rest, flags = _extract_flags(parts[1], escape)
    return parts[0], tuple(flags), _trim_space(rest)


def _extract_flags(line: str, escape: str) -> tuple[str, list[str]]:
    """Leading ``--`` words with quotes and escapes resolved; a bare ``--`` ends them."""
    flags: list[str] = []
    i = 0
    while True:
        while i < len(line) and is_go_space(line[i]):
            i += 1
        if not line.startswith("--", i):
            return line[i:], flags
        word, i = _flag_word(line, i, escape)
        if word == "--":
            return line[i:], flags
        flags.append(word)
        if i >= len(line):
            return "", flags


def _flag_word(line: str, i: int, escape: str) -> tuple[str, int]:
    """One flag starting at ``i`` (which holds ``--``) and the index just past it."""
    buf: list[str] = []
    quote = ""
    while i < len(line):
        ch = line[i]
        if not quote and is_go_space(ch):
            break
        i += 1
        if not quote and ch in ("'", '"'):
            quote = ch
            continue
        if quote and ch == quote:
            quote = ""
            continue
        if ch == escape:
            if i == len(line):
                quote = ""
                continue
            ch = line[i]
            i += 1
        buf.append(ch)
    return "".join(buf), i


def _parse_words(rest: str, escape: str) -> list[str]:
    """Split at unquoted whitespace, keeping quotes and escapes in the words (ENV, LABEL, ARG)."""
    words: list[str] = []
    buf: list[str] = []
    quote = ""
    blank_ok = False
    i = 0
    while i < len(rest):
        ch = rest[i]
        if not quote and is_go_space(ch):
            if blank_ok or buf:
                words.append("".join(buf))
            buf, blank_ok = [], False
            i += 1
            continue
        if not quote and ch in ("'", '"'):
            quote, blank_ok = ch, True
        elif quote and ch == quote:
            quote = ""
        elif ch == escape and quote != "'":
            if i + 1 == len(rest):
                quote = ""
                break
            buf.append(ch)
            i += 1
            ch = rest[i]
        buf.append(ch)
        i += 1
    if blank_ok or buf:
        words.append("".join(buf))
    return words


_Args = tuple[tuple[str, ...], bool]


def _parse_ignore(rest: str, escape: str) -> _Args:
    """Unknown instructions keep no arguments; BuildKit still dumps one empty word."""
    return ("",), False


def _parse_subcommand(rest: str, escape: str) -> Instruction | None:
    """ONBUILD's trigger, parsed as an instruction of its own."""
    if not rest:
        return None
    return _new_instruction(rest, escape)


def _parse_name_val(rest: str, escape: str, key: str) -> _Args:
    """ENV and LABEL: ``key=value ...``, or the legacy ``key value`` (everything after the key)."""
    words = _parse_words(rest, escape)
    if not words:
        return (), False
    if "=" not in words[0]:
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise _Error(f"{key} must have two arguments")
        return (parts[0], parts[1], ""), False
    args: list[str] = []
    for word in words:
        if "=" not in word:
            raise _Error(f"Syntax error - can't find = in {go_quote(word)}. Must be of the form: name=value")
        name, value = word.split("=", 1)
        args += [name, value, "="]
    return tuple(args), False


def _parse_env(rest: str, escape: str) -> _Args:
    return _parse_name_val(rest, escape, "ENV")


def _parse_label(rest: str, escape: str) -> _Args:
    return _parse_name_val(rest, escape, "LABEL")


def _parse_name_or_name_val(rest: str, escape: str) -> _Args:
    """ARG: one word per definition, ``name`` or ``name=value``, quotes kept."""
    return tuple(_parse_words(rest, escape)), False


def _parse_whitespace_delimited(rest: str, escape: str) -> _Args:
    if not rest:
        return (), False
    return tuple(_WHITESPACE.split(rest)), False


def _parse_string(rest: str, escape: str) -> _Args:
    return ((rest,) if rest else ()), False


def _parse_json(rest: str) -> tuple[str, ...] | None:
    """The strings of a JSON array, or None when ``rest`` is not one (then it is shell form)."""
    rest = _trim_left(rest)
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest, parse_constant=_reject_constant)
    except ValueError:
        return None
    if not all(isinstance(item, str) for item in value):
        raise _Error(_NOT_STRINGS)
    return tuple(value)


def _reject_constant(name: str) -> object:
    # Go's encoding/json has no NaN or Infinity; such text is not JSON, so shell form.
    raise ValueError(name)


def _parse_maybe_json(rest: str, escape: str) -> _Args:
    """RUN, CMD, ENTRYPOINT, SHELL: exec form, else the whole line as one argument."""
    if not rest:
        return (), False
    words = _parse_json(rest)
    if words is not None:
        return words, True
    return (rest,), False


def _parse_maybe_json_to_list(rest: str, escape: str) -> _Args:
    """COPY, ADD, VOLUME: exec form, else whitespace-separated words."""
    words = _parse_json(rest)
    if words is not None:
        return words, True
    return _parse_whitespace_delimited(rest, escape)


def _parse_health_config(rest: str, escape: str) -> _Args:
    """HEALTHCHECK: the type word (CMD, NONE, ...), then the command as for CMD."""
    sep = 0
    while sep < len(rest) and not is_go_space(rest[sep]):
        sep += 1
    if sep == 0:
        return (), False
    following = sep
    while following < len(rest) and is_go_space(rest[following]):
        following += 1
    args, json_form = _parse_maybe_json(rest[following:], escape)
    return (rest[:sep], *args), json_form


# ONBUILD is missing: its argument is an instruction, parsed by _parse_subcommand.
_DISPATCH: dict[str, Callable[[str, str], _Args]] = {
    "add": _parse_maybe_json_to_list,
    "arg": _parse_name_or_name_val,
    "cmd": _parse_maybe_json,
    "copy": _parse_maybe_json_to_list,
    "entrypoint": _parse_maybe_json,
    "env": _parse_env,
    "expose": _parse_whitespace_delimited,
    "from": _parse_whitespace_delimited,
    "healthcheck": _parse_health_config,
    "label": _parse_label,
    "maintainer": _parse_string,
    "run": _parse_maybe_json,
    "shell": _parse_maybe_json,
    "stopsignal": _parse_string,
    "user": _parse_string,
    "volume": _parse_maybe_json_to_list,
    "workdir": _parse_string,
}


def _can_contain_heredoc(ins: Instruction) -> bool:
    target = ins.child if ins.cmd == "onbuild" and ins.child is not None else ins
    return target.cmd in _HEREDOC_COMMANDS and not target.json_form


def _read_heredocs(lines: _Lines, ins: Instruction, line: str) -> tuple[Heredoc, ...]:
    """Consume each heredoc body named on ``line``, in order, up to its delimiter line."""
    if not _can_contain_heredoc(ins) or "<<" not in line:
        return ()
    docs: list[Heredoc] = []
    for doc in _heredocs_from_line(line):
        content: list[str] = []
        while True:
            raw = lines.next()
            if raw is None:
                raise _Error("unterminated heredoc")
            candidate = raw.rstrip("\r\n")
            if doc.chomp:
                candidate = candidate.lstrip("\t")
            if candidate == doc.name:
                break
            content.append(raw)
        docs.append(replace(doc, content="".join(content)))
    return tuple(docs)


def _heredocs_from_line(line: str) -> list[Heredoc]:
    # Quotes and escapes stay in the words so that "<<EOF" (quoted) is not a heredoc;
    # a line the lexer cannot read simply has none, as in BuildKit.
    lex = ShellLex(raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    try:
        words = lex.process_words(line, {})
    except DockerfileParseError:
        return []
    docs: list[Heredoc] = []
    for word in words:
        try:
            doc = parse_heredoc(word)
        except DockerfileParseError as err:
            raise _Error(str(err)) from None
        if doc is not None:
            docs.append(doc)
    return docs


def parse_heredoc(word: str) -> Heredoc | None:
    """The heredoc a word like ``<<-'EOF'`` or ``3<<EOF`` opens (content empty), or None.

    Raises DockerfileParseError for an unterminated quote in the delimiter.
    """
    match = _HEREDOC.fullmatch(word)
    if match is None or not match.group(3):
        return None
    fd, chomp, rest = match.groups()
    words = ShellLex(skip_unset_env=True).process_words(rest, {})
    if len(words) != 1:
        return None
    raw_words = ShellLex(skip_unset_env=True, raw_quotes=True).process_words(rest, {})
    if len(raw_words) != 1:
        raise DockerfileParseError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    # Any quoted part of the delimiter shows up as a quote lost between the two
    # lexings; a quoted delimiter means the body is taken literally.
    quotes = words[0].count("'") + words[0].count('"')
    raw_quotes = raw_words[0].count("'") + raw_words[0].count('"')
    return Heredoc(words[0], "", int(fd or 0), quotes == raw_quotes, chomp == "-")


def chomp_heredoc_content(content: str) -> str:
    """Strip leading tabs from every line, as ``<<-`` asks."""
    return _LEADING_TABS.sub("", content)


def dump(df: Dockerfile) -> str:
    """BuildKit's AST dump (``Node.Dump``): one ``(cmd ["flags"] "arg" ...)`` per instruction."""
    return "\n".join(f"({_dump_instruction(ins)})" for ins in df.instructions)


def _dump_instruction(ins: Instruction) -> str:
    parts = [ins.cmd]
    if ins.flags:
        parts.append("[" + " ".join(go_quote(flag) for flag in ins.flags) + "]")
    parts += [go_quote(arg) for arg in ins.args]
    if ins.child is not None:
        parts.append(f"({_dump_instruction(ins.child)})")
    return _trim_space(" ".join(parts))

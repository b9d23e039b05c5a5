"""Docker's shell-word lexer: quotes, escapes and ``$VAR`` substitution in Dockerfile words.

The builder runs every word of ENV, COPY, WORKDIR, ... through this before use, so
it must agree with BuildKit (``frontend/dockerfile/shell/lex.go``) on every edge:
which characters an escape protects inside double quotes, what ``${v:-w}`` does with
an empty value, how a substituted value splits into words. It is not a shell: no
command substitution, no globbing, and ``${v=w}`` is an error, as in Docker.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from engine.errors import DockerfileParseError

__all__ = [
    "ShellLex",
    "WordResult",
    "go_quote",
    "is_go_space",
    "process_word",
    "process_words",
]

# Characters Go's unicode.IsSpace accepts below U+0100; above that it follows
# the Unicode White_Space property, which str.isspace() approximates.
_LATIN1_SPACES = frozenset("\t\n\v\f\r \x85\xa0")
# POSIX special parameters ($@, $*, $#, ...); never set in a Dockerfile, so they expand to "".
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
# Characters a shell pattern must escape to mean themselves in a regular expression.
_REGEX_SPECIALS = frozenset("[]{}.+()|^$")
_HEREDOC_SPACE = frozenset("\t\r ")


def is_go_space(ch: str) -> bool:
    """Go's unicode.IsSpace, which decides every word boundary in BuildKit's parsers."""
    if ord(ch) < 0x100:
        return ch in _LATIN1_SPACES
    return ch.isspace()


class _LexError(Exception):
    """A substitution failed; turned into DockerfileParseError naming the whole word."""


@dataclass(frozen=True)
class WordResult:
    """One processed word: the substituted text, its split words, and which variables it used."""

    result: str
    """The word with quotes removed and variables substituted."""
    words: tuple[str, ...]
    """The same, split at unquoted whitespace (after substitution), as COPY and EXPOSE need."""
    matched: frozenset[str] = field(default_factory=frozenset)
    """Variables the word referenced that were set."""
    unmatched: frozenset[str] = field(default_factory=frozenset)
    """Variables the word referenced that were not set (a linter's "undefined var")."""


class _Words:
    """Accumulates split words: unquoted whitespace ends a word, quoted text never does.

    An empty quoted string ("") adds nothing, so it does not make a word of its own.
    """

    def __init__(self) -> None:
        self.words: list[str] = []
        self._buf: list[str] = []
        self._size = 0
        self._in_word = False

    def add_char(self, ch: str) -> None:
        if not is_go_space(ch):
            self.add_raw(ch)
        elif self._in_word and self._size:
            self._flush()

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw(self, text: str) -> None:
        self._buf.append(text)
        self._size += len(text)
        self._in_word = True

    def _flush(self) -> None:
        self.words.append("".join(self._buf))
        self._buf.clear()
        self._size = 0
        self._in_word = False

    def finish(self) -> list[str]:
        if self._size:
            self._flush()
        return self.words


class _Scan:
    """One pass over one word: a cursor plus the options of the lexer that started it."""

    def __init__(self, lex: ShellLex, text: str, env: Mapping[str, str]) -> None:
        self.lex = lex
        self.text = text
        self.pos = 0
        self.env = env
        self.raw_escapes = lex.raw_escapes
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()

    def peek(self) -> str:
        """The next character, or "" at the end."""
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        """Consume and return the next character, or "" at the end."""
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch

    def get_env(self, name: str) -> str | None:
        if name in self.env:
            self.matched.add(name)
            return self.env[name]
        self.unmatched.add(name)
        return None

    def process_stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        """Process up to ``stop`` (consumed) or the end of input when ``stop`` is ""."""
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._process_stop_on(stop)
        finally:
            self.raw_escapes = saved

    def _process_stop_on(self, stop: str) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        esc = self.lex.escape
        while (ch := self.peek()) != "":
            if stop and ch == stop:
                self.next()
                return "".join(result), words.finish()
            special = self._special(ch)
            if special is not None:
                text = special()
                result.append(text)
                # A substituted value splits into words; quoted text stays one word.
                if ch == "$":
                    words.add_string(text)
                else:
                    words.add_raw(text)
                continue
            self.next()
            if ch == esc:
                if self.raw_escapes:
                    words.add_raw(ch)
                    result.append(ch)
                ch = self.next()
                if ch == "":
                    break
                words.add_raw(ch)
            else:
                words.add_char(ch)
            result.append(ch)
        if stop:
            raise _LexError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.finish()

    def _special(self, ch: str) -> Callable[[], str] | None:
        """The handler for a character that starts a quote, a substitution or a heredoc."""
        if ch == "$":
            return self.process_dollar
        if ch == "<":
            return self.process_possible_heredoc
        if not self.lex.skip_process_quotes:
            if ch == "'":
                return self.process_single_quote
            if ch == '"':
                return self.process_double_quote
        return None

    def process_single_quote(self) -> str:
        """Everything up to the next ' is literal; an escape cannot protect a single quote."""
        raw = self.lex.raw_quotes
        out = ["'"] if raw else []
        self.next()
        while True:
            ch = self.next()
            if ch == "":
                raise _LexError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if raw:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def process_double_quote(self) -> str:
        """Literal up to the next ", except $ substitutions and escaped " $ or escape."""
        raw = self.lex.raw_quotes
        esc = self.lex.escape
        out = ['"'] if raw else []
        self.next()
        while True:
            ch = self.peek()
            if ch == "":
                raise _LexError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                if raw:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self.process_dollar())
                continue
            self.next()
            if ch == esc:
                if self.raw_escapes:
                    out.append(ch)
                following = self.peek()
                if following == "":
                    continue
                if following in ('"', "$", esc):
                    ch = self.next()
            out.append(ch)

    def process_possible_heredoc(self) -> str:
        """Keep ``<<`` and the blanks after it glued to the delimiter word that follows."""
        self.next()
        if self.peek() != "<":
            return "<"
        self.next()
        start = self.pos
        while self.peek() and self.peek() in _HEREDOC_SPACE:
            self.next()
        return "<<" + self.text[start : self.pos]

    def process_name(self) -> str:
        """A variable name: letters, digits and _, or all digits, or one special parameter."""
        start = self.pos
        first = self.peek()
        if first and first.isdecimal():
            while self.peek() and self.peek().isdecimal():
                self.next()
            return self.text[start : self.pos]
        if first and first in _SPECIAL_PARAMS:
            return self.next()
        while (ch := self.peek()) and (ch.isalpha() or ch.isdecimal() or ch == "_"):
            self.next()
        return self.text[start : self.pos]

    def process_dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.process_name()
            if not name:
                return "$"
            value = self.get_env(name)
            if value is None and self.lex.skip_unset_env:
                return "$" + name
            return value or ""
        self.next()
        first = self.peek()
        if first == "":
            raise _LexError("syntax error: missing '}'")
        if first in "{}:":
            raise _LexError("syntax error: bad substitution")
        name = self.process_name()
        ch = self.next()
        if ch == "":
            raise _LexError("syntax error: missing '}'")
        if ch == "}":
            value = self.get_env(name)
            if value is None and self.lex.skip_unset_env:
                return "${" + name + "}"
            return value or ""
        if ch == "/":
            return self._substitute_replace(name)
        if ch not in ":+-?#%":
            raise _LexError(f"unsupported modifier ({ch}) in substitution")
        return self._substitute_modifier(name, ch)

    def _substitute_modifier(self, name: str, ch: str) -> str:
        """``${name<mod>word}`` for the modifiers - + ? # % and their ':' forms."""
        modifier = ch
        null_is_unset = ch == ":"
        if null_is_unset:
            ch = self.next()
            modifier += ch
        pattern_mode = ch in ("#", "%")
        if null_is_unset and pattern_mode:
            raise _LexError(f"unsupported modifier ({modifier}) in substitution")
        word = self._stop_on_brace(pattern_mode)
        value = self.get_env(name)
        if value is None and self.lex.skip_unset_env:
            return "${" + name + modifier + word + "}"
        empty = value is None or (null_is_unset and value == "")
        if ch == "-":
            return word if empty else (value or "")
        if ch == "+":
            return "" if empty else word
        if ch == "?":
            if value is None:
                raise _LexError(f"{name}: {word or 'is not allowed to be unset'}")
            if empty:
                raise _LexError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if ch in ("#", "%"):
            greedy = word.startswith(ch)
            if greedy:
                word = word[1:]
            if ch == "%":
                return _trim_suffix(word, value or "", greedy)
            return _trim_prefix(word, value or "", greedy)
        raise _LexError(f"unsupported modifier ({modifier}) in substitution")

    def _stop_on_brace(self, raw_escapes: bool) -> str:
        try:
            word, _ = self.process_stop_on("}", raw_escapes)
        except _LexError:
            if self.peek() == "":
                raise _LexError("syntax error: missing '}'") from None
            raise
        return word

    def _substitute_replace(self, name: str) -> str:
        """``${name/pattern/replacement}`` (first match) and ``${name//pattern/replacement}`` (all)."""
        replace_all = self.peek() == "/"
        if replace_all:
            self.next()
        try:
            pattern, _ = self.process_stop_on("/", True)
        except _LexError:
            if self.peek() == "":
                raise _LexError("syntax error: missing '/' in ${}") from None
            raise
        replacement = self._stop_on_brace(True)
        value = self.get_env(name)
        if value is None and self.lex.skip_unset_env:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        regex = _pattern_to_regex(pattern, greedy=True, anchored=False)
        # A callable replacement keeps backslashes in it literal, as Go's ReplaceAllString does.
        return regex.sub(lambda _m: replacement, value or "", count=0 if replace_all else 1)


class ShellLex:
    """Docker's word processor with its knobs; one instance may be reused, not shared between threads."""

    def __init__(
        self,
        escape: str = "\\",
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_unset_env: bool = False,
        skip_process_quotes: bool = False,
    ) -> None:
        if escape not in ("\\", "`"):
            raise ValueError(f"escape must be \\ or `, not {escape!r}")
        self.escape = escape
        """The Dockerfile's escape character (``# escape=`` directive)."""
        self.raw_quotes = raw_quotes
        """Keep quote characters in the output (the parser uses this to spot quoted heredoc words)."""
        self.raw_escapes = raw_escapes
        """Keep escape characters in the output."""
        self.skip_unset_env = skip_unset_env
        """Leave references to unset variables as written instead of expanding them to ""."""
        self.skip_process_quotes = skip_process_quotes
        """Treat quotes as ordinary characters."""

    def process(self, word: str, env: Mapping[str, str]) -> WordResult:
        """Substitute and split ``word``; raises DockerfileParseError on a bad substitution."""
        scan = _Scan(self, word, env)
        try:
            result, words = scan.process_stop_on("", self.raw_escapes)
        except _LexError as err:
            raise DockerfileParseError(f"failed to process {go_quote(word)}: {err}") from None
        return WordResult(result, tuple(words), frozenset(scan.matched), frozenset(scan.unmatched))

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """``word`` with quotes removed and variables substituted, inner spaces kept."""
        return self.process(word, env).result

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """``word`` substituted, then split at unquoted whitespace (quotes keep spaces)."""
        return list(self.process(word, env).words)


def process_word(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Substitute variables in one Dockerfile word, as Docker does for ENV, WORKDIR, COPY, ..."""
    return ShellLex(escape).process_word(word, env)


def process_words(word: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Substitute then split into words at unquoted whitespace, as Docker does for EXPOSE."""
    return ShellLex(escape).process_words(word, env)


def go_quote(text: str) -> str:
    """Go's strconv.Quote: the form BuildKit uses for words in messages and AST dumps."""
    out = ['"']
    for ch in text:
        out.append(_go_quote_char(ch))
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _go_quote_char(ch: str) -> str:
    if ch in ('"', "\\"):
        return "\\" + ch
    if ch.isprintable():
        return ch
    if ch in _GO_ESCAPES:
        return _GO_ESCAPES[ch]
    code = ord(ch)
    if code < 0x80:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _pattern_to_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A shell wildcard pattern (``*`` and ``?``, no brackets) as a regular expression."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(star)
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            following = pattern[i] if i < len(pattern) else ""
            # \} and \/ only kept the brace or slash from closing the ${...}.
            if following in ("}", "/"):
                continue
            if following not in ("*", "?", "\\"):
                raise _LexError(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{following}'")
            out.append("\\" + following)
            i += 1
        elif ch in _REGEX_SPECIALS:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return re.compile("".join(out))


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    match = _pattern_to_regex(pattern, greedy=greedy, anchored=True).search(value)
    return value[match.end() :] if match else value


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern but keep each escape in front of the character it escapes."""
    tokens: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            tokens.append(pattern[i : i + 2])
            i += 2
        else:
            tokens.append(pattern[i])
            i += 1
    return "".join(reversed(tokens))


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # A regex finds the leftmost match, not the shortest rightmost one, so search
    # the reversed value with the reversed pattern.
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]

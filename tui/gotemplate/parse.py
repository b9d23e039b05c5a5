"""Go text/template source → a tree of nodes: the lexer and the recursive-descent parser.

Only the parts Docker users write are here (no ``define``/``template``/``block``).
Positions are byte offsets into the source so errors can name ``:line:col`` as Go does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine import InvalidArgument

__all__ = [
    "Action",
    "Break",
    "Command",
    "Continue",
    "If",
    "Node",
    "Pipeline",
    "Range",
    "TemplateError",
    "TemplateExecError",
    "TemplateParseError",
    "Text",
    "With",
    "parse_tree",
]

LEFT, RIGHT = "{{", "}}"
KEYWORDS = {"if", "else", "end", "range", "with", "break", "continue", "define", "template", "block"}
_UNSUPPORTED = {"define", "template", "block"}


class TemplateError(InvalidArgument):
    """A ``--format`` template that cannot be parsed or cannot be executed on the data."""


class TemplateParseError(TemplateError):
    """The template text is not valid Go template syntax; ``str(e)`` carries Docker's prefix."""


class TemplateExecError(TemplateError):
    """The template parsed but failed on this data (a missing struct field, a bad argument)."""


# ---------------------------------------------------------------- nodes


@dataclass
class Node:
    pos: int


@dataclass
class Text(Node):
    text: str


@dataclass
class Command(Node):
    """One command of a pipeline: operands, each a term (tuple) with an optional field chain."""

    args: list = field(default_factory=list)


@dataclass
class Pipeline(Node):
    decl: list[str] = field(default_factory=list)
    assign: bool = False  # ``=`` rather than ``:=``
    cmds: list[Command] = field(default_factory=list)


@dataclass
class Action(Node):
    pipe: Pipeline


@dataclass
class If(Node):
    pipe: Pipeline
    body: list[Node]
    orelse: list[Node] | None


@dataclass
class With(If):
    pass


@dataclass
class Range(If):
    pass


@dataclass
class Break(Node):
    pass


@dataclass
class Continue(Node):
    pass


# ---------------------------------------------------------------- lexer

_TRIM = re.compile(r"[ \t\r\n]*")
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:[0-9][0-9_]*)?\.?[0-9_]*(?:[eE][+-]?[0-9]+)?)(?:i)?"
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CHAR = re.compile(r"'(?:\\.[^']*|[^\\'])'")


def _line_of(src: str, pos: int) -> int:
    return src.count("\n", 0, pos) + 1


def _fail(src: str, pos: int, msg: str) -> TemplateParseError:
    return TemplateParseError(f"template parsing error: template: :{_line_of(src, pos)}: {msg}")


@dataclass
class Tok:
    # text, left, right, field, var, ident, string, raw, char, number, pipe, lparen, rparen, declare, assign, comma,
    # dot, eof
    kind: str
    val: str
    pos: int


def lex(src: str) -> list[Tok]:
    """Split ``src`` into text and action tokens; trim markers and comments are applied here.

    A lexing error becomes an ``error`` token, raised when the parser reaches it: Go's lexer
    runs ahead of its parser lazily, so ``{{.Name}`` fails on the stray ``}`` first.
    """
    toks: list[Tok] = []
    try:
        _lex_into(src, toks)
    except TemplateParseError as err:
        toks.append(Tok("error", str(err), len(src)))
    toks.append(Tok("eof", "", len(src)))
    return toks


def _lex_into(src: str, toks: list[Tok]) -> None:
    i, n = 0, len(src)
    while i < n:
        j = src.find(LEFT, i)
        if j < 0:
            toks.append(Tok("text", src[i:], i))
            break
        text_end = j
        if (src.startswith("{{- ", j) or src.startswith("{{-\t", j) or src.startswith("{{-\n", j)
                or src.startswith("{{-\r", j)):
            text = src[i:j].rstrip(" \t\r\n")
            j += 4  # "{{- " and its space: a comment may start right after
        else:
            text = src[i:j]
            j += 2
        if text:
            toks.append(Tok("text", text, i))
        start = text_end
        # comment: {{/* ... */}} directly after the delimiter (and trim marker)
        k = j
        if src.startswith("/*", k):
            end = src.find("*/", k + 2)
            if end < 0:
                raise _fail(src, start, "unclosed comment")
            k = end + 2
            if src.startswith(" -}}", k) or src.startswith("\t-}}", k) or src.startswith("\n-}}", k):
                i = _TRIM.match(src, k + 4).end()
            elif src.startswith(RIGHT, k):
                i = k + 2
            else:
                raise _fail(src, start, "comment ends before closing delimiter")
            continue
        toks.append(Tok("left", LEFT, start))
        i = _lex_action(src, j, toks)


def _lex_action(src: str, i: int, toks: list[Tok]) -> int:
    n = len(src)
    depth = 0
    while True:
        if i >= n:
            raise _fail(src, i, "unclosed action")
        c = src[i]
        if c in " \t\r\n":
            k = i
            while k < n and src[k] in " \t\r\n":
                k += 1
            if src.startswith("-}}", k):
                toks.append(Tok("right", RIGHT, k))
                return _TRIM.match(src, k + 3).end()
            i = k
            continue
        if src.startswith(RIGHT, i):
            if depth:
                raise _fail(src, i, "unclosed left paren")
            toks.append(Tok("right", RIGHT, i))
            return i + 2
        if c == "\n":
            raise _fail(src, i, "unclosed action")
        if c == "|":
            toks.append(Tok("pipe", c, i))
            i += 1
        elif c == "(":
            depth += 1
            toks.append(Tok("lparen", c, i))
            i += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                raise _fail(src, i, "unexpected right paren")
            toks.append(Tok("rparen", c, i))
            i += 1
        elif c == ",":
            toks.append(Tok("comma", c, i))
            i += 1
        elif src.startswith(":=", i):
            toks.append(Tok("declare", ":=", i))
            i += 2
        elif c == "=":
            toks.append(Tok("assign", "=", i))
            i += 1
        elif c == '"':
            k = i + 1
            while True:
                if k >= n or src[k] == "\n":
                    raise _fail(src, i, "unterminated quoted string")
                if src[k] == "\\":
                    k += 2
                    continue
                if src[k] == '"':
                    break
                k += 1
            toks.append(Tok("string", src[i : k + 1], i))
            i = k + 1
        elif c == "`":
            k = src.find("`", i + 1)
            if k < 0:
                raise _fail(src, i, "unterminated raw quoted string")
            toks.append(Tok("raw", src[i + 1 : k], i))
            i = k + 1
        elif c == "'":
            m = _CHAR.match(src, i)
            if not m:
                raise _fail(src, i, "unterminated character constant")
            toks.append(Tok("char", m.group(), i))
            i = m.end()
        elif c == "$":
            m = _IDENT.match(src, i + 1)
            name = "$" + (m.group() if m else "")
            toks.append(Tok("var", name, i))
            i += len(name)
        elif c == ".":
            m = _IDENT.match(src, i + 1)
            if m:
                toks.append(Tok("field", m.group(), i))
                i = m.end()
            elif i + 1 < n and src[i + 1].isdigit():
                i = _lex_number(src, i, toks)
            else:
                toks.append(Tok("dot", ".", i))
                i += 1
        elif c.isdigit() or (c in "+-" and i + 1 < n and (src[i + 1].isdigit() or src[i + 1] == ".")):
            i = _lex_number(src, i, toks)
        elif c.isalpha() or c == "_":
            m = _IDENT.match(src, i)
            toks.append(Tok("ident", m.group(), i))
            i = m.end()
        elif " " < c < "\x7f":
            toks.append(Tok("other", c, i))  # Go's itemChar: the parser names it in its error
            i += 1
        else:
            raise _fail(src, i, f"unrecognized character in action: U+{ord(c):04X}")


def _lex_number(src: str, i: int, toks: list[Tok]) -> int:
    m = _NUMBER.match(src, i)
    end = m.end() if m and m.end() > i else i + 1
    if end < len(src) and (src[end].isalnum() or src[end] == "."):
        raise _fail(src, i, f'bad number syntax: "{src[i:end + 1]}"')
    toks.append(Tok("number", src[i:end], i))
    return end


# ---------------------------------------------------------------- parser


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.toks = lex(src)
        self.i = 0
        self.vars: list[str] = ["$"]

    def peek(self) -> Tok:
        return self.toks[self.i]

    def next(self) -> Tok:
        t = self.toks[self.i]
        if t.kind == "error":
            raise TemplateParseError(t.val)
        self.i += 1
        return t

    def fail(self, tok: Tok, msg: str) -> TemplateParseError:
        return _fail(self.src, tok.pos, msg)

    def parse(self) -> list[Node]:
        body, end = self.list_until(set())
        if end is not None:
            raise self.fail(end, f"unexpected {{{{{end.val}}}}}")
        return body

    def list_until(self, stops: set[str]) -> tuple[list[Node], Tok | None]:
        """Nodes up to one of the keyword actions in ``stops``; returns the stopping keyword token."""
        out: list[Node] = []
        while True:
            t = self.next()
            if t.kind == "eof":
                if stops:
                    raise self.fail(t, "unexpected EOF")
                return out, None
            if t.kind == "text":
                out.append(Text(t.pos, t.val))
                continue
            # t is "left"
            k = self.peek()
            if k.kind == "ident" and k.val in KEYWORDS:
                self.next()
                if k.val in ("end", "else"):
                    if k.val not in stops:
                        raise self.fail(k, f"unexpected {{{{{k.val}}}}}")
                    return out, k
                out.append(self.control(k))
            else:
                pipe = self.pipeline("command", allow_decl=True)
                out.append(Action(t.pos, pipe))

    def expect_right(self, context: str) -> None:
        t = self.next()
        if t.kind != "right":
            raise self.fail(t, f"unexpected {self.describe(t)} in {context}")

    def describe(self, t: Tok) -> str:
        if t.kind == "eof":
            return "EOF"
        if t.kind == "ident" and t.val in KEYWORDS:
            return f"<{t.val}>"
        val = self._raw(t)
        return '"' + val.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def control(self, kw: Tok) -> Node:
        if kw.val in _UNSUPPORTED:
            raise self.fail(kw, f"{{{{{kw.val}}}}} is not supported in --format templates")
        if kw.val in ("break", "continue"):
            if not getattr(self, "in_range", 0):
                raise self.fail(kw, f"{{{{{kw.val}}}}} outside {{{{range}}}}")
            self.expect_right(kw.val)
            return Break(kw.pos) if kw.val == "break" else Continue(kw.pos)
        return self.branch(kw.val, kw.pos)

    def branch(self, kind: str, pos: int) -> Node:
        depth = len(self.vars)
        pipe = self.pipeline(kind, allow_decl=True, is_range=kind == "range")
        inner = len(self.vars)  # the pipeline's variables reach {{else}} and {{end}}
        if kind == "range":
            self.in_range = getattr(self, "in_range", 0) + 1
        body, end = self.list_until({"end", "else"})
        if kind == "range":
            self.in_range -= 1
        orelse: list[Node] | None = None
        if end is not None and end.val == "else":
            nxt = self.peek()
            if nxt.kind == "ident" and nxt.val in ("if", "with") and kind in ("if", "with"):
                # "else if" / "else with": a nested branch that shares our {{end}}
                self.next()
                del self.vars[inner:]
                orelse = [self.branch(nxt.val, nxt.pos)]
            else:
                self.expect_right("else")
                del self.vars[inner:]
                orelse, _ = self.list_until({"end"})
                self.expect_right("end")
        else:
            self.expect_right("end")
        del self.vars[depth:]
        cls = {"if": If, "with": With, "range": Range}[kind]
        return cls(pos, pipe, body, orelse)

    def pipeline(self, context: str, allow_decl: bool = False, is_range: bool = False) -> Pipeline:
        start = self.peek()
        pipe = Pipeline(start.pos)
        # declarations: $x := / $x = / $i, $e :=
        if allow_decl and start.kind == "var":
            save = self.i
            names = [self.next().val]
            if is_range and self.peek().kind == "comma":
                self.next()
                v = self.next()
                if v.kind != "var":
                    raise self.fail(v, "range can only initialize variables")
                names.append(v.val)
            op = self.peek()
            if op.kind in ("declare", "assign"):
                self.next()
                pipe.assign = op.kind == "assign"
                pipe.decl = names
                if pipe.assign:
                    for name in names:
                        if name not in self.vars:
                            raise self.fail(op, f'undefined variable "{name}"')
            elif len(names) > 1:
                raise self.fail(op, "range can only initialize variables")
            else:
                self.i = save
        while True:
            t = self.peek()
            if t.kind in ("right", "rparen"):
                if not pipe.cmds:
                    raise self.fail(t, f"missing value for {context}")
                if t.kind == "right":
                    self.next()
                break
            pipe.cmds.append(self.command())
            t = self.peek()
            if t.kind == "pipe":
                self.next()
                if self.peek().kind in ("right", "rparen"):
                    raise self.fail(self.peek(), "missing command")
        if not is_range and len(pipe.decl) > 1:
            raise self.fail(start, "too many declarations")
        for name in pipe.decl:
            if not pipe.assign:
                self.vars.append(name)
        return pipe

    def command(self) -> Command:
        cmd = Command(self.peek().pos)
        while True:
            t = self.peek()
            if t.kind in ("right", "rparen", "pipe"):
                break
            cmd.args.append(self.operand())
        if not cmd.args:
            raise self.fail(self.peek(), "empty command")
        return cmd

    def operand(self) -> tuple:
        """A term, extended by fields written right after it with no space: ``$x.A``, ``(…).B``."""
        term = self.term()
        chain: list[str] = []
        while self.peek().kind == "field":
            prev = self.toks[self.i - 1]
            if self.peek().pos != prev.pos + len(self._raw(prev)):
                break
            chain.append(self.next().val)
        if not chain:
            return term
        if term[0] in ("bool", "number", "string", "nil"):
            raise self.fail(self.toks[self.i - 1], f"unexpected . after term {self.describe(prev)}")
        return ("chain", term, chain, term[-1])

    def _raw(self, t: Tok) -> str:
        if t.kind == "field":
            return "." + t.val
        if t.kind == "raw":
            return "`" + t.val + "`"
        return t.val

    def term(self) -> tuple:
        t = self.next()
        k = t.kind
        if k == "field":
            names = [t.val]
            while (self.peek().kind == "field"
                   and self.peek().pos == self.toks[self.i - 1].pos + len(self._raw(self.toks[self.i - 1]))):
                names.append(self.next().val)
            return ("field", names, t.pos)
        if k == "dot":
            return ("dot", ".", t.pos)
        if k == "var":
            if t.val not in self.vars:
                raise self.fail(t, f'undefined variable "{t.val}"')
            return ("var", t.val, t.pos)
        if k == "ident":
            if t.val in ("true", "false"):
                return ("bool", t.val == "true", t.pos)
            if t.val == "nil":
                return ("nil", None, t.pos)
            if t.val in KEYWORDS:
                raise self.fail(t, f"unexpected <{t.val}> in command")
            from .funcs import FUNCS

            if t.val not in FUNCS:
                raise self.fail(t, f'function "{t.val}" not defined')
            return ("func", t.val, t.pos)
        if k == "string":
            return ("string", _unquote(self, t), t.pos)
        if k == "raw":
            return ("string", t.val, t.pos)
        if k == "char":
            s = _unquote(self, Tok("string", '"' + t.val[1:-1].replace('"', '\\"') + '"', t.pos))
            return ("number", ord(s), t.val, t.pos)
        if k == "number":
            return ("number", _number(self, t), t.val, t.pos)
        if k == "lparen":
            pipe = self.pipeline("parenthesized pipeline")
            close = self.next()
            if close.kind != "rparen":
                raise self.fail(close, "unclosed left paren")
            return ("pipe", pipe, t.pos)
        if k in ("right", "eof"):
            raise self.fail(t, 'unexpected "}" in operand' if k == "right" else "unclosed action")
        raise self.fail(t, f"unexpected {self.describe(t)} in operand")


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"', "'": "'"}


def _unquote(p: _Parser, t: Tok) -> str:
    body = t.val[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1] if i + 1 < len(body) else ""
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i + 2 : i + 2 + size]
            if len(digits) != size or not re.fullmatch(r"[0-9a-fA-F]+", digits):
                raise p.fail(t, f"invalid syntax: {t.val}")
            out.append(chr(int(digits, 16)))
            i += 2 + size
        elif e in "01234567":
            digits = body[i + 1 : i + 4]
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise p.fail(t, f"invalid syntax: {t.val}")
    return "".join(out)


def _number(p: _Parser, t: Tok) -> int | float:
    text = t.val.replace("_", "")
    try:
        if re.fullmatch(r"[+-]?(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)", text):
            sign = -1 if text.startswith("-") else 1
            body = text.lstrip("+-")
            if len(body) > 1 and body[0] == "0" and body[1].isdigit():
                return sign * int(body, 8)
            return sign * int(body, 0)
        value = float(text)
    except ValueError:
        raise p.fail(t, f'bad number syntax: "{t.val}"') from None
    if value.is_integer() and "e" not in text.lower() and "." not in text:
        return int(value)
    return value


def parse_tree(src: str) -> list[Node]:
    """Parse Go template text into nodes; raises :class:`TemplateParseError` with Go's wording."""
    return _Parser(src).parse()

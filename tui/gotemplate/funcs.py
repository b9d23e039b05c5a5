"""The functions a ``--format`` template can call: Go's text/template builtins and docker/cli's set.

Each takes already-evaluated Python values (``and``/``or`` get thunks, they short-circuit as
in Go 1.18+) and raises :class:`FuncError` with Go's message, which the evaluator wraps
in ``error calling NAME: …`` or reports as a wrong argument type.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

from .printing import MISSING, go_type, sprint, sprintf, sprintln, to_json

__all__ = ["FUNCS", "HEADER_FUNCS", "LAZY", "ArgTypeError", "FuncError", "truth"]


class FuncError(Exception):
    """A builtin refused its arguments; the text is Go's (``index out of range: 5``)."""


class ArgTypeError(FuncError):
    """An argument of the wrong Go type (``wrong type for value; expected string; got int``)."""


def truth(v: Any) -> bool:
    """Go's ``isTrue``: zero values, nil and empty containers are false; structs are true."""
    if v is MISSING or v is None:
        return False
    if isinstance(v, (bool, int, float, str, list, tuple, dict)):
        return bool(v)
    return True


def _want_str(v: Any) -> str:
    if not isinstance(v, str):
        raise ArgTypeError(f"wrong type for value; expected string; got {_arg_type(v)}")
    return v


def _want_int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ArgTypeError(f"wrong type for value; expected int; got {_arg_type(v)}")
    return v


def _arg_type(v: Any) -> str:
    return "<nil>" if v is MISSING else go_type(v)


def _nargs(name: str, args: tuple, want: int) -> None:
    if len(args) != want:
        raise ArgTypeError(f"wrong number of args for {name}: want {want} got {len(args)}")


# ---------------------------------------------------------------- Go builtins


def _and(*thunks: Callable[[], Any]) -> Any:
    if not thunks:
        raise ArgTypeError("wrong number of args for and: want at least 1 got 0")
    v = None
    for t in thunks:
        v = t()
        if not truth(v):
            return v
    return v


def _or(*thunks: Callable[[], Any]) -> Any:
    if not thunks:
        raise ArgTypeError("wrong number of args for or: want at least 1 got 0")
    v = None
    for t in thunks:
        v = t()
        if truth(v):
            return v
    return v


def _not(*args: Any) -> bool:
    _nargs("not", args, 1)
    return not truth(args[0])


def _len(*args: Any) -> int:
    _nargs("len", args, 1)
    v = args[0]
    if v is MISSING or v is None:
        raise FuncError("len of nil pointer")
    if isinstance(v, str):
        return len(v.encode())
    if isinstance(v, (list, tuple, dict)):
        return len(v)
    raise FuncError(f"len of type {go_type(v)}")


def _index(item: Any = MISSING, *indexes: Any) -> Any:
    if item is MISSING or item is None:
        raise FuncError("index of untyped nil")
    for ix in indexes:
        if item is None or item is MISSING:
            raise FuncError("index of nil pointer")
        if isinstance(item, dict):
            if ix in item:
                item = item[ix]
            elif all(isinstance(v, str) for v in item.values()):
                item = ""  # a map[string]string (Docker's Labels) yields its zero value, ""
            else:
                item = None
        elif isinstance(item, (list, tuple, str)):
            if isinstance(ix, bool) or not isinstance(ix, int):
                kind = "string" if isinstance(item, str) else "slice/array"
                raise FuncError(f"cannot index {kind} with type {_arg_type(ix)}")
            seq = item.encode() if isinstance(item, str) else item
            if not 0 <= ix < len(seq):
                raise FuncError(f"index out of range: {ix}")
            item = seq[ix]
        else:
            raise FuncError(f"can't index item of type {go_type(item)}")
    return item


def _slice(item: Any = MISSING, *indexes: Any) -> Any:
    if item is MISSING or item is None:
        raise FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
        seq: Any = item.encode()
    elif isinstance(item, (list, tuple)):
        seq = list(item)
    else:
        raise FuncError(f"can't slice item of type {go_type(item)}")
    bounds = [0, len(seq)]
    for k, ix in enumerate(indexes[:2]):
        if isinstance(ix, bool) or not isinstance(ix, int):
            raise FuncError(f"cannot index slice/array with type {_arg_type(ix)}")
        if not 0 <= ix <= len(seq):
            raise FuncError(f"index out of range: {ix}")
        bounds[k] = ix
    if bounds[0] > bounds[1]:
        raise FuncError(f"invalid slice index: {bounds[0]} > {bounds[1]}")
    out = seq[bounds[0] : bounds[1]]
    return out.decode(errors="replace") if isinstance(item, str) else out


def _kind(v: Any) -> str:
    if v is MISSING or v is None:
        return "invalid"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    return "other"


def _eq(*args: Any) -> bool:
    if not args:
        raise ArgTypeError("wrong number of args for eq: want at least 1 got 0")
    a = args[0]
    if len(args) == 1:
        raise FuncError("missing argument for comparison")
    ka = _kind(a)
    for b in args[1:]:
        kb = _kind(b)
        if ka != kb:
            if ka != "invalid" and kb != "invalid":
                raise FuncError("incompatible types for comparison")
            continue
        if ka == "other":
            if isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
                raise FuncError(f"non-comparable type {sprint(b)}: {go_type(b)}")
        if ka == "invalid" or a == b:
            return True
    return False


def _ne(*args: Any) -> bool:
    _nargs("ne", args, 2)
    return not _eq(*args)


def _lt(*args: Any) -> bool:
    _nargs("lt", args, 2)
    a, b = args
    ka, kb = _kind(a), _kind(b)
    if ka in ("bool", "invalid", "other") or kb in ("bool", "invalid", "other"):
        raise FuncError("invalid type for comparison")
    if ka != kb:
        raise FuncError("incompatible types for comparison")
    return a < b


def _le(*args: Any) -> bool:
    _nargs("le", args, 2)
    return _lt(*args) or _eq(*args)


def _gt(*args: Any) -> bool:
    _nargs("gt", args, 2)
    return not _le(*args)


def _ge(*args: Any) -> bool:
    _nargs("ge", args, 2)
    return not _lt(*args)


def _printf(*args: Any) -> str:
    if not args:
        raise ArgTypeError("wrong number of args for printf: want at least 1 got 0")
    return sprintf(_want_str(args[0]), *args[1:])


def _text_of(args: tuple) -> str:
    """Go's evalArgs for html/js/urlquery: one string as is, else fmt.Sprint of all."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(*args)


_HTML = {'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "\0": "\ufffd"}


def _html(*args: Any) -> str:
    return "".join(_HTML.get(c, c) for c in _text_of(args))


def _js(*args: Any) -> str:
    out = []
    for c in _text_of(args):
        if c in "\\'\"":
            out.append("\\" + c)
        elif c in "<>&=" or ord(c) < 0x20 or ord(c) >= 0x80 and not c.isprintable():
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def _urlquery(*args: Any) -> str:
    return quote_plus(_text_of(args), safe="~")


def _call(fn: Any = MISSING, *args: Any) -> Any:
    if not callable(fn):
        raise FuncError(f"non-function of type {_arg_type(fn)}")
    return fn(*args)


# ---------------------------------------------------------------- docker/cli's templates package


def _json(*args: Any) -> str:
    _nargs("json", args, 1)
    try:
        return to_json(args[0])
    except ValueError:
        return ""  # docker ignores the encoder's error and prints nothing


def _split(*args: Any) -> list[str]:
    _nargs("split", args, 2)
    s, sep = _want_str(args[0]), _want_str(args[1])
    if sep == "":
        return list(s)
    return s.split(sep)


def _join(*args: Any) -> str:
    _nargs("join", args, 2)
    items, sep = args[0], _want_str(args[1])
    if not isinstance(items, (list, tuple)) or not all(isinstance(e, str) for e in items):
        raise ArgTypeError(f"wrong type for value; expected []string; got {_arg_type(items)}")
    return sep.join(items)


def _is_separator(c: str) -> bool:
    """strings.Title's word boundary: ASCII other than letters, digits and '_'; any space."""
    if c.isascii():
        return not (c.isalnum() or c == "_")
    if unicodedata.category(c)[0] in "LN":
        return False
    return c.isspace()


def _title(*args: Any) -> str:
    _nargs("title", args, 1)
    out, prev = [], " "
    for c in _want_str(args[0]):
        out.append(c.upper() if _is_separator(prev) and len(c.upper()) == 1 else c)
        prev = c
    return "".join(out)


def _lower(*args: Any) -> str:
    _nargs("lower", args, 1)
    return _want_str(args[0]).lower()


def _upper(*args: Any) -> str:
    _nargs("upper", args, 1)
    return _want_str(args[0]).upper()


def _pad(*args: Any) -> str:
    _nargs("pad", args, 3)
    s, before, after = _want_str(args[0]), _want_int(args[1]), _want_int(args[2])
    if s == "":
        return s
    if before < 0 or after < 0:
        raise FuncError("strings: negative Repeat count")
    return " " * before + s + " " * after


def _truncate(*args: Any) -> str:
    _nargs("truncate", args, 2)
    s, length = _want_str(args[0]), _want_int(args[1])
    data = s.encode()
    if len(data) < length:
        return s
    if length < 0:
        raise FuncError(f"slice bounds out of range [:{length}]")
    return data[:length].decode(errors="ignore")


FUNCS: dict[str, Callable[..., Any]] = {
    "and": _and,
    "or": _or,
    "not": _not,
    "len": _len,
    "index": _index,
    "slice": _slice,
    "eq": _eq,
    "ne": _ne,
    "lt": _lt,
    "le": _le,
    "gt": _gt,
    "ge": _ge,
    "print": lambda *a: sprint(*a),
    "printf": _printf,
    "println": lambda *a: sprintln(*a),
    "html": _html,
    "js": _js,
    "urlquery": _urlquery,
    "call": _call,
    "json": _json,
    "split": _split,
    "join": _join,
    "title": _title,
    "lower": _lower,
    "upper": _upper,
    "pad": _pad,
    "truncate": _truncate,
}

LAZY = frozenset({"and", "or"})


def _keep(*args: Any) -> Any:
    """docker's header functions: the column title passes through untouched."""
    if not args:
        raise ArgTypeError("wrong number of args: want at least 1 got 0")
    return args[0]


# While a table header row is rendered, docker swaps these for ones that return the title as is
# (pad is not swapped, so a padded column keeps its width in the header too).
HEADER_FUNCS: dict[str, Callable[..., Any]] = {
    **FUNCS,
    **{name: _keep for name in ("json", "split", "join", "title", "lower", "upper", "truncate")},
}

"""How Go prints values: ``fmt``'s ``%v`` and ``printf`` verbs, and ``encoding/json``'s compact form.

Python values stand for Go's: ``dict`` a map (printed in sorted key order), ``list``/``tuple`` a
slice, ``None`` nil, any other object a struct (its dataclass fields or public attributes).
:data:`MISSING` is Go's invalid value, which a template prints as ``<no value>``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from decimal import Decimal
from typing import Any

__all__ = ["MISSING", "go_type", "is_struct", "sprint", "sprintf", "sprintln", "struct_fields", "to_json"]


class _Missing:
    """Go's invalid ``reflect.Value``: what a missing map key evaluates to."""

    _instance = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<no value>"


MISSING: Any = _Missing()


def is_struct(v: Any) -> bool:
    return not isinstance(v, (str, bytes, int, float, bool, list, tuple, dict, type(None), _Missing))


def is_stringer(v: Any) -> bool:
    """An object with its own ``__str__`` (an Enum, a datetime) prints through it, as Go's Stringer."""
    return is_struct(v) and type(v).__str__ is not object.__str__


def struct_fields(v: Any) -> list[tuple[str, Any]]:
    """A struct's fields in declaration order: dataclass fields, else public instance attributes."""
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return [(f.name, getattr(v, f.name)) for f in dataclasses.fields(v)]
    attrs = getattr(v, "__dict__", None)
    if attrs is not None:
        return [(k, val) for k, val in attrs.items() if not k.startswith("_")]
    slots = getattr(type(v), "__slots__", ())
    return [(k, getattr(v, k)) for k in slots if not k.startswith("_") and hasattr(v, k)]


def go_type(v: Any) -> str:
    """The Go type name fmt shows in ``%!d(string=x)`` and template errors show after ``in type``."""
    if v is None:
        return "interface {}"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (list, tuple)):
        return "[]interface {}"
    if isinstance(v, dict):
        return "map[string]interface {}"
    return type(v).__name__


def _sorted_items(d: dict) -> list[tuple[Any, Any]]:
    try:
        return sorted(d.items(), key=lambda kv: kv[0])
    except TypeError:
        return sorted(d.items(), key=lambda kv: str(kv[0]))


# ---------------------------------------------------------------- floats


def _digits(f: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of ``abs(f)`` and the decimal point position (as strconv)."""
    _, digits, exp = Decimal(repr(abs(f))).as_tuple()
    ds = "".join(map(str, digits)).lstrip("0") or "0"
    # value = 0.ds × 10**dp
    dp = len("".join(map(str, digits))) + exp - (len("".join(map(str, digits))) - len(ds))
    ds = ds.rstrip("0") or "0"
    if ds == "0":
        dp = 0
    return ds, dp


def _exp_form(ds: str, dp: int, upper: bool = False) -> str:
    mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
    e = dp - 1 if ds != "0" else 0
    return f"{mant}{'E' if upper else 'e'}{'-' if e < 0 else '+'}{abs(e):02d}"


def _fixed_form(ds: str, dp: int) -> str:
    if dp <= 0:
        return "0." + "0" * -dp + ds if ds != "0" else "0"
    if dp >= len(ds):
        return ds + "0" * (dp - len(ds))
    return ds[:dp] + "." + ds[dp:]


def format_float(f: float, verb: str = "v", prec: int = -1) -> str:
    """Go's ``%v``/``%g``/``%e``/``%f`` of a float64 (without width or flags)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    neg = f < 0 or (f == 0 and math.copysign(1, f) < 0)
    if verb in "vgG" and prec < 0:
        ds, dp = _digits(f)
        exp = dp - 1
        # strconv 'g' at shortest precision switches to %e at exponent < -4 or >= 6 (eprec = 6)
        body = _exp_form(ds, dp, verb == "G") if (exp < -4 or exp >= 6) and ds != "0" else _fixed_form(ds, dp)
        return ("-" if neg else "") + body
    if verb in "eE":
        out = f"{f:.{6 if prec < 0 else prec}e}"
        return out.upper() if verb == "E" else out
    if verb in "fF":
        return f"{f:.{6 if prec < 0 else prec}f}"
    if verb in "gG":
        out = f"{f:.{prec or 1}g}"
        return out.upper() if verb == "G" else out
    raise ValueError(verb)


# ---------------------------------------------------------------- quoting


def go_quote(s: str) -> str:
    """strconv.Quote: Go escapes, printable runes kept."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}[ch])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif ch == " " or ch.isprintable():
            out.append(ch)
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


def _quote_rune(o: int) -> str:
    if o == ord("'"):
        return "'\\''"
    q = go_quote(chr(o))[1:-1]
    if q == '\\"':
        q = '"'
    return "'" + q + "'"


# ---------------------------------------------------------------- %v


def sprint_value(v: Any, verb: str = "v", plus: bool = False) -> str:
    """One value as ``fmt`` prints it with ``%v`` (``plus`` for ``%+v`` field names)."""
    if v is MISSING:
        return "<no value>" if verb == "v" else "%!" + verb + "(<nil>)"
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float(v)
    if isinstance(v, str):
        return v
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(sprint_value(e, verb, plus) for e in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{sprint_value(k, verb, plus)}:{sprint_value(e, verb, plus)}"
                                 for k, e in _sorted_items(v)) + "]"
    if is_stringer(v):
        return str(v)
    fields = struct_fields(v)
    if plus:
        return "{" + " ".join(f"{k}:{sprint_value(e, verb, plus)}" for k, e in fields) + "}"
    return "{" + " ".join(sprint_value(e, verb, plus) for _, e in fields) + "}"


def sprint(*args: Any) -> str:
    """fmt.Sprint: a space between operands when neither side is a string."""
    out: list[str] = []
    prev_string = True
    for i, a in enumerate(args):
        is_string = isinstance(a, str)
        if i > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(sprint_value(a))
        prev_string = is_string
    return "".join(out)


def sprintln(*args: Any) -> str:
    """fmt.Sprintln: always spaces between operands, and a newline."""
    return " ".join(sprint_value(a) for a in args) + "\n"


# ---------------------------------------------------------------- printf

_SPEC = re.compile(r"%([-+# 0]*)(\*|\d+)?(?:\.(\*|\d*))?(.)?", re.DOTALL)


@dataclasses.dataclass
class _Flags:
    minus: bool = False
    plus: bool = False
    sharp: bool = False
    space: bool = False
    zero: bool = False
    width: int | None = None
    prec: int | None = None


def _bad(verb: str, v: Any) -> str:
    if v is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type(v)}={sprint_value(v)})"


def _pad(s: str, fl: _Flags, numeric: bool = False) -> str:
    if fl.width is None or len(s) >= fl.width:
        return s
    n = fl.width - len(s)
    if fl.minus:
        return s + " " * n
    if fl.zero:
        if numeric and s[:1] in "+- ":
            return s[0] + "0" * n + s[1:]
        return "0" * n + s
    return " " * n + s


def _sign(neg: bool, fl: _Flags) -> str:
    return "-" if neg else "+" if fl.plus else " " if fl.space else ""


def _fmt_int(v: int, verb: str, fl: _Flags) -> str:
    if verb == "c":
        return _pad(chr(v), fl)
    if verb == "q":
        return _pad(_quote_rune(v), fl)
    if verb == "U":
        return _pad(f"U+{v:04X}", fl)
    base = {"d": "d", "v": "d", "x": "x", "X": "X", "o": "o", "O": "o", "b": "b"}[verb]
    digits = format(abs(v), base)
    if fl.prec is not None:
        digits = digits.zfill(fl.prec) if fl.prec else ("" if v == 0 else digits)
    prefix = ""
    if fl.sharp:
        prefix = {"x": "0x", "X": "0X", "o": "0", "b": "0b"}.get(verb, "")
    if verb == "O":
        prefix = "0o"
    s = _sign(v < 0, fl) + prefix + digits
    if fl.zero and fl.prec is None and not fl.minus and fl.width:
        lead = len(_sign(v < 0, fl) + prefix)
        return s[:lead] + digits.zfill(fl.width - lead)
    return _pad(s, fl)


def _fmt_float(v: float, verb: str, fl: _Flags) -> str:
    prec = -1 if fl.prec is None else fl.prec
    body = format_float(abs(v), "g" if verb == "v" else verb, prec)
    neg = v < 0 or (v == 0 and math.copysign(1, v) < 0)
    if body == "+Inf":
        body = "Inf"
    s = _sign(neg, fl) + body if not (body == "Inf" and not neg and not fl.plus and not fl.space) else "+Inf"
    return _pad(s, fl, numeric=not math.isinf(v) and not math.isnan(v))


def _fmt_str(v: str, verb: str, fl: _Flags) -> str:
    if fl.prec is not None and verb in "sv":
        v = v[: fl.prec]
    if verb in "sv":
        return _pad(v, fl)
    if verb == "q":
        if fl.sharp and "`" not in v and all(c == "\t" or c.isprintable() for c in v):
            return _pad("`" + v + "`", fl)
        return _pad(go_quote(v), fl)
    if verb in "xX":
        data = v.encode()
        if fl.prec is not None:
            data = data[: fl.prec]
        sep = " " if fl.space else ""
        pre = ("0x" if verb == "x" else "0X") if fl.sharp else ""
        hexes = [pre + format(b, "02" + verb) for b in data]
        if not fl.space and pre:
            return _pad(pre + "".join(h[2:] for h in hexes), fl)
        return _pad(sep.join(hexes), fl)
    return _bad(verb, v)


def format_one(v: Any, verb: str, fl: _Flags) -> str:
    """One operand under one verb, with Go's ``%!verb(type=value)`` for a mismatch."""
    if v is MISSING or v is None:
        return _pad("<nil>", fl) if verb in "vs" else _bad(verb, None)
    if verb == "T":
        return _pad(go_type(v), fl)
    if isinstance(v, bool):
        if verb in "vt":
            return _pad("true" if v else "false", fl)
        return _bad(verb, v)
    if isinstance(v, int):
        if verb in "vdxXobOcqU":
            return _fmt_int(v, verb, fl)
        return _bad(verb, v)
    if isinstance(v, float):
        if verb in "veEfFgG":
            return _fmt_float(v, verb, fl)
        return _bad(verb, v)
    if isinstance(v, str):
        if verb in "svqxX":
            return _fmt_str(v, verb, fl)
        return _bad(verb, v)
    inner = _Flags(plus=fl.plus, sharp=fl.sharp, space=fl.space, zero=fl.zero, prec=fl.prec)
    if isinstance(v, (list, tuple)):
        return _pad("[" + " ".join(format_one(e, verb, inner) for e in v) + "]", fl)
    if isinstance(v, dict):
        items = " ".join(f"{format_one(k, verb, inner)}:{format_one(e, verb, inner)}" for k, e in _sorted_items(v))
        return _pad("map[" + items + "]", fl)
    if is_stringer(v) and verb in "vsq":
        return format_one(str(v), verb, fl)
    fields = struct_fields(v)
    if verb == "v" and fl.plus:
        return _pad("{" + " ".join(f"{k}:{format_one(e, verb, inner)}" for k, e in fields) + "}", fl)
    return _pad("{" + " ".join(format_one(e, verb, inner) for _, e in fields) + "}", fl)


def sprintf(fmt: str, *args: Any) -> str:
    """fmt.Sprintf for the verbs templates use, with Go's error strings for bad or missing operands."""
    out: list[str] = []
    argi = 0
    i = 0
    n = len(fmt)
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        m = _SPEC.match(fmt, j)
        flags, width, prec, verb = m.groups()
        i = m.end()
        fl = _Flags(minus="-" in flags, plus="+" in flags, sharp="#" in flags, space=" " in flags, zero="0" in flags)
        if width == "*":
            if argi < len(args) and isinstance(args[argi], int) and not isinstance(args[argi], bool):
                fl.width = args[argi]
                if fl.width < 0:
                    fl.minus, fl.width = True, -fl.width
            else:
                out.append("%!(BADWIDTH)")
            argi += 1
        elif width:
            fl.width = int(width)
        if prec == "*":
            if argi < len(args) and isinstance(args[argi], int) and not isinstance(args[argi], bool):
                fl.prec = args[argi] if args[argi] >= 0 else None
            else:
                out.append("%!(BADPREC)")
            argi += 1
        elif prec is not None:
            fl.prec = int(prec) if prec else 0
        if fl.minus:
            fl.zero = False
        if verb is None:
            out.append("%!(NOVERB)")
            break
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        if verb not in "vTtbcdoOqxXUeEfFgGsp":
            out.append(_bad(verb, arg))
            continue
        out.append(format_one(arg, verb, fl))
    if argi < len(args):
        extra = ", ".join("<nil>" if a is None else f"{go_type(a)}={sprint_value(a)}" for a in args[argi:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


# ---------------------------------------------------------------- json


def _json_float(f: float) -> str:
    if math.isnan(f) or math.isinf(f):
        raise ValueError(f"json: unsupported value: {format_float(f)}")
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    ds, dp = _digits(f)
    a = abs(f)
    body = _exp_form(ds, dp) if a < 1e-6 or a >= 1e21 else _fixed_form(ds, dp)
    body = re.sub(r"e-0(\d)$", r"e-\1", body)
    return ("-" if f < 0 else "") + body


def _json_string(s: str) -> str:
    return json.dumps(s, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _to_plain(v: Any) -> Any:
    if v is MISSING:
        return None
    return v


def to_json(v: Any) -> str:
    """encoding/json, compact, map keys sorted, HTML characters left as they are (Docker's ``json``)."""
    if v is None or v is MISSING:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _json_float(v)
    if isinstance(v, str):
        return _json_string(v)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(to_json(e) for e in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{_json_string(str(k))}:{to_json(e)}"
                              for k, e in sorted(v.items(), key=lambda kv: str(kv[0]))) + "}"
    return "{" + ",".join(f"{_json_string(k)}:{to_json(e)}" for k, e in struct_fields(v)) + "}"

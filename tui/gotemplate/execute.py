"""Walk a parsed template over Python data with text/template's rules.

Dicts are Go maps (a missing key is ``<no value>``); any other object is a struct: a missing
attribute is an error, a callable attribute is a method and takes the command's arguments
(docker's ``{{.Label "x"}}``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .funcs import LAZY, ArgTypeError, FuncError, truth
from .parse import (
    Action,
    Break,
    Command,
    Continue,
    If,
    Node,
    Pipeline,
    Range,
    TemplateExecError,
    Text,
    With,
)
from .printing import MISSING, go_quote, go_type, sprint_value

__all__ = ["execute"]

_NO_FINAL = object()  # no value piped in from the previous command
_CONTEXT_MAX = 20  # Go's ErrorContext cuts the node text at 20 bytes


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def _term_str(t: Any) -> str:
    kind = t[0]
    if kind == "field":
        return "".join("." + n for n in t[1])
    if kind == "chain":
        return _term_str(t[1]) + "".join("." + n for n in t[2])
    if kind == "string":
        return go_quote(t[1])
    if kind == "nil":
        return "nil"
    if kind == "bool":
        return "true" if t[1] else "false"
    if kind == "number":
        return t[2]  # as written: Go's NumberNode keeps its text
    if kind == "pipe":
        return "(" + _pipe_str(t[1]) + ")"
    return str(t[1])  # var, func, dot


def _pipe_str(p: Pipeline) -> str:
    decl = ""
    if p.decl:
        decl = ", ".join(p.decl) + (" = " if p.assign else " := ")
    return decl + " | ".join(" ".join(_term_str(a) for a in c.args) for c in p.cmds)


def _nodes_str(nodes: list[Node] | None) -> str:
    """Go's Node.String for a list: how an error names a whole {{range}}."""
    out = []
    for n in nodes or []:
        if isinstance(n, Text):
            out.append(n.text)
        elif isinstance(n, Action):
            out.append("{{" + _pipe_str(n.pipe) + "}}")
        elif isinstance(n, (Break, Continue)):
            out.append("{{break}}" if isinstance(n, Break) else "{{continue}}")
        elif isinstance(n, If):
            kw = "range" if isinstance(n, Range) else "with" if isinstance(n, With) else "if"
            tail = "" if n.orelse is None else "{{else}}" + _nodes_str(n.orelse)
            out.append(f"{{{{{kw} {_pipe_str(n.pipe)}}}}}{_nodes_str(n.body)}{tail}{{{{end}}}}")
    return "".join(out)


class _State:
    def __init__(self, src: str, funcs: Mapping[str, Callable[..., Any]]) -> None:
        self.src = src
        self.funcs = funcs
        self.vars: list[tuple[str, Any]] = []
        self.out: list[str] = []

    # ------------------------------------------------------------ errors

    def fail(self, pos: int, context: str, msg: str) -> TemplateExecError:
        before = self.src[:pos]
        line = before.count("\n") + 1
        col = len(before[before.rfind("\n") + 1 :].encode())
        ctx = context.encode()
        if len(ctx) > _CONTEXT_MAX:
            context = ctx[:_CONTEXT_MAX].decode(errors="ignore") + "..."
        return TemplateExecError(f'template: :{line}:{col}: executing "" at <{context}>: {msg}')

    # ------------------------------------------------------------ variables

    def lookup(self, name: str) -> Any:
        for n, v in reversed(self.vars):
            if n == name:
                return v
        raise AssertionError(f"parser let an undefined variable through: {name}")

    def assign(self, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return

    # ------------------------------------------------------------ walk

    def walk(self, dot: Any, nodes: list[Node]) -> None:
        for node in nodes:
            if isinstance(node, Text):
                self.out.append(node.text)
            elif isinstance(node, Action):
                value = self.pipeline(dot, node.pipe)
                if not node.pipe.decl:
                    self.out.append(self.printable(value))
            elif isinstance(node, Range):
                self.range(dot, node)
            elif isinstance(node, (If, With)):
                self.if_or_with(dot, node)
            elif isinstance(node, Break):
                raise _Break
            elif isinstance(node, Continue):
                raise _Continue

    def printable(self, v: Any) -> str:
        if v is MISSING:
            return "<no value>"
        return sprint_value(v)

    def scoped(self, dot: Any, nodes: list[Node]) -> None:
        mark = len(self.vars)
        try:
            self.walk(dot, nodes)
        finally:
            del self.vars[mark:]

    def if_or_with(self, dot: Any, node: If) -> None:
        mark = len(self.vars)
        try:
            value = self.pipeline(dot, node.pipe)
            if truth(value):
                self.walk(value if isinstance(node, With) else dot, node.body)
            elif node.orelse is not None:
                self.walk(dot, node.orelse)  # the pipeline's variables reach {{else}} too
        finally:
            del self.vars[mark:]

    def range(self, dot: Any, node: Range) -> None:
        mark = len(self.vars)
        try:
            # the range variables are set per element, not from the pipeline's value
            decl, node.pipe.decl = node.pipe.decl, []
            try:
                value = self.pipeline(dot, node.pipe)
            finally:
                node.pipe.decl = decl
            if value is None or value is MISSING:
                items: list[tuple[Any, Any]] = []
            elif isinstance(value, dict):
                items = sorted(value.items(), key=lambda kv: (str(type(kv[0])), kv[0]))
            elif isinstance(value, (list, tuple)):
                items = list(enumerate(value))
            elif isinstance(value, int) and not isinstance(value, bool):
                if len(decl) > 1:
                    raise self.fail(node.pipe.pos, _nodes_str([node]), "can't use 2 iteration variables with integer")
                items = [(i, i) for i in range(value)]
            else:
                raise self.fail(node.pipe.pos, _nodes_str([node]), f"range can't iterate over {sprint_value(value)}")
            if not items:
                if node.orelse is not None:
                    self.scoped(dot, node.orelse)
                return
            for key, elem in items:
                del self.vars[mark:]
                if len(decl) == 1:
                    self.vars.append((decl[0], elem))
                elif len(decl) == 2:
                    self.vars.extend([(decl[0], key), (decl[1], elem)])
                try:
                    self.scoped(elem, node.body)
                except _Continue:
                    continue
                except _Break:
                    break
        finally:
            del self.vars[mark:]

    # ------------------------------------------------------------ pipelines

    def pipeline(self, dot: Any, pipe: Pipeline) -> Any:
        value: Any = _NO_FINAL
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
        for name in pipe.decl:
            if pipe.assign:
                self.assign(name, value)
            else:
                self.vars.append((name, value))
        return value

    def command(self, dot: Any, cmd: Command, final: Any) -> Any:
        first, args = cmd.args[0], cmd.args[1:]
        kind = first[0]
        if kind == "field":
            return self.field_chain(dot, dot, first[1], first, args, final)
        if kind == "chain":
            receiver = self.term(dot, first[1])
            return self.field_chain(dot, receiver, first[2], first, args, final)
        if kind == "func":
            return self.call(dot, first[1], cmd, args, final)
        if args or final is not _NO_FINAL:
            raise self.fail(first[-1], _term_str(first), f"can't give argument to non-function {_term_str(first)}")
        return self.term(dot, first)

    def term(self, dot: Any, t: Any) -> Any:
        kind = t[0]
        if kind == "dot":
            return dot
        if kind == "var":
            return self.lookup(t[1])
        if kind in ("string", "number", "bool", "nil"):
            return t[1]
        if kind == "pipe":
            mark = len(self.vars)
            value = self.pipeline(dot, t[1])
            del self.vars[mark:]
            return value
        if kind == "field":
            return self.field_chain(dot, dot, t[1], t, [], _NO_FINAL)
        if kind == "chain":
            return self.field_chain(dot, self.term(dot, t[1]), t[2], t, [], _NO_FINAL)
        if kind == "func":
            # a function named as an argument is called with no arguments (Go's evalArg → evalFunction)
            return self.call(dot, t[1], Command(t[2], [t]), [], _NO_FINAL)
        raise AssertionError(kind)

    def field_chain(self, dot: Any, receiver: Any, names: list[str], node: Any, args: list, final: Any) -> Any:
        for i, name in enumerate(names):
            last = i == len(names) - 1
            receiver = self.field(dot, receiver, name, node, args if last else [], final if last else _NO_FINAL)
        return receiver

    def field(self, dot: Any, receiver: Any, name: str, node: Any, args: list, final: Any) -> Any:
        has_args = bool(args) or final is not _NO_FINAL
        ctx, pos = _term_str(node), node[-1]
        if receiver is MISSING:
            return MISSING
        if receiver is None:
            raise self.fail(pos, ctx, f"nil pointer evaluating interface {{}}.{name}")
        if isinstance(receiver, dict):
            if has_args:
                raise self.fail(pos, ctx, f"{name} is not a method but has arguments")
            return receiver.get(name, MISSING)
        if (isinstance(receiver, (str, bytes, int, float, bool, list, tuple)) or not hasattr(receiver, name)
                or name.startswith("_")):
            raise self.fail(pos, ctx, f"can't evaluate field {name} in type {go_type(receiver)}")
        attr = getattr(receiver, name)
        if callable(attr):
            values = [self.arg(dot, a) for a in args]
            if final is not _NO_FINAL:
                values.append(final)
            try:
                return attr(*values)
            except TypeError as err:
                raise self.fail(pos, ctx, f"wrong number of args for {name}: {err}") from err
            except Exception as err:  # a method's own failure, as Go's "error calling X"
                raise self.fail(pos, ctx, f"error calling {name}: {err}") from err
        if has_args:
            raise self.fail(pos, ctx, f"{name} has arguments but cannot be invoked as function")
        return attr

    def arg(self, dot: Any, a: Any) -> Any:
        return self.term(dot, a)

    def call(self, dot: Any, name: str, cmd: Command, args: list, final: Any) -> Any:
        fn = self.funcs[name]
        ctx = " ".join(_term_str(a) for a in cmd.args)
        if name in LAZY:
            thunks: list[Callable[[], Any]] = [lambda a=a: self.arg(dot, a) for a in args]
            if final is not _NO_FINAL:
                thunks.append(lambda: final)
            values: list[Any] = thunks
        else:
            values = [self.arg(dot, a) for a in args]
            if final is not _NO_FINAL:
                values.append(final)
        try:
            return fn(*values)
        except ArgTypeError as err:
            raise self.fail(cmd.pos, ctx, str(err)) from err
        except FuncError as err:
            raise self.fail(cmd.pos, ctx, f"error calling {name}: {err}") from err


def execute(src: str, nodes: list[Node], data: Any, funcs: Mapping[str, Callable[..., Any]],
            partial: bool = False) -> str:
    """Run parsed ``nodes`` (from ``src``, for error positions) with ``data`` as dot and ``$``.

    ``partial`` returns what was written before an error instead of raising (docker ignores
    the header row's execution error and prints what it got).
    """
    state = _State(src, funcs)
    state.vars.append(("$", data))
    try:
        state.walk(data, nodes)
    except TemplateExecError:
        if not partial:
            raise
    return "".join(state.out)

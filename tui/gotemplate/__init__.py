"""Docker's ``--format``: Go text/template with docker/cli's functions and its ``table`` directive.

Parse once, execute per row::

    tmpl = parse("{{.Names}}\\t{{.Status | upper}}")
    line = tmpl.execute(row)

``format_rows`` does what docker/cli's formatter does for ``ps``/``images``/``volume ls``: the
``table`` prefix, ``\\t``/``\\n`` escapes, ``json`` as ``{{json .}}``, a header row rendered
from the verb's column titles, and tabwriter alignment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .execute import execute
from .funcs import FUNCS, HEADER_FUNCS
from .parse import (
    Node,
    TemplateError,
    TemplateExecError,
    TemplateParseError,
    parse_tree,
)
from .printing import MISSING
from .tabwriter import tabulate

__all__ = [
    "MISSING",
    "Template",
    "TemplateError",
    "TemplateExecError",
    "TemplateParseError",
    "format_rows",
    "is_table",
    "parse",
    "preformat",
    "render",
    "render_table",
    "tabulate",
]

TABLE_KEY = "table"
JSON_KEY = "json"
JSON_FORMAT = "{{json .}}"
_EXEC_PREFIX = "template parsing error: "  # docker wraps per-row execution errors in this too


@dataclass(frozen=True)
class Template:
    """A parsed template; :meth:`execute` runs it on one value (dot and ``$``)."""

    source: str
    nodes: list[Node] = field(repr=False, compare=False)

    def execute(self, data: Any) -> str:
        """Render with ``data`` as dot; raises :class:`TemplateExecError` with Go's message."""
        return execute(self.source, self.nodes, data, FUNCS)

    def execute_header(self, headers: Mapping[str, Any]) -> str:
        """Render the header row as docker does: header functions, output kept up to any error."""
        return execute(self.source, self.nodes, headers, HEADER_FUNCS, partial=True)


def parse(template: str) -> Template:
    """Parse Go template text; raises :class:`TemplateParseError` (``template parsing error: …``)."""
    return Template(template, parse_tree(template))


def render(template: str, data: Any) -> str:
    """Parse and execute once (``docker inspect --format`` adds the newline per object itself)."""
    return parse(template).execute(data)


def is_table(fmt: str) -> bool:
    """True for a ``table …`` format (docker tests the prefix only)."""
    return fmt.startswith(TABLE_KEY)


def preformat(fmt: str) -> str:
    """docker's preFormat: drop ``table``, ``json`` → ``{{json .}}``, trim spaces, expand ``\\t``/``\\n``."""
    if is_table(fmt):
        fmt = fmt[len(TABLE_KEY) :]
    elif fmt == JSON_KEY:
        fmt = JSON_FORMAT
    fmt = fmt.strip(" ")
    return fmt.replace("\\t", "\t").replace("\\n", "\n")


class _TitleFromName(dict):
    """Header data when a verb gives no titles: every field's title is its name in capitals."""

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str)

    def __getitem__(self, key: str) -> str:
        return dict.get(self, key, key.upper())

    def get(self, key: str, default: Any = None) -> str:  # type: ignore[override]
        return self[key]


def render_table(template: str | Template, rows: Iterable[Any], headers: Mapping[str, Any] | None = None) -> str:
    """A header row from ``headers`` (field name → column title), then one line per row, aligned.

    ``template`` is the part after ``table`` with escapes already expanded (see :func:`preformat`).
    """
    tmpl = template if isinstance(template, Template) else parse(template)
    body = [_row(tmpl, row) for row in rows]
    header = tmpl.execute_header(_TitleFromName() if headers is None else headers)
    return tabulate(header + "\n" + "".join(body))


def format_rows(fmt: str, rows: Iterable[Any], headers: Mapping[str, Any] | None = None) -> str:
    """docker/cli's ``Context.Write``: ``table`` formats aligned under a header, others a line per row."""
    tmpl = parse(preformat(fmt))
    if is_table(fmt):
        return render_table(tmpl, rows, headers)
    return "".join(_row(tmpl, row) for row in rows)


def _row(tmpl: Template, row: Any) -> str:
    try:
        return tmpl.execute(row) + "\n"
    except TemplateExecError as err:
        raise TemplateExecError(_EXEC_PREFIX + str(err)) from err

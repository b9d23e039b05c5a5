"""Docker's --format templates: golden outputs from Docker's and Go's documented behaviour."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from engine.errors import BerthError
from tui.gotemplate import (
    TemplateError,
    TemplateExecError,
    TemplateParseError,
    format_rows,
    parse,
    preformat,
    render,
    render_table,
    tabulate,
)

INSPECT = {
    "Id": "4fa6e0f0c678",
    "Name": "/web",
    "State": {"Status": "running", "Running": True, "Paused": False, "Pid": 4242, "ExitCode": 0},
    "Config": {
        "Image": "nginx:latest",
        "Env": ["PATH=/usr/bin", "A=<b>&c"],
        "Labels": {"com.example.vendor": "ACME", "version": "1.0"},
        "Cmd": None,
    },
    "Mounts": [
        {"Type": "volume", "Source": "/var/lib/berth/volumes/data/_data", "Destination": "/data"},
        {"Type": "bind", "Source": "/srv", "Destination": "/srv"},
    ],
    "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}, "alpha": {"IPAddress": "10.0.0.3"}}},
    "HostConfig": {"LogConfig": {"Type": "json-file"}},
    "Ratio": 0.25,
}


@dataclass(frozen=True)
class PsRow:
    """Stands for docker's ContainerContext: fields plus a method taking an argument."""

    ID: str
    Image: str
    Names: str
    Status: str
    Labels: str = ""

    def Label(self, name: str) -> str:
        for pair in self.Labels.split(","):
            key, _, value = pair.partition("=")
            if key == name:
                return value
        return ""


ROWS = [
    PsRow("4fa6e0f0c678", "nginx", "web", "Up 2 hours", "tier=front,owner=ops"),
    PsRow("1a2b3c4d5e6f", "postgres:16", "database-primary", "Exited (0) 3 days ago"),
]
PS_HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Names": "NAMES", "Status": "STATUS", "Labels": "LABELS"}


# ---------------------------------------------------------------- docker inspect --format


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{.State.Running}}", "true"),
        ("{{.State.Pid}}", "4242"),
        ("{{.Name}}", "/web"),
        ("{{.Config.Image}}", "nginx:latest"),
        ("{{json .Config}}", ('{"Cmd":null,"Env":["PATH=/usr/bin","A=<b>&c"],"Image":"nginx:latest",'
                              '"Labels":{"com.example.vendor":"ACME","version":"1.0"}}')),
        ("{{json .State.Running}}", "true"),
        ("{{json .Config.Env}}", '["PATH=/usr/bin","A=<b>&c"]'),
        ("{{range .Mounts}}{{.Source}} {{end}}", "/var/lib/berth/volumes/data/_data /srv "),
        ("{{range $m := .Mounts}}{{$m.Type}},{{end}}", "volume,bind,"),
        ('{{index .Config.Labels "version"}}', "1.0"),
        ('{{index .Config.Labels "com.example.vendor"}}', "ACME"),
        ('[{{index .Config.Labels "missing"}}]', "[]"),  # map[string]string: the zero value ""
        ("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", "10.0.0.3 172.17.0.2 "),  # sorted keys
        ("{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}};{{end}}",
         "alpha=10.0.0.3;bridge=172.17.0.2;"),
        ("{{.HostConfig.LogConfig.Type}}", "json-file"),
        ("{{.Config.Labels}}", "map[com.example.vendor:ACME version:1.0]"),
        ("{{.Config.Env}}", "[PATH=/usr/bin A=<b>&c]"),
        ("{{.Config.Cmd}}", "<nil>"),
        ("{{.Missing}}", "<no value>"),
        ("{{.Config.Missing.Deeper}}", "<no value>"),
        ("{{.Ratio}}", "0.25"),
        ("{{len .Mounts}} {{len .Config.Labels}} {{len .Name}}", "2 2 4"),
        ("{{(index .Mounts 1).Destination}}", "/srv"),
        ("{{with .State}}{{.Status}}{{end}}", "running"),
        ("{{with .Config.Cmd}}has{{else}}none{{end}}", "none"),
        ("{{if .State.Paused}}paused{{else if .State.Running}}running{{else}}stopped{{end}}", "running"),
        ("{{$.Name}}{{with .State}}{{$.Name}}:{{.Pid}}{{end}}", "/web/web:4242"),
        ("{{range .Config.Env}}{{$.Name}}{{end}}", "/web/web"),
        ("{{range .Nothing}}x{{else}}empty{{end}}", "empty"),
        ("{{range .Config.Cmd}}x{{else}}empty{{end}}", "empty"),
        ("{{range $i, $e := .Config.Env}}{{$i}}:{{$e}} {{end}}", "0:PATH=/usr/bin 1:A=<b>&c "),
        ("{{.State.Status | upper}}", "RUNNING"),
        ('{{join .Config.Env ","}}', "PATH=/usr/bin,A=<b>&c"),
        ('{{split .Config.Image ":"}}', "[nginx latest]"),
        ('{{index (split .Config.Image ":") 1}}', "latest"),
        ("{{title .State.Status}}", "Running"),
    ],
)
def test_inspect_templates(template: str, expected: str) -> None:
    assert render(template, INSPECT) == expected


def test_dot_prints_whole_value_as_go_does() -> None:
    assert render("{{.}}", {"b": 2, "a": [1, "x"], "c": None}) == "map[a:[1 x] b:2 c:<nil>]"
    assert render("{{.}}", [1, 2.5, True, "s"]) == "[1 2.5 true s]"
    assert render("{{.}}", None) == "<nil>"


# ---------------------------------------------------------------- syntax


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("a {{- 1 -}} b", "a1b"),
        ("a  \n{{- 1}} b", "a1 b"),
        ("{{1 -}}\n\t b", "1b"),
        ("{{-3}}", "-3"),  # no space: a negative number, not a trim marker
        ("x{{/* a comment */}}y", "xy"),
        ("x {{- /* trimmed */ -}} y", "xy"),
        ('{{"a\\tb\\n\\"q\\""}}', 'a\tb\n"q"'),
        ("{{`raw \\n`}}", "raw \\n"),
        ("{{'a'}}", "97"),
        ("{{0x1F}} {{1_000}} {{017}} {{1.5}} {{1e3}}", "31 1000 15 1.5 1000"),
        ("{{true}} {{false}}", "true false"),
        ("{{$x := \"v\"}}{{$x}}", "v"),
        ("{{$x := 1}}{{$x = 2}}{{$x}}", "2"),
        ("{{$x := 1}}{{if true}}{{$x = 3}}{{end}}{{$x}}", "3"),
        ("{{with $y := 5}}{{$y}}{{end}}", "5"),
        ("{{if $v := 0}}yes{{else}}{{$v}}{{end}}", "0"),
        ('{{"a" | printf "%s-%s" "b"}}', "b-a"),
        ('{{"Hello" | lower | upper}}', "HELLO"),
        ("{{(1)}}", "1"),
        ("{{$m := .}}{{$m}} {{(slice . 3)}} {{len $m}}", "[a b c d] [d] 4"),
        ("{{range 3}}{{.}}{{end}}", "012"),
        ("{{range $i, $e := .}}{{if eq $i 2}}{{break}}{{end}}{{$e}}{{end}}", "ab"),
        ("{{range .}}{{if eq . \"b\"}}{{continue}}{{end}}{{.}}{{end}}", "acd"),
        ("{{with 0}}x{{else with 2}}{{.}}{{end}}", "2"),
    ],
)
def test_syntax(template: str, expected: str) -> None:
    assert render(template, ["a", "b", "c", "d"]) == expected


@pytest.mark.parametrize(
    ("value", "truth"),
    [(0, "F"), (1, "T"), (0.0, "F"), ("", "F"), ("0", "T"), ([], "F"), ([0], "T"), ({}, "F"),
     ({"a": 1}, "T"), (None, "F"), (False, "F"), (PsRow("", "", "", ""), "T")],
)
def test_truthiness(value: object, truth: str) -> None:
    assert render("{{if .}}T{{else}}F{{end}}", value) == truth


# ---------------------------------------------------------------- builtins


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{and 1 0 2}} {{and 1 2}} {{or 0 \"\" 3}} {{or 0 \"\"}}", "0 2 3 "),
        ("{{not 0}} {{not \"x\"}}", "true false"),
        ("{{and 0 (index .L 9)}}", "0"),  # short-circuits: index would fail
        ('{{eq 1 1}} {{eq "a" "b"}} {{eq 2 1 3 2}} {{ne 1 2}}', "true false true true"),
        ("{{lt 1 2}} {{le 2 2}} {{gt 1 2}} {{ge 2 3}} {{lt \"a\" \"b\"}}", "true true false false true"),
        ("{{eq .Nope nil}}", "true"),
        ("{{index .L 1}} {{index .M \"k\"}} {{index .N 0 1}}", "20 v 2"),
        ("{{slice .S 1 3}} {{slice .L 1}} {{slice .S}}", "el [20 30] hello"),
        ("{{len .S}} {{len .L}} {{len \"héllo\"}}", "5 3 6"),  # bytes, as Go
        ('{{print "a" "b" 1 2 "c"}}', "ab1 2c"),
        ('{{println "a" 1}}', "a 1\n"),
        ('{{html "<a href=\\"x\\">&\'"}}', "&lt;a href=&#34;x&#34;&gt;&amp;&#39;"),
        ('{{js "it\'s <b>=\\"x\\""}}', "it\\'s \\u003Cb\\u003E\\u003D\\\"x\\\""),
        ('{{urlquery "a b&c=d/é"}}', "a+b%26c%3Dd%2F%C3%A9"),
        ("{{call .F 2 3}}", "5"),
    ],
)
def test_builtins(template: str, expected: str) -> None:
    data = {"L": [10, 20, 30], "M": {"k": "v"}, "N": [[1, 2]], "S": "hello", "F": lambda a, b: a + b}
    assert render(template, data) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{{printf "%-10s|" .Name}}', "web       |"),
        ('{{printf "%10s|" .Name}}', "       web|"),
        ('{{printf "%5d|%-5d|%05d" 42 42 42}}', "   42|42   |00042"),
        ('{{printf "%+d %d" 5 -5}}', "+5 -5"),
        ('{{printf "%s %v %q" .Name .Name .Name}}', 'web web "web"'),
        ('{{printf "%q" "a\\"b\\n"}}', '"a\\"b\\n"'),
        ('{{printf "%t %v" true false}}', "true false"),
        ('{{printf "%x %X %#x %o %b" 255 255 255 8 5}}', "ff FF 0xff 10 101"),
        ('{{printf "%x" "hi"}}', "6869"),
        ('{{printf "%f %.2f %6.1f|%e" 3.14159 3.14159 2.5 1234.5}}', "3.141590 3.14    2.5|1.234500e+03"),
        ('{{printf "%g %v %v %v" 0.5 1e6 123456.0 1e-5}}', "0.5 1e+06 123456 1e-05"),
        ('{{printf "%c %U" 65 65}}', "A U+0041"),
        ('{{printf "%.3s|%5.1s|" "abcdef" "xyz"}}', "abc|    x|"),
        ('{{printf "%v" .M}}', "map[a:1 b:[x y]]"),
        ('{{printf "%s" .L}}', "[x y]"),
        ('{{printf "%d" .L}}', "[%!d(string=x) %!d(string=y)]"),
        ('{{printf "%d" "x"}}', "%!d(string=x)"),
        ('{{printf "%s" 5}}', "%!s(int=5)"),
        ('{{printf "%d %d" 1}}', "1 %!d(MISSING)"),
        ('{{printf "%d" 1 "x"}}', "1%!(EXTRA string=x)"),
        ('{{printf "100%%"}}', "100%"),
        ('{{printf "%*d|" 4 7}}', "   7|"),
        ('{{printf "%T %T %T" 1 "s" .L}}', "int string []interface {}"),
    ],
)
def test_printf_verbs(template: str, expected: str) -> None:
    assert render(template, {"Name": "web", "M": {"b": ["x", "y"], "a": 1}, "L": ["x", "y"]}) == expected


# ---------------------------------------------------------------- docker's functions


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{json .}}", '{"a":"<b>&","f":1.5,"i":3,"n":null,"w":1,"z":[true,false]}'),
        ('{{json "line\\nnext\\u2028"}}', '"line\\nnext\\u2028"'),
        ("{{json .big}}", "1e+21"),
        ('{{split "a,b,c" ","}} {{len (split "a,b" ",")}}', "[a b c] 2"),
        ('{{join (split "a b c" " ") "-"}}', "a-b-c"),
        ('{{title "hello wORLD-foo_bar"}}', "Hello WORLD-Foo_bar"),
        ('{{lower "ABC"}} {{upper "abc"}}', "abc ABC"),
        ('[{{pad "x" 2 1}}][{{pad "" 2 1}}]', "[  x ][]"),
        ('{{truncate "abcdef" 3}} {{truncate "ab" 3}} {{truncate "abc" 3}}', "abc ab abc"),
    ],
)
def test_docker_functions(template: str, expected: str) -> None:
    data = {"a": "<b>&", "f": 1.5, "i": 3, "n": None, "w": 1.0, "z": [True, False]}
    if ".big" in template:
        data = {"big": 1e21}
    assert render(template, data) == expected


def test_json_of_a_struct_keeps_field_order() -> None:
    assert render("{{json .}}", PsRow("1", "img", "n", "Up")) == (
        '{"ID":"1","Image":"img","Names":"n","Status":"Up","Labels":""}'
    )


# ---------------------------------------------------------------- rows: structs and methods


def test_struct_fields_and_method_with_argument() -> None:
    tmpl = parse('{{.ID}} {{.Names | upper}} {{.Label "tier"}}|{{.Label "none"}}|')
    assert [tmpl.execute(r) for r in ROWS] == [
        "4fa6e0f0c678 WEB front||",
        "1a2b3c4d5e6f DATABASE-PRIMARY ||",
    ]


def test_struct_printed_as_go_struct() -> None:
    assert render("{{.}}", PsRow("1", "img", "n", "Up")) == "{1 img n Up }"
    assert render('{{printf "%+v" .}}', PsRow("1", "img", "n", "Up")) == "{ID:1 Image:img Names:n Status:Up Labels:}"


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{.Name}", 'template parsing error: template: :1: unexpected "}" in operand'),
        ("{{.Name", "template parsing error: template: :1: unclosed action"),
        ("{{if .A}}x", "template parsing error: template: :1: unexpected EOF"),
        ("a\n{{end}}", "template parsing error: template: :2: unexpected {{end}}"),
        ("{{else}}", "template parsing error: template: :1: unexpected {{else}}"),
        ("{{nosuch .A}}", 'template parsing error: template: :1: function "nosuch" not defined'),
        ("{{}}", "template parsing error: template: :1: missing value for command"),
        ("{{if}}{{end}}", "template parsing error: template: :1: missing value for if"),
        ("{{$x}}", 'template parsing error: template: :1: undefined variable "$x"'),
        ("{{range .}}{{$e := 1}}{{end}}{{$e}}", 'template parsing error: template: :1: undefined variable "$e"'),
        ('{{"abc}}', "template parsing error: template: :1: unterminated quoted string"),
        ("{{/* open", "template parsing error: template: :1: unclosed comment"),
        ("{{break}}", "template parsing error: template: :1: {{break}} outside {{range}}"),
        ("{{(1}}", "template parsing error: template: :1: unclosed left paren"),
        ('{{"abc".X}}', 'template parsing error: template: :1: unexpected . after term "\\"abc\\""'),
        ("{{define \"x\"}}{{end}}",
         "template parsing error: template: :1: {{define}} is not supported in --format templates"),
    ],
)
def test_parse_errors(template: str, message: str) -> None:
    with pytest.raises(TemplateParseError) as info:
        parse(template)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("template", "data", "message"),
    [
        ("{{.Nope}}", ROWS[0], 'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type PsRow'),
        ("x {{.ID.X}}", ROWS[0], 'template: :1:4: executing "" at <.ID.X>: can\'t evaluate field X in type string'),
        ("{{.A.B}}", {"A": None}, 'template: :1:2: executing "" at <.A.B>: nil pointer evaluating interface {}.B'),
        ("{{lower 5}}", {},
         'template: :1:2: executing "" at <lower 5>: wrong type for value; expected string; got int'),
        ("{{index .L 5}}", {"L": [1]},
         'template: :1:2: executing "" at <index .L 5>: error calling index: index out of range: 5'),
        ("{{lt 1 2.0}}", {},
         'template: :1:2: executing "" at <lt 1 2.0>: error calling lt: incompatible types for comparison'),
        ("{{len 3}}", {}, 'template: :1:2: executing "" at <len 3>: error calling len: len of type int'),
        ('{{.M "x"}}', {"M": {}}, 'template: :1:2: executing "" at <.M>: M is not a method but has arguments'),
        ("{{range .}}{{end}}", "abc",
         'template: :1:8: executing "" at <{{range .}}{{end}}>: range can\'t iterate over abc'),
        ("\n  {{1 2}}", {}, 'template: :2:4: executing "" at <1>: can\'t give argument to non-function 1'),
        ("{{index .L \"a\"}}", {"L": [1]},
         'template: :1:2: executing "" at <index .L "a">: error calling index: '
         'cannot index slice/array with type string'),
    ],
)
def test_exec_errors(template: str, data: object, message: str) -> None:
    with pytest.raises(TemplateExecError) as info:
        render(template, data)
    assert str(info.value) == message


def test_errors_are_berth_errors() -> None:
    assert issubclass(TemplateParseError, TemplateError)
    assert issubclass(TemplateExecError, BerthError)
    assert issubclass(TemplateParseError, BerthError)


def test_long_error_context_is_cut_at_twenty_bytes() -> None:
    with pytest.raises(TemplateExecError, match=r"at <index \.Labels \"abcde\.\.\.>: error calling index"):
        render('{{index .Labels "abcdefghijk" 3}}', {"Labels": {"abcdefghijk": "x"}})


# ---------------------------------------------------------------- table and docker's format handling


def test_preformat_like_docker() -> None:
    assert preformat("table {{.ID}}\\t{{.Names}}") == "{{.ID}}\t{{.Names}}"
    assert preformat("json") == "{{json .}}"
    assert preformat("  {{.ID}}\\n ") == "{{.ID}}\n"


def test_table_aligns_with_dockers_tabwriter_settings() -> None:
    out = format_rows("table {{.ID}}\\t{{.Names}}\\t{{.Status}}", ROWS, PS_HEADERS)
    assert out == (
        "CONTAINER ID   NAMES              STATUS\n"
        "4fa6e0f0c678   web                Up 2 hours\n"
        "1a2b3c4d5e6f   database-primary   Exited (0) 3 days ago\n"
    )


def test_table_minimum_column_width_is_ten() -> None:
    rows = [{"A": "x", "B": "y"}]
    assert format_rows("table {{.A}}\\t{{.B}}", rows, {"A": "A", "B": "B"}) == "A         B\nx         y\n"


def test_table_header_keeps_titles_through_header_functions() -> None:
    out = format_rows('table {{.Names | upper}}\\t{{truncate .ID 4}}\\t{{json .Status}}', ROWS[:1], PS_HEADERS)
    assert out == 'NAMES     CONTAINER ID   STATUS\nWEB       4fa6           "Up 2 hours"\n'


def test_table_without_header_titles_uses_field_names() -> None:
    assert render_table("{{.ID}}\t{{.Image}}", ROWS[:1]) == "ID             IMAGE\n4fa6e0f0c678   nginx\n"


def test_table_header_error_keeps_what_was_written() -> None:
    # docker ignores the header row's execution error: {{.Label "x"}} fails on the title map
    out = format_rows('table {{.Names}}\\t{{.Label "tier"}}', ROWS[:1], PS_HEADERS)
    assert out == "NAMES     \nweb       front\n"  # the header line's tab still ends a cell


def test_non_table_format_prints_a_line_per_row() -> None:
    assert format_rows("{{.ID}}: {{.Names}}", ROWS) == "4fa6e0f0c678: web\n1a2b3c4d5e6f: database-primary\n"
    assert format_rows("json", [{"b": 1, "a": "x"}]) == '{"a":"x","b":1}\n'


def test_row_errors_carry_dockers_prefix() -> None:
    with pytest.raises(TemplateExecError, match=r"^template parsing error: template: :1:2: executing"):
        format_rows("{{.Nope}}", ROWS)


def test_tabwriter_columns_are_per_block() -> None:
    # a line with fewer cells ends the column block above it (elastic tabstops)
    text = "aaaaaaaaaaaaaaaa\tb\nc\n" "dd\te\n"
    assert tabulate(text) == "aaaaaaaaaaaaaaaa   b\nc\ndd        e\n"


def test_tabwriter_wide_runes_count_twice() -> None:
    assert tabulate("日本語日本語\tx\nab\ty\n") == "日本語日本語   x\nab             y\n"


def test_trailing_cell_is_not_a_column() -> None:
    assert tabulate("a\tlong trailing text\nb\tc\n") == "a         long trailing text\nb         c\n"


def test_objects_with_their_own_str_print_through_it() -> None:
    import datetime
    import enum

    class Color(enum.Enum):
        RED = 1

        def __str__(self) -> str:
            return "red"

    when = datetime.date(2026, 12, 3)
    assert render("{{.C}} {{.D}}", {"C": Color.RED, "D": when}) == "red 2026-12-03"
    assert render('{{printf "%-5s|%q" .C .D}}', {"C": Color.RED, "D": when}) == 'red  |"2026-12-03"'

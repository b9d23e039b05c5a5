"""The Dockerfile parser: directives, continuations, forms, flags, heredocs, ONBUILD, errors."""

from __future__ import annotations

import dataclasses

import pytest

from engine.builder.parser import (
    Dockerfile,
    Heredoc,
    Instruction,
    chomp_heredoc_content,
    dump,
    parse,
    parse_heredoc,
)
from engine.errors import BerthError, DockerfileParseError


def only(text: str) -> Instruction:
    """The single instruction after a FROM line."""
    df = parse("FROM scratch\n" + text)
    assert len(df.instructions) == 2
    return df.instructions[1]


# --- directives -------------------------------------------------------------


def test_escape_directive_switches_continuation_to_backtick() -> None:
    df = parse("# escape=`\nFROM scratch\nRUN dir c:\\ `\n  && echo done\n")
    assert df.escape == "`"
    assert df.instructions[1].args == ("dir c:\\   && echo done",)
    assert df.directive("escape") == "`"


def test_syntax_and_escape_directives_are_recorded_with_their_lines() -> None:
    df = parse("#  Syntax = docker/dockerfile:1  \n# escape=\\\nFROM scratch\n")
    assert [(d.name, d.value, d.line) for d in df.directives] == [
        ("syntax", "docker/dockerfile:1", 1),
        ("escape", "\\", 2),
    ]
    assert df.directive("check") is None


@pytest.mark.parametrize(
    "head",
    [
        "# a plain comment first\n# escape=`\n",
        "\n# escape=`\n",
        "FROM scratch\n# escape=`\n",
        "# unknown=1\n# escape=`\n",
    ],
    ids=["after-comment", "after-blank-line", "after-instruction", "after-unknown-directive"],
)
def test_directive_only_counts_at_the_very_top(head: str) -> None:
    df = parse(head + "FROM scratch\n")
    assert df.escape == "\\"
    assert df.directive("escape") is None


def test_repeated_directive_is_an_error() -> None:
    with pytest.raises(DockerfileParseError, match="on line 2: only one syntax parser directive"):
        parse("# syntax=a\n# syntax=b\nFROM scratch\n")


def test_escape_directive_accepts_only_backslash_or_backtick() -> None:
    with pytest.raises(DockerfileParseError, match="invalid escape token '!'"):
        parse("# escape=!\nFROM scratch\n")


# --- lines, comments, continuations ----------------------------------------


def test_comments_and_blank_lines_inside_a_continuation_are_skipped() -> None:
    df = parse("FROM scratch\nRUN a \\\n  # note\n\n  b\n")
    run = df.instructions[1]
    assert run.args == ("a   b",)
    assert (run.start_line, run.end_line) == (2, 5)
    assert [w.line for w in df.warnings] == [5]
    assert "Empty continuation line" in df.warnings[0].message


def test_escaped_escape_at_end_of_line_does_not_continue() -> None:
    df = parse("FROM scratch\nENV A=x\\\\\nENV B=y\n")
    assert [i.args for i in df.instructions[1:]] == [("A", "x\\\\", "="), ("B", "y", "=")]


def test_continuation_at_end_of_file_is_accepted() -> None:
    assert only("RUN true \\").args == ("true",)


def test_crlf_line_endings_and_bom() -> None:
    df = parse("\ufeffFROM scratch\r\nRUN a \\\r\n b\r\n")
    assert [i.original for i in df.instructions] == ["FROM scratch", "RUN a  b"]


def test_instruction_case_is_lowered_and_original_kept() -> None:
    ins = only("wOrKdIr /app")
    assert (ins.cmd, ins.original, ins.args) == ("workdir", "wOrKdIr /app", ("/app",))


def test_unknown_instruction_parses_with_one_empty_argument() -> None:
    # BuildKit rejects it later, in the builder; the parse tree still holds it.
    assert only("FLY away").args == ("",)


# --- forms and argument splitting ------------------------------------------


def test_exec_and_shell_forms() -> None:
    exec_form = only('CMD ["echo", "a b"]')
    shell_form = only("CMD echo a b")
    assert (exec_form.args, exec_form.json_form) == (("echo", "a b"), True)
    assert (shell_form.args, shell_form.json_form) == (("echo a b",), False)


@pytest.mark.parametrize("text", ['["a", "b"', "['a']", '["a"] trailing', "[NaN]"])
def test_broken_json_falls_back_to_shell_form(text: str) -> None:
    ins = only("ENTRYPOINT " + text)
    assert (ins.args, ins.json_form) == ((text,), False)


def test_json_array_of_non_strings_is_an_error() -> None:
    with pytest.raises(DockerfileParseError, match="on line 2: .*arrays must be comprised of strings only"):
        parse('FROM scratch\nRUN ["a", 1]\n')


def test_empty_json_array_is_exec_form_without_args() -> None:
    ins = only("SHELL []")
    assert (ins.args, ins.json_form) == ((), True)


def test_copy_shell_form_splits_on_whitespace() -> None:
    assert only("COPY  a\tb   /dst/").args == ("a", "b", "/dst/")


def test_env_new_form_keeps_quotes_and_escapes_for_the_builder() -> None:
    ins = only("ENV A=1 B=\"two words\" C=a\\ b D=")
    assert ins.args == ("A", "1", "=", "B", '"two words"', "=", "C", "a\\ b", "=", "D", "", "=")


def test_env_legacy_form_takes_the_rest_of_the_line() -> None:
    assert only("ENV PATH /usr/bin  /bin").args == ("PATH", "/usr/bin  /bin", "")


def test_env_mixed_forms_is_an_error() -> None:
    with pytest.raises(DockerfileParseError, match="""on line 3: Syntax error - can't find = in "b\""""):
        parse("FROM scratch\n\nLABEL a=1 b\n")


def test_env_key_without_value_is_an_error() -> None:
    with pytest.raises(DockerfileParseError, match="ENV must have two arguments"):
        parse("FROM scratch\nENV ONLYKEY\n")


def test_arg_keeps_one_word_per_definition() -> None:
    assert only("ARG A B=2 C='x y'").args == ("A", "B=2", "C='x y'")


def test_healthcheck_type_then_command() -> None:
    ins = only('HEALTHCHECK --interval=5s CMD ["curl", "-f", "x"]')
    assert (ins.flags, ins.args, ins.json_form) == (("--interval=5s",), ("CMD", "curl", "-f", "x"), True)
    assert only("HEALTHCHECK NONE").args == ("NONE",)


# --- flags -----------------------------------------------------------------


def test_flags_lose_their_quotes_and_stop_at_double_dash() -> None:
    ins = only('COPY --from="build stage" --chown=a:b -- --not-a-flag /dst')
    assert ins.flags == ("--from=build stage", "--chown=a:b")
    assert ins.args == ("--not-a-flag", "/dst")


def test_flag_escapes_protect_blanks() -> None:
    assert only("RUN --mount=type=secret,id=a\\ b --x='q\\'' true").flags == ("--mount=type=secret,id=a b", "--x=q'")


def test_flags_only() -> None:
    ins = only("RUN --network=none")
    assert (ins.flags, ins.args) == (("--network=none",), ())


# --- heredocs --------------------------------------------------------------


def test_heredoc_body_is_attached_and_lines_are_counted() -> None:
    df = parse("FROM scratch\nRUN <<EOT bash\nset -e\necho $HOME\nEOT\nUSER nobody\n")
    run, user = df.instructions[1:]
    assert run.heredocs == (Heredoc("EOT", "set -e\necho $HOME\n"),)
    assert run.args == ("<<EOT bash",)
    assert (run.start_line, run.end_line) == (2, 5)
    assert (user.start_line, user.args) == (6, ("nobody",))


def test_several_heredocs_on_one_line_are_read_in_order() -> None:
    ins = only("COPY <<ONE 5<<-'TWO' /etc/\n1\nONE\n\t2\n\tTWO\n")
    assert ins.heredocs == (
        Heredoc("ONE", "1\n"),
        Heredoc("TWO", "\t2\n", file_descriptor=5, expand=False, chomp=True),
    )
    assert chomp_heredoc_content(ins.heredocs[1].content) == "2\n"


def test_quoted_heredoc_word_is_not_a_heredoc() -> None:
    assert only('RUN echo "<<EOF"').heredocs == ()


def test_json_form_and_other_instructions_take_no_heredocs() -> None:
    df = parse('FROM scratch\nRUN ["<<EOF"]\nLABEL x=<<EOF\nEOF\n')
    # The would-be delimiter line is an instruction of its own (an unknown one).
    assert [i.heredocs for i in df.instructions] == [(), (), (), ()]


def test_onbuild_heredoc_belongs_to_the_onbuild() -> None:
    ins = only("ONBUILD RUN <<X\nhi\nX\n")
    assert ins.heredocs == (Heredoc("X", "hi\n"),)
    assert ins.child is not None and ins.child.cmd == "run"


def test_unterminated_heredoc_names_its_instruction_line() -> None:
    with pytest.raises(DockerfileParseError, match="on line 2: unterminated heredoc"):
        parse("FROM scratch\nRUN <<EOF\necho\n")


@pytest.mark.parametrize(
    ("word", "name", "expand"),
    [("<<EOF", "EOF", True), ("<<'EOF'", "EOF", False), ('<<E"O"F', "EOF", False), ("<<E\\'F", "E'F", True)],
)
def test_parse_heredoc_word(word: str, name: str, expand: bool) -> None:
    doc = parse_heredoc(word)
    assert doc is not None and (doc.name, doc.expand) == (name, expand)


@pytest.mark.parametrize("word", ["<<", "<EOF", "<<<EOF", "<<EOF sh", "x<<EOF"])
def test_parse_heredoc_rejects_non_heredocs(word: str) -> None:
    assert parse_heredoc(word) is None


# --- ONBUILD, errors, dump, data model -------------------------------------


def test_onbuild_nests_the_trigger() -> None:
    df = parse("FROM scratch\nONBUILD ADD --chown=1 . /app\nONBUILD\n")
    trigger = df.instructions[1].child
    assert trigger is not None
    assert (trigger.cmd, trigger.flags, trigger.args, trigger.original) == (
        "add",
        ("--chown=1",),
        (".", "/app"),
        "ADD --chown=1 . /app",
    )
    assert df.instructions[2].child is None
    assert dump(df) == '(from "scratch")\n(onbuild (add ["--chown=1"] "." "/app"))\n(onbuild)'


def test_dump_quotes_like_go() -> None:
    df = parse('FROM scratch\nLABEL k="tab\there é\x7f"\n')
    assert dump(df).splitlines()[1] == '(label "k" "\\"tab\\there é\\x7f\\"" "=")'


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "# escape=`\n\n"])
def test_file_without_instructions_is_an_error(text: str) -> None:
    with pytest.raises(DockerfileParseError, match="file with no instructions") as info:
        parse(text)
    assert isinstance(info.value, BerthError)


def test_results_are_frozen() -> None:
    df = parse("FROM scratch\n")
    assert isinstance(df, Dockerfile)
    with pytest.raises(dataclasses.FrozenInstanceError):
        df.instructions[0].cmd = "run"  # type: ignore[misc]

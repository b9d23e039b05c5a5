"""Docker's word lexer: quotes, escapes, substitution forms, word splitting."""

from __future__ import annotations

import pytest

from engine.builder.shell_lex import ShellLex, go_quote, process_word, process_words
from engine.errors import DockerfileParseError

ENV = {"HOME": "/root", "EMPTY": "", "NAME": "berth", "GREETING": "안녕"}


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        # quotes and escapes
        ("plain", "plain"),
        ("a'b c'd", "ab cd"),
        ('a"b c"d', "ab cd"),
        ("a\\ b", "a b"),
        ("a\\n", "an"),
        ("a\\'b", "a'b"),
        ('"a\\nb"', "a\\nb"),
        ('"a\\\\b"', "a\\b"),
        ('"a\\"b"', 'a"b'),
        ("'a\\nb'", "a\\nb"),
        ("'a\\'", "a\\"),
        ("tail\\", "tail"),
        ("tail\\\\", "tail\\"),
        ("\"'quoted'\"", "'quoted'"),
        ("'\"quoted\"'", '"quoted"'),
        # $name
        ("$HOME/x", "/root/x"),
        ("$HOME.x", "/root.x"),
        ("$UNSET-x", "-x"),
        ("$", "$"),
        ("a$.b", "a$.b"),
        ("\\$HOME", "$HOME"),
        ("\\\\$HOME", "\\/root"),
        ('"$HOME"', "/root"),
        ('"\\$HOME"', "$HOME"),
        ("'$HOME'", "$HOME"),
        ("${GREETING}세계", "안녕세계"),
        ("$GREETING세계", ""),  # letters of any script continue a name
        # positional and special parameters are never set
        ("x$1y", "xy"),
        ("x$12y", "xy"),
        ("x$@y", "xy"),
        ("x$$y", "xy"),
        ("x${0}y", "xy"),
        ("${#:-d}", "d"),
        # ${name} and its modifiers
        ("${HOME}x", "/rootx"),
        ("${UNSET}x", "x"),
        ("${UNSET:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${EMPTY-fallback}", ""),
        ("${NAME:-fallback}", "berth"),
        ("${UNSET-fallback}", "fallback"),
        ("${UNSET:-$HOME}", "/root"),
        ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
        ("${UNSET:-a b}", "a b"),
        ("${UNSET:-\\}}", "}"),
        ("${NAME:+set}", "set"),
        ("${EMPTY:+set}", ""),
        ("${EMPTY+set}", "set"),
        ("${UNSET+set}", ""),
        ("${NAME:+${NAME}:}", "berth:"),
        ("${NAME?}", "berth"),
        ("${EMPTY?}", ""),
        ("${HOME}}", "/root}"),
        ("${UNSET:-a {b}", "a {b"),
        # pattern removal and replacement
        ("${HOME#/}", "root"),
        ("${NAME%th}", "ber"),
        ("${NAME#*r}", "th"),
        ("${NAME##*r}", "th"),
        ("${HOME%o*}", "/ro"),
        ("${HOME%%o*}", "/r"),
        ("${NAME/r/R}", "beRth"),
        ("${NAME//[r]/R}", "berth"),
        ("${NAME/?/B}", "Berth"),
        ("${HOME//\\//:}", ":root"),
    ],
)
def test_process_word(word: str, expected: str) -> None:
    assert process_word(word, ENV) == expected


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("'open", "matching single-quote"),
        ('"open', "matching double-quote"),
        ('"open\\"', "matching double-quote"),
        ("${}", "bad substitution"),
        ("${:-x}", "bad substitution"),
        ("${{x}", "bad substitution"),
        ("${HOME", "missing '}'"),
        ("${UNSET:-x", "missing '}'"),
        ("${UNSET:-${x}", "missing '}'"),
        ("${HOME.x}", "unsupported modifier (.)"),
        ("${HOME:x}", "unsupported modifier (:x)"),
        ("${HOME=x}", "unsupported modifier (=)"),
        ("${HOME:=x}", "unsupported modifier (:=)"),
        ("${HOME:#x}", "unsupported modifier (:#)"),
        ("${UNSET?}", "UNSET: is not allowed to be unset"),
        ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
        ("${UNSET:?set $NAME first}", "UNSET: set berth first"),
        ("${HOME/x}", "missing '/'"),
        ("${HOME#\\x}", "invalid escape"),
    ],
)
def test_errors_name_the_word(word: str, message: str) -> None:
    with pytest.raises(DockerfileParseError) as info:
        process_word(word, ENV)
    assert str(info.value).startswith(f"failed to process {go_quote(word)}: ")
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("word", "env", "expected"),
    [
        ("a b  c", {}, ["a", "b", "c"]),
        ("  lead trail  ", {}, ["lead", "trail"]),
        ('a" b "c d', {}, ["a b c", "d"]),
        ("a\\ b c", {}, ["a b", "c"]),
        ("x${V}y", {"V": " 1  2 "}, ["x", "1", "2", "y"]),
        ('x"${V}"y', {"V": " 1  2 "}, ["x 1  2 y"]),
        ("$V", {"V": "p q"}, ["p", "q"]),
        ('a "" b', {}, ["a", "b"]),
        ("", {}, []),
        ("a\\\" b", {}, ['a"', "b"]),
    ],
)
def test_process_words_splits_after_substitution(word: str, env: dict[str, str], expected: list[str]) -> None:
    assert process_words(word, env) == expected


def test_backtick_escape() -> None:
    assert process_word("a` b\\c", {}, escape="`") == "a b\\c"
    assert process_word('"`"`$X\\"', {"X": "1"}, escape="`") == '"$X\\'


def test_matched_and_unmatched_variables_are_reported() -> None:
    result = ShellLex().process("$NAME ${UNSET:-x} ${EMPTY}", ENV)
    assert result.result == "berth x "
    assert result.matched == {"NAME", "EMPTY"}
    assert result.unmatched == {"UNSET"}


def test_skip_unset_env_and_raw_quotes_keep_the_text() -> None:
    lex = ShellLex(raw_quotes=True, skip_unset_env=True)
    assert lex.process_word("'$A' \"${B:-x}\" $NAME ${C}", ENV) == "'$A' \"${B:-x}\" berth ${C}"


def test_raw_escapes_keep_the_escape() -> None:
    assert ShellLex(raw_escapes=True).process_word("a\\ b", {}) == "a\\ b"


def test_heredoc_marker_stays_one_word() -> None:
    assert process_words("cat <<  EOF > f", {}) == ["cat", "<<  EOF", ">", "f"]


def test_bad_escape_character_is_refused() -> None:
    with pytest.raises(ValueError):
        ShellLex("!")

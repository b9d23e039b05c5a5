"""Property tests: for any input, each reader answers or raises its own error type, nothing else.

BERTH_FUZZ_EXAMPLES raises the number of examples for a longer run.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import reference
from engine.builder import parser
from engine.builder.dockerignore import PatternMatcher
from engine.builder.shell_lex import process_word, process_words
from engine.errors import ArchiveError, DockerfileParseError, InvalidReference

EXAMPLES = int(os.environ.get("BERTH_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_KEYWORDS = ["FROM", "RUN", "CMD", "ENV", "ARG", "COPY", "ADD", "LABEL", "ONBUILD", "HEALTHCHECK", "SHELL",
             "WORKDIR", "USER", "EXPOSE", "VOLUME", "ENTRYPOINT", "# escape=`", "# syntax=x", "<<EOF", "EOF",
             "\\", "`", "[", "]", "\"", "'", "--from=a", "=", "$", "${", "}", ":-", "\n", " ", "\t", "#"]
dockerfile_text = st.lists(st.one_of(st.sampled_from(_KEYWORDS), st.text(max_size=8)), max_size=40).map("".join)


@FUZZ
@given(dockerfile_text)
def test_parser_raises_only_its_own_error(text: str) -> None:
    try:
        result = parser.parse(text)
    except DockerfileParseError as err:
        assert "\n" not in str(err).strip() or str(err)
        return
    parser.dump(result)


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("$ab{}:-+?#%/\\'\" `x=")), max_size=30),
       st.dictionaries(st.sampled_from(["a", "b", "x"]), st.text(max_size=5)))
def test_shell_lexer_raises_only_its_own_error(word: str, env: dict[str, str]) -> None:
    for escape in ("\\", "`"):
        try:
            assert isinstance(process_word(word, env, escape), str)
            assert all(isinstance(w, str) for w in process_words(word, env, escape))
        except DockerfileParseError:
            pass


@FUZZ
@given(st.one_of(st.text(max_size=80),
                 st.lists(st.sampled_from(["a", "b-c", "x.io", ":", "/", "@", "sha256:", "0" * 64, "5000", "T", "_",
                                           "localhost", "."]), max_size=10).map("".join)))
def test_references_parse_or_refuse_and_round_trip(text: str) -> None:
    try:
        ref = reference.parse(text)
    except InvalidReference:
        return
    again = reference.parse(str(ref))
    assert again == ref


@FUZZ
@given(st.lists(st.text(alphabet=st.sampled_from(list("ab/*?[]!\\.-^")), max_size=12), max_size=6),
       st.lists(st.sampled_from(["a", "b", "ab", ".", "..", "*"]), min_size=1, max_size=5).map("/".join))
def test_dockerignore_patterns_compile_or_refuse(patterns: list[str], path: str) -> None:
    try:
        matcher = PatternMatcher(patterns)
    except ValueError:
        return
    assert matcher.excluded(path) in (True, False)


def _seed_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in (("etc/", None), ("etc/passwd", b"root:x:0:0::/:/bin/sh\n"), ("bin/sh", b"\x7fELF" * 50)):
            info = tarfile.TarInfo(name.rstrip("/"))
            if data is None:
                info.type = tarfile.DIRTYPE
            else:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data else None)
        link = tarfile.TarInfo("bin/ls")
        link.type, link.linkname = tarfile.SYMTYPE, "sh"
        tf.addfile(link)
    return buf.getvalue()


SEED = _seed_tar()


@settings(max_examples=max(50, EXAMPLES // 3), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(SEED) - 1), st.integers(0, 255)), max_size=8),
       st.integers(0, len(SEED)))
def test_tar_reader_on_mutated_tars(flips: list[tuple[int, int]], cut: int) -> None:
    from engine.archive import apply_layer

    data = bytearray(SEED)
    for offset, value in flips:
        data[offset] = value
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "layer"
        outside = Path(tmp) / "outside"
        dest.mkdir()
        outside.mkdir()
        try:
            apply_layer(io.BytesIO(bytes(data[:cut] if cut else data)), str(dest), archive_name="fuzz.tar")
        except ArchiveError:
            pass
        assert os.listdir(outside) == [] and sorted(os.listdir(tmp)) == ["layer", "outside"]

"""The build context: Docker's .dockerignore rules, and a context read as a tar from a stream."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from engine.builder.context import BuildContext, contains_wildcards
from engine.builder.dockerignore import PatternMatcher, read_patterns
from engine.errors import BuildError
from tests.engine.build_helpers import BASE, file_in_image, import_base


def _matcher(text: str) -> PatternMatcher:
    return PatternMatcher(read_patterns(text))


@pytest.mark.parametrize(("patterns", "path", "excluded"), [
    ("*.go", "main.go", True),
    ("*.go", "pkg/main.go", False),          # * never crosses a /
    ("**/*.go", "pkg/deep/main.go", True),
    ("**/*.go", "main.go", True),            # **/ may match no directory at all
    ("docs", "docs/a/b.md", True),           # a pattern matching a parent dir excludes its contents
    ("/docs", "docs/x", True),               # a leading / means nothing
    ("./docs/../docs", "docs/x", True),      # patterns are cleaned
    ("fil?.txt", "file.txt", True),
    ("fil?.txt", "fil/.txt", False),
    ("[a-c].txt", "b.txt", True),
    ("[^a-c].txt", "d.txt", True),
    ("[!a-c].txt", "d.txt", False),         # Go classes negate with ^ only
    ("*\n!keep.go", "keep.go", False),       # last match wins
    ("!keep.go\n*", "keep.go", True),
    ("docs\n!docs/keep.md", "docs/keep.md", False),
    ("# just a comment\n\n", "anything", False),
    ("a/**/b", "a/x/y/b", True),
    ("a/**/b", "a/b", True),
    ("\\*literal", "*literal", True),
])
def test_dockerignore_rules(patterns: str, path: str, excluded: bool) -> None:
    assert _matcher(patterns).excluded(path) is excluded


def test_walk_descends_into_excluded_dirs_only_for_exceptions(tmp_path: Path) -> None:
    for rel in ("docs/a.md", "docs/keep.md", "src/x.py", "src/y.pyc"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    (tmp_path / ".dockerignore").write_text("docs\n!docs/keep.md\n*/*.pyc\n")
    context = BuildContext.from_dir(str(tmp_path))
    assert [rel for rel, _ in context.walk(".")] == [".dockerignore", "docs/keep.md", "src", "src/x.py"]
    assert context.glob("src/*") == ["src/x.py"]
    assert contains_wildcards("a*") and not contains_wildcards("a\\*b")


def test_resolve_refuses_to_climb_out(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    context = BuildContext.from_dir(str(tmp_path / "ctx"))
    for bad in ("..", "../x", "a/../../x", "/../x"):
        with pytest.raises(BuildError, match="forbidden path outside the build context"):
            context.resolve(bad)


def test_context_from_a_tar_stream(engine, busybox_tar: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import_base(engine, busybox_tar)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in {"Dockerfile": f"FROM {BASE}\nCOPY hello.txt /\n".encode(), "hello.txt": b"hi"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    before = {p for p in os.listdir("/tmp") if p.startswith("berth-context-")}
    image_id = engine.image_build(buf)
    assert file_in_image(engine, image_id, "/hello.txt") == b"hi"
    assert {p for p in os.listdir("/tmp") if p.startswith("berth-context-")} <= before  # the unpacked copy is gone


def test_a_lone_dockerfile_on_stdin_is_an_empty_context(engine, busybox_tar: Path) -> None:  # type: ignore[no-untyped-def]
    import_base(engine, busybox_tar)
    image_id = engine.image_build(io.BytesIO(f"FROM {BASE}\nRUN echo x > /x\n".encode()))
    assert file_in_image(engine, image_id, "/x") == b"x\n"


def test_a_tar_that_climbs_out_is_refused(engine, busybox_tar: Path) -> None:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("../../evil")
        tar.addfile(info, io.BytesIO(b""))
    buf.seek(0)
    with pytest.raises(BuildError, match="unable to prepare context"):
        engine.image_build(buf)

"""COPY and ADD on real images: Docker's directory rules, ownership, archives, URLs, context safety."""

from __future__ import annotations

import bz2
import functools
import gzip
import http.server
import io
import lzma
import os
import stat
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import BuildError
from tests.engine.build_helpers import (
    BASE,
    build,
    file_in_image,
    import_base,
    make_context,
    stat_in_image,
)


@pytest.fixture
def base(engine, busybox_tar: Path) -> str:  # type: ignore[no-untyped-def]
    return import_base(engine, busybox_tar)


def _tar_bytes(files: dict[str, bytes], uid: int = 1234) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.uid, info.gid, info.mode = len(data), uid, uid, 0o640
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_copy_directory_rules(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {
        "dir/a.txt": "a", "dir/sub/b.txt": "b", "one.txt": "1", "two.txt": "2", "x.log": "x",
    })
    os.symlink("a.txt", context / "dir" / "link")
    dockerfile = "\n".join([
        f"FROM {BASE}",
        "COPY dir /dst",            # a dir's contents, not the dir itself
        "COPY one.txt /file",       # no slash, not a dir: becomes the file
        "COPY one.txt /etc",        # an existing dir: goes inside
        "COPY one.txt two.txt /multi/",
        "COPY *.txt /glob/",
        "WORKDIR /w",
        "COPY one.txt rel/",
        "COPY ./dir/sub/ ./",
    ])
    image_id, _ = build(engine, context, dockerfile)
    assert file_in_image(engine, image_id, "/dst/a.txt") == b"a"
    assert file_in_image(engine, image_id, "/dst/sub/b.txt") == b"b"
    assert os.readlink(_host(engine, image_id, "/dst/link")) == "a.txt"  # links are copied as links
    assert file_in_image(engine, image_id, "/file") == b"1"
    assert file_in_image(engine, image_id, "/etc/one.txt") == b"1"
    assert file_in_image(engine, image_id, "/multi/two.txt") == b"2"
    assert sorted(os.listdir(_host(engine, image_id, "/glob"))) == ["one.txt", "two.txt"]
    assert file_in_image(engine, image_id, "/w/rel/one.txt") == b"1"
    assert file_in_image(engine, image_id, "/w/b.txt") == b"b"
    st = stat_in_image(engine, image_id, "/dst/a.txt")
    assert (st.st_uid, st.st_gid) == (0, 0)


def _host(engine, image: str, path: str) -> str:  # type: ignore[no-untyped-def]
    config = engine.image_config(image)
    for layer in reversed(engine.store.layers.chain(engine.store.images.top_layer(config))):
        candidate = os.path.join(engine.paths.diff_dir(layer.cache_id), path.lstrip("/"))
        if os.path.lexists(candidate):
            return candidate
    raise FileNotFoundError(path)


def test_copy_errors(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {"a": "a", "b": "b"})
    with pytest.raises(BuildError, match="must be a directory and end with a /"):
        build(engine, context, f"FROM {BASE}\nCOPY a b /nodir\n")
    with pytest.raises(BuildError, match="no source files were specified"):
        build(engine, context, f"FROM {BASE}\nCOPY *.none /\n")
    with pytest.raises(BuildError, match=r"Dockerfile line 2: forbidden path outside the build context: \.\./x"):
        build(engine, context, f"FROM {BASE}\nCOPY ../x /\n")
    with pytest.raises(BuildError, match="source can't be a URL for COPY"):
        build(engine, context, f"FROM {BASE}\nCOPY http://127.0.0.1:1/x /\n")
    assert engine.system_check().ok


def test_symlinks_never_leave_the_context(engine, base: str, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("host secret")
    context = make_context(tmp_path / "ctx", {"inside.txt": "in"})
    os.symlink(str(secret), context / "abs")
    os.symlink("../secret", context / "rel")
    os.symlink("inside.txt", context / "ok")
    for name in ("abs", "rel"):
        with pytest.raises(BuildError, match="file not found in build context"):
            build(engine, context, f"FROM {BASE}\nCOPY {name} /x\n")
    image_id, _ = build(engine, context, f"FROM {BASE}\nCOPY ok /x\nCOPY . /all/\n")
    assert file_in_image(engine, image_id, "/x") == b"in"  # a link to a file inside is followed
    assert os.readlink(_host(engine, image_id, "/all/abs")) == str(secret)  # inside a dir: copied as a link


def test_chown_and_chmod(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {"f": "f", "d/g": "g"})
    image_id, _ = build(engine, context, f"FROM {BASE}\nCOPY --chown=nobody:nogroup --chmod=0700 f d /o/\n"
                                           "COPY --chown=7 f /seven\n")
    st = stat_in_image(engine, image_id, "/o/f")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (65534, 65534, 0o700)
    assert stat.S_IMODE(stat_in_image(engine, image_id, "/o/g").st_mode) == 0o700
    seven = stat_in_image(engine, image_id, "/seven")
    assert (seven.st_uid, seven.st_gid) == (7, 7)
    with pytest.raises(BuildError, match="no such user: ghost"):
        build(engine, context, f"FROM {BASE}\nCOPY --chown=ghost f /x\n")


def _zstd(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor().compress(data)


@pytest.mark.parametrize("compress", [lambda b: b, gzip.compress, bz2.compress, lzma.compress, _zstd],
                         ids=["tar", "gz", "bz2", "xz", "zstd"])
def test_add_unpacks_local_archives_by_content(engine, base: str, tmp_path: Path, compress) -> None:  # type: ignore[no-untyped-def]
    archive = compress(_tar_bytes({"top/in.txt": b"inside"}))  # once: gzip stamps the time in its header
    context = make_context(tmp_path / "ctx", {"archive.bin": archive, "plain.txt": "just a file"})
    image_id, _ = build(engine, context, f"FROM {BASE}\nADD archive.bin /unpacked\nADD plain.txt /copied/\n"
                                           "COPY archive.bin /kept\n")
    assert file_in_image(engine, image_id, "/unpacked/top/in.txt") == b"inside"
    st = stat_in_image(engine, image_id, "/unpacked/top/in.txt")
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (1234, 0o640)  # an archive keeps its owners
    assert file_in_image(engine, image_id, "/copied/plain.txt") == b"just a file"
    assert file_in_image(engine, image_id, "/kept") == archive


def test_add_refuses_an_archive_that_climbs_out(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {"evil.tar": _tar_bytes({"../../escape": b"x"})})
    with pytest.raises(BuildError, match="points outside the destination"):
        build(engine, context, f"FROM {BASE}\nADD evil.tar /d/\n")
    assert engine.system_check().ok


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server on 127.0.0.1 serving a temp dir."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_add_url_downloads_without_unpacking(engine, base: str, tmp_path: Path, http_root, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    url, root = http_root
    (root / "data.tar.gz").write_bytes(gzip.compress(_tar_bytes({"x": b"x"})))
    context = make_context(tmp_path / "ctx", {})
    image_id, _ = build(engine, context, f"FROM {BASE}\nADD {url}/data.tar.gz /dl/\n")
    st = stat_in_image(engine, image_id, "/dl/data.tar.gz")
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_size == (root / "data.tar.gz").stat().st_size
    again, events = build(engine, context)
    assert again == image_id  # same content: cached
    (root / "data.tar.gz").write_bytes(b"changed")
    assert build(engine, context)[0] != image_id
    with pytest.raises(BuildError, match="status 404"):
        build(engine, context, f"FROM {BASE}\nADD {url}/missing /x\n")


def test_dockerignore_hides_files(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {
        ".dockerignore": "# comment\n*.log\n/secret\nbuild/**\n!build/keep.txt\n",
        "a.txt": "a", "x.log": "x", "secret": "s", "build/out.o": "o", "build/keep.txt": "k", "sub/y.log": "y",
    })
    image_id, _ = build(engine, context, f"FROM {BASE}\nCOPY . /ctx/\n")
    copied = sorted(os.path.relpath(os.path.join(d, f), _host(engine, image_id, "/ctx"))
                    for d, _, files in os.walk(_host(engine, image_id, "/ctx")) for f in files)
    assert copied == [".dockerignore", "Dockerfile", "a.txt", "build/keep.txt", "sub/y.log"]
    for hidden in ("x.log", "secret", "build/out.o"):
        with pytest.raises(BuildError, match="excluded by .dockerignore"):
            build(engine, context, f"FROM {BASE}\nCOPY {hidden} /\n")

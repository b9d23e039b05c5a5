"""Hostile Dockerfiles and build contexts: nothing outside the context is read or written, RUN steps stay
off the host's terminal, files and network, and every refusal is one line naming no host path.

The context-tar tests need only the stdlib and ``engine.build`` (no pyroute2), so they also run on a bare
Python (``/root/.pyenv/versions/3.11.7/bin/python -m pytest tests/engine/test_hostile_build.py -k context``):
tarfile's extraction filters differ between 3.11.2, 3.11.4+ and 3.12, and the unpacking must not rely on them.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.build.context import BuildContext
from engine.errors import BuildError


def _snapshot(root: Path) -> dict[str, tuple[int, int, int, int, str]]:
    """Every path below ``root`` with mode, owner, size and content hash (links not followed)."""
    out = {str(root): (root.lstat().st_mode, root.lstat().st_uid, root.lstat().st_gid, 0, "")}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else ""
        out[str(path)] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, digest)
    return out


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[Path]:
    """A directory outside the store and the context that no build may change."""
    root = tmp_path / "canary"
    (root / "sub").mkdir(parents=True)
    (root / "secret").write_text("do not touch\n")
    (root / "sub/file").write_text("nor this\n")
    os.chmod(root / "secret", 0o600)
    before = _snapshot(root)
    yield root
    assert _snapshot(root) == before, "something outside the context changed"


def _tar(*members: tuple[str, str, str | bytes], uid: int = 1000, mode: int = 0o4777) -> bytes:
    """A tar of (name, kind, data-or-link-target); kind is f(ile), d(ir), s(ymlink), h(ard link)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            info.uid, info.gid, info.mode = uid, uid, mode
            if kind == "f":
                data = payload.encode() if isinstance(payload, str) else payload
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
                continue
            info.type = {"d": tarfile.DIRTYPE, "s": tarfile.SYMTYPE, "h": tarfile.LNKTYPE}[kind]
            if kind in "sh":
                info.linkname = str(payload)
            tf.addfile(info)
    return buf.getvalue()


def _context(data: bytes) -> BuildContext:
    return BuildContext.from_stream(io.BytesIO(data))


# -- context tars (item 4) ---------------------------------------------------


def test_context_tar_hard_link_to_an_absolute_host_path_fails_as_dockers_and_leaves_it(canary: Path) -> None:
    secret = canary / "secret"
    for target in (str(secret), "../../../../../../../.." + str(secret)):
        data = _tar(("Dockerfile", "f", "FROM scratch\nCOPY hl /\n"), ("hl", "h", target))
        with pytest.raises(BuildError) as caught:
            _context(data)
        # Docker unpacks in a chroot of the context: the link names the context's own (missing) path.
        assert str(caught.value) == f"unable to prepare context: link {secret} /hl: no such file or directory"
        assert os.stat(secret).st_nlink == 1


def test_context_tar_hard_link_through_a_symlink_never_reaches_the_host(canary: Path) -> None:
    data = _tar(("via", "s", str(canary)), ("hl", "h", "via/secret"), ("hl2", "h", "via"))
    with pytest.raises(BuildError, match=r"^unable to prepare context: link /via/secret /hl: no such file"):
        _context(data)


def test_context_tar_hard_link_to_a_symlink_links_the_symlink(canary: Path) -> None:
    data = _tar(("s", "s", str(canary / "secret")), ("hl", "h", "s"), ("f", "f", "x"), ("hf", "h", "f"))
    with _context(data) as ctx:
        assert os.readlink(os.path.join(ctx.root, "hl")) == str(canary / "secret")
        assert os.lstat(os.path.join(ctx.root, "hl")).st_ino == os.lstat(os.path.join(ctx.root, "s")).st_ino
        assert os.stat(os.path.join(ctx.root, "hf")).st_nlink == 2
        # Owner and mode went on the context's own entries only.
        st = os.lstat(os.path.join(ctx.root, "f"))
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (1000, 0o4777)


def test_context_tar_names_and_symlinked_parents_stay_inside_the_context(canary: Path) -> None:
    """``/x``, ``../x`` and ``link/x`` (link → an absolute host dir) all land inside, as in Docker's chroot."""
    data = _tar(("/" + str(canary / "abs").lstrip("/"), "f", "a"),
                ("../../../../../../.." + str(canary / "dotdot"), "f", "b"),
                ("via", "s", str(canary)), ("via/x", "f", "c"),
                ("rel", "s", "../../../../../../.." + str(canary)), ("rel/y", "f", "d"),
                uid=0, mode=0o644)
    with _context(data) as ctx:
        inside = Path(ctx.root) / str(canary).lstrip("/")
        assert sorted(p.name for p in inside.iterdir()) == ["abs", "dotdot", "x", "y"]
        assert os.readlink(os.path.join(ctx.root, "via")) == str(canary)  # kept as written, as Docker does


def test_context_tar_file_over_a_symlink_replaces_the_link_not_its_target(canary: Path) -> None:
    data = _tar(("s", "s", str(canary / "secret")), ("s", "f", "mine"), ("d", "s", str(canary)),
                ("d", "d", ""), ("d/secret", "f", "mine too"))
    with _context(data) as ctx:
        assert Path(ctx.root, "s").read_text() == "mine"
        assert Path(ctx.root, "d/secret").read_text() == "mine too"
        assert not Path(ctx.root, "d").is_symlink()


def test_context_tar_with_fifo_and_device_nodes_unpacks_them_as_nodes(canary: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        fifo = tarfile.TarInfo("fifo")
        fifo.type = tarfile.FIFOTYPE
        null = tarfile.TarInfo("null")
        null.type, null.devmajor, null.devminor, null.mode = tarfile.CHRTYPE, 1, 3, 0o666
        tf.addfile(fifo)
        tf.addfile(null)
    with _context(buf.getvalue()) as ctx:
        assert stat.S_ISFIFO(os.lstat(os.path.join(ctx.root, "fifo")).st_mode)
        st = os.lstat(os.path.join(ctx.root, "null"))
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3) and stat.S_IMODE(st.st_mode) == 0o666


# -- COPY and ADD on real images (items 4 and 10) ------------------------------


@pytest.fixture
def base(engine, busybox_tar: Path) -> str:  # type: ignore[no-untyped-def]
    from tests.engine.build_helpers import import_base

    return import_base(engine, busybox_tar)


def test_copy_sources_resolve_inside_the_context_and_errors_name_no_host_path(engine, base: str, canary: Path,
                                                                              tmp_path: Path) -> None:
    from tests.engine.build_helpers import BASE, build, make_context, stat_in_image

    ctx = make_context(tmp_path / "ctx", {"dir/f": "f", str(canary / "secret").lstrip("/"): "the context's"})
    os.symlink(canary / "secret", ctx / "link")
    os.symlink(canary, ctx / "dir/sub")
    image, _ = build(engine, ctx, f"FROM {BASE}\nCOPY link /x\nCOPY dir/ /d/\n")
    from tests.engine.build_helpers import file_in_image

    # Docker follows a source link as if the context were / (so: the context's file), and copies links
    # met inside a source dir as links.
    assert file_in_image(engine, image, "/x") == b"the context's"
    assert os.readlink(os.path.join(engine.paths.diff_dir(
        engine.layers.get(engine.images.top_layer(engine.image_config(image))).cache_id), "d/sub")) == str(canary)
    assert stat.S_ISLNK(stat_in_image(engine, image, "/d/sub").st_mode)
    for source, shown in (("/etc/passwd", "etc/passwd"), ("../../etc/shadow", None), ("nothere", "nothere"),
                          (str(canary / "sub/file"), str(canary / "sub/file").lstrip("/"))):
        with pytest.raises(BuildError) as caught:
            build(engine, ctx, f"FROM {BASE}\nCOPY {source} /\n")
        if shown is None:
            assert str(caught.value) == f"Dockerfile line 2: forbidden path outside the build context: {source} ()"
        else:
            assert str(caught.value) == ("Dockerfile line 2: file not found in build context or excluded by "
                                         f".dockerignore: stat {shown}: file does not exist")


def test_copy_of_a_fifo_copies_the_node_and_never_opens_it(engine, base: str, tmp_path: Path) -> None:
    """Docker 20.10 hangs here (it reads the FIFO to hash it); berth copies the node, as COPY of a dir does."""
    import threading

    from tests.engine.build_helpers import BASE, build, make_context, stat_in_image

    ctx = make_context(tmp_path / "ctx", {})
    os.mkfifo(ctx / "fifo")
    opened: list[bool] = []
    done = threading.Event()

    def watch() -> None:  # a reader blocked in open() lets a non-blocking writer in: record it, release it
        while not done.wait(0.05):
            try:
                fd = os.open(ctx / "fifo", os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                continue
            opened.append(True)
            os.close(fd)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        image, _ = build(engine, ctx, f"FROM {BASE}\nCOPY fifo /f\nADD fifo /g\n")
    finally:
        done.set()
        watcher.join()
    assert not opened, "the build opened the FIFO"
    assert stat.S_ISFIFO(stat_in_image(engine, image, "/f").st_mode)
    assert stat.S_ISFIFO(stat_in_image(engine, image, "/g").st_mode)


def test_add_archive_hard_links_stay_inside_the_destination(engine, base: str, canary: Path,
                                                            tmp_path: Path) -> None:
    from tests.engine.build_helpers import BASE, build, make_context

    ctx = make_context(tmp_path / "ctx", {})
    for name, members in {
        "via-dir.tar": [("d", "s", str(canary)), ("h", "h", "d/secret")],
        "to-link.tar": [("l", "s", str(canary / "secret")), ("h", "h", "l"), ("h2", "h", str(canary / "secret"))],
    }.items():
        (ctx / name).write_bytes(_tar(*members, uid=0, mode=0o644))
    with pytest.raises(BuildError) as caught:
        build(engine, ctx, f"FROM {BASE}\nADD via-dir.tar /x/\n")
    assert str(caught.value) == "Dockerfile line 2: via-dir.tar: cannot unpack archive: link /d/secret /h: no such " \
                                "file or directory"
    with pytest.raises(BuildError) as caught:
        build(engine, ctx, f"FROM {BASE}\nADD to-link.tar /x/\n")
    assert str(caught.value).endswith(f"link {canary / 'secret'} /h2: no such file or directory")
    assert str(tmp_path) not in str(caught.value).replace(str(canary), "")

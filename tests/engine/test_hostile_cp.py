"""``cp`` against a hostile container: every path stays inside its root, nothing the container controls is
followed or opened on the host, for running and stopped containers, with openat2 and with the fd walk.

The container's files are planted from the host, in its merged dir while it runs and in its upper dir while
it is stopped (what a process inside could have made, devices included), so no step depends on the
container's capabilities. A canary directory outside the store is checked untouched (content, mode, owner).
"""

from __future__ import annotations

import io
import os
import resource
import stat
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from engine.containers.remove import mount_id_of
from tests.engine.canary import canary  # noqa: F401
from tests.engine.containers_fixtures import cengine, run, start_d  # noqa: F401

_WORKTREE = Path(__file__).resolve().parents[2]
_CLI = ("import sys\ntry:\n    from engine.containers import inroot\n    inroot.use_openat2 = {openat2}\n"
        "except ImportError:\n    pass\nfrom tui.cli import main\nsys.exit(main(sys.argv[1:]))")
_FSIZE_LIMIT = 1 << 20  # a cp that reads a device would hit this, not fill the disk


class Ctr:
    """A container, running or stopped, and where its root can be planted from the host."""

    def __init__(self, engine, running: bool) -> None:  # type: ignore[no-untyped-def]
        self.engine = engine
        self.id = start_d(engine, "sleep", "1000") if running else run(engine, "true")[0]
        mount_id = mount_id_of(engine.store, self.id)
        self.root = Path(engine.paths.merged_dir(mount_id) if running else engine.paths.diff_dir(mount_id))

    def plant(self, path: str) -> Path:
        """The host path of container path ``path`` for planting files (parents made)."""
        where = self.root / path.lstrip("/")
        where.parent.mkdir(parents=True, exist_ok=True)
        return where

    def read(self, path: str) -> bytes:
        """A file of the container, read through ``cp … -`` (a tar) so it is read as the container sees it."""
        out = io.BytesIO()
        self.engine.container_copy(f"{self.id}:{path}", "-", stdout=out)
        with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
            member = tar.next()
            assert member is not None and member.isreg(), member
            data = tar.extractfile(member)
            assert data is not None
            return data.read()


@contextmanager
def _resolving(how: str) -> Iterator[None]:
    """Resolve in the root with openat2, or with the fd walk used where openat2 is missing."""
    try:
        from engine.containers import inroot
    except ImportError:  # the code before it: nothing to switch
        yield
        return
    saved = inroot.use_openat2
    inroot.use_openat2 = how == "openat2"
    try:
        yield
    finally:
        inroot.use_openat2 = saved


@pytest.fixture(params=["running", "stopped"])
def ctr(request: pytest.FixtureRequest, cengine) -> Ctr:  # type: ignore[no-untyped-def]
    return Ctr(cengine, request.param == "running")


@pytest.fixture(params=["running-openat2", "stopped-openat2", "running-fd-walk"])
def rctr(request: pytest.FixtureRequest, cengine) -> Iterator[Ctr]:  # type: ignore[no-untyped-def]
    """A container for the tests that lean on path resolution: the fd walk too, where a process could race it
    (both walks are also compared directly on a plain tree below)."""
    state, how = request.param.split("-", 1)
    with _resolving(how):
        yield Ctr(cengine, state == "running")


def _cli(store: Path, *argv: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """The CLI in a process of its own (resolving as this one does), which may write at most 1 MiB to a file."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (_FSIZE_LIMIT, _FSIZE_LIMIT))

    try:
        from engine.containers import inroot
        openat2 = inroot.use_openat2
    except ImportError:
        openat2 = True
    return subprocess.run([sys.executable, "-c", _CLI.format(openat2=openat2), "--root", str(store), *argv],
                          input=stdin, capture_output=True, timeout=120, cwd=_WORKTREE, preexec_fn=limit, check=False)


def _one_error(result: subprocess.CompletedProcess[bytes]) -> str:
    err = result.stderr.decode()
    assert result.returncode == 1 and err.startswith("Error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "/overlay2/" not in err and "/merged" not in err, err
    return err


def _tar(*members: tuple[str, bytes, bytes | None] | tuple[str, bytes]) -> bytes:
    """(name, type[, data or link target]) → tar bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, *rest in members:
            info = tarfile.TarInfo(name)
            info.type, info.mode = kind, 0o755 if kind == tarfile.DIRTYPE else 0o644
            data = rest[0] if rest else None
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname, data = (data or b"").decode(), None
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


# -- into the container ---------------------------------------------------------------


def test_copy_in_replaces_a_link_to_the_host_never_writes_through_it(rctr: Ctr, canary: Path, tmp_path: Path) -> None:
    rctr.plant("/x/file").symlink_to(canary / "secret")
    src = tmp_path / "x"
    src.mkdir()
    (src / "file").write_text("copied\n")
    rctr.engine.container_copy(str(src), f"{rctr.id}:/")  # a tree whose x/file meets the container's link
    assert rctr.read("/x/file") == b"copied\n"
    assert not (rctr.root / "x/file").is_symlink()


def test_copy_in_onto_a_link_lands_at_its_target_inside_the_root(rctr: Ctr, canary: Path, tmp_path: Path) -> None:
    rctr.plant("/x/file").symlink_to(canary / "secret")
    rctr.plant(f"{canary}/keep").write_text("")  # the link's target directory, inside the container
    (tmp_path / "f").write_text("to the container's own\n")
    rctr.engine.container_copy(str(tmp_path / "f"), f"{rctr.id}:/x/file")  # Docker follows a named link, in scope
    assert rctr.read(f"{canary}/secret") == b"to the container's own\n"
    rctr.engine.container_copy(str(tmp_path / "f"), f"{rctr.id}:/x/")
    assert rctr.read("/x/f") == b"to the container's own\n"


def test_copy_in_dir_over_a_link_to_a_host_dir_is_refused(ctr: Ctr, canary: Path, tmp_path: Path) -> None:
    ctr.plant("/x/sub").symlink_to(canary / "sub")
    src = tmp_path / "x"
    (src / "sub").mkdir(parents=True)
    (src / "sub/file").write_text("pwned\n")
    result = _cli(ctr.engine.paths.root, "cp", str(src), f"{ctr.id}:/")
    assert "cannot overwrite non-directory" in _one_error(result)  # as Docker refuses it


def test_copy_in_keeps_owners_and_a_sets_the_container_user(cengine, canary: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "owned"
    f.write_text("x")
    os.chown(f, 1234, 5678)
    os.chmod(f, 0o640)
    cid = start_d(cengine, "sleep", "1000", user="1000:2000")
    root = Path(cengine.paths.merged_dir(mount_id_of(cengine.store, cid)))
    cengine.container_copy(str(f), f"{cid}:/kept")
    cengine.container_copy(str(f), f"{cid}:/archived", archive=True)
    kept, archived = (root / "kept").lstat(), (root / "archived").lstat()
    assert (kept.st_uid, kept.st_gid, stat.S_IMODE(kept.st_mode)) == (1234, 5678, 0o640)
    assert (archived.st_uid, archived.st_gid) == (1000, 2000)
    plain = start_d(cengine, "sleep", "1000")  # no User: Docker's -a keeps the source's owners
    cengine.container_copy(str(f), f"{plain}:/archived", archive=True)
    st = (Path(cengine.paths.merged_dir(mount_id_of(cengine.store, plain))) / "archived").lstat()
    assert (st.st_uid, st.st_gid) == (1234, 5678)


def test_copy_in_follows_a_host_link_only_with_L(cengine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "real").write_text("real\n")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    cid = start_d(cengine, "sleep", "1000")
    root = Path(cengine.paths.merged_dir(mount_id_of(cengine.store, cid)))
    cengine.container_copy(str(tmp_path / "link"), f"{cid}:/as-link")
    cengine.container_copy(str(tmp_path / "link"), f"{cid}:/followed", follow_link=True)
    assert os.readlink(root / "as-link") == str(tmp_path / "real")
    assert (root / "followed").read_text() == "real\n" and not (root / "followed").is_symlink()


# -- out of the container ----------------------------------------------------------------


def test_two_step_copy_out_never_writes_through_a_link_it_left(ctr: Ctr, canary: Path, tmp_path: Path) -> None:
    ctr.plant("/t/sub").symlink_to(canary / "sub")
    ctr.plant("/evil").write_text("pwned\n")
    out = tmp_path / "out"
    out.mkdir()
    ctr.engine.container_copy(f"{ctr.id}:/t", str(out))  # step one leaves out/t/sub -> the canary
    assert os.readlink(out / "t/sub") == str(canary / "sub")
    (ctr.root / "t/sub").unlink()  # step two: the container turns the link into a real dir
    ctr.plant("/t/sub/file").write_text("pwned\n")
    result = _cli(ctr.engine.paths.root, "cp", f"{ctr.id}:/t", str(out))
    assert "cannot overwrite non-directory" in _one_error(result)  # as Docker refuses it
    ctr.engine.container_copy(f"{ctr.id}:/evil", str(out / "t/sub"))  # Docker writes the canary here
    assert (out / "t/sub").read_text() == "pwned\n" and not (out / "t/sub").is_symlink()
    ctr.engine.container_copy(f"{ctr.id}:/evil", str(out / "t"))
    assert (out / "t/evil").read_text() == "pwned\n"


def test_copy_out_of_a_link_resolves_it_inside_the_root_with_L(rctr: Ctr, canary: Path, tmp_path: Path) -> None:
    rctr.plant("/d/link").symlink_to(canary / "secret")
    rctr.plant(f"{canary}/secret").write_text("the container's\n")
    rctr.plant("/up").symlink_to("../../../../../../../" + str(canary))
    rctr.engine.container_copy(f"{rctr.id}:/d/link", str(tmp_path / "as-link"))
    assert os.readlink(tmp_path / "as-link") == str(canary / "secret")
    rctr.engine.container_copy(f"{rctr.id}:/d/link", str(tmp_path / "followed"), follow_link=True)
    assert (tmp_path / "followed").read_text() == "the container's\n"
    rctr.engine.container_copy(f"{rctr.id}:/up/secret", str(tmp_path / "climbed"))
    assert (tmp_path / "climbed").read_text() == "the container's\n"


def test_copy_out_drops_set_id_bits(ctr: Ctr, tmp_path: Path) -> None:
    planted = ctr.plant("/suid")
    planted.write_text("#!/bin/sh\n")
    os.chmod(planted, 0o4755)
    ctr.engine.container_copy(f"{ctr.id}:/suid", str(tmp_path / "suid"))
    assert stat.S_IMODE((tmp_path / "suid").lstat().st_mode) == 0o755


def test_device_nodes_and_fifos_are_copied_as_nodes_never_read(ctr: Ctr, canary: Path, tmp_path: Path) -> None:
    os.mknod(ctr.plant("/z"), stat.S_IFCHR | 0o666, os.makedev(1, 5))  # /dev/zero
    os.mkfifo(ctr.plant("/d/fifo"), 0o644)  # nobody writes it: opening it to read would block
    out = tmp_path / "out"
    out.mkdir()
    result = _cli(ctr.engine.paths.root, "cp", f"{ctr.id}:/z", str(out))
    assert result.returncode == 0, result.stderr.decode()
    st = (out / "z").lstat()
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 5) and stat.S_IMODE(st.st_mode) == 0o600
    result = _cli(ctr.engine.paths.root, "cp", f"{ctr.id}:/d", str(out))
    assert result.returncode == 0, result.stderr.decode()
    assert stat.S_ISFIFO((out / "d/fifo").lstat().st_mode)
    result = _cli(ctr.engine.paths.root, "cp", f"{ctr.id}:/z", "-")
    assert result.returncode == 0 and len(result.stdout) <= 10240, result.stderr.decode()
    with tarfile.open(fileobj=io.BytesIO(result.stdout)) as tar:
        [member] = tar.getmembers()
    assert member.ischr() and (member.devmajor, member.devminor) == (1, 5) and member.size == 0


def _nest(top: Path, depth: int) -> int:
    """``top/d/d/…`` ``depth`` deep, made an fd at a time (the path is longer than any one call takes)."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        fd, old = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd), fd
        os.close(old)
    return fd


def test_a_tree_nested_deeper_than_the_recursion_limit(ctr: Ctr, tmp_path: Path) -> None:
    top = ctr.plant("/deep/x").parent  # plant() makes the parents
    fd = _nest(top, 500)
    os.close(os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    os.close(fd)
    ctr.engine.container_copy(f"{ctr.id}:/deep", str(tmp_path))
    fd = os.open(tmp_path / "deep", os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(500):
        fd, old = os.open("d", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd), fd
        os.close(old)
    assert stat.S_ISREG(os.stat("leaf", dir_fd=fd).st_mode)
    os.close(fd)


def test_missing_path_is_dockers_one_line(rctr: Ctr, tmp_path: Path) -> None:
    rctr.engine.container_rename(rctr.id, "hostile-ctr")
    err = _one_error(_cli(rctr.engine.paths.root, "cp", "hostile-ctr:/nope", str(tmp_path)))
    assert err == "Error: Could not find the file /nope in container hostile-ctr\n"
    err = _one_error(_cli(rctr.engine.paths.root, "cp", str(tmp_path), "hostile-ctr:/nope/x"))
    assert err == "Error: Could not find the file /nope/x in container hostile-ctr\n"


# -- cp - : tar streams ----------------------------------------------------------------


def test_cp_dash_out_streams_a_tar_with_links_as_links(ctr: Ctr, canary: Path) -> None:
    ctr.plant("/t/f").write_text("in\n")
    ctr.plant("/t/sub").symlink_to(canary / "sub")
    result = _cli(ctr.engine.paths.root, "cp", f"{ctr.id}:/t", "-")
    assert result.returncode == 0, result.stderr.decode()
    with tarfile.open(fileobj=io.BytesIO(result.stdout)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == {"t", "t/f", "t/sub"}
        assert members["t/sub"].issym() and members["t/sub"].linkname == str(canary / "sub")
        data = tar.extractfile(members["t/f"])
        assert data is not None and data.read() == b"in\n"


def test_cp_dash_in_extracts_inside_the_root_only(rctr: Ctr, canary: Path) -> None:
    rctr.plant("/x/file").symlink_to(canary / "secret")
    rctr.plant("/x/sub").symlink_to(canary / "sub")
    store = rctr.engine.paths.root
    result = _cli(store, "cp", "-", f"{rctr.id}:/x", stdin=_tar(("file", tarfile.REGTYPE, b"replaced\n"),
                                                               ("new/deep", tarfile.REGTYPE, b"deep\n")))
    assert result.returncode == 0, result.stderr.decode()
    assert rctr.read("/x/file") == b"replaced\n" and rctr.read("/x/new/deep") == b"deep\n"
    assert "outside" in _one_error(_cli(store, "cp", "-", f"{rctr.id}:/x",
                                        stdin=_tar(("../../../pwned", tarfile.REGTYPE, b"x"))))
    assert "not a directory" in _one_error(_cli(store, "cp", "-", f"{rctr.id}:/x",
                                                stdin=_tar(("sub/file", tarfile.REGTYPE, b"pwned\n"))))
    assert "not a directory" in _one_error(_cli(store, "cp", "-", f"{rctr.id}:/x", stdin=_tar(
        ("lnk", tarfile.SYMTYPE, str(canary).encode()), ("lnk/secret", tarfile.REGTYPE, b"pwned\n"))))
    assert "cannot overwrite non-directory" in _one_error(_cli(store, "cp", "-", f"{rctr.id}:/x", stdin=_tar(
        ("sub", tarfile.DIRTYPE), ("sub/file", tarfile.REGTYPE, b"pwned\n"))))
    assert "must be a directory" in _one_error(_cli(store, "cp", "-", f"{rctr.id}:/x/new/deep", stdin=_tar()))
    assert not (canary.parent / "pwned").exists()


# -- the two resolvers ---------------------------------------------------------------


@pytest.mark.parametrize("path, expected", [
    ("/a/b", "a/b"), ("/a/../../../a/b", "a/b"), ("a/up/a/b", "a/b"), ("/abs/b", "a/b"), ("/esc/a", "a"),
    ("/chain", "a/b"), ("/", ""), ("/esc/../../esc/a/b", "a/b"),
])
def test_walk_and_openat2_resolve_alike_and_stay_in_the_root(tmp_path: Path, path: str, expected: str) -> None:
    from engine.containers import inroot

    root = tmp_path / "root"
    (root / "a/b").mkdir(parents=True)
    (root / "a/up").symlink_to("../../../..")
    (root / "abs").symlink_to("/a")
    (root / "esc").symlink_to("/../../..")
    (root / "chain").symlink_to("abs/b")
    (root / "loop").symlink_to("loop")
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    saved = inroot.use_openat2
    try:
        for how in (True, False):
            inroot.use_openat2 = how
            fd = inroot.open_in_root(root_fd, path)
            try:
                assert os.readlink(f"/proc/self/fd/{fd}") == str(root / expected).rstrip("/")
            finally:
                os.close(fd)
            with pytest.raises(OSError):
                inroot.open_in_root(root_fd, "/loop/x")
            fd = inroot.open_in_root(root_fd, "/abs", follow_last=False)
            assert stat.S_ISLNK(os.fstat(fd).st_mode)
            os.close(fd)
    finally:
        inroot.use_openat2 = saved
        os.close(root_fd)


def test_a_container_racing_links_into_the_paths_cannot_redirect_a_copy(cengine, canary: Path,  # type: ignore[no-untyped-def]
                                                                         tmp_path: Path) -> None:
    from engine.errors import InvalidArgument

    swap = f"mkdir -p /x/a/sub; while :; do mv /x/a /x/b; ln -s {canary} /x/a; rm /x/a; mv /x/b /x/a; done"
    cid = start_d(cengine, "sh", "-c", swap)
    src = tmp_path / "a"
    (src / "sub").mkdir(parents=True)
    (src / "secret").write_text("pwned\n")
    (src / "sub/file").write_text("pwned\n")
    out = tmp_path / "out"
    out.mkdir()
    for i in range(60):
        for source, dest in ((str(src), f"{cid}:/x/"), (str(src / "secret"), f"{cid}:/x/a/sub/"),
                             (f"{cid}:/x/a", str(out / str(i)))):
            try:
                cengine.container_copy(source, dest)
            except InvalidArgument:
                continue  # a link in the way, or the path vanished mid-swap: one line, nothing written out
    leaked = [p for p in out.rglob("*") if p.is_file() and not p.is_symlink() and b"touch" in p.read_bytes()]
    assert not leaked, leaked  # nothing of the host's canary was read through a swapped-in link

"""Layer tars: real trees, real xattrs, real overlay mounts, real compressors."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import shutil
import stat
import struct
import subprocess
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

from engine.archive import (
    BZIP2,
    GZIP,
    UNCOMPRESSED,
    XZ,
    ZSTD,
    apply_layer,
    detect_compression,
    open_maybe_compressed,
    write_layer,
)
from engine.errors import ArchiveError, Cancelled, UnsafeEntry
from engine.kernel import syscalls

# sha256 of 1024 zero bytes: the diffID Docker gives every empty layer.
EMPTY_LAYER_DIFF_ID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

# struct vfs_cap_data, revision 2 (<linux/capability.h>): magic|effective, then
# permitted/inheritable for caps 0-31 and 32-63. CAP_NET_RAW is 13.
FILE_CAPS = struct.pack("<5I", 0x02000001, 1 << 13, 0, 0, 0)

MTIME = 1_600_000_000


# -- helpers -------------------------------------------------------------------


def require_xattrs(path: Path) -> None:
    """Fail loudly, never skip, if the test filesystem cannot hold the xattrs we test."""
    probe = path / ".xattr-probe"
    probe.write_bytes(b"")
    try:
        for name, value in (("user.probe", b"1"), ("trusted.probe", b"1"), ("security.capability", FILE_CAPS)):
            os.setxattr(probe, name, value)
            assert os.getxattr(probe, name) == value, f"{path} does not keep {name}"
    finally:
        probe.unlink()


def snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """Everything observable about the tree below ``root`` (not root itself), hard links as groups."""
    first_name: dict[int, str] = {}
    seen: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            link_group = None
            if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
                link_group = first_name.setdefault(st.st_ino, rel)
            content = None
            if stat.S_ISREG(st.st_mode):
                content = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
            xattrs = tuple(sorted((n, os.getxattr(path, n, follow_symlinks=False))
                                  for n in os.listxattr(path, follow_symlinks=False)))
            rdev = st.st_rdev if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else 0
            seen[rel] = (
                st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns // 1_000_000_000,
                st.st_size if content else None, rdev, content, target, xattrs, link_group,
            )
    return seen


def set_mtimes(root: Path, mtime: int = MTIME) -> None:
    """Give every entry a fixed mtime, deepest first so dirs keep theirs."""
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), (mtime, mtime), follow_symlinks=False)


def make_tree(root: Path) -> None:
    """One of every entry kind a layer can hold, with owners, odd modes and xattrs."""
    root.mkdir()
    (root / "etc").mkdir()
    (root / "etc" / "hostname").write_text("berth\n")
    (root / "bin").mkdir(mode=0o755)
    ping = root / "bin" / "ping"
    ping.write_bytes(b"\x7fELF" + b"x" * 1000)
    os.chmod(ping, 0o4755)
    os.setxattr(ping, "security.capability", FILE_CAPS)
    (root / "big").write_bytes(os.urandom(3 * (1 << 20) + 123))  # crosses the 1 MiB copy chunk
    (root / "empty").write_bytes(b"")
    (root / "shared").mkdir()
    os.chmod(root / "shared", 0o2775)
    os.chown(root / "shared", 0, 50)
    owned = root / "shared" / "owned"
    owned.write_text("mine")
    os.chown(owned, 1000, 1001)
    os.chmod(owned, 0o640)
    huge_ids = root / "huge-ids"
    huge_ids.write_text("ids beyond ustar's 8 octal digits")
    os.chown(huge_ids, 3_000_000, 3_000_001)
    os.link(root / "etc" / "hostname", root / "hostname-link")
    os.link(root / "etc" / "hostname", root / "bin" / "hostname-link2")
    os.symlink("../etc/hostname", root / "bin" / "rel-link")
    os.symlink("/etc/passwd", root / "abs-link")
    os.symlink("nowhere/at/all", root / "dangling")
    os.lchown(root / "dangling", 5, 6)
    os.mkfifo(root / "fifo", 0o620)
    os.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mknod(root / "loop0", stat.S_IFBLK | 0o660, os.makedev(7, 0))
    os.setxattr(root / "etc", "user.comment", b"a dir with an xattr")
    os.setxattr(root / "etc" / "hostname", "user.binary", bytes(range(256)))
    os.setxattr(root / "etc" / "hostname", "trusted.berth", b"kept")
    unicode = root / "ünïcödé-名前"
    unicode.write_text("non-ascii name")
    deep = root / ("long-" * 30)
    deep.mkdir()
    (deep / ("name-" * 30)).write_text("a path longer than ustar's 100 bytes")
    os.symlink("t" * 150, root / "long-target")
    set_mtimes(root)


def write_bytes(src: Path, **kwargs: Any) -> bytes:
    out = io.BytesIO()
    write_layer(str(src), out, **kwargs)
    return out.getvalue()


def apply_bytes(data: bytes, dest: Path, name: str = "layer.tar") -> Any:
    dest.mkdir(exist_ok=True)
    return apply_layer(io.BytesIO(data), str(dest), archive_name=name)


def _ustar_name(data: bytes, member: tarfile.TarInfo) -> str:
    block = data[member.offset : member.offset + 512]
    return block[:100].rstrip(b"\0").decode()


def build_tar(*entries: tuple[str, str, Any]) -> bytes:
    """A tar made entry by entry, with names a sane writer would never produce."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for kind, name, arg in entries:
            info = tarfile.TarInfo(name)
            info.mtime = MTIME
            if kind == "file":
                info.size = len(arg)
                tar.addfile(info, io.BytesIO(arg))
                continue
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, arg
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, arg
            tar.addfile(info)
    return out.getvalue()


# -- round trip and determinism --------------------------------------------------


def test_round_trip_restores_every_entry_kind(tmp_path: Path) -> None:
    require_xattrs(tmp_path)
    src = tmp_path / "src"
    make_tree(src)
    out = io.BytesIO()
    written = write_layer(str(src), out)
    data = out.getvalue()

    applied = apply_bytes(data, tmp_path / "dst")

    assert snapshot(tmp_path / "dst") == snapshot(src)
    assert written.diff_id == applied.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert written.tar_size == applied.tar_size == len(data)
    assert applied.compression == UNCOMPRESSED
    regular_once = sum(os.lstat(src / p).st_size
                       for p in ("etc/hostname", "bin/ping", "big", "shared/owned", "huge-ids"))
    assert applied.size > regular_once  # plus the unicode and long-name files, hard links counted once
    assert os.getxattr(tmp_path / "dst" / "bin" / "ping", "security.capability") == FILE_CAPS
    assert os.stat(tmp_path / "dst" / "bin" / "ping").st_mode & 0o7777 == 0o4755


def test_writing_is_deterministic_and_survives_a_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    first = write_bytes(src)
    assert write_bytes(src) == first
    apply_bytes(first, tmp_path / "dst")
    set_mtimes(tmp_path / "dst")  # the only thing apply cannot know: the root dir was never in the tar
    assert write_bytes(tmp_path / "dst") == first


def test_empty_dir_gives_dockers_empty_layer(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    out = io.BytesIO()
    result = write_layer(str(tmp_path / "empty"), out)
    assert out.getvalue() == b"\0" * 1024
    assert result.diff_id == EMPTY_LAYER_DIFF_ID
    assert apply_bytes(out.getvalue(), tmp_path / "dst").diff_id == EMPTY_LAYER_DIFF_ID
    assert os.listdir(tmp_path / "dst") == []


def test_tar_layout_matches_docker(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "a" / "b").mkdir(parents=True)
    (src / "a" / "b" / "f").write_text("x")
    (src / "a.txt").write_text("y")
    os.link(src / "a.txt", src / "z-link")
    os.setxattr(src / "a.txt", "security.capability", FILE_CAPS)
    data = write_bytes(src)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["a", "a/b", "a/b/f", "a.txt", "z-link"]
    assert [_ustar_name(data, m) for m in members[:2]] == ["a/", "a/b/"]
    assert members[4].type == tarfile.LNKTYPE and members[4].linkname == "a.txt"
    for m in members:
        assert (m.uname, m.gname) == ("", "")
        assert not {"atime", "ctime", "mtime"} & set(m.pax_headers)
    caps = members[3].pax_headers["SCHILY.xattr.security.capability"]
    assert caps.encode("utf-8", "surrogateescape") == FILE_CAPS


def test_gnu_tar_reads_what_we_write(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    (tmp_path / "layer.tar").write_bytes(write_bytes(src))
    (tmp_path / "gnu").mkdir()
    subprocess.run(
        ["tar", "--xattrs", "--xattrs-include=*", "-xpf", str(tmp_path / "layer.tar"), "-C", str(tmp_path / "gnu")],
        check=True,
    )
    assert snapshot(tmp_path / "gnu") == snapshot(src)


def test_we_read_what_gnu_tar_writes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    os.chmod(src, 0o711)
    gnu_tar = tmp_path / "gnu.tar"
    subprocess.run(
        ["tar", "--xattrs", "--xattrs-include=*", "--format=posix", "-cpf", str(gnu_tar), "-C", str(src), "."],
        check=True,
    )
    dst = tmp_path / "dst"
    dst.mkdir()
    apply_layer(str(gnu_tar), str(dst), archive_name="gnu.tar")
    assert snapshot(dst) == snapshot(src)
    assert stat.S_IMODE(os.stat(dst).st_mode) == 0o711  # the "./" entry describes the layer root


def test_sockets_are_left_out(tmp_path: Path) -> None:
    import socket

    src = tmp_path / "src"
    src.mkdir()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(src / "sock"))
        assert write_bytes(src) == b"\0" * 1024


# -- whiteouts -----------------------------------------------------------------------


def overlay(lower: str, upper: Path, work: Path, merged: Path) -> None:
    for d in (upper, work, merged):
        d.mkdir(exist_ok=True)
    syscalls.mount("overlay", str(merged), "overlay", 0, f"lowerdir={lower},upperdir={upper},workdir={work}")


def test_overlay_upper_dir_whiteouts_both_ways(store_root: Path) -> None:
    lower = store_root / "lower"
    (lower / "d").mkdir(parents=True)
    (lower / "d" / "old").write_text("old")
    for name in ("f", "g", "keep"):
        (lower / name).write_text(name)
    upper, work, merged = store_root / "upper", store_root / "work", store_root / "merged"
    overlay(str(lower), upper, work, merged)
    try:
        (merged / "f").unlink()
        (merged / "g").unlink()
        shutil.rmtree(merged / "d")
        (merged / "d").mkdir()
        (merged / "d" / "new").write_text("new")
        (merged / "keep").write_text("changed")
    finally:
        syscalls.umount2(str(merged))
    assert stat.S_ISCHR(os.lstat(upper / "f").st_mode)

    data = write_bytes(upper)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        members = {m.name: m for m in tar}
    assert sorted(members) == [".wh.f", ".wh.g", "d", "d/.wh..wh..opq", "d/new", "keep"]
    assert all(m.isreg() and m.size == 0 for n, m in members.items() if ".wh." in n)  # never LNKTYPE
    assert not any("trusted.overlay" in k for m in members.values() for k in m.pax_headers)

    layer = store_root / "layer"
    apply_bytes(data, layer)
    st = os.lstat(layer / "f")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(layer / "d", "trusted.overlay.opaque") == b"y"
    assert not (layer / "d" / ".wh..wh..opq").exists() and not (layer / ".wh.f").exists()

    # The applied layer, stacked on the lower dir, shows what the container saw.
    view = store_root / "view"
    view.mkdir()
    syscalls.mount("overlay", str(view), "overlay", syscalls.MS_RDONLY, f"lowerdir={layer}:{lower}")
    try:
        assert sorted(os.listdir(view)) == ["d", "keep"]
        assert os.listdir(view / "d") == ["new"]
        assert (view / "keep").read_text() == "changed"
    finally:
        syscalls.umount2(str(view))


def test_plain_dir_keeps_char_devices_and_applied_whiteouts_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    os.mknod(src / "gone", stat.S_IFCHR, os.makedev(0, 0))
    assert tarfile.open(fileobj=io.BytesIO(write_bytes(src, upper=False))).getmembers()[0].ischr()

    tar = build_tar(("dir", "d/", None), ("file", "d/.wh..wh..opq", b""), ("file", ".wh.gone", b""))
    apply_bytes(tar, tmp_path / "layer")
    again = write_bytes(tmp_path / "layer")
    # sorted by the deleted name
    assert [m.name for m in tarfile.open(fileobj=io.BytesIO(again))] == ["d", "d/.wh..wh..opq", ".wh.gone"]
    assert apply_bytes(again, tmp_path / "layer2").diff_id == "sha256:" + hashlib.sha256(again).hexdigest()
    assert write_bytes(tmp_path / "layer2") == again


def test_tar_cannot_smuggle_overlay_xattrs(tmp_path: Path) -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("d")
        info.type = tarfile.DIRTYPE
        info.pax_headers = {"SCHILY.xattr.trusted.overlay.redirect": "/etc", "SCHILY.xattr.user.ok": "1"}
        tar.addfile(info)
    apply_bytes(out.getvalue(), tmp_path / "layer")
    assert os.listxattr(tmp_path / "layer" / "d") == ["user.ok"]


# -- compression -----------------------------------------------------------------------


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    GZIP: gzip.compress,
    BZIP2: bz2.compress,
    XZ: lzma.compress,
    ZSTD: lambda data: zstandard.ZstdCompressor().compress(data),
}


@pytest.fixture
def small_layer(tmp_path: Path) -> tuple[Path, bytes]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "hello").write_text("hello\n" * 1000)
    os.symlink("hello", src / "link")
    return src, write_bytes(src)


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_every_compression_is_detected_by_content(tmp_path: Path, small_layer: tuple[Path, bytes], kind: str) -> None:
    src, plain = small_layer
    misleading = tmp_path / "layer.tar.gz" if kind != GZIP else tmp_path / "layer.tar.zst"
    misleading.write_bytes(COMPRESSORS[kind](plain))
    dst = tmp_path / "dst"
    dst.mkdir()
    result = apply_layer(str(misleading), str(dst), archive_name=misleading.name)
    assert result.compression == kind
    assert result.diff_id == "sha256:" + hashlib.sha256(plain).hexdigest()  # diffID: the uncompressed tar
    assert snapshot(dst) == snapshot(src)


def test_detect_compression_looks_past_a_first_file_named_like_magic(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "BZh91AY&SY").write_text("not bzip2")
    (src / "\x1f\x8b").write_text("not gzip either")
    data = write_bytes(src)
    assert detect_compression(data[:10]) == UNCOMPRESSED
    assert detect_compression(bz2.compress(b"")[:10]) == BZIP2
    assert detect_compression(b"") == UNCOMPRESSED
    assert apply_bytes(data, tmp_path / "dst").compression == UNCOMPRESSED


def test_concatenated_gzip_and_zstd_frames(tmp_path: Path, small_layer: tuple[Path, bytes]) -> None:
    src, plain = small_layer
    half = len(plain) // 2
    for kind in (GZIP, ZSTD):
        packed = COMPRESSORS[kind](plain[:half]) + COMPRESSORS[kind](plain[half:])
        dst = tmp_path / f"dst-{kind}"
        assert apply_bytes(packed, dst).tar_size == len(plain)
        assert snapshot(dst) == snapshot(src)


class Trickle:
    """A source that hands out a few bytes per read, like a slow pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1, /) -> bytes:
        return self._data.read(3 if size < 0 else min(size, 3))


def test_open_maybe_compressed_reads_forward_only(small_layer: tuple[Path, bytes]) -> None:
    _, plain = small_layer
    stream = open_maybe_compressed(Trickle(COMPRESSORS[XZ](plain)))
    assert stream.compression == XZ
    got = b""
    while chunk := stream.read(4096):
        got += chunk
    assert got == plain


@pytest.mark.parametrize("kind", [UNCOMPRESSED, GZIP, ZSTD])
def test_apply_streams_from_a_pipe(tmp_path: Path, small_layer: tuple[Path, bytes], kind: str) -> None:
    src, plain = small_layer
    payload = plain if kind == UNCOMPRESSED else COMPRESSORS[kind](plain)
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with os.fdopen(write_fd, "wb") as w:
            w.write(payload)

    feeder = threading.Thread(target=feed)
    feeder.start()
    dst = tmp_path / "dst"
    dst.mkdir()
    try:
        with os.fdopen(read_fd, "rb") as r:
            assert not r.seekable()
            result = apply_layer(r, str(dst), archive_name="-")
    finally:
        feeder.join()
    assert result.diff_id == "sha256:" + hashlib.sha256(plain).hexdigest()
    assert snapshot(dst) == snapshot(src)


def test_trailing_padding_counts_towards_the_diff_id(tmp_path: Path, small_layer: tuple[Path, bytes]) -> None:
    _, plain = small_layer
    padded = plain + b"\0" * 9216  # a 10 KiB tar record, as GNU tar pads
    assert apply_bytes(padded, tmp_path / "dst").diff_id == "sha256:" + hashlib.sha256(padded).hexdigest()


# -- unsafe entries ---------------------------------------------------------------------


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A layer dir and, beside it, an ``outside`` dir that no tar may touch."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    set_mtimes(outside)
    layer = tmp_path / "layer"
    layer.mkdir()
    passwd_links = os.stat("/etc/passwd").st_nlink
    before = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("layer")}
    yield layer, outside
    after = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("layer")}
    assert after == before  # "outside" itself included: nothing was created in it
    assert os.stat("/etc/passwd").st_nlink == passwd_links


def unsafe_cases(outside: str) -> dict[str, tuple[bytes, str]]:
    """name → (tar bytes, the entry that must be refused)."""
    return {
        "dotdot": (build_tar(("file", "../outside/x", b"x")), "../outside/x"),
        "absolute-dotdot": (build_tar(("file", "/abs/../../x", b"x")), "/abs/../../x"),
        "nested-dotdot": (build_tar(("file", "a/../../x", b"x")), "a/../../x"),
        "symlink-parent": (build_tar(("symlink", "evil", outside), ("file", "evil/x", b"x")), "evil/x"),
        "symlink-parent-overwrite": (
            build_tar(("symlink", "evil", outside), ("file", "evil/secret", b"pwned")), "evil/secret"),
        "symlink-root": (build_tar(("symlink", "root", "/"), ("file", "root" + outside + "/x", b"x")),
                         "root" + outside + "/x"),
        "dotdot-symlink": (build_tar(("symlink", "up", "../outside"), ("file", "up/x", b"x")), "up/x"),
        "dotdot-chain": (
            build_tar(("symlink", "l1", ".."), ("symlink", "l2", "l1/outside"), ("file", "l2/x", b"x")), "l2/x"),
        "dir-replaced-by-symlink": (
            build_tar(("dir", "a", None), ("symlink", "a", outside), ("file", "a/x", b"x")), "a/x"),
        "symlink-dir-entry": (build_tar(("symlink", "evil", outside), ("dir", "evil/sub", None)), "evil/sub"),
        "hardlink-dotdot": (build_tar(("hardlink", "pw", "../../etc/passwd")), "pw"),
        "hardlink-absolute": (build_tar(("hardlink", "pw", "/../etc/passwd")), "pw"),
        "hardlink-to-outside-symlink": (
            build_tar(("symlink", "s", outside + "/secret"), ("hardlink", "h", "s")), "h"),
        "hardlink-to-escaping-symlink": (
            build_tar(("symlink", "s", "../outside/secret"), ("hardlink", "h", "s")), "h"),
        "hardlink-through-symlink": (
            build_tar(("symlink", "evil", outside), ("hardlink", "h", "evil/secret")), "h"),
        "hardlink-not-yet-extracted": (build_tar(("hardlink", "h", "later"), ("file", "later", b"x")), "h"),
        "hardlink-to-dir": (build_tar(("dir", "d", None), ("hardlink", "h", "d")), "h"),
        "whiteout-dotdot": (build_tar(("file", "sub/.wh...", b"")), "sub/.wh..."),
        "root-as-file": (build_tar(("file", "./", b"")), "./"),
    }


CASES = sorted(unsafe_cases("/x"))


@pytest.mark.parametrize("case", CASES)
def test_unsafe_entries_are_refused(sandbox: tuple[Path, Path], case: str) -> None:
    layer, outside = sandbox
    data, entry = unsafe_cases(str(outside))[case]
    with pytest.raises(UnsafeEntry) as caught:
        apply_layer(io.BytesIO(data), str(layer), archive_name="evil.tar")
    assert str(caught.value) == f"evil.tar: unsafe entry {entry}"
    assert (caught.value.archive, caught.value.name) == ("evil.tar", entry)


def test_names_that_stay_inside_are_normalised(tmp_path: Path) -> None:
    tar = build_tar(
        ("file", "/etc/abs", b"leading slash stripped"),
        ("file", "./dot/x", b"dot"),
        ("file", "a/../b", b"lexical"),
        ("symlink", "link-out", "/etc/passwd"),  # made, never followed
        ("symlink", "in", "b"),
        ("hardlink", "in2", "in"),  # a hard link to a symlink that stays inside
        ("file", "twice", b"first"),
        ("file", "twice", b"second"),  # a later entry replaces an earlier one
    )
    layer = tmp_path / "layer"
    apply_bytes(tar, layer)
    assert (layer / "etc" / "abs").read_bytes() == b"leading slash stripped"
    assert (layer / "dot" / "x").read_bytes() == b"dot"
    assert (layer / "b").read_bytes() == b"lexical" and not (layer / "a").exists()
    assert os.readlink(layer / "link-out") == "/etc/passwd"
    assert os.lstat(layer / "in2").st_ino == os.lstat(layer / "in").st_ino
    assert (layer / "twice").read_bytes() == b"second"
    assert stat.S_IMODE(os.stat(layer / "dot").st_mode) == 0o755  # implicit parent


# -- broken input ------------------------------------------------------------------------


def broken_inputs(plain: bytes) -> dict[str, bytes]:
    first_data = 512 + 512  # the first entry is a dir with a pax header
    flipped = bytearray(gzip.compress(plain))
    flipped[-6] ^= 0xFF  # inside the CRC32 trailer
    return {
        "empty": b"",
        "text": b"hello, I am not a tar\n",
        "random": os.urandom(4096),
        "cut-in-data": plain[: first_data + 700],
        "cut-at-header": plain[: len(plain) - 1024],
        "cut-in-header": plain[: len(plain) - 1024 - 200],
        "bad-second-header": plain[: len(plain) - 1024] + b"garbage!" * 64 + b"\0" * 1024,
        "gzip-truncated": gzip.compress(plain)[:-20],
        "gzip-bad-crc": bytes(flipped),
        "bzip2-truncated": bz2.compress(plain)[:-20],
        "xz-truncated": lzma.compress(plain)[:-20],
        "zstd-truncated": zstandard.ZstdCompressor().compress(plain)[:-20],
        "zstd-garbage": b"\x28\xb5\x2f\xfd" + os.urandom(200),
    }


@pytest.mark.parametrize("case", sorted(broken_inputs(b"")))
def test_broken_input_is_one_clear_archive_error(tmp_path: Path, small_layer: tuple[Path, bytes], case: str) -> None:
    _, plain = small_layer
    with pytest.raises(ArchiveError) as caught:
        apply_bytes(broken_inputs(plain)[case], tmp_path / "dst", name="broken.tar")
    message = str(caught.value)
    assert type(caught.value) is ArchiveError
    assert message.startswith("broken.tar: ") and "\n" not in message
    if case.endswith("truncated") or case.startswith("cut"):
        assert "truncated" in message
    if case in ("empty", "text", "random"):
        assert "not a tar archive" in message


def test_broken_plain_tar_messages(tmp_path: Path, small_layer: tuple[Path, bytes]) -> None:
    _, plain = small_layer
    with pytest.raises(ArchiveError, match=r"^x: corrupt"):
        apply_bytes(broken_inputs(plain)["bad-second-header"], tmp_path / "a", name="x")
    with pytest.raises(ArchiveError, match=r"^x: corrupt gzip data"):
        apply_bytes(broken_inputs(plain)["gzip-bad-crc"], tmp_path / "b", name="x")


# -- cancel and progress -------------------------------------------------------------------


def test_cancel_stops_both_directions(tmp_path: Path, small_layer: tuple[Path, bytes]) -> None:
    src, plain = small_layer
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        write_layer(str(src), io.BytesIO(), cancel=cancel)
    (tmp_path / "dst").mkdir()
    with pytest.raises(Cancelled):
        apply_layer(io.BytesIO(plain), str(tmp_path / "dst"), archive_name="x", cancel=cancel)


def test_progress_reports_tar_bytes_read(tmp_path: Path, small_layer: tuple[Path, bytes]) -> None:
    _, plain = small_layer
    seen: list[int] = []
    (tmp_path / "dst").mkdir()
    apply_layer(io.BytesIO(plain), str(tmp_path / "dst"), archive_name="x", progress=seen.append)
    assert len(seen) == 2 and seen == sorted(seen) and seen[-1] <= len(plain)

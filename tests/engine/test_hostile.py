"""Hostile input, each refused or contained with one ``Error:`` line, and nothing outside the store touched."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from tests.engine.canary import canary  # noqa: F401


def _tar(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def _import(berth, tmp_path: Path, data: bytes, name: str = "hostile.tar") -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_bytes(data)
    return berth("import", str(path), "hostile:test")


def _refused(result: tuple[int, str, str], entry: str) -> None:
    status, _, err = result
    assert status == 1 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("Error: ") and f"unsafe entry {entry}" in err, err


def _clean_store(berth, store_root: Path) -> None:  # type: ignore[no-untyped-def]
    status, out, _ = berth("system", "check")
    assert status == 0, out
    assert not (store_root / "tmp").exists() or not os.listdir(store_root / "tmp")


def test_dotdot_entries_are_refused(berth, tmp_path: Path, canary: Path, store_root: Path) -> None:
    _refused(_import(berth, tmp_path, _tar(_file("../pwned"))), "../pwned")
    _refused(_import(berth, tmp_path, _tar(_file("a/../../pwned"))), "a/../../pwned")
    _clean_store(berth, store_root)


def test_absolute_paths_stay_inside_the_layer(berth, tmp_path: Path, canary: Path, store_root: Path) -> None:
    status, _, err = _import(berth, tmp_path, _tar(_file(f"{canary}/secret", b"overwritten")))
    assert status == 0, err
    inside = list((store_root / "overlay2").glob(f"*/diff{canary}/secret"))
    assert len(inside) == 1 and inside[0].read_bytes() == b"overwritten"


def test_symlink_out_then_write_through_it(berth, tmp_path: Path, canary: Path, store_root: Path) -> None:
    _refused(_import(berth, tmp_path, _tar(_link("evil", str(canary)), _file("evil/secret", b"pwned"))), "evil/secret")
    _refused(_import(berth, tmp_path, _tar(_link("up", "../../../../../.."), _file("up/pwned"))), "up/pwned")
    _clean_store(berth, store_root)


def test_hard_links_to_outside(berth, tmp_path: Path, canary: Path, store_root: Path) -> None:
    _refused(_import(berth, tmp_path, _tar(_link("h", f"../../{canary}/secret", tarfile.LNKTYPE))), "h")
    _refused(_import(berth, tmp_path, _tar(_link("s", str(canary)), _link("h", "s/secret", tarfile.LNKTYPE))), "h")
    _clean_store(berth, store_root)


def test_whiteouts_that_climb_out(berth, tmp_path: Path, canary: Path, store_root: Path) -> None:
    _refused(_import(berth, tmp_path, _tar(_file("../.wh.canary", b""))), "../.wh.canary")
    _refused(_import(berth, tmp_path, _tar(_file("a/../../.wh.secret", b""))), "a/../../.wh.secret")
    _clean_store(berth, store_root)


def test_device_nodes_are_kept_as_nodes_in_the_layer(berth, tmp_path: Path, canary: Path, store_root: Path) -> None:
    block, char = tarfile.TarInfo("dev/sda"), tarfile.TarInfo("dev/mynull")
    block.type, block.devmajor, block.devminor = tarfile.BLKTYPE, 8, 0
    char.type, char.devmajor, char.devminor = tarfile.CHRTYPE, 1, 3
    status, _, err = _import(berth, tmp_path, _tar((block, None), (char, None)))
    assert status == 0, err
    (node,) = (store_root / "overlay2").glob("*/diff/dev/sda")
    assert node.is_block_device() and os.major(node.lstat().st_rdev) == 8


def test_duplicate_entries_last_one_wins(berth, tmp_path: Path, canary: Path, store_root: Path) -> None:
    status, _, err = _import(berth, tmp_path, _tar(_file("f", b"first"), _file("f", b"second")))
    assert status == 0, err
    (path,) = (store_root / "overlay2").glob("*/diff/f")
    assert path.read_bytes() == b"second"


def test_huge_sparse_file_costs_no_disk(berth, tmp_path: Path, canary: Path, store_root: Path) -> None:
    tree = tmp_path / "sparse"
    tree.mkdir()
    with open(tree / "hole", "wb") as f:
        f.truncate(2 << 30)  # 2 GiB of nothing
        f.seek(1 << 30)
        f.write(b"middle")
    subprocess.run(["tar", "--sparse", "-C", str(tree), "-cf", str(tmp_path / "sparse.tar"), "hole"], check=True)
    assert os.path.getsize(tmp_path / "sparse.tar") < 1 << 20
    status, _, err = berth("import", str(tmp_path / "sparse.tar"), "sparse")
    assert status == 0, err
    (hole,) = (store_root / "overlay2").glob("*/diff/hole")
    assert hole.stat().st_size == 2 << 30 and hole.stat().st_blocks * 512 < 64 << 20
    with open(hole, "rb") as f:
        f.seek(1 << 30)
        assert f.read(6) == b"middle"


def test_compression_bomb_is_contained(berth, tmp_path: Path, canary: Path, store_root: Path) -> None:
    size = 256 << 20  # 256 MiB of zeros, a few hundred kB gzipped
    info = tarfile.TarInfo("bomb")
    info.size = size
    header = info.tobuf(tarfile.PAX_FORMAT)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    parts = [packer.compress(header)]
    parts += [packer.compress(chunk) for _ in range(size >> 20)]
    parts.append(packer.compress(bytes(1024)) + packer.flush())
    bomb = b"".join(parts)
    assert len(bomb) < 2 << 20
    status, _, err = _import(berth, tmp_path, bomb, "bomb.tar.gz")
    assert status == 0, err
    (path,) = (store_root / "overlay2").glob("*/diff/bomb")
    assert path.stat().st_size == size and path.stat().st_blocks * 512 < 16 << 20


def test_every_verb_refuses_bad_flags_in_one_line(berth) -> None:
    from tui.cli import build_parser

    for path, _parser in _leaf_parsers(build_parser(), []):
        status, _, err = berth(*path, "--no-such-flag")
        assert status == 125, (path, err)
        assert err.startswith("Error: ") and "Traceback" not in err and err.count("\n") <= 2, (path, err)


def test_int_flags_refuse_words(berth) -> None:
    from tui.cli import build_parser

    checked = 0
    for path, parser in _leaf_parsers(build_parser(), []):
        for action in parser._actions:
            if action.type is int and action.option_strings:
                status, _, err = berth(*path, action.option_strings[-1], "many")
                assert status == 125 and err.startswith("Error: ") and "Traceback" not in err, (path, err)
                checked += 1
    assert checked >= 1


def _leaf_parsers(parser: argparse.ArgumentParser,
                  path: list[str]) -> Iterator[tuple[list[str], argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    seen = set()
    for name, child in subs[0].choices.items():
        if id(child) not in seen:
            seen.add(id(child))
            yield from _leaf_parsers(child, [*path, name])


def test_huge_dockerfile_line(berth, tmp_path: Path, canary: Path, store_root: Path) -> None:
    assert berth("bootstrap")[0] == 0
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nLABEL big=" + "x" * 2_000_000 + "\nRUN true\n")
    status, out, err = berth("build", "-q", "-t", "big", str(context))
    assert "Traceback" not in err
    assert status == 0 or (status == 1 and err.startswith("Error: ") and err.count("\n") == 1), err
    _clean_store(berth, store_root)

"""``system check`` finds each kind of damage, and ``--repair`` reclaims what is safe to reclaim."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from engine.kernel import syscalls


def _import(engine, tar: Path, ref: str) -> str:  # type: ignore[no-untyped-def]
    with open(tar, "rb") as f:
        return engine.image_import(f, source_name=str(tar), ref=ref)


def test_clean_store_is_consistent(engine, busybox_tar: Path, berth) -> None:
    _import(engine, busybox_tar, "a")
    status, out, _ = berth("system", "check")
    assert status == 0 and out.strip().endswith("1 images, 1 layers, consistent")


def test_orphans_temp_files_and_stale_mounts_are_repaired(engine, busybox_tar: Path, store_root: Path, berth) -> None:
    _import(engine, busybox_tar, "a")
    orphan = store_root / "overlay2" / ("f" * 64)
    (orphan / "diff").mkdir(parents=True)
    (orphan / "merged").mkdir()
    syscalls.mount("tmpfs", str(orphan / "merged"), "tmpfs")
    (store_root / "overlay2/l/DANGLINGLINKXXXXXXXXXXXXXX").symlink_to("../nowhere/diff")
    (store_root / "image/overlay2/imagedb/content/sha256/.tmp-half-written").write_text("{")
    staging = store_root / "tmp" / ("e" * 64)
    staging.mkdir(parents=True)
    repos = store_root / "image/overlay2/repositories.json"
    data = json.loads(repos.read_text())
    data["Repositories"]["ghost"] = {"ghost:latest": "sha256:" + "0" * 64}
    repos.write_text(json.dumps(data))
    status, out, _ = berth("system", "check")
    assert status == 1
    for kind in ("orphan layer dir", "stale mount", "dangling short link", "leftover temp file",
                 "abandoned staging dir", "dangling tag"):
        assert kind in out, out
    status, out, _ = berth("system", "check", "--repair")
    assert status == 0, out
    assert not orphan.exists() and not staging.exists()
    assert "ghost" not in repos.read_text()
    assert berth("images", "-q")[1].strip()  # the real image survived
    assert berth("system", "check")[0] == 0


def test_missing_data_is_reported_not_hidden(engine, busybox_tar: Path, store_root: Path, berth) -> None:
    image_id = _import(engine, busybox_tar, "a")
    cache_id = engine.store.images.image_layers(image_id)[0].cache_id
    shutil.rmtree(store_root / "overlay2" / cache_id / "diff")
    status, out, _ = berth("system", "check", "--repair")
    assert status == 1
    assert "missing layer data" in out and "(not repairable)" in out


def test_wrong_size_and_tampered_config_are_reported(engine, busybox_tar: Path, store_root: Path, berth) -> None:
    image_id = _import(engine, busybox_tar, "a")
    layer = engine.store.images.image_layers(image_id)[0]
    (store_root / "overlay2" / layer.cache_id / "diff/extra").write_bytes(b"x" * 10)
    config = store_root / "image/overlay2/imagedb/content/sha256" / image_id[7:]
    os.chmod(config, 0o644)
    config.write_bytes(config.read_bytes().replace(b'"os":"linux"', b'"os":"linux "'))
    status, out, _ = berth("system", "check")
    assert status == 1
    assert "wrong layer size" in out and "image config digest mismatch" in out

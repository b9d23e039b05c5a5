"""Many berth processes on one store at once."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.engine.test_crash import REPO, berth_cmd, run


def test_eight_parallel_imports_all_land_and_share_layers(store_root: Path, busybox_rootfs: Path,
                                                          busybox_tar: Path, tmp_path: Path) -> None:
    tars = [busybox_tar] * 4
    for i in range(4):
        tree = tmp_path / f"tree{i}"
        subprocess.run(["cp", "-a", str(busybox_rootfs), str(tree)], check=True)
        (tree / "etc/variant").write_text(f"{i}\n")
        out = tmp_path / f"variant{i}.tar"
        subprocess.run(["tar", "-C", str(tree), "-cf", str(out), "."], check=True)
        tars.append(out)
    procs = [subprocess.Popen(berth_cmd(store_root, "import", str(t), f"img{i}:latest"), cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i, t in enumerate(tars)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _ in results), results
    listed = run(store_root, "images").stdout
    for i in range(8):
        assert f"img{i} " in listed
    # One diffID is stored once: 1 shared layer + 4 variants.
    assert len(os.listdir(store_root / "image/overlay2/layerdb/sha256")) == 5
    assert len([d for d in os.listdir(store_root / "overlay2") if d != "l"]) == 5
    assert len(os.listdir(store_root / "overlay2/l")) == 5
    check = run(store_root, "system", "check")
    assert check.returncode == 0, check.stdout

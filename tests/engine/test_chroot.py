"""berth run from inside a chroot whose ``/`` is a plain directory, as a debootstrap'd Debian is entered."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# In a private mount namespace (so nothing here outlives the child): a tmpfs holding a plain dir, the jail,
# with the host's top-level dirs bound in; chroot into it and run a container there.
_CHILD = r"""
import os, sys
sys.path.insert(0, {repo!r})
from engine.kernel import syscalls
from engine.runtime import rootfs
top, store = sys.argv[1], sys.argv[2]
syscalls.unshare(syscalls.CLONE_NEWNS)
rootfs.make_mounts_private("/proc")  # (this suite may itself run in such a chroot)
syscalls.mount("tmpfs", top, "tmpfs")
jail = os.path.join(top, "jail")
os.mkdir(jail)
for name in os.listdir("/"):
    if os.path.isdir("/" + name) and not os.path.islink("/" + name):
        os.mkdir(os.path.join(jail, name))
        syscalls.mount("/" + name, os.path.join(jail, name), None, syscalls.MS_BIND | syscalls.MS_REC)
    elif os.path.islink("/" + name):
        os.symlink(os.readlink("/" + name), os.path.join(jail, name))
os.chroot(jail)
os.chdir("/")
assert not any(line.split()[4] == "/" for line in open("/proc/self/mountinfo")), "the jail's / is a mount"
from engine import Engine
from engine.containers import CreateOptions
from tests.engine.containers_fixtures import stop_monitor
engine = Engine(store)
engine.image_bootstrap("busybox:latest")
cid = engine.container_create(CreateOptions(image="busybox", cmd=["sh", "-c", "echo in-$(hostname); ls /"],
                                            network="none"))
try:
    attachment = engine.container_start(cid, attach=True)
    print("".join(e.log for e in attachment.entries()), end="")
    attachment.close()
    print("exit", attachment.exit_code)
finally:
    engine.container_remove(cid, force=True)
    stop_monitor(engine)
"""


def test_a_container_runs_inside_a_chroot_whose_root_is_no_mount(store_root: Path, tmp_path: Path) -> None:
    """pivot_root and making "/" private both refuse a root that is not a mount: a newcomer's chroot."""
    top = tmp_path / "top"
    top.mkdir()
    child = subprocess.run([sys.executable, "-c", _CHILD.format(repo=str(REPO)), str(top), str(store_root)],
                           capture_output=True, text=True, timeout=120, cwd="/")
    assert child.returncode == 0, child.stderr
    lines = child.stdout.splitlines()
    assert lines[0].startswith("in-") and lines[-1] == "exit 0", child.stdout
    shown = set(lines[1:-1])
    assert {"bin", "proc", "etc"} <= shown and "work" not in shown and "top" not in shown  # the image's, alone

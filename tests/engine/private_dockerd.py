"""A dockerd of the test's own, for the interop tests that need Docker where it is installed.

The host's daemon is never used or touched: this one has its own data root, exec
root and socket under the test's temp dir, no bridge, no iptables rules and no IP
forwarding, and it is stopped by its PID when the test ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["private_dockerd"]

_START_SECONDS = 60


@contextlib.contextmanager
def private_dockerd() -> Iterator[list[str] | None]:
    """Yield the docker CLI argv for a private daemon, or None when dockerd/docker are not installed."""
    dockerd, docker = shutil.which("dockerd"), shutil.which("docker")
    if dockerd is None or docker is None:
        yield None
        return
    if not _root_is_a_mount():
        import pytest

        pytest.skip("dockerd cannot work where / is no mount point (a debootstrap'd chroot): runc and its "
                    "layer unpacker remount / and get EINVAL; berth re-roots itself, Docker does not")
    # Short: containerd's sockets live under the exec root, and a unix socket path has at most 107 bytes.
    base = Path(tempfile.mkdtemp(prefix="berth-dockerd-", dir="/tmp"))
    data, exec_root, sock = base / "data", base / "exec", base / "docker.sock"
    with open(base / "dockerd.log", "wb") as log:  # the child keeps its own copy of the fd
            proc = subprocess.Popen([dockerd, "--data-root", str(data), "--exec-root", str(exec_root),
                                 "--pidfile", str(base / "dockerd.pid"), "-H", f"unix://{sock}", "--bridge=none",
                                 "--iptables=false", "--ip-forward=false", "--ip-masq=false"],
                                stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    cli = [docker, "-H", f"unix://{sock}"]
    try:
        deadline = time.monotonic() + _START_SECONDS
        while subprocess.run([*cli, "info"], capture_output=True, check=False).returncode:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the private dockerd did not start: "
                                   + (base / "dockerd.log").read_text(errors="replace")[-2000:])
            time.sleep(0.2)
        yield cli
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        _unmount_under(base)
        shutil.rmtree(base, ignore_errors=True)


def _root_is_a_mount() -> bool:
    """Whether ``/`` can be made private in a mount namespace of its own (not so in a plain chroot)."""
    done = subprocess.run(["unshare", "-m", "mount", "--make-rprivate", "/"], capture_output=True, check=False)
    return done.returncode == 0


def _unmount_under(base: Path) -> None:
    """dockerd leaves its overlay and shm mounts when stopped hard; take them down, deepest first."""
    prefix = str(base) + os.sep
    with open("/proc/self/mountinfo") as mounts:
        points = [line.split()[4] for line in mounts if line.split()[4].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)

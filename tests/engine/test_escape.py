"""Escape probes run inside a real container; every one must fail. The results print as a table."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.engine.test_crash import REPO

ROOT_DEV = os.stat("/").st_dev
HOST_PID = os.getpid()

# name -> shell snippet that exits 0 only if the escape worked.
PROBES: dict[str, str] = {
    "mount a tmpfs": "mount -t tmpfs none /tmp",
    "umount /proc": "umount /proc",
    "pivot_root": "mkdir -p /tmp/n/old && mount --bind /tmp/n /tmp/n && pivot_root /tmp/n /tmp/n/old",
    "unshare a user namespace": "unshare -U -r true",
    "unshare mount+user namespaces": "unshare -U -r -m true",
    "mknod + read a block device":
        f"mknod /tmp/b b {os.major(ROOT_DEV)} {os.minor(ROOT_DEV)} && head -c 512 /tmp/b >/dev/null",
    "write /proc/sys": "echo 3 > /proc/sys/vm/drop_caches",
    "write /proc/sysrq-trigger": "echo h > /proc/sysrq-trigger",
    "write /sys": "echo 1 > /sys/kernel/mm/ksm/run || touch /sys/pwned",
    "read /proc/kcore": "[ \"$(head -c 16 /proc/kcore | wc -c)\" -gt 0 ]",
    "load a kernel module": "printf '\\177ELF' > /tmp/m.ko && insmod /tmp/m.ko",
    "reboot": "reboot -f -n",
    "see host processes": f"[ -d /proc/{HOST_PID} ] || [ \"$(ls -d /proc/[0-9]* | wc -l)\" -gt 5 ]",
    "signal a host process": f"kill -0 {HOST_PID}",
    "setns into pid 1's namespaces": "nsenter -t 1 -m -u -i -n -p true",
    "overwrite /proc/self/exe": "echo x > /proc/self/exe",
    "overwrite pid 1's exe": "echo x > /proc/1/exe",
    # A child forked before any redirection holds exactly what berth handed the container.
    "inherit fds beyond 0-2": "sleep 2 & ls /proc/$!/fd | grep -qv '^[012]$'",
    "raise the open-files hard limit": "ulimit -Hn $(( $(ulimit -Hn) + 1 ))",
    "change the host's hostname": "hostname pwned-by-container",
    "set the clock": "date -s 2001-01-01 >/dev/null 2>&1 && [ \"$(date +%Y)\" = 2001 ]",
}


def _berth(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui.cli", "--root", str(root), *argv],
                          capture_output=True, text=True, timeout=60, cwd=REPO)


def test_escape_probes_all_fail(store_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _berth(store_root, "bootstrap").returncode == 0
    hostname, started = socket.gethostname(), time.time()
    rows = []
    for name, snippet in PROBES.items():
        done = _berth(store_root, "run", "--rm", "busybox", "sh", "-c", snippet)
        rows.append((name, done.returncode, (done.stderr.strip().splitlines() or [""])[-1][:60]))
    assert socket.gethostname() == hostname
    assert abs(time.time() - started) < 600, "the host clock moved"
    with capsys.disabled():
        print("\n\nescape probe                        exit  result (last stderr line)")
        for name, code, why in rows:
            print(f"{name:35} {code:4}  {'FAILED as it should' if code else 'ESCAPED'}: {why}")
    escaped = [name for name, code, _ in rows if code == 0]
    assert escaped == [], f"escapes: {escaped}"


def test_seccomp_refuses_calls_busybox_cannot_make() -> None:
    """keyctl, bpf, kexec, open_by_handle_at: raw syscalls from a filtered child process."""
    code = r"""
import ctypes, os, sys
sys.path.insert(0, sys.argv[1])
from engine.kernel import syscalls
from engine.runtime import seccomp
libc = ctypes.CDLL(None, use_errno=True)
syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
seccomp.install_filter()
nums = {"keyctl": 250, "bpf": 321, "kexec_load": 246, "open_by_handle_at": 304, "add_key": 248, "setns": 308}
results = {}
for name, nr in nums.items():
    ret = libc.syscall(nr, 0, 0, 0, 0, 0)
    results[name] = (ret, ctypes.get_errno())
print(results)
sys.exit(0 if all(r == -1 and e == 1 for r, e in results.values()) else 1)
"""
    if os.uname().machine != "x86_64":
        pytest.skip("the raw syscall numbers in this probe are x86_64's")
    done = subprocess.run([sys.executable, "-c", code, str(REPO)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr

"""Linux capabilities by name, Docker's default set, and cutting the bounding set to it."""

from __future__ import annotations

import errno
from collections.abc import Iterable

from engine.kernel import syscalls

__all__ = ["CAPABILITIES", "DEFAULT_CAPABILITIES", "capability_numbers", "drop_bounding_set"]

# <linux/capability.h>, without the CAP_ prefix.
CAPABILITIES = {
    "CHOWN": 0,
    "DAC_OVERRIDE": 1,
    "DAC_READ_SEARCH": 2,
    "FOWNER": 3,
    "FSETID": 4,
    "KILL": 5,
    "SETGID": 6,
    "SETUID": 7,
    "SETPCAP": 8,
    "LINUX_IMMUTABLE": 9,
    "NET_BIND_SERVICE": 10,
    "NET_BROADCAST": 11,
    "NET_ADMIN": 12,
    "NET_RAW": 13,
    "IPC_LOCK": 14,
    "IPC_OWNER": 15,
    "SYS_MODULE": 16,
    "SYS_RAWIO": 17,
    "SYS_CHROOT": 18,
    "SYS_PTRACE": 19,
    "SYS_PACCT": 20,
    "SYS_ADMIN": 21,
    "SYS_BOOT": 22,
    "SYS_NICE": 23,
    "SYS_RESOURCE": 24,
    "SYS_TIME": 25,
    "SYS_TTY_CONFIG": 26,
    "MKNOD": 27,
    "LEASE": 28,
    "AUDIT_WRITE": 29,
    "AUDIT_CONTROL": 30,
    "SETFCAP": 31,
    "MAC_OVERRIDE": 32,
    "MAC_ADMIN": 33,
    "SYSLOG": 34,
    "WAKE_ALARM": 35,
    "BLOCK_SUSPEND": 36,
    "AUDIT_READ": 37,
    "PERFMON": 38,
    "BPF": 39,
    "CHECKPOINT_RESTORE": 40,
}

# moby's oci/caps/defaults.go: what `docker run` grants without --cap-add.
DEFAULT_CAPABILITIES = frozenset(
    {
        "CHOWN",
        "DAC_OVERRIDE",
        "FSETID",
        "FOWNER",
        "MKNOD",
        "NET_RAW",
        "SETGID",
        "SETUID",
        "SETFCAP",
        "SETPCAP",
        "NET_BIND_SERVICE",
        "SYS_CHROOT",
        "KILL",
        "AUDIT_WRITE",
    }
)

# Bounding-set bits go up to 63; the kernel answers EINVAL past its last capability.
_MAX_CAPABILITY = 63


def capability_numbers(names: Iterable[str]) -> frozenset[int]:
    """Numbers for capability names, with or without the ``CAP_`` prefix; unknown names raise ValueError."""
    numbers = set()
    for name in names:
        bare = name.upper().removeprefix("CAP_")
        if bare not in CAPABILITIES:
            raise ValueError(f"unknown capability: {name}")
        numbers.add(CAPABILITIES[bare])
    return frozenset(numbers)


def drop_bounding_set(keep: frozenset[int]) -> None:
    """Remove every capability not in ``keep`` from this process's bounding set (needs CAP_SETPCAP).

    Root's permitted set after execve is the bounding set, so this is what limits
    a container's root; the current process keeps its own capabilities until exec.
    """
    for number in range(_MAX_CAPABILITY + 1):
        if number in keep:
            continue
        try:
            syscalls.prctl(syscalls.PR_CAPBSET_DROP, number)
        except OSError as err:
            if err.errno == errno.EINVAL:
                return
            raise

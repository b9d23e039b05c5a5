"""A seccomp filter for container processes: the kernel calls a container never needs, refused.

Docker's default profile is an allow-list of ~300 calls; ours is a short
deny-list of what lets a process leave or reshape its box (new user
namespaces, setns, mounting, kernel keyrings, modules, kexec, bpf, handle
opens as in the "shocker" exploit), which is most of what that allow-list
buys on a modern kernel. Refused calls fail with EPERM; ``clone3`` fails with
ENOSYS so libc falls back to ``clone``, whose namespace flags we can inspect.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

from . import syscalls

__all__ = ["install_filter", "build_program", "DENIED"]

# <linux/seccomp.h>, <linux/filter.h>, <linux/audit.h>
_SECCOMP_MODE_FILTER = 2
_PR_SET_SECCOMP = 22
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_RET_KILL_PROCESS = 0x80000000
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
_OFF_NR, _OFF_ARCH, _OFF_ARG0 = 0, 4, 16
_X32_BIT = 0x40000000
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (<linux/sched.h>)
_NAMESPACE_FLAGS = 0x7E020000

DENIED = (
    "unshare", "setns", "mount", "umount2", "pivot_root", "fsopen", "fsmount", "fspick", "move_mount",
    "open_tree", "mount_setattr", "keyctl", "add_key", "request_key", "kexec_load", "kexec_file_load",
    "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff", "acct", "bpf",
    "perf_event_open", "userfaultfd", "open_by_handle_at", "name_to_handle_at", "syslog", "settimeofday",
    "clock_settime", "clock_adjtime", "adjtimex", "quotactl", "vhangup",
)

# (audit arch, {name: number}) from <asm/unistd_64.h> of each architecture.
_TABLES = {
    "x86_64": (0xC000003E, {
        "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155, "fsopen": 430,
        "fsmount": 432, "fspick": 433, "move_mount": 429, "open_tree": 428, "mount_setattr": 442, "keyctl": 250,
        "add_key": 248, "request_key": 249, "kexec_load": 246, "kexec_file_load": 320, "init_module": 175,
        "finit_module": 313, "delete_module": 176, "reboot": 169, "swapon": 167, "swapoff": 168, "acct": 163,
        "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "open_by_handle_at": 304,
        "name_to_handle_at": 303, "syslog": 103, "settimeofday": 164, "clock_settime": 227,
        "clock_adjtime": 305, "adjtimex": 159, "quotactl": 179, "vhangup": 153, "clone": 56, "clone3": 435,
    }),
    "aarch64": (0xC00000B7, {
        "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41, "fsopen": 430, "fsmount": 432,
        "fspick": 433, "move_mount": 429, "open_tree": 428, "mount_setattr": 442, "keyctl": 219, "add_key": 217,
        "request_key": 218, "kexec_load": 104, "kexec_file_load": 294, "init_module": 105, "finit_module": 273,
        "delete_module": 106, "reboot": 142, "swapon": 224, "swapoff": 225, "acct": 89, "bpf": 280,
        "perf_event_open": 241, "userfaultfd": 282, "open_by_handle_at": 265, "name_to_handle_at": 264,
        "syslog": 116, "settimeofday": 170, "clock_settime": 112, "clock_adjtime": 266, "adjtimex": 171,
        "quotactl": 60, "vhangup": 58, "clone": 220, "clone3": 435,
    }),
}


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_program(machine: str | None = None) -> bytes:
    """The BPF program for this machine's architecture, as packed ``sock_filter`` entries."""
    arch, numbers = _TABLES[machine or os.uname().machine]
    deny = _RET_ERRNO | errno.EPERM
    prog = [_op(_LD_W_ABS, _OFF_ARCH), _op(_JEQ_K, arch, jt=1), _op(_RET_K, _RET_KILL_PROCESS),
            _op(_LD_W_ABS, _OFF_NR)]
    if (machine or os.uname().machine) == "x86_64":
        prog += [_op(_JGE_K, _X32_BIT, jf=1), _op(_RET_K, deny)]  # x32 calls would dodge the table
    for name in DENIED:
        prog += [_op(_JEQ_K, numbers[name], jf=1), _op(_RET_K, deny)]
    prog += [_op(_JEQ_K, numbers["clone3"], jf=1), _op(_RET_K, _RET_ERRNO | errno.ENOSYS)]
    # clone: refuse only when it asks for new namespaces; flags are its first argument.
    prog += [_op(_JEQ_K, numbers["clone"], jf=3), _op(_LD_W_ABS, _OFF_ARG0),
             _op(_JSET_K, _NAMESPACE_FLAGS, jf=1), _op(_RET_K, deny)]
    prog.append(_op(_RET_K, _RET_ALLOW))
    return b"".join(prog)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_filter() -> None:
    """Install the filter on the calling thread and its future children; needs no_new_privs first."""
    program = build_program()
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    syscalls.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(fprog))

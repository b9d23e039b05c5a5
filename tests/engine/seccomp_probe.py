"""Raw system calls from inside a container, for the seccomp tests: ``python3 seccomp_probe.py NUMBERS_JSON``.

Standalone (stdlib only): it runs on the host's python3 bound read-only into a
busybox container, under the filter the container really got. Each probe makes
one call with arguments that succeed on an unfiltered kernel, and the output is
one JSON object: probe name → 0 (the call worked) or the errno it failed with.
"""

import ctypes
import json
import mmap
import os
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = json.loads(sys.argv[1])


def call(name, *args):
    """syscall(2) by name; 0 on success (any non-negative return), else the errno."""
    ctypes.set_errno(0)
    ret = libc.syscall(ctypes.c_long(NR[name]), *(ctypes.c_long(a) for a in args))
    return 0 if ret >= 0 else ctypes.get_errno()


def raw(nr):
    ctypes.set_errno(0)
    return 0 if libc.syscall(ctypes.c_long(nr), 0, 0, 0, 0, 0, 0) >= 0 else ctypes.get_errno()


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def process_vm_readv():
    src, dst = ctypes.create_string_buffer(b"secret!", 8), ctypes.create_string_buffer(8)
    local, remote = IoVec(ctypes.addressof(dst), 8), IoVec(ctypes.addressof(src), 8)
    return call("process_vm_readv", os.getpid(), ctypes.addressof(local), 1, ctypes.addressof(remote), 1, 0)


def pidfd_getfd():
    pidfd = os.pidfd_open(os.getpid())
    try:
        return call("pidfd_getfd", pidfd, 0, 0)
    finally:
        os.close(pidfd)


def personality(persona):
    ctypes.set_errno(0)
    old = libc.syscall(ctypes.c_long(NR["personality"]), ctypes.c_long(persona))
    if old < 0:
        return ctypes.get_errno()
    libc.syscall(ctypes.c_long(NR["personality"]), ctypes.c_long(old))
    return 0


def mbind():
    page = mmap.mmap(-1, mmap.PAGESIZE)
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    try:
        return call("mbind", address, mmap.PAGESIZE, 0, 0, 0, 0)  # MPOL_DEFAULT: no policy, always allowed
    finally:
        del address
        page.close()


def clone_flags(flags):
    """clone(flags) through the raw call (SIGCHLD as exit signal); the child exits at once."""
    ctypes.set_errno(0)
    pid = libc.syscall(ctypes.c_long(NR["clone"]), ctypes.c_long(flags | 17), 0, 0, 0, 0)
    if pid == 0:
        os._exit(0)
    if pid < 0:
        return ctypes.get_errno()
    os.waitpid(pid, 0)
    return 0


def int80_getpid():
    """An i386 ``int 0x80`` entry (getpid, 20) from 64-bit code: the 32-bit table, another audit arch."""
    child = os.fork()
    if child == 0:
        code = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        code.write(b"\xb8\x14\x00\x00\x00\xcd\x80\xc3")  # mov eax, 20; int 0x80; ret
        func = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(code)))
        ret = func()
        os._exit(0 if ret > 0 else min(-ret, 255))
    status = os.waitpid(child, 0)[1]
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1000 + os.WTERMSIG(status)


PROBES = {
    # First: after the raw clone() probes, a 64-bit process's int 0x80 crashes on some kernels.
    "i386 int 0x80 getpid": lambda: int80_getpid() if "_x86" in NR else 0,
    "process_vm_readv": process_vm_readv,
    "process_vm_writev": lambda: call("process_vm_writev", os.getpid(), 0, 0, 0, 0, 0),
    "pidfd_getfd": pidfd_getfd,
    "kcmp": lambda: call("kcmp", os.getpid(), os.getpid(), 0, 0, 0),  # KCMP_FILE of fd 0 with itself
    "personality(ADDR_NO_RANDOMIZE)": lambda: personality(0x0040000),
    "personality(READ_IMPLIES_EXEC)": lambda: personality(0x0400000),
    "personality(PER_LINUX)": lambda: personality(0),
    "personality(query)": lambda: personality(0xFFFFFFFF),
    "move_pages": lambda: call("move_pages", 0, 0, 0, 0, 0, 0),
    "migrate_pages": lambda: call("migrate_pages", 0, 0, 0, 0),
    "mbind": mbind,
    "set_mempolicy": lambda: call("set_mempolicy", 0, 0, 0),
    "io_uring_setup": lambda: call("io_uring_setup", 1, ctypes.addressof(ctypes.create_string_buffer(120))),
    "userfaultfd": lambda: call("userfaultfd", 0),
    "keyctl": lambda: call("keyctl", 0, -3, 0),  # KEYCTL_GET_KEYRING_ID of the session keyring
    "unshare(CLONE_NEWUSER)": lambda: call("unshare", 0x10000000),
    "clone(CLONE_NEWUSER)": lambda: clone_flags(0x10000000),
    "clone(plain fork)": lambda: clone_flags(0),
    "clone3": lambda: call("clone3", 0, 0),
    "socket(AF_VSOCK)": lambda: call("socket", 40, 1, 0),
    "socket(AF_INET)": lambda: call("socket", 2, 1, 0),
    "unused number below the profile's highest": lambda: raw(NR["_unused"]),
    "number above every known call": lambda: raw(NR["_future"]),
    "x32 ABI getpid": lambda: raw(0x40000000 | 39) if "_x86" in NR else 0,
    "getpid": lambda: call("getpid"),
}


def main():
    wanted = sys.argv[2:] or list(PROBES)
    results = {}
    for name in wanted:
        try:
            results[name] = PROBES[name]()
        except OSError as err:
            results[name] = err.errno
    print(json.dumps(results))


main()

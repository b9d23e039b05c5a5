"""Seccomp profiles: berth's default (Docker's default semantics) and Docker-format JSON ones, as one model.

A profile is an allow-list: a default action (EPERM) and rules naming system
calls, each with an action, optional argument conditions, and conditions on the
architecture, the container's capabilities and the kernel. ``resolve`` turns a
profile into per-number decisions for one architecture and one capability set;
``engine.runtime.seccomp`` compiles those to BPF.

The default profile allows what Docker 20.10's does (moby's
profiles/seccomp/default.json), with the later upstream tightening: io_uring is
refused and ``socket(AF_VSOCK)`` too. It is written here by purpose rather than
copied, and lists only calls x86_64 and aarch64 have (berth runs no 32-bit
containers; their calls are refused outright by the filter's architecture check).
"""

from __future__ import annotations

import errno
import json
import os
from dataclasses import dataclass
from typing import Any

from engine.errors import InvalidArgument
from engine.runtime.syscall_numbers import NUMBERS

__all__ = ["Arg", "Rule", "Profile", "DEFAULT_PROFILE", "Decision", "load_profile", "resolve"]

# Docker's action names → the seccomp return values of <linux/seccomp.h> (data bits added later).
ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000, "SCMP_ACT_KILL_THREAD": 0x00000000, "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000, "SCMP_ACT_ERRNO": 0x00050000, "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000, "SCMP_ACT_ALLOW": 0x7FFF0000,
}
OPS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ")
# Docker's (libseccomp's) architecture names, and the spellings rules use in includes/excludes "arches".
_ARCH_NAMES = {"x86_64": ("SCMP_ARCH_X86_64", "amd64", "x86_64"), "aarch64": ("SCMP_ARCH_AARCH64", "arm64", "aarch64")}
_U64 = (1 << 64) - 1


@dataclass(frozen=True)
class Arg:
    """One condition on a call's argument ``index``; MASKED_EQ tests ``arg & value == value_two``."""

    index: int
    value: int
    op: str
    value_two: int = 0


@dataclass(frozen=True)
class Rule:
    """An action for some calls, when every condition holds (arguments AND'ed, as Docker's)."""

    names: tuple[str, ...]
    action: str = "SCMP_ACT_ALLOW"
    errno_ret: int | None = None
    args: tuple[Arg, ...] = ()
    caps: frozenset[str] = frozenset()
    """Applies only if the container has every one of these capabilities (names without ``CAP_``)."""
    not_caps: frozenset[str] = frozenset()
    """Does not apply if the container has any of these."""
    arches: frozenset[str] = frozenset()
    not_arches: frozenset[str] = frozenset()
    min_kernel: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Profile:
    default_action: str = "SCMP_ACT_ERRNO"
    default_errno: int = errno.EPERM
    rules: tuple[Rule, ...] = ()
    arches: frozenset[str] = frozenset()
    """Docker's ``architectures``/``archMap`` names; empty means the native one only."""


@dataclass(frozen=True)
class Decision:
    """What the filter does with one call number: conditional rules in order, then ``fallback``."""

    conditional: tuple[tuple[tuple[Arg, ...], int], ...] = ()
    """(conditions AND'ed, return value) pairs; the first whose conditions hold wins."""
    fallback: int = 0


# The default profile, by purpose. Every call here is allowed without conditions.
_FILES = """
    read write readv writev pread64 pwrite64 preadv pwritev preadv2 pwritev2 lseek sendfile splice tee vmsplice
    copy_file_range open openat openat2 creat close close_range dup dup2 dup3 fcntl flock ioctl
    stat fstat lstat newfstatat statx statfs fstatfs access faccessat faccessat2 readlink readlinkat
    getdents getdents64 getcwd chdir fchdir mkdir mkdirat mknod mknodat rmdir rename renameat renameat2
    link linkat symlink symlinkat unlink unlinkat truncate ftruncate fallocate fadvise64 readahead
    chmod fchmod fchmodat fchmodat2 chown fchown lchown fchownat umask utime utimes utimensat futimesat
    fsync fdatasync sync syncfs sync_file_range cachestat
    getxattr lgetxattr fgetxattr getxattrat setxattr lsetxattr fsetxattr setxattrat listxattr llistxattr
    flistxattr listxattrat removexattr lremovexattr fremovexattr removexattrat
    inotify_init inotify_init1 inotify_add_watch inotify_rm_watch fanotify_mark
    io_setup io_destroy io_submit io_cancel io_getevents io_pgetevents
"""
_MEMORY = """
    brk mmap munmap mremap mprotect madvise mincore msync mlock mlock2 mlockall munlock munlockall
    remap_file_pages membarrier memfd_create memfd_secret pkey_alloc pkey_free pkey_mprotect mseal
    map_shadow_stack
"""
_PROCESSES = """
    fork vfork execve execveat exit exit_group wait4 waitid kill tkill tgkill pidfd_open pidfd_send_signal
    process_mrelease getpid getppid gettid getpgid setpgid getpgrp getsid setsid set_tid_address
    getuid geteuid getgid getegid getgroups getresuid getresgid setuid setgid setreuid setregid setresuid
    setresgid setfsuid setfsgid setgroups capget capset prctl seccomp getrlimit setrlimit prlimit64 getrusage
    getpriority setpriority ioprio_get ioprio_set sched_yield sched_getaffinity sched_setaffinity
    sched_getattr sched_setattr sched_getparam sched_setparam sched_getscheduler sched_setscheduler
    sched_get_priority_max sched_get_priority_min sched_rr_get_interval getcpu rseq set_robust_list
    get_robust_list futex futex_waitv futex_wake futex_wait futex_requeue restart_syscall
    landlock_create_ruleset landlock_add_rule landlock_restrict_self uname sysinfo getrandom times
"""
_SIGNALS_AND_EVENTS = """
    rt_sigaction rt_sigprocmask rt_sigreturn rt_sigpending rt_sigsuspend rt_sigtimedwait rt_sigqueueinfo
    rt_tgsigqueueinfo sigaltstack signalfd signalfd4 pause poll ppoll select pselect6 epoll_create
    epoll_create1 epoll_ctl epoll_ctl_old epoll_wait epoll_wait_old epoll_pwait epoll_pwait2 eventfd eventfd2
    pipe pipe2
"""
_TIME = """
    time gettimeofday clock_gettime clock_getres clock_nanosleep nanosleep clock_adjtime adjtimex alarm
    getitimer setitimer timer_create timer_delete timer_gettime timer_settime timer_getoverrun
    timerfd_create timerfd_gettime timerfd_settime
"""
_NETWORK = """
    socketpair bind connect listen accept accept4 shutdown getsockname getpeername getsockopt setsockopt
    sendto sendmsg sendmmsg recvfrom recvmsg recvmmsg
"""
_IPC = """
    shmget shmat shmdt shmctl semget semop semtimedop semctl msgget msgsnd msgrcv msgctl mq_open mq_unlink
    mq_timedsend mq_timedreceive mq_notify mq_getsetattr
"""
_ARCH_SPECIFIC = (Rule(("arch_prctl", "modify_ldt", "uretprobe"), arches=frozenset({"x86_64"})),)

# personality(2): only the values glibc, setarch and 32-bit emulation ask for (PER_LINUX, UNAME26, and
# the 0xffffffff query); READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE and friends would weaken the process.
_PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (<linux/sched.h>).
CLONE_NAMESPACE_FLAGS = 0x7E020000
_AF_VSOCK = 40

# Calls a capability makes meaningful: allowed only when the container holds it (as Docker's).
_BY_CAPABILITY = (
    ("SYS_ADMIN", "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount "
                  "mount_setattr move_mount name_to_handle_at open_tree open_tree_attr perf_event_open quotactl "
                  "quotactl_fd setdomainname sethostname setns syslog umount2 unshare statmount listmount "
                  "lsm_get_self_attr lsm_set_self_attr lsm_list_modules"),
    ("DAC_READ_SEARCH", "open_by_handle_at"),
    ("SYS_BOOT", "reboot"),
    ("SYS_CHROOT", "chroot"),
    ("SYS_MODULE", "init_module finit_module delete_module"),
    ("SYS_PACCT", "acct"),
    ("SYS_PTRACE", "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace"),
    ("SYS_RAWIO", "iopl ioperm"),
    ("SYS_TIME", "settimeofday clock_settime"),
    ("SYS_TTY_CONFIG", "vhangup"),
    ("SYS_NICE", "get_mempolicy mbind set_mempolicy set_mempolicy_home_node"),
    ("SYSLOG", "syslog"),
    ("BPF", "bpf"),
    ("PERFMON", "perf_event_open"),
)


def _default_profile() -> Profile:
    plain = " ".join((_FILES, _MEMORY, _PROCESSES, _SIGNALS_AND_EVENTS, _TIME, _NETWORK, _IPC)).split()
    rules = [Rule(tuple(plain)), *_ARCH_SPECIFIC]
    # ptrace itself is safe without CAP_SYS_PTRACE on kernels from 4.8 (seccomp is rechecked after a
    # tracer changes a call); its helpers that read other processes' memory or fds are not.
    rules.append(Rule(("ptrace",), min_kernel=(4, 8)))
    rules.append(Rule(("socket",), args=(Arg(0, _AF_VSOCK, "SCMP_CMP_NE"),)))
    rules += [Rule(("personality",), args=(Arg(0, value, "SCMP_CMP_EQ"),)) for value in _PERSONALITIES]
    # Without CAP_SYS_ADMIN: clone without namespace flags, and clone3 (whose flags sit in memory, out of the
    # filter's sight) answers ENOSYS so libc falls back to clone.
    rules.append(Rule(("clone",), args=(Arg(0, CLONE_NAMESPACE_FLAGS, "SCMP_CMP_MASKED_EQ", 0),),
                      not_caps=frozenset({"SYS_ADMIN"})))
    rules.append(Rule(("clone3",), "SCMP_ACT_ERRNO", errno.ENOSYS, not_caps=frozenset({"SYS_ADMIN"})))
    rules += [Rule(tuple(names.split()), caps=frozenset({cap})) for cap, names in _BY_CAPABILITY]
    # Known to the table but allowed to nobody: listing them puts them below the "newer than the profile"
    # line, so they answer EPERM (a refusal), not ENOSYS (a call the kernel lacks).
    refused = ("keyctl add_key request_key kexec_load kexec_file_load pivot_root swapon swapoff userfaultfd "
               "move_pages migrate_pages io_uring_setup io_uring_enter io_uring_register file_getattr "
               "file_setattr")
    rules.append(Rule(tuple(refused.split()), "SCMP_ACT_ERRNO", errno.EPERM))
    return Profile(rules=tuple(rules))


DEFAULT_PROFILE = _default_profile()


def _kernel_version() -> tuple[int, int]:
    parts = os.uname().release.split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except (IndexError, ValueError):
        return 0, 0


def _applies(rule: Rule, arch: str, caps: frozenset[str], kernel: tuple[int, int]) -> bool:
    names = set(_ARCH_NAMES[arch])
    if rule.arches and not (rule.arches & names):
        return False
    if rule.not_arches & names:
        return False
    if not rule.caps <= caps or rule.not_caps & caps:
        return False
    return kernel >= rule.min_kernel


def action_value(action: str, errno_ret: int | None, default_errno: int = errno.EPERM) -> int:
    """The filter's return value for a Docker action name (ERRNO's data is the errno, TRACE's the message)."""
    base = ACTIONS[action]
    if action == "SCMP_ACT_ERRNO":
        return base | ((default_errno if errno_ret is None else errno_ret) & 0xFFFF)
    if action == "SCMP_ACT_TRACE":
        return base | ((errno_ret or 0) & 0xFFFF)
    return base


def resolve(profile: Profile, arch: str, caps: frozenset[str],
            kernel: tuple[int, int] | None = None) -> tuple[dict[int, Decision], int, int]:
    """Per-number decisions for ``arch`` and capability set ``caps`` (names without ``CAP_``).

    Returns (decisions, default return value, highest number the profile names). Calls above that
    number are newer than the profile and get ENOSYS, as runc does, so libc falls back to older calls.
    Rules for one call are taken in order; an unconditional rule ends the list (later ones never match).
    """
    numbers = NUMBERS[arch]
    kernel = kernel or _kernel_version()
    default = action_value(profile.default_action, profile.default_errno)
    pending: dict[int, list[tuple[tuple[Arg, ...], int]]] = {}
    fallback: dict[int, int] = {}
    highest = -1
    for rule in profile.rules:
        known = [numbers[name] for name in rule.names if name in numbers]
        highest = max([highest, *known])
        if not _applies(rule, arch, caps, kernel):
            continue
        value = action_value(rule.action, rule.errno_ret, profile.default_errno)
        for nr in known:
            if nr in fallback:
                continue
            if not rule.args:
                fallback[nr] = value
            else:
                pending.setdefault(nr, []).extend((group, value) for group in _condition_groups(rule.args))
    decisions = {nr: Decision(tuple(pending.get(nr, ())), fallback.get(nr, default))
                 for nr in set(pending) | set(fallback)}
    return decisions, default, highest


def _condition_groups(args: tuple[Arg, ...]) -> list[tuple[Arg, ...]]:
    """runc's reading of a rule's args: AND'ed, except that two conditions on one argument are OR'ed."""
    indexes = [arg.index for arg in args]
    if len(set(indexes)) < len(indexes):
        return [(arg,) for arg in args]
    return [args]


# Docker-format JSON profiles (``--security-opt seccomp=FILE``).


def _strip_cap(name: str) -> str:
    return name.upper().removeprefix("CAP_")


def _kernel(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    if not major.isdigit() or not (minor.split(".")[0] or "0").isdigit():
        raise InvalidArgument(f"seccomp profile: invalid minKernel {text!r}")
    return int(major), int(minor.split(".")[0] or 0)


def _filters(block: Any, where: str) -> tuple[frozenset[str], frozenset[str], tuple[int, int]]:
    if block is None:
        return frozenset(), frozenset(), (0, 0)
    if not isinstance(block, dict):
        raise InvalidArgument(f"seccomp profile: {where} must be an object")
    caps = frozenset(_strip_cap(c) for c in block.get("caps") or ())
    arches = frozenset(str(a) for a in block.get("arches") or ())
    kernel = _kernel(str(block["minKernel"])) if block.get("minKernel") else (0, 0)
    return caps, arches, kernel


def _arg(raw: Any) -> Arg:
    if not isinstance(raw, dict):
        raise InvalidArgument("seccomp profile: each of a rule's args must be an object")
    op = raw.get("op")
    if op not in OPS:
        raise InvalidArgument(f"seccomp profile: unknown comparison {op!r}")
    try:
        index, value, two = int(raw.get("index", 0)), int(raw.get("value", 0)), int(raw.get("valueTwo", 0))
    except (TypeError, ValueError) as err:
        raise InvalidArgument("seccomp profile: index, value and valueTwo must be numbers") from err
    if not 0 <= index <= 5:
        raise InvalidArgument(f"seccomp profile: argument index {index} is out of range (0-5)")
    return Arg(index, value & _U64, op, two & _U64)


def _action(raw: Any) -> str:
    if raw not in ACTIONS:
        raise InvalidArgument(f"seccomp profile: unsupported action {raw!r}")
    return str(raw)


def _rule(raw: Any) -> Rule:
    if not isinstance(raw, dict):
        raise InvalidArgument("seccomp profile: each entry of syscalls must be an object")
    names = raw.get("names") or ([raw["name"]] if raw.get("name") else [])
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise InvalidArgument("seccomp profile: every syscalls entry needs a list of names")
    caps, arches, kernel = _filters(raw.get("includes"), "includes")
    not_caps, not_arches, _ = _filters(raw.get("excludes"), "excludes")
    errno_ret = raw.get("errnoRet")
    if errno_ret is not None and not isinstance(errno_ret, int):
        raise InvalidArgument("seccomp profile: errnoRet must be a number")
    return Rule(tuple(names), _action(raw.get("action")), errno_ret, tuple(_arg(a) for a in raw.get("args") or ()),
                caps, not_caps, arches, not_arches, kernel)


def load_profile(text: str) -> Profile:
    """A Docker-format profile (defaultAction, defaultErrnoRet, architectures/archMap, syscalls) from JSON text."""
    try:
        raw = json.loads(text)
    except ValueError as err:
        raise InvalidArgument(f"decoding seccomp profile failed: {err}") from err
    if not isinstance(raw, dict):
        raise InvalidArgument("decoding seccomp profile failed: not a JSON object")
    arches = {str(a) for a in raw.get("architectures") or ()}
    for entry in raw.get("archMap") or ():
        if isinstance(entry, dict) and entry.get("architecture"):
            arches.add(str(entry["architecture"]))
    default_errno = raw.get("defaultErrnoRet")
    if default_errno is not None and not isinstance(default_errno, int):
        raise InvalidArgument("seccomp profile: defaultErrnoRet must be a number")
    syscalls = raw.get("syscalls") or []
    if not isinstance(syscalls, list):
        raise InvalidArgument("seccomp profile: syscalls must be a list")
    return Profile(_action(raw.get("defaultAction")), errno.EPERM if default_errno is None else default_errno,
                   tuple(_rule(entry) for entry in syscalls), frozenset(arches))


def native_arch_allowed(profile: Profile, arch: str) -> bool:
    """A profile that lists architectures must list this machine's, as runc refuses to start otherwise."""
    return not profile.arches or bool(profile.arches & set(_ARCH_NAMES[arch]))


def default_profile_json() -> dict[str, Any]:
    """The default profile in Docker's format, for ``--security-opt seccomp=`` users who want a starting point."""
    out: dict[str, Any] = {"defaultAction": DEFAULT_PROFILE.default_action,
                           "defaultErrnoRet": DEFAULT_PROFILE.default_errno, "syscalls": []}
    for rule in DEFAULT_PROFILE.rules:
        entry: dict[str, Any] = {"names": list(rule.names), "action": rule.action}
        if rule.errno_ret is not None:
            entry["errnoRet"] = rule.errno_ret
        if rule.args:
            entry["args"] = [{"index": a.index, "value": a.value, "valueTwo": a.value_two, "op": a.op}
                             for a in rule.args]
        includes = {k: v for k, v in (("caps", sorted("CAP_" + c for c in rule.caps)),
                                      ("arches", sorted(rule.arches))) if v}
        if rule.min_kernel != (0, 0):
            includes["minKernel"] = "{}.{}".format(*rule.min_kernel)
        if includes:
            entry["includes"] = includes
        if rule.not_caps:
            entry["excludes"] = {"caps": sorted("CAP_" + c for c in rule.not_caps)}
        out["syscalls"].append(entry)
    return out


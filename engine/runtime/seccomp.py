"""Compile a seccomp profile (``seccomp_profile``) to a BPF program and install it on the calling process.

The program checks the architecture first (anything but the machine's own 64-bit
ABI, such as an ``int 0x80`` i386 entry or an x32 call on x86_64, is refused:
those would look the call up in another table), then finds the call number by
binary search over ranges of equal outcome, so a call costs about ten
comparisons whatever the profile's size. Conditional calls (personality,
clone, socket) end in a short list of 64-bit argument tests. Numbers above the
highest one the profile names answer ENOSYS, as runc's do, so a libc that tries
a call newer than the profile falls back to an older one.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from engine.errors import InvalidArgument
from engine.kernel import syscalls
from engine.runtime.capabilities import DEFAULT_CAPABILITIES
from engine.runtime.seccomp_profile import DEFAULT_PROFILE, Arg, Decision, Profile, native_arch_allowed, resolve
from engine.runtime.syscall_numbers import AUDIT_ARCH, NUMBERS

__all__ = ["install_filter", "build_program", "check_profile", "DEFAULT_PROFILE"]

# <linux/seccomp.h>, <linux/filter.h>
_SECCOMP_MODE_FILTER = 2
_PR_SET_SECCOMP = 22
_RET_ALLOW = 0x7FFF0000
_RET_LOG = 0x7FFC0000
_RET_ERRNO = 0x00050000
_LD_W_ABS, _ALU_AND_K, _JA = 0x20, 0x54, 0x05
_JEQ_K, _JGT_K, _JGE_K, _RET_K = 0x15, 0x25, 0x35, 0x06
_OFF_NR, _OFF_ARCH, _OFF_ARGS = 0, 4, 16
_X32_BIT = 0x40000000
_U32 = 0xFFFFFFFF
# The kernel's BPF_MAXINSNS.
_MAX_INSNS = 4096
_REFUSED = _RET_ERRNO | errno.EPERM


@dataclass
class _Insn:
    code: int
    k: int | str = 0
    jt: int | str = 0
    jf: int | str = 0


class _Program:
    """Instructions with forward jumps to named labels, resolved to offsets at the end."""

    def __init__(self) -> None:
        self.items: list[_Insn | str] = []
        self._next = 0

    def label(self) -> str:
        self._next += 1
        return f"L{self._next}"

    def put(self, code: int, k: int = 0, jt: int | str = 0, jf: int | str = 0) -> None:
        self.items.append(_Insn(code, k & _U32, jt, jf))

    def jump(self, label: str) -> None:
        """An unconditional jump, whose 32-bit offset reaches anywhere (conditional ones reach 255)."""
        self.items.append(_Insn(_JA, label))

    def mark(self, label: str) -> None:
        self.items.append(label)

    def ret(self, value: int) -> None:
        self.put(_RET_K, value)

    def assemble(self) -> bytes:
        where: dict[str, int] = {}
        insns: list[_Insn] = []
        for item in self.items:
            if isinstance(item, str):
                where[item] = len(insns)
            else:
                insns.append(item)
        if len(insns) > _MAX_INSNS:
            raise InvalidArgument(f"seccomp profile too large: {len(insns)} BPF instructions (limit {_MAX_INSNS})")
        out = []
        for pc, insn in enumerate(insns):
            jt, jf, k = (self._offset(where, pc, j) for j in (insn.jt, insn.jf, insn.k))
            if jt > 255 or jf > 255:
                raise AssertionError("conditional jump out of reach")  # the layout keeps these short
            out.append(struct.pack("=HBBI", insn.code, jt, jf, k))
        return b"".join(out)

    @staticmethod
    def _offset(where: dict[str, int], pc: int, target: int | str) -> int:
        return where[target] - pc - 1 if isinstance(target, str) else target


def _arg_words(arg: Arg) -> tuple[int, int, int, int]:
    """(offset of the high word, of the low word, high value, low value) of a little-endian u64 argument."""
    low = _OFF_ARGS + 8 * arg.index
    return low + 4, low, arg.value >> 32, arg.value & _U32


def _condition(prog: _Program, arg: Arg, fail: str) -> None:
    """Fall through when ``arg`` holds, jump to ``fail`` when it does not (64-bit, word by word)."""
    hi_off, lo_off, hi, lo = _arg_words(arg)
    ok = prog.label()
    if arg.op == "SCMP_CMP_MASKED_EQ":
        mask_hi, mask_lo = arg.value >> 32, arg.value & _U32
        want_hi, want_lo = (arg.value_two >> 32) & mask_hi, arg.value_two & _U32 & mask_lo
        prog.put(_LD_W_ABS, hi_off)
        prog.put(_ALU_AND_K, mask_hi)
        prog.put(_JEQ_K, want_hi, jf=fail)
        prog.put(_LD_W_ABS, lo_off)
        prog.put(_ALU_AND_K, mask_lo)
        prog.put(_JEQ_K, want_lo, jf=fail)
    elif arg.op in ("SCMP_CMP_EQ", "SCMP_CMP_NE"):
        # NE holds exactly when EQ fails, so the two only swap where a mismatch goes.
        mismatch = fail if arg.op == "SCMP_CMP_EQ" else ok
        prog.put(_LD_W_ABS, hi_off)
        prog.put(_JEQ_K, hi, jf=mismatch)
        prog.put(_LD_W_ABS, lo_off)
        prog.put(_JEQ_K, lo, jt=0 if arg.op == "SCMP_CMP_EQ" else fail, jf=mismatch)
    else:
        # GT/GE test "arg > v" / "arg >= v"; LT and LE are their negations.
        strict = arg.op in ("SCMP_CMP_GT", "SCMP_CMP_LE")
        holds, breaks = (ok, fail) if arg.op in ("SCMP_CMP_GT", "SCMP_CMP_GE") else (fail, ok)
        prog.put(_LD_W_ABS, hi_off)
        prog.put(_JGT_K, hi, jt=holds)
        prog.put(_JEQ_K, hi, jf=breaks)
        prog.put(_LD_W_ABS, lo_off)
        prog.put(_JGT_K if strict else _JGE_K, lo, jt=holds, jf=breaks)
    prog.mark(ok)


def _leaf(prog: _Program, leaf: int | Decision) -> None:
    """The outcome for one range of numbers: a return, or a conditional call's argument tests."""
    if isinstance(leaf, int):
        prog.ret(leaf)
        return
    for conditions, value in leaf.conditional:
        fail = prog.label()
        for arg in conditions:
            _condition(prog, arg, fail)
        prog.ret(value)
        prog.mark(fail)
    prog.ret(leaf.fallback)


def _segments(decisions: dict[int, Decision], default: int, highest: int, limit: int,
              newer: int) -> list[tuple[int, int | Decision]]:
    """(first number, outcome) ranges covering [0, limit), equal neighbours merged."""
    pieces: list[tuple[int, int | Decision]] = []

    def gap(lo: int, hi: int) -> None:
        if lo < min(hi, highest + 1):
            pieces.append((lo, default))
        if max(lo, highest + 1) < hi:
            pieces.append((max(lo, highest + 1), newer))

    cursor = 0
    for nr in sorted(n for n in decisions if n < limit):
        gap(cursor, nr)
        decision = decisions[nr]
        pieces.append((nr, decision if decision.conditional else decision.fallback))
        cursor = nr + 1
    gap(cursor, limit)
    merged: list[tuple[int, int | Decision]] = []
    for start, leaf in pieces:
        if merged and isinstance(leaf, int) and merged[-1][1] == leaf:
            continue
        merged.append((start, leaf))
    return merged


def _tree(prog: _Program, segments: list[tuple[int, int | Decision]]) -> None:
    """Binary search on the number (in A): "nr >= pivot" goes right through a long jump, else falls left."""
    if len(segments) == 1:
        _leaf(prog, segments[0][1])
        return
    mid = len(segments) // 2
    right = prog.label()
    prog.put(_JGE_K, segments[mid][0], jt=0, jf=1)
    prog.jump(right)
    _tree(prog, segments[:mid])
    prog.mark(right)
    _tree(prog, segments[mid:])


def _machine(machine: str | None) -> str:
    name = machine or os.uname().machine
    if name not in NUMBERS:
        raise InvalidArgument(f"seccomp: no system call table for this architecture ({name})")
    return name


@functools.lru_cache(maxsize=64)
def _compiled(profile: Profile, caps: frozenset[str], machine: str) -> bytes:
    if not native_arch_allowed(profile, machine):
        raise InvalidArgument(f"seccomp profile does not cover this machine's architecture ({machine})")
    decisions, default, highest = resolve(profile, machine, caps)
    newer = default if default in (_RET_ALLOW, _RET_LOG) else _RET_ERRNO | errno.ENOSYS
    prog = _Program()
    prog.put(_LD_W_ABS, _OFF_ARCH)
    prog.put(_JEQ_K, AUDIT_ARCH[machine], jt=1)
    prog.ret(_REFUSED)
    prog.put(_LD_W_ABS, _OFF_NR)
    limit = 1 << 32
    if machine == "x86_64":
        prog.put(_JGE_K, _X32_BIT, jt=0, jf=1)
        prog.ret(_REFUSED)
        limit = _X32_BIT
    _tree(prog, _segments(decisions, default, highest, limit, newer))
    return prog.assemble()


def _cap_names(capabilities: Iterable[str]) -> frozenset[str]:
    return frozenset(name.upper().removeprefix("CAP_") for name in capabilities)


def build_program(profile: Profile = DEFAULT_PROFILE, capabilities: Iterable[str] = DEFAULT_CAPABILITIES,
                  machine: str | None = None) -> bytes:
    """The BPF program (packed ``sock_filter`` entries) of ``profile`` for a container holding ``capabilities``."""
    return _compiled(profile, _cap_names(capabilities), _machine(machine))


def check_profile(profile: Profile | None, capabilities: Iterable[str]) -> None:
    """Compile in the engine, where an error is one clear line; the forked child then finds it cached."""
    if profile is not None:
        build_program(profile, capabilities)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_filter(profile: Profile = DEFAULT_PROFILE, capabilities: Iterable[str] = DEFAULT_CAPABILITIES) -> None:
    """Install the filter on the calling thread and its future children.

    The kernel takes it from a process with no_new_privs set or with CAP_SYS_ADMIN;
    every call the process makes afterwards, up to and including execve, goes through it.
    """
    program = build_program(profile, capabilities)
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    syscalls.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(fprog))

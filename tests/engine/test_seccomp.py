"""Docker's default seccomp profile, no_new_privs, ``--security-opt`` and ``--privileged``, on real processes.

The syscall probes (tests/engine/seccomp_probe.py) run on the host's python3,
bound read-only into a busybox container, under the filter the container really
got: no compiler needed, so they run on a fresh Debian 12.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import struct
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from engine.containers import CreateOptions
from engine.errors import InvalidArgument
from engine.runtime import seccomp
from engine.runtime.capabilities import DEFAULT_CAPABILITIES
from engine.runtime.process import BindMount, ProcessSpec
from engine.runtime.seccomp_profile import DEFAULT_PROFILE, default_profile_json, load_profile
from engine.runtime.syscall_numbers import AUDIT_ARCH, NUMBERS
from tests.engine.containers_fixtures import cengine, run  # noqa: F401
from tests.engine.test_runtime_process import REPO, Rootfs, rootfs, run_capture  # noqa: F401

PROBE = Path(__file__).with_name("seccomp_probe.py")
ARCH = os.uname().machine
EPERM, ENOSYS = 1, 38

# What Docker 20.10 + runc answers in a default container (kernel >= 4.8), and so must berth.
REFUSED = (
    "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp", "personality(ADDR_NO_RANDOMIZE)",
    "personality(READ_IMPLIES_EXEC)", "move_pages", "migrate_pages", "mbind", "set_mempolicy", "userfaultfd",
    "keyctl", "unshare(CLONE_NEWUSER)", "clone(CLONE_NEWUSER)", "unused number below the profile's highest",
)
# Refused by berth, allowed by Docker 20.10: io_uring and AF_VSOCK (refused by later Docker too), and the
# 32-bit entries, which Docker maps through the i386/x32 tables.
REFUSED_STRONGER = ("io_uring_setup", "socket(AF_VSOCK)", "x32 ABI getpid", "i386 int 0x80 getpid")
NOT_IMPLEMENTED = ("clone3", "number above every known call")
WORKS = ("personality(PER_LINUX)", "personality(query)", "clone(plain fork)", "socket(AF_INET)", "getpid")


def _host_python() -> str:
    """The system's python3 (the probe needs only the stdlib), else this one if it lives in /usr."""
    python = os.path.realpath("/usr/bin/python3") if os.access("/usr/bin/python3", os.X_OK) else ""
    python = python or os.path.realpath(sys.executable)
    if not python.startswith("/usr/"):
        pytest.skip(f"the probe binds the host's /usr into the container; {python} lives elsewhere")
    return python


def _host_binds() -> list[BindMount]:
    """The host's /usr (and /lib, /lib64 when they are not links into it), read-only, for python3."""
    binds = [BindMount("/usr", "/usr", readonly=True)]
    for top in ("/lib", "/lib64"):
        if os.path.isdir(top):
            binds.append(BindMount(os.path.realpath(top), top, readonly=True))
    return binds


def _numbers() -> dict[str, int]:
    table = dict(NUMBERS[ARCH])
    known = set(table.values())
    # From 340: 335 and 336 are uretprobe and uprobe, which the kernel lets past seccomp (Linux 6.11+, 6.18+).
    table["_unused"] = next(n for n in range(340, 450) if n not in known)
    table["_future"] = 1000
    if ARCH == "x86_64":
        table["_x86"] = 1
    return table


def probe(root: Rootfs, *names: str, **spec: object) -> dict[str, int]:
    """Run the probe in a container on ``root``; probe name → 0 or errno."""
    shutil.copy(PROBE, root.merged / "probe.py")
    argv = (_host_python(), "-I", "-S", "/probe.py", json.dumps(_numbers()), *names)
    code, out = run_capture(root.spec(*argv, mounts=_host_binds(), **spec))
    assert code == 0, out
    return json.loads(out.strip().splitlines()[-1])


def status_of(out: str) -> dict[str, str]:
    return {k: v.strip() for k, v in (line.split(":\t", 1) for line in out.splitlines() if ":\t" in line)}


@pytest.fixture
def probe_root(rootfs: Rootfs) -> Iterator[Rootfs]:  # noqa: F811
    if ARCH not in NUMBERS:
        pytest.skip(f"no syscall table for {ARCH}")
    yield rootfs


def test_default_profile_refuses_what_docker_refuses(probe_root: Rootfs) -> None:
    got = probe(probe_root)
    wrong = {name: got[name] for name in REFUSED + REFUSED_STRONGER if got[name] != EPERM}
    wrong |= {name: got[name] for name in NOT_IMPLEMENTED if got[name] != ENOSYS}
    wrong |= {name: got[name] for name in WORKS if got[name] != 0}
    assert not wrong, f"probe → errno, expected EPERM/ENOSYS/0 as Docker: {wrong}"


def test_capabilities_open_their_groups_only(probe_root: Rootfs) -> None:
    """CAP_SYS_PTRACE and CAP_SYS_NICE allow their calls (Docker's includes.caps); move_pages stays refused."""
    caps = DEFAULT_CAPABILITIES | {"SYS_PTRACE", "SYS_NICE"}
    got = probe(probe_root, "process_vm_readv", "kcmp", "pidfd_getfd", "mbind", "move_pages", "keyctl",
                capabilities=caps)
    assert got == {"process_vm_readv": 0, "kcmp": 0, "pidfd_getfd": 0, "mbind": 0, "move_pages": EPERM,
                   "keyctl": EPERM}


def test_unconfined_and_a_json_profile(probe_root: Rootfs) -> None:
    assert probe(probe_root, "move_pages", "keyctl", seccomp=None) == {"move_pages": 0, "keyctl": 0}
    custom = load_profile(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                     {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [
                         {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}],
    }))
    got = probe(probe_root, "getpid", "socket(AF_INET)", "move_pages", seccomp=custom)
    assert got == {"getpid": 13, "socket(AF_INET)": EPERM, "move_pages": 0}


def test_the_default_profile_in_docker_json_compiles_to_the_same_program() -> None:
    again = load_profile(json.dumps(default_profile_json()))
    for machine in NUMBERS:
        assert seccomp.build_program(again, machine=machine) == seccomp.build_program(DEFAULT_PROFILE, machine=machine)


def test_bad_profiles_are_one_clear_error() -> None:
    for text, message in (("{", "decoding seccomp profile failed"),
                          ('{"defaultAction": "SCMP_ACT_NOPE"}', "unsupported action"),
                          ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": '
                           '"SCMP_ACT_ALLOW", "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}',
                           "out of range"),
                          ('{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_PPC64LE"]}',
                           "architecture")):
        with pytest.raises(InvalidArgument, match=message):
            seccomp.check_profile(load_profile(text), DEFAULT_CAPABILITIES)


def _with_file_capability(root: Rootfs) -> str:
    """A busybox copy with CAP_NET_BIND_SERVICE as a file capability (effective), as setcap would set it."""
    path = root.merged / "cap" / "busybox"
    path.parent.mkdir()
    shutil.copy2(root.merged / "bin" / "busybox", path)
    # struct vfs_cap_data, revision 2, effective flag; permitted bit 10 (CAP_NET_BIND_SERVICE).
    os.setxattr(path, "security.capability", struct.pack("<5I", 0x02000001, 1 << 10, 0, 0, 0))
    return "/cap/busybox"


def test_no_new_privs_is_off_by_default_so_privileged_binaries_work(rootfs: Rootfs) -> None:  # noqa: F811
    binary = _with_file_capability(rootfs)
    code, out = run_capture(rootfs.spec(binary, "cat", "/proc/self/status", user="nobody"))
    assert code == 0, out
    assert (status_of(out)["NoNewPrivs"], status_of(out)["CapEff"]) == ("0", "0000000000000400")
    code, out = run_capture(rootfs.spec(binary, "cat", "/proc/self/status", user="nobody", no_new_privileges=True))
    assert code == 0, out
    assert (status_of(out)["NoNewPrivs"], status_of(out)["CapEff"]) == ("1", "0000000000000000")
    assert status_of(out)["Seccomp"] == "2"  # installed after the user switch, without CAP_SYS_ADMIN


def test_ordinary_programs_still_work(cengine) -> None:  # noqa: F811
    script = ("ls / >/dev/null && cat /etc/passwd >/dev/null && mkdir -p /tmp/www && echo hello > /tmp/www/i "
              "&& (httpd -f -p 127.0.0.1:8080 -h /tmp/www & sleep 0.5; wget -q -O - http://127.0.0.1:8080/i; "
              "kill $!) && date >/dev/null && ps >/dev/null && echo done")
    _, code, text = run(cengine, "sh", "-c", script, network="none")
    assert (code, text) == (0, "hello\ndone\n")


def test_security_opt_and_privileged_reach_the_container(cengine, tmp_path: Path) -> None:  # noqa: F811
    status = "cat /proc/self/status"
    _, code, text = run(cengine, "sh", "-c", status)
    assert (code, status_of(text)["NoNewPrivs"], status_of(text)["Seccomp"]) == (0, "0", "2")
    cid, code, text = run(cengine, "sh", "-c", status, security_opt=("no-new-privileges",))
    assert (code, status_of(text)["NoNewPrivs"]) == (0, "1")
    assert cengine.container_inspect(cid)["HostConfig"]["SecurityOpt"] == ["no-new-privileges"]
    _, code, text = run(cengine, "sh", "-c", status, security_opt=("no-new-privileges:false", "seccomp=unconfined",
                                                                    "apparmor=unconfined", "label=disable"))
    assert (code, status_of(text)["NoNewPrivs"], status_of(text)["Seccomp"]) == (0, "0", "0")
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}, indent=2))
    cid, code, text = run(cengine, "sh", "-c", "mkdir /x", security_opt=(f"seccomp={profile}",))
    assert code == 1 and "Operation not permitted" in text
    stored = cengine.container_inspect(cid)["HostConfig"]["SecurityOpt"]
    assert stored == ["seccomp=" + json.dumps(json.loads(profile.read_text()), separators=(",", ":"))]
    profile.unlink()  # the profile was stored at create, as Docker's CLI does
    cengine.container_start(cid)

    device = next((e.name for e in os.scandir("/dev") if stat.S_ISBLK(e.stat(follow_symlinks=False).st_mode)), "null")
    cid, code, text = run(cengine, "sh", "-c", f"{status}; ls /dev; touch /sys/kernel/x 2>&1; "
                                              "grep -c ' /proc/kcore ' /proc/self/mountinfo", privileged=True)
    st = status_of(text)
    with open("/proc/self/status", encoding="ascii") as f:
        ours = status_of(f.read())["CapBnd"]  # every capability the engine itself may hold
    assert (code, st["Seccomp"], st["NoNewPrivs"], st["CapEff"]) == (1, "0", "0", ours)
    assert device in text.split()
    assert "Read-only file system" not in text  # sysfs refuses new files with EPERM/EACCES, not EROFS
    assert text.split()[-1] == "0"  # /proc/kcore not masked
    assert cengine.container_inspect(cid)["HostConfig"]["Privileged"] is True


def test_bad_security_opts_are_refused_before_create(cengine, tmp_path: Path) -> None:  # noqa: F811
    for opt, message in (("foo", 'invalid --security-opt 1: "foo"'), ("bar=1", 'invalid --security-opt 2: "bar=1"'),
                         ("no-new-privileges=maybe", 'invalid --security-opt 2'),
                         (f"seccomp={tmp_path}/none.json", "opening seccomp profile"),
                         (f"seccomp={PROBE}", "compacting json for seccomp profile")):
        with pytest.raises(InvalidArgument, match=message):
            cengine.container_create(CreateOptions(image="busybox", security_opt=(opt,)))
    assert cengine.container_list(all=True) == []


def test_cli_flags(cengine, berth) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from tui.cli import build_parser

    args = build_parser("run").parse_args(["run", "--privileged", "--security-opt", "no-new-privileges",
                                           "--security-opt", "seccomp=unconfined", "busybox"])
    assert args.privileged and args.security_opt == ["no-new-privileges", "seccomp=unconfined"]
    status, out, _ = berth("run", "--rm", "--security-opt", "no-new-privileges", "busybox", "grep", "NoNewPrivs",
                           "/proc/self/status")
    assert (status, out.split()) == (0, ["NoNewPrivs:", "1"])
    status, _, err = berth("create", "--security-opt", "nope", "busybox")
    assert status != 0 and err.strip().splitlines() == ['Error: invalid --security-opt 1: "nope"']


def _cli(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui.cli", "--root", str(root), *argv], capture_output=True,
                          text=True, timeout=60, cwd=REPO)


def test_exec_gets_the_containers_confinement(cengine, berth, store_root: Path) -> None:  # type: ignore  # noqa: F811
    assert berth("run", "-d", "--name", "nnp", "--security-opt", "no-new-privileges", "busybox", "sleep", "60")[0] == 0
    assert berth("run", "-d", "--name", "plain", "busybox", "sleep", "60")[0] == 0
    nnp = status_of(_cli(store_root, "exec", "nnp", "cat", "/proc/self/status").stdout)
    plain = status_of(_cli(store_root, "exec", "plain", "cat", "/proc/self/status").stdout)
    assert (nnp["NoNewPrivs"], nnp["Seccomp"], plain["NoNewPrivs"], plain["Seccomp"]) == ("1", "2", "0", "2")


def test_spec_default_is_dockers() -> None:
    spec = ProcessSpec(rootfs="/", argv=["true"])
    assert (spec.no_new_privileges, spec.seccomp, spec.privileged) == (False, DEFAULT_PROFILE, False)
    assert replace(spec, seccomp=None).seccomp is None


def _run_bpf(program: bytes, nr: int, arch: int, args: tuple[int, ...] = ()) -> int:
    """What the kernel's classic-BPF interpreter returns for one call (the few opcodes the compiler emits)."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, *(args + (0,) * (6 - len(args))))
    insns = [struct.unpack_from("=HBBI", program, i) for i in range(0, len(program), 8)]
    pc = acc = 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == 0x06:
            return k
        if code == 0x20:
            acc, pc = struct.unpack_from("<I", data, k)[0], pc + 1
        elif code == 0x54:
            acc, pc = acc & k, pc + 1
        elif code == 0x05:
            pc += 1 + k
        else:
            pc += 1 + (jt if {0x15: acc == k, 0x25: acc > k, 0x35: acc >= k}[code] else jf)


@pytest.mark.parametrize("machine", sorted(NUMBERS))
def test_both_architectures_programs_decide_as_the_profile(machine: str) -> None:
    """aarch64's program cannot run here; the interpreter checks it (and x86_64's) call by call."""
    nr, arch = NUMBERS[machine], AUDIT_ARCH[machine]
    program = seccomp.build_program(machine=machine)
    allow, eperm, enosys = 0x7FFF0000, 0x50000 | EPERM, 0x50000 | ENOSYS
    expected = {("read", ()): allow, ("execve", ()): allow, ("process_vm_readv", ()): eperm, ("kcmp", ()): eperm,
                ("pidfd_getfd", ()): eperm, ("move_pages", ()): eperm, ("mbind", ()): eperm, ("bpf", ()): eperm,
                ("clone3", ()): enosys, ("personality", (0,)): allow, ("personality", (0xFFFFFFFF,)): allow,
                ("personality", (0x0040000,)): eperm, ("personality", (0xFFFFFFFF_00000000,)): eperm,
                ("clone", (17,)): allow, ("clone", (0x10000000 | 17,)): eperm, ("socket", (2,)): allow,
                ("socket", (40,)): eperm, ("ptrace", ()): allow}
    got = {key: _run_bpf(program, nr[key[0]], arch, key[1]) for key in expected}
    assert got == expected
    assert _run_bpf(program, 1000, arch) == enosys
    assert _run_bpf(program, nr["read"], 0x40000003) == eperm  # AUDIT_ARCH_I386 (or any other ABI)
    with_ptrace = seccomp.build_program(capabilities=DEFAULT_CAPABILITIES | {"SYS_PTRACE"}, machine=machine)
    assert _run_bpf(with_ptrace, nr["process_vm_readv"], arch) == allow


def test_argument_comparisons_are_64_bit() -> None:
    """Each Docker comparison against values either side of the 32-bit line, through the interpreter."""
    big = 0x1_0000_0005
    ops = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT")
    names = ("read", "write", "openat", "close", "fstat", "lseek")
    rules = [{"names": [name], "action": "SCMP_ACT_ALLOW", "args": [{"index": 2, "value": big, "op": op}]}
             for name, op in zip(names, ops, strict=True)]
    rules.append({"names": ["mmap"], "action": "SCMP_ACT_ALLOW",
                  "args": [{"index": 0, "value": 0xF0000000F, "valueTwo": 0x500000005, "op": "SCMP_CMP_MASKED_EQ"}]})
    # Two conditions on one argument are OR'ed (runc's reading), on two arguments AND'ed.
    rules.append({"names": ["dup"], "action": "SCMP_ACT_ALLOW", "args": [
        {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]})
    rules.append({"names": ["dup3"], "action": "SCMP_ACT_ALLOW", "args": [
        {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]})
    profile = load_profile(json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules}))
    for machine in NUMBERS:
        program, nr, arch = seccomp.build_program(profile, machine=machine), NUMBERS[machine], AUDIT_ARCH[machine]
        checks = {"NE": lambda v: v != big, "LT": lambda v: v < big, "LE": lambda v: v <= big,
                  "EQ": lambda v: v == big, "GE": lambda v: v >= big, "GT": lambda v: v > big}
        for name, (op, holds) in zip(names, checks.items(), strict=True):
            for value in (0, 5, 0xFFFFFFFF, big - 1, big, big + 1, 0x2_0000_0000, 1 << 63):
                allowed = _run_bpf(program, nr[name], arch, (0, 0, value)) == 0x7FFF0000
                assert allowed == holds(value), (machine, op, hex(value))
        for value, ok in ((0x500000005, True), (0x5A00000F5, True), (0x500000006, False), (0x400000005, False)):
            assert (_run_bpf(program, nr["mmap"], arch, (value,)) == 0x7FFF0000) == ok, hex(value)
        assert [_run_bpf(program, nr["dup"], arch, (v,)) == 0x7FFF0000 for v in (1, 2, 3)] == [True, True, False]
        assert [_run_bpf(program, nr["dup3"], arch, a) == 0x7FFF0000 for a in ((1, 2), (1, 3), (2, 2))] == [
            True, False, False]


def test_same_or_stronger_than_docker(probe_root: Rootfs) -> None:
    """The same probes under the host's own Docker (a private dockerd, an imported busybox): where Docker
    refuses, berth refuses; where Docker allows, berth allows, but for the few it refuses on purpose."""
    import io
    import tarfile

    from tests.engine.private_dockerd import private_dockerd

    ours = probe(probe_root)
    image = io.BytesIO()
    with tarfile.open(fileobj=image, mode="w") as tar:
        tar.add("/bin/busybox", "bin/busybox")
        tar.add(PROBE, "probe.py")
    binds = [arg for bind in _host_binds() for arg in ("-v", f"{bind.source}:{bind.destination}:ro")]
    with private_dockerd() as cli:
        if cli is None:
            pytest.skip("dockerd and docker are not installed")
        subprocess.run([*cli, "import", "-", "berth-probe:1"], input=image.getvalue(), check=True,
                       capture_output=True, timeout=60)
        done = subprocess.run([*cli, "run", "--rm", "--network", "none", *binds, "berth-probe:1", _host_python(),
                               "-I", "-S", "/probe.py", json.dumps(_numbers())], capture_output=True, text=True,
                              timeout=120)
    assert done.returncode == 0, done.stderr
    docker = json.loads(done.stdout.strip().splitlines()[-1])
    weaker = {name: (docker[name], ours[name]) for name in docker if docker[name] and not ours[name]}
    differs = {name: (docker[name], ours[name]) for name in docker
               if not docker[name] and ours[name] and name not in REFUSED_STRONGER}
    assert not weaker and not differs, f"probe: (docker, berth): weaker {weaker}, refused without reason {differs}"

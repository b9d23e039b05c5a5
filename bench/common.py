"""Shared pieces of the benchmarks: the engines side by side, A/B alternation, statistics and the table.

``bench/run`` drives every line through these; the older single-purpose
scripts (``build.py``, ``containers.py``…) import what they share from here.
Peers run as ``shared/peers/README.md`` says: a private dockerd that leaves the
host's network alone, Podman on a private store with runc; everything they
make is removed and their processes are stopped by PID.
"""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(REPO, "examples", "xenial-like")
ROOTFS_TARBALL = "xenial-like-rootfs.tar.gz"
PACKAGES = ("podman", "buildah", "crun", "runc", "conmon", "skopeo", "docker.io")
# Podman writes these even with --root (shared/peers/README.md): removed afterwards if new.
PODMAN_STRAYS = ("/var/lib/containers/cache", "/var/lib/containers", "/run/containers")
NA = "n/a"


# -- processes -------------------------------------------------------------------


def sh(argv: list[str], *, env: dict[str, str] | None = None, out: int | None = subprocess.DEVNULL,
       check: bool = True, cwd: str = REPO) -> subprocess.CompletedProcess[bytes]:
    """Run one command quietly (stderr too, unless it fails and ``check`` is set)."""
    proc = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, cwd=cwd, env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, argv, proc.stdout, proc.stderr)
    return proc


def clock(fn: Callable[[], object]) -> float:
    """Wall seconds of one call."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls."""
    return statistics.median(clock(fn) for _ in range(repeat))


def ensure_packages() -> list[str]:
    """apt-get install the peers' Debian packages that are missing; returns what was installed."""
    missing = [p for p in PACKAGES
               if subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True)
               .stdout != "install ok installed"]
    if missing:
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        if sh(["apt-get", "install", "-y", "--no-install-recommends", *missing], env=env, check=False).returncode:
            sh(["apt-get", "update"], env=env)
            sh(["apt-get", "install", "-y", "--no-install-recommends", *missing], env=env)
    return missing


def host_pidns() -> str:
    return os.readlink("/proc/self/ns/pid")


def host_pids() -> set[int]:
    """Processes in our own pid namespace (container processes live in their own)."""
    ours, pids = host_pidns(), set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{entry}/ns/pid") == ours:
                    pids.add(int(entry))
    return pids


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")  # args end with a space
    except OSError:
        return ""


def pids_naming(pids: set[int], *needles: str) -> set[int]:
    """Those of ``pids`` whose command line names any of ``needles`` (a store path, say)."""
    return {pid for pid in pids if any(n in cmdline(pid) for n in needles)}


def memory_kib(pids: set[int]) -> tuple[int, int]:
    """Summed RSS and PSS (KiB) of ``pids``, from /proc/<pid>/smaps_rollup."""
    rss = pss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return rss, pss


def du_kib(*paths: str) -> int:
    """Disk use of ``paths`` in KiB (one filesystem, hard links counted once)."""
    out = subprocess.run(["du", "-skxc", *[p for p in paths if os.path.exists(p)]], capture_output=True,
                         text=True).stdout
    return int(out.splitlines()[-1].split()[0]) if out else 0


def kill_strays(work: str) -> list[int]:
    """Stop (by PID) processes still running from ``work`` — e.g. a store's monitor — and return them."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        if work in cmdline(int(entry)):
            found.append(int(entry))
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry), signal.SIGKILL)
    return found


def unmount_under(path: str) -> None:
    """Lazily unmount everything mounted at or below ``path``, deepest first."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for point in sorted((p for p in points if p == path or p.startswith(path + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], stderr=subprocess.DEVNULL)


# -- the engines -----------------------------------------------------------------


@dataclass
class Side:
    """One engine's command line, its private store and how to reach its images."""

    name: str
    cli: list[str]
    """argv prefix of every command"""
    run_flags: list[str] = field(default_factory=list)
    """inserted after ``run``/``create`` so all three run alike (no network, same ulimits)"""
    build_flags: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    disk: list[str] = field(default_factory=list)
    """directories whose growth is this engine's disk use"""
    image: str = "busybox"
    """the small base image every container line runs"""

    def argv(self, *args: str) -> list[str]:
        args_l = list(args)
        if args_l and args_l[0] in ("run", "create"):
            args_l[1:1] = self.run_flags
        elif args_l and args_l[0] == "build":
            args_l[1:1] = self.build_flags
        return [*self.cli, *args_l]

    def __call__(self, *args: str, out: int | None = subprocess.DEVNULL,
                 check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return sh(self.argv(*args), env=self.env, out=out, check=check)

    def output(self, *args: str) -> str:
        return self(*args, out=subprocess.PIPE).stdout.decode()

    def has(self, verb: str) -> bool:
        """Whether this engine's CLI knows ``verb`` (berth grows verbs while the bench runs)."""
        return self(verb, "--help", check=False).returncode == 0


def berth_side(root: str) -> Side:
    """berth from this checkout, with its bytecode cached under the work dir, as an installed berth has it.

    ``pip install`` compiles every module; a checkout run with PYTHONDONTWRITEBYTECODE set (as CI and
    our shells do) would compile each changed module on every command instead, which no user pays.
    """
    cache = {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": os.path.join(os.path.dirname(root), "pycache")}
    # --network none as the peers run: berth's default is now a bridge, theirs is left out (see run-rm-net).
    # Builds too: RUN steps are on the store's bridge by default (as the classic builder's), Podman's here
    # are --network none and the private dockerd has no bridge.
    return Side("berth", [sys.executable, "-m", "tui.cli", "--root", root], ["--network", "none"],
                build_flags=["--network", "none"], env=cache, disk=[root])


def podman_side(base: str) -> Side:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    # crun refuses this hybrid-cgroup host, and Podman's default nofile/nproc exceed the hard limits.
    cli = ["podman", "--root", f"{base}/root", "--runroot", f"{base}/run", "--storage-driver", "overlay",
           "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", f"{base}/tmp",
           "--runtime", "runc"]
    run_flags = ["--network", "none", "--log-driver", "k8s-file", "--ulimit", f"nofile={hard}:{hard}",
                 "--ulimit", "nproc=32768:32768"]
    return Side("podman", cli, run_flags, ["--network", "none", "--layers"], disk=[f"{base}/root", f"{base}/run"],
                image="peer/busybox")


@contextlib.contextmanager
def dockerd(base: str) -> Iterator[Side]:
    """A private dockerd that leaves the host's network alone, stopped by its PID afterwards."""
    sock = f"unix://{base}.sock"
    proc = subprocess.Popen(["dockerd", "--data-root", base, "--exec-root", base + "-exec", "--pidfile", base + ".pid",
                             "-H", sock, "--bridge=none", "--iptables=false", "--ip-forward=false"],
                            stdout=subprocess.DEVNULL, stderr=open(base + ".log", "wb"))
    side = Side("docker", ["docker", "-H", sock], ["--network", "none"], env={"DOCKER_BUILDKIT": "0"},
                disk=[base, base + "-exec"], image="peer/busybox")
    try:
        for _ in range(300):
            if side("info", check=False).returncode == 0:
                break
            if proc.poll() is not None:
                raise RuntimeError(f"dockerd exited; see {base}.log")
            time.sleep(0.1)
        yield side
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            ids = side.output("ps", "-aq").split()
            if ids:
                side("rm", "-f", *ids, check=False)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        unmount_under(base)
        unmount_under(base + "-exec")
        for path in (base, base + "-exec"):
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def podman(base: str) -> Iterator[Side]:
    """Podman on a private store; the dirs it writes outside it are removed if they were not there before."""
    strays = [p for p in PODMAN_STRAYS if not os.path.exists(p)]
    side = podman_side(base)
    try:
        yield side
    finally:
        side("rm", "-af", "-t", "0", check=False)
        side("system", "reset", "-f", check=False)
        unmount_under(base)
        shutil.rmtree(base, ignore_errors=True)
        for path in strays:
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def engines(work: str, peers: tuple[str, ...]) -> Iterator[dict[str, Side]]:
    """berth plus the requested peers that are installed, each on a private store under ``work``."""
    with contextlib.ExitStack() as stack:
        sides = {"berth": berth_side(os.path.join(work, "berth"))}
        if "docker" in peers and shutil.which("dockerd") and shutil.which("docker"):
            sides["docker"] = stack.enter_context(dockerd(os.path.join(work, "docker")))
        if "podman" in peers and shutil.which("podman"):
            sides["podman"] = stack.enter_context(podman(os.path.join(work, "podman")))
        try:
            yield sides
        finally:
            ids = sides["berth"].output("ps", "-aq").split() if os.path.isdir(sides["berth"].disk[0]) else []
            if ids:
                sides["berth"]("rm", "-f", *ids, check=False)
    kill_strays(work)
    unmount_under(work)


def busybox_tar(work: str) -> str:
    """A tarball of the same busybox root berth bootstraps, for the peers to import."""
    sys.path.insert(0, REPO)
    from engine.importer import make_busybox_rootfs

    rootfs, tar = os.path.join(work, "busybox-rootfs"), os.path.join(work, "busybox.tar")
    if not os.path.exists(tar):
        make_busybox_rootfs(rootfs, "/bin/busybox")
        sh(["tar", "-C", rootfs, "-cf", tar, "."])
        shutil.rmtree(rootfs)
    return tar


def make_context(work: str) -> str:
    """A copy of examples/xenial-like with its root tarball made fresh."""
    ctx = os.path.join(work, "ctx")
    if not os.path.isdir(ctx):
        os.makedirs(ctx)
        shutil.copy(os.path.join(EXAMPLE, "Dockerfile"), ctx)
        sh([sys.executable, os.path.join(EXAMPLE, "make-rootfs.py"), os.path.join(ctx, ROOTFS_TARBALL)])
    return ctx


# -- alternation, statistics, the table -------------------------------------------


def alternate(fns: dict[str, Callable[[], float]], pairs: int, warmup: int = 1) -> dict[str, list[float]]:
    """Call each function in turn (A B C A B C …), ``warmup`` rounds unrecorded then ``pairs`` recorded."""
    values: dict[str, list[float]] = {name: [] for name in fns}
    for round_ in range(warmup + pairs):
        for name, fn in fns.items():
            value = fn()
            if round_ >= warmup:
                values[name].append(value)
    return values


Cell = list[float] | str


@dataclass
class Row:
    """One line of the table: a value list (or an n/a reason) per engine, plus the floor's."""

    line: str
    unit: str
    cells: dict[str, Cell]


def fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if unit in ("KiB", "MiB"):
        return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"
    return f"{value:.2f}{unit}" if unit in ("x",) else f"{value:.3g} {unit}".strip()


def cell_text(cell: Cell | None, unit: str) -> str:
    if cell is None:
        return "—"
    if isinstance(cell, str):
        return cell
    med = statistics.median(cell)
    if len(cell) == 1 or min(cell) == max(cell):
        return fmt(med, unit)
    return f"{fmt(med, unit)} ({fmt(min(cell), unit).split()[0]}–{fmt(max(cell), unit)})"


def ratio(berth: Cell | None, peer: Cell | None) -> float | None:
    """Median over pairs of berth/peer (pairs matched by position)."""
    if not isinstance(berth, list) or not isinstance(peer, list) or not berth or not peer:
        return None
    per_pair = [b / p for b, p in zip(berth, peer, strict=False) if p > 0]
    return statistics.median(per_pair) if per_pair else None


def table(rows: list[Row], engines_: list[str]) -> str:
    """The markdown table: median (min–max) per engine and the floor, then berth/each other column."""
    others = [e for e in engines_ if e != "berth"] + ["floor"]
    head = ["line", "berth", *others, *[f"berth/{o}" for o in others]]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        ratios = [ratio(row.cells.get("berth"), row.cells.get(o)) for o in others]
        cells = [row.line, cell_text(row.cells.get("berth"), row.unit),
                 *[cell_text(row.cells.get(o), row.unit) for o in others],
                 *[f"{r:.2f}×" if r is not None else "—" for r in ratios]]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    return out.splitlines()[0] if out else "not installed"


def machine_facts() -> list[str]:
    """Cores, kernel, CPU, memory and the tools' versions, for the results file."""
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    mem = next((int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    cgroups = "v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "v1/hybrid"
    head = version(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])
    return [
        f"cores: {os.cpu_count()} ({cpu}), memory {mem / 1048576:.1f} GiB",
        f"kernel: {platform.release()}; cgroups: {cgroups}",
        f"python: {platform.python_version()}; berth: {head} (+ working tree)",
        f"dockerd: {version(['dockerd', '--version'])}; docker CLI: {version(['docker', '--version'])}",
        (f"podman: {version(['podman', '--version'])}; runc: {version(['runc', '--version'])}; "
         f"conmon: {version(['conmon', '--version'])}"),
        (f"buildah: {version(['buildah', '--version'])}; skopeo: {version(['skopeo', '--version'])}; "
         f"tar: {version(['tar', '--version'])}; util-linux: {version(['unshare', '--version'])}"),
    ]

"""Hostile Dockerfiles and build contexts: nothing outside the context is read or written, RUN steps stay
off the host's terminal, files and network, and every refusal is one line naming no host path.

The context-tar tests need only the stdlib and ``engine.builder`` (no pyroute2), so they also run on a bare
Python (``/root/.pyenv/versions/3.11.7/bin/python -m pytest tests/engine/test_hostile_build.py -k context``):
tarfile's extraction filters differ between 3.11.2, 3.11.4+ and 3.12, and the unpacking must not rely on them.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from engine.builder.context import BuildContext
from engine.errors import BuildError
from tests.engine.canary import canary  # noqa: F401


def _tar(*members: tuple[str, str, str | bytes], uid: int = 1000, mode: int = 0o4777) -> bytes:
    """A tar of (name, kind, data-or-link-target); kind is f(ile), d(ir), s(ymlink), h(ard link)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            info.uid, info.gid, info.mode = uid, uid, mode
            if kind == "f":
                data = payload.encode() if isinstance(payload, str) else payload
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
                continue
            info.type = {"d": tarfile.DIRTYPE, "s": tarfile.SYMTYPE, "h": tarfile.LNKTYPE}[kind]
            if kind in "sh":
                info.linkname = str(payload)
            tf.addfile(info)
    return buf.getvalue()


def _context(data: bytes) -> BuildContext:
    return BuildContext.from_stream(io.BytesIO(data))


# -- context tars (item 4) ---------------------------------------------------


def test_context_tar_hard_link_to_an_absolute_host_path_fails_as_dockers_and_leaves_it(canary: Path) -> None:
    secret = canary / "secret"
    for target in (str(secret), "../../../../../../../.." + str(secret)):
        data = _tar(("Dockerfile", "f", "FROM scratch\nCOPY hl /\n"), ("hl", "h", target))
        with pytest.raises(BuildError) as caught:
            _context(data)
        # Docker unpacks in a chroot of the context: the link names the context's own (missing) path.
        assert str(caught.value) == f"unable to prepare context: link {secret} /hl: no such file or directory"
        assert os.stat(secret).st_nlink == 1


def test_context_tar_hard_link_through_a_symlink_never_reaches_the_host(canary: Path) -> None:
    data = _tar(("via", "s", str(canary)), ("hl", "h", "via/secret"), ("hl2", "h", "via"))
    with pytest.raises(BuildError, match=r"^unable to prepare context: link /via/secret /hl: no such file"):
        _context(data)


def test_context_tar_hard_link_to_a_symlink_links_the_symlink(canary: Path) -> None:
    data = _tar(("s", "s", str(canary / "secret")), ("hl", "h", "s"), ("f", "f", "x"), ("hf", "h", "f"))
    with _context(data) as ctx:
        assert os.readlink(os.path.join(ctx.root, "hl")) == str(canary / "secret")
        assert os.lstat(os.path.join(ctx.root, "hl")).st_ino == os.lstat(os.path.join(ctx.root, "s")).st_ino
        assert os.stat(os.path.join(ctx.root, "hf")).st_nlink == 2
        # Owner and mode went on the context's own entries only.
        st = os.lstat(os.path.join(ctx.root, "f"))
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (1000, 0o4777)


def test_context_tar_names_and_symlinked_parents_stay_inside_the_context(canary: Path) -> None:
    """``/x``, ``../x`` and ``link/x`` (link → an absolute host dir) all land inside, as in Docker's chroot."""
    data = _tar(("/" + str(canary / "abs").lstrip("/"), "f", "a"),
                ("../../../../../../.." + str(canary / "dotdot"), "f", "b"),
                ("via", "s", str(canary)), ("via/x", "f", "c"),
                ("rel", "s", "../../../../../../.." + str(canary)), ("rel/y", "f", "d"),
                uid=0, mode=0o644)
    with _context(data) as ctx:
        inside = Path(ctx.root) / str(canary).lstrip("/")
        assert sorted(p.name for p in inside.iterdir()) == ["abs", "dotdot", "x", "y"]
        assert os.readlink(os.path.join(ctx.root, "via")) == str(canary)  # kept as written, as Docker does


def test_context_tar_file_over_a_symlink_replaces_the_link_not_its_target(canary: Path) -> None:
    data = _tar(("s", "s", str(canary / "secret")), ("s", "f", "mine"), ("d", "s", str(canary)),
                ("d", "d", ""), ("d/secret", "f", "mine too"))
    with _context(data) as ctx:
        assert Path(ctx.root, "s").read_text() == "mine"
        assert Path(ctx.root, "d/secret").read_text() == "mine too"
        assert not Path(ctx.root, "d").is_symlink()


def test_context_tar_with_fifo_and_device_nodes_unpacks_them_as_nodes(canary: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        fifo = tarfile.TarInfo("fifo")
        fifo.type = tarfile.FIFOTYPE
        null = tarfile.TarInfo("null")
        null.type, null.devmajor, null.devminor, null.mode = tarfile.CHRTYPE, 1, 3, 0o666
        tf.addfile(fifo)
        tf.addfile(null)
    with _context(buf.getvalue()) as ctx:
        assert stat.S_ISFIFO(os.lstat(os.path.join(ctx.root, "fifo")).st_mode)
        st = os.lstat(os.path.join(ctx.root, "null"))
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3) and stat.S_IMODE(st.st_mode) == 0o666


# -- COPY and ADD on real images (items 4 and 10) ------------------------------


@pytest.fixture
def base(engine, busybox_tar: Path) -> str:  # type: ignore[no-untyped-def]
    from tests.engine.build_helpers import import_base

    return import_base(engine, busybox_tar)


def test_copy_sources_resolve_inside_the_context_and_errors_name_no_host_path(engine, base: str, canary: Path,
                                                                              tmp_path: Path) -> None:
    from tests.engine.build_helpers import BASE, build, make_context, stat_in_image

    ctx = make_context(tmp_path / "ctx", {"dir/f": "f", str(canary / "secret").lstrip("/"): "the context's"})
    os.symlink(canary / "secret", ctx / "link")
    os.symlink(canary, ctx / "dir/sub")
    image, _ = build(engine, ctx, f"FROM {BASE}\nCOPY link /x\nCOPY dir/ /d/\n")
    from tests.engine.build_helpers import file_in_image

    # Docker follows a source link as if the context were / (so: the context's file), and copies links
    # met inside a source dir as links.
    assert file_in_image(engine, image, "/x") == b"the context's"
    top = engine.store.layers.get(engine.store.images.top_layer(engine.image_config(image)))
    assert os.readlink(os.path.join(engine.paths.diff_dir(top.cache_id), "d/sub")) == str(canary)
    assert stat.S_ISLNK(stat_in_image(engine, image, "/d/sub").st_mode)
    import socket

    with socket.socket(socket.AF_UNIX) as sock:  # Docker's context tar never holds a socket: not found
        sock.bind(str(ctx / "sock"))
    for source, shown in (("/etc/passwd", "etc/passwd"), ("../../etc/shadow", None), ("nothere", "nothere"),
                          ("sock", "sock"),
                          (str(canary / "sub/file"), str(canary / "sub/file").lstrip("/"))):
        with pytest.raises(BuildError) as caught:
            build(engine, ctx, f"FROM {BASE}\nCOPY {source} /\n")
        if shown is None:
            assert str(caught.value) == f"Dockerfile line 2: forbidden path outside the build context: {source} ()"
        else:
            assert str(caught.value) == ("Dockerfile line 2: file not found in build context or excluded by "
                                         f".dockerignore: stat {shown}: file does not exist")


def test_copy_of_a_fifo_copies_the_node_and_never_opens_it(engine, base: str, tmp_path: Path) -> None:
    """Docker 20.10 hangs here (it reads the FIFO to hash it); berth copies the node, as COPY of a dir does."""
    import threading

    from tests.engine.build_helpers import BASE, build, make_context, stat_in_image

    ctx = make_context(tmp_path / "ctx", {})
    os.mkfifo(ctx / "fifo")
    opened: list[bool] = []
    done = threading.Event()

    def watch() -> None:  # a reader blocked in open() lets a non-blocking writer in: record it, release it
        while not done.wait(0.05):
            try:
                fd = os.open(ctx / "fifo", os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                continue
            opened.append(True)
            os.close(fd)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        image, _ = build(engine, ctx, f"FROM {BASE}\nCOPY fifo /f\nADD fifo /g\n")
    finally:
        done.set()
        watcher.join()
    assert not opened, "the build opened the FIFO"
    assert stat.S_ISFIFO(stat_in_image(engine, image, "/f").st_mode)
    assert stat.S_ISFIFO(stat_in_image(engine, image, "/g").st_mode)


def test_add_archive_hard_links_stay_inside_the_destination(engine, base: str, canary: Path,
                                                            tmp_path: Path) -> None:
    from tests.engine.build_helpers import BASE, build, make_context

    ctx = make_context(tmp_path / "ctx", {})
    for name, members in {
        "via-dir.tar": [("d", "s", str(canary)), ("h", "h", "d/secret")],
        "to-link.tar": [("l", "s", str(canary / "secret")), ("h", "h", "l"), ("h2", "h", str(canary / "secret"))],
    }.items():
        (ctx / name).write_bytes(_tar(*members, uid=0, mode=0o644))
    with pytest.raises(BuildError) as caught:
        build(engine, ctx, f"FROM {BASE}\nADD via-dir.tar /x/\n")
    assert str(caught.value) == "Dockerfile line 2: via-dir.tar: cannot unpack archive: link /d/secret /h: no such " \
                                "file or directory"
    with pytest.raises(BuildError) as caught:
        build(engine, ctx, f"FROM {BASE}\nADD to-link.tar /x/\n")
    assert str(caught.value).endswith(f"link {canary / 'secret'} /h2: no such file or directory")
    assert str(tmp_path) not in str(caught.value).replace(str(canary), "")


# -- RUN steps: terminal, files and network (item 2) ----------------------------

_IFACES = 'RUN for i in /sys/class/net/*; do echo "IF $(basename $i) $(cat $i/ifindex) $(cat $i/address)"; done\n'


def _host_ifaces() -> set[tuple[str, str, str]]:
    out = set()
    for name in os.listdir("/sys/class/net"):
        try:
            index = Path(f"/sys/class/net/{name}/ifindex").read_text().strip()
            address = Path(f"/sys/class/net/{name}/address").read_text().strip()
        except OSError:
            continue  # went away while we looked (another test's veth)
        out.add((name, index, address))
    return out


def _seen_ifaces(text: str) -> set[tuple[str, str, str]]:
    return {tuple(line.split()[1:4]) for line in text.splitlines() if line.startswith("IF ")}  # type: ignore[misc]


def _leftovers(engine, cids: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    """Netns mounts, leases and host veths of this store's build steps that outlived them."""
    from engine.network import links, naming
    from engine.network.networks import NetworkStore

    found = []
    ns_dir = naming.netns_dir(engine.paths.root)
    if os.path.isdir(ns_dir):
        found += [f"netns {n}" for n in os.listdir(ns_dir)]
    recs = NetworkStore(engine.paths).all().values()
    found += [f"lease {ip} {cid[:12]}" for rec in recs for ip, cid in rec["Leases"].items()]
    names = set(links.link_names())
    found += [f"veth {naming.host_veth_name(cid, rec['Id'])}" for cid in cids for rec in recs
              if naming.host_veth_name(cid, rec["Id"]) in names]
    bridges = links.bridges_of(engine.paths.root)
    found += [f"bridge {b}" for b in bridges if b != naming.default_bridge_name(engine.paths.root)]
    return found


def _started(recorder) -> list[str]:  # type: ignore[no-untyped-def]
    from engine.builder.progress import ContainerStarted

    return [e.container_id for e in recorder.of(ContainerStarted)]


def test_run_step_on_the_default_bridge_cannot_reach_the_hosts_loopback(engine, base: str, tmp_path: Path) -> None:
    import socket
    import threading

    from tests.engine.build_helpers import BASE, build, make_context

    accepted: list[object] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.2)
        port = server.getsockname()[1]
        done = threading.Event()

        def serve() -> None:
            while not done.is_set():
                try:
                    conn, peer = server.accept()
                except OSError:
                    continue
                accepted.append(peer)
                conn.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            ctx = make_context(tmp_path / "ctx", {})
            image, rec = build(engine, ctx, f"FROM {BASE}\nRUN if nc -w 2 127.0.0.1 {port} </dev/null; then echo "
                                            "CONNECTED; else echo REFUSED; fi\n" + _IFACES, no_cache=True)
        finally:
            done.set()
            thread.join()
    assert not accepted, "a RUN step reached a service on the host's 127.0.0.1"
    assert "REFUSED\n" in rec.text
    seen = _seen_ifaces(rec.text)
    assert {name for name, _, _ in seen} == {"lo", "eth0"}
    eth0 = next(s for s in seen if s[0] == "eth0")
    assert eth0[2] not in {address for _, _, address in _host_ifaces()}, "eth0 is one of the host's interfaces"
    assert _leftovers(engine, _started(rec)) == []


def test_run_step_network_none_has_only_lo_and_host_sees_the_hosts(engine, base: str, tmp_path: Path) -> None:
    from tests.engine.build_helpers import BASE, build, make_context

    ctx = make_context(tmp_path / "ctx", {})
    _, rec = build(engine, ctx, f"FROM {BASE}\n{_IFACES}", no_cache=True, network="none")
    assert {name for name, _, _ in _seen_ifaces(rec.text)} == {"lo"}
    before = _host_ifaces()
    _, rec = build(engine, ctx, f"FROM {BASE}\n{_IFACES}", no_cache=True, network="host")
    stable = before & _host_ifaces()
    assert len(stable) > 1 and stable <= _seen_ifaces(rec.text)
    with pytest.raises(BuildError, match="^Dockerfile line 2: network nosuchnet not found$"):
        build(engine, ctx, f"FROM {BASE}\nRUN true\n", no_cache=True, network="nosuchnet")
    assert _leftovers(engine, []) == []


def test_run_step_network_is_taken_down_after_failure_and_cancel(engine, base: str, tmp_path: Path) -> None:
    import threading

    from engine.builder.progress import ContainerStarted
    from engine.errors import Cancelled
    from tests.engine.build_helpers import BASE, Recorder, make_context

    ctx = make_context(tmp_path / "ctx", {})
    (ctx / "Dockerfile").write_text(f"FROM {BASE}\nRUN ip -o addr; exit 3\n")
    failed = Recorder()
    with pytest.raises(BuildError, match="returned a non-zero code: 3"):
        engine.image_build(str(ctx), progress=failed, no_cache=True)
    assert "eth0" in failed.text
    assert _leftovers(engine, _started(failed)) == []
    (ctx / "Dockerfile").write_text(f"FROM {BASE}\nRUN echo RUN$((1+1))ING; sleep 60\n")
    cancel, recorder, failures = threading.Event(), Recorder(), []
    started = threading.Event()

    def progress(event: object) -> None:
        recorder(event)
        if "RUN2ING" in recorder.text:
            started.set()

    def run() -> None:
        try:
            engine.image_build(str(ctx), progress=progress, cancel=cancel, no_cache=True)
        except BaseException as err:  # handed to the test's thread
            failures.append(err)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert started.wait(60)
        cids = [e.container_id for e in recorder.of(ContainerStarted)]
        assert _leftovers(engine, cids) != []  # the step's netns, lease and veth exist while it runs
        # ... and are the live step's: a concurrent check does not call them orphans.
        kinds = {p.kind for p in engine.system_check().problems}
        assert not kinds & {"orphan address lease", "stale netns"}
    finally:
        cancel.set()
        worker.join(60)
    assert isinstance(failures[0], Cancelled)
    assert _leftovers(engine, cids) == []


def test_run_step_gets_no_terminal_no_host_fds_and_a_session_of_its_own(berth_store: Path, busybox_tar: Path,
                                                                         tmp_path: Path) -> None:
    """Run from a terminal (a pty as the CLI's controlling tty), as an admin would type it."""
    import fcntl
    import pty
    import subprocess
    import sys
    import termios

    repo = Path(__file__).resolve().parents[2]
    cli = [sys.executable, "-m", "tui.cli", "--root", str(berth_store)]
    subprocess.run([*cli, "import", str(busybox_tar), "busybox:test"], check=True, capture_output=True, cwd=repo)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        'FROM busybox:test\nRUN for f in 0 1 2; do echo "fd$f=$(readlink /proc/self/fd/$f)"; done; '
        'if echo INJ$((40+2)) > /dev/tty; then echo TTY-OPEN; else echo TTY-REFUSED; fi; '
        'echo "fds=$(ls /proc/self/fd | tr "\\n" " ")"; echo "stat=$(cut -d" " -f6,7 /proc/self/stat)"\n')
    host_file = open(tmp_path / "host-file", "w")  # an fd the CLI holds: it must not reach the step
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([*cli, "build", "--no-cache", str(ctx)], stdin=slave, stdout=slave, stderr=slave,
                                cwd=repo, start_new_session=True, pass_fds=(host_file.fileno(),),
                                preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(slave)
        slave = -1
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every slave fd is closed
                break
            if not chunk:
                break
            out += chunk
        assert proc.wait(60) == 0, out
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
        host_file.close()
    text = out.decode().replace("\r\n", "\n")
    assert "fd0=pipe:[" in text  # an empty pipe: EOF as /dev/null gives, but not the host's /dev/null inode
    assert "fd1=pipe:[" in text and "fd2=pipe:[" in text
    assert "TTY-REFUSED\n" in text and "INJ42" not in text
    assert "fds=0 1 2 3 \n" in text  # 3 is ls's own directory
    assert "stat=1 0\n" in text  # session 1 (its own, led by its init) and no controlling tty


@pytest.fixture
def berth_store(store_root: Path) -> Path:
    return store_root


def test_a_context_changed_under_the_build_is_refused_not_followed(canary: Path, tmp_path: Path) -> None:
    """A dir context of someone else's may change between naming a source and reading it: the read is by
    fd with O_NOFOLLOW at every level, so a dir turned into a link to a host dir is refused."""
    import shutil

    from engine.builder.copy import CopyPlan, Source, copy_into, source_digest

    ctx_dir = tmp_path / "ctx"
    (ctx_dir / "dir/sub").mkdir(parents=True)
    (ctx_dir / "dir/sub/file").write_text("the context's\n")
    ctx = BuildContext(str(ctx_dir))
    sources = (Source(ctx, "dir/sub/file", "file", False),)
    source_digest(sources)  # named and hashed while the tree was fine
    shutil.rmtree(ctx_dir / "dir")
    os.symlink(canary, ctx_dir / "dir")  # canary/sub/file exists: following the link would read it
    root = tmp_path / "root"
    root.mkdir()
    plan = CopyPlan(sources, "/x", False, None, None)
    for attempt in (lambda: source_digest(sources), lambda: copy_into(str(root), plan)):
        with pytest.raises(BuildError, match=r"^file changed while the build read it: dir/sub/file$"):
            attempt()
    assert not (root / "x").exists()
    # A source dir swapped for a link: not listed, not copied.
    tree = (Source(ctx, "dir", "dir", True),)
    for attempt in (lambda: source_digest(tree), lambda: copy_into(str(root), CopyPlan(tree, "/y", True, None,
                                                                                        None))):
        with pytest.raises(BuildError, match=r"^file changed while the build read it: dir$"):
            attempt()
    assert os.listdir(root / "y") == []

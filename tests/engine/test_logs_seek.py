"""``logs --tail`` and ``--since/--until`` read from the end and seek (issue 14 item 5): same lines, bounded memory."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from engine.containers import CreateOptions, log_seek
from engine.containers.logs import LogWriter, follow_fd, read_entries, tail_lines
from engine.rfc3339 import format_time
from tests.engine.containers_fixtures import cengine, start_d  # noqa: F401

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
T0 = 1.7e9
_CHUNK = 1 << 20  # the reader's block (logs._READ_CHUNK): what it may read past a window's end


def _reference(data: bytes, tail: int = -1, since: float = 0.0, until: float = 0.0) -> list[tuple[str, str, str]]:
    """What the whole-file reader gave: every complete line parsed, the last ``tail`` kept, then the window."""
    complete = data[: data.rfind(b"\n") + 1]
    return [tuple(e) for e in read_entries(tail_lines(complete, tail), since, until)]  # type: ignore[misc]


def _read(paths: list[str], tail: int = -1, since: float = 0.0, until: float = 0.0) -> list[tuple[str, str, str]]:
    """``follow_fd`` on rotated files (oldest first) and the live one, not following."""
    fds = [os.open(p, os.O_RDONLY) for p in paths]
    try:
        return [tuple(e) for e in follow_fd(fds[-1], lambda _t: True, since, until, tail,  # type: ignore[misc]
                                           older=fds[:-1])]
    finally:
        for fd in fds:
            os.close(fd)


def _writer_log(tmp_path, feeds, raw: bool = False, **rotate: int) -> list[str]:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "c-json.log")
    writer = LogWriter(path, raw=raw, **rotate)
    for stream, data, now in feeds:
        writer.feed(stream, data, now)
    writer.flush(feeds[-1][2])
    writer.close()
    return [*sorted((p for p in (f"{path}.{i}" for i in range(1, 20)) if os.path.exists(p)),
                    key=lambda p: -int(p.rsplit(".", 1)[1])), path]


def _feeds(count: int) -> list[tuple[str, bytes, float]]:
    """Both streams, escapes, unicode, empty lines, a line longer than the writer's cut; stamps shared by batches."""
    pieces = [b"plain\n", b'quote " and \\ here\n', "caf\u00e9\n".encode(), b"\n", b"x" * 20000 + b"\n",
              b"no newline ", b"\x1b[1mbold\n"]
    return [("stderr" if i % 3 == 0 else "stdout", b"".join(pieces[(i + k) % len(pieces)] for k in range(i % 4 + 1)),
             T0 + i * 0.25 + (0.0 if i % 5 else 0.1)) for i in range(count)]


def _joined(paths: list[str]) -> bytes:
    data = b""
    for p in paths:
        with open(p, "rb") as f:
            data += f.read()
    return data


@pytest.mark.parametrize("block", [7, 4096, 1 << 16])
def test_tail_from_the_end_gives_the_whole_file_readers_lines(tmp_path, monkeypatch, block: int) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(log_seek, "_BLOCK", block)  # block edges fall inside lines, at newlines, anywhere
    paths = _writer_log(tmp_path, _feeds(400))
    data = _joined(paths)
    lines = data.count(b"\n")
    for count in (0, 1, 2, 9, 100, lines - 1, lines, lines + 5, -1):
        assert _read(paths, count) == _reference(data, count), count
    assert _read(paths, 0) == []
    assert len(_read(paths, 1)) == 1


def test_tail_ignores_a_line_still_being_written(tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = _writer_log(tmp_path, _feeds(50))
    with open(paths[-1], "ab") as f:
        f.write(b'{"log":"half a li')  # the writer's next line, cut by our read
    data = _joined(paths)
    for count in (0, 1, 3, 1000):
        assert _read(paths, count) == _reference(data, count)


def test_tail_of_a_terminal_log(tmp_path) -> None:  # type: ignore[no-untyped-def]
    feeds = [("stdout", b"$ prompt ", T0), ("stdout", b"ls\r\nbin  etc\r\n", T0 + 1), ("stdout", b"\x1b[0m$ ", T0 + 2)]
    paths = _writer_log(tmp_path, feeds * 30, raw=True)
    data = _joined(paths)
    for count in (0, 1, 2, 89, 90, 200):
        assert _read(paths, count) == _reference(data, count)


def test_tail_and_since_across_rotated_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = _writer_log(tmp_path, _feeds(600), max_size=30000, max_file=5)
    assert len(paths) == 5
    data = _joined(paths)
    lines = data.count(b"\n")
    for count in (0, 1, 5, 40, 200, lines, lines + 1):
        assert _read(paths, count) == _reference(data, count), count
    first, last = _reference(data)[0][2], _reference(data)[-1][2]
    from engine.rfc3339 import parse_time

    for since in (T0 - 5, parse_time(first), T0 + 20.1, T0 + 60, T0 + 120.25, parse_time(last), T0 + 1e6):
        assert _read(paths, since=since) == _reference(data, since=since), since
        assert _read(paths, 30, since=since) == _reference(data, 30, since=since), since
    for since, until in ((0.0, T0 + 75), (T0 + 40, T0 + 41), (T0 + 40, T0 + 40), (T0 + 100, T0 + 1e6)):
        assert _read(paths, since=since, until=until) == _reference(data, since=since, until=until)


def _synthetic(path: str, size: int, step: float = 0.001, line: int = 100, per_stamp: int = 1,
               start: float = T0, first: int = 0) -> tuple[float, int]:
    """A json-file log of ``size`` bytes, fast: ``per_stamp`` lines share a stamp; (its last stamp, lines)."""
    body = "y" * line
    # Two passes: this one fills body and stream and leaves a %d for the line number.
    batch = "".join('{"log":"%%d %s\\n","stream":"%s","time":"TIME"}\n'  # noqa: UP031
                    % (body, "stderr" if i % 5 == 0 else "stdout") for i in range(per_stamp))
    t, written, n = start, 0, first
    with open(path, "wb") as f:
        while written < size:
            out = []
            for _ in range(max(1, 2000 // per_stamp)):
                out.append((batch.replace("TIME", format_time(t)) % tuple(range(n, n + per_stamp))).encode())
                n += per_stamp
                t += step
            block = b"".join(out)
            f.write(block)
            written += len(block)
    return t - step, n


# The CLI in a fresh process, then its peak RSS (VmHWM: of this process image only; a child's ru_maxrss
# also counts the forking parent's pages, here pytest's).
_MEASURED = """
import sys
import threading
import time
from tui.cli import main
status = main(sys.argv[2:])
sys.stdout.flush()
with open("/proc/self/status") as f:
    kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
with open(sys.argv[1], "w") as f:
    f.write(str(kib * 1024))
sys.exit(status)
"""


def _rchar() -> int:
    with open("/proc/self/io", encoding="ascii") as f:
        return int(next(line for line in f if line.startswith("rchar:")).split()[1])


def test_since_and_until_binary_search_a_multi_megabyte_log(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "big-json.log")
    last, _ = _synthetic(path, 8 << 20, step=0.001, per_stamp=3)
    with open(path, "rb") as f:
        data = f.read()
    size = len(data)
    stamped = [(len(line) + 1, log_seek.line_time(line)) for line in data.split(b"\n")[:-1]]
    for since, until in ((T0 + 12.3456, 0.0), (last - 0.5, 0.0), (last, 0.0), (T0, 0.0), (T0 - 1, T0 + 0.01),
                         (T0 + 30.0, T0 + 30.02), (last + 1, 0.0), (0.0, T0 + 0.005)):
        before = _rchar()
        got = _read([path], since=since, until=until)
        read = _rchar() - before
        want = _reference(data, since=since, until=until)
        assert got == want, (since, until)
        shown = sum(n for n, at in stamped if since <= at and (not until or at < until))  # type: ignore[operator]
        assert read < shown + (1 << 20) + 2 * _CHUNK, f"read {read} bytes of {size} to show {shown}"
    fd = os.open(path, os.O_RDONLY)
    try:  # the search itself: a window near the end of 8 MB costs a few blocks, not the file
        before = _rchar()
        position = log_seek.since_start([fd], [size], last - 0.01)
        assert _rchar() - before < 256 * 1024, "~23 probes of a few KiB each"
        assert data[position[1] - 1:position[1]] == b"\n"
    finally:
        os.close(fd)


def test_logs_tail_of_a_big_log_keeps_memory_bounded(cengine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cid = cengine.container_create(CreateOptions(image="busybox", name="chatty"))
    log = cengine.paths.container_log(cid)  # 200 MB: a rotated 120 MB file, then the live 80 MB one
    end, lines = _synthetic(log + ".1", 120 << 20, per_stamp=1000)
    _synthetic(log, 80 << 20, per_stamp=1000, start=end + 1, first=lines)
    peak = {}
    for label, argv in (("baseline", ["ps", "-a"]), ("tail", ["logs", "--tail", "10", "chatty"]),
                        ("since", ["logs", "--since", format_time(T0 + 1e9), "chatty"])):
        out, err, peak_file = tmp_path / f"{label}.out", tmp_path / f"{label}.err", tmp_path / f"{label}.hwm"
        with open(out, "wb") as sink, open(err, "wb") as errors:
            status = subprocess.run([sys.executable, "-c", _MEASURED, str(peak_file), "--root", cengine.root, *argv],
                                    cwd=REPO, stdout=sink, stderr=errors, check=False).returncode
        assert status == 0, err.read_text()
        peak[label] = int(peak_file.read_text())
        if label == "tail":  # both streams: stderr has every fifth line
            numbers = sorted(int(line.split()[0]) for line in (out.read_bytes() + err.read_bytes()).splitlines())
            assert numbers == list(range(numbers[0], numbers[0] + 10)) and numbers[0] > 10**6, numbers
    assert peak["tail"] < peak["baseline"] + (30 << 20), peak
    assert peak["since"] < peak["baseline"] + (30 << 20), peak
    assert peak["tail"] < 60 << 20, peak


def test_follow_with_until_ends_at_until_while_the_container_runs(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = start_d(cengine, "sh", "-c", "echo one; echo two; exec sleep 1000")
    deadline = time.time() + 30
    while len(list(cengine.container_logs(cid))) < 2 and time.time() < deadline:
        time.sleep(0.02)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.extend(
        e.log for e in cengine.container_logs(cid, follow=True, until=time.time() + 0.3)), daemon=True)
    reader.start()
    reader.join(30)  # generous: Docker's follower stops when the clock passes --until; the old one waited for exit
    stopped = not reader.is_alive()
    cengine.container_remove(cid, force=True)
    reader.join(30)
    assert stopped and got == ["one\n", "two\n"]


"""The event journal: every change lands once, whole, in order, for any process to follow."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

from engine.events import EventJournal

REPO = Path(__file__).resolve().parents[2]


def test_image_changes_are_journalled(engine, busybox_tar: Path) -> None:
    start = engine.events_offset()
    with open(busybox_tar, "rb") as f:
        image_id = engine.image_import(f, source_name="t", ref="a:1")
    engine.image_tag("a:1", "b:2")
    engine.image_remove("a:1")
    engine.image_remove("b:2")
    events, offset = engine.events_read(start)
    assert [(e.type, e.action) for e in events] == [
        ("image", "import"), ("image", "tag"), ("image", "untag"), ("image", "untag"), ("image", "delete"),
        ("image", "delete")]
    assert events[0].id == image_id and events[1].name == "b:2" and events[4].id == image_id
    assert engine.events_read(offset) == ([], offset)


def test_partial_lines_wait_and_parallel_writers_never_interleave(tmp_path: Path) -> None:
    journal = EventJournal(str(tmp_path / "events.jsonl"))
    whole = b'{"time":1,"type":"image","action":"tag","id":"x"}\n'
    with open(journal.path, "wb") as f:
        f.write(whole + b'{"time":2,"type":"im')  # a writer mid-line: readers wait for the rest
    events, offset = journal.read(0)
    assert [e.id for e in events] == ["x"] and offset == len(whole)
    (tmp_path / "events.jsonl").write_bytes(b"")
    code = ("import sys; from engine.events import EventJournal; j = EventJournal(sys.argv[1]);"
            "[j.append('image', 'tag', f'{sys.argv[2]}-{i}', 'n' * 500) for i in range(200)]")
    procs = [subprocess.Popen([sys.executable, "-c", code, journal.path, str(w)], cwd=REPO) for w in range(4)]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    events, _ = journal.read(0)
    assert len(events) == 800 and len({e.id for e in events}) == 800


def test_follow_sees_another_process(tmp_path: Path) -> None:
    journal = EventJournal(str(tmp_path / "events.jsonl"))
    stop = threading.Event()
    seen = []

    def reader() -> None:
        for event in journal.follow(0, stop, interval=0.01):
            seen.append(event.action)
            if len(seen) == 2:
                stop.set()

    thread = threading.Thread(target=reader)
    thread.start()
    code = ("import sys; from engine.events import EventJournal; j = EventJournal(sys.argv[1]); "
            "j.append('c', 'start', 'x'); j.append('c', 'die', 'x')")
    subprocess.run([sys.executable, "-c", code, journal.path], cwd=REPO, check=True)
    thread.join(timeout=10)
    stop.set()
    assert seen == ["start", "die"]


def test_events_verb_prints_docker_style_lines(berth, engine, busybox_tar: Path) -> None:
    with open(busybox_tar, "rb") as f:
        engine.image_import(f, source_name="t", ref="a:1")
    status, out, _ = berth("events", "--since", "1h", "--until", "0.3s")
    assert status == 0
    fields = out.splitlines()[0].split()
    assert fields[1:3] == ["image", "import"] and fields[3].startswith("sha256:") and fields[4] == "(name=a:1)"


WRITER = """
import sys
from engine.events import EventJournal
journal = EventJournal(sys.argv[1], max_bytes=int(sys.argv[3]), keep=int(sys.argv[4]))
for i in range(int(sys.argv[5])):
    journal.append("image", "tag", f"{sys.argv[2]}-{i}", "n" * 60)
"""


def test_rotation_under_concurrent_writers_loses_and_repeats_nothing(tmp_path: Path) -> None:
    """Four processes append across several rotations; followers started before, during and after agree."""
    max_bytes, keep, writers, each = 16 << 10, 8, 4, 200
    journal = EventJournal(str(tmp_path / "events.jsonl"), max_bytes=max_bytes, keep=keep)
    journal.append("image", "tag", "first")
    stop = threading.Event()
    early: list[str] = []
    late: list[str] = []

    def follow(into: list[str], offset: int) -> None:
        for event in journal.follow(offset, stop, interval=0.002):
            into.append(event.id)

    early_thread = threading.Thread(target=follow, args=(early, journal.end()))
    early_thread.start()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, journal.path, f"w{w}", str(max_bytes), str(keep),
                               str(each)], cwd=REPO) for w in range(writers)]
    while not (tmp_path / "events.jsonl.1").exists() and any(p.poll() is None for p in procs):
        stop.wait(0.001)
    late_thread = threading.Thread(target=follow, args=(late, journal.end()))  # starts after a rotation
    late_thread.start()
    try:
        assert all(p.wait(timeout=60) == 0 for p in procs)
    finally:
        stop.set()
        early_thread.join(timeout=30)
        late_thread.join(timeout=30)

    after: list[str] = []  # a reader started after every rotation, from the start of what is kept
    offset = 0
    while True:
        events, offset = journal.read(offset)
        if not events:
            break
        after += [e.id for e in events]
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) >= 4 and files[0] == "events.jsonl" and "events.jsonl.3" in files, files  # rotated 3+ times
    sizes = [(tmp_path / f).stat().st_size for f in files]
    assert max(sizes) <= max_bytes + writers * 200, sizes  # past the bound by a line per writer at most
    assert after[0] == "first" and len(after) == 1 + writers * each and len(set(after)) == len(after)
    assert early == after[1:], "the follower started before the rotations saw a different sequence"
    assert late and late == after[-len(late):], "the follower started after a rotation lost or repeated events"
    for w in range(writers):  # each writer's events in its own order
        assert [i for i in after if i.startswith(f"w{w}-")] == [f"w{w}-{i}" for i in range(each)]


def test_rotation_keeps_a_bounded_history_and_readers_skip_what_went(tmp_path: Path) -> None:
    journal = EventJournal(str(tmp_path / "events.jsonl"), max_bytes=2048, keep=2)
    start = journal.end()
    for i in range(300):
        journal.append("image", "tag", f"x{i}", "n" * 40)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl", "events.jsonl.1", "events.jsonl.2"]
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) < 4 * 2048
    events, offset = journal.read(start)  # rotated away: the reader goes on from the oldest kept event
    kept = [e.id for e in events]
    assert kept[-1] == "x299" and kept == [f"x{i}" for i in range(300 - len(kept), 300)]
    assert offset == journal.end() and journal.read(offset) == ([], offset)
    journal.append("image", "tag", "y")
    assert [e.id for e in journal.read(offset)[0]] == ["y"]


def test_since_bisects_across_rotated_files(tmp_path: Path) -> None:
    now = [1_000_000.0]
    journal = EventJournal(str(tmp_path / "events.jsonl"), max_bytes=4096, keep=3, clock=lambda: now[0])
    for i in range(200):
        now[0] += 10
        journal.append("image", "tag", f"x{i}")
    assert (tmp_path / "events.jsonl.3").exists()

    def since(when: float) -> list[str]:
        events, _ = journal.read(journal.offset_at(when))
        return [e.id for e in events if e.time >= when]

    kept = [e.id for e in journal.read(0)[0]]
    for when in (0, 1_000_000, 1_000_000 + 10 * int(kept[0][1:]) + 10, 1_000_555, 1_001_000, 1_001_005,
                 1_001_990, 1_002_000, 1_002_001, 2_000_000):
        expected = [k for k in kept if 1_000_000 + 10 * (int(k[1:]) + 1) >= when]
        assert since(when) == expected, when


BIG_SINCE = """
import contextlib, io, sys
from tui.cli import main

def rchar():
    with open("/proc/self/io") as f:
        return int(next(line for line in f if line.startswith("rchar")).split()[1])

main(["--root", sys.argv[1], "events", "--until", "0s"])  # imports and first-use reads, not measured
out = io.StringIO()
before = rchar()
with contextlib.redirect_stdout(out):
    main(["--root", sys.argv[1], "events", "--since", "1m", "--until", "1s"])
print(rchar() - before)
print(out.getvalue(), end="")
"""


def test_since_on_a_large_journal_reads_a_few_kb(store_root: Path) -> None:
    """``events --since 1m`` on 8 MB of older events (one unrotated file, as older berths left it)."""
    now = time.time()
    old = [b'{"time":%.6f,"type":"container","action":"start","id":"%064x","name":"old"}\n' % (now - 7200 + i * 0.08, i)
           for i in range(80_000)]
    recent = [b'{"time":%.6f,"type":"image","action":"tag","id":"r%d","name":"recent"}\n' % (now - 50 + i, i)
              for i in range(40)]
    (store_root / "events.jsonl").write_bytes(b"".join(old + recent))
    assert (store_root / "events.jsonl").stat().st_size > 8 << 20
    done = subprocess.run([sys.executable, "-c", BIG_SINCE, str(store_root)], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    read, *lines = done.stdout.splitlines()
    assert int(read) < 128 << 10, f"read {int(read)} bytes for the last minute of an 8 MB journal"
    assert [line.split()[3] for line in lines] == [f"r{i}" for i in range(40)]


def test_a_rotation_cut_short_after_its_link_is_finished_by_the_next(tmp_path: Path) -> None:
    """A writer killed between linking the current file as ``.1`` and renaming the new one over it."""
    journal = EventJournal(str(tmp_path / "events.jsonl"), max_bytes=1024, keep=2)
    journal.append("image", "tag", "a")
    os.link(journal.path, journal.path + ".1")  # the same file under both names: read once
    (tmp_path / "events.jsonl.new").write_bytes(b'{"base":999}\n')  # its half-made successor
    assert [e.id for e in journal.read(0)[0]] == ["a"]
    for i in range(20):
        journal.append("image", "tag", f"x{i}", "n" * 40)
    assert os.stat(journal.path).st_ino != os.stat(journal.path + ".1").st_ino
    assert not (tmp_path / "events.jsonl.new").exists()
    assert [e.id for e in journal.read(0)[0]] == ["a"] + [f"x{i}" for i in range(20)]


def test_since_steps_over_damaged_lines(tmp_path: Path) -> None:
    """Torn lines, a long stretch without a line end, and lines of other shapes do not lead the seek astray."""
    rng = random.Random(5)
    lines, stamps = [], []
    for i in range(3000):
        lines.append(b'{"time":%d,"type":"image","action":"tag","id":"x%d"}\n' % (1000 + i, i))
        stamps.append(1000 + i)
        if rng.random() < 0.05:
            lines.append(rng.choice([b'{"time":17,"ty\n', b"\xff\xfe not json\n", b'{"other":1}\n',
                                     b"z" * rng.randint(5000, 20000) + b"\n"]))
    (tmp_path / "events.jsonl").write_bytes(b"".join(lines))
    journal = EventJournal(str(tmp_path / "events.jsonl"))
    for when in [0, 999, 1000, 1001, 2500, 3999, 4000, 5000, *rng.sample(range(1000, 4000), 30)]:
        offset, seen = journal.offset_at(when), []
        while True:
            events, after = journal.read(offset)
            if after == offset:
                break
            offset = after
            seen += [e.time for e in events if e.time >= when]
        assert seen == [t for t in stamps if t >= when], when

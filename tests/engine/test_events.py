"""The event journal: every change lands once, whole, in order, for any process to follow."""

from __future__ import annotations

import subprocess
import sys
import threading
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
    code = "import sys; from engine.events import EventJournal; j = EventJournal(sys.argv[1]); j.append('c', 'start', 'x'); j.append('c', 'die', 'x')"
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

"""The fast log reader (``read_chunks``) prints exactly what the json path (``read_entries``) gives, on any log."""

from __future__ import annotations

import json
import os
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.containers.logs import LogWriter, read_chunks, read_entries, tail_lines


def slow(data: bytes, since: float = 0.0, until: float = 0.0, timestamps: bool = False) -> list[tuple[str, bytes]]:
    """What printing every ``read_entries`` entry gives, as (stream, bytes) runs: the reference."""
    out: list[tuple[str, bytes]] = []
    for e in read_entries(data, since, until):
        text = (f"{e.time} {e.log}" if timestamps else e.log).encode("utf-8", "replace")
        if out and out[-1][0] == e.stream:
            out[-1] = (e.stream, out[-1][1] + text)
        else:
            out.append((e.stream, text))
    return out


def fast(data: bytes, since: float = 0.0, until: float = 0.0, timestamps: bool = False) -> list[tuple[str, bytes]]:
    """``read_chunks`` with neighbouring chunks of one stream merged (where a run ends is its own business)."""
    out: list[tuple[str, bytes]] = []
    for stream, text in read_chunks(data, since, until, timestamps):
        if out and out[-1][0] == stream:
            out[-1] = (stream, out[-1][1] + text)
        else:
            out.append((stream, text))
    return out


def written(tmp_path, feeds: list[tuple[str, bytes, float]]) -> bytes:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "c-json.log")
    if os.path.exists(path):
        os.unlink(path)
    writer = LogWriter(path)
    for stream, data, now in feeds:
        writer.feed(stream, data, now)
    writer.flush(feeds[-1][2] if feeds else 0.0)
    writer.close()
    with open(path, "rb") as f:
        return f.read()


def test_plain_lines_take_the_fast_path_and_match(tmp_path) -> None:  # type: ignore[no-untyped-def]
    feeds = [("stdout", "".join(f"{i}\n" for i in range(k * 1000, k * 1000 + 1000)).encode(), 1e9 + k)
             for k in range(30)]
    data = written(tmp_path, feeds)
    chunks = list(read_chunks(data))
    assert len(chunks) == 30, "one chunk per batch the writer stamped once"
    assert b"".join(c for _s, c in chunks) == "".join(f"{i}\n" for i in range(30000)).encode()
    assert fast(data) == slow(data)


def test_streams_escapes_unicode_cut_lines_and_windows_match(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(4)
    pieces = [b"plain\n", b'quote " and \\ backslash\n', b"tab\there\n", "caf\u00e9 \u2603\n".encode(),
              b"\xff\xfe bad utf-8\n", b"<html>&amp;\n", b"no newline yet", b"x" * 40000 + b"\n", b"\n", b"\r\n",
              b"\x00\x1b[31m\n"]
    feeds = []
    now = 1.7e9
    for _ in range(300):
        now += rng.choice([0.0, 0.0, 0.001, 1.5])
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 6)))
        feeds.append((rng.choice(["stdout", "stdout", "stderr"]), data, now))
    data = written(tmp_path, feeds)
    assert fast(data) == slow(data)
    for since, until in ((1.7e9 + 50, 0.0), (0.0, 1.7e9 + 100), (1.7e9 + 20, 1.7e9 + 60)):
        assert fast(data, since, until) == slow(data, since, until)
    assert fast(data, timestamps=True) == slow(data, timestamps=True)
    for count in (0, 1, 7, 500):
        part = tail_lines(data, count)
        assert fast(part) == slow(part)


def test_foreign_and_broken_lines_match(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Lines another writer made (other key order, spacing, raw control bytes, bad JSON) still print as json does."""
    stamp = "2026-11-28T06:43:25.045485735Z"
    good = [json.dumps({"log": f"{i}\n", "stream": "stdout", "time": stamp}, separators=(",", ":")).encode()
            for i in range(5)]
    lines = [
        *good,
        b'{"stream":"stdout","log":"reordered\\n","time":"' + stamp.encode() + b'"}',
        b'{"log": "spaced\\n", "stream": "stdout", "time": "' + stamp.encode() + b'"}',
        b'{"log":"raw\tcontrol\\n","stream":"stdout","time":"' + stamp.encode() + b'"}',
        b'{"log":"raw \xc3\xa9 utf-8\\n","stream":"stdout","time":"' + stamp.encode() + b'"}',
        b'{"log":"bad \xff utf-8\\n","stream":"stdout","time":"' + stamp.encode() + b'"}',
        b'{"log":"not json',
        b'{"log":"odd stream\\n","stream":"stdlog","time":"' + stamp.encode() + b'"}',
        b'{"log":"tab in time\\n","stream":"stdout","time":"2026\t"}',
        b'{"log":"raw " quote\\n","stream":"stdout","time":"' + stamp.encode() + b'"}',
        b'{"log":"quote in time\\n","stream":"stdout","time":"20"26"}',
        *good,
        b'{"log":"later\\n","stream":"stdout","time":"2026-11-28T06:43:26.000000000Z"}',
        *good,  # an earlier stamp again (the clock stepped back)
    ]
    data = b"\n".join(lines) + b"\n"
    assert fast(data) == slow(data)
    assert fast(data, timestamps=True) == slow(data, timestamps=True)
    for cut in (len(data) - 1, len(data) - 30, len(data) // 2):  # an unterminated last line
        assert fast(data[:cut]) == slow(data[:cut])
    for odd in lines[5:15]:  # each alone, and inside a run of good lines with its stamp
        for data in (odd + b"\n", b"\n".join([*good, odd, *good]) + b"\n"):
            assert fast(data) == slow(data), odd


@settings(max_examples=int(os.environ.get("BERTH_FUZZ_EXAMPLES", "200")), deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["stdout", "stderr"]), st.binary(max_size=200),
                          st.sampled_from([0.0, 0.0, 0.5, 2.0])), min_size=1, max_size=40))
def test_any_written_log_matches(feeds: list[tuple[str, bytes, float]]) -> None:
    """Whatever a container prints, the fast reader prints the same bytes on the same streams."""
    import tempfile

    now = 1.7e9
    stamped = []
    for stream, data, step in feeds:
        now += step
        stamped.append((stream, data, now))
    with tempfile.TemporaryDirectory() as tmp:
        from pathlib import Path

        data = written(Path(tmp), stamped)
    assert fast(data) == slow(data)
    assert fast(data, timestamps=True) == slow(data, timestamps=True)

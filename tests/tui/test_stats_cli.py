"""``berth stats`` as a user types it: Docker's columns and number formats, streaming, errors."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time

from tests.engine import containers_fixtures
from tui.verbs.stats import binary_size

HEADER = ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]

cengine = containers_fixtures.cengine
"""A store with busybox:latest; every container removed afterwards."""


def _columns(line: str) -> list[str]:
    """Cells of a tabwriter line (cells are separated by 3+ spaces; "MEM USAGE / LIMIT" has single ones)."""
    return re.split(r" {2,}", line.strip())


def test_no_stream_table_has_dockers_columns_and_formats(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    burner = berth("run", "-d", "-m", "64m", "--network", "none", "--name", "burner", "busybox", "sh", "-c",
                   "while :; do :; done")[1]
    assert berth("run", "-d", "--name", "sleepers", "busybox", "sh", "-c", "sleep 100 & sleep 100 & wait")[0] == 0
    assert berth("create", "--name", "idle", "busybox", "true")[0] == 0
    status, out, err = berth("stats", "--no-stream")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert _columns(lines[0]) == HEADER
    rows = {cells[1]: cells for cells in map(_columns, lines[1:])}
    assert set(rows) == {"burner", "sleepers"}  # running ones only without -a
    b = rows["burner"]
    assert b[0] == burner.strip()[:12]
    assert re.fullmatch(r"\d+\.\d\d%", b[2]) and float(b[2][:-1]) > 20
    assert re.fullmatch(r"[\d.]+(B|KiB|MiB) / 64MiB", b[3]), b[3]
    assert re.fullmatch(r"\d+\.\d\d%", b[4])
    assert b[5] == "0B / 0B"  # network none: only lo, which does not count
    assert re.fullmatch(r"[\d.]+(B|kB|MB) / [\d.]+(B|kB|MB)", b[6])
    assert b[7] == "1" and rows["sleepers"][7] == "3"
    assert re.fullmatch(r"[\d.]+(B|kB|MB) / [\d.]+(B|kB|MB)", rows["sleepers"][5])
    status, out, _ = berth("stats", "--no-stream", "-a", "--no-trunc", "idle")
    assert _columns(out.splitlines()[1]) == [berth("inspect", "idle")[1].split('"Id": "')[1][:64], "idle", "0.00%",
                                              "0B / 0B", "0.00%", "0B / 0B", "0B / 0B", "0"]


def test_formats_json_and_templates(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    cid = berth("run", "-d", "--name", "web", "busybox", "sleep", "100")[1].strip()
    status, out, _ = berth("stats", "--no-stream", "--format", "json", "web")
    row = json.loads(out)
    assert status == 0 and sorted(row) == ["BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name",
                                           "NetIO", "PIDs"]
    assert (row["Container"], row["ID"], row["Name"], row["PIDs"]) == ("web", cid[:12], "web", "1")
    assert berth("stats", "--no-stream", "--format", "{{.Name}}:{{ .PIDs }}", cid[:6])[1] == "web:1\n"
    out = berth("stats", "--no-stream", "--format", "table {{.Name}}\\t{{.MemPerc}}", "web")[1].splitlines()
    assert _columns(out[0]) == ["NAME", "MEM %"] and _columns(out[1])[0] == "web"


def test_bad_input_is_one_error_line(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    assert berth("stats", "--no-stream", "nope") == (1, "", "Error: No such container: nope\n")
    assert berth("container", "stats", "--no-stream", "web", "nope") == (1, "", "Error: No such container: web\n")
    status, out, err = berth("stats", "--no-stream", "--format", "{{.Nope}}")
    assert (status, out) == (1, "") and err.startswith("Error: template: can't evaluate field Nope")
    assert err.count("\n") == 1
    assert berth("stats", "--bogus")[0] == 125


def test_streaming_redraws_each_second_and_ends_cleanly_on_ctrl_c(cengine, store_root) -> None:  # type: ignore[no-untyped-def]
    cengine.container_start(cengine.container_create(_options("streamed")))
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "--root", str(store_root), "stats", "streamed"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        seen = b""
        deadline = time.monotonic() + 15
        while seen.count(b"\033[H") < 3 and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                seen += os.read(proc.stdout.fileno(), 65536)  # type: ignore[union-attr]
        assert seen.startswith(b"\033[2J\033[H") and seen.count(b"\033[2J") == 1
        frames = seen.split(b"\033[H")[1:]
        assert len(frames) >= 3
        assert all(b"streamed" in f and b"CONTAINER ID" in f for f in frames[:2])
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0 and err == b""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _options(name: str):  # type: ignore[no-untyped-def]
    from engine.containers import CreateOptions

    return CreateOptions(image="busybox", cmd=("sleep", "100"), name=name)


def test_binary_sizes_as_docker_prints_them() -> None:
    assert [binary_size(n) for n in (0, 952 * 1024, 1536, 64 << 20, int(23.54 * (1 << 30)), 5.184 * (1 << 20))] == \
        ["0B", "952KiB", "1.5KiB", "64MiB", "23.54GiB", "5.184MiB"]

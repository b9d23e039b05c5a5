"""The app's log panel starts from the last lines it can hold, read from the end of the log (issue 14 item 5)."""

from __future__ import annotations

import threading

from engine.containers import CreateOptions
from tests.engine.containers_fixtures import cengine  # noqa: F401
from tests.engine.test_logs_seek import _rchar, _synthetic
from tui.widgets.log_source import LogBuffer, LogFollower, LogGrew


def test_the_panel_reads_only_the_lines_its_buffer_keeps(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = cengine.container_create(CreateOptions(image="busybox", name="noisy"))
    _, lines = _synthetic(cengine.paths.container_log(cid), 60 << 20, per_stamp=100)
    buffer = LogBuffer(max_lines=2_000)
    done = threading.Event()
    failures: list[BaseException] = []

    def grew(message: LogGrew) -> None:
        if message.ended:
            done.set()

    before = _rchar()
    follower = LogFollower(cengine, cid, buffer, grew, failures.append)
    follower.start()  # the container never ran: the follower reads what there is, then ends
    assert done.wait(60) and not failures
    read = _rchar() - before
    assert read < 8 << 20, f"read {read} bytes of a 60 MB log to show 2,000 lines"
    assert len(buffer) == 2_000 and buffer.dropped == 0
    assert [int(e.log.split()[0]) for e in buffer.lines] == list(range(lines - 2_000, lines))

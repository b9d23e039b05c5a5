"""RFC 3339 timestamps as Docker writes them (``created``, log lines, ``StartedAt``).

A module of its own so that records and logs can stamp times without loading
the image service and its stores (start-up time matters for every verb).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["format_time", "parse_time"]

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def parse_time(text: str | None) -> float:
    """An RFC 3339 timestamp (nanoseconds allowed) as epoch seconds; 0 when absent."""
    if not text:
        return 0.0
    m = _STAMP.match(text)
    if not m:
        return 0.0
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    base = datetime.fromisoformat(m.group(1) + zone).timestamp()
    return base + float("0" + m.group(2)) if m.group(2) else base


def format_time(epoch: float) -> str:
    """Epoch seconds as RFC 3339 with nanoseconds, as Docker writes ``created``."""
    whole = int(epoch)
    nanos = round((epoch - whole) * 1e9)
    stamp = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z"

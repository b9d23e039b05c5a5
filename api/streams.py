"""Bytes a blocking engine iterator makes, written to a client from the event loop with back-pressure."""

from __future__ import annotations

import asyncio
import json
import struct
import threading
from collections.abc import Callable
from typing import Any

from aiohttp import web

__all__ = ["STREAM_IDS", "frame", "json_line", "pump", "watch_disconnect"]

STREAM_IDS = {"stdin": 0, "stdout": 1, "stderr": 2}
"""Docker's multiplexed stream: an 8-byte header (stream id, 3 zero bytes, big-endian length) per chunk."""

Send = Callable[[bytes], None]


def frame(stream: str, data: bytes) -> bytes:
    """One chunk of a non-tty container's output, framed as Docker's ``stdcopy`` reads it."""
    return struct.pack(">BxxxL", STREAM_IDS[stream], len(data)) + data


def json_line(item: dict[str, Any]) -> bytes:
    """One object of a JSON-lines stream (pull progress, events)."""
    return json.dumps(item, separators=(",", ":")).encode() + b"\r\n"


async def pump(response: web.StreamResponse, work: Callable[[Send], object]) -> None:
    """Run ``work(send)`` on a thread; each ``send(data)`` waits until the loop has written ``data``.

    Waiting is the back-pressure: a slow client slows the reader, never fills memory. A client that
    went away makes ``send`` raise, which ends ``work`` at its next chunk.
    """
    loop = asyncio.get_running_loop()

    def send(data: bytes) -> None:
        if data:
            asyncio.run_coroutine_threadsafe(response.write(data), loop).result()

    await asyncio.to_thread(work, send)


async def watch_disconnect(request: web.Request, cancel: threading.Event, every: float = 0.25) -> None:
    """Set ``cancel`` when the client closes its connection (a follow that waits for news never writes)."""
    while not cancel.is_set():
        transport = request.transport
        if transport is None or transport.is_closing():
            cancel.set()
            return
        await asyncio.sleep(every)

"""Hijacked attach: Docker's clients attach *before* they start, so an attach may wait for its start.

``docker run`` without ``-d`` sends create, attach (``Upgrade: tcp``), wait (``condition=next-exit``)
and only then start. The engine streams output from an ``Attachment`` that ``container_start``
returns, so a pending attach parks in ``AttachHub`` and the start handler hands it the attachment.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .streams import Send, frame, pump

__all__ = ["AttachHub", "PendingAttach", "StdinSink", "hijack", "stream_attachment"]

RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"


class StdinSink:
    """Receives what the client sends after the upgrade (its stdin) and writes it to an fd.

    The fd is a pipe the container reads or a pty master; -1 (until one is set) drops the bytes.
    """

    def __init__(self, fd: int = -1, close_at_eof: bool = True) -> None:
        self.fd, self.close_at_eof = fd, close_at_eof

    def attach(self, fd: int, close_at_eof: bool) -> None:
        self.fd, self.close_at_eof = fd, close_at_eof

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if self.fd >= 0:
            try:
                os.write(self.fd, data)  # a pipe or a pty takes 64 KiB before it would block
            except OSError:
                self.feed_eof()
        return False, b""

    def feed_eof(self) -> None:
        if self.fd >= 0 and self.close_at_eof:
            os.close(self.fd)
        self.fd = -1


class _HalfOpen(asyncio.Protocol):
    """The hijacked connection's protocol: the client's bytes go to a ``StdinSink``, and its EOF only ends them.

    Docker's clients close their write side as soon as their stdin ends (even with none); asyncio would
    close the whole connection on that EOF unless the protocol says to keep it. Writes still flow through
    aiohttp's protocol, whose pause/resume keeps back-pressure working.
    """

    def __init__(self, inner: Any, sink: StdinSink) -> None:
        self.inner, self.sink = inner, sink

    def data_received(self, data: bytes) -> None:
        self.sink.feed_data(data)

    def eof_received(self) -> bool:
        self.sink.feed_eof()
        return True

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.sink.feed_eof()
        self.inner.connection_lost(exc)


@dataclass
class PendingAttach:
    """An attach that arrived before its container started."""

    future: asyncio.Future[Any]
    stdin: int | None = None
    """The read end of a pipe the container gets as its stdin (``attach?stdin=1`` on ``OpenStdin``)."""


@dataclass
class AttachHub:
    """The server's state shared by attach, start and wait: who waits for which container."""

    pending: dict[str, list[PendingAttach]] = field(default_factory=dict)
    exits: dict[str, asyncio.Future[int]] = field(default_factory=dict)
    """Exit codes of runs followed through an attach: a ``--rm`` container's record is gone by then."""

    def park(self, cid: str, stdin: int | None) -> PendingAttach:
        waiting = PendingAttach(asyncio.get_running_loop().create_future(), stdin)
        self.pending.setdefault(cid, []).append(waiting)
        self.exit_future(cid)
        return waiting

    def take(self, cid: str) -> PendingAttach | None:
        """The oldest attach still waiting for ``cid`` to start (one gets the attachment; Docker allows more)."""
        queue = self.pending.get(cid, [])
        while queue:
            waiting = queue.pop(0)
            if not waiting.future.done():
                return waiting
        self.pending.pop(cid, None)
        return None

    def exit_future(self, cid: str) -> asyncio.Future[int]:
        if cid not in self.exits:
            self.exits[cid] = asyncio.get_running_loop().create_future()
        return self.exits[cid]

    def ended(self, cid: str, code: int) -> None:
        future = self.exit_future(cid)
        if not future.done():
            future.set_result(code)
        asyncio.get_running_loop().call_later(60, self.exits.pop, cid, None)


async def hijack(request: web.Request, tty: bool, sink: StdinSink) -> web.StreamResponse:
    """Answer ``101 UPGRADED`` (or 200 to a client that did not ask to upgrade); the raw stream follows.

    From here on the client's bytes go to ``sink``, and its half-close does not end our output.
    """
    upgrade = request.headers.get("Upgrade", "").lower() == "tcp"
    kind = RAW_STREAM if tty else MULTIPLEXED_STREAM
    headers = {"Content-Type": kind}
    if upgrade:
        headers.update({"Connection": "Upgrade", "Upgrade": "tcp"})
    response = web.StreamResponse(status=101 if upgrade else 200, reason="UPGRADED" if upgrade else None,
                                  headers=headers)
    await response.prepare(request)
    transport = request.transport
    if transport is not None:
        transport.set_protocol(_HalfOpen(request.protocol, sink))
    return response


async def stream_attachment(response: web.StreamResponse, attachment: Any, tty: bool,
                            streams: set[str], sink: StdinSink) -> int:
    """Copy the container's output (as ``streams`` asked) until it exits; its exit code."""

    def copy(send: Send) -> None:
        for entry in attachment.entries():
            if entry.stream in streams:
                data = entry.log.encode()
                send(data if tty else frame(entry.stream, data))

    try:
        await pump(response, copy)
    finally:
        if sink.fd == attachment.terminal:
            sink.attach(-1, close_at_eof=False)  # the pty's fd closes with the attachment: never write to a reused fd
        await asyncio.to_thread(attachment.close)
    return int(attachment.exit_code or 0)

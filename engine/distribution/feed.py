"""A blob that is still downloading, readable from its start by the layer applier that follows it.

A pull used to download a layer blob whole, then read it back to apply it:
the two took about as long as each other and ran one after the other. A
``BlobFeed`` lets the applier start on the first megabyte while the download
thread writes the rest: it reads the ``.partial`` file (page cache, not
disk) up to what the download has written, and waits for more.

The one rule that keeps this safe: the reader's end of stream comes only
after the download has checked the blob's digest and size (and kept it under
its final name). Every applier reads to the end of its input before it
commits a layer, so a layer is never committed from bytes that were not
verified; a download that fails (a dropped connection, a digest mismatch, a
full disk, a cancel) makes the reader raise that same error instead.
"""

from __future__ import annotations

import errno
import os
import threading

__all__ = ["BlobFeed", "FeedReader"]

_WAIT = 0.5  # seconds between looks at a download that has gone quiet (it signals; this is a backstop)


class BlobFeed:
    """What one download has written so far. The download thread calls ``start``, ``grow``, then ``finish``
    or ``fail``; any number of readers follow it. ``close`` once no reader needs it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._fd = -1
        self._written = 0
        self._done = False
        self._error: BaseException | None = None

    def start(self, path: str, have: int) -> None:
        """The download writes ``path``, which already holds ``have`` good bytes (a resumed ``.partial``)."""
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # survives the rename to the final name
        with self._cond:
            self._fd, self._written = fd, have
            self._cond.notify_all()

    def grow(self, size: int) -> None:
        """``size`` more bytes are in the file (written by ``os.write``: no buffer holds them back)."""
        with self._cond:
            self._written += size
            self._cond.notify_all()

    def finish(self) -> None:
        """The blob is complete and verified: readers may reach its end."""
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        """The download failed: readers raise ``error`` instead of reaching an end."""
        with self._cond:
            if not self._done:
                self._error = error
            self._cond.notify_all()

    def reader(self) -> FeedReader:
        return FeedReader(self)

    def close(self) -> None:
        with self._cond:
            fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def _wait_for(self, pos: int) -> tuple[int, int]:
        """(fd, bytes readable at ``pos``) once there are some; (fd, 0) at the verified end."""
        with self._cond:
            while True:
                if self._error is not None:
                    raise self._error
                if self._fd >= 0 and self._written > pos:
                    return self._fd, self._written - pos
                if self._done:
                    return self._fd, 0
                self._cond.wait(_WAIT)


class FeedReader:
    """A forward-only stream of one blob from its first byte, as its download writes it."""

    def __init__(self, feed: BlobFeed) -> None:
        self._feed = feed
        self._pos = 0

    def read(self, size: int = -1, /) -> bytes:
        fd, ready = self._feed._wait_for(self._pos)
        if not ready:
            return b""
        data = os.pread(fd, ready if size < 0 else min(size, ready), self._pos)
        if not data:  # the file is shorter than its download wrote: never pass that off as the end
            raise OSError(errno.EIO, "a downloading blob's file shrank under its reader")
        self._pos += len(data)
        return data

    def __enter__(self) -> FeedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

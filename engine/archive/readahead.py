"""Read (decompress, hash) a layer stream on a thread while the caller writes files.

zlib, bz2, lzma, zstd and sha256 all drop the GIL on big buffers, so this
overlaps the CPU-heavy half of applying a layer with the syscall-heavy half.
"""

from __future__ import annotations

import queue
import threading
from types import TracebackType

from .digest import ByteSource
from .formats import COPY_BUFSIZE

__all__ = ["ReadAhead"]

_DEPTH = 4  # chunks in flight: enough to ride out a burst of small files, at most 4 MiB held
_POLL = 0.1  # seconds between checks for "the consumer went away"
_JOIN_TIMEOUT = 1.0  # seconds to wait for the thread when the consumer gives up early


class ReadAhead:
    """A forward-only stream fed by a thread that reads ``source`` in 1 MiB chunks.

    Use as a context manager: leaving it stops the thread even if the caller
    did not read to the end. A reader error is raised by the next ``read``.
    """

    def __init__(self, source: ByteSource) -> None:
        self._source = source
        self._chunks: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=_DEPTH)
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="berth-layer-readahead", daemon=True)
        self._current = memoryview(b"")
        self._eof = False

    def __enter__(self) -> ReadAhead:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self._closing.set()
        # After a full read the thread has ended. On an error it stops after its
        # current read; a stalled pipe must not hold up the error (or a cancel).
        self._thread.join(_JOIN_TIMEOUT)

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (fewer at a chunk boundary); ``b""`` only at the end."""
        if not self._current and not self._eof:
            item = self._chunks.get()
            if isinstance(item, BaseException):
                self._eof = True
                raise item
            self._eof = not item
            if size < 0 or size >= len(item):
                return item  # the whole chunk: no copy
            self._current = memoryview(item)
        if size < 0:
            size = len(self._current)
        data, self._current = self._current[:size], self._current[size:]
        return bytes(data)

    def _run(self) -> None:
        try:
            while not self._closing.is_set():
                data = self._source.read(COPY_BUFSIZE)
                self._put(data)
                if not data:
                    return
        except BaseException as err:  # handed to the consumer, who raises it
            self._put(err)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._closing.is_set():
            try:
                self._chunks.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue

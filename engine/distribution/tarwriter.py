"""A plain tar writer for archives of blobs, with in-place headers for streamed entries."""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from typing import BinaryIO, cast

__all__ = ["TarWriter"]

BLOCK = 512
_END = b"\0" * (2 * BLOCK)


class TarWriter:
    """Writes tar entries to a seekable file; a streamed entry gets its header once its size is known."""

    def __init__(self, out: BinaryIO, on_write: Callable[[int], None] | None = None) -> None:
        self._out = out
        self._on_write = on_write
        self.written = 0
        """Bytes of the archive written so far."""

    def add_dir(self, name: str) -> None:
        info = _info(name.rstrip("/") + "/", 0, 0o755)
        info.type = tarfile.DIRTYPE
        self._write(info.tobuf(tarfile.USTAR_FORMAT))

    def add_bytes(self, name: str, data: bytes) -> None:
        self._write(_info(name, len(data), 0o644).tobuf(tarfile.USTAR_FORMAT))
        self._write(data)
        self._pad(len(data))

    def add_stream(self, fill: Callable[[BinaryIO], tuple[str, int]]) -> str:
        """Let ``fill`` write an entry's data; it returns the entry's name and size, known only afterwards."""
        start = self._out.tell()
        self._write(b"\0" * BLOCK)
        name, size = fill(cast(BinaryIO, _Counting(self)))
        self._pad(size)
        end = self._out.tell()
        if end - start - BLOCK - _padding(size) != size:
            raise ValueError(f"tar entry {name}: {end - start - BLOCK} bytes written, {size} reported")
        self._out.seek(start)
        self._out.write(_info(name, size, 0o644).tobuf(tarfile.USTAR_FORMAT))
        self._out.seek(end)
        return name

    def close(self) -> None:
        self._write(_END)
        self._out.flush()

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[self._out.write(view):]
        self.written += len(data)
        if self._on_write is not None:
            self._on_write(self.written)

    def _pad(self, size: int) -> None:
        if _padding(size):
            self._write(b"\0" * _padding(size))


class _Counting:
    """What a streamed entry writes to: the archive, counted."""

    def __init__(self, writer: TarWriter) -> None:
        self._writer = writer

    def write(self, data: bytes) -> int:
        self._writer._write(bytes(data) if isinstance(data, memoryview) else data)
        return len(data)


def _padding(size: int) -> int:
    return -size % BLOCK


def _info(name: str, size: int, mode: int) -> tarfile.TarInfo:
    """A header with fixed owner and mtime, so the same images give the same archive."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = mode
    info.mtime = 0
    return info

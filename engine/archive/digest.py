"""Streams that hash what passes through them, so a diffID costs no second read."""

from __future__ import annotations

import hashlib
from typing import BinaryIO, Protocol

__all__ = ["ByteSource", "HashingReader", "HashingWriter"]


class ByteSource(Protocol):
    """Anything with a forward-only ``read``: a file, a pipe, a decompressor."""

    def read(self, size: int = -1, /) -> bytes: ...


class HashingReader:
    """Reads from ``source`` and keeps the sha256 and length of every byte read."""

    def __init__(self, source: ByteSource) -> None:
        self._source = source
        self._hash = hashlib.sha256()
        self.size = 0
        """Bytes read so far."""

    def read(self, size: int = -1, /) -> bytes:
        data = self._source.read(size)
        self._hash.update(data)
        self.size += len(data)
        return data

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` of everything read so far."""
        return "sha256:" + self._hash.hexdigest()


class HashingWriter:
    """Writes everything through to ``out`` and keeps the sha256 and length of it."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self.size = 0
        """Bytes written so far."""

    def write(self, data: bytes) -> None:
        self._hash.update(data)
        view = memoryview(data)
        while view:
            # A raw (unbuffered) file may take less than it was given.
            view = view[self._out.write(view) :]
        self.size += len(data)

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` of everything written so far."""
        return "sha256:" + self._hash.hexdigest()

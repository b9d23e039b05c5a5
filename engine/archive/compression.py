"""Recognise a layer tar's compression by its first bytes and undo it as a stream.

The file name never counts: registries and ``docker save`` files lie about it,
and stdin has none.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable
from typing import Any, cast

from ..errors import ArchiveError
from .digest import ByteSource

__all__ = ["GZIP", "BZIP2", "XZ", "ZSTD", "UNCOMPRESSED", "detect_compression", "open_maybe_compressed", "Decompressed"]

GZIP = "gzip"
BZIP2 = "bzip2"
XZ = "xz"
ZSTD = "zstd"
UNCOMPRESSED = "tar"

_GZIP_MAGIC = b"\x1f\x8b\x08"  # RFC 1952: ID1, ID2, CM=deflate
_XZ_MAGIC = b"\xfd7zXZ\x00"  # xz-file-format.txt, 2.1.1.1
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # RFC 8878, 3.1.1
_ZSTD_SKIPPABLE = b"\x2a\x4d\x18"  # RFC 8878, 3.1.2: 0x184D2A5? little-endian, first byte 0x50..0x5F
# A bzip2 stream is "BZh", a block size digit, then a block or end-of-stream magic (both 48-bit
# BCD of pi / sqrt(pi)); checking all of it keeps a tar whose first file is named "BZh…" a tar.
_BZIP2_BLOCK_MAGICS = (b"\x31\x41\x59\x26\x53\x59", b"\x17\x72\x45\x38\x50\x90")
_HEAD_SIZE = 10  # long enough for the bzip2 check, the longest above


def detect_compression(head: bytes) -> str:
    """The compression of a stream that starts with ``head`` (at least 10 bytes unless shorter)."""
    if head.startswith(_GZIP_MAGIC):
        return GZIP
    if head.startswith(_XZ_MAGIC):
        return XZ
    if head.startswith(_ZSTD_MAGIC) or (head[:1] and head[0] & 0xF0 == 0x50 and head[1:4] == _ZSTD_SKIPPABLE):
        return ZSTD
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[3:4] != b"0" and head[4:10] in _BZIP2_BLOCK_MAGICS:
        return BZIP2
    return UNCOMPRESSED


class _Replay:
    """A forward-only stream that first gives back the bytes already read from it to look at."""

    def __init__(self, head: bytes, rest: ByteSource) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1, /) -> bytes:
        if not self._head:
            return self._rest.read(size)
        if size < 0:
            data, self._head = self._head + self._rest.read(), b""
        else:
            data, self._head = self._head[:size], self._head[size:]
        return data


def _read_head(source: ByteSource) -> bytes:
    """Up to ``_HEAD_SIZE`` bytes; a pipe may hand them over a few at a time."""
    head = b""
    while len(head) < _HEAD_SIZE:
        chunk = source.read(_HEAD_SIZE - len(head))
        if not chunk:
            break
        head += chunk
    return head


class _ZstdReader:
    """zstd frames one after another; a frame cut short raises EOFError, as the stdlib decoders do.

    zstandard's own stream_reader returns a clean EOF on a cut-off frame, and
    its decompressobj has no output limit, so input goes in small pieces: one
    zstd block (at most 128 KiB out) can be as small as 4 bytes in.
    """

    _FEED = 4096  # worst case 4096 / 4 * 128 KiB = 128 MiB out per call; typically ~16 KiB

    def __init__(self, source: ByteSource) -> None:
        import zstandard  # only zstd layers pay for the import

        self._source = source
        self._new_frame = zstandard.ZstdDecompressor().decompressobj
        self._frame = self._new_frame()
        self._in_frame = False
        self._pieces: list[bytes] = []
        self._buffered = 0

    def read(self, size: int = -1, /) -> bytes:
        while (size < 0 or self._buffered < size) and self._fill():
            pass
        data = b"".join(self._pieces)
        if 0 <= size < len(data):
            data, rest = data[:size], data[size:]
            self._pieces, self._buffered = [rest], len(rest)
        else:
            self._pieces, self._buffered = [], 0
        return data

    def _fill(self) -> bool:
        """Decompress one more piece of input; False at the end of a complete stream."""
        data = self._source.read(self._FEED)
        if not data:
            if self._in_frame:
                raise EOFError("zstd frame ends early")
            return False
        while data:
            out = self._frame.decompress(data)
            self._pieces.append(out)
            self._buffered += len(out)
            self._in_frame = not self._frame.eof
            data = b""
            if self._frame.eof:
                data = self._frame.unused_data
                self._frame = self._new_frame()
        return True


def _zstd_errors() -> tuple[type[BaseException], ...]:
    import zstandard

    return (zstandard.ZstdError,)


class _GzipReader:
    """gzip members one after another (RFC 1952), inflated by zlib in C, which checks each header and CRC too.

    ``gzip.GzipFile`` does the same with a Python loop around zlib and a CRC of
    its own over every output byte: on a layer of text that cost more than the
    inflating. As there, zero bytes between or after members are padding, and
    a member cut short raises EOFError. Output per call is capped at the size
    asked for (``max_length``), so a compression bomb never sits in memory whole.
    """

    _FEED = 1 << 20

    def __init__(self, source: ByteSource) -> None:
        self._source = source
        self._inflate = zlib.decompressobj(wbits=31)  # 16 + MAX_WBITS: gzip framing
        self._pending = b""  # input zlib has not taken yet
        self._in_member = False

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            return b"".join(iter(lambda: self.read(_GZIP_ALL_CHUNK), b""))
        while size:
            if not self._pending:
                self._pending = self._source.read(self._FEED)
                if not self._pending:
                    if self._in_member:
                        raise EOFError("gzip member ends early")
                    return b""
            if not self._in_member:
                self._pending = self._pending.lstrip(b"\0")  # padding after a member
                if not self._pending:
                    continue
                self._in_member = True
            out = self._inflate.decompress(self._pending, size)
            self._pending = self._inflate.unconsumed_tail
            if self._inflate.eof:
                self._pending = self._inflate.unused_data  # the rest of the input (unconsumed_tail repeats it)
                self._inflate = zlib.decompressobj(wbits=31)
                self._in_member = False
            if out:
                return out
        return b""


_GZIP_ALL_CHUNK = 1 << 20


def _gzip(source: ByteSource) -> ByteSource:
    return _GzipReader(source)


def _bzip2(source: ByteSource) -> ByteSource:
    return bz2.BZ2File(cast(Any, source))


def _xz(source: ByteSource) -> ByteSource:
    return lzma.LZMAFile(cast(Any, source))


_OPENERS: dict[str, Callable[[ByteSource], ByteSource]] = {
    GZIP: _gzip,
    BZIP2: _bzip2,
    XZ: _xz,
    ZSTD: _ZstdReader,
    UNCOMPRESSED: lambda source: source,
}


class Decompressed:
    """The uncompressed bytes of a (maybe compressed) stream; a decoder failure is an ``ArchiveError``."""

    def __init__(self, source: ByteSource, name: str) -> None:
        head = _read_head(source)
        self.compression = detect_compression(head)
        """What the stream was compressed with (``UNCOMPRESSED`` for a plain tar)."""
        self._name = name
        self._reader = _OPENERS[self.compression](_Replay(head, source))
        self._errors: tuple[type[BaseException], ...] = (OSError, ValueError, zlib.error, lzma.LZMAError)
        if self.compression == ZSTD:
            self._errors += _zstd_errors()

    def read(self, size: int = -1, /) -> bytes:
        try:
            return self._reader.read(size)
        except EOFError as err:
            raise ArchiveError(f"{self._name}: truncated ({self.compression} stream ends early)") from err
        except self._errors as err:
            raise ArchiveError(f"{self._name}: corrupt {self.compression} data ({err})") from err


def open_maybe_compressed(fileobj: ByteSource, name: str = "<stream>") -> Decompressed:
    """Wrap ``fileobj`` so reads return uncompressed bytes, whatever (if any) compression it uses.

    gzip, bzip2, xz and zstd are recognised by their magic bytes; anything else
    is passed through untouched for the tar reader to judge. Only ``read`` is
    used, so pipes and stdin work. ``name`` goes into error messages.
    """
    return Decompressed(fileobj, name)

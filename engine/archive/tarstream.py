"""Read a tar forward only, fast, and tell a proper end from a cut-off one.

``tarfile``'s own stream mode (``r|``) slices its whole read buffer on every
512-byte header read, which costs more than the rest of extraction together.
Instead a ``TarFile`` in plain ``r`` mode reads a ``ForwardStream``: a C
``BufferedReader`` that pretends to seek by reading ahead, and refuses to go back.
"""

from __future__ import annotations

import io
import struct
import tarfile
from collections.abc import Iterator

from ..errors import ArchiveError
from .digest import ByteSource
from .formats import COPY_BUFSIZE

__all__ = ["ForwardStream", "LayerTar", "open_tar", "members", "describe"]


class _RawSource(io.RawIOBase):
    """``io.RawIOBase`` over anything with ``read``, so ``io.BufferedReader`` can buffer it."""

    def __init__(self, source: ByteSource) -> None:
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class ForwardStream:
    """A buffered, forward-only view of a stream with the ``tell``/``seek`` a ``TarFile`` asks for."""

    def __init__(self, source: ByteSource) -> None:
        self._reader = io.BufferedReader(_RawSource(source), COPY_BUFSIZE)
        self._pos = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._reader.read(size)
        self._pos += len(data)
        return data

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        if whence != io.SEEK_SET or pos < self._pos:
            raise tarfile.StreamError("seeking backwards is not allowed")
        while self._pos < pos and self.read(min(pos - self._pos, COPY_BUFSIZE)):
            pass
        return self._pos


class LayerTar(tarfile.TarFile):
    """A TarFile that remembers why it stopped reading headers."""

    stop: tarfile.HeaderError | None = None
    members: list[tarfile.TarInfo]  # not in typeshed


# A ustar header (POSIX.1-1988), skipping magic/version and the padding:
# name mode uid gid size mtime chksum typeflag linkname uname gname devmajor devminor prefix.
_USTAR = struct.Struct("100s8s8s8s12s12s8sc100s8x32s32s8s8s155s12x")
_CHKSUM_BLANKS = 8 * ord(" ")  # the checksum field counts as spaces while summing
_BASE256 = (0o200, 0o377)  # GNU binary numbers: leave those to tarfile
# tarfile's header errors by kind; undocumented, so not in typeshed.
_END_BLOCK: type[tarfile.HeaderError] = getattr(tarfile, "EOFHeaderError")  # noqa: B009
_CUT_OFF: tuple[type[tarfile.HeaderError], ...] = (
    getattr(tarfile, "EmptyHeaderError"),  # noqa: B009
    getattr(tarfile, "TruncatedHeaderError"),  # noqa: B009
)


def _octal(field: bytes) -> int:
    return int(field.split(b"\0", 1)[0].strip() or b"0", 8)


class _TarHeader(tarfile.TarInfo):
    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> _TarHeader:
        # tarfile's parser costs ~25 µs a header, as much as writing a small file;
        # this covers plain headers and hands anything unusual back to it.
        fast = cls._plain_header(buf, encoding, errors)
        return fast if fast is not None else super().frombuf(buf, encoding, errors)

    @classmethod
    def _plain_header(cls, buf: bytes | bytearray, encoding: str, errors: str) -> _TarHeader | None:
        if len(buf) != tarfile.BLOCKSIZE or not buf[0] or buf[156:157] == tarfile.GNUTYPE_SPARSE:
            return None
        name, mode, uid, gid, size, mtime, chksum, kind, link, uname, gname, major, minor, prefix = _USTAR.unpack(buf)
        numbers = (mode, uid, gid, size, mtime, chksum, major, minor)
        if any(n[0] in _BASE256 for n in numbers):
            return None
        try:
            mode_, uid_, gid_, size_, mtime_, chksum_, major_, minor_ = map(_octal, numbers)
        except ValueError:
            return None
        if chksum_ != sum(buf) - sum(buf[148:156]) + _CHKSUM_BLANKS:
            return None
        obj = cls(name.split(b"\0", 1)[0].decode(encoding, errors))
        obj.mode, obj.uid, obj.gid, obj.size, obj.mtime, obj.chksum = mode_, uid_, gid_, size_, mtime_, chksum_
        obj.type, obj.devmajor, obj.devminor = kind, major_, minor_
        obj.linkname, obj.uname, obj.gname = (
            f.split(b"\0", 1)[0].decode(encoding, errors) for f in (link, uname, gname)
        )
        if obj.type == tarfile.AREGTYPE and obj.name.endswith("/"):
            obj.type = tarfile.DIRTYPE  # V7 tar's way to say "directory"
        if obj.isdir():
            obj.name = obj.name.rstrip("/")
        if prefix[0] and obj.type not in tarfile.GNU_TYPES:
            obj.name = prefix.split(b"\0", 1)[0].decode(encoding, errors) + "/" + obj.name
        return obj

    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> _TarHeader:
        # TarFile.next() ends quietly on a missing or garbled header after the
        # first; keeping the reason lets us tell a proper end from a cut-off tar.
        try:
            return super().fromtarfile(tarfile_)
        except tarfile.HeaderError as err:
            if isinstance(tarfile_, LayerTar):
                tarfile_.stop = err
            raise


def open_tar(stream: ForwardStream, name: str) -> LayerTar:
    """A TarFile over ``stream``; ``name`` is for messages. Raises ArchiveError if it is not a tar."""
    try:
        return LayerTar(
            fileobj=stream,  # type: ignore[arg-type]
            mode="r",
            tarinfo=_TarHeader,
            encoding="utf-8",
            errors="surrogateescape",
        )
    except tarfile.ReadError as err:
        raise ArchiveError(f"{name}: not a tar archive ({err})") from err


def members(tar: LayerTar, name: str) -> Iterator[tarfile.TarInfo]:
    """Every member, read forward; raises unless the tar ends with its end-of-archive block."""
    while (member := tar.next()) is not None:
        tar.members.clear()  # we never look back; keep memory flat on big layers
        yield member
    if tar.stop is not None and not isinstance(tar.stop, _END_BLOCK):
        if isinstance(tar.stop, _CUT_OFF):
            raise ArchiveError(f"{name}: truncated (no end-of-archive marker)")
        raise ArchiveError(f"{name}: corrupt tar header after {tar.offset} bytes ({tar.stop})")


def describe(err: tarfile.TarError) -> str:
    """A tarfile error in a few words, for after ``<archive>: ``."""
    text = str(err)
    if "unexpected end of data" in text or "truncated" in text or "empty" in text:
        return "truncated"
    return f"corrupt tar data ({text})"

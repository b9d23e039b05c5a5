"""BlobFeed: a layer applier follows a blob while it downloads, and reaches its end only once it is verified."""

from __future__ import annotations

import gzip
import io
import os
import threading
import time
from pathlib import Path

import pytest

from engine.archive import open_maybe_compressed
from engine.distribution.feed import BlobFeed
from engine.errors import ArchiveError, DigestMismatch


def _append(path: Path, data: bytes, feed: BlobFeed) -> None:
    with open(path, "ab") as f:
        f.write(data)
    feed.grow(len(data))


def test_the_reader_gets_bytes_as_they_are_written_and_ends_only_when_the_download_finishes(tmp_path: Path) -> None:
    path = tmp_path / "blob.partial"
    path.write_bytes(b"kept")  # a resumed partial: its bytes are readable at once
    feed = BlobFeed()
    feed.start(str(path), 4)
    reader = feed.reader()
    assert reader.read(100) == b"kept"
    _append(path, b"more", feed)
    assert reader.read(100) == b"more"
    ended = threading.Event()
    got: list[bytes] = []
    thread = threading.Thread(target=lambda: (got.append(reader.read(100)), ended.set()))
    thread.start()
    assert not ended.wait(0.2)  # no end of stream while the download is still going
    feed.finish()
    thread.join(5)
    assert got == [b""]
    feed.close()


def test_a_failed_download_is_raised_by_the_reader_instead_of_an_end(tmp_path: Path) -> None:
    path = tmp_path / "blob.partial"
    path.write_bytes(b"")
    feed = BlobFeed()
    feed.start(str(path), 0)
    _append(path, b"abc", feed)
    reader = feed.reader()
    assert reader.read() == b"abc"
    threading.Timer(0.05, feed.fail, (DigestMismatch("blob: digest mismatch"),)).start()
    with pytest.raises(DigestMismatch):
        reader.read()
    feed.close()


def test_a_second_reader_starts_from_the_first_byte_after_the_rename(tmp_path: Path) -> None:
    path = tmp_path / "blob.partial"
    path.write_bytes(b"whole blob")
    feed = BlobFeed()
    feed.start(str(path), 10)
    os.rename(path, tmp_path / "blob")  # the download keeps it under its final name
    feed.finish()
    assert feed.reader().read() == b"whole blob"
    assert feed.reader().read() == b"whole blob"
    feed.close()


def test_a_reader_waits_for_a_download_that_has_not_started(tmp_path: Path) -> None:
    path = tmp_path / "blob.partial"
    path.write_bytes(b"late")
    feed = BlobFeed()
    reader = feed.reader()

    def begin() -> None:
        time.sleep(0.05)
        feed.start(str(path), 4)
        feed.finish()

    threading.Thread(target=begin).start()
    assert reader.read() == b"late" and reader.read() == b""
    feed.close()


# -- the gzip fast path the applier reads layers through --------------------------------


def test_gzip_members_and_zero_padding_between_them_read_as_one_stream() -> None:
    data = os.urandom(100_000) + b"text " * 50_000
    blob = gzip.compress(data) + b"\0" * 100 + gzip.compress(b"second") + b"\0" * 7
    for step in (1, 4096, 1 << 20):
        stream = open_maybe_compressed(io.BytesIO(blob))
        # iter() drains the lambda inside this iteration, so it reads this stream and step
        assert b"".join(iter(lambda: stream.read(step), b"")) == data + b"second"  # noqa: B023


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:-3], "truncated"),
    (lambda b: b + b"garbage", "corrupt gzip"),
    (lambda b: b[:-8] + bytes([b[-8] ^ 0xFF]) + b[-7:], "corrupt gzip"),  # the CRC
])
def test_a_damaged_gzip_stream_is_an_archive_error(damage, message) -> None:  # type: ignore[no-untyped-def]
    stream = open_maybe_compressed(io.BytesIO(damage(gzip.compress(b"payload " * 1000))))
    with pytest.raises(ArchiveError, match=message):
        while stream.read(1 << 16):
            pass


def test_gzip_output_per_read_is_capped_so_a_bomb_never_sits_in_memory() -> None:
    stream = open_maybe_compressed(io.BytesIO(gzip.compress(b"\0" * (64 << 20))))
    assert len(stream.read(1 << 20)) <= 1 << 20

"""Layer blobs into the store, each checked against its blob digest and its diffID."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, BinaryIO, cast

from ..archive import open_maybe_compressed
from ..archive.digest import ByteSource
from ..errors import ArchiveError, BerthError, DigestMismatch
from ..images import ImageService
from ..store.layers import Layer, chain_id_for
from .progress import ProgressFn, report
from .tarsplit import TarSplitRecorder

__all__ = ["BlobRef", "LayerImporter", "MeteredReader"]

_REPORT_EVERY = 1 << 20


@dataclass(frozen=True)
class BlobRef:
    """A layer blob: where it is, and what it must hash to (None when only its diffID is known)."""

    name: str
    digest: str | None
    size: int
    media_type: str = ""


class MeteredReader:
    """Hashes what is read (like ``HashingReader``) and reports progress about once a MiB.

    With ``hashing=False`` it only counts: for a source that verifies its own bytes.
    """

    def __init__(self, source: ByteSource, on_read: Callable[[int], None] | None, *, hashing: bool = True) -> None:
        import hashlib

        self._source = source
        self._hash = hashlib.sha256() if hashing else None
        self._on_read = on_read
        self._reported = 0
        self.size = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._source.read(size)
        if self._hash is not None:
            self._hash.update(data)
        self.size += len(data)
        if self._on_read is not None and (self.size - self._reported >= _REPORT_EVERY or not data):
            self._reported = self.size
            self._on_read(self.size)
        return data

    def drain(self) -> None:
        """Read to the end: trailing bytes the tar reader skipped still count toward the digest."""
        while self.read(1 << 20):
            pass

    @property
    def digest(self) -> str | None:
        """``sha256:<hex>`` of what was read; None when not hashing."""
        return None if self._hash is None else "sha256:" + self._hash.hexdigest()


class LayerImporter:
    """Registers layer blobs on top of a parent chain, or finds them already there."""

    def __init__(self, images: ImageService) -> None:
        self.images = images
        self.layers = images.layers

    def add(self, opener: Callable[[str], IO[bytes]], blob: BlobRef, diff_id: str, parent: str | None, *,
            progress: ProgressFn | None = None, cancel: threading.Event | None = None,
            done: str = "Done", verified: bool = False) -> str:
        """The chainID of ``diff_id`` on ``parent``, registering the blob when the store lacks it.

        ``done`` is the status reported when the layer is in (a pull says ``Pull complete``).
        ``verified``: the opened stream raises rather than end unless its bytes hash to ``blob.digest``
        (a pull's feed), so hashing them here again would only cost time. The diffID is checked always.
        """
        chain_id = chain_id_for(parent, diff_id)
        label = blob.digest or diff_id
        if self.layers.exists(chain_id):
            report(progress, label, "Already exists")
            return chain_id
        with opener(blob.name) as raw:
            reader = MeteredReader(raw, lambda n: report(progress, label, "Extracting", n, max(blob.size, 0)),
                                   hashing=not verified)
            recorder = TarSplitRecorder(open_maybe_compressed(reader, blob.name), self.images.paths.root)
            try:
                layer = self._register(recorder, reader, blob, parent, cancel)
                problem = self._problem(blob, reader, layer.diff_id, diff_id)
                if problem:
                    self._discard(layer.chain_id)
                    raise DigestMismatch(problem)
            except BaseException:
                recorder.discard()
                raise
        recorder.commit(self.images.paths.root, diff_id)  # save and push rebuild this exact tar from it
        report(progress, label, done, reader.size, reader.size)
        return chain_id

    def _register(self, recorder: TarSplitRecorder, reader: MeteredReader, blob: BlobRef, parent: str | None,
                  cancel: threading.Event | None) -> Layer:
        try:
            layer = self.layers.register(cast(BinaryIO, recorder), parent, archive_name=blob.name, cancel=cancel)
            recorder.drain()
        except ArchiveError as err:
            raise self._blame(blob, reader, err) from err
        reader.drain()
        return layer

    def _problem(self, blob: BlobRef, reader: MeteredReader, got_diff: str, want_diff: str) -> str:
        if blob.digest is not None and reader.digest is not None and reader.digest != blob.digest:
            return f"layer {blob.name}: digest mismatch: expected {blob.digest}, got {reader.digest}"
        if blob.size >= 0 and blob.digest is not None and reader.digest is not None and reader.size != blob.size:
            return f"layer {blob.name}: size mismatch: expected {blob.size} bytes, got {reader.size}"
        if got_diff != want_diff:
            return f"layer {blob.name}: diffID mismatch: the config says {want_diff}, the tar is {got_diff}"
        return ""

    def _blame(self, blob: BlobRef, reader: MeteredReader, err: ArchiveError) -> BerthError:
        """A digest mismatch explains an unreadable tar better than the tar reader's complaint does."""
        if blob.digest is None:
            return err
        reader.drain()  # a verified stream raises its own DigestMismatch at its end
        if reader.digest is None:
            return err
        if reader.digest != blob.digest:
            return DigestMismatch(f"layer {blob.name}: digest mismatch: expected {blob.digest}, got {reader.digest}")
        return err

    def _discard(self, chain_id: str) -> None:
        """Remove a layer registered from bad input, unless something else already used it."""
        with self.images.lock:
            if chain_id not in self.images.layers_in_use() and self.layers.exists(chain_id):
                self.layers.remove(chain_id)

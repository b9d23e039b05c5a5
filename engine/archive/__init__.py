"""Layer tars: write one from a dir or an overlay upper dir, apply one safely to a layer dir.

A layer tar is what Docker's overlay2 driver produces and consumes: PAX tar,
names relative without ``./``, whiteouts as ``.wh.<name>`` files and
``.wh..wh..opq`` markers, xattrs as ``SCHILY.xattr.<name>`` records. Its
diffID is the sha256 of the uncompressed stream; both directions compute it
on the way through.
"""

from __future__ import annotations

from .apply import ApplyResult, apply_layer
from .compression import BZIP2, GZIP, UNCOMPRESSED, XZ, ZSTD, Decompressed, detect_compression, open_maybe_compressed
from .write import WriteResult, write_layer

__all__ = [
    "ApplyResult",
    "apply_layer",
    "WriteResult",
    "write_layer",
    "Decompressed",
    "detect_compression",
    "open_maybe_compressed",
    "GZIP",
    "BZIP2",
    "XZ",
    "ZSTD",
    "UNCOMPRESSED",
]

"""Names fixed by the formats a layer tar speaks: tar PAX records, OCI whiteouts, overlayfs xattrs."""

from __future__ import annotations

__all__ = [
    "BLOCK_SIZE",
    "END_OF_ARCHIVE",
    "COPY_BUFSIZE",
    "PAX_XATTR_PREFIX",
    "WHITEOUT_PREFIX",
    "WHITEOUT_META_PREFIX",
    "WHITEOUT_OPAQUE_DIR",
    "OVERLAY_XATTR_PREFIX",
    "OVERLAY_OPAQUE_XATTR",
    "OVERLAY_OPAQUE_VALUE",
]

BLOCK_SIZE = 512
"""A tar block: headers are one block and file data is padded to a whole number of them."""

END_OF_ARCHIVE = b"\0" * (2 * BLOCK_SIZE)
"""Two zero blocks and nothing else, as Go's archive/tar ends a tar; an empty layer is exactly
this, so its diffID is Docker's well-known empty-layer digest."""

COPY_BUFSIZE = 1 << 20
"""File data moves in 1 MiB chunks: big enough that per-chunk Python work is noise."""

PAX_XATTR_PREFIX = "SCHILY.xattr."
"""PAX record keyword prefix for an extended attribute (GNU tar, Go archive/tar, Docker)."""

WHITEOUT_PREFIX = ".wh."
"""A tar entry ``<dir>/.wh.<name>`` says ``<name>`` was deleted from the layers below."""

WHITEOUT_META_PREFIX = WHITEOUT_PREFIX + WHITEOUT_PREFIX
"""Names starting like this are layer metadata, not deletions (AUFS ``.wh..wh.plnk`` and friends)."""

WHITEOUT_OPAQUE_DIR = WHITEOUT_META_PREFIX + ".opq"
"""A tar entry ``<dir>/.wh..wh..opq`` says nothing below ``<dir>`` in lower layers shows through."""

OVERLAY_XATTR_PREFIX = "trusted.overlay."
"""overlayfs keeps its own bookkeeping in these xattrs; they never travel in a layer tar."""

OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"
"""Set on an upper dir that hides the lower dirs of the same name.

overlayfs.rst, "whiteouts and opaque directories".
"""

OVERLAY_OPAQUE_VALUE = b"y"
"""The value that makes a dir opaque; newer kernels also write ``x``, which means something else."""

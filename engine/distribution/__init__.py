"""Moving images between stores: save/load archives, registry pull/push.

docker-archive and OCI image layouts on disk; the OCI distribution API over
HTTP(S) for registries. Every blob is checked against its digest on the way in.
"""

from __future__ import annotations

from .progress import TransferProgress

__all__ = ["TransferProgress"]

"""berth's Docker Engine API server: a front end like ``tui/``, over ``Engine`` only.

It maps Docker's JSON (create bodies, filters, progress streams, hijacked attach) onto the
same option types the CLI builds. ``berth system service`` starts it; aiohttp loads only then.
"""

from __future__ import annotations

__all__ = ["API_VERSION", "MIN_API_VERSION"]

API_VERSION = "1.51"
"""The newest API version we answer to (docker CLI 29 refuses servers below 1.44)."""
MIN_API_VERSION = "1.24"
"""The oldest one a client may ask for in its ``/v1.xx/`` prefix."""

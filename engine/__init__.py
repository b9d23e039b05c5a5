"""berth's embedded container engine. No UI code lives here.

Names load on first use, so ``berth ps`` does not pay for the builder or the
runtime at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Engine", "errors", "models"]

if TYPE_CHECKING:
    from . import errors, models
    from .engine import Engine


def __getattr__(name: str) -> Any:
    if name == "Engine":
        from .engine import Engine

        return Engine
    if name in ("errors", "models"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

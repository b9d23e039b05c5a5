"""Containers: records, the per-store monitor, lifecycle, logs, listing, diff.

One job per module: ``records`` (config.v2.json/hostconfig.json), ``create``,
``spec`` (records → ProcessSpec), ``monitor`` (the shim for every container of
a store) and ``client`` (its socket), ``lifecycle`` (start/stop/kill/wait/rm),
``logs`` (json-file), ``listing`` (ps), ``changes`` (diff), ``recovery``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Change, ContainerSummary, DiskUsage, DiskUsageRow
    from .options import CreateOptions

__all__ = ["Change", "ContainerSummary", "CreateOptions", "DiskUsage", "DiskUsageRow"]


def __getattr__(name: str) -> Any:
    """Names load on first use: ``logs`` or ``rm`` should not pay for the option parser and the models."""
    if name == "CreateOptions":
        from .options import CreateOptions

        return CreateOptions
    if name in __all__:
        from . import models

        return getattr(models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

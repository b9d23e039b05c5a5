"""Containers: records, the per-store monitor, lifecycle, logs, listing, diff.

One job per module: ``records`` (config.v2.json/hostconfig.json), ``create``,
``spec`` (records → ProcessSpec), ``monitor`` (the shim for every container of
a store) and ``client`` (its socket), ``lifecycle`` (start/stop/kill/wait/rm),
``logs`` (json-file), ``listing`` (ps), ``changes`` (diff), ``recovery``.
"""

from .models import Change, ContainerSummary, DiskUsage, DiskUsageRow
from .options import CreateOptions

__all__ = ["Change", "ContainerSummary", "CreateOptions", "DiskUsage", "DiskUsageRow"]

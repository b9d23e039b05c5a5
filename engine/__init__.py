"""berth's embedded container engine. No UI code lives here.

What this module exports is the engine's public API: the ``Engine`` facade,
the error classes, the dataclasses front ends render, the option and progress
types they pass in and get back, and the few constants and parsers a front end
needs. Front ends import nothing else (``tests/tui/test_public_api.py``); the
modules behind these names may move, the names stay.

Names load on first use, so ``berth ps`` does not pay for the builder or the
runtime at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import errors, models
    from .builder.metadata import config_changes
    from .builder.progress import (
        BuildEvent,
        BuildFinished,
        BuildMessage,
        ContainerRemoved,
        ContainerStarted,
        StepCached,
        StepDone,
        StepFailed,
        StepOutput,
        StepStarted,
    )
    from .builder.progress import render as build_event_text
    from .containers.lifecycle import Attachment
    from .containers.logs import LogEntry
    from .containers.models import Change, ContainerSummary, DiskUsage, DiskUsageRow
    from .containers.options import CreateOptions, parse_size
    from .containers.stats import ContainerStats
    from .distribution.progress import FINAL_ACTIONS, PROGRESS_ACTIONS, TransferProgress
    from .distribution.pull import PullResult
    from .engine import Engine
    from .errors import (
        FULL_ERRNOS,
        ArchiveError,
        AuthError,
        BerthError,
        BuildError,
        Cancelled,
        CommandFailed,
        ContainerConflict,
        ContainerNotFound,
        ContainerNotRunning,
        ContainerStartError,
        DigestMismatch,
        DockerfileParseError,
        ImageConflict,
        ImageInUse,
        ImageNotFound,
        InvalidArgument,
        InvalidReference,
        LayerNotFound,
        ManifestUnknown,
        MissingDependency,
        MonitorError,
        MountError,
        NotRoot,
        PlatformNotFound,
        RegistryError,
        StoreCorrupt,
        StoreFull,
        UnsafeEntry,
        VolumeInUse,
        VolumeNotFound,
    )
    from .events import Event
    from .layer_contents import FileNode, ImageEfficiency, LayerContents, WastedPath
    from .models import (
        CheckProblem,
        CheckReport,
        HistoryEntry,
        ImageSummary,
        Progress,
        RemovedItem,
    )
    from .reference import Reference
    from .reference import parse as parse_reference
    from .rfc3339 import format_time, parse_time
    from .runtime.pty import DEFAULT_DETACH_KEYS, DetachScanner, write_all
    from .store.paths import DEFAULT_ROOT

_ERRORS = (
    "BerthError", "NotRoot", "InvalidReference", "ImageNotFound", "ImageInUse", "ImageConflict", "LayerNotFound",
    "ArchiveError", "UnsafeEntry", "StoreCorrupt", "StoreFull", "FULL_ERRNOS", "MountError", "MissingDependency",
    "InvalidArgument", "DockerfileParseError", "BuildError", "CommandFailed", "Cancelled", "ContainerStartError",
    "ContainerNotFound", "ContainerConflict", "ContainerNotRunning", "VolumeNotFound", "VolumeInUse",
    "MonitorError", "DigestMismatch", "RegistryError", "AuthError", "ManifestUnknown", "PlatformNotFound",
)
_BUILD_EVENTS = (
    "BuildEvent", "StepStarted", "StepCached", "ContainerStarted", "StepOutput", "ContainerRemoved", "StepDone",
    "BuildMessage", "StepFailed", "BuildFinished",
)

_HOMES: dict[str, tuple[str, str]] = {
    "Engine": (".engine", "Engine"),
    **{name: (".errors", name) for name in _ERRORS},
    **{name: (".models", name) for name in (
        "ImageSummary", "HistoryEntry", "RemovedItem", "CheckProblem", "CheckReport", "Progress")},
    **{name: (".containers.models", name) for name in ("ContainerSummary", "Change", "DiskUsage", "DiskUsageRow")},
    "CreateOptions": (".containers.options", "CreateOptions"),
    "parse_size": (".containers.options", "parse_size"),
    "ContainerStats": (".containers.stats", "ContainerStats"),
    "LogEntry": (".containers.logs", "LogEntry"),
    "Attachment": (".containers.lifecycle", "Attachment"),
    **{name: (".layer_contents", name) for name in ("FileNode", "ImageEfficiency", "LayerContents", "WastedPath")},
    **{name: (".distribution.progress", name) for name in ("TransferProgress", "PROGRESS_ACTIONS", "FINAL_ACTIONS")},
    "PullResult": (".distribution.pull", "PullResult"),
    **{name: (".builder.progress", name) for name in _BUILD_EVENTS},
    "build_event_text": (".builder.progress", "render"),
    "config_changes": (".builder.metadata", "config_changes"),
    "Event": (".events", "Event"),
    "Reference": (".reference", "Reference"),
    "parse_reference": (".reference", "parse"),
    "format_time": (".rfc3339", "format_time"),
    "parse_time": (".rfc3339", "parse_time"),
    "DetachScanner": (".runtime.pty", "DetachScanner"),
    "DEFAULT_DETACH_KEYS": (".runtime.pty", "DEFAULT_DETACH_KEYS"),
    "write_all": (".runtime.pty", "write_all"),
    "DEFAULT_ROOT": (".store.paths", "DEFAULT_ROOT"),
}
"""Public name → (module it lives in, its name there). The modules stay where the engine wants them."""

__all__ = [
    "DEFAULT_DETACH_KEYS",
    "DEFAULT_ROOT",
    "FINAL_ACTIONS",
    "FULL_ERRNOS",
    "PROGRESS_ACTIONS",
    "ArchiveError",
    "Attachment",
    "AuthError",
    "BerthError",
    "BuildError",
    "BuildEvent",
    "BuildFinished",
    "BuildMessage",
    "Cancelled",
    "Change",
    "CheckProblem",
    "CheckReport",
    "CommandFailed",
    "ContainerConflict",
    "ContainerNotFound",
    "ContainerNotRunning",
    "ContainerRemoved",
    "ContainerStartError",
    "ContainerStarted",
    "ContainerStats",
    "ContainerSummary",
    "CreateOptions",
    "DetachScanner",
    "DigestMismatch",
    "DiskUsage",
    "DiskUsageRow",
    "DockerfileParseError",
    "Engine",
    "Event",
    "FileNode",
    "HistoryEntry",
    "ImageConflict",
    "ImageEfficiency",
    "ImageInUse",
    "ImageNotFound",
    "ImageSummary",
    "InvalidArgument",
    "InvalidReference",
    "LayerContents",
    "LayerNotFound",
    "LogEntry",
    "ManifestUnknown",
    "MissingDependency",
    "MonitorError",
    "MountError",
    "NotRoot",
    "PlatformNotFound",
    "Progress",
    "PullResult",
    "Reference",
    "RegistryError",
    "RemovedItem",
    "StepCached",
    "StepDone",
    "StepFailed",
    "StepOutput",
    "StepStarted",
    "StoreCorrupt",
    "StoreFull",
    "TransferProgress",
    "UnsafeEntry",
    "VolumeInUse",
    "VolumeNotFound",
    "WastedPath",
    "build_event_text",
    "config_changes",
    "errors",
    "format_time",
    "models",
    "parse_reference",
    "parse_size",
    "parse_time",
    "write_all",
]
"""Everything a front end may import from the engine (a test checks each name resolves through ``_HOMES``)."""


def __getattr__(name: str) -> Any:
    """Load a public name's module on first use (``berth ps`` must not import the builder or the runtime)."""
    import importlib

    if name in ("errors", "models"):
        return importlib.import_module(f".{name}", __name__)
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home[0], __name__), home[1])
    globals()[name] = value  # the next lookup is a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

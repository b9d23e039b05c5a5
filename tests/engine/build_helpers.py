"""Shared pieces of the builder tests: a base image, context dirs, and reading results back."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from engine.builder.progress import BuildEvent, render

BASE = "busybox:test"


def import_base(engine: Any, busybox_tar: Path, ref: str = BASE) -> str:
    """The busybox root imported as a one-layer base image."""
    with open(busybox_tar, "rb") as f:
        image_id: str = engine.image_import(f, source_name=str(busybox_tar), ref=ref, changes=_sh_cmd)
    return image_id


def _sh_cmd(config: dict[str, Any]) -> None:
    config["Cmd"] = ["sh"]


def make_context(root: Path, files: dict[str, str | bytes]) -> Path:
    """A context dir holding ``files`` (name → text or bytes)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


class Recorder:
    """A progress callback that keeps every event and the text the CLI would print."""

    def __init__(self) -> None:
        self.events: list[BuildEvent] = []

    def __call__(self, event: BuildEvent) -> None:
        self.events.append(event)

    @property
    def text(self) -> str:
        return "".join(render(e) for e in self.events)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def build(engine: Any, context: Path, dockerfile: str | None = None, **kwargs: Any) -> tuple[str, Recorder]:
    """Write ``dockerfile`` (when given) into the context, build it, return (image ID, events)."""
    if dockerfile is not None:
        (context / "Dockerfile").write_text(dockerfile)
    recorder = Recorder()
    image_id = engine.image_build(str(context), progress=recorder, **kwargs)
    return image_id, recorder


def created_by(engine: Any, image: str) -> list[str]:
    """History CREATED BY column, oldest first."""
    return [row.created_by for row in reversed(engine.image_history(image))]


def layer_files(engine: Any, image: str) -> list[str]:
    """Paths in the image's top layer's diff dir (relative), sorted."""
    config = engine.image_config(image)
    top = engine.store.images.top_layer(config)
    diff = engine.paths.diff_dir(engine.store.layers.get(top).cache_id)
    out = []
    for dirpath, dirnames, filenames in os.walk(diff):
        for name in dirnames + filenames:
            out.append(os.path.relpath(os.path.join(dirpath, name), diff))
    return sorted(out)


def file_in_image(engine: Any, image: str, path: str) -> bytes:
    """A file's bytes as the image shows it: the topmost layer that has it."""
    config = engine.image_config(image)
    top = engine.store.images.top_layer(config)
    for layer in reversed(engine.store.layers.chain(top)):
        candidate = os.path.join(engine.paths.diff_dir(layer.cache_id), path.lstrip("/"))
        if os.path.lexists(candidate):
            with open(candidate, "rb") as f:
                return f.read()
    raise FileNotFoundError(path)


def stat_in_image(engine: Any, image: str, path: str) -> os.stat_result:
    config = engine.image_config(image)
    top = engine.store.images.top_layer(config)
    for layer in reversed(engine.store.layers.chain(top)):
        candidate = os.path.join(engine.paths.diff_dir(layer.cache_id), path.lstrip("/"))
        if os.path.lexists(candidate):
            return os.lstat(candidate)
    raise FileNotFoundError(path)


def raw_config(engine: Any, image: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(engine.store.imagedb.get(engine.image_resolve(image)))
    return data

"""``import`` and ``bootstrap``: images made of one layer from a root filesystem tarball."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any, BinaryIO, cast

from . import archive, reference
from .errors import MissingDependency
from .images import format_time
from .store.configjson import encode_config
from .store.images import ImageDB
from .store.layers import LayerStore
from .store.locks import FileLock
from .store.tags import TagStore

__all__ = ["BUSYBOX_PATH", "Importer", "base_config"]

BUSYBOX_PATH = "/bin/busybox"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x"}
DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def base_config(created: str) -> dict[str, Any]:
    """The skeleton of an OCI image config for this machine."""
    return {
        "architecture": _ARCH.get(os.uname().machine, os.uname().machine),
        "os": "linux",
        "created": created,
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [],
    }


class Importer:
    """Turns tarballs into images: layer first, then the config, then the tag."""

    def __init__(self, layers: LayerStore, imagedb: ImageDB, tags: TagStore, lock: FileLock) -> None:
        self.layers = layers
        self.imagedb = imagedb
        self.tags = tags
        self.lock = lock

    def import_tar(
        self,
        source: BinaryIO,
        *,
        source_name: str,
        ref: str | None,
        config_changes: Callable[[dict[str, Any]], None] | None = None,
        message: str = "",
        progress: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> str:
        """Import one root filesystem tarball as a one-layer image; returns the image ID."""
        target = reference.parse(ref) if ref else None
        layer = self._register_recorded(_Metered(source, progress), source_name, cancel)
        created = format_time(time.time())
        config = base_config(created)
        config["rootfs"]["diff_ids"] = [layer.diff_id]
        entry: dict[str, Any] = {"created": created, "comment": message or f"Imported from {source_name}"}
        config["history"] = [entry]
        if config_changes is not None:
            config_changes(config["config"])
        return self.commit_config(config, target)

    def _register_recorded(self, source: Any, name: str, cancel: threading.Event | None) -> Any:
        """Register the layer and keep its tar-split, so ``save``/``push`` rebuild this exact tar."""
        from .distribution.tarsplit import TarSplitRecorder

        root = self.layers.paths.root
        recorder = TarSplitRecorder(archive.open_maybe_compressed(source, name), root)
        try:
            layer = self.layers.register(cast(BinaryIO, recorder), None, archive_name=name, cancel=cancel)
            recorder.drain()
        except BaseException:
            recorder.discard()
            raise
        recorder.commit(root, layer.diff_id)
        return layer

    def commit_config(self, config: dict[str, Any], target: reference.Reference | None, parent: str | None = None,
                      container_config: dict[str, Any] | None = None) -> str:
        """Write the config (its layers are already recorded) and point the tag at it.

        The bytes are Go's (``store/configjson``), so Go tools that re-encode the
        config keep the image ID; ``container_config`` (the build cache's key) is
        kept beside it in the image's metadata, not in the config.
        """
        data = encode_config(config)
        with self.lock:
            for layer_id in _chain_ids(config):
                self.layers.get(layer_id)  # raises if a layer went missing meanwhile
            image_id = self.imagedb.put(data)
            if parent:
                self.imagedb.set_parent(image_id, parent)
            if container_config is not None:
                self.imagedb.set_container_config(image_id, json.dumps(container_config, separators=(",", ":")))
            if target is not None:
                self.tags.add(target, image_id)
                self.imagedb.set_last_tag_time(image_id, format_time(time.time()))
        return image_id

    def commit_config_bytes(self, data: bytes, targets: list[reference.Reference]) -> str:
        """Store config bytes as they are (so the image ID is the sender's) and tag them."""
        config = json.loads(data)
        with self.lock:
            for layer_id in _chain_ids(config):
                self.layers.get(layer_id)  # raises if a layer went missing meanwhile
            image_id = self.imagedb.put(data)
            for target in targets:
                self.tags.add(target, image_id)
            if targets:
                self.imagedb.set_last_tag_time(image_id, format_time(time.time()))
        return image_id

    def bootstrap(self, ref: str, *, busybox: str = BUSYBOX_PATH) -> str:
        """A small base image from the host's static busybox."""
        _check_static_busybox(busybox)
        with tempfile.TemporaryDirectory(prefix="berth-bootstrap-") as tmp:
            rootfs = os.path.join(tmp, "rootfs")
            make_busybox_rootfs(rootfs, busybox)
            tar_path = os.path.join(tmp, "rootfs.tar")
            with open(tar_path, "wb") as out:
                archive.write_layer(rootfs, out, upper=False)
            with open(tar_path, "rb") as src:
                return self.import_tar(
                    src, source_name=busybox, ref=ref,
                    config_changes=lambda c: c.update({"Env": [DEFAULT_PATH_ENV], "Cmd": ["sh"]}),
                    message=f"berth bootstrap from {busybox}",
                )


class _Metered:
    """Reports the bytes read from the (possibly compressed) source, for a progress bar sized to the file."""

    def __init__(self, source: BinaryIO, progress: Callable[[int], None] | None) -> None:
        self._source, self._progress, self._done = source, progress, 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._source.read(size)
        self._done += len(data)
        if self._progress is not None:
            self._progress(self._done)
        return data


def _chain_ids(config: dict[str, Any]) -> list[str]:
    from .store.layers import chain_id_for

    chain: str | None = None
    out = []
    for diff_id in config.get("rootfs", {}).get("diff_ids", []):
        chain = chain_id_for(chain, diff_id)
        out.append(chain)
    return out


def _check_static_busybox(path: str) -> None:
    """Refuse a missing or dynamically linked busybox: it would not run inside the image."""
    hint = "install Debian's busybox-static package (apt-get install busybox-static)"
    try:
        with open(path, "rb") as f:
            head = f.read(64 * 1024)
    except OSError as err:
        raise MissingDependency(f"{path}: {err.strerror}; {hint}") from err
    if head[:4] != b"\x7fELF":
        raise MissingDependency(f"{path} is not an ELF binary; {hint}")
    if _has_interpreter(path):
        raise MissingDependency(f"{path} is dynamically linked; {hint}")


def _has_interpreter(path: str) -> bool:
    """True when the ELF file has a PT_INTERP program header (it needs a dynamic loader)."""
    import struct

    with open(path, "rb") as f:
        ident = f.read(64)
        is64 = ident[4] == 2
        endian = "<" if ident[5] == 1 else ">"
        if is64:
            phoff, = struct.unpack_from(endian + "Q", ident, 32)
            phentsize, phnum = struct.unpack_from(endian + "HH", ident, 54)
        else:
            phoff, = struct.unpack_from(endian + "I", ident, 28)
            phentsize, phnum = struct.unpack_from(endian + "HH", ident, 42)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    for i in range(phnum):
        p_type, = struct.unpack_from(endian + "I", table, i * phentsize)
        if p_type == 3:  # PT_INTERP, <elf.h>
            return True
    return False


_DIRS = ("bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "usr/bin", "usr/sbin", "sbin", "var/spool/mail",
         "var/www")


def make_busybox_rootfs(rootfs: str, busybox: str) -> None:
    """A root filesystem like Docker Hub's busybox: one binary, a link per applet, a few /etc files."""
    for d in _DIRS:
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    os.chmod(os.path.join(rootfs, "tmp"), 0o1777)
    os.chmod(os.path.join(rootfs, "root"), 0o700)
    target = os.path.join(rootfs, "bin", "busybox")
    shutil.copy2(busybox, target)
    for applet in _applets(busybox):
        link = os.path.join(rootfs, "bin", applet)
        if applet != "busybox" and not os.path.lexists(link):
            os.link(target, link)
    _write(rootfs, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
           "bin:x:2:2:bin:/bin:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n")
    _write(rootfs, "etc/group", "root:x:0:\ndaemon:x:1:\nbin:x:2:\nnogroup:x:65534:\n")
    _write(rootfs, "etc/hostname", "berth\n")
    for name in ("etc/hosts", "etc/resolv.conf"):
        _write(rootfs, name, "")


def _applets(busybox: str) -> list[str]:
    try:
        out = subprocess.run([busybox, "--list"], check=True, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError) as err:
        raise MissingDependency(f"{busybox} --list failed: {err}") from err
    return [a for a in out.split() if a and "/" not in a]


def _write(rootfs: str, name: str, text: str) -> None:
    with open(os.path.join(rootfs, name), "w", encoding="utf-8") as f:
        f.write(text)

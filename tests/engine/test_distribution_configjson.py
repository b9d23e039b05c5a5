"""Image config bytes in Go's form.

Checked against skopeo (Go's encoding/json) itself, not against a copy of its rules.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from engine.store.configjson import encode_config, go_time

from .distribution_fixtures import build_multilayer, need_tool, sha256_of

# Every field of image-spec's Image, ImageConfig, RootFS and History, given in an order unlike Go's, with the
# strings Go escapes differently from Python (<>&, U+2028, control characters) and times with trailing zeros.
RICH: dict[str, Any] = {
    "history": [
        {"empty_layer": True, "comment": "c & d", "author": "au", "created_by": "x \b\f\x01\x7f é \u2028 <>& \\b \"q\"",
         "created": "2026-01-02T03:04:05.000000000Z"},
        {"created": "2026-01-02T03:04:05.120000000+02:00", "created_by": "", "empty_layer": False},
    ],
    "rootfs": {"diff_ids": [], "type": "layers"},
    "config": {"ArgsEscaped": True, "StopSignal": "SIGTERM", "Labels": {"b": "1", "a": "2", "é": "3", "Z": "<4>"},
               "WorkingDir": "/w", "Volumes": {"/v": {}, "/a": {}}, "Cmd": ["c"], "Entrypoint": ["e"], "Env": ["A=1"],
               "ExposedPorts": {"80/tcp": {}, "443/tcp": {}}, "User": "u"},
    "os.features": ["f1"], "os.version": "1.0", "os": "linux", "variant": "v8", "architecture": "amd64",
    "author": "A <a@example.com>", "created": "2026-01-02T03:04:05.100000000Z",
}


def _layer() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("file")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    return out.getvalue()


def _skopeo_reencodes(config: bytes, layer: bytes, tmp_path: Path) -> bytes:
    """The config bytes skopeo writes when it copies a docker-archive of this image to an OCI layout."""
    archive = tmp_path / "in.tar"
    manifest = json.dumps([{"Config": "config.json", "RepoTags": ["probe:1"], "Layers": ["layer.tar"]}]).encode()
    with tarfile.open(archive, "w") as tar:
        for name, data in (("config.json", config), ("layer.tar", layer), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    subprocess.run([need_tool("skopeo"), "copy", "-q", f"docker-archive:{archive}", f"oci:{tmp_path / 'out'}:x"],
                   check=True, capture_output=True, timeout=120)
    blobs = tmp_path / "out" / "blobs" / "sha256"
    index = json.loads((tmp_path / "out" / "index.json").read_bytes())
    oci_manifest = json.loads((blobs / index["manifests"][0]["digest"][7:]).read_bytes())
    return (blobs / oci_manifest["config"]["digest"][7:]).read_bytes()


def test_skopeo_writes_back_the_very_bytes_of_a_config_with_every_oci_field(tmp_path: Path) -> None:
    layer = _layer()
    config = json.loads(json.dumps(RICH))
    config["rootfs"]["diff_ids"] = [sha256_of(layer)]
    ours = encode_config(config)
    assert ours != json.dumps(config, separators=(",", ":")).encode()  # the probe does differ from Python's form
    assert _skopeo_reencodes(ours, layer, tmp_path) == ours


def test_docker_only_fields_follow_the_oci_ones_and_go_tools_drop_them(tmp_path: Path) -> None:
    """Why built images keep their cache key out of the config: a Go tool drops what the OCI struct lacks."""
    layer = _layer()
    config = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [sha256_of(layer)]},
              "container_config": {"Cmd": ["x"]},
              "config": {"Healthcheck": {"Timeout": 1, "Test": ["NONE"]}, "Cmd": ["sh"], "Entrypoint": None}}
    ours = encode_config(config)
    assert ours == (b'{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"],"Healthcheck":{"Test":["NONE"],'
                    b'"Timeout":1}},"rootfs":{"type":"layers","diff_ids":["' + sha256_of(layer).encode() + b'"]},'
                    b'"container_config":{"Cmd":["x"]}}')
    theirs = _skopeo_reencodes(ours, layer, tmp_path)
    assert json.loads(theirs) == {k: v for k, v in json.loads(ours).items() if k != "container_config"} | {
        "config": {"Cmd": ["sh"]}}


def test_go_time_drops_trailing_zeros_only_from_the_fraction() -> None:
    assert go_time("2026-01-02T03:04:05.000000000Z") == "2026-01-02T03:04:05Z"
    assert go_time("2026-01-02T03:04:05.120000000+02:00") == "2026-01-02T03:04:05.12+02:00"
    assert go_time("2026-01-02T03:04:50Z") == "2026-01-02T03:04:50Z"
    assert go_time("2026-01-02T03:04:05.100200300Z") == "2026-01-02T03:04:05.1002003Z"
    assert go_time("not a time") == "not a time"


def test_images_berth_makes_are_already_in_go_form(engine: Any, tmp_path: Path) -> None:
    """bootstrap (import) and build write configs that re-encode to themselves; the build cache still hits."""
    image_id = build_multilayer(engine, tmp_path)
    for image in (engine.image_resolve("busybox:latest"), image_id):
        data = engine.store.imagedb.get(image)
        assert encode_config(json.loads(data)) == data
        assert b"container_config" not in data
    assert engine.image_build(str(tmp_path / "ctx"), tags=["app:2"]) == image_id  # every step from the cache

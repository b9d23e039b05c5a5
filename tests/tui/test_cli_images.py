"""The image verbs as a user types them: output columns, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def imported(berth, busybox_tar: Path) -> str:
    status, out, err = berth("import", str(busybox_tar), "busybox:test")
    assert status == 0, err
    return out.strip()


def test_import_prints_the_image_id(imported: str) -> None:
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", imported)


def test_images_columns(berth, imported: str) -> None:
    status, out, _ = berth("images")
    assert status == 0
    header, row = out.splitlines()
    assert re.match(r"REPOSITORY\s{3,}TAG\s{3,}IMAGE ID\s{3,}CREATED\s{3,}SIZE$", header)
    cells = re.split(r"\s{3,}", row)
    assert cells[0] == "busybox" and cells[1] == "test" and cells[2] == imported[7:19]
    assert cells[3] == "Less than a second ago"
    assert re.fullmatch(r"\d(\.\d+)?MB|\d{2,3}(\.\d)?kB|\d\.\d\dMB", cells[4]) or cells[4].endswith("MB")


def test_images_quiet_notrunc_filter_and_json(berth, imported: str) -> None:
    assert berth("images", "-q")[1].split() == [imported[7:19]]
    assert berth("images", "-q", "--no-trunc")[1].split() == [imported]
    assert berth("images", "-q", "busy*")[1].split() == [imported[7:19]]
    assert berth("images", "-q", "busybox:other")[1].split() == []
    line = json.loads(berth("images", "--format", "json")[1])
    assert line["Repository"] == "busybox" and line["Tag"] == "test" and line["ID"] == imported[7:19]


def test_history_of_an_import(berth, imported: str, busybox_tar: Path) -> None:
    status, out, _ = berth("history", "busybox:test")
    assert status == 0
    header, row = out.splitlines()
    assert header.split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert row.startswith(imported[7:19]) and f"Imported from {busybox_tar}"[:20] in row
    raw = berth("history", "-H=false", "busybox:test")[1].splitlines()[1]
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", raw)
    assert berth("history", "-q", "busybox:test")[1].split() == [imported[7:19]]


def test_tag_and_rmi_untag_before_delete(berth, imported: str, store_root: Path) -> None:
    assert berth("tag", "busybox:test", "other/name:v2")[0] == 0
    status, out, _ = berth("images")
    assert "other/name" in out and "busybox" in out
    status, out, _ = berth("rmi", "busybox:test")
    assert (status, out) == (0, "Untagged: busybox:test\n")
    status, out, _ = berth("rmi", "other/name:v2")
    lines = out.splitlines()
    assert lines[0] == "Untagged: other/name:v2"
    assert lines[1] == f"Deleted: {imported}"
    assert lines[2].startswith("Deleted: sha256:")  # its only layer went too
    assert os.listdir(store_root / "image/overlay2/layerdb/sha256") == []
    assert [d for d in os.listdir(store_root / "overlay2") if d != "l"] == []
    assert os.listdir(store_root / "overlay2/l") == []
    assert berth("system", "check")[0] == 0


def test_rmi_by_id_with_several_tags_needs_force(berth, imported: str) -> None:
    berth("tag", imported[7:19], "second:tag")
    status, _, err = berth("rmi", imported[7:15])
    assert status == 1 and "must be forced" in err and err.count("\n") == 1
    status, out, _ = berth("rmi", "-f", imported[7:15])
    assert status == 0 and "Untagged: busybox:test" in out and f"Deleted: {imported}" in out


def test_rmi_keeps_layers_other_images_need(berth, imported: str, busybox_tar: Path, store_root: Path) -> None:
    berth("import", str(busybox_tar), "again:1")
    status, out, _ = berth("rmi", "busybox:test")
    assert status == 0 and len(out.splitlines()) == 2  # untagged + the image; the shared layer stays
    assert len(os.listdir(store_root / "image/overlay2/layerdb/sha256")) == 1


def test_inspect_has_dockers_shape_and_real_paths(berth, imported: str) -> None:
    status, out, _ = berth("inspect", "busybox:test")
    assert status == 0
    (doc,) = json.loads(out)
    assert doc["Id"] == imported and doc["RepoTags"] == ["busybox:test"]
    assert doc["RootFS"]["Type"] == "layers" and len(doc["RootFS"]["Layers"]) == 1
    assert doc["GraphDriver"]["Name"] == "overlay2"
    data = doc["GraphDriver"]["Data"]
    assert os.path.isdir(data["UpperDir"]) and data["UpperDir"].endswith("/diff")
    assert set(data) == {"MergedDir", "UpperDir", "WorkDir"}
    assert doc["Size"] > 0 and doc["Architecture"] and doc["Os"] == "linux"
    assert set(doc["Config"]) >= {"Env", "Cmd", "WorkingDir", "Entrypoint", "Labels"}


def test_import_changes(berth, busybox_tar: Path) -> None:
    status, out, err = berth("import", "-c", "CMD [\"/bin/sh\"]", "-c", "ENV A=1 B=2", "-c", "WORKDIR /srv",
                             str(busybox_tar), "changed")
    assert status == 0, err
    config = json.loads(berth("inspect", "changed")[1])[0]["Config"]
    assert config["Cmd"] == ["/bin/sh"] and config["Env"] == ["A=1", "B=2"] and config["WorkingDir"] == "/srv"
    status, _, err = berth("import", "-c", "RUN true", str(busybox_tar))
    assert status == 1 and err.startswith("Error: RUN is not a valid change command")


def test_import_from_stdin(store_root: Path, busybox_tar: Path) -> None:
    with open(busybox_tar, "rb") as f:
        done = subprocess.run([sys.executable, "-m", "tui.cli", "--root", str(store_root), "import", "-", "piped"],
                              stdin=f, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Imported from -" in subprocess.run(
        [sys.executable, "-m", "tui.cli", "--root", str(store_root), "history", "piped"],
        capture_output=True, text=True, timeout=60).stdout


def test_bootstrap(berth) -> None:
    status, out, err = berth("bootstrap")
    assert status == 0, err
    assert "busybox" in berth("images")[1]
    config = json.loads(berth("inspect", "busybox")[1])[0]["Config"]
    assert config["Cmd"] == ["sh"] and config["Env"][0].startswith("PATH=")


def test_bootstrap_names_the_package_when_busybox_is_dynamic(engine, tmp_path: Path) -> None:
    from engine.errors import MissingDependency

    with pytest.raises(MissingDependency, match="busybox-static"):
        engine.store.importer.bootstrap("x", busybox=sys.executable)
    with pytest.raises(MissingDependency, match="busybox-static"):
        engine.store.importer.bootstrap("x", busybox=str(tmp_path / "missing"))


@pytest.mark.parametrize("argv, message", [
    (("rmi", "nosuch"), "Error: No such image: nosuch\n"),
    (("history", "nosuch:tag"), "Error: No such image: nosuch:tag\n"),
    (("tag", "nosuch", "x"), "Error: No such image: nosuch\n"),
    (("import", "/nonexistent.tar"), "Error: /nonexistent.tar: No such file or directory\n"),
])
def test_user_errors_are_one_line(berth, argv: tuple[str, ...], message: str) -> None:
    status, out, err = berth(*argv)
    assert (status, err) == (1, message)


def test_bad_reference_and_corrupt_tarballs(berth, busybox_tar: Path, tmp_path: Path, store_root: Path) -> None:
    status, _, err = berth("import", str(busybox_tar), "Bad:Name")
    assert status == 1 and err.startswith("Error: invalid reference format") and err.count("\n") == 1
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"this is not a tarball at all" * 100)
    status, _, err = berth("import", str(junk))
    assert status == 1 and err.startswith(f"Error: {junk}") and err.count("\n") == 1
    cut = tmp_path / "cut.tar"
    cut.write_bytes(busybox_tar.read_bytes()[:300_000])
    status, _, err = berth("import", str(cut))
    assert status == 1 and err.startswith(f"Error: {cut}") and err.count("\n") == 1
    assert berth("system", "check")[0] == 0
    layerdb = store_root / "image/overlay2/layerdb/sha256"
    assert not layerdb.exists() or os.listdir(layerdb) == []


def test_usage_errors_exit_125(berth) -> None:
    status, _, err = berth("images", "--bogus")
    assert status == 125 and err.startswith("Error: unrecognized arguments: --bogus")


def test_not_root_is_one_line(store_root: Path, busybox_tar: Path) -> None:
    # Drop to nobody after the interpreter and berth are loaded, as a non-root user's berth would run.
    code = ("import os, sys; from tui.cli import main, build_parser; build_parser();"
            "import engine.engine, engine.builder.metadata, json, tarfile;"
            "os.setgroups([]); os.setgid(65534); os.setuid(65534);"
            f"sys.exit(main(['--root', {str(store_root / 'sub')!r}, 'import', '-']))")
    with open(busybox_tar, "rb") as stdin:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                              stdin=stdin, cwd=str(Path(__file__).resolve().parents[2]))
    assert done.returncode == 1 and done.stderr.startswith("Error: berth needs root"), done.stderr
    assert done.stderr.count("\n") == 1

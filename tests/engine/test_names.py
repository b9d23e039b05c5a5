"""Container names: Docker's rules (issue 13 item 6) and the name index that resolves one in O(1) (issue 14 item 6)."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from engine.containers import CreateOptions, names
from engine.errors import ContainerConflict, ContainerNotFound, InvalidArgument
from engine.store.paths import CONTAINER_CONFIG_FILE
from tests.engine.containers_fixtures import cengine  # noqa: F401

BAD_NAMES = ["../x", "a/b", "x", "-x", ".x", "_x", "a b", "a\x1b[31mb", "caf\u00e9", "/../etc", "a\nb", "//ab", ""]


def _store_entries(engine) -> set[str]:  # type: ignore[no-untyped-def]
    out = set()
    for top, dirs, files in os.walk(engine.root):
        out.update(os.path.relpath(os.path.join(top, n), engine.root) for n in dirs + files)
    return out


@pytest.mark.parametrize("bad", [n for n in BAD_NAMES if n])
def test_create_refuses_a_name_docker_refuses_and_creates_nothing(cengine, bad: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    canary = tmp_path / "canary"
    canary.mkdir()
    before = _store_entries(cengine)
    with pytest.raises(InvalidArgument) as err:
        cengine.container_create(CreateOptions(image="busybox", name=bad))
    shown = bad.replace("\x1b", "\\x1b").replace("\n", "\\n")
    assert str(err.value) == f"Invalid container name ({shown}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
    assert "\x1b" not in str(err.value) and "\n" not in str(err.value)
    assert _store_entries(cengine) == before
    assert list(canary.iterdir()) == []
    assert not os.path.lexists(os.path.join(os.path.dirname(cengine.root), "x"))


def test_cli_prints_dockers_message_for_a_bad_name(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    status, out, err = berth("create", "--name", "../x", "busybox")
    assert (status, out) == (1, ""), (status, out, err)
    assert err == "Error: Invalid container name (../x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed\n"
    status, out, err = berth("run", "--name", "a/b", "busybox", "true")
    assert status != 0 and err.startswith("Error: Invalid container name (a/b), only")


def test_a_leading_slash_is_stripped_as_docker_does(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = cengine.container_create(CreateOptions(image="busybox", name="/web.1_a-b"))
    assert cengine.store.records.load(cid)["Name"] == "/web.1_a-b"
    assert cengine.container_resolve("web.1_a-b") == cid == cengine.container_resolve("/web.1_a-b")


def test_rename_checks_names_and_moves_the_index_entry(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = cengine.container_create(CreateOptions(image="busybox", name="old"))
    other = cengine.container_create(CreateOptions(image="busybox", name="other"))
    for bad in ("../x", "a/b", "q\x1b]0;pwned\x07"):
        with pytest.raises(InvalidArgument, match=r"^Invalid container name \(.*\), only \[a-zA-Z0-9\]"):
            cengine.container_rename("old", bad)
    assert not os.path.lexists(os.path.join(cengine.paths.containers, "x"))
    with pytest.raises(ContainerConflict, match='"/other" is already in use by container'):
        cengine.container_rename("old", "other")
    with pytest.raises(InvalidArgument, match="same name as its current name"):
        cengine.container_rename("old", "old")
    cengine.container_rename("old", "/new")
    assert cengine.container_resolve("new") == cid
    with pytest.raises(ContainerNotFound):
        cengine.container_resolve("old")
    assert sorted(os.listdir(names.index_dir(cengine.paths))) == ["new", "other"]
    cengine.container_create(CreateOptions(image="busybox", name="old"))  # the old name is free again
    cengine.container_remove(other)
    assert "other" not in os.listdir(names.index_dir(cengine.paths))
    assert cengine.system_check().ok and names.check_index(cengine.paths) == []


def _config_opens(action):  # type: ignore[no-untyped-def]
    """How many container records ``action()`` opens (an audit hook sees every ``open``)."""
    seen: list[str] = []
    active = [True]

    def hook(event: str, args: tuple) -> None:  # type: ignore[type-arg]
        if active[0] and event == "open" and str(args[0]).endswith(CONTAINER_CONFIG_FILE):
            seen.append(str(args[0]))

    sys.addaudithook(hook)
    try:
        result = action()
    finally:
        active[0] = False  # an audit hook cannot be removed
    return result, seen


def test_resolving_a_name_reads_one_record_not_every_record(cengine) -> None:  # type: ignore[no-untyped-def]
    ids = [cengine.container_create(CreateOptions(image="busybox", name=f"c{i}")) for i in range(30)]
    found, opened = _config_opens(lambda: cengine.container_resolve("c17"))
    assert found == ids[17]
    assert len(opened) <= 1, opened
    found, opened = _config_opens(lambda: cengine.container_resolve(ids[5]))
    assert found == ids[5] and opened == []
    found, opened = _config_opens(lambda: cengine.container_resolve(ids[9][:12]))
    assert found == ids[9] and opened == []
    _, opened = _config_opens(lambda: cengine.container_create(CreateOptions(image="busybox")))
    assert len(opened) <= 3, "a random name is checked against the index, not every record"


def test_a_stale_entry_left_by_a_crash_is_harmless_and_repaired(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = cengine.container_create(CreateOptions(image="busybox", name="keep"))
    where = names.index_dir(cengine.paths)
    os.symlink("f" * 64, os.path.join(where, "ghost"))  # a create killed between its link and its record
    os.symlink(cid, os.path.join(where, "oldname"))  # a rename killed before it unlinked the old name
    for stale in ("ghost", "oldname"):
        with pytest.raises(ContainerNotFound):
            cengine.container_resolve(stale)
    kinds = sorted(p.kind for p in names.check_index(cengine.paths))
    assert kinds == ["stale name index entry", "stale name index entry"]
    new = cengine.container_create(CreateOptions(image="busybox", name="ghost"))  # a stale entry is taken over
    assert cengine.container_resolve("ghost") == new
    os.unlink(os.path.join(where, "keep"))  # a lost entry (a hand edit): check says so, rebuild restores it
    assert [p.kind for p in names.check_index(cengine.paths)] == ["missing name index entry",
                                                                  "stale name index entry"]
    assert names.rebuild(cengine.paths) == 2
    assert names.check_index(cengine.paths) == []
    assert sorted(os.listdir(where)) == ["ghost", "keep"]


def test_a_store_from_before_the_index_resolves_names_and_gets_one(cengine) -> None:  # type: ignore[no-untyped-def]
    a = cengine.container_create(CreateOptions(image="busybox", name="alpha"))
    b = cengine.container_create(CreateOptions(image="busybox", name="beta"))
    shutil.rmtree(names.index_dir(cengine.paths))
    assert cengine.container_resolve("alpha") == a
    with pytest.raises(ContainerConflict):  # the first writer builds the index from the records
        cengine.container_create(CreateOptions(image="busybox", name="beta"))
    assert sorted(os.listdir(names.index_dir(cengine.paths))) == ["alpha", "beta"]
    assert cengine.container_resolve("beta") == b


def test_rm_of_many_by_name_frees_every_name(cengine) -> None:  # type: ignore[no-untyped-def]
    for i in range(20):
        cengine.container_create(CreateOptions(image="busybox", name=f"n{i}"))
    assert cengine.container_remove_many([f"n{i}" for i in range(20)]) == [None] * 20
    assert os.listdir(names.index_dir(cengine.paths)) == []
    assert cengine.container_list(all=True) == []


def test_system_check_lists_index_problems_and_repair_rebuilds_it(cengine) -> None:  # type: ignore[no-untyped-def]
    cengine.container_create(CreateOptions(image="busybox", name="keep"))
    where = names.index_dir(cengine.paths)
    os.symlink("f" * 64, os.path.join(where, "ghost"))
    os.unlink(os.path.join(where, "keep"))
    kinds = sorted(p.kind for p in cengine.system_check().problems)
    assert kinds == ["missing name index entry", "stale name index entry"]
    report = cengine.system_check(repair=True)
    assert report.problems == () and len(report.repaired) == 2
    assert sorted(os.listdir(where)) == ["keep"]
